//! Small helpers for the files a player and a host write: hex, and a
//! file written whole or not at all.

use std::io::Write;
use std::path::Path;

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 15)]));
    }
    out
}

/// 32 bytes from 64 hex digits.
pub fn unhex32(text: &str) -> Result<[u8; 32], String> {
    if text.len() != 64 {
        return Err(format!(
            "expected 64 hex digits, found {} characters",
            text.len()
        ));
    }
    let mut out = [0u8; 32];
    for (index, pair) in text.as_bytes().chunks(2).enumerate() {
        let digit = |c: u8| {
            char::from(c)
                .to_digit(16)
                .ok_or_else(|| format!("{:?} is not a hex digit", char::from(c)))
        };
        out[index] = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?)
            .map_err(|_| "hex digit out of range".to_owned())?;
    }
    Ok(out)
}

/// Writes `bytes` to a new file at `path` (its directory made if needed),
/// readable only by its owner when `secret`, synced before it returns. An
/// existing file is never overwritten, and a failed write leaves no half
/// file behind.
pub fn write_new(path: &Path, bytes: &[u8], secret: bool) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(path)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if let Err(err) = written {
        // Half a file would block the next attempt and read as corrupt.
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(err);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn hex_round_trips_and_bad_digits_are_named() {
        let bytes: [u8; 32] = std::array::from_fn(|index| index as u8 * 7);
        assert_eq!(unhex32(&hex(&bytes)).unwrap(), bytes);
        assert!(unhex32("00").unwrap_err().contains("64 hex digits"));
        let bad = "g".repeat(64);
        assert!(unhex32(&bad).unwrap_err().contains("not a hex digit"));
    }

    #[test]
    fn a_new_file_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/key");
        write_new(&path, b"one", true).unwrap();
        assert!(write_new(&path, b"two", true).is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
    }
}
