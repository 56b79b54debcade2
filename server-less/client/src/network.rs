//! Asking a host what network it belongs to: the network's name and
//! genesis hash, its height, validators and where its hosts listen, and the
//! genesis itself, in parts. A new host joins a network with this, and
//! `plaza-host status` asks a running host with it.
//!
//! It runs over the join endpoint (the address players already know),
//! with the join frames (a 2-byte big-endian length and a borsh value):
//! [`JoinRequest::Network`] is answered by [`JoinReply::Network`], then
//! each [`JoinRequest::GenesisPart`] by [`JoinReply::GenesisPart`], on one
//! connection. Replies here may be up to [`MAX_NETWORK_FRAME_BYTES`]; the
//! host still reads nothing longer than a join frame.
//!
//! Nothing here is believed: what the genesis hash names is checked by
//! the joining host against the hash its operator trusts.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use borsh::{BorshDeserialize, BorshSerialize};
use ledger::Address;

use crate::error::ClientError;
use crate::join::{JoinReply, JoinRequest, receive_frame_of_at_most, send_frame};
use crate::protocol::{ErrorCode, ProtocolError};

/// The version of this exchange. Version 2: hosts offer state snapshots.
pub const NETWORK_VERSION: u16 = 2;

/// The longest reply frame.
pub const MAX_NETWORK_FRAME_BYTES: usize = 60 * 1024;

/// Bytes of the genesis in one part (the last may be shorter).
pub const GENESIS_PART_BYTES: usize = 48 * 1024;

/// The most genesis bytes a host offers or a joiner takes.
pub const MAX_GENESIS_BYTES: u32 = 32 * 1024 * 1024;

/// The most addresses of each kind a reply names.
pub const MAX_ADDRESSES: usize = 16;

/// The longest address.
pub const MAX_ADDRESS_BYTES: usize = 256;

/// The most validators a reply lists.
pub const MAX_VALIDATORS: usize = 256;

/// The longest snapshot head: its manifest, the proof of its root and
/// its chunks' lengths.
pub const MAX_SNAPSHOT_HEAD_BYTES: u32 = (ledger::snapshot::MAX_MANIFEST_BYTES
    + ledger::light::MAX_CERTIFIED_STATE_BYTES
    + ledger::snapshot::MAX_CHUNKS * 4
    + 64) as u32;

/// A state snapshot a host offers to hosts that join.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SnapshotOffer {
    /// The height the state is after.
    pub height: u64,
    /// The length of its head ([`SnapshotHead`]), fetched as item 0.
    pub head_bytes: u32,
}

/// What a joining host fetches first of a snapshot: the manifest, the
/// proof that its root is the chain's, and how long each chunk is (chunk
/// `i` is fetched as item `i + 1`).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SnapshotHead {
    /// The encoded [`ledger::snapshot::SnapshotManifest`].
    pub manifest: Vec<u8>,
    /// The encoded [`ledger::light::CertifiedState`].
    pub certified: Vec<u8>,
    /// Each chunk's length, in order.
    pub chunk_lengths: Vec<u32>,
}

impl SnapshotHead {
    /// Reads a head, checking its bounds.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ProtocolError> {
        if bytes.len() > MAX_SNAPSHOT_HEAD_BYTES as usize {
            return Err(ProtocolError::new(
                ErrorCode::Invalid,
                format!("a snapshot head of {} bytes", bytes.len()),
            ));
        }
        let head: SnapshotHead = borsh::from_slice(bytes).map_err(|err| {
            ProtocolError::new(ErrorCode::Malformed, format!("snapshot head: {err}"))
        })?;
        if let Some(long) = head
            .chunk_lengths
            .iter()
            .find(|length| **length as usize > ledger::snapshot::MAX_CHUNK_BYTES)
        {
            return Err(ProtocolError::new(
                ErrorCode::Invalid,
                format!("a snapshot chunk of {long} bytes"),
            ));
        }
        Ok(head)
    }
}

/// What a host says of its network.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct NetworkInfo {
    /// The network's name.
    pub chain_id: String,
    /// The hash naming the network's start, which a joining host checks
    /// against the one its operator trusts.
    pub genesis: [u8; 32],
    /// The genesis's length in bytes; 0 for a host that cannot be joined
    /// (a network of one, or a home that keeps no genesis; then
    /// `genesis` is zeros where the host does not know it).
    pub genesis_bytes: u32,
    /// The host's last committed height.
    pub height: u64,
    /// That block's time (Unix seconds).
    pub block_time: u64,
    /// The host's key.
    pub host: Address,
    /// Where this host's peer network listens, as multiaddresses ending in
    /// `/p2p/<peer id>`: a joining host bootstraps through them.
    pub peers: Vec<String>,
    /// The validators' consensus addresses this host knows, its own first
    /// if it has one.
    pub consensus: Vec<String>,
    /// The validators and their voting power.
    pub validators: Vec<(Address, u64)>,
    /// The latest state snapshot the host offers, if any.
    pub snapshot: Option<SnapshotOffer>,
}

impl NetworkInfo {
    /// The number of genesis parts.
    pub fn parts(&self) -> u32 {
        self.genesis_bytes.div_ceil(GENESIS_PART_BYTES as u32)
    }

    /// Whether every field is within bounds.
    pub fn check(&self) -> Result<(), ProtocolError> {
        let invalid = |what: String| Err(ProtocolError::new(ErrorCode::Invalid, what));
        if self.genesis_bytes > MAX_GENESIS_BYTES {
            return invalid(format!(
                "a genesis of {} bytes (at most {MAX_GENESIS_BYTES})",
                self.genesis_bytes
            ));
        }
        for (what, list) in [("peer", &self.peers), ("consensus", &self.consensus)] {
            if list.len() > MAX_ADDRESSES {
                return invalid(format!("{} {what} addresses", list.len()));
            }
            if let Some(long) = list.iter().find(|text| text.len() > MAX_ADDRESS_BYTES) {
                return invalid(format!("a {what} address of {} bytes", long.len()));
            }
        }
        if self.validators.len() > MAX_VALIDATORS {
            return invalid(format!("{} validators", self.validators.len()));
        }
        Ok(())
    }
}

/// A connection to a host that has answered [`JoinRequest::Network`].
pub struct NetworkAsk {
    stream: TcpStream,
    /// What the host said.
    pub info: NetworkInfo,
}

impl NetworkAsk {
    /// Asks the host whose join endpoint is `addr`, waiting at most
    /// `wait` for each answer.
    pub fn ask(addr: SocketAddr, wait: Duration) -> Result<NetworkAsk, ClientError> {
        let mut stream = TcpStream::connect_timeout(&addr, wait).map_err(|err| {
            ClientError::net(
                format!("connecting to the host's join endpoint {addr}"),
                err,
            )
        })?;
        let _ = stream.set_read_timeout(Some(wait));
        let _ = stream.set_nodelay(true);
        send_frame(
            &mut stream,
            &JoinRequest::Network {
                version: NETWORK_VERSION,
            },
        )?;
        let info = match read(&mut stream)? {
            JoinReply::Network(info) => info,
            _ => {
                return Err(
                    ProtocolError::new(ErrorCode::Malformed, "expected the network").into(),
                );
            }
        };
        info.check()?;
        let mut info = info;
        // A snapshot too large to take is no snapshot: the genesis still is.
        info.snapshot = info
            .snapshot
            .filter(|snapshot| snapshot.head_bytes <= MAX_SNAPSHOT_HEAD_BYTES);
        Ok(NetworkAsk { stream, info })
    }

    /// Fetches the genesis, part by part; `progress` hears the bytes so far.
    pub fn genesis(mut self, progress: impl FnMut(usize)) -> Result<Vec<u8>, ClientError> {
        let total = self.info.genesis_bytes as usize;
        self.fetch_parts(
            total,
            "the genesis",
            |part| JoinRequest::GenesisPart { part },
            |reply| match reply {
                JoinReply::GenesisPart { part, bytes } => Some((part, bytes)),
                _ => None,
            },
            progress,
        )
    }

    /// Fetches item `item` (0 for the head, `i + 1` for chunk `i`) of the
    /// snapshot of `height`, `length` bytes long, part by part.
    pub fn snapshot_item(
        &mut self,
        height: u64,
        item: u32,
        length: usize,
    ) -> Result<Vec<u8>, ClientError> {
        self.fetch_parts(
            length,
            &format!("item {item} of snapshot {height}"),
            |part| JoinRequest::SnapshotPart { height, item, part },
            |reply| match reply {
                JoinReply::SnapshotPart {
                    height: got_height,
                    item: got_item,
                    part,
                    bytes,
                } if (got_height, got_item) == (height, item) => Some((part, bytes)),
                _ => None,
            },
            |_| {},
        )
    }

    /// Fetches `length` bytes of `what` in parts of [`GENESIS_PART_BYTES`]
    /// (the last shorter): `ask` makes the request for a part, `part_of`
    /// reads a reply's part number and bytes if it is a part of `what`.
    /// Each part must be the one asked, and as long as it must be.
    fn fetch_parts(
        &mut self,
        length: usize,
        what: &str,
        ask: impl Fn(u32) -> JoinRequest,
        part_of: impl Fn(JoinReply) -> Option<(u32, Vec<u8>)>,
        mut progress: impl FnMut(usize),
    ) -> Result<Vec<u8>, ClientError> {
        let mut bytes = Vec::with_capacity(length);
        for part in 0..length.div_ceil(GENESIS_PART_BYTES) as u32 {
            send_frame(&mut self.stream, &ask(part))?;
            let Some((got, piece)) = part_of(read(&mut self.stream)?) else {
                return Err(ProtocolError::new(
                    ErrorCode::Malformed,
                    format!("expected part {part} of {what}"),
                )
                .into());
            };
            let expected = GENESIS_PART_BYTES.min(length - bytes.len());
            if got != part || piece.len() != expected {
                return Err(ProtocolError::new(
                    ErrorCode::Malformed,
                    format!(
                        "part {got} of {what}, {} bytes, where part {part} of {expected} bytes \
                         was asked",
                        piece.len()
                    ),
                )
                .into());
            }
            bytes.extend_from_slice(&piece);
            progress(bytes.len());
        }
        Ok(bytes)
    }
}

/// The host's next reply, a refusal as an error.
fn read(stream: &mut TcpStream) -> Result<JoinReply, ClientError> {
    match receive_frame_of_at_most(stream, MAX_NETWORK_FRAME_BYTES)? {
        JoinReply::Refused { code, message } => Err(ProtocolError::new(code, message).into()),
        reply => Ok(reply),
    }
}

/// The bytes of part `part` of `genesis` (or of any item sent in parts),
/// as a host sends them; `None` past the last.
pub fn genesis_part(genesis: &[u8], part: u32) -> Option<&[u8]> {
    let start = (part as usize).checked_mul(GENESIS_PART_BYTES)?;
    if start >= genesis.len() {
        return None;
    }
    genesis.get(start..(start + GENESIS_PART_BYTES).min(genesis.len()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn parts_cover_the_genesis_exactly() {
        let genesis: Vec<u8> = (0..GENESIS_PART_BYTES * 2 + 5).map(|i| i as u8).collect();
        let info = NetworkInfo {
            chain_id: "plaza-x".into(),
            genesis: [0; 32],
            genesis_bytes: genesis.len() as u32,
            height: 0,
            block_time: 0,
            host: ledger::Keypair::from_seed([1; 32]).address(),
            peers: Vec::new(),
            consensus: Vec::new(),
            validators: Vec::new(),
            snapshot: None,
        };
        assert_eq!(info.parts(), 3);
        let joined: Vec<u8> = (0..info.parts())
            .flat_map(|part| genesis_part(&genesis, part).unwrap().to_vec())
            .collect();
        assert_eq!(joined, genesis);
        assert!(genesis_part(&genesis, 3).is_none());
        assert!(genesis_part(&genesis, u32::MAX).is_none());
        info.check().unwrap();
        let mut long = info.clone();
        long.peers = vec!["x".repeat(MAX_ADDRESS_BYTES + 1)];
        assert!(long.check().is_err());
        let mut huge = info;
        huge.genesis_bytes = MAX_GENESIS_BYTES + 1;
        assert!(huge.check().is_err());
    }
}
