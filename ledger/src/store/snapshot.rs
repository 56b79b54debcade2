//! Writing the state out as a snapshot, and rebuilding a store from one.
//!
//! A restore writes each chunk's records as it arrives, with a marker for
//! the chunk in the same batch, so an interrupted restore resumes with the
//! chunks it lacks. Only when every chunk is in and the state tree built
//! from the records has the manifest's root is the chain record written:
//! until then the directory holds no ledger that could be opened.

use std::collections::BTreeSet;

use rocksdb::{Direction, IteratorMode, ReadOptions, WriteBatch, WriteOptions};

use super::{META_CHAIN, META_FORMAT, META_GENESIS, Record, STORE_FORMAT, Store, cf, due_key};
use crate::codec;
use crate::error::LedgerError;
use crate::ids::{BlockHash, Height, ListingId, RentalId, StateRoot};
use crate::keys::Address;
use crate::snapshot::{Chunker, Entry, SnapshotManifest};
use crate::state::{ChainState, RentalStatus, StateKey};
use crate::tree::{self, KeyHash, NodeHash};

/// The manifest of the restore under way.
const META_RESTORE: &[u8] = b"restore";
/// Prefix of a restored chunk's marker: the prefix, then its number.
const META_RESTORED: &[u8] = b"restored/";
/// The chain record of the restore under way.
const META_RESTORE_CHAIN: &[u8] = b"restore-chain";

/// The families a snapshot holds, each with its entry tag.
const FAMILIES: [(&str, u8); 5] = [
    (cf::ACCOUNTS, 0),
    (cf::ASSETS, 1),
    (cf::LISTINGS, 2),
    (cf::RENTALS, 3),
    (cf::VALIDATORS, 4),
];
/// The chain record's entry tag.
const CHAIN_TAG: u8 = 5;

impl Store {
    /// Whether a restore is under way here (begun, not finished).
    pub(crate) fn restoring(&self) -> Result<bool, LedgerError> {
        Ok(self
            .db
            .get_pinned_cf(self.cf(cf::META), META_RESTORE)?
            .is_some())
    }

    /// Hands every record in force to `chunker`: accounts, assets,
    /// listings, rentals, validators, then the chain record.
    pub(crate) fn snapshot<F>(&self, chunker: &mut Chunker<F>) -> Result<(), LedgerError>
    where
        F: FnMut(u32, Vec<u8>) -> Result<(), LedgerError>,
    {
        for (family, tag) in FAMILIES {
            self.each_newest(family, |natural, value| {
                // An account's entry carries its address; every other
                // record carries its own id.
                let prefix = if family == cf::ACCOUNTS { natural } else { &[] };
                chunker.push(tag, prefix, value)
            })?;
        }
        let chain = self
            .db
            .get_pinned_cf(self.cf(cf::META), META_CHAIN)?
            .ok_or_else(|| LedgerError::Corrupt("no chain record".into()))?;
        chunker.push(CHAIN_TAG, &[], &chain)
    }

    /// Starts restoring `manifest` into this store, or finds the restore of
    /// it under way: the chunks already in. A store that holds a ledger,
    /// or the restore of another snapshot, is refused.
    pub(crate) fn begin_restore(
        &self,
        manifest: &SnapshotManifest,
    ) -> Result<BTreeSet<u32>, LedgerError> {
        if self.genesis_hash()?.is_some() {
            return Err(LedgerError::BadSnapshot(format!(
                "{} already holds a ledger",
                self.path.display()
            )));
        }
        let bytes = manifest.to_bytes();
        match self.db.get_pinned_cf(self.cf(cf::META), META_RESTORE)? {
            Some(found) if found.as_ref() == bytes.as_slice() => {}
            Some(_) => {
                return Err(LedgerError::BadSnapshot(format!(
                    "{} holds the restore of another snapshot",
                    self.path.display()
                )));
            }
            None => {
                let mut sync = WriteOptions::default();
                sync.set_sync(true);
                let mut batch = WriteBatch::default();
                batch.put_cf(self.cf(cf::META), META_RESTORE, &bytes);
                self.db.write_opt(batch, &sync)?;
            }
        }
        let mut done = BTreeSet::new();
        let mut read = ReadOptions::default();
        let mut upper = META_RESTORED.to_vec();
        upper.push(0xff);
        read.set_iterate_upper_bound(upper);
        for item in self.db.iterator_cf_opt(
            self.cf(cf::META),
            read,
            IteratorMode::From(META_RESTORED, Direction::Forward),
        ) {
            let (key, _) = item?;
            let index: [u8; 4] = key[META_RESTORED.len()..]
                .try_into()
                .map_err(|_| LedgerError::Corrupt("meta: malformed chunk marker".into()))?;
            done.insert(u32::from_be_bytes(index));
        }
        Ok(done)
    }

    /// Writes chunk `index`'s records at version `height`, with its marker.
    pub(crate) fn restore_chunk(
        &self,
        height: Height,
        index: u32,
        entries: Vec<Entry>,
    ) -> Result<(), LedgerError> {
        let mut batch = WriteBatch::default();
        for entry in entries {
            let (family, key, value): (&str, Vec<u8>, Vec<u8>) = match entry {
                Entry::Account(address, account) => (
                    cf::ACCOUNTS,
                    address.as_bytes().to_vec(),
                    codec::encode(&account),
                ),
                Entry::Asset(asset) => (
                    cf::ASSETS,
                    asset.id.content_id().to_bytes(),
                    codec::encode(&asset),
                ),
                Entry::Listing(listing) => (
                    cf::LISTINGS,
                    listing.id.0.to_be_bytes().to_vec(),
                    codec::encode(&listing),
                ),
                Entry::Rental(rental) => (
                    cf::RENTALS,
                    rental.id.0.to_be_bytes().to_vec(),
                    codec::encode(&rental),
                ),
                Entry::Validator(validator) => (
                    cf::VALIDATORS,
                    validator.address.as_bytes().to_vec(),
                    codec::encode(&validator),
                ),
                Entry::Chain(chain) => {
                    if chain.height != height {
                        return Err(LedgerError::BadSnapshot(format!(
                            "a chain record of height {}, in a snapshot of height {height}",
                            chain.height
                        )));
                    }
                    batch.put_cf(self.cf(cf::META), META_RESTORE_CHAIN, codec::encode(&chain));
                    continue;
                }
            };
            batch.put_cf(self.cf(family), super::versioned(&key, height), value);
        }
        let mut marker = META_RESTORED.to_vec();
        marker.extend_from_slice(&index.to_be_bytes());
        batch.put_cf(self.cf(cf::META), marker, []);
        // Not synced: a chunk lost to a crash is fetched again, since its
        // marker goes with it.
        self.db.write(batch)?;
        Ok(())
    }

    /// Builds the state tree over every restored record and, if its root
    /// is the manifest's, makes the store a ledger at the snapshot's
    /// height. Otherwise nothing is made and the error says why.
    pub(crate) fn finish_restore(
        &mut self,
        manifest: &SnapshotManifest,
        genesis: BlockHash,
    ) -> Result<ChainState, LedgerError> {
        let height = manifest.height;
        let chain_bytes = self
            .db
            .get_pinned_cf(self.cf(cf::META), META_RESTORE_CHAIN)?
            .ok_or_else(|| LedgerError::BadSnapshot("no chain record in the snapshot".into()))?
            .to_vec();
        let chain: ChainState = codec::decode("chain record", &chain_bytes, 1 << 16)?;
        if chain.chain_id != manifest.chain_id || chain.height != height {
            return Err(LedgerError::BadSnapshot(format!(
                "the chain record is of {} at height {}, the manifest of {} at height {height}",
                chain.chain_id, chain.height, manifest.chain_id
            )));
        }

        let mut leaves: Vec<(KeyHash, NodeHash)> = Vec::new();
        let mut due: Vec<[u8; 16]> = Vec::new();
        for (family, _) in FAMILIES {
            self.each_newest(family, |natural, value| {
                let key_hash = match family {
                    cf::ACCOUNTS | cf::VALIDATORS => {
                        let address = Address::from_bytes(natural.try_into().map_err(|_| {
                            LedgerError::Corrupt(format!("{family}: key is not an address"))
                        })?);
                        if family == cf::ACCOUNTS {
                            StateKey::Account(&address).hash()
                        } else {
                            StateKey::Validator(&address).hash()
                        }
                    }
                    cf::ASSETS => {
                        let asset: crate::state::Asset = codec::decode("asset", value, 1 << 16)?;
                        StateKey::Asset(&asset.id).hash()
                    }
                    cf::LISTINGS => StateKey::Listing(ListingId(be_u64(family, natural)?)).hash(),
                    _ => {
                        let rental: crate::state::Rental = codec::decode("rental", value, 1 << 16)?;
                        if rental.status == RentalStatus::Active {
                            due.push(due_key(rental.ends_at, rental.id));
                        }
                        StateKey::Rental(RentalId(be_u64(family, natural)?)).hash()
                    }
                };
                leaves.push((key_hash, tree::leaf_hash(&key_hash, value)));
                Ok(())
            })?;
        }
        let chain_record = Record::new(StateKey::Chain, cf::META, META_CHAIN, &chain, height);
        leaves.push((chain_record.key_hash, chain_record.leaf_hash));
        leaves.sort_unstable_by_key(|(key, _)| *key);
        if leaves.windows(2).any(|pair| pair[0].0 == pair[1].0) {
            return Err(LedgerError::BadSnapshot("a record appears twice".into()));
        }
        let update = tree::update(&*self, None, height, &leaves)?;
        let root = StateRoot(update.root);
        if root != manifest.state_root {
            return Err(LedgerError::SnapshotRootMismatch {
                height,
                expected: manifest.state_root,
                got: root,
            });
        }

        let mut batch = WriteBatch::default();
        for (path, node) in &update.nodes {
            let mut key = Vec::with_capacity(42);
            key.extend_from_slice(&height.to_be_bytes());
            path.to_key_bytes(&mut key);
            batch.put_cf(self.cf(cf::TREE_NODES), key, node.encode());
        }
        for key in &due {
            batch.put_cf(self.cf(cf::RENTALS_DUE), key, []);
        }
        let meta = self.cf(cf::META);
        batch.put_cf(meta, META_CHAIN, &chain_bytes);
        batch.put_cf(meta, META_GENESIS, codec::encode(&genesis));
        batch.put_cf(meta, META_FORMAT, STORE_FORMAT.to_be_bytes());
        batch.delete_cf(meta, META_RESTORE);
        batch.delete_cf(meta, META_RESTORE_CHAIN);
        let mut upper = META_RESTORED.to_vec();
        upper.push(0xff);
        batch.delete_range_cf(meta, META_RESTORED, &upper);
        let mut sync = WriteOptions::default();
        sync.set_sync(true);
        self.db.write_opt(batch, &sync)?;
        self.cache.clear();
        Ok(chain)
    }
}

fn be_u64(family: &str, key: &[u8]) -> Result<u64, LedgerError> {
    let bytes: [u8; 8] = key
        .try_into()
        .map_err(|_| LedgerError::Corrupt(format!("{family}: key is not a number")))?;
    Ok(u64::from_be_bytes(bytes))
}
