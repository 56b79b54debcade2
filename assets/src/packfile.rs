//! Append-only pack files that hold the bytes of the blob store's pieces.
//!
//! RocksDB keeps the index (which file, where, how long) and the blob
//! records; the bytes themselves are written once, here, rather than into
//! RocksDB's write-ahead log and then again into its tables. A pack file
//! is never rewritten: the store only appends, and every read is checked
//! against the piece's hash, so a torn or damaged tail is caught, not
//! served.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::error::AssetError;

/// A pack file is closed and a new one begun past this size.
const PACK_LIMIT: u64 = 1 << 30;
/// Bytes of an encoded [`Location`].
pub(crate) const LOCATION_LEN: usize = 16;

/// Where a piece's bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Location {
    pub(crate) file: u32,
    pub(crate) offset: u64,
    pub(crate) len: u32,
}

impl Location {
    pub(crate) fn to_bytes(self) -> [u8; LOCATION_LEN] {
        let mut out = [0u8; LOCATION_LEN];
        out[..4].copy_from_slice(&self.file.to_le_bytes());
        out[4..12].copy_from_slice(&self.offset.to_le_bytes());
        out[12..].copy_from_slice(&self.len.to_le_bytes());
        out
    }

    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != LOCATION_LEN {
            return None;
        }
        Some(Location {
            file: u32::from_le_bytes(bytes[..4].try_into().ok()?),
            offset: u64::from_le_bytes(bytes[4..12].try_into().ok()?),
            len: u32::from_le_bytes(bytes[12..].try_into().ok()?),
        })
    }
}

struct Writer {
    number: u32,
    file: File,
    len: u64,
}

/// The pack files of one store.
pub(crate) struct Packs {
    dir: PathBuf,
    writer: Mutex<Writer>,
    readers: Mutex<HashMap<u32, Arc<File>>>,
}

fn io(what: &str, path: &Path, err: std::io::Error) -> AssetError {
    AssetError::Storage(format!("{what} {}: {err}", path.display()))
}

impl Packs {
    /// Opens the pack files in `dir`, creating it, and appends to the last.
    pub(crate) fn open(dir: &Path) -> Result<Self, AssetError> {
        std::fs::create_dir_all(dir).map_err(|err| io("creating", dir, err))?;
        let mut last = 0u32;
        for entry in std::fs::read_dir(dir).map_err(|err| io("listing", dir, err))? {
            let entry = entry.map_err(|err| io("listing", dir, err))?;
            let name = entry.file_name();
            let number = name
                .to_str()
                .and_then(|name| name.strip_suffix(".pack"))
                .and_then(|stem| stem.parse::<u32>().ok());
            if let Some(number) = number {
                last = last.max(number);
            }
        }
        let writer = Self::writer(dir, last)?;
        Ok(Packs {
            dir: dir.to_owned(),
            writer: Mutex::new(writer),
            readers: Mutex::new(HashMap::new()),
        })
    }

    fn path(dir: &Path, number: u32) -> PathBuf {
        dir.join(format!("{number:06}.pack"))
    }

    fn writer(dir: &Path, number: u32) -> Result<Writer, AssetError> {
        let path = Self::path(dir, number);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|err| io("opening", &path, err))?;
        let len = file
            .metadata()
            .map_err(|err| io("reading", &path, err))?
            .len();
        Ok(Writer { number, file, len })
    }

    /// Appends `bytes` and returns where they start. With `sync`, they are
    /// on disk when this returns.
    pub(crate) fn append(&self, bytes: &[u8], sync: bool) -> Result<(u32, u64), AssetError> {
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if writer.len > 0 && writer.len + bytes.len() as u64 > PACK_LIMIT {
            // The full file is made durable before the next one begins, so
            // that one sync of the current file covers everything before.
            writer
                .file
                .sync_data()
                .map_err(|err| io("syncing", &Self::path(&self.dir, writer.number), err))?;
            *writer = Self::writer(&self.dir, writer.number + 1)?;
        }
        let number = writer.number;
        let path = || Self::path(&self.dir, number);
        let start = writer.len;
        if let Err(err) = writer.file.write_all(bytes) {
            // Cut off whatever part was written, so that the next append
            // starts where this one did and every offset stays true; if
            // even that fails, go on in a new file.
            if let Err(cut) = writer.file.set_len(start) {
                tracing::error!(error = %cut, "could not cut a failed append off a pack file");
                *writer = Self::writer(&self.dir, number + 1)?;
            }
            return Err(io("writing", &path(), err));
        }
        writer.len += bytes.len() as u64;
        if sync {
            writer
                .file
                .sync_data()
                .map_err(|err| io("syncing", &path(), err))?;
        }
        Ok((number, start))
    }

    /// Makes every append so far durable.
    pub(crate) fn sync(&self) -> Result<(), AssetError> {
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        writer
            .file
            .sync_data()
            .map_err(|err| io("syncing", &Self::path(&self.dir, writer.number), err))
    }

    /// The bytes at `location`.
    pub(crate) fn read(&self, location: Location) -> Result<Vec<u8>, AssetError> {
        let file = {
            let mut readers = self.readers.lock().unwrap_or_else(|p| p.into_inner());
            match readers.get(&location.file) {
                Some(file) => Arc::clone(file),
                None => {
                    let path = Self::path(&self.dir, location.file);
                    let file =
                        Arc::new(File::open(&path).map_err(|err| io("opening", &path, err))?);
                    readers.insert(location.file, Arc::clone(&file));
                    file
                }
            }
        };
        let mut out = vec![0u8; location.len as usize];
        file.read_exact_at(&mut out, location.offset)
            .map_err(|err| {
                AssetError::Corrupt(format!(
                    "pack {:06} has no {} bytes at {}: {err}",
                    location.file, location.len, location.offset
                ))
            })?;
        Ok(out)
    }
}
