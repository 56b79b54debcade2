//! Decoded records and state-tree nodes kept in memory between blocks, so
//! that applying a block rarely reaches RocksDB. Every entry mirrors what is
//! committed: the store fills an entry when it reads it and refreshes it
//! when it commits a block, after the write succeeded.

use std::hash::Hash;
use std::sync::{Arc, Mutex, RwLock};

use crate::error::LedgerError;
use crate::execute::BlockEffects;
use crate::hashing::FastMap;
use crate::ids::{AssetId, ListingId, RentalId};
use crate::keys::Address;
use crate::state::{Account, Asset, Listing, Rental};
use crate::tree::{InternalNode, NibblePath, Version};

/// Entries per kind of record; a full map is emptied and refilled.
const RECORDS_CAPACITY: usize = 1 << 20;
/// Tree nodes kept.
const NODES_CAPACITY: usize = 1 << 20;

type Records<K, V> = Mutex<FastMap<K, Option<V>>>;

/// The caches of one store.
pub(super) struct MemoryCache {
    /// The latest node at each path, with the version that wrote it.
    nodes: RwLock<FastMap<NibblePath, (Version, Arc<InternalNode>)>>,
    accounts: Records<Address, Account>,
    assets: Records<AssetId, Asset>,
    listings: Records<ListingId, Listing>,
    rentals: Records<RentalId, Rental>,
}

impl MemoryCache {
    pub(super) fn new() -> Self {
        MemoryCache {
            nodes: RwLock::new(FastMap::default()),
            accounts: Mutex::new(FastMap::default()),
            assets: Mutex::new(FastMap::default()),
            listings: Mutex::new(FastMap::default()),
            rentals: Mutex::new(FastMap::default()),
        }
    }

    pub(super) fn account(
        &self,
        address: &Address,
        load: impl FnOnce() -> Result<Option<Account>, LedgerError>,
    ) -> Result<Option<Account>, LedgerError> {
        read_through(&self.accounts, *address, load)
    }

    pub(super) fn asset(
        &self,
        id: &AssetId,
        load: impl FnOnce() -> Result<Option<Asset>, LedgerError>,
    ) -> Result<Option<Asset>, LedgerError> {
        read_through(&self.assets, *id, load)
    }

    pub(super) fn listing(
        &self,
        id: ListingId,
        load: impl FnOnce() -> Result<Option<Listing>, LedgerError>,
    ) -> Result<Option<Listing>, LedgerError> {
        read_through(&self.listings, id, load)
    }

    pub(super) fn rental(
        &self,
        id: RentalId,
        load: impl FnOnce() -> Result<Option<Rental>, LedgerError>,
    ) -> Result<Option<Rental>, LedgerError> {
        read_through(&self.rentals, id, load)
    }

    /// The node at `path` if the cached one is the one `version` wrote.
    pub(super) fn node(&self, version: Version, path: &NibblePath) -> Option<Arc<InternalNode>> {
        let nodes = self
            .nodes
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match nodes.get(path) {
            Some((cached, node)) if *cached == version => Some(node.clone()),
            _ => None,
        }
    }

    /// Remembers a node read from disk, unless a newer one is cached.
    pub(super) fn remember_node(
        &self,
        version: Version,
        path: NibblePath,
        node: Arc<InternalNode>,
    ) {
        let mut nodes = self
            .nodes
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let newer = nodes.get(&path).is_none_or(|(cached, _)| *cached < version);
        if newer && nodes.len() < NODES_CAPACITY {
            nodes.insert(path, (version, node));
        }
    }

    /// Forgets everything.
    pub(super) fn clear(&self) {
        self.nodes
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
        lock(&self.accounts).clear();
        lock(&self.assets).clear();
        lock(&self.listings).clear();
        lock(&self.rentals).clear();
    }

    /// Takes in what block `height` wrote.
    pub(super) fn committed(
        &self,
        height: Version,
        effects: &BlockEffects,
        new_nodes: Vec<(NibblePath, InternalNode)>,
    ) {
        {
            let mut nodes = self
                .nodes
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if nodes.len().saturating_add(new_nodes.len()) > NODES_CAPACITY {
                nodes.clear();
            }
            for (path, node) in new_nodes {
                nodes.insert(path, (height, Arc::new(node)));
            }
        }
        write(
            &self.accounts,
            effects.accounts.iter().map(|(k, v)| (*k, *v)),
        );
        write(
            &self.assets,
            effects.assets.iter().map(|(k, v)| (*k, v.clone())),
        );
        write(
            &self.listings,
            effects.listings.iter().map(|(k, v)| (*k, v.clone())),
        );
        write(
            &self.rentals,
            effects.rentals.iter().map(|(k, v)| (*k, v.clone())),
        );
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn read_through<K: Copy + Eq + Hash, V: Clone>(
    records: &Records<K, V>,
    key: K,
    load: impl FnOnce() -> Result<Option<V>, LedgerError>,
) -> Result<Option<V>, LedgerError> {
    if let Some(value) = lock(records).get(&key) {
        return Ok(value.clone());
    }
    let value = load()?;
    let mut records = lock(records);
    if records.len() >= RECORDS_CAPACITY {
        records.clear();
    }
    records.insert(key, value.clone());
    Ok(value)
}

fn write<K: Copy + Eq + Hash, V>(
    records: &Records<K, V>,
    entries: impl ExactSizeIterator<Item = (K, V)>,
) {
    let mut records = lock(records);
    if records.len().saturating_add(entries.len()) > RECORDS_CAPACITY {
        records.clear();
    }
    for (key, value) in entries {
        records.insert(key, Some(value));
    }
}
