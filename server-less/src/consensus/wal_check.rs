//! The consensus WAL, checked before the engine may open it.
//!
//! malachite replays its WAL at start. Given a damaged one it reads the
//! entries before the damage, writes the file again with only those, and
//! stops with "operator intervention required", so the next plain restart
//! goes on as if nothing had happened and the evidence is gone. Plaza
//! reads a copy of the WAL first, every entry's checksum included: a
//! damaged WAL is moved aside (`consensus.wal.damaged`), a marker
//! (`consensus.wal.halted`) says why, and consensus does not start until
//! the operator removes the marker, which the message names. A WAL whose
//! last entry is cut short (a crash while it was written) is not damage:
//! the engine drops that entry itself.
//!
//! Starting again with a fresh WAL is safe for the validator's votes:
//! what it signed is in its own record (`consensus.signed`), which keeps
//! it from signing anything else at those heights.

use std::path::{Path, PathBuf};

use crate::error::HostError;

fn with_suffix(wal: &Path, suffix: &str) -> PathBuf {
    let mut name = wal.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Where a damaged WAL is kept.
pub(super) fn damaged_path(wal: &Path) -> PathBuf {
    with_suffix(wal, ".damaged")
}

/// The marker that keeps consensus from starting after damage.
pub(super) fn halted_path(wal: &Path) -> PathBuf {
    with_suffix(wal, ".halted")
}

/// Checks the WAL at `wal` before the engine opens it: refused while a
/// marker of earlier damage is there, and refused (after moving the WAL
/// aside and leaving the marker) if it is damaged now.
pub(super) fn check(wal: &Path) -> Result<(), HostError> {
    let halted = halted_path(wal);
    if let Ok(reason) = std::fs::read_to_string(&halted) {
        return Err(refusal(wal, reason.trim()));
    }
    if !wal.exists() {
        return Ok(());
    }
    let Err(reason) = read_all(wal) else {
        return Ok(());
    };
    let mut damaged = damaged_path(wal);
    let mut index = 1;
    while damaged.exists() {
        index += 1;
        damaged = with_suffix(wal, &format!(".damaged.{index}"));
    }
    std::fs::rename(wal, &damaged).map_err(|err| HostError::io(wal, err))?;
    let why = format!(
        "the consensus WAL was damaged ({reason}); it is kept at {}",
        damaged.display()
    );
    std::fs::write(&halted, format!("{why}\n")).map_err(|err| HostError::io(&halted, err))?;
    Err(refusal(wal, &why))
}

fn refusal(wal: &Path, why: &str) -> HostError {
    let halted = halted_path(wal);
    HostError::Consensus(format!(
        "{why}. Consensus will not start until you act: keep the damaged file for \
         inspection, then run `rm {}` and start the host again; it starts with a fresh WAL, \
         and its record of what it signed ({}) keeps it from signing twice",
        halted.display(),
        wal.with_extension("signed").display()
    ))
}

/// Reads every entry of a copy of the WAL at `wal` (opening a WAL drops a
/// cut-short last entry, which must not change the original); the first
/// fault found.
fn read_all(wal: &Path) -> Result<(), String> {
    let copy = with_suffix(wal, ".check");
    std::fs::copy(wal, &copy).map_err(|err| format!("cannot copy it to check it: {err}"))?;
    let outcome = (|| {
        let mut log = malachitebft_wal::Log::open(&copy).map_err(|err| err.to_string())?;
        let entries = log.iter().map_err(|err| err.to_string())?;
        for (index, entry) in entries.enumerate() {
            entry.map_err(|err| format!("entry {index}: {err}"))?;
        }
        Ok(())
    })();
    let _ = std::fs::remove_file(&copy);
    outcome
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn wal_with_entries(dir: &Path) -> PathBuf {
        let path = dir.join("consensus.wal");
        let mut log = malachitebft_wal::Log::open(&path).unwrap();
        for entry in [b"first entry".as_slice(), b"second entry", b"third entry"] {
            log.append(entry).unwrap();
        }
        log.flush().unwrap();
        path
    }

    #[test]
    fn a_whole_wal_and_one_cut_short_at_its_end_pass_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let wal = wal_with_entries(dir.path());
        let before = std::fs::read(&wal).unwrap();
        check(&wal).unwrap();
        assert_eq!(std::fs::read(&wal).unwrap(), before);
        std::fs::write(&wal, &before[..before.len() - 3]).unwrap();
        check(&wal).unwrap();
        assert_eq!(std::fs::read(&wal).unwrap().len(), before.len() - 3);
        assert!(!halted_path(&wal).exists());
    }

    #[test]
    fn a_damaged_wal_is_kept_aside_and_consensus_refused_until_the_marker_goes() {
        let dir = tempfile::tempdir().unwrap();
        let wal = wal_with_entries(dir.path());
        let mut bytes = std::fs::read(&wal).unwrap();
        // A byte of the first entry's data.
        bytes[12 + 13 + 2] ^= 0x40;
        std::fs::write(&wal, &bytes).unwrap();
        let err = check(&wal).unwrap_err().to_string();
        assert!(err.contains("damaged"), "{err}");
        assert!(
            err.contains(&format!("rm {}", halted_path(&wal).display())),
            "{err}"
        );
        assert_eq!(std::fs::read(damaged_path(&wal)).unwrap(), bytes);
        assert!(!wal.exists());
        // Until the operator acts, every start is refused.
        let again = check(&wal).unwrap_err().to_string();
        assert!(again.contains("damaged"), "{again}");
        std::fs::remove_file(halted_path(&wal)).unwrap();
        check(&wal).unwrap();
    }

    #[test]
    fn a_wal_cut_into_its_header_is_damage() {
        let dir = tempfile::tempdir().unwrap();
        let wal = wal_with_entries(dir.path());
        let bytes = std::fs::read(&wal).unwrap();
        std::fs::write(&wal, &bytes[..5]).unwrap();
        assert!(check(&wal).is_err());
        assert_eq!(std::fs::read(damaged_path(&wal)).unwrap(), &bytes[..5]);
    }
}
