//! Calls between hosts on the wire (see [`crate::calls`]): one frame
//! each way, framed as the file protocol frames (an unsigned varint
//! length, see `docs/file-protocol.md`) around a borsh body of at most
//! [`MAX_CALL_BYTES`]; a longer frame is refused before it is read.
//! Who calls is the peer the connection authenticated, whose key is the
//! calling host's key.
//!
//! The event loop takes a call only from a host whose signed presence it
//! heard, within that host's rate and while few enough wait, and hands it
//! to the session server, which has [`ANSWER_WAIT`] to answer.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Duration;

use futures::{AsyncRead, AsyncWrite};
use ledger::Address;
use libp2p::request_response::{self, ResponseChannel};
use libp2p::{PeerId, StreamProtocol};
use tokio::sync::oneshot;
use tracing::debug;

use super::event_loop::{EventLoop, Exchange};
use super::{CALL_BURST, CALLS_PER_SEC, MAX_CALLS_WAITING};
use crate::rate::Bucket;
use crate::room::make_room;
use plaza_client::protocol::ErrorCode;

use crate::calls::{CallAnswer, HostCall, InCall, MAX_CALL_BYTES, decode, encode};

/// The protocol's name on a network.
pub(crate) fn protocol(network: &str) -> Result<StreamProtocol, String> {
    StreamProtocol::try_from_owned(format!("/plaza/{network}/calls/2"))
        .map_err(|err| format!("bad protocol name for network {network:?}: {err}"))
}

/// The peer id of the host whose key is `host`.
pub fn peer_of_host(host: &Address) -> Option<PeerId> {
    let key = libp2p::identity::ed25519::PublicKey::try_from_bytes(host.as_bytes()).ok()?;
    Some(libp2p::identity::PublicKey::from(key).to_peer_id())
}

/// The host key a peer id stands for (a peer id of an ed25519 key holds
/// the key itself).
pub fn host_of_peer(peer: &PeerId) -> Option<Address> {
    let hash: &libp2p::multihash::Multihash<64> = peer.as_ref();
    // The identity hash: the digest is the key itself.
    if hash.code() != 0 {
        return None;
    }
    let key = libp2p::identity::PublicKey::try_decode_protobuf(hash.digest()).ok()?;
    let key = key.try_into_ed25519().ok()?;
    Some(Address::from_bytes(key.to_bytes()))
}

/// Reads and writes [`HostCall`]s and [`CallAnswer`]s.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct CallCodec;

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T) -> io::Result<Vec<u8>> {
    super::files::read_frame(io, MAX_CALL_BYTES).await
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(io: &mut T, body: &[u8]) -> io::Result<()> {
    super::files::write_frame(io, body).await
}

#[async_trait::async_trait]
impl libp2p::request_response::Codec for CallCodec {
    type Protocol = StreamProtocol;
    type Request = HostCall;
    type Response = CallAnswer;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<HostCall>
    where
        T: AsyncRead + Unpin + Send,
    {
        decode(&read_frame(io).await?).map_err(invalid)
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<CallAnswer>
    where
        T: AsyncRead + Unpin + Send,
    {
        decode(&read_frame(io).await?).map_err(invalid)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        call: HostCall,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &encode(&call).map_err(invalid)?).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        answer: CallAnswer,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_frame(io, &encode(&answer).map_err(invalid)?).await
    }
}

/// A call from another host waiting for the session server's answer.
pub(super) type Answering =
    Pin<Box<dyn Future<Output = (PeerId, ResponseChannel<CallAnswer>, CallAnswer)> + Send>>;

/// Hosts whose presence was heard that may call, at most; past it, the
/// one heard from longest ago is forgotten.
const MAX_CALLERS: usize = 1_024;

/// How long a call from another host waits for the session server's
/// answer: well inside the caller's own timeout, so that the caller hears
/// "could not answer" rather than nothing.
const ANSWER_WAIT: Duration = Duration::from_secs(7);

/// A host that may call: one whose signed presence this host heard.
pub(super) struct Caller {
    /// When its presence was last heard.
    heard: tokio::time::Instant,
    /// The calls it may still make, and when last topped up.
    allowance: (Bucket, tokio::time::Instant),
}

/// How the event loop takes calls from other hosts and the answers to its
/// own.
impl EventLoop {
    pub(super) fn calls(&mut self, event: request_response::Event<HostCall, CallAnswer>) {
        match Exchange::of(event, "call") {
            Some(Exchange::Asked(peer, call, channel)) => self.called(peer, call, channel),
            Some(Exchange::Answered(id, answer)) => {
                if let Some(waiting) = self.calls.remove(&id) {
                    let _ = waiting.send(answer);
                }
            }
            None => {}
        }
    }

    /// A call from `peer`: handed to the session server if the peer is a
    /// host, within its rate and there is room; answered "busy" or why
    /// not otherwise. An answer not given in [`ANSWER_WAIT`] is "the
    /// host could not answer".
    pub(super) fn called(
        &mut self,
        peer: PeerId,
        call: HostCall,
        channel: ResponseChannel<CallAnswer>,
    ) {
        let sessions = self.called.clone();
        let host = host_of_peer(&peer);
        let known = host.is_some_and(|host| self.callers.contains_key(&host));
        let refusal = match (host, sessions) {
            (None, _) => Some(CallAnswer::refused(
                ErrorCode::Malformed,
                "the caller's peer id names no host key",
            )),
            (Some(_), None) => Some(CallAnswer::refused(
                ErrorCode::Unavailable,
                "this host takes no calls",
            )),
            (Some(_), Some(_)) if !known => Some(CallAnswer::refused(
                ErrorCode::NotFound,
                "this host has heard no presence of yours",
            )),
            (Some(host), Some(_)) if !self.may_call(&host) => Some(CallAnswer::refused(
                ErrorCode::Busy,
                format!("more than {CALLS_PER_SEC} calls a second"),
            )),
            (Some(_), Some(_)) if self.answering.len() >= MAX_CALLS_WAITING => Some(
                CallAnswer::refused(ErrorCode::Busy, "too many calls waiting"),
            ),
            (Some(host), Some(sessions)) => {
                let (answer, answered) = oneshot::channel();
                match sessions.try_send(InCall { host, call, answer }) {
                    Ok(()) => {
                        self.answering.push(Box::pin(async move {
                            let answer = match tokio::time::timeout(ANSWER_WAIT, answered).await {
                                Ok(Ok(answer)) => answer,
                                _ => CallAnswer::refused(
                                    ErrorCode::Unavailable,
                                    "the host could not answer",
                                ),
                            };
                            (peer, channel, answer)
                        }));
                        return;
                    }
                    Err(_) => Some(CallAnswer::refused(
                        ErrorCode::Busy,
                        "too many calls waiting",
                    )),
                }
            }
        };
        if let Some(refusal) = refusal
            && self
                .swarm
                .behaviour_mut()
                .calls
                .send_response(channel, refusal)
                .is_err()
        {
            debug!(%peer, "a call closed before its answer");
        }
    }

    /// `host`'s signed presence was heard: it may call (the host heard
    /// from longest ago is forgotten to make room).
    pub(super) fn heard_host(&mut self, host: ledger::Address) {
        let now = tokio::time::Instant::now();
        if let Some(caller) = self.callers.get_mut(&host) {
            caller.heard = now;
            return;
        }
        make_room(&mut self.callers, MAX_CALLERS, |caller| caller.heard);
        self.callers.insert(
            host,
            Caller {
                heard: now,
                allowance: (Bucket::new(CALLS_PER_SEC, CALL_BURST), now),
            },
        );
    }

    /// Takes one call from `host`'s allowance, if it may call and any is
    /// left.
    fn may_call(&mut self, host: &ledger::Address) -> bool {
        let now = tokio::time::Instant::now();
        let Some(caller) = self.callers.get_mut(host) else {
            return false;
        };
        let (bucket, topped) = &mut caller.allowance;
        bucket.refill(now.duration_since(*topped).as_secs_f32());
        *topped = now;
        bucket.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hosts_key_and_its_peer_id_name_each_other() {
        let key = ledger::Keypair::from_seed([3; 32]);
        let peer = peer_of_host(&key.address()).unwrap();
        let libp2p_key = crate::peers::identity(key.seed()).unwrap();
        assert_eq!(peer, libp2p_key.public().to_peer_id());
        assert_eq!(host_of_peer(&peer), Some(key.address()));
        // A peer id that is a hash of a key names no host.
        let hashed = PeerId::random();
        assert_eq!(host_of_peer(&hashed), None);
    }
}
