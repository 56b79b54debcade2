//! The blob store: content-addressed blobs kept as pieces of at most 1 MiB,
//! each checked against the blob's content id when it arrives and again
//! when it is read. RocksDB holds the blob records and the index of the
//! pieces; the pieces' bytes are appended to pack files beside it.
//!
//! A blob made here ([`BlobStore::put`]) is written whole. A blob fetched
//! from a peer starts with its [`BlobInfo`] (size and piece values, checked
//! against the content id before anything else) and then takes its pieces
//! in any order ([`BlobStore::put_piece`]); an interrupted fetch resumes
//! from [`BlobStore::missing_pieces`].

use std::path::Path;
use std::sync::Mutex;

use crate::packfile::{Location, Packs};

use rocksdb::{ColumnFamilyDescriptor, DB, Options, WriteBatch, WriteOptions};

use crate::cid::{Codec, ContentId};
use crate::error::AssetError;
use crate::pieces::{self, PIECE_LEN};

/// Column family of blob records: content id → [`BlobInfo`] and state.
const BLOBS: &str = "blobs";
/// Column family of the piece index: blob digest ‖ piece number
/// (big-endian) → where the piece's bytes are.
const PIECES: &str = "pieces";
/// Bytes of [`BlobInfo::to_bytes`] before the piece values.
const INFO_HEADER: usize = 49;

/// How large a blob the store takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreLimits {
    /// Largest blob, in bytes.
    pub max_blob_bytes: u64,
    /// Most pieces in one blob.
    pub max_pieces: u64,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            max_blob_bytes: 256 << 20,
            max_pieces: 256,
        }
    }
}

/// What a peer needs to fetch a blob piece by piece: its length and the
/// value of each piece, which together hash to the blob's content id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobInfo {
    /// The blob.
    pub id: ContentId,
    /// Its length in bytes.
    pub size: u64,
    /// Each piece's blake3 chaining value (for a one-piece blob, its hash).
    pub pieces: Vec<[u8; 32]>,
}

impl BlobInfo {
    /// The info of `bytes`, read as `codec`.
    pub fn of(codec: Codec, bytes: &[u8]) -> Self {
        let pieces = pieces::piece_values(bytes);
        let size = bytes.len() as u64;
        let root =
            pieces::root_of(&pieces, size).unwrap_or_else(|_| *blake3::hash(bytes).as_bytes());
        BlobInfo {
            id: ContentId::from_digest(codec, root),
            size,
            pieces,
        }
    }

    /// Checks that the pieces hash to the content id, and the limits.
    pub fn check(&self, limits: &StoreLimits) -> Result<(), AssetError> {
        if self.size == 0 {
            return Err(AssetError::Empty);
        }
        if self.size > limits.max_blob_bytes {
            return Err(AssetError::TooLarge {
                what: "the blob",
                size: self.size,
                max: limits.max_blob_bytes,
            });
        }
        let count = pieces::piece_count(self.size);
        if count > limits.max_pieces {
            return Err(AssetError::TooManyPieces {
                count,
                max: limits.max_pieces,
            });
        }
        if pieces::root_of(&self.pieces, self.size)? != self.id.digest() {
            return Err(AssetError::PieceListMismatch {
                cid: self.id.to_string(),
            });
        }
        Ok(())
    }

    /// The number of pieces.
    pub fn piece_count(&self) -> u64 {
        self.pieces.len() as u64
    }

    /// The stored and sent form: codec tag, content id digest, size, count,
    /// piece values.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(INFO_HEADER + 32 * self.pieces.len());
        out.push(match self.id.codec() {
            Codec::Raw => 0,
            Codec::Json => 1,
        });
        out.extend_from_slice(&self.id.digest());
        out.extend_from_slice(&self.size.to_le_bytes());
        out.extend_from_slice(&(self.pieces.len() as u64).to_le_bytes());
        for value in &self.pieces {
            out.extend_from_slice(value);
        }
        out
    }

    /// Reads the form [`BlobInfo::to_bytes`] writes. The caller checks it
    /// with [`BlobInfo::check`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AssetError> {
        let bad = |reason: &str| AssetError::PieceList {
            reason: reason.to_owned(),
        };
        if bytes.len() < INFO_HEADER {
            return Err(bad("too short"));
        }
        let codec = match bytes[0] {
            0 => Codec::Raw,
            1 => Codec::Json,
            _ => return Err(bad("unknown codec")),
        };
        let digest: [u8; 32] = bytes[1..33].try_into().expect("32 bytes");
        let size = u64::from_le_bytes(bytes[33..41].try_into().expect("8 bytes"));
        let count = u64::from_le_bytes(bytes[41..INFO_HEADER].try_into().expect("8 bytes"));
        let rest = &bytes[INFO_HEADER..];
        if (rest.len() as u64) != count.saturating_mul(32) {
            return Err(bad("the piece count disagrees with the bytes"));
        }
        Ok(BlobInfo {
            id: ContentId::from_digest(codec, digest),
            size,
            pieces: rest
                .chunks_exact(32)
                .map(|value| value.try_into().expect("32 bytes"))
                .collect(),
        })
    }
}

/// How far along a blob is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlobStatus {
    /// Never begun.
    Unknown,
    /// Begun; `have` of `count` pieces stored.
    Partial {
        /// Pieces stored.
        have: u64,
        /// Pieces in all.
        count: u64,
    },
    /// Every piece stored.
    Complete,
}

/// The store.
pub struct BlobStore {
    db: DB,
    packs: Packs,
    limits: StoreLimits,
    /// Serialises the read-check-write of piece arrival.
    arrivals: Mutex<()>,
}

impl BlobStore {
    /// Opens (or creates) a store in its own RocksDB directory.
    pub fn open(path: &Path, limits: StoreLimits) -> Result<Self, AssetError> {
        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        options.set_max_background_jobs(2);
        let families = [
            ColumnFamilyDescriptor::new(BLOBS, Options::default()),
            ColumnFamilyDescriptor::new(PIECES, Options::default()),
        ];
        let db = DB::open_cf_descriptors(&options, path, families)?;
        let packs = Packs::open(&path.join("packs"))?;
        Ok(BlobStore {
            db,
            packs,
            limits,
            arrivals: Mutex::new(()),
        })
    }

    /// The store's limits.
    pub fn limits(&self) -> StoreLimits {
        self.limits
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("both column families are opened with the store")
    }

    /// Stores `bytes`, read as `codec`, and returns its content id. The
    /// blob survives a crash of the process at once, and a crash of the
    /// machine after the next [`BlobStore::sync`].
    pub fn put(&self, codec: Codec, bytes: &[u8]) -> Result<ContentId, AssetError> {
        if bytes.is_empty() {
            return Err(AssetError::Empty);
        }
        let size = bytes.len() as u64;
        if size > self.limits.max_blob_bytes {
            return Err(AssetError::TooLarge {
                what: "the blob",
                size,
                max: self.limits.max_blob_bytes,
            });
        }
        let info = BlobInfo::of(codec, bytes);
        info.check(&self.limits)?;
        let _guard = self.arrivals.lock().unwrap_or_else(|p| p.into_inner());
        if self.status(&info.id)? == BlobStatus::Complete {
            return Ok(info.id);
        }
        let digest = info.id.digest();
        // The bytes first, in one append, then the index and the record in
        // one batch: a record that survives a crash has its pieces.
        let (file, start) = self.packs.append(bytes, false)?;
        let mut batch = WriteBatch::default();
        for (index, piece) in bytes.chunks(PIECE_LEN).enumerate() {
            let location = Location {
                file,
                offset: start + (index * PIECE_LEN) as u64,
                len: piece.len() as u32,
            };
            batch.put_cf(
                self.cf(PIECES),
                piece_key(&digest, index as u64),
                location.to_bytes(),
            );
        }
        let arrived = Arrived::all(info.piece_count());
        batch.put_cf(
            self.cf(BLOBS),
            info.id.to_bytes(),
            record_value(&info, &arrived),
        );
        self.db.write(batch)?;
        Ok(info.id)
    }

    /// Makes everything stored so far durable against power loss (one
    /// sync of the write-ahead log). Without it, a write survives a crash
    /// of the process but not of the machine.
    pub fn sync(&self) -> Result<(), AssetError> {
        self.packs.sync()?;
        self.db.flush_wal(true)?;
        Ok(())
    }

    /// Starts (or resumes) fetching a blob: checks `info` against its
    /// content id and the limits, and records it.
    pub fn begin(&self, info: &BlobInfo) -> Result<BlobStatus, AssetError> {
        info.check(&self.limits)?;
        let _guard = self.arrivals.lock().unwrap_or_else(|p| p.into_inner());
        match self.status(&info.id)? {
            BlobStatus::Unknown => {
                self.write_record(info, &Arrived::none(info.piece_count()))?;
                Ok(BlobStatus::Partial {
                    have: 0,
                    count: info.piece_count(),
                })
            }
            known => Ok(known),
        }
    }

    /// Stores piece `index` of a blob that was begun, after checking it
    /// against the blob's piece list. A piece that does not match is
    /// refused and nothing is written. The piece and the record of its
    /// arrival are written in one batch, so a restart resumes exactly.
    pub fn put_piece(
        &self,
        id: &ContentId,
        index: u64,
        bytes: &[u8],
    ) -> Result<BlobStatus, AssetError> {
        let (info, _) = self
            .record(id)?
            .ok_or_else(|| AssetError::UnknownBlob(id.to_string()))?;
        let size = check_piece(&info, index, bytes)?;
        let _guard = self.arrivals.lock().unwrap_or_else(|p| p.into_inner());
        let (mut info, mut arrived) = self
            .record(id)?
            .ok_or_else(|| AssetError::UnknownBlob(id.to_string()))?;
        if arrived.has(index) {
            return Ok(arrived.status());
        }
        if size != info.size {
            tracing::warn!(blob = %id, claimed = info.size, size, "the piece list's size was wrong; corrected by its last piece");
            info.size = size;
        }
        arrived.set(index);
        // A blob's last piece makes it complete: that piece and the record
        // are synced, and with them everything before.
        let complete = arrived.is_complete();
        let (file, offset) = self.packs.append(bytes, complete)?;
        let location = Location {
            file,
            offset,
            len: bytes.len() as u32,
        };
        let mut batch = WriteBatch::default();
        batch.put_cf(
            self.cf(PIECES),
            piece_key(&id.digest(), index),
            location.to_bytes(),
        );
        batch.put_cf(self.cf(BLOBS), id.to_bytes(), record_value(&info, &arrived));
        let mut options = WriteOptions::default();
        options.set_sync(complete);
        self.db.write_opt(batch, &options)?;
        Ok(arrived.status())
    }

    /// The pieces of a begun blob that have not arrived, in order.
    pub fn missing_pieces(&self, id: &ContentId) -> Result<Vec<u64>, AssetError> {
        let (_, arrived) = self
            .record(id)?
            .ok_or_else(|| AssetError::UnknownBlob(id.to_string()))?;
        Ok(arrived.missing())
    }

    /// How far along a blob is.
    pub fn status(&self, id: &ContentId) -> Result<BlobStatus, AssetError> {
        Ok(match self.record(id)? {
            None => BlobStatus::Unknown,
            Some((_, arrived)) => arrived.status(),
        })
    }

    /// The size and piece list of a blob the store knows, to serve to a
    /// peer that fetches it.
    pub fn info(&self, id: &ContentId) -> Result<Option<BlobInfo>, AssetError> {
        Ok(self.record(id)?.map(|(info, _)| info))
    }

    /// Piece `index` of a stored blob, checked against its hash.
    pub fn piece(&self, id: &ContentId, index: u64) -> Result<Vec<u8>, AssetError> {
        let (info, _) = self
            .record(id)?
            .ok_or_else(|| AssetError::UnknownBlob(id.to_string()))?;
        self.read_piece(&info, index)
    }

    fn read_piece(&self, info: &BlobInfo, index: u64) -> Result<Vec<u8>, AssetError> {
        if index >= info.piece_count() {
            return Err(AssetError::NoSuchPiece {
                cid: info.id.to_string(),
                count: info.piece_count(),
                index,
            });
        }
        let entry = self
            .db
            .get_pinned_cf(self.cf(PIECES), piece_key(&info.id.digest(), index))?
            .ok_or_else(|| AssetError::Incomplete {
                cid: info.id.to_string(),
                missing: 1,
                count: info.piece_count(),
            })?;
        let location = Location::from_bytes(&entry).ok_or_else(|| {
            AssetError::Corrupt(format!("index entry of piece {index} of {}", info.id))
        })?;
        if u64::from(location.len) != pieces::piece_len(info.size, index) {
            return Err(AssetError::Corrupt(format!(
                "index entry of piece {index} of {} gives {} bytes",
                info.id, location.len
            )));
        }
        let checked =
            self.packs
                .read(location)
                .and_then(|bytes| match check_piece(info, index, &bytes) {
                    Ok(size) if size == info.size => Ok(bytes),
                    Ok(_) => Err(AssetError::Corrupt(
                        "its length disagrees with the record".into(),
                    )),
                    Err(err) => Err(AssetError::Corrupt(err.to_string())),
                });
        let bytes = match checked {
            Ok(bytes) => bytes,
            Err(err) => {
                // Forget the piece, so that a fetch or a put brings it back.
                self.forget_piece(&info.id, index)?;
                return Err(AssetError::Corrupt(format!(
                    "stored piece {index} of {} fails its check ({err}); it is marked missing",
                    info.id
                )));
            }
        };
        Ok(bytes)
    }

    /// A whole stored blob, every piece checked on the way.
    pub fn get(&self, id: &ContentId) -> Result<Vec<u8>, AssetError> {
        let (info, arrived) = self
            .record(id)?
            .ok_or_else(|| AssetError::UnknownBlob(id.to_string()))?;
        if !arrived.is_complete() {
            return Err(AssetError::Incomplete {
                cid: id.to_string(),
                missing: arrived.missing().len() as u64,
                count: info.piece_count(),
            });
        }
        let mut out = Vec::with_capacity(info.size as usize);
        for index in 0..info.piece_count() {
            out.extend_from_slice(&self.read_piece(&info, index)?);
        }
        Ok(out)
    }

    /// Every blob the store knows, complete or not, in id order.
    pub fn ids(&self) -> Result<Vec<ContentId>, AssetError> {
        let mut out = Vec::new();
        for entry in self
            .db
            .iterator_cf(self.cf(BLOBS), rocksdb::IteratorMode::Start)
        {
            let (key, _) = entry?;
            out.push(
                ContentId::from_bytes(&key)
                    .map_err(|err| AssetError::Corrupt(format!("a record's key: {err}")))?,
            );
        }
        Ok(out)
    }

    /// Whether the store holds every piece of the blob.
    pub fn contains(&self, id: &ContentId) -> Result<bool, AssetError> {
        Ok(self.status(id)? == BlobStatus::Complete)
    }

    /// Marks a piece that failed its check on reading as not arrived.
    fn forget_piece(&self, id: &ContentId, index: u64) -> Result<(), AssetError> {
        let _guard = self.arrivals.lock().unwrap_or_else(|p| p.into_inner());
        let Some((info, mut arrived)) = self.record(id)? else {
            return Ok(());
        };
        arrived.clear(index);
        let mut batch = WriteBatch::default();
        batch.delete_cf(self.cf(PIECES), piece_key(&id.digest(), index));
        batch.put_cf(self.cf(BLOBS), id.to_bytes(), record_value(&info, &arrived));
        self.db.write(batch)?;
        Ok(())
    }

    fn record(&self, id: &ContentId) -> Result<Option<(BlobInfo, Arrived)>, AssetError> {
        let Some(bytes) = self.db.get_pinned_cf(self.cf(BLOBS), id.to_bytes())? else {
            return Ok(None);
        };
        let corrupt = |reason: String| AssetError::Corrupt(format!("record of {id}: {reason}"));
        if bytes.len() < INFO_HEADER {
            return Err(corrupt("too short".into()));
        }
        let count = u64::from_le_bytes(bytes[41..INFO_HEADER].try_into().expect("8 bytes"));
        let info_len = count
            .checked_mul(32)
            .and_then(|len| len.checked_add(INFO_HEADER as u64))
            .filter(|len| *len <= bytes.len() as u64)
            .ok_or_else(|| corrupt("piece count past the end".into()))?
            as usize;
        let info =
            BlobInfo::from_bytes(&bytes[..info_len]).map_err(|err| corrupt(err.to_string()))?;
        if &info.id != id {
            return Err(corrupt(format!("it names {}", info.id)));
        }
        if info.size == 0 || pieces::piece_count(info.size) != count {
            return Err(corrupt(format!(
                "{count} pieces cannot make {} bytes",
                info.size
            )));
        }
        let arrived = Arrived::from_bytes(count, &bytes[info_len..])
            .ok_or_else(|| corrupt("the map of arrived pieces does not fit the blob".into()))?;
        Ok(Some((info, arrived)))
    }

    fn write_record(&self, info: &BlobInfo, arrived: &Arrived) -> Result<(), AssetError> {
        let mut options = WriteOptions::default();
        options.set_sync(arrived.is_complete());
        self.db.put_cf_opt(
            self.cf(BLOBS),
            info.id.to_bytes(),
            record_value(info, arrived),
            &options,
        )?;
        Ok(())
    }
}

/// A blob's record: its info, then one bit per piece that has arrived.
fn record_value(info: &BlobInfo, arrived: &Arrived) -> Vec<u8> {
    let mut value = info.to_bytes();
    value.extend_from_slice(&arrived.bits);
    value
}

/// Which pieces of a blob are stored: one bit each.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Arrived {
    count: u64,
    bits: Vec<u8>,
}

impl Arrived {
    fn none(count: u64) -> Self {
        Arrived {
            count,
            bits: vec![0; count.div_ceil(8) as usize],
        }
    }

    fn all(count: u64) -> Self {
        let mut arrived = Arrived::none(count);
        (0..count).for_each(|index| arrived.set(index));
        arrived
    }

    fn from_bytes(count: u64, bits: &[u8]) -> Option<Self> {
        if bits.len() as u64 != count.div_ceil(8) {
            return None;
        }
        let arrived = Arrived {
            count,
            bits: bits.to_vec(),
        };
        // No bit may be set past the last piece.
        (count..bits.len() as u64 * 8)
            .all(|index| !arrived.has(index))
            .then_some(arrived)
    }

    fn has(&self, index: u64) -> bool {
        self.bits[(index / 8) as usize] & (1 << (index % 8)) != 0
    }

    fn set(&mut self, index: u64) {
        self.bits[(index / 8) as usize] |= 1 << (index % 8);
    }

    fn clear(&mut self, index: u64) {
        self.bits[(index / 8) as usize] &= !(1 << (index % 8));
    }

    fn have(&self) -> u64 {
        self.bits
            .iter()
            .map(|byte| u64::from(byte.count_ones()))
            .sum()
    }

    fn is_complete(&self) -> bool {
        self.have() == self.count
    }

    fn missing(&self) -> Vec<u64> {
        (0..self.count).filter(|index| !self.has(*index)).collect()
    }

    fn status(&self) -> BlobStatus {
        if self.is_complete() {
            BlobStatus::Complete
        } else {
            BlobStatus::Partial {
                have: self.have(),
                count: self.count,
            }
        }
    }
}

fn piece_key(digest: &[u8; 32], index: u64) -> [u8; 40] {
    let mut key = [0u8; 40];
    key[..32].copy_from_slice(digest);
    key[32..].copy_from_slice(&index.to_be_bytes());
    key
}

/// Checks that `bytes` are piece `index` of the blob `info` describes,
/// and returns the blob's size.
///
/// The piece values pin every byte but not the claimed size of the last
/// piece, so a last piece that matches its value with another length is
/// the genuine one, and its length corrects a size a peer misstated.
fn check_piece(info: &BlobInfo, index: u64, bytes: &[u8]) -> Result<u64, AssetError> {
    let count = info.piece_count();
    if index >= count {
        return Err(AssetError::NoSuchPiece {
            cid: info.id.to_string(),
            count,
            index,
        });
    }
    let expected = pieces::piece_len(info.size, index);
    let last = index + 1 == count;
    let length_possible = if last {
        (1..=PIECE_LEN).contains(&bytes.len())
    } else {
        bytes.len() == PIECE_LEN
    };
    let wrong_length = AssetError::PieceLength {
        cid: info.id.to_string(),
        index,
        expected,
        got: bytes.len() as u64,
    };
    if !length_possible {
        return Err(wrong_length);
    }
    if pieces::piece_value(bytes, index, info.size) != info.pieces[index as usize] {
        if bytes.len() as u64 != expected {
            return Err(wrong_length);
        }
        return Err(AssetError::PieceMismatch {
            cid: info.id.to_string(),
            index,
        });
    }
    Ok(if last {
        index * PIECE_LEN as u64 + bytes.len() as u64
    } else {
        info.size
    })
}
