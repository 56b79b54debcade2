//! The blocks this validator proposed and not yet saw committed, kept on
//! disk beside the engine's write-ahead log.
//!
//! The engine's log remembers that this validator proposed a block for a
//! height and round, and its hash, but not the block. A validator that
//! crashes after proposing must, when asked again for that height and
//! round, propose the very same block (anything else is two proposals for
//! one round, which the others take as misbehaviour) and be able to send
//! it again to whoever lacks it. Each proposal is written here, durably,
//! before it leaves the host; those of committed heights are removed.

use std::path::{Path, PathBuf};

use ledger::{Block, Height};
use malachitebft_core_types::Round;
use tracing::warn;

use super::context::{BlockHash, ChainHeight};
use crate::error::HostError;

/// Proposals kept at most; a validator proposes at most once a round.
const MAX_KEPT: usize = 256;

/// Proposed blocks on disk, one file per height and round.
pub(crate) struct ProposalLog {
    dir: PathBuf,
}

impl ProposalLog {
    /// The log in `dir`, made if missing.
    pub(crate) fn open(dir: &Path) -> Result<Self, HostError> {
        std::fs::create_dir_all(dir).map_err(|err| HostError::io(dir, err))?;
        Ok(ProposalLog {
            dir: dir.to_owned(),
        })
    }

    fn path(&self, height: ChainHeight, round: Round) -> PathBuf {
        self.dir
            .join(format!("{:020}-{:010}.block", height.0, round.as_i64()))
    }

    /// The proposals on disk: (height, round, file), in name order.
    fn entries(&self) -> Result<Vec<(Height, i64, PathBuf)>, HostError> {
        let read = std::fs::read_dir(&self.dir).map_err(|err| HostError::io(&self.dir, err))?;
        let mut entries = Vec::new();
        for entry in read {
            let path = entry.map_err(|err| HostError::io(&self.dir, err))?.path();
            let parsed = path
                .file_name()
                .and_then(|name| name.to_str())
                .and_then(|name| name.strip_suffix(".block"))
                .and_then(|name| name.split_once('-'))
                .and_then(|(height, round)| Some((height.parse().ok()?, round.parse().ok()?)));
            match parsed {
                Some((height, round)) => entries.push((height, round, path)),
                // A write cut short by a crash, or something not ours.
                None => {
                    if path.extension().is_some_and(|ext| ext == "tmp") {
                        let _ = std::fs::remove_file(&path);
                    }
                }
            }
        }
        entries.sort();
        Ok(entries)
    }

    /// Writes `block` as this validator's proposal for `height` and
    /// `round`, durably, before it is sent to anyone.
    pub(crate) fn save(
        &self,
        height: ChainHeight,
        round: Round,
        block: &Block,
    ) -> Result<(), HostError> {
        let entries = self.entries()?;
        if entries.len() >= MAX_KEPT {
            // Far more rounds than a height takes: the oldest go.
            for (_, _, path) in &entries[..entries.len() + 1 - MAX_KEPT] {
                let _ = std::fs::remove_file(path);
            }
        }
        let path = self.path(height, round);
        let temporary = path.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            use std::io::Write as _;
            let mut file = std::fs::File::create(&temporary)?;
            file.write_all(&block.to_bytes())?;
            file.sync_all()?;
            std::fs::rename(&temporary, &path)?;
            std::fs::File::open(&self.dir)?.sync_all()
        };
        write().map_err(|err| HostError::io(&path, err))
    }

    fn read(path: &Path) -> Option<Block> {
        let bytes = std::fs::read(path).ok()?;
        match Block::from_bytes(&bytes) {
            Ok(block) => Some(block),
            Err(err) => {
                warn!(path = %path.display(), %err, "a saved proposal does not decode");
                None
            }
        }
    }

    /// The block this validator proposed for `height` and `round`, if it
    /// did; an error if it did but the block cannot be read back, when
    /// proposing anything else could contradict what was sent.
    pub(crate) fn find(
        &self,
        height: ChainHeight,
        round: Round,
    ) -> Result<Option<Block>, HostError> {
        let path = self.path(height, round);
        if !path.exists() {
            return Ok(None);
        }
        Self::read(&path).map(Some).ok_or_else(|| {
            HostError::Consensus(format!(
                "the block proposed at height {height} round {round} cannot be read back from {}",
                path.display()
            ))
        })
    }

    /// The block with hash `value` this validator proposed at `height`, in
    /// any round.
    pub(crate) fn by_hash(&self, height: ChainHeight, value: BlockHash) -> Option<Block> {
        let entries = self.entries().ok()?;
        entries
            .iter()
            .filter(|(at, ..)| *at == height.0)
            .filter_map(|(.., path)| Self::read(path))
            .find(|block| block.hash().0 == value.0)
    }

    /// Forgets the proposals of heights up to `committed`.
    pub(crate) fn prune(&self, committed: Height) -> Result<(), HostError> {
        for (height, _, path) in self.entries()? {
            if height <= committed {
                std::fs::remove_file(&path).map_err(|err| HostError::io(&path, err))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::testkit::{chain_id, keypair};

    fn block(height: u64, time: u64) -> Block {
        Block::new(
            chain_id(),
            height,
            time,
            keypair(1, 0).address(),
            ledger::BlockHash([7; 32]),
            ledger::Commitments::default(),
            Vec::new(),
        )
    }

    #[test]
    fn a_proposal_survives_a_reopen_and_goes_once_its_height_is_committed() {
        let dir = tempfile::tempdir().unwrap();
        let log = ProposalLog::open(dir.path()).unwrap();
        let first = block(5, 100);
        let later = block(5, 101);
        log.save(ChainHeight(5), Round::new(0), &first).unwrap();
        log.save(ChainHeight(5), Round::new(3), &later).unwrap();
        log.save(ChainHeight(6), Round::new(0), &block(6, 102))
            .unwrap();
        // A write cut short leaves a temporary file, which is ignored.
        std::fs::write(dir.path().join("x.tmp"), b"half").unwrap();

        let log = ProposalLog::open(dir.path()).unwrap();
        assert_eq!(
            log.find(ChainHeight(5), Round::new(0)).unwrap(),
            Some(first)
        );
        assert_eq!(log.find(ChainHeight(5), Round::new(1)).unwrap(), None);
        let hash = BlockHash(later.hash().0);
        assert_eq!(log.by_hash(ChainHeight(5), hash), Some(later));
        assert_eq!(log.by_hash(ChainHeight(6), hash), None);

        log.prune(5).unwrap();
        assert_eq!(log.find(ChainHeight(5), Round::new(0)).unwrap(), None);
        assert!(log.find(ChainHeight(6), Round::new(0)).unwrap().is_some());
        assert!(!dir.path().join("x.tmp").exists());
    }

    #[test]
    fn a_corrupt_proposal_file_is_an_error_not_a_missing_proposal() {
        let dir = tempfile::tempdir().unwrap();
        let log = ProposalLog::open(dir.path()).unwrap();
        log.save(ChainHeight(2), Round::new(0), &block(2, 9))
            .unwrap();
        let path = log.path(ChainHeight(2), Round::new(0));
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.truncate(bytes.len() / 2);
        std::fs::write(&path, bytes).unwrap();
        assert!(log.find(ChainHeight(2), Round::new(0)).is_err());
    }
}
