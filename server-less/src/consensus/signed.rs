//! What this validator has signed, kept on disk before any signature
//! leaves the host, so that it never signs two different messages for one
//! height, round and step, whatever the consensus WAL replays.
//!
//! malachite's WAL replay reuses a vote it finds in the WAL, but a WAL cut
//! after the validator's own prevote (a crash between the vote leaving and
//! the WAL's write reaching the disk, or damage to the file) leaves
//! nothing to reuse: the engine derives the vote again, and a timer that
//! fired differently makes it Nil where it was a block. Other validators
//! see two prevotes for one round: equivocation, which the ledger slashes.
//! CometBFT's answer is the signer's own state (`priv_validator_state`);
//! this is Plaza's: an append-only file of every message signed at the
//! recent heights, each record synced before its signature is returned.
//!
//! Asked to sign at a height, round and step it has signed before, the
//! validator hands back what it signed then, the same message with the
//! same signature, whatever the engine asks for now: the network sees one
//! message, as it did before the crash. A height older than those kept is
//! refused outright.
//!
//! Records are 126 bytes: height (8), round (8), step (1), whether there is
//! a value (1), the value (32), the proposal's polka round (8), the
//! signature (64), and the first 4 bytes of the blake3 hash of the 122
//! before them. A torn record at the end (a crash during its write) was
//! never acknowledged, so no signature for it left: it is dropped. A bad
//! record before the end is damage: the file is refused, with what to do.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use tracing::warn;

use crate::error::HostError;

/// Bytes of one record on disk.
const RECORD_BYTES: usize = 126;
/// Bytes a record's checksum covers.
const BODY_BYTES: usize = RECORD_BYTES - 4;
/// Heights kept below the highest signed: a validator is never asked to
/// sign further back than the height it is at.
const KEEP_HEIGHTS: u64 = 4;
/// Records in the file after which it is rewritten with the kept ones.
const COMPACT_AFTER: usize = 4_096;

/// What was signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// A proposal.
    Propose = 0,
    /// A prevote.
    Prevote = 1,
    /// A precommit.
    Precommit = 2,
}

impl Step {
    fn from_byte(byte: u8) -> Option<Step> {
        match byte {
            0 => Some(Step::Propose),
            1 => Some(Step::Prevote),
            2 => Some(Step::Precommit),
            _ => None,
        }
    }
}

/// One signed message: where it was signed, and what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signed {
    /// The height.
    pub height: u64,
    /// The round.
    pub round: i64,
    /// Proposal, prevote or precommit.
    pub step: Step,
    /// The block it is for; `None` for a vote for nil.
    pub value: Option<[u8; 32]>,
    /// A proposal's polka round (-1 for none; 0 for votes).
    pub pol_round: i64,
    /// The signature.
    pub signature: [u8; 64],
}

impl Signed {
    fn encode(&self) -> [u8; RECORD_BYTES] {
        let mut out = [0u8; RECORD_BYTES];
        out[0..8].copy_from_slice(&self.height.to_be_bytes());
        out[8..16].copy_from_slice(&self.round.to_be_bytes());
        out[16] = self.step as u8;
        out[17] = u8::from(self.value.is_some());
        out[18..50].copy_from_slice(&self.value.unwrap_or_default());
        out[50..58].copy_from_slice(&self.pol_round.to_be_bytes());
        out[58..122].copy_from_slice(&self.signature);
        let sum = blake3::hash(&out[..BODY_BYTES]);
        out[BODY_BYTES..].copy_from_slice(&sum.as_bytes()[..4]);
        out
    }

    /// The record in `bytes`, or `None` if its checksum or a field is bad.
    fn decode(bytes: &[u8; RECORD_BYTES]) -> Option<Signed> {
        let sum = blake3::hash(&bytes[..BODY_BYTES]);
        if sum.as_bytes()[..4] != bytes[BODY_BYTES..] {
            return None;
        }
        let word =
            |range: std::ops::Range<usize>| -> Option<[u8; 8]> { bytes[range].try_into().ok() };
        let value = match bytes[17] {
            0 => None,
            1 => Some(bytes[18..50].try_into().ok()?),
            _ => return None,
        };
        Some(Signed {
            height: u64::from_be_bytes(word(0..8)?),
            round: i64::from_be_bytes(word(8..16)?),
            step: Step::from_byte(bytes[16])?,
            value,
            pol_round: i64::from_be_bytes(word(50..58)?),
            signature: bytes[58..122].try_into().ok()?,
        })
    }

    fn key(&self) -> (u64, i64, Step) {
        (self.height, self.round, self.step)
    }
}

/// What to do with a request to sign.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Nothing was signed at this height, round and step: sign, and
    /// [`SignedLog::record`] it before the signature leaves.
    Sign,
    /// This was signed before: hand back what was signed then. It may not
    /// be what was asked for now.
    Reuse(Signed),
    /// The height is older than those kept: whether something was signed
    /// there cannot be known, so nothing is.
    Refuse {
        /// The height asked for.
        height: u64,
        /// The oldest height kept.
        oldest: u64,
    },
}

/// The signed messages of the recent heights, and the file that holds
/// them.
#[derive(Debug)]
pub struct SignedLog {
    path: PathBuf,
    file: File,
    records: usize,
    kept: BTreeMap<(u64, i64, Step), Signed>,
}

impl SignedLog {
    /// Opens (or makes) the log at `path`. A torn record at the end is
    /// dropped; damage before it is refused, the file left as it is.
    pub fn open(path: &Path) -> Result<SignedLog, HostError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|err| HostError::io(parent, err))?;
        }
        let mut bytes = Vec::new();
        match File::open(path) {
            Ok(mut file) => {
                file.read_to_end(&mut bytes)
                    .map_err(|err| HostError::io(path, err))?;
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(HostError::io(path, err)),
        }
        let whole = bytes.len() / RECORD_BYTES;
        let mut kept = BTreeMap::new();
        let mut good = 0;
        for (index, chunk) in bytes.chunks_exact(RECORD_BYTES).enumerate() {
            let Some(record) = chunk.try_into().ok().and_then(Signed::decode) else {
                if index + 1 == whole && bytes.len() == whole * RECORD_BYTES {
                    // The last whole record is torn: never acknowledged.
                    break;
                }
                return Err(HostError::Consensus(format!(
                    "the record of signed consensus messages {} is damaged at record {index} \
                     of {whole}: this validator cannot know what it signed there, and could \
                     sign twice. Keep the file for inspection, then move it aside \
                     (mv {0} {0}.damaged) and start again only once the network is past \
                     the heights it held (plaza-host status on another host shows the height)",
                    path.display()
                )));
            };
            kept.insert(record.key(), record);
            good += 1;
        }
        let mut log = SignedLog {
            path: path.to_owned(),
            file: OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|err| HostError::io(path, err))?,
            records: good,
            kept,
        };
        if good * RECORD_BYTES != bytes.len() {
            warn!(
                path = %path.display(),
                dropped = bytes.len() - good * RECORD_BYTES,
                "dropping a torn record at the end of the signed-message log"
            );
            log.rewrite()?;
        }
        log.prune();
        Ok(log)
    }

    /// What to do with a request to sign `step` at `height` and `round`.
    pub fn decide(&self, height: u64, round: i64, step: Step) -> Decision {
        if let Some(signed) = self.kept.get(&(height, round, step)) {
            return Decision::Reuse(*signed);
        }
        match self.oldest() {
            Some(oldest) if height < oldest => Decision::Refuse { height, oldest },
            _ => Decision::Sign,
        }
    }

    /// Records `signed` on disk; only once this returns may its signature
    /// leave the host.
    pub fn record(&mut self, signed: Signed) -> Result<(), HostError> {
        self.file
            .write_all(&signed.encode())
            .and_then(|()| self.file.sync_data())
            .map_err(|err| HostError::io(&self.path, err))?;
        self.records += 1;
        self.kept.insert(signed.key(), signed);
        self.prune();
        if self.records > COMPACT_AFTER {
            self.rewrite()?;
        }
        Ok(())
    }

    /// The oldest height whose messages are kept.
    fn oldest(&self) -> Option<u64> {
        self.kept.keys().next().map(|(height, ..)| *height)
    }

    fn prune(&mut self) {
        let Some(((highest, ..), _)) = self.kept.last_key_value() else {
            return;
        };
        let floor = highest.saturating_sub(KEEP_HEIGHTS);
        self.kept = self.kept.split_off(&(floor, i64::MIN, Step::Propose));
    }

    /// Writes the kept records to a new file and puts it in place of the
    /// old one.
    fn rewrite(&mut self) -> Result<(), HostError> {
        let fresh = self.path.with_extension("rewrite");
        let io = |err| HostError::io(&fresh, err);
        let mut file = File::create(&fresh).map_err(io)?;
        for signed in self.kept.values() {
            file.write_all(&signed.encode()).map_err(io)?;
        }
        file.sync_all().map_err(io)?;
        drop(file);
        std::fs::rename(&fresh, &self.path).map_err(|err| HostError::io(&self.path, err))?;
        if let Some(parent) = self.path.parent()
            && let Ok(dir) = File::open(parent)
        {
            let _ = dir.sync_all();
        }
        self.file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(|err| HostError::io(&self.path, err))?;
        self.records = self.kept.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn prevote(height: u64, round: i64, value: Option<[u8; 32]>) -> Signed {
        Signed {
            height,
            round,
            step: Step::Prevote,
            value,
            pol_round: 0,
            signature: [height as u8; 64],
        }
    }

    #[test]
    fn a_step_signed_once_is_handed_back_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signed");
        let mut log = SignedLog::open(&path).unwrap();
        assert_eq!(log.decide(5, 0, Step::Prevote), Decision::Sign);
        let block = prevote(5, 0, Some([7; 32]));
        log.record(block).unwrap();
        drop(log);
        let log = SignedLog::open(&path).unwrap();
        // Asked again (for nil, say), the block's prevote comes back.
        assert_eq!(log.decide(5, 0, Step::Prevote), Decision::Reuse(block));
        // Another step or round is new.
        assert_eq!(log.decide(5, 0, Step::Precommit), Decision::Sign);
        assert_eq!(log.decide(5, 1, Step::Prevote), Decision::Sign);
    }

    #[test]
    fn heights_older_than_those_kept_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = SignedLog::open(&dir.path().join("signed")).unwrap();
        for height in 1..=20 {
            log.record(prevote(height, 0, None)).unwrap();
        }
        assert_eq!(
            log.decide(3, 0, Step::Prevote),
            Decision::Refuse {
                height: 3,
                oldest: 16
            }
        );
        assert_eq!(log.decide(21, 0, Step::Prevote), Decision::Sign);
    }

    #[test]
    fn a_torn_last_record_is_dropped_and_damage_before_it_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signed");
        let mut log = SignedLog::open(&path).unwrap();
        log.record(prevote(1, 0, None)).unwrap();
        log.record(prevote(2, 0, Some([2; 32]))).unwrap();
        drop(log);
        // A crash part-way through a third record.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(&prevote(3, 0, None).encode()[..50]);
        std::fs::write(&path, &bytes).unwrap();
        let log = SignedLog::open(&path).unwrap();
        assert_eq!(log.decide(3, 0, Step::Prevote), Decision::Sign);
        assert!(matches!(
            log.decide(2, 0, Step::Prevote),
            Decision::Reuse(_)
        ));
        drop(log);
        assert_eq!(std::fs::read(&path).unwrap().len(), 2 * RECORD_BYTES);
        // A flipped byte in the first record is damage: refused, and the
        // file is left as it was.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[20] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let err = SignedLog::open(&path).unwrap_err().to_string();
        assert!(err.contains("damaged at record 0"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
    }

    #[test]
    fn the_file_is_rewritten_with_the_kept_records_when_it_grows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signed");
        let mut log = SignedLog::open(&path).unwrap();
        for height in 1..=(COMPACT_AFTER as u64 + 1) {
            log.record(prevote(height, 0, None)).unwrap();
        }
        let len = std::fs::metadata(&path).unwrap().len() as usize;
        assert!(len <= (KEEP_HEIGHTS as usize + 1) * RECORD_BYTES, "{len}");
        let top = COMPACT_AFTER as u64 + 1;
        assert!(matches!(
            SignedLog::open(&path)
                .unwrap()
                .decide(top, 0, Step::Prevote),
            Decision::Reuse(_)
        ));
    }
}
