//! State snapshots: every record in force after one block, cut into
//! chunks, so that a new host starts from a recent state instead of
//! replaying every block since genesis.
//!
//! A snapshot's [`SnapshotManifest`] names its height, the state root it
//! rebuilds and each chunk's hash. A host fetching one checks each chunk
//! against the manifest as it arrives (a bad chunk is caught at once, and
//! changes nothing) and the rebuilt state against a root it trusts (one a
//! certified header commits to): a manifest that lies is caught there,
//! before the state is used.
//!
//! A chunk is the borsh encoding of a `Vec<Entry>`: each record exactly as
//! the store keeps it, tagged with its kind.

use borsh::{BorshDeserialize, BorshSerialize};

use crate::codec::{self, tagged_hash};
use crate::error::LedgerError;
use crate::ids::{ChainId, Height, StateRoot};
use crate::keys::Address;
use crate::state::{Account, Asset, ChainState, Listing, Rental, Validator};

/// A chunk is cut once it holds this many bytes.
pub const CHUNK_BYTES: usize = 1 << 20;
/// Most bytes a chunk may have: one more record than [`CHUNK_BYTES`] holds,
/// and records are at most 64 KiB.
pub const MAX_CHUNK_BYTES: usize = CHUNK_BYTES + (1 << 17);
/// Most chunks a snapshot may have (64 GiB of state).
pub const MAX_CHUNKS: usize = 1 << 16;
/// Largest encoded manifest: its chunk hashes and a little more.
pub const MAX_MANIFEST_BYTES: usize = MAX_CHUNKS * 32 + 1024;

const CHUNK_DOMAIN: &[u8] = b"plaza/snapshot-chunk/v1";
const MANIFEST_DOMAIN: &[u8] = b"plaza/snapshot-manifest/v1";

/// A chunk's hash.
pub type ChunkHash = [u8; 32];

/// The hash of a chunk's bytes.
pub fn chunk_hash(bytes: &[u8]) -> ChunkHash {
    tagged_hash(CHUNK_DOMAIN, &[bytes])
}

/// One record of the state.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Entry {
    /// An account, with its address.
    Account(Address, Account),
    /// An asset.
    Asset(Asset),
    /// A listing.
    Listing(Listing),
    /// A rental.
    Rental(Rental),
    /// A validator, present or past (power 0).
    Validator(Validator),
    /// The chain record.
    Chain(ChainState),
}

/// What a snapshot holds, and how to check it.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SnapshotManifest {
    /// The network.
    pub chain_id: ChainId,
    /// The block the state is after.
    pub height: Height,
    /// The state root after that block: the root a certified header at
    /// the next height commits to.
    pub state_root: StateRoot,
    /// How many records in all.
    pub entries: u64,
    /// Bytes of all chunks together.
    pub bytes: u64,
    /// Each chunk's hash, in order.
    pub chunks: Vec<ChunkHash>,
}

impl SnapshotManifest {
    /// The manifest's own hash, naming the snapshot.
    pub fn hash(&self) -> [u8; 32] {
        tagged_hash(MANIFEST_DOMAIN, &[&codec::encode(self)])
    }

    /// The encoded manifest.
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// Reads a manifest, checking its bounds.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LedgerError> {
        let manifest: SnapshotManifest =
            codec::decode("snapshot manifest", bytes, MAX_MANIFEST_BYTES)?;
        manifest.check()?;
        Ok(manifest)
    }

    /// An error if the manifest cannot describe a snapshot: no chunks,
    /// too many, or more bytes than its chunks may hold.
    pub fn check(&self) -> Result<(), LedgerError> {
        if self.chunks.is_empty() || self.chunks.len() > MAX_CHUNKS {
            return Err(LedgerError::BadSnapshot(format!(
                "{} chunks (1 to {MAX_CHUNKS} allowed)",
                self.chunks.len()
            )));
        }
        let most = (self.chunks.len() as u64).saturating_mul(MAX_CHUNK_BYTES as u64);
        if self.bytes > most {
            return Err(LedgerError::BadSnapshot(format!(
                "{} bytes in {} chunks",
                self.bytes,
                self.chunks.len()
            )));
        }
        Ok(())
    }
}

/// Cuts records into chunks of about [`CHUNK_BYTES`] as they come.
pub(crate) struct Chunker<F> {
    /// Each record's encoding (tag and record), waiting for the chunk's
    /// count to be known.
    pending: Vec<u8>,
    pending_entries: u32,
    chunk_bytes: usize,
    entries: u64,
    bytes: u64,
    hashes: Vec<ChunkHash>,
    sink: F,
}

impl<F: FnMut(u32, Vec<u8>) -> Result<(), LedgerError>> Chunker<F> {
    /// A chunker that cuts after `chunk_bytes` and hands each chunk, with
    /// its number, to `sink`.
    pub(crate) fn new(chunk_bytes: usize, sink: F) -> Self {
        Chunker {
            pending: Vec::new(),
            pending_entries: 0,
            chunk_bytes: chunk_bytes.clamp(1, CHUNK_BYTES),
            entries: 0,
            bytes: 0,
            hashes: Vec::new(),
            sink,
        }
    }

    /// Adds one record: its tag and its stored bytes, with `prefix` (an
    /// account's address) between them.
    pub(crate) fn push(
        &mut self,
        tag: u8,
        prefix: &[u8],
        record: &[u8],
    ) -> Result<(), LedgerError> {
        self.pending.push(tag);
        self.pending.extend_from_slice(prefix);
        self.pending.extend_from_slice(record);
        self.pending_entries += 1;
        self.entries += 1;
        if self.pending.len() >= self.chunk_bytes {
            self.cut()?;
        }
        Ok(())
    }

    fn cut(&mut self) -> Result<(), LedgerError> {
        if self.hashes.len() == MAX_CHUNKS {
            return Err(LedgerError::BadSnapshot(format!(
                "the state needs more than {MAX_CHUNKS} chunks"
            )));
        }
        let mut chunk = Vec::with_capacity(4 + self.pending.len());
        chunk.extend_from_slice(&self.pending_entries.to_le_bytes());
        chunk.append(&mut self.pending);
        self.pending_entries = 0;
        self.bytes += chunk.len() as u64;
        self.hashes.push(chunk_hash(&chunk));
        let index = (self.hashes.len() - 1) as u32;
        (self.sink)(index, chunk)
    }

    /// Cuts the last chunk and returns the manifest.
    pub(crate) fn finish(
        mut self,
        chain_id: ChainId,
        height: Height,
        state_root: StateRoot,
    ) -> Result<SnapshotManifest, LedgerError> {
        if self.pending_entries > 0 || self.hashes.is_empty() {
            self.cut()?;
        }
        Ok(SnapshotManifest {
            chain_id,
            height,
            state_root,
            entries: self.entries,
            bytes: self.bytes,
            chunks: self.hashes,
        })
    }
}

/// Reads a chunk, checking it against the manifest's hash for it.
pub fn read_chunk(
    manifest: &SnapshotManifest,
    index: u32,
    bytes: &[u8],
) -> Result<Vec<Entry>, LedgerError> {
    let expected = manifest
        .chunks
        .get(index as usize)
        .ok_or_else(|| LedgerError::BadSnapshot(format!("no chunk {index}")))?;
    if bytes.len() > MAX_CHUNK_BYTES {
        return Err(LedgerError::TooLarge {
            what: "snapshot chunk",
            size: bytes.len(),
            max: MAX_CHUNK_BYTES,
        });
    }
    if &chunk_hash(bytes) != expected {
        return Err(LedgerError::ChunkMismatch { index });
    }
    codec::decode("snapshot chunk", bytes, MAX_CHUNK_BYTES)
}
