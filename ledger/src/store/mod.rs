//! The ledger on disk: RocksDB, one column family per kind of record, and
//! one synced write batch per block.
//!
//! Records are kept with their history: a record's key is its natural key
//! (address, asset id, listing or rental number) followed by the bitwise
//! complement of the height that wrote it, so the newest version sorts
//! first and the version in force at any height is one seek away. That
//! history is what lets a host prove an asset's owner at a past height; it
//! also means a block writes each changed record once.

mod cache;
mod snapshot;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use borsh::{BorshDeserialize, BorshSerialize};
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, DB, DBCompressionType, Direction, Env,
    IteratorMode, MemtableFactory, Options, ReadOptions, SliceTransform, WriteBatch, WriteOptions,
};

use crate::block::Block;
use crate::codec;
use crate::error::LedgerError;
use crate::execute::{BlockEffects, StateReader, StoredTxResult};
use crate::ids::{AssetId, BlockHash, Height, ListingId, RentalId, StateRoot, Timestamp, TxId};
use crate::keys::Address;
use crate::settle::Settlement;
use crate::state::{Account, Asset, ChainState, Listing, Rental, StateKey, Validator};
use crate::tree::{self, Child, InternalNode, KeyHash, NibblePath, NodeHash, NodeSource, Version};

use cache::MemoryCache;

/// Column families.
mod cf {
    /// Versioned: address ‖ !height → account.
    pub(super) const ACCOUNTS: &str = "accounts";
    /// Versioned: asset id ‖ !height → asset.
    pub(super) const ASSETS: &str = "assets";
    /// Versioned: listing number ‖ !height → listing.
    pub(super) const LISTINGS: &str = "listings";
    /// Versioned: rental number ‖ !height → rental.
    pub(super) const RENTALS: &str = "rentals";
    /// Versioned: address ‖ !height → validator.
    pub(super) const VALIDATORS: &str = "validators";
    /// Active rentals by end: `ends_at ‖ rental number` (both big-endian).
    pub(super) const RENTALS_DUE: &str = "rentals_due";
    /// Blocks with their outcome, by height.
    pub(super) const BLOCKS: &str = "blocks";
    /// Applied transactions: id → height ‖ index.
    pub(super) const TX_INDEX: &str = "tx_index";
    /// State tree internal nodes: version ‖ path. Version first, so each
    /// block's nodes go in after the last block's.
    pub(super) const TREE_NODES: &str = "tree_nodes";
    /// The latest chain record and the genesis hash.
    pub(super) const META: &str = "meta";
    /// What finalized each block, by height: the consensus layer's commit
    /// certificate, opaque to the ledger.
    pub(super) const CERTIFICATES: &str = "certificates";

    pub(super) const ALL: [&str; 11] = [
        CERTIFICATES,
        ACCOUNTS,
        ASSETS,
        LISTINGS,
        RENTALS,
        VALIDATORS,
        RENTALS_DUE,
        BLOCKS,
        TX_INDEX,
        TREE_NODES,
        META,
    ];

    /// The families whose keys carry a version.
    pub(super) const RECORDS: [&str; 5] = [ACCOUNTS, ASSETS, LISTINGS, RENTALS, VALIDATORS];
}

const META_CHAIN: &[u8] = b"chain";
const META_GENESIS: &[u8] = b"genesis";
const META_FORMAT: &[u8] = b"format";
/// The layout of the records this build writes. A store written with
/// another (before validator staking, records carried no stake; before
/// mints carried their manifest and validators could be slashed, blocks
/// and validator changes read differently; before headers committed to
/// the state root and the validator sets, blocks hashed differently) is
/// refused with a clear error rather than misread.
pub const STORE_FORMAT: u32 = 4;
/// Largest stored record read back; anything larger is corruption.
const MAX_RECORD_BYTES: usize = 1 << 16;
/// Largest stored block record.
const MAX_STORED_BLOCK_BYTES: usize = 1 << 28;
/// Bytes of the version suffix of a record key.
const VERSION_BYTES: usize = 8;

/// A block as stored: the block itself and what it did.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct StoredBlock {
    /// The block.
    pub block: Block,
    /// The state root after it.
    pub state_root: StateRoot,
    /// Each transaction's outcome, in block order.
    pub results: Vec<StoredTxResult>,
    /// The rentals it settled.
    pub settlements: Vec<Settlement>,
}

/// Encodes exactly as [`StoredBlock`], without copying the block.
#[derive(BorshSerialize)]
struct StoredBlockRef<'a> {
    block: &'a Block,
    state_root: &'a StateRoot,
    results: Vec<StoredTxResult>,
    settlements: &'a [Settlement],
}

/// Where an applied transaction was committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxLocation {
    /// The block's height.
    pub height: Height,
    /// Its position in the block.
    pub index: u32,
}

/// The RocksDB store.
pub struct Store {
    db: DB,
    path: PathBuf,
    cache: MemoryCache,
}

impl Store {
    /// Opens the store at `path`, creating an empty one if there is none.
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        let block_cache = Cache::new_lru_cache(128 << 20);
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&block_cache);
        table.set_bloom_filter(10.0, false);
        table.set_cache_index_and_filter_blocks(true);

        // Flushes and compactions run below the commit path's priority: they
        // use what it leaves of the cores instead of slowing it down.
        let mut env = Env::new()?;
        env.lower_thread_pool_cpu_priority();
        env.lower_high_priority_thread_pool_cpu_priority();

        let mut options = Options::default();
        options.set_env(&env);
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        options.set_max_background_jobs(2);
        options.set_max_total_wal_size(512 << 20);
        // A hashed memtable takes one writer at a time, and this store has one.
        options.set_allow_concurrent_memtable_write(false);

        let descriptors = cf::ALL.iter().map(|name| {
            let mut cf_options = Options::default();
            cf_options.set_block_based_table_factory(&table);
            cf_options.set_level_compaction_dynamic_level_bytes(true);
            cf_options.set_max_write_buffer_number(4);
            // Hashes, keys and signatures do not compress; records do a little.
            cf_options.set_compression_type(if cf::RECORDS.contains(name) {
                DBCompressionType::Lz4
            } else {
                DBCompressionType::None
            });
            // Families written at random keys get a hashed memtable, one
            // small skip list per record (its versions), instead of one big
            // skip list that every insert must search. Their prefix is the
            // record's own key (for assets, enough of it to be unique).
            let prefix = match *name {
                cf::ACCOUNTS | cf::VALIDATORS | cf::TX_INDEX => Some(32),
                cf::ASSETS => Some(20),
                _ => None,
            };
            if let Some(prefix) = prefix {
                cf_options.set_prefix_extractor(SliceTransform::create_fixed_prefix(prefix));
                cf_options.set_memtable_factory(MemtableFactory::HashSkipList {
                    bucket_count: 1 << 16,
                    height: 4,
                    branching_factor: 4,
                });
            }
            let busy = matches!(*name, cf::TREE_NODES | cf::BLOCKS);
            cf_options.set_write_buffer_size(if busy { 128 << 20 } else { 32 << 20 });
            ColumnFamilyDescriptor::new(*name, cf_options)
        });
        let db = DB::open_cf_descriptors(&options, path, descriptors)?;
        let store = Store {
            db,
            path: path.to_path_buf(),
            cache: MemoryCache::new(),
        };
        store.check_format()?;
        Ok(store)
    }

    /// An error if the store holds a ledger in another layout than this
    /// build's.
    fn check_format(&self) -> Result<(), LedgerError> {
        let made = self
            .db
            .get_pinned_cf(self.cf(cf::META), META_GENESIS)?
            .is_some();
        if !made {
            return Ok(());
        }
        let found = match self.db.get_pinned_cf(self.cf(cf::META), META_FORMAT)? {
            // Stores from before the marker are format 1.
            None => 1,
            Some(bytes) => {
                let bytes: [u8; 4] = bytes.as_ref().try_into().map_err(|_| {
                    LedgerError::Corrupt(format!("meta: a format of {} bytes", bytes.len()))
                })?;
                u32::from_be_bytes(bytes)
            }
        };
        if found != STORE_FORMAT {
            return Err(LedgerError::StoreFormat {
                path: self.path.display().to_string(),
                found,
                expected: STORE_FORMAT,
            });
        }
        Ok(())
    }

    /// The directory of the store.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("every column family is opened with the store")
    }

    fn decode<T: BorshDeserialize>(
        family: &str,
        what: &'static str,
        bytes: &[u8],
        max: usize,
    ) -> Result<T, LedgerError> {
        codec::decode(what, bytes, max)
            .map_err(|err| LedgerError::Corrupt(format!("{family}: {err}")))
    }

    fn get<T: BorshDeserialize>(
        &self,
        family: &str,
        key: &[u8],
        what: &'static str,
    ) -> Result<Option<T>, LedgerError> {
        match self.db.get_pinned_cf(self.cf(family), key)? {
            Some(bytes) => Self::decode(family, what, &bytes, MAX_RECORD_BYTES).map(Some),
            None => Ok(None),
        }
    }

    /// The version of record `key` in force at `height`: the newest one
    /// written at or below it.
    fn record_at<T: BorshDeserialize>(
        &self,
        family: &str,
        key: &[u8],
        height: Height,
        what: &'static str,
    ) -> Result<Option<T>, LedgerError> {
        let mut read = ReadOptions::default();
        read.set_prefix_same_as_start(true);
        let mut upper = key.to_vec();
        upper.extend_from_slice(&[0xff; VERSION_BYTES]);
        upper.push(0);
        read.set_iterate_upper_bound(upper);
        let mut iterator = self.db.raw_iterator_cf_opt(self.cf(family), read);
        iterator.seek(versioned(key, height));
        match (iterator.key(), iterator.value()) {
            (Some(found), Some(bytes))
                if found.len() == key.len() + VERSION_BYTES && found.starts_with(key) =>
            {
                Self::decode(family, what, bytes, MAX_RECORD_BYTES).map(Some)
            }
            _ => {
                iterator.status()?;
                Ok(None)
            }
        }
    }

    /// The newest version of record `key`.
    fn record<T: BorshDeserialize>(
        &self,
        family: &str,
        key: &[u8],
        what: &'static str,
    ) -> Result<Option<T>, LedgerError> {
        self.record_at(family, key, Height::MAX, what)
    }

    /// The newest version of every record in `family`, with its key.
    fn records<T: BorshDeserialize>(
        &self,
        family: &str,
        what: &'static str,
    ) -> Result<Vec<(Vec<u8>, T)>, LedgerError> {
        let mut out: Vec<(Vec<u8>, T)> = Vec::new();
        self.each_newest(family, |natural, value| {
            out.push((
                natural.to_vec(),
                Self::decode(family, what, value, MAX_RECORD_BYTES)?,
            ));
            Ok(())
        })?;
        Ok(out)
    }

    /// Calls `each` with the natural key and stored bytes of the newest
    /// version of every record in `family`, in key order.
    fn each_newest(
        &self,
        family: &str,
        mut each: impl FnMut(&[u8], &[u8]) -> Result<(), LedgerError>,
    ) -> Result<(), LedgerError> {
        let mut read = ReadOptions::default();
        read.set_total_order_seek(true);
        let mut last: Vec<u8> = Vec::new();
        let mut first = true;
        for item in self
            .db
            .iterator_cf_opt(self.cf(family), read, IteratorMode::Start)
        {
            let (key, value) = item?;
            let Some(split) = key.len().checked_sub(VERSION_BYTES) else {
                return Err(LedgerError::Corrupt(format!(
                    "{family}: key without a version"
                )));
            };
            let natural = &key[..split];
            // Versions of one record are adjacent, newest first.
            if !first && last.as_slice() == natural {
                continue;
            }
            first = false;
            last.clear();
            last.extend_from_slice(natural);
            each(natural, &value)?;
        }
        Ok(())
    }

    /// The chain record of the last committed block, if the store has one.
    pub fn chain(&self) -> Result<Option<ChainState>, LedgerError> {
        self.get(cf::META, META_CHAIN, "chain record")
    }

    /// The hash of block 0, if the store has one.
    pub fn genesis_hash(&self) -> Result<Option<BlockHash>, LedgerError> {
        self.get(cf::META, META_GENESIS, "genesis hash")
    }

    /// A committed block and its outcome.
    pub fn block(&self, height: Height) -> Result<Option<StoredBlock>, LedgerError> {
        match self
            .db
            .get_pinned_cf(self.cf(cf::BLOCKS), height.to_be_bytes())?
        {
            Some(bytes) => {
                Self::decode(cf::BLOCKS, "stored block", &bytes, MAX_STORED_BLOCK_BYTES).map(Some)
            }
            None => Ok(None),
        }
    }

    /// The certificate stored with the block at `height`, if one was.
    pub fn certificate(&self, height: Height) -> Result<Option<Vec<u8>>, LedgerError> {
        Ok(self
            .db
            .get_pinned_cf(self.cf(cf::CERTIFICATES), height.to_be_bytes())?
            .map(|bytes| bytes.to_vec()))
    }

    /// Where an applied transaction was committed.
    pub fn transaction(&self, id: &TxId) -> Result<Option<TxLocation>, LedgerError> {
        let Some(bytes) = self.db.get_pinned_cf(self.cf(cf::TX_INDEX), id.0)? else {
            return Ok(None);
        };
        let bytes: [u8; 12] = bytes.as_ref().try_into().map_err(|_| {
            LedgerError::Corrupt(format!("transaction index entry for {id} is malformed"))
        })?;
        let (height, index) = bytes.split_at(8);
        Ok(Some(TxLocation {
            height: u64::from_be_bytes(height.try_into().expect("8 bytes")),
            index: u32::from_be_bytes(index.try_into().expect("4 bytes")),
        }))
    }

    /// Every account with its address.
    pub fn accounts(&self) -> Result<Vec<(Address, Account)>, LedgerError> {
        self.records(cf::ACCOUNTS, "account")?
            .into_iter()
            .map(|(key, account)| {
                let address: [u8; 32] = key
                    .as_slice()
                    .try_into()
                    .map_err(|_| LedgerError::Corrupt("accounts: key is not an address".into()))?;
                Ok((Address::from_bytes(address), account))
            })
            .collect()
    }

    /// Every asset.
    pub fn assets(&self) -> Result<Vec<Asset>, LedgerError> {
        Ok(self
            .records(cf::ASSETS, "asset")?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    /// Every listing, open or closed.
    pub fn listings(&self) -> Result<Vec<Listing>, LedgerError> {
        Ok(self
            .records(cf::LISTINGS, "listing")?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    /// Every rental, active or ended.
    pub fn rentals(&self) -> Result<Vec<Rental>, LedgerError> {
        Ok(self
            .records(cf::RENTALS, "rental")?
            .into_iter()
            .map(|(_, v)| v)
            .collect())
    }

    /// Every validator: each address with voting power, by address. One
    /// whose power went to 0 is a validator no more.
    pub fn validators(&self) -> Result<Vec<Validator>, LedgerError> {
        Ok(self
            .records::<Validator>(cf::VALIDATORS, "validator")?
            .into_iter()
            .map(|(_, v)| v)
            .filter(|validator| validator.power > 0)
            .collect())
    }

    /// The state root after block `height`.
    pub fn state_root(&self, height: Height) -> Result<Option<StateRoot>, LedgerError> {
        Ok(self
            .internal_node(height, &NibblePath::ROOT)?
            .map(|root| StateRoot(root.hash())))
    }

    /// `asset`'s record as it stood at `height`, with the state tree's leaf
    /// for it and the path from that leaf to the root of `height`.
    pub fn asset_with_proof(
        &self,
        asset: &AssetId,
        height: Height,
    ) -> Result<Option<(Vec<u8>, tree::Proof)>, LedgerError> {
        let key_hash = StateKey::Asset(asset).hash();
        let Some((leaf, path)) = tree::prove(self, height, &key_hash)? else {
            return Ok(None);
        };
        let key = asset.content_id().to_bytes();
        let record = self.exact_version(cf::ASSETS, &key, &key_hash, leaf)?;
        Ok(Some((record, path)))
    }

    /// The bytes of the record version the tree's `leaf` points at, checked
    /// against the leaf's hash.
    fn exact_version(
        &self,
        family: &str,
        key: &[u8],
        key_hash: &KeyHash,
        leaf: Child,
    ) -> Result<Vec<u8>, LedgerError> {
        let bytes = self
            .db
            .get_pinned_cf(self.cf(family), versioned(key, leaf.version))?
            .ok_or_else(|| {
                LedgerError::Corrupt(format!(
                    "{family}: the version written at height {} is missing",
                    leaf.version
                ))
            })?;
        if tree::leaf_hash(key_hash, &bytes) != leaf.hash {
            return Err(LedgerError::Corrupt(format!(
                "{family}: the version written at height {} does not match the state tree",
                leaf.version
            )));
        }
        Ok(bytes.to_vec())
    }

    /// Writes a block and everything it changed in one synced batch, and
    /// returns the new state root.
    pub fn commit(
        &mut self,
        block: &Block,
        effects: &BlockEffects,
        certificate: Option<&[u8]>,
    ) -> Result<StateRoot, LedgerError> {
        let height = block.header.height;

        // Each changed record with its state-tree key and its bytes.
        // Accounts, the most numerous, are encoded and hashed on a second
        // thread while this one does the rest.
        let (mut records, others) = std::thread::scope(|scope| {
            let accounts = scope.spawn(|| {
                effects
                    .accounts
                    .iter()
                    .map(|(address, account)| {
                        Record::new(
                            StateKey::Account(address),
                            cf::ACCOUNTS,
                            address.as_bytes(),
                            account,
                            height,
                        )
                    })
                    .collect::<Vec<Record>>()
            });
            let mut others: Vec<Record> = Vec::new();
            for (id, asset) in &effects.assets {
                let key = id.content_id().to_bytes();
                others.push(Record::new(
                    StateKey::Asset(id),
                    cf::ASSETS,
                    &key,
                    asset,
                    height,
                ));
            }
            for (id, listing) in &effects.listings {
                let key = id.0.to_be_bytes();
                others.push(Record::new(
                    StateKey::Listing(*id),
                    cf::LISTINGS,
                    &key,
                    listing,
                    height,
                ));
            }
            for (id, rental) in &effects.rentals {
                let key = id.0.to_be_bytes();
                others.push(Record::new(
                    StateKey::Rental(*id),
                    cf::RENTALS,
                    &key,
                    rental,
                    height,
                ));
            }
            for validator in &effects.validators {
                let address = &validator.address;
                let state_key = StateKey::Validator(address);
                others.push(Record::new(
                    state_key,
                    cf::VALIDATORS,
                    address.as_bytes(),
                    validator,
                    height,
                ));
            }
            let chain = Record::new(
                StateKey::Chain,
                cf::META,
                META_CHAIN,
                &effects.chain,
                height,
            );
            others.push(Record {
                // The chain record is kept once, not per version.
                key: META_CHAIN.to_vec(),
                ..chain
            });
            let accounts = accounts
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (accounts, others)
        });
        records.extend(others);
        records.sort_unstable_by_key(|record| record.key_hash);

        let changes: Vec<(KeyHash, NodeHash)> = records
            .iter()
            .map(|record| (record.key_hash, record.leaf_hash))
            .collect();
        let update = tree::update(&*self, height.checked_sub(1), height, &changes)?;
        let state_root = StateRoot(update.root);

        let mut stored =
            Vec::with_capacity(block.txs.len().saturating_mul(320).saturating_add(4096));
        codec::encode_into(
            &StoredBlockRef {
                block,
                state_root: &state_root,
                results: effects.results.iter().map(StoredTxResult::from).collect(),
                settlements: &effects.settlements,
            },
            &mut stored,
        );
        let mut node_bytes = Vec::with_capacity(update.nodes.len() * 256);
        let nodes: Vec<(Vec<u8>, std::ops::Range<usize>)> = update
            .nodes
            .iter()
            .map(|(path, node)| {
                let mut key = Vec::with_capacity(42);
                key.extend_from_slice(&height.to_be_bytes());
                path.to_key_bytes(&mut key);
                let start = node_bytes.len();
                node.encode_into(&mut node_bytes);
                (key, start..node_bytes.len())
            })
            .collect();
        let locations: Vec<(TxId, [u8; 12])> = effects
            .results
            .iter()
            .enumerate()
            // Applied, or refused after spending the signer's nonce: either
            // way it is final, and findable by its id.
            .filter(|(_, result)| result.nonce_spent)
            .map(|(index, result)| {
                let index = u32::try_from(index).expect("blocks hold at most MAX_BLOCK_TXS");
                let mut location = [0u8; 12];
                location[..8].copy_from_slice(&height.to_be_bytes());
                location[8..].copy_from_slice(&index.to_be_bytes());
                (result.id, location)
            })
            .collect();
        let genesis = codec::encode(&block.hash());

        // Within a column family, RocksDB's skip list starts each insert
        // where the previous one went, so every family is written in key
        // order.
        let size = stored.len()
            + records.iter().map(|r| r.value.len() + 64).sum::<usize>()
            + nodes
                .iter()
                .map(|(k, v)| k.len() + v.len() + 16)
                .sum::<usize>()
            + locations.len() * 64;
        let mut batch = Batch::new(self, size);
        for family in cf::RECORDS.into_iter().chain([cf::META]) {
            batch.put_all(
                family,
                records
                    .iter()
                    .filter(|r| r.family == family)
                    .map(|r| (r.key.as_slice(), r.value.as_slice())),
            );
        }
        batch.put_all(
            cf::TREE_NODES,
            nodes
                .iter()
                .map(|(key, range)| (key.as_slice(), &node_bytes[range.clone()])),
        );
        let due: Vec<[u8; 16]> = effects
            .due_added
            .iter()
            .map(|(ends_at, id)| due_key(*ends_at, *id))
            .collect();
        batch.put_all(
            cf::RENTALS_DUE,
            due.iter().map(|key| (key.as_slice(), &[][..])),
        );
        for (ends_at, id) in &effects.due_removed {
            batch
                .batch
                .delete_cf(self.cf(cf::RENTALS_DUE), due_key(*ends_at, *id));
        }
        batch.put_all(
            cf::TX_INDEX,
            locations.iter().map(|(id, loc)| (&id.0[..], &loc[..])),
        );
        let height_key = height.to_be_bytes();
        batch.put_all(cf::BLOCKS, std::iter::once((&height_key[..], &stored[..])));
        if let Some(certificate) = certificate {
            batch.put_all(
                cf::CERTIFICATES,
                std::iter::once((&height_key[..], certificate)),
            );
        }
        if height == 0 {
            batch.put_all(cf::META, std::iter::once((META_GENESIS, &genesis[..])));
            let format = STORE_FORMAT.to_be_bytes();
            batch.put_all(cf::META, std::iter::once((META_FORMAT, &format[..])));
        }

        let mut sync = WriteOptions::default();
        sync.set_sync(true);
        let Batch { batch, .. } = batch;
        let (db, cache) = (&self.db, &self.cache);
        let written = std::thread::scope(|scope| {
            // The caches take in the block while RocksDB writes it.
            scope.spawn(|| cache.committed(height, effects, update.nodes));
            db.write_opt(batch, &sync)
        });
        if let Err(err) = written {
            // The caches ran ahead of a write that did not happen.
            self.cache.clear();
            return Err(err.into());
        }
        Ok(state_root)
    }
}

/// `key` followed by the complement of `height`, so that newer versions
/// sort first.
fn versioned(key: &[u8], height: Height) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + VERSION_BYTES);
    out.extend_from_slice(key);
    out.extend_from_slice(&(!height).to_be_bytes());
    out
}

fn due_key(ends_at: Timestamp, id: RentalId) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&ends_at.to_be_bytes());
    key[8..].copy_from_slice(&id.0.to_be_bytes());
    key
}

/// The (end, rental) of a key written by [`due_key`].
fn parse_due_key(key: &[u8]) -> Result<(Timestamp, RentalId), LedgerError> {
    let key: [u8; 16] = key
        .try_into()
        .map_err(|_| LedgerError::Corrupt("rentals_due: malformed key".into()))?;
    let (ends_at, id) = key.split_at(8);
    Ok((
        u64::from_be_bytes(ends_at.try_into().expect("8 bytes")),
        RentalId(u64::from_be_bytes(id.try_into().expect("8 bytes"))),
    ))
}

/// A changed record on its way to disk.
struct Record {
    key_hash: KeyHash,
    leaf_hash: NodeHash,
    family: &'static str,
    /// The versioned key in its column family.
    key: Vec<u8>,
    value: Vec<u8>,
}

impl Store {
    /// The earliest end of an active rental, if any rental is active: the
    /// time by which a block must settle it.
    pub fn next_rental_due(&self) -> Result<Option<Timestamp>, LedgerError> {
        let mut iter = self.db.iterator_cf(
            self.cf(cf::RENTALS_DUE),
            IteratorMode::From(&[], Direction::Forward),
        );
        match iter.next() {
            Some(item) => Ok(Some(parse_due_key(&item?.0)?.0)),
            None => Ok(None),
        }
    }
}

impl Record {
    fn new(
        state_key: StateKey<'_>,
        family: &'static str,
        key: &[u8],
        value: &impl BorshSerialize,
        height: Height,
    ) -> Self {
        let key_hash = state_key.hash();
        let value = codec::encode(value);
        Record {
            leaf_hash: tree::leaf_hash(&key_hash, &value),
            key_hash,
            family,
            key: versioned(key, height),
            value,
        }
    }
}

/// A write batch being filled one column family at a time.
struct Batch<'s> {
    store: &'s Store,
    batch: WriteBatch,
}

impl<'s> Batch<'s> {
    fn new(store: &'s Store, bytes: usize) -> Self {
        Batch {
            store,
            batch: WriteBatch::with_capacity_bytes(bytes),
        }
    }

    /// Puts `entries` into `family`, sorted by key.
    fn put_all<'v>(&mut self, family: &str, entries: impl Iterator<Item = (&'v [u8], &'v [u8])>) {
        let mut entries: Vec<(&[u8], &[u8])> = entries.collect();
        entries.sort_unstable_by_key(|(key, _)| *key);
        let handle = self.store.cf(family);
        for (key, value) in entries {
            self.batch.put_cf(handle, key, value);
        }
    }
}

impl StateReader for Store {
    fn account(&self, address: &Address) -> Result<Option<Account>, LedgerError> {
        self.cache.account(address, || {
            self.record(cf::ACCOUNTS, address.as_bytes(), "account")
        })
    }

    fn asset(&self, id: &AssetId) -> Result<Option<Asset>, LedgerError> {
        self.cache.asset(id, || {
            self.record(cf::ASSETS, &id.content_id().to_bytes(), "asset")
        })
    }

    fn listing(&self, id: ListingId) -> Result<Option<Listing>, LedgerError> {
        self.cache.listing(id, || {
            self.record(cf::LISTINGS, &id.0.to_be_bytes(), "listing")
        })
    }

    fn rental(&self, id: RentalId) -> Result<Option<Rental>, LedgerError> {
        self.cache.rental(id, || {
            self.record(cf::RENTALS, &id.0.to_be_bytes(), "rental")
        })
    }

    fn validator(&self, address: &Address) -> Result<Option<Validator>, LedgerError> {
        Ok(self
            .record::<Validator>(cf::VALIDATORS, address.as_bytes(), "validator")?
            .filter(|validator| validator.power > 0))
    }

    fn validators(&self) -> Result<Vec<Validator>, LedgerError> {
        Store::validators(self)
    }

    fn rentals_due(&self, time: Timestamp) -> Result<Vec<(Timestamp, RentalId)>, LedgerError> {
        let mut read = ReadOptions::default();
        if let Some(after) = time.checked_add(1) {
            read.set_iterate_upper_bound(after.to_be_bytes().to_vec());
        }
        self.db
            .iterator_cf_opt(
                self.cf(cf::RENTALS_DUE),
                read,
                IteratorMode::From(&[], Direction::Forward),
            )
            .map(|item| parse_due_key(&item?.0))
            .collect()
    }
}

impl NodeSource for Store {
    fn internal_node(
        &self,
        version: Version,
        path: &NibblePath,
    ) -> Result<Option<Arc<InternalNode>>, LedgerError> {
        if let Some(node) = self.cache.node(version, path) {
            return Ok(Some(node));
        }
        let mut key = Vec::with_capacity(48);
        key.extend_from_slice(&version.to_be_bytes());
        path.to_key_bytes(&mut key);
        let Some(bytes) = self.db.get_pinned_cf(self.cf(cf::TREE_NODES), &key)? else {
            return Ok(None);
        };
        let node = Arc::new(InternalNode::decode(&bytes)?);
        self.cache.remember_node(version, *path, node.clone());
        Ok(Some(node))
    }
}
