//! File transfers: asset downloads streamed a piece at a time off the
//! tick, uploads streamed to disk within their quota, and uploads kept
//! once a block mints them.

use std::time::{Duration, Instant};

use assets::{ContentId, Manifest};
use renet::ClientId;
use tracing::{debug, error};

use super::server::{Reply, Server, deliver, refused};
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
