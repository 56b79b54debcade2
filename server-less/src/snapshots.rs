//! The state snapshots a host takes for the hosts that join its network,
//! so that they start from a recent state instead of replaying every
//! block (see [`ledger::snapshot`]).
//!
//! After every `snapshot_every` blocks the ledger thread writes the state
//! after that block into `snapshots/<height>/`: the manifest and the
//! chunks. The snapshot is offered once the next block is committed with
//! its certificate: that block's header commits to the snapshot's root,
//! and with the validator-set changes since the genesis (each certified by
//! the set before it, kept in `snapshots/set-changes`) it makes the
//! [`CertifiedState`] a joining host checks the snapshot against, trusting
//! nothing but the genesis. The latest `snapshots_kept` are kept.
//!
//! ```text
//! snapshots/
//!   set-changes                 the validator-set changes, borsh
//!   00000000000000001000/
//!     manifest                  SnapshotManifest, borsh
//!     chunk-00000 …             the chunks
//!     certified                 CertifiedState, once the next block is in
//! ```

use std::path::{Path, PathBuf};

use ledger::light::{CertifiedHeader, CertifiedState, SetChange};
use ledger::snapshot::{CHUNK_BYTES, SnapshotManifest};
use ledger::{BlockHeader, Height, Ledger};
use plaza_client::network::SnapshotHead;
use tracing::{info, warn};

use crate::error::HostError;

const CHANGES: &str = "set-changes";
const MANIFEST: &str = "manifest";
const CERTIFIED: &str = "certified";
/// Largest set-changes file read back.
const MAX_CHANGES_BYTES: usize = 64 << 20;

/// Where a snapshot's files are.
pub fn snapshot_dir(dir: &Path, height: Height) -> PathBuf {
    dir.join(format!("{height:020}"))
}

/// Chunk `index`'s file in a snapshot's directory.
pub fn chunk_path(snapshot: &Path, index: u32) -> PathBuf {
    snapshot.join(format!("chunk-{index:05}"))
}

/// Writes `bytes` to `path`, on disk before this returns.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), HostError> {
    use std::io::Write as _;
    let mut file = std::fs::File::create(path).map_err(|err| HostError::io(path, err))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|err| HostError::io(path, err))
}

/// Makes a rename in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), HostError> {
    std::fs::File::open(dir)
        .and_then(|dir| dir.sync_all())
        .map_err(|err| HostError::io(dir, err))
}

/// Writes `bytes` to `path` whole or not at all, durably.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), HostError> {
    let partial = path.with_extension("partial");
    write_synced(&partial, bytes)?;
    std::fs::rename(&partial, path).map_err(|err| HostError::io(path, err))?;
    sync_dir(path.parent().unwrap_or_else(|| Path::new(".")))
}

/// An error unless each change's next set is the set the following one
/// (and then `header`) is certified by: a change lost (a crash between
/// the block's commit and its record) breaks the chain.
fn check_chain(changes: &[SetChange], header: &BlockHeader) -> Result<(), HostError> {
    let certifiers = changes
        .iter()
        .skip(1)
        .map(|change| &change.certified.header)
        .chain(std::iter::once(header));
    for (change, next) in changes.iter().zip(certifiers) {
        if ledger::validator_set_hash(&change.next) != next.commitments.validators {
            return Err(ledger::LedgerError::Corrupt(format!(
                "the record of validator-set changes misses one between blocks {} and {}: \
                 snapshots cannot be proved and are not offered",
                change.certified.header.height, next.height
            ))
            .into());
        }
    }
    Ok(())
}

/// The validator-set changes recorded in `dir`; none if there is no file.
pub fn read_changes(dir: &Path) -> Result<Vec<SetChange>, HostError> {
    let path = dir.join(CHANGES);
    match std::fs::read(&path) {
        Ok(bytes) => {
            if bytes.len() > MAX_CHANGES_BYTES {
                return Err(ledger::LedgerError::Corrupt(format!(
                    "{} is {} bytes, more than a record of set changes can be",
                    path.display(),
                    bytes.len()
                ))
                .into());
            }
            borsh::from_slice(&bytes).map_err(|err| {
                ledger::LedgerError::Corrupt(format!("{}: {err}", path.display())).into()
            })
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(err) => Err(HostError::io(&path, err)),
    }
}

/// Records `changes` in `dir`, for a host that starts from a snapshot
/// and must prove the snapshots it takes from the same genesis.
pub fn write_changes(dir: &Path, changes: &[SetChange]) -> Result<(), HostError> {
    std::fs::create_dir_all(dir).map_err(|err| HostError::io(dir, err))?;
    write_atomic(
        &dir.join(CHANGES),
        &borsh::to_vec(&changes.to_vec()).unwrap_or_default(),
    )
}

/// The snapshots a host takes, owned by its ledger thread.
pub struct Snapshots {
    dir: PathBuf,
    every: u64,
    keep: usize,
    changes: Vec<SetChange>,
    /// A snapshot taken, waiting for the certified header after it.
    waiting: Option<Height>,
}

impl Snapshots {
    /// Snapshots in `dir`, one after every `every` blocks (0: none), the
    /// latest `keep` kept.
    pub fn open(dir: PathBuf, every: u64, keep: usize) -> Result<Self, HostError> {
        std::fs::create_dir_all(&dir).map_err(|err| HostError::io(&dir, err))?;
        // A snapshot being written when the host stopped is of no use.
        for entry in std::fs::read_dir(&dir)
            .map_err(|err| HostError::io(&dir, err))?
            .flatten()
        {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') && name.ends_with(".partial") {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let changes = read_changes(&dir)?;
        Ok(Snapshots {
            dir,
            every,
            keep: keep.max(1),
            changes,
            waiting: None,
        })
    }

    /// After the block of `header` was committed to `ledger`, with the commit
    /// `certificate` when consensus decided it: records a change of
    /// validators, completes the snapshot waiting for this block, and takes
    /// one when the height is due. A snapshot that cannot be written is
    /// logged and skipped: the host goes on.
    pub fn committed(&mut self, ledger: &Ledger, header: &BlockHeader, certificate: Option<&[u8]>) {
        if let Err(err) = self.try_committed(ledger, header, certificate) {
            warn!(%err, height = header.height, "a snapshot could not be written");
        }
    }

    fn try_committed(
        &mut self,
        ledger: &Ledger,
        header: &BlockHeader,
        certificate: Option<&[u8]>,
    ) -> Result<(), HostError> {
        let height = header.height;
        if let Some(certificate) = certificate {
            let certified = CertifiedHeader {
                header: header.clone(),
                commit: crate::consensus::light_commit(certificate)?,
            };
            let commitments = header.commitments;
            if commitments.next_validators != commitments.validators
                && !self
                    .changes
                    .iter()
                    .any(|change| change.certified.header.height >= height)
            {
                let next = ledger.validators_at(height.saturating_add(1))?;
                self.changes.push(SetChange {
                    certified: certified.clone(),
                    next,
                });
                write_changes(&self.dir, &self.changes)?;
            }
            if self.waiting.take() == Some(height.saturating_sub(1)) {
                let state = CertifiedState {
                    changes: self
                        .changes
                        .iter()
                        .filter(|change| change.certified.header.height < height)
                        .cloned()
                        .collect(),
                    header: certified,
                };
                check_chain(&state.changes, header)?;
                let bytes = state.to_bytes();
                if bytes.len() > ledger::light::MAX_CERTIFIED_STATE_BYTES {
                    return Err(ledger::LedgerError::TooLarge {
                        what: "proof of a snapshot (too many validator-set changes)",
                        size: bytes.len(),
                        max: ledger::light::MAX_CERTIFIED_STATE_BYTES,
                    }
                    .into());
                }
                let dir = snapshot_dir(&self.dir, height - 1);
                write_atomic(&dir.join(CERTIFIED), &bytes)?;
                info!(height = height - 1, "snapshot offered");
                self.prune()?;
            }
        }
        if self.every > 0 && height.is_multiple_of(self.every) {
            self.take(ledger)?;
        }
        Ok(())
    }

    /// Writes the state after the last committed block.
    fn take(&mut self, ledger: &Ledger) -> Result<(), HostError> {
        let height = ledger.height();
        let dir = snapshot_dir(&self.dir, height);
        let partial = self.dir.join(format!(".{height:020}.partial"));
        let _ = std::fs::remove_dir_all(&partial);
        std::fs::create_dir_all(&partial).map_err(|err| HostError::io(&partial, err))?;
        let manifest = ledger.snapshot(CHUNK_BYTES, |index, bytes| {
            let path = chunk_path(&partial, index);
            write_synced(&path, &bytes).map_err(|err| ledger::LedgerError::Storage(err.to_string()))
        })?;
        write_synced(&partial.join(MANIFEST), &manifest.to_bytes())?;
        sync_dir(&partial)?;
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&partial, &dir).map_err(|err| HostError::io(&dir, err))?;
        sync_dir(&self.dir)?;
        info!(
            height,
            entries = manifest.entries,
            bytes = manifest.bytes,
            chunks = manifest.chunks.len(),
            "snapshot taken"
        );
        self.waiting = Some(height);
        Ok(())
    }

    /// Removes all but the latest `keep` offered snapshots, and any older
    /// one never offered.
    fn prune(&self) -> Result<(), HostError> {
        let mut heights = heights(&self.dir)?;
        heights.sort_unstable();
        let offered: Vec<Height> = heights
            .iter()
            .copied()
            .filter(|height| snapshot_dir(&self.dir, *height).join(CERTIFIED).is_file())
            .collect();
        // The oldest of the latest `keep` offered.
        let Some(&oldest_kept) = offered
            .len()
            .checked_sub(self.keep)
            .map_or(offered.first(), |skip| offered.get(skip))
        else {
            return Ok(());
        };
        for height in heights.into_iter().filter(|height| *height < oldest_kept) {
            let dir = snapshot_dir(&self.dir, height);
            std::fs::remove_dir_all(&dir).map_err(|err| HostError::io(&dir, err))?;
        }
        Ok(())
    }
}

/// The heights of the snapshot directories in `dir`.
fn heights(dir: &Path) -> Result<Vec<Height>, HostError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(HostError::io(dir, err)),
    };
    Ok(entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<Height>().ok())
        .collect())
}

/// A snapshot ready to be sent: its height, its head and where its chunks
/// are.
#[derive(Clone, Debug)]
pub struct Offered {
    /// The height the state is after.
    pub height: Height,
    /// The encoded [`SnapshotHead`].
    pub head: Vec<u8>,
    /// Its directory.
    pub dir: PathBuf,
    /// Each chunk's length.
    pub chunk_lengths: Vec<u32>,
}

impl Offered {
    /// Bytes of the head and every chunk.
    pub fn bytes(&self) -> u64 {
        self.head.len() as u64
            + self
                .chunk_lengths
                .iter()
                .map(|l| u64::from(*l))
                .sum::<u64>()
    }
}

/// The height of the latest offered snapshot in `dir` (one whose proof is
/// written), if any.
pub fn newest(dir: &Path) -> Result<Option<Height>, HostError> {
    let mut heights = heights(dir)?;
    heights.sort_unstable();
    Ok(heights
        .into_iter()
        .rev()
        .find(|height| snapshot_dir(dir, *height).join(CERTIFIED).is_file()))
}

/// The latest offered snapshot in `dir`, if any (and if its head is not
/// too large to send).
pub fn latest(dir: &Path) -> Result<Option<Offered>, HostError> {
    let Some(height) = newest(dir)? else {
        return Ok(None);
    };
    let snapshot = snapshot_dir(dir, height);
    let read = |name: &str| {
        let path = snapshot.join(name);
        std::fs::read(&path).map_err(|err| HostError::io(&path, err))
    };
    let certified = read(CERTIFIED)?;
    let manifest_bytes = read(MANIFEST)?;
    let manifest = SnapshotManifest::from_bytes(&manifest_bytes)?;
    let mut chunk_lengths = Vec::with_capacity(manifest.chunks.len());
    for index in 0..manifest.chunks.len() as u32 {
        let path = chunk_path(&snapshot, index);
        let length = std::fs::metadata(&path)
            .map_err(|err| HostError::io(&path, err))?
            .len();
        chunk_lengths.push(u32::try_from(length).unwrap_or(u32::MAX));
    }
    let head = SnapshotHead {
        manifest: manifest_bytes,
        certified,
        chunk_lengths: chunk_lengths.clone(),
    };
    let head = borsh::to_vec(&head).unwrap_or_default();
    if head.len() > plaza_client::network::MAX_SNAPSHOT_HEAD_BYTES as usize {
        warn!(
            height,
            bytes = head.len(),
            "a snapshot's head is too large to offer"
        );
        return Ok(None);
    }
    Ok(Some(Offered {
        height,
        head,
        dir: snapshot,
        chunk_lengths,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make(dir: &Path, height: Height, offered: bool) {
        let snapshot = snapshot_dir(dir, height);
        std::fs::create_dir_all(&snapshot).unwrap();
        let manifest = SnapshotManifest {
            chain_id: ledger::ChainId::new("plaza-test").unwrap(),
            height,
            state_root: ledger::StateRoot([1; 32]),
            entries: 1,
            bytes: 10,
            chunks: vec![[2; 32]],
        };
        std::fs::write(snapshot.join(MANIFEST), manifest.to_bytes()).unwrap();
        std::fs::write(chunk_path(&snapshot, 0), [3; 10]).unwrap();
        if offered {
            std::fs::write(snapshot.join(CERTIFIED), b"proof").unwrap();
        }
    }

    #[test]
    fn the_latest_offered_snapshot_is_served_and_older_ones_go() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("snapshots");
        std::fs::create_dir_all(root.join(".00000000000000000015.partial")).unwrap();
        for (height, offered) in [(3, true), (6, true), (9, true), (12, false)] {
            make(&root, height, offered);
        }
        let snapshots = Snapshots::open(root.clone(), 3, 2).unwrap();
        // What a host stopped while writing is gone.
        assert!(!root.join(".00000000000000000015.partial").exists());

        let latest = latest(&root).unwrap().unwrap();
        assert_eq!(latest.height, 9);
        assert_eq!(latest.chunk_lengths, vec![10]);
        let head = SnapshotHead::from_bytes(&latest.head).unwrap();
        assert_eq!(head.certified, b"proof");
        assert_eq!(latest.bytes(), latest.head.len() as u64 + 10);

        snapshots.prune().unwrap();
        let mut left = heights(&root).unwrap();
        left.sort_unstable();
        assert_eq!(left, vec![6, 9, 12]);
        assert!(read_changes(&root).unwrap().is_empty());
    }
}
