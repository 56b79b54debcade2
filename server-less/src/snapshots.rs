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

/// Writes `bytes` to `path` whole or not at all.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), HostError> {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, bytes).map_err(|err| HostError::io(&partial, err))?;
    std::fs::rename(&partial, path).map_err(|err| HostError::io(path, err))
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
                let dir = snapshot_dir(&self.dir, height - 1);
                write_atomic(&dir.join(CERTIFIED), &state.to_bytes())?;
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
            std::fs::write(&path, bytes)
                .map_err(|err| ledger::LedgerError::Storage(format!("{}: {err}", path.display())))
        })?;
        std::fs::write(partial.join(MANIFEST), manifest.to_bytes())
            .map_err(|err| HostError::io(&partial, err))?;
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::rename(&partial, &dir).map_err(|err| HostError::io(&dir, err))?;
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

/// The latest offered snapshot in `dir`, if any.
pub fn latest(dir: &Path) -> Result<Option<Offered>, HostError> {
    let mut heights = heights(dir)?;
    heights.sort_unstable();
    for height in heights.into_iter().rev() {
        let snapshot = snapshot_dir(dir, height);
        let certified = match std::fs::read(snapshot.join(CERTIFIED)) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => return Err(HostError::io(&snapshot, err)),
        };
        let manifest_path = snapshot.join(MANIFEST);
        let manifest_bytes =
            std::fs::read(&manifest_path).map_err(|err| HostError::io(&manifest_path, err))?;
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
        return Ok(Some(Offered {
            height,
            head: borsh::to_vec(&head).unwrap_or_default(),
            dir: snapshot,
            chunk_lengths,
        }));
    }
    Ok(None)
}
