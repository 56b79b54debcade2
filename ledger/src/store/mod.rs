//! The ledger on disk: RocksDB, one column family per kind of record, and
//! one synced write batch per block.

mod cache;

use cache::MemoryCache;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use borsh::{BorshDeserialize, BorshSerialize};
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, DB, DBCompressionType, Direction,
    IteratorMode, Options, ReadOptions, WriteBatch, WriteOptions,
};

use crate::block::Block;
use crate::codec;
use crate::error::LedgerError;
use crate::execute::{BlockEffects, StateReader, StoredTxResult};
use crate::ids::{AssetId, BlockHash, Height, ListingId, RentalId, StateRoot, Timestamp, TxId};
use crate::keys::Address;
use crate::settle::Settlement;
use crate::state::{Account, Asset, ChainState, Listing, Rental, StateKey, Validator};
use crate::tree::{self, InternalNode, KeyHash, NibblePath, NodeHash, NodeSource, Version};

/// Column families.
mod cf {
    pub(super) const ACCOUNTS: &str = "accounts";
    pub(super) const ASSETS: &str = "assets";
    pub(super) const LISTINGS: &str = "listings";
    pub(super) const RENTALS: &str = "rentals";
    /// Active rentals by end: `ends_at ‖ rental id` (both big-endian).
    pub(super) const RENTALS_DUE: &str = "rentals_due";
    pub(super) const VALIDATORS: &str = "validators";
    /// Blocks with their outcome, by height.
    pub(super) const BLOCKS: &str = "blocks";
    /// Applied transactions: id → height ‖ index.
    pub(super) const TX_INDEX: &str = "tx_index";
    /// State tree internal nodes: version ‖ path.
    pub(super) const TREE_NODES: &str = "tree_nodes";
    /// State tree leaves: version ‖ key hash → record. Version first, so
    /// each block's leaves go in after the last block's.
    pub(super) const TREE_LEAVES: &str = "tree_leaves";
    /// The chain record and the genesis hash.
    pub(super) const META: &str = "meta";

    pub(super) const ALL: [&str; 11] = [
        ACCOUNTS,
        ASSETS,
        LISTINGS,
        RENTALS,
        RENTALS_DUE,
        VALIDATORS,
        BLOCKS,
        TX_INDEX,
        TREE_NODES,
        TREE_LEAVES,
        META,
    ];
}

const META_CHAIN: &[u8] = b"chain";
const META_GENESIS: &[u8] = b"genesis";
/// Largest stored record read back; anything larger is corruption.
const MAX_RECORD_BYTES: usize = 1 << 16;
/// Largest stored block record.
const MAX_STORED_BLOCK_BYTES: usize = 1 << 28;

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
        let cache = Cache::new_lru_cache(128 << 20);
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&cache);
        table.set_bloom_filter(10.0, false);
        table.set_cache_index_and_filter_blocks(true);

        let mut options = Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        options.set_max_background_jobs(2);
        options.set_max_total_wal_size(512 << 20);
        options.set_compression_type(DBCompressionType::Lz4);

        let descriptors = cf::ALL.iter().map(|name| {
            let mut cf_options = Options::default();
            cf_options.set_block_based_table_factory(&table);
            cf_options.set_compression_type(DBCompressionType::Lz4);
            cf_options.set_level_compaction_dynamic_level_bytes(true);
            let busy = matches!(*name, cf::TREE_NODES | cf::TREE_LEAVES | cf::BLOCKS);
            cf_options.set_write_buffer_size(if busy { 128 << 20 } else { 32 << 20 });
            ColumnFamilyDescriptor::new(*name, cf_options)
        });
        let db = DB::open_cf_descriptors(&options, path, descriptors)?;
        Ok(Store {
            db,
            path: path.to_path_buf(),
            cache: MemoryCache::new(),
        })
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

    fn get<T: BorshDeserialize>(
        &self,
        cf_name: &str,
        key: &[u8],
        what: &'static str,
    ) -> Result<Option<T>, LedgerError> {
        match self.db.get_pinned_cf(self.cf(cf_name), key)? {
            Some(bytes) => codec::decode(what, &bytes, MAX_RECORD_BYTES)
                .map(Some)
                .map_err(|err| LedgerError::Corrupt(format!("{cf_name}: {err}"))),
            None => Ok(None),
        }
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
            Some(bytes) => codec::decode("stored block", &bytes, MAX_STORED_BLOCK_BYTES)
                .map(Some)
                .map_err(|err| LedgerError::Corrupt(format!("block {height}: {err}"))),
            None => Ok(None),
        }
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

    /// Every record in a column family, in key order.
    fn scan<T: BorshDeserialize>(
        &self,
        cf_name: &str,
        what: &'static str,
    ) -> Result<Vec<T>, LedgerError> {
        self.db
            .iterator_cf(self.cf(cf_name), IteratorMode::Start)
            .map(|item| {
                let (_, value) = item?;
                codec::decode(what, &value, MAX_RECORD_BYTES)
                    .map_err(|err| LedgerError::Corrupt(format!("{cf_name}: {err}")))
            })
            .collect()
    }

    /// Every account with its address.
    pub fn accounts(&self) -> Result<Vec<(Address, Account)>, LedgerError> {
        self.db
            .iterator_cf(self.cf(cf::ACCOUNTS), IteratorMode::Start)
            .map(|item| {
                let (key, value) = item?;
                let address: [u8; 32] = key
                    .as_ref()
                    .try_into()
                    .map_err(|_| LedgerError::Corrupt("accounts: key is not an address".into()))?;
                let account = codec::decode("account", &value, MAX_RECORD_BYTES)
                    .map_err(|err| LedgerError::Corrupt(format!("accounts: {err}")))?;
                Ok((Address::from_bytes(address), account))
            })
            .collect()
    }

    /// Every asset.
    pub fn assets(&self) -> Result<Vec<Asset>, LedgerError> {
        self.scan(cf::ASSETS, "asset")
    }

    /// Every listing, open or closed.
    pub fn listings(&self) -> Result<Vec<Listing>, LedgerError> {
        self.scan(cf::LISTINGS, "listing")
    }

    /// Every rental, active or ended.
    pub fn rentals(&self) -> Result<Vec<Rental>, LedgerError> {
        self.scan(cf::RENTALS, "rental")
    }

    /// Every validator.
    pub fn validators(&self) -> Result<Vec<Validator>, LedgerError> {
        self.scan(cf::VALIDATORS, "validator")
    }

    /// The state root after block `height`.
    pub fn state_root(&self, height: Height) -> Result<Option<StateRoot>, LedgerError> {
        Ok(self
            .internal_node(height, &NibblePath::ROOT)?
            .map(|root| StateRoot(root.hash())))
    }

    /// Writes a block and everything it changed in one synced batch, and
    /// returns the new state root. Block 0 carries the validators.
    pub fn commit(
        &mut self,
        block: &Block,
        effects: &BlockEffects,
        validators: &[Validator],
    ) -> Result<StateRoot, LedgerError> {
        let height = block.header.height;

        // Each changed record with its state-tree key, its column family
        // and key there, and its bytes, which go both to its column family
        // and to the tree's leaf history.
        let mut records: Vec<Record> = Vec::with_capacity(
            effects.accounts.len()
                + effects.assets.len()
                + effects.listings.len()
                + effects.rentals.len()
                + validators.len()
                + 1,
        );
        for (address, account) in &effects.accounts {
            records.push(Record::new(
                StateKey::Account(address),
                cf::ACCOUNTS,
                address.as_bytes().to_vec(),
                account,
            ));
        }
        for (id, asset) in &effects.assets {
            records.push(Record::new(
                StateKey::Asset(id),
                cf::ASSETS,
                id.content_id().to_bytes(),
                asset,
            ));
        }
        for (id, listing) in &effects.listings {
            records.push(Record::new(
                StateKey::Listing(*id),
                cf::LISTINGS,
                id.0.to_be_bytes().to_vec(),
                listing,
            ));
        }
        for (id, rental) in &effects.rentals {
            records.push(Record::new(
                StateKey::Rental(*id),
                cf::RENTALS,
                id.0.to_be_bytes().to_vec(),
                rental,
            ));
        }
        for validator in validators {
            records.push(Record::new(
                StateKey::Validator(&validator.address),
                cf::VALIDATORS,
                validator.address.as_bytes().to_vec(),
                validator,
            ));
        }
        records.push(Record::new(
            StateKey::Chain,
            cf::META,
            META_CHAIN.to_vec(),
            &effects.chain,
        ));
        records.sort_unstable_by_key(|record| record.key_hash);

        let changes: Vec<(KeyHash, NodeHash)> = records
            .iter()
            .map(|record| {
                (
                    record.key_hash,
                    tree::leaf_hash(&record.key_hash, &record.value),
                )
            })
            .collect();
        let update = tree::update(&*self, height.checked_sub(1), height, &changes)?;
        let state_root = StateRoot(update.root);

        let mut stored = Vec::with_capacity(block.txs.len() * 320 + 4096);
        codec::encode_into(
            &StoredBlockRef {
                block,
                state_root: &state_root,
                results: effects.results.iter().map(StoredTxResult::from).collect(),
                settlements: &effects.settlements,
            },
            &mut stored,
        );
        let size = stored.len()
            + records
                .iter()
                .map(|r| 2 * r.value.len() + 96)
                .sum::<usize>()
            + update.nodes.len() * 600
            + effects.results.len() * 64;
        let mut batch = Batch::new(self, size);

        // Within a column family, RocksDB's skip list starts each insert
        // where the previous one went, so every family is written in key
        // order.
        let leaf_key = |record: &Record| {
            let mut key = Vec::with_capacity(40);
            key.extend_from_slice(&height.to_be_bytes());
            key.extend_from_slice(&record.key_hash);
            key
        };
        batch.put_all(
            cf::TREE_LEAVES,
            records.iter().map(|r| (leaf_key(r), &r.value[..])),
        );
        for family in [
            cf::ACCOUNTS,
            cf::ASSETS,
            cf::LISTINGS,
            cf::RENTALS,
            cf::VALIDATORS,
            cf::META,
        ] {
            batch.put_all(
                family,
                records
                    .iter()
                    .filter(|r| r.family == family)
                    .map(|r| (r.key.clone(), &r.value[..])),
            );
        }
        let nodes: Vec<(Vec<u8>, Vec<u8>)> = update
            .nodes
            .iter()
            .map(|(path, node)| {
                let mut key = Vec::with_capacity(42);
                key.extend_from_slice(&height.to_be_bytes());
                path.to_key_bytes(&mut key);
                (key, node.encode())
            })
            .collect();
        batch.put_all(
            cf::TREE_NODES,
            nodes.iter().map(|(k, v)| (k.clone(), &v[..])),
        );
        batch.put_all(
            cf::RENTALS_DUE,
            effects
                .due_added
                .iter()
                .map(|(ends_at, id)| (due_key(*ends_at, *id).to_vec(), &[][..])),
        );
        for (ends_at, id) in &effects.due_removed {
            batch
                .batch
                .delete_cf(self.cf(cf::RENTALS_DUE), due_key(*ends_at, *id));
        }
        let locations: Vec<(TxId, [u8; 12])> = effects
            .results
            .iter()
            .enumerate()
            .filter(|(_, result)| result.outcome.is_ok())
            .map(|(index, result)| {
                let index = u32::try_from(index).expect("blocks hold at most MAX_BLOCK_TXS");
                let mut location = [0u8; 12];
                location[..8].copy_from_slice(&height.to_be_bytes());
                location[8..].copy_from_slice(&index.to_be_bytes());
                (result.id, location)
            })
            .collect();
        batch.put_all(
            cf::TX_INDEX,
            locations.iter().map(|(id, loc)| (id.0.to_vec(), &loc[..])),
        );
        batch.put_all(
            cf::BLOCKS,
            std::iter::once((height.to_be_bytes().to_vec(), &stored[..])),
        );
        let genesis = codec::encode(&block.hash());
        if height == 0 {
            batch.put_all(
                cf::META,
                std::iter::once((META_GENESIS.to_vec(), &genesis[..])),
            );
        }

        let mut sync = WriteOptions::default();
        sync.set_sync(true);
        self.db.write_opt(batch.batch, &sync)?;
        self.cache.committed(height, effects, update.nodes);
        Ok(state_root)
    }
}

/// A changed record on its way to disk.
struct Record {
    key_hash: KeyHash,
    family: &'static str,
    key: Vec<u8>,
    value: Vec<u8>,
}

impl Record {
    fn new(
        state_key: StateKey<'_>,
        family: &'static str,
        key: Vec<u8>,
        value: &impl BorshSerialize,
    ) -> Self {
        Record {
            key_hash: state_key.hash(),
            family,
            key,
            value: codec::encode(value),
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
    fn put_all<'v>(&mut self, family: &str, entries: impl Iterator<Item = (Vec<u8>, &'v [u8])>) {
        let mut entries: Vec<(Vec<u8>, &[u8])> = entries.collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let handle = self.store.cf(family);
        for (key, value) in entries {
            self.batch.put_cf(handle, key, value);
        }
    }
}

/// Encodes exactly as [`StoredBlock`], without copying the block.
#[derive(BorshSerialize)]
struct StoredBlockRef<'a> {
    block: &'a Block,
    state_root: &'a StateRoot,
    results: Vec<StoredTxResult>,
    settlements: &'a [Settlement],
}

fn due_key(ends_at: Timestamp, id: RentalId) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&ends_at.to_be_bytes());
    key[8..].copy_from_slice(&id.0.to_be_bytes());
    key
}

impl StateReader for Store {
    fn account(&self, address: &Address) -> Result<Option<Account>, LedgerError> {
        self.cache.account(address, || {
            self.get(cf::ACCOUNTS, address.as_bytes(), "account")
        })
    }

    fn asset(&self, id: &AssetId) -> Result<Option<Asset>, LedgerError> {
        self.cache.asset(id, || {
            self.get(cf::ASSETS, &id.content_id().to_bytes(), "asset")
        })
    }

    fn listing(&self, id: ListingId) -> Result<Option<Listing>, LedgerError> {
        self.cache.listing(id, || {
            self.get(cf::LISTINGS, &id.0.to_be_bytes(), "listing")
        })
    }

    fn rental(&self, id: RentalId) -> Result<Option<Rental>, LedgerError> {
        self.cache
            .rental(id, || self.get(cf::RENTALS, &id.0.to_be_bytes(), "rental"))
    }

    fn validator(&self, address: &Address) -> Result<Option<Validator>, LedgerError> {
        self.get(cf::VALIDATORS, address.as_bytes(), "validator")
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
            .map(|item| {
                let (key, _) = item?;
                let key: [u8; 16] = key
                    .as_ref()
                    .try_into()
                    .map_err(|_| LedgerError::Corrupt("rentals_due: malformed key".into()))?;
                let (ends_at, id) = key.split_at(8);
                Ok((
                    u64::from_be_bytes(ends_at.try_into().expect("8 bytes")),
                    RentalId(u64::from_be_bytes(id.try_into().expect("8 bytes"))),
                ))
            })
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

    fn leaf_value(&self, key: &KeyHash, version: Version) -> Result<Option<Vec<u8>>, LedgerError> {
        let mut leaf_key = [0u8; 40];
        leaf_key[..8].copy_from_slice(&version.to_be_bytes());
        leaf_key[8..].copy_from_slice(key);
        Ok(self
            .db
            .get_pinned_cf(self.cf(cf::TREE_LEAVES), leaf_key)?
            .map(|bytes| bytes.to_vec()))
    }
}
