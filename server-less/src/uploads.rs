//! Uploads waiting to be minted: a player's files are held apart from the
//! blob store, within a quota per account, until a block mints the asset
//! that names them; what nobody mints in time is deleted.
//!
//! Anyone with a key can upload, so what an upload may hold is bounded:
//! bytes and files per account, bytes in all, and time. An upload
//! streams to a file as its pieces arrive (hashed on the way, never held
//! whole in memory), is checked against its content id when the last
//! piece is in, and waits in `<home>/uploads/` as `<content id>` with a
//! `<content id>.owner` file naming the account and when it arrived. When
//! a block mints an asset whose manifest names a waiting model or
//! preview, that file moves into the blob store; every minute, uploads
//! older than [`UploadLimits::keep`] are deleted. A restart keeps what
//! waits and deletes half-written uploads.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use assets::{BlobStore, Codec, ContentId};
use ledger::Address;
use tracing::{debug, info, warn};

use crate::clock::unix_time;
use crate::error::HostError;

/// Bounds on what uploads waiting to be minted may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UploadLimits {
    /// Bytes one account may have waiting.
    pub bytes_per_account: u64,
    /// Files one account may have waiting.
    pub files_per_account: usize,
    /// Bytes every account together may have waiting.
    pub total_bytes: u64,
    /// How long an upload waits to be minted before it is deleted.
    pub keep: Duration,
}

impl Default for UploadLimits {
    fn default() -> Self {
        UploadLimits {
            bytes_per_account: 64 << 20,
            files_per_account: 16,
            total_bytes: 2 << 30,
            keep: Duration::from_secs(24 * 3_600),
        }
    }
}

/// One waiting upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Waiting {
    account: Address,
    size: u64,
    /// When it arrived, in seconds since 1970.
    at: u64,
}

#[derive(Default)]
struct Index {
    files: HashMap<ContentId, Waiting>,
    /// Bytes and files each account holds, uploads under way included.
    accounts: HashMap<Address, (u64, usize)>,
    /// Bytes held by everyone, uploads under way included.
    total: u64,
}

/// The uploads waiting to be minted.
pub struct Uploads {
    dir: PathBuf,
    limits: UploadLimits,
    index: Mutex<Index>,
}

fn io(path: &Path, err: std::io::Error) -> HostError {
    HostError::io(path, err)
}

impl Uploads {
    /// Opens (or makes) the directory of waiting uploads; half-written
    /// ones are deleted and the rest counted against their accounts.
    pub fn open(dir: &Path, limits: UploadLimits) -> Result<Uploads, HostError> {
        fs::create_dir_all(dir).map_err(|err| io(dir, err))?;
        let mut index = Index::default();
        for entry in fs::read_dir(dir).map_err(|err| io(dir, err))? {
            let path = entry.map_err(|err| io(dir, err))?.path();
            let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
                continue;
            };
            if name.ends_with(".part") {
                let _ = fs::remove_file(&path);
                continue;
            }
            if name.contains('.') {
                continue;
            }
            let Ok(id) = ContentId::from_str(name) else {
                continue;
            };
            match read_owner(&owner_path(dir, &id)) {
                Some((account, at)) => {
                    let size = fs::metadata(&path).map_or(0, |meta| meta.len());
                    index.add(id, Waiting { account, size, at });
                }
                None => {
                    // A file whose owner is unknown counts against nobody:
                    // it goes.
                    let _ = fs::remove_file(&path);
                }
            }
        }
        Ok(Uploads {
            dir: dir.to_owned(),
            limits,
            index: Mutex::new(index),
        })
    }

    fn index(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Bytes and files `account` has waiting (uploads under way included).
    pub fn held_by(&self, account: &Address) -> (u64, usize) {
        self.index()
            .accounts
            .get(account)
            .copied()
            .unwrap_or_default()
    }

    /// Whether `id` waits here.
    pub fn contains(&self, id: &ContentId) -> bool {
        self.index().files.contains_key(id)
    }

    /// Reserves room for an upload of `size` bytes by `account` and opens
    /// the file it streams into; refused, with the reason a player can
    /// read, when a quota would be passed.
    pub fn begin(
        self: &Arc<Self>,
        account: Address,
        id: ContentId,
        size: u64,
    ) -> Result<Upload, String> {
        {
            let mut index = self.index();
            let (bytes, files) = index.accounts.get(&account).copied().unwrap_or_default();
            if files >= self.limits.files_per_account {
                return Err(format!(
                    "you have {files} uploads waiting to be minted, the most one account may: mint them or wait for them to expire"
                ));
            }
            if bytes.saturating_add(size) > self.limits.bytes_per_account {
                return Err(format!(
                    "{} MiB of your uploads wait to be minted; with this one you would pass the {} MiB one account may have",
                    bytes >> 20,
                    self.limits.bytes_per_account >> 20
                ));
            }
            if index.total.saturating_add(size) > self.limits.total_bytes {
                return Err("this host holds as many uploads as it may: try again later".into());
            }
            index.reserve(account, size);
        }
        let reservation = Reservation {
            uploads: self.clone(),
            account,
            size,
            kept: false,
        };
        let part = self
            .dir
            .join(format!("{id}.{}.part", rand::random::<u64>()));
        let file = File::create(&part).map_err(|err| {
            warn!(path = %part.display(), %err, "an upload file could not be made");
            "the host could not take the upload just now; try again shortly".to_owned()
        })?;
        Ok(Upload {
            reservation,
            id,
            size,
            part,
            file,
            hasher: blake3::Hasher::new(),
            written: 0,
        })
    }

    /// Moves the waiting uploads `ids` into `blobs` (synced) and stops
    /// counting them: they belong to a minted asset now. Ids that do not
    /// wait here are skipped.
    pub fn promote(&self, ids: &[ContentId], blobs: &BlobStore) -> Result<usize, HostError> {
        let mut moved = 0;
        let mut failed = None;
        for id in ids {
            if !self.contains(id) {
                continue;
            }
            // One that cannot be moved (deleted by the collector meanwhile,
            // say) does not keep the others from moving.
            let path = self.dir.join(id.to_string());
            let bytes = match fs::read(&path) {
                Ok(bytes) => bytes,
                Err(err) => {
                    failed = Some(io(&path, err));
                    continue;
                }
            };
            if !id.matches(&bytes) {
                warn!(%id, "a waiting upload no longer matches its id; it is deleted");
            } else if let Err(err) = blobs.put(id.codec(), &bytes) {
                failed = Some(err.into());
                continue;
            } else {
                moved += 1;
            }
            self.remove(id);
        }
        if let Some(err) = failed {
            warn!(%err, "a minted asset's upload could not be moved to the blob store");
        }
        if moved > 0 {
            blobs.sync()?;
        }
        Ok(moved)
    }

    /// How often [`Uploads::collect`] should run: a quarter of the keep
    /// time, between a second and a minute.
    pub fn collect_every(&self) -> Duration {
        (self.limits.keep / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
    }

    /// Deletes uploads that waited longer than the limit; how many.
    pub fn collect(&self) -> usize {
        let cutoff = unix_time()
            .as_secs()
            .saturating_sub(self.limits.keep.as_secs());
        let expired: Vec<ContentId> = self
            .index()
            .files
            .iter()
            .filter(|(_, waiting)| waiting.at <= cutoff)
            .map(|(id, _)| *id)
            .collect();
        for id in &expired {
            self.remove(id);
        }
        if !expired.is_empty() {
            info!(
                count = expired.len(),
                "uploads nobody minted in time were deleted"
            );
        }
        expired.len()
    }

    fn remove(&self, id: &ContentId) {
        let _ = fs::remove_file(self.dir.join(id.to_string()));
        let _ = fs::remove_file(owner_path(&self.dir, id));
        let mut index = self.index();
        if let Some(waiting) = index.files.remove(id) {
            index.release(waiting.account, waiting.size);
        }
    }
}

impl Index {
    fn reserve(&mut self, account: Address, size: u64) {
        let held = self.accounts.entry(account).or_default();
        held.0 = held.0.saturating_add(size);
        held.1 += 1;
        self.total = self.total.saturating_add(size);
    }

    fn release(&mut self, account: Address, size: u64) {
        if let Some(held) = self.accounts.get_mut(&account) {
            held.0 = held.0.saturating_sub(size);
            held.1 = held.1.saturating_sub(1);
            if held.1 == 0 {
                self.accounts.remove(&account);
            }
        }
        self.total = self.total.saturating_sub(size);
    }

    fn add(&mut self, id: ContentId, waiting: Waiting) {
        if self.files.insert(id, waiting).is_none() {
            self.reserve(waiting.account, waiting.size);
        }
    }
}

fn owner_path(dir: &Path, id: &ContentId) -> PathBuf {
    dir.join(format!("{id}.owner"))
}

fn read_owner(path: &Path) -> Option<(Address, u64)> {
    let mut text = String::new();
    File::open(path)
        .ok()?
        .take(256)
        .read_to_string(&mut text)
        .ok()?;
    let (account, at) = text.trim().split_once(' ')?;
    Some((Address::from_str(account).ok()?, at.parse().ok()?))
}

/// Room held for an upload under way; given back unless the upload is
/// kept.
struct Reservation {
    uploads: Arc<Uploads>,
    account: Address,
    size: u64,
    kept: bool,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.kept {
            self.uploads.index().release(self.account, self.size);
        }
    }
}

/// An upload under way, streaming into its file.
pub struct Upload {
    reservation: Reservation,
    id: ContentId,
    size: u64,
    part: PathBuf,
    file: File,
    hasher: blake3::Hasher,
    written: u64,
}

impl Upload {
    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Bytes the upload will have.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// What the upload claims to be.
    pub fn id(&self) -> ContentId {
        self.id
    }

    /// Appends the next bytes; refused past the announced size.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        let end = self.written.saturating_add(bytes.len() as u64);
        if end > self.size {
            return Err(format!(
                "the upload is {} bytes; a piece would end at {end}",
                self.size
            ));
        }
        self.file.write_all(bytes).map_err(|err| {
            warn!(path = %self.part.display(), %err, "an upload could not be written");
            "the host could not take the upload just now; try again shortly".to_owned()
        })?;
        self.hasher.update(bytes);
        self.written = end;
        Ok(())
    }

    /// Checks the whole upload against its content id (and a manifest's
    /// fields) and keeps it to wait for its mint.
    pub fn finish(mut self) -> Result<(), String> {
        if self.written != self.size {
            return Err(format!(
                "the upload ended at {} of {} bytes",
                self.written, self.size
            ));
        }
        let got = ContentId::from_digest(self.id.codec(), *self.hasher.finalize().as_bytes());
        if got != self.id {
            return Err(format!("the uploaded bytes are {got}, not {}", self.id));
        }
        let uploads = self.reservation.uploads.clone();
        if uploads.contains(&self.id) {
            // Uploaded before and waiting still: that copy, its owner and
            // its time stand; this one's room goes back.
            return Ok(());
        }
        let at = unix_time().as_secs();
        let kept = (|| -> std::io::Result<()> {
            self.file.sync_all()?;
            if self.id.codec() == Codec::Json {
                let bytes = fs::read(&self.part)?;
                if let Err(err) = assets::Manifest::from_json(&bytes) {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("not a valid manifest: {err}"),
                    ));
                }
            }
            let mut owner = File::create(owner_path(&uploads.dir, &self.id))?;
            writeln!(owner, "{} {}", self.reservation.account, at)?;
            owner.sync_all()?;
            fs::rename(&self.part, uploads.dir.join(self.id.to_string()))?;
            Ok(())
        })();
        match kept {
            Ok(()) => {
                let mut index = uploads.index();
                // Uploaded twice meanwhile: the first copy counts, this
                // one's room goes back.
                if let std::collections::hash_map::Entry::Vacant(slot) = index.files.entry(self.id)
                {
                    slot.insert(Waiting {
                        account: self.reservation.account,
                        size: self.size,
                        at,
                    });
                    self.reservation.kept = true;
                }
                debug!(id = %self.id, bytes = self.size, "an upload waits to be minted");
                Ok(())
            }
            Err(err) if err.kind() == std::io::ErrorKind::InvalidData => Err(err.to_string()),
            Err(err) => {
                warn!(id = %self.id, %err, "an upload could not be kept");
                Err("the host could not keep the upload just now; try again shortly".into())
            }
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        // Abandoned or refused, or renamed already (then this finds
        // nothing).
        let _ = fs::remove_file(&self.part);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn account(n: u8) -> Address {
        ledger::Keypair::from_seed([n; 32]).address()
    }

    fn upload(uploads: &Arc<Uploads>, who: Address, bytes: &[u8]) -> Result<ContentId, String> {
        let id = ContentId::of(Codec::Raw, bytes);
        let mut upload = uploads.begin(who, id, bytes.len() as u64)?;
        for piece in bytes.chunks(7) {
            upload.write(piece)?;
        }
        upload.finish()?;
        Ok(id)
    }

    #[test]
    fn quotas_hold_per_account_and_room_comes_back_when_refused() {
        let dir = tempfile::tempdir().unwrap();
        let limits = UploadLimits {
            bytes_per_account: 100,
            files_per_account: 2,
            total_bytes: 150,
            keep: Duration::from_secs(60),
        };
        let uploads = Arc::new(Uploads::open(dir.path(), limits).unwrap());
        let (ada, bo) = (account(1), account(2));
        upload(&uploads, ada, &[1; 60]).unwrap();
        // Over ada's bytes.
        assert!(upload(&uploads, ada, &[2; 50]).unwrap_err().contains("MiB"));
        upload(&uploads, ada, &[3; 30]).unwrap();
        // Over ada's count.
        assert!(
            upload(&uploads, ada, &[4; 1])
                .unwrap_err()
                .contains("uploads waiting")
        );
        assert_eq!(uploads.held_by(&ada), (90, 2));
        // Over everyone's bytes.
        assert!(upload(&uploads, bo, &[5; 61]).is_err());
        // Bytes that do not match their id are refused and hold nothing.
        let id = ContentId::of(Codec::Raw, b"something else");
        let mut lying = uploads.begin(bo, id, 3).unwrap();
        lying.write(b"abc").unwrap();
        assert!(lying.finish().unwrap_err().contains("not"));
        let mut long = uploads.begin(bo, id, 2).unwrap();
        assert!(long.write(b"abc").is_err());
        drop(long);
        assert_eq!(uploads.held_by(&bo), (0, 0));
        // Only the two kept files and their owners are on disk.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 4);
    }

    #[test]
    fn minting_moves_a_file_to_the_blobs_and_expiry_deletes_the_rest_across_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let blobs_dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(blobs_dir.path(), assets::StoreLimits::default()).unwrap();
        let limits = UploadLimits {
            keep: Duration::from_secs(3_600),
            ..UploadLimits::default()
        };
        let uploads = Arc::new(Uploads::open(dir.path(), limits).unwrap());
        let ada = account(1);
        let model = upload(&uploads, ada, b"a model").unwrap();
        let preview = upload(&uploads, ada, b"a preview").unwrap();
        // A half-written upload is gone after a restart; the rest remain.
        let _partial = uploads
            .begin(ada, ContentId::of(Codec::Raw, b"x"), 1)
            .unwrap();
        std::mem::forget(_partial);
        drop(uploads);
        let uploads = Arc::new(Uploads::open(dir.path(), limits).unwrap());
        assert_eq!(uploads.held_by(&ada), (16, 2));
        assert_eq!(uploads.promote(&[model], &blobs).unwrap(), 1);
        assert_eq!(blobs.get(&model).unwrap(), b"a model");
        assert!(!uploads.contains(&model));
        assert_eq!(uploads.held_by(&ada), (9, 1));
        // Nothing has waited an hour yet; with a keep of 0 s all has.
        assert_eq!(uploads.collect(), 0);
        let uploads = Uploads::open(
            dir.path(),
            UploadLimits {
                keep: Duration::ZERO,
                ..limits
            },
        )
        .unwrap();
        assert_eq!(uploads.collect(), 1);
        assert!(!uploads.contains(&preview));
        assert_eq!(uploads.held_by(&ada), (0, 0));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
