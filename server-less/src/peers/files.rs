//! The file protocol between hosts: a blob's piece list, then its pieces
//! one by one, each checked by the fetcher against the list (and the list
//! against the blob's content id) before it is stored.
//!
//! Every frame is its body's length as an unsigned varint (as libp2p's
//! length-prefixed protocols write it) and the body; a frame longer than
//! its kind allows is refused before it is read. Every fixed-size integer
//! is little-endian. `docs/file-protocol.md` describes the protocol for
//! other implementations, with test vectors this module's tests check.
//!
//! The event loop answers requests from the blob store off its own task,
//! so many at once and fewer for one peer, and offers whole blobs only.

use std::io;

use assets::pieces::PIECE_LEN;
use assets::{BlobInfo, ContentId};
use assets::{BlobStatus, BlobStore};
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::request_response::{self, ResponseChannel};
use libp2p::{PeerId, StreamProtocol};
use tracing::warn;

use super::event_loop::{EventLoop, Exchange};
use crate::error::HostError;

/// Longest request frame.
pub const MAX_REQUEST_BYTES: usize = 256;
/// Longest response frame: a whole piece and a little framing, or a piece
/// list of the most pieces a store takes.
pub const MAX_RESPONSE_BYTES: usize = PIECE_LEN + 64 * 1024;

/// What one host asks another for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileRequest {
    /// The blob's size and piece list.
    Info(ContentId),
    /// One piece of the blob.
    Piece {
        /// The blob.
        blob: ContentId,
        /// The piece's number.
        index: u64,
    },
}

/// What a host answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileResponse {
    /// The blob's size and piece list.
    Info(BlobInfo),
    /// The piece asked for.
    Piece(Vec<u8>),
    /// The host does not have it.
    Missing,
    /// The host serves as many requests as it may; ask again later or ask
    /// another.
    Busy,
}

/// The protocol's name on a network: hosts of different networks do not
/// talk files.
pub(crate) fn protocol(network: &str) -> Result<StreamProtocol, String> {
    StreamProtocol::try_from_owned(format!("/plaza/{network}/files/2"))
        .map_err(|err| format!("bad protocol name for network {network:?}: {err}"))
}

/// Reads and writes [`FileRequest`]s and [`FileResponse`]s.
#[derive(Clone, Copy, Debug, Default)]
pub struct FileCodec;

const REQUEST_INFO: u8 = 1;
const REQUEST_PIECE: u8 = 2;
const RESPONSE_INFO: u8 = 1;
const RESPONSE_PIECE: u8 = 2;
const RESPONSE_MISSING: u8 = 3;
const RESPONSE_BUSY: u8 = 4;

fn invalid(reason: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, reason)
}

impl FileRequest {
    /// The request's body.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            FileRequest::Info(blob) => {
                let mut out = vec![REQUEST_INFO];
                out.extend(blob.to_bytes());
                out
            }
            FileRequest::Piece { blob, index } => {
                let mut out = vec![REQUEST_PIECE];
                out.extend(index.to_le_bytes());
                out.extend(blob.to_bytes());
                out
            }
        }
    }

    /// Reads a request's body.
    pub fn from_bytes(bytes: &[u8]) -> io::Result<Self> {
        let cid = |bytes: &[u8]| {
            ContentId::from_bytes(bytes).map_err(|err| invalid(format!("file request: {err}")))
        };
        match bytes.split_first() {
            Some((&REQUEST_INFO, rest)) => Ok(FileRequest::Info(cid(rest)?)),
            Some((&REQUEST_PIECE, rest)) if rest.len() > 8 => {
                let (index, blob) = rest.split_at(8);
                let mut number = [0u8; 8];
                number.copy_from_slice(index);
                Ok(FileRequest::Piece {
                    blob: cid(blob)?,
                    index: u64::from_le_bytes(number),
                })
            }
            Some((tag, _)) => Err(invalid(format!("file request of unknown kind {tag}"))),
            None => Err(invalid("empty file request".into())),
        }
    }
}

impl FileResponse {
    /// The response's body.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            FileResponse::Info(info) => {
                let mut out = vec![RESPONSE_INFO];
                out.extend(info.to_bytes());
                out
            }
            FileResponse::Piece(bytes) => {
                let mut out = Vec::with_capacity(bytes.len() + 1);
                out.push(RESPONSE_PIECE);
                out.extend_from_slice(bytes);
                out
            }
            FileResponse::Missing => vec![RESPONSE_MISSING],
            FileResponse::Busy => vec![RESPONSE_BUSY],
        }
    }

    /// Reads a response's body.
    pub fn from_bytes(mut bytes: Vec<u8>) -> io::Result<Self> {
        match bytes.first().copied() {
            Some(RESPONSE_INFO) => BlobInfo::from_bytes(&bytes[1..])
                .map(FileResponse::Info)
                .map_err(|err| invalid(format!("file response: {err}"))),
            Some(RESPONSE_PIECE) => {
                bytes.remove(0);
                Ok(FileResponse::Piece(bytes))
            }
            Some(RESPONSE_MISSING) if bytes.len() == 1 => Ok(FileResponse::Missing),
            Some(RESPONSE_BUSY) if bytes.len() == 1 => Ok(FileResponse::Busy),
            Some(tag) => Err(invalid(format!(
                "file response of kind {tag} and {} bytes",
                bytes.len()
            ))),
            None => Err(invalid("empty file response".into())),
        }
    }
}

/// The longest varint a frame's length is written in: enough for any
/// length a frame may have.
const MAX_VARINT_BYTES: usize = 5;

/// `length` as an unsigned varint: seven bits a byte, least significant
/// first, the high bit set on every byte but the last.
fn varint(mut length: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAX_VARINT_BYTES);
    loop {
        let low = (length & 0x7f) as u8;
        length >>= 7;
        if length == 0 {
            out.push(low);
            return out;
        }
        out.push(low | 0x80);
    }
}

/// Reads one frame of at most `max` bytes.
pub(super) async fn read_frame<T: AsyncRead + Unpin + Send>(
    io: &mut T,
    max: usize,
) -> io::Result<Vec<u8>> {
    let mut length: usize = 0;
    for index in 0..=MAX_VARINT_BYTES {
        if index == MAX_VARINT_BYTES {
            return Err(invalid(
                "a frame length longer than its varint may be".into(),
            ));
        }
        let mut byte = [0u8; 1];
        io.read_exact(&mut byte).await?;
        let low = usize::from(byte[0] & 0x7f);
        if index > 0 && byte[0] == 0 {
            return Err(invalid("a frame length not in its shortest varint".into()));
        }
        length |= low << (7 * index);
        if length > max {
            return Err(invalid(format!(
                "a frame of more than {max} bytes; at most {max} are taken"
            )));
        }
        if byte[0] & 0x80 == 0 {
            break;
        }
    }
    let mut body = vec![0u8; length];
    io.read_exact(&mut body).await?;
    Ok(body)
}

/// Writes `body` as one frame and closes the stream for writing.
pub(super) async fn write_frame<T: AsyncWrite + Unpin + Send>(
    io: &mut T,
    body: &[u8],
) -> io::Result<()> {
    io.write_all(&varint(body.len())).await?;
    io.write_all(body).await?;
    io.close().await
}

#[async_trait::async_trait]
impl libp2p::request_response::Codec for FileCodec {
    type Protocol = StreamProtocol;
    type Request = FileRequest;
    type Response = FileResponse;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<FileRequest>
    where
        T: AsyncRead + Unpin + Send,
    {
        FileRequest::from_bytes(&read_frame(io, MAX_REQUEST_BYTES).await?)
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<FileResponse>
    where
        T: AsyncRead + Unpin + Send,
    {
        FileResponse::from_bytes(read_frame(io, MAX_RESPONSE_BYTES).await?)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: FileRequest,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &request.to_bytes()).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: FileResponse,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &response.to_bytes()).await
    }
}

/// A file request answered off the event loop: who asked, where the
/// answer goes, and the answer.
pub(super) type Served = (PeerId, ResponseChannel<FileResponse>, FileResponse);

/// How the event loop takes file requests and their answers.
impl EventLoop {
    pub(super) fn files(&mut self, event: request_response::Event<FileRequest, FileResponse>) {
        match Exchange::of(event, "file request") {
            Some(Exchange::Asked(peer, request, channel)) => self.serve(peer, request, channel),
            Some(Exchange::Answered(id, response)) => {
                if let Some(reply) = self.requests.remove(&id) {
                    let _ = reply.send(response.map_err(HostError::peer));
                }
            }
            None => {}
        }
    }

    /// Answers a file request from the store, off the event loop; at most
    /// so many at once, and fewer for one peer.
    pub(super) fn serve(
        &mut self,
        peer: PeerId,
        request: FileRequest,
        channel: ResponseChannel<FileResponse>,
    ) {
        let Some(store) = self.store.clone() else {
            let _ = self
                .swarm
                .behaviour_mut()
                .files
                .send_response(channel, FileResponse::Missing);
            return;
        };
        let mine = self.serving.get(&peer).copied().unwrap_or(0);
        if self.serving_total >= self.limits.serving || mine >= self.limits.serving_per_peer {
            let _ = self
                .swarm
                .behaviour_mut()
                .files
                .send_response(channel, FileResponse::Busy);
            return;
        }
        self.serving.insert(peer, mine + 1);
        self.serving_total += 1;
        let served = self.served.clone();
        tokio::task::spawn_blocking(move || {
            let response = answer(&store, &request);
            // Room is kept for every request being served.
            let _ = served.blocking_send((peer, channel, response));
        });
    }

    pub(super) fn done_serving(&mut self, peer: PeerId) {
        self.serving_total = self.serving_total.saturating_sub(1);
        if let Some(count) = self.serving.get_mut(&peer) {
            *count -= 1;
            if *count == 0 {
                self.serving.remove(&peer);
            }
        }
    }
}

/// The store's answer to a file request: only whole blobs are offered.
pub(super) fn answer(store: &BlobStore, request: &FileRequest) -> FileResponse {
    let complete = |blob: &ContentId| matches!(store.status(blob), Ok(BlobStatus::Complete));
    match request {
        FileRequest::Info(blob) if complete(blob) => match store.info(blob) {
            Ok(Some(info)) => FileResponse::Info(info),
            _ => FileResponse::Missing,
        },
        FileRequest::Piece { blob, index } if complete(blob) => match store.piece(blob, *index) {
            Ok(bytes) => FileResponse::Piece(bytes),
            Err(err) => {
                warn!(%blob, index, %err, "a stored piece could not be read");
                FileResponse::Missing
            }
        },
        _ => FileResponse::Missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use assets::Codec;
    use std::collections::HashMap;

    #[test]
    fn requests_and_responses_read_back_as_written_and_bad_ones_are_refused() {
        let blob = ContentId::of(Codec::Raw, b"a lamp");
        for request in [
            FileRequest::Info(blob),
            FileRequest::Piece { blob, index: 7 },
        ] {
            assert_eq!(
                FileRequest::from_bytes(&request.to_bytes()).unwrap(),
                request
            );
        }
        let info = BlobInfo::of(Codec::Raw, b"a lamp");
        for response in [
            FileResponse::Info(info),
            FileResponse::Piece(b"a lamp".to_vec()),
            FileResponse::Missing,
            FileResponse::Busy,
        ] {
            assert_eq!(
                FileResponse::from_bytes(response.to_bytes()).unwrap(),
                response
            );
        }
        assert!(FileRequest::from_bytes(&[]).is_err());
        assert!(FileRequest::from_bytes(&[9, 1, 2]).is_err());
        assert!(FileRequest::from_bytes(&[REQUEST_PIECE, 0, 0]).is_err());
        assert!(FileResponse::from_bytes(vec![RESPONSE_MISSING, 0]).is_err());
        assert!(FileResponse::from_bytes(vec![RESPONSE_INFO, 1, 2, 3]).is_err());
    }

    fn read(bytes: Vec<u8>, max: usize) -> io::Result<Vec<u8>> {
        let mut io = futures::io::Cursor::new(bytes);
        futures::executor::block_on(read_frame(&mut io, max))
    }

    #[test]
    fn a_frame_longer_than_allowed_is_refused_before_it_is_read() {
        let mut frame = varint(MAX_REQUEST_BYTES + 1);
        frame.extend(vec![0u8; MAX_REQUEST_BYTES + 1]);
        let err = read(frame, MAX_REQUEST_BYTES).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("at most 256"));
        // A length that never ends, or is not in its shortest form.
        assert!(read(vec![0xff; 12], usize::MAX).is_err());
        assert!(read(vec![0x81, 0x00, 1], MAX_REQUEST_BYTES).is_err());
        // Lengths across a varint byte read back.
        for length in [0, 1, 127, 128, 300, MAX_RESPONSE_BYTES] {
            let mut frame = varint(length);
            frame.extend(vec![7u8; length]);
            assert_eq!(read(frame, MAX_RESPONSE_BYTES).unwrap().len(), length);
        }
    }

    /// Every vector in `docs/file-protocol.md`: the code block after a
    /// line naming it, each line's leading hex bytes.
    fn vectors() -> HashMap<String, Vec<u8>> {
        let doc = include_str!("../../../docs/file-protocol.md");
        let mut found = HashMap::new();
        let mut lines = doc.lines();
        while let Some(line) = lines.next() {
            let Some(name) = line
                .strip_prefix("Vector `")
                .and_then(|rest| rest.split('`').next())
            else {
                continue;
            };
            let mut hex = String::new();
            for line in lines.by_ref() {
                if line.starts_with("```") && !hex.is_empty() {
                    break;
                }
                if !line.starts_with("```") {
                    // Bytes, then words of comment.
                    for token in line.split_whitespace().take_while(|token| {
                        token.len() == 2 && token.chars().all(|c| c.is_ascii_hexdigit())
                    }) {
                        hex.push_str(token);
                    }
                }
            }
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|at| u8::from_str_radix(&hex[at..at + 2], 16).unwrap())
                .collect();
            found.insert(name.to_owned(), bytes);
        }
        found
    }

    fn framed(body: &[u8]) -> Vec<u8> {
        let mut out = varint(body.len());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn the_documented_test_vectors_are_what_a_host_sends() {
        let vectors = vectors();
        let blob = ContentId::of(Codec::Raw, b"plaza");
        let info_request = framed(&FileRequest::Info(blob).to_bytes());
        let piece_request = framed(&FileRequest::Piece { blob, index: 1 }.to_bytes());
        let info = framed(&FileResponse::Info(BlobInfo::of(Codec::Raw, b"plaza")).to_bytes());
        let piece = framed(&FileResponse::Piece(b"plaza".to_vec()).to_bytes());
        let wrong = [
            ("info request", &info_request),
            ("piece request", &piece_request),
            ("info response", &info),
            ("piece response", &piece),
            ("missing", &framed(&FileResponse::Missing.to_bytes())),
            ("busy", &framed(&FileResponse::Busy.to_bytes())),
        ]
        .into_iter()
        .filter(|(name, bytes)| vectors.get(*name) != Some(*bytes))
        .map(|(name, bytes)| {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            format!("vector {name:?} is {hex}")
        })
        .collect::<Vec<_>>();
        assert!(wrong.is_empty(), "the document differs: {wrong:#?}");
        assert_eq!(vectors.len(), 6, "{:?}", vectors.keys());
    }
}
