//! File transfers: asset downloads streamed a piece at a time off the
//! tick, uploads streamed to disk within their quota, and uploads kept
//! once a block mints them.

use std::time::{Duration, Instant};

use assets::{ContentId, Manifest};
use renet::ClientId;
use tracing::{debug, error};

use super::replies::{Reply, deliver};
use super::server::{Server, refused};
use crate::error::HostError;
use crate::node::BlockEvent;
use plaza_client::protocol::{
    self, CHANNEL_ASSETS, CHUNK_BYTES, ErrorCode, MAX_FETCHES_QUEUED, MAX_REQUESTS_WAITING,
    ProtocolError, ServerMessage, SessionState, Upload,
};

/// Pieces of downloads read (and held) at once for all players: a piece
/// is 1 MiB, and only the piece being sent is held per download.
pub(super) const MAX_PIECES_LOADING: usize = 64;

/// Chunks sent to one client per tick at most.
pub(super) const CHUNKS_PER_TICK: usize = 4;

/// Upload pieces read from one client per tick (16 KiB each: 5 MiB/s).
pub(super) const UPLOAD_CHUNKS_PER_TICK: usize = 16;

/// An upload with no piece for this long is abandoned.
pub(super) const UPLOAD_IDLE: Duration = Duration::from_secs(10);

/// An asset download in progress: the blob is read a piece at a time,
/// off the tick, and only the piece being sent is held.
pub(super) struct Download {
    pub(super) request: u32,
    pub(super) id: ContentId,
    pub(super) size: u64,
    /// Bytes sent so far.
    pub(super) offset: u64,
    /// The piece being sent: its index and bytes.
    pub(super) piece: Option<(u64, Vec<u8>)>,
    /// Whether the next piece is being read.
    pub(super) loading: bool,
}

/// A blob a client is uploading, streaming into its file.
pub(super) struct Uploading {
    pub(super) request: u32,
    pub(super) file: crate::uploads::Upload,
    /// When the last piece arrived.
    pub(super) heard: Instant,
}

impl Server {
    pub(super) fn fetch(&mut self, client: ClientId, request: u32, id: &[u8]) {
        let id = match ContentId::from_bytes(id) {
            Ok(id) => id,
            Err(err) => {
                let err = ProtocolError::new(ErrorCode::Invalid, format!("content id: {err}"));
                self.breach(client, Some(request), &err);
                return;
            }
        };
        let queued = self
            .sessions
            .get(&client)
            .map_or(0, |session| session.downloads.len());
        if queued >= MAX_FETCHES_QUEUED {
            let err = ProtocolError::new(
                ErrorCode::Busy,
                format!("{MAX_FETCHES_QUEUED} downloads are queued: wait for one to finish"),
            );
            self.breach(client, Some(request), &err);
            return;
        }
        if let Some(session) = self.sessions.get_mut(&client) {
            session.in_flight += 1;
        }
        let blobs = self.blobs.clone();
        let replies = self.replies.clone();
        self.runtime.spawn_blocking(move || {
            let result = match (blobs.contains(&id), blobs.info(&id)) {
                (Ok(true), Ok(Some(info))) => Ok((id, info.size)),
                (Ok(false), _) | (Ok(true), Ok(None)) => Err(format!("this host has no blob {id}")),
                (Err(err), _) | (_, Err(err)) => Err(HostError::from(err).for_player()),
            };
            deliver(&replies, Reply::Blob(client, request, result));
        });
    }

    /// A message on the assets channel: an upload's beginning or bytes.
    pub(super) fn upload(&mut self, client: ClientId, bytes: &[u8]) {
        let Some(session) = self.sessions.get(&client) else {
            return;
        };
        let upload = Upload::decode(bytes).and_then(|upload| match session.state {
            SessionState::InWorld => Ok(upload),
            SessionState::Connected => Err(ProtocolError::new(
                ErrorCode::WrongState,
                "upload before hello: enter a world first",
            )),
        });
        match upload {
            Ok(Upload::Begin { request, id, size }) => {
                self.begin_upload(client, request, &id, size)
            }
            Ok(Upload::Bytes {
                request,
                offset,
                bytes,
            }) => self.upload_bytes(client, request, offset, &bytes),
            Err(err) => {
                let request = protocol::decode::<Upload>(bytes, usize::MAX)
                    .ok()
                    .map(|upload| upload.request());
                match request {
                    Some(request) => self.abandon_upload(client, request, &err),
                    None => self.breach(client, None, &err),
                }
            }
        }
    }

    pub(super) fn begin_upload(&mut self, client: ClientId, request: u32, id: &[u8], size: u64) {
        let Some(session) = self.sessions.get_mut(&client) else {
            return;
        };
        let refusal = if !session.messages.take() {
            Some(ProtocolError::new(
                ErrorCode::RateLimited,
                "too many messages a second: upload dropped",
            ))
        } else if session.upload.is_some() {
            Some(ProtocolError::new(
                ErrorCode::Busy,
                "an upload is under way: wait until it is stored",
            ))
        } else if session.in_flight >= MAX_REQUESTS_WAITING {
            Some(ProtocolError::new(
                ErrorCode::Busy,
                format!("{MAX_REQUESTS_WAITING} requests are waiting: wait for their answers"),
            ))
        } else {
            ContentId::from_bytes(id)
                .err()
                .map(|err| ProtocolError::new(ErrorCode::Invalid, format!("content id: {err}")))
        };
        if let Some(err) = refusal {
            // The upload under way, if any, goes on; this one's pieces are
            // dropped as they come.
            if session
                .upload
                .as_ref()
                .is_none_or(|upload| upload.request != request)
            {
                session.dropped_upload = Some(request);
            }
            self.breach(client, Some(request), &err);
            return;
        }
        let Ok(id) = ContentId::from_bytes(id) else {
            return;
        };
        let file = match self.uploads.begin(session.account, id, size) {
            Ok(file) => file,
            Err(reason) => {
                session.dropped_upload = Some(request);
                self.send(client, &refused(Some(request), ErrorCode::Busy, reason));
                return;
            }
        };
        session.in_flight += 1;
        if session.dropped_upload == Some(request) {
            session.dropped_upload = None;
        }
        session.upload = Some(Uploading {
            request,
            file,
            heard: Instant::now(),
        });
    }

    /// Ends the upload under way if it is `request` (its reservation and
    /// request slot freed), drops the rest of `request`'s pieces, and
    /// answers with `err`.
    pub(super) fn abandon_upload(&mut self, client: ClientId, request: u32, err: &ProtocolError) {
        let Some(session) = self.sessions.get_mut(&client) else {
            return;
        };
        let active = session
            .upload
            .as_ref()
            .is_some_and(|upload| upload.request == request);
        if active && session.upload.take().is_some() {
            // Dropping the upload deletes its file and frees its room.
            self.answered(client);
        }
        if let Some(session) = self.sessions.get_mut(&client) {
            session.dropped_upload = Some(request);
        }
        self.breach(client, Some(request), err);
    }

    pub(super) fn upload_bytes(
        &mut self,
        client: ClientId,
        request: u32,
        offset: u64,
        bytes: &[u8],
    ) {
        let Some(session) = self.sessions.get_mut(&client) else {
            return;
        };
        let active = session.upload.as_ref().map(|upload| upload.request);
        if active != Some(request) {
            if session.dropped_upload == Some(request) {
                return;
            }
            let err = ProtocolError::new(
                ErrorCode::Invalid,
                format!("an upload piece for request {request}, which is not under way"),
            );
            self.breach(client, Some(request), &err);
            return;
        }
        let Some(upload) = session.upload.as_mut() else {
            return;
        };
        let written = if upload.file.written() == offset {
            upload.file.write(bytes)
        } else {
            Err(format!(
                "an upload piece at {offset} is out of order: {} bytes had arrived",
                upload.file.written()
            ))
        };
        if let Err(reason) = written {
            let err = ProtocolError::new(
                ErrorCode::Invalid,
                format!("{reason}: the upload is abandoned"),
            );
            self.abandon_upload(client, request, &err);
            return;
        }
        upload.heard = Instant::now();
        if upload.file.written() < upload.file.size() {
            return;
        }
        let Some(upload) = session.upload.take() else {
            return;
        };
        let replies = self.replies.clone();
        self.runtime.spawn_blocking(move || {
            let id = upload.file.id();
            let message = match upload.file.finish() {
                Ok(()) => ServerMessage::Stored {
                    request: upload.request,
                    id: id.to_bytes(),
                },
                Err(reason) => refused(Some(upload.request), ErrorCode::Invalid, reason),
            };
            deliver(&replies, Reply::Answer(client, message));
        });
    }

    /// Abandons uploads that have had no piece for [`UPLOAD_IDLE`], so a
    /// player cannot hold the host's upload room by beginning and stalling.
    pub(super) fn expire_uploads(&mut self) {
        let stalled: Vec<(ClientId, u32)> = self
            .sessions
            .iter()
            .filter_map(|(client, session)| {
                let upload = session.upload.as_ref()?;
                (upload.heard.elapsed() > UPLOAD_IDLE).then_some((*client, upload.request))
            })
            .collect();
        for (client, request) in stalled {
            let err = ProtocolError::new(
                ErrorCode::Refused,
                format!(
                    "no piece for {} s: the upload is abandoned",
                    UPLOAD_IDLE.as_secs()
                ),
            );
            self.abandon_upload(client, request, &err);
        }
    }

    /// A piece read for a download: kept for sending, or the download
    /// ends with the reason.
    pub(super) fn piece_arrived(
        &mut self,
        client: ClientId,
        request: u32,
        index: u64,
        result: Result<Vec<u8>, String>,
    ) {
        let Some(session) = self.sessions.get_mut(&client) else {
            return;
        };
        let Some(at) = session
            .downloads
            .iter()
            .position(|download| download.request == request)
        else {
            return;
        };
        match result {
            Ok(bytes) => {
                if let Some(download) = session.downloads.get_mut(at) {
                    download.loading = false;
                    download.piece = Some((index, bytes));
                }
            }
            Err(reason) => {
                session.downloads.remove(at);
                self.send(client, &refused(Some(request), ErrorCode::NotFound, reason));
            }
        }
    }

    pub(super) fn send_chunks(&mut self) {
        let piece_len = assets::pieces::PIECE_LEN as u64;
        let mut wanted: Vec<(ClientId, u32, ContentId, u64)> = Vec::new();
        for (client, session) in self.sessions.iter_mut() {
            for _ in 0..CHUNKS_PER_TICK {
                let Some(download) = session.downloads.front_mut() else {
                    break;
                };
                let index = download.offset / piece_len;
                let Some((held, piece)) = download.piece.as_ref().filter(|(at, _)| *at == index)
                else {
                    if !download.loading {
                        download.loading = true;
                        wanted.push((*client, download.request, download.id, index));
                    }
                    break;
                };
                if !self
                    .renet
                    .can_send_message(*client, CHANNEL_ASSETS, CHUNK_BYTES + 64)
                {
                    break;
                }
                let start = usize::try_from(download.offset - held * piece_len).unwrap_or(0);
                let end = (start + CHUNK_BYTES).min(piece.len());
                let Some(bytes) = piece.get(start..end).filter(|bytes| !bytes.is_empty()) else {
                    // A piece shorter than the blob said: the download ends.
                    session.downloads.pop_front();
                    break;
                };
                let chunk = ServerMessage::Chunk {
                    request: download.request,
                    offset: download.offset,
                    size: download.size,
                    bytes: bytes.to_vec(),
                };
                match protocol::encode(&chunk) {
                    Ok(bytes) => self.renet.send_message(*client, CHANNEL_ASSETS, bytes),
                    Err(err) => {
                        error!(client, %err, "a chunk could not be encoded: the download ends");
                        session.downloads.pop_front();
                        break;
                    }
                }
                download.offset += bytes.len() as u64;
                if download.offset >= download.size {
                    session.downloads.pop_front();
                }
            }
        }
        for (client, request, id, index) in wanted {
            if self.pieces_loading >= MAX_PIECES_LOADING {
                // Read on a later tick, when others are done.
                if let Some(download) = self
                    .sessions
                    .get_mut(&client)
                    .and_then(|session| session.downloads.front_mut())
                {
                    download.loading = false;
                }
                continue;
            }
            self.pieces_loading += 1;
            let blobs = self.blobs.clone();
            let replies = self.replies.clone();
            self.runtime.spawn_blocking(move || {
                let piece = blobs
                    .piece(&id, index)
                    .map_err(|err| HostError::from(err).for_player());
                deliver(&replies, Reply::Piece(client, request, index, piece));
            });
        }
    }

    /// Moves the files of the assets `event` minted out of the uploads
    /// waiting and into the blob store, where they are served.
    pub(super) fn keep_minted_files(&self, event: &BlockEvent) {
        let minted: Vec<ContentId> = event
            .block
            .assets
            .iter()
            .filter(|asset| asset.minted_at == event.block.height)
            .map(|asset| asset.id.0)
            .collect();
        if minted.is_empty() {
            return;
        }
        let (uploads, blobs) = (self.uploads.clone(), self.blobs.clone());
        self.runtime.spawn_blocking(move || {
            for manifest in minted {
                let kept = uploads.promote(&[manifest], &blobs).and_then(|_| {
                    let read = Manifest::from_json(&blobs.get(&manifest)?)?;
                    uploads.promote(&[read.model, read.preview], &blobs)
                });
                if let Err(err) = kept {
                    debug!(%manifest, %err, "a minted asset's uploads were not kept");
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sessions::fixture::{Fixture, SQUARE, code};
    use assets::Codec;
    use plaza_client::protocol::{Browse, ClientMessage};

    /// The manifest id of the first asset in the catalogue.
    fn a_manifest(fixture: &mut Fixture, client: ClientId) -> ContentId {
        let query = Browse {
            page_size: 1,
            ..Browse::default()
        };
        fixture.send(client, &ClientMessage::Browse { request: 90, query });
        let page = fixture.until(client, "a page", |message| message.request() == Some(90));
        let ServerMessage::Page { hits, .. } = page else {
            panic!("not a page: {page:?}");
        };
        hits[0].listing.asset.0
    }

    #[test]
    fn a_fetched_blob_arrives_whole_in_pieces_and_a_bad_or_unknown_id_is_refused() {
        let mut fixture = Fixture::new();
        let (client, _) = fixture.enter("ada", SQUARE);
        let id = a_manifest(&mut fixture, client);
        fixture.send(
            client,
            &ClientMessage::Fetch {
                request: 1,
                id: id.to_bytes(),
            },
        );
        let mut blob = Vec::new();
        loop {
            let chunk = fixture.until(client, "a chunk", |message| message.request() == Some(1));
            let ServerMessage::Chunk {
                offset,
                size,
                bytes,
                ..
            } = chunk
            else {
                panic!("not a chunk: {chunk:?}");
            };
            assert_eq!(offset, blob.len() as u64);
            blob.extend_from_slice(&bytes);
            if blob.len() as u64 == size {
                break;
            }
        }
        assert_eq!(ContentId::of(id.codec(), &blob), id);
        assert!(fixture.server.sessions[&client].downloads.is_empty());

        let unknown = ContentId::of(Codec::Raw, b"nobody has this");
        fixture.send(
            client,
            &ClientMessage::Fetch {
                request: 2,
                id: unknown.to_bytes(),
            },
        );
        let missing = fixture.until(client, "a refusal", |message| message.request() == Some(2));
        assert_eq!(code(&missing), Some(ErrorCode::NotFound), "{missing:?}");
        fixture.send(
            client,
            &ClientMessage::Fetch {
                request: 3,
                id: vec![1, 2, 3],
            },
        );
        let bad = fixture.until(client, "a refusal", |message| message.request() == Some(3));
        assert_eq!(code(&bad), Some(ErrorCode::Invalid), "{bad:?}");
    }

    fn upload(fixture: &mut Fixture, client: ClientId, message: &Upload) {
        fixture.send_bytes(client, CHANNEL_ASSETS, protocol::encode(message).unwrap());
    }

    #[test]
    fn an_upload_is_stored_when_whole_and_abandoned_when_out_of_order_or_not_its_id() {
        let mut fixture = Fixture::new();
        let (client, _) = fixture.enter("ada", SQUARE);
        let blob: Vec<u8> = (0..(CHUNK_BYTES * 2 + 100)).map(|n| n as u8).collect();
        let id = ContentId::of(Codec::Raw, &blob);
        let begin = |request: u32, id: &ContentId| Upload::Begin {
            request,
            id: id.to_bytes(),
            size: blob.len() as u64,
        };
        upload(&mut fixture, client, &begin(1, &id));
        for (n, bytes) in blob.chunks(CHUNK_BYTES).enumerate() {
            let piece = Upload::Bytes {
                request: 1,
                offset: (n * CHUNK_BYTES) as u64,
                bytes: bytes.to_vec(),
            };
            upload(&mut fixture, client, &piece);
        }
        let stored = fixture.until(client, "stored", |message| message.request() == Some(1));
        assert_eq!(
            stored,
            ServerMessage::Stored {
                request: 1,
                id: id.to_bytes()
            }
        );
        assert!(fixture.server.sessions[&client].upload.is_none());

        // A piece out of order abandons the upload; its later pieces are
        // dropped without more refusals.
        upload(&mut fixture, client, &begin(2, &id));
        let late = Upload::Bytes {
            request: 2,
            offset: CHUNK_BYTES as u64,
            bytes: blob[CHUNK_BYTES..CHUNK_BYTES * 2].to_vec(),
        };
        upload(&mut fixture, client, &late);
        let abandoned = fixture.until(client, "a refusal", |message| message.request() == Some(2));
        assert_eq!(code(&abandoned), Some(ErrorCode::Invalid), "{abandoned:?}");
        let first = Upload::Bytes {
            request: 2,
            offset: 0,
            bytes: blob[..CHUNK_BYTES].to_vec(),
        };
        upload(&mut fixture, client, &first);
        for _ in 0..5 {
            fixture.step();
        }
        assert!(
            !fixture
                .heard(client)
                .iter()
                .any(|message| message.request() == Some(2))
        );

        // Bytes that are not the id's: refused once whole.
        let other = ContentId::of(Codec::Raw, b"something else");
        upload(&mut fixture, client, &begin(3, &other));
        for (n, bytes) in blob.chunks(CHUNK_BYTES).enumerate() {
            let piece = Upload::Bytes {
                request: 3,
                offset: (n * CHUNK_BYTES) as u64,
                bytes: bytes.to_vec(),
            };
            upload(&mut fixture, client, &piece);
        }
        let wrong = fixture.until(client, "a refusal", |message| message.request() == Some(3));
        assert_eq!(code(&wrong), Some(ErrorCode::Invalid), "{wrong:?}");
    }
}
