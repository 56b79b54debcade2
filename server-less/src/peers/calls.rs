//! Calls between hosts on the wire (see [`crate::calls`]): one frame
//! each way, a 4-byte big-endian length and a borsh body of at most
//! [`MAX_CALL_BYTES`]; a longer frame is refused before it is read.
//! Who calls is the peer the connection authenticated, whose key is the
//! calling host's key.

use std::io;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use ledger::Address;
use libp2p::{PeerId, StreamProtocol};

use crate::calls::{CallAnswer, HostCall, MAX_CALL_BYTES, decode, encode};

/// The protocol's name on a network.
pub(crate) fn protocol(network: &str) -> Result<StreamProtocol, String> {
    StreamProtocol::try_from_owned(format!("/plaza/{network}/calls/1"))
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
    let mut length = [0u8; 4];
    io.read_exact(&mut length).await?;
    let length = u32::from_be_bytes(length) as usize;
    if length > MAX_CALL_BYTES {
        return Err(invalid(format!(
            "a call of {length} bytes; at most {MAX_CALL_BYTES} are taken"
        )));
    }
    let mut body = vec![0u8; length];
    io.read_exact(&mut body).await?;
    Ok(body)
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(io: &mut T, body: &[u8]) -> io::Result<()> {
    let length = u32::try_from(body.len())
        .map_err(|_| invalid(format!("a call of {} bytes is too long", body.len())))?;
    io.write_all(&length.to_be_bytes()).await?;
    io.write_all(body).await?;
    io.close().await
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
