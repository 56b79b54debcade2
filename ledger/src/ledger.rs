//! The ledger handle: a store, the chain's head, and a signature verifier.

use std::collections::BTreeSet;
use std::path::Path;

use tracing::{debug, info};

use crate::block::{Block, Commitments, CommittedBlock, validator_set_hash};
use crate::error::LedgerError;
use crate::execute::{self, BlockEffects, StateReader};
use crate::genesis::Genesis;
use crate::ids::{AssetId, BlockHash, Height, ListingId, RentalId, StateRoot, Timestamp, TxId};
use crate::keys::Address;
use crate::proof::AssetProof;
use crate::snapshot::{self, Chunker, SnapshotManifest};
use crate::state::{
    Account, Asset, ChainState, Listing, Rental, Validator, ValidatorChange, powers_after,
};
use crate::store::{Store, StoredBlock, TxLocation};
use crate::tx::{SignedTransaction, Transaction};
use crate::verify::{VerifiedBlock, Verifier};

/// A block verified and applied against the committed state, not yet
/// written: [`Ledger::prepare`] makes one, [`Ledger::commit_prepared`]
/// writes it.
#[derive(Debug)]
pub struct PreparedBlock {
    verified: VerifiedBlock,
    effects: BlockEffects,
    /// The last committed block it was applied on.
    on: BlockHash,
}

impl PreparedBlock {
    /// The block.
    pub fn block(&self) -> &Block {
        self.verified.block()
    }
}

/// One host's copy of the ledger.
pub struct Ledger {
    store: Store,
    chain: ChainState,
    state_root: StateRoot,
    verifier: Verifier,
}

impl Ledger {
    /// Opens the ledger at `path`, creating it from `genesis` if the
    /// directory holds none. A ledger made from another genesis is refused.
    pub fn create(path: impl AsRef<Path>, genesis: &Genesis) -> Result<Self, LedgerError> {
        let path = path.as_ref();
        let mut store = Store::open(path)?;
        if store.restoring()? {
            return Err(LedgerError::BadSnapshot(format!(
                "{} holds a snapshot being restored, not a ledger: finish the restore or remove it",
                path.display()
            )));
        }
        let block = genesis.block();
        match store.genesis_hash()? {
            Some(found) if found == block.hash() => return Self::from_store(store),
            Some(found) => {
                let chain = store.chain()?.ok_or_else(|| {
                    LedgerError::Corrupt("genesis hash without a chain record".into())
                })?;
                return Err(LedgerError::GenesisMismatch {
                    path: path.display().to_string(),
                    found: chain.chain_id,
                    found_genesis: found,
                    expected_genesis: block.hash(),
                });
            }
            None => {}
        }
        let effects = genesis.effects()?;
        store.commit(&block, &effects, None)?;
        info!(chain = %genesis.chain_id, path = %path.display(), "ledger created");
        Self::from_store(store)
    }

    /// Opens an existing ledger at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, LedgerError> {
        let path = path.as_ref();
        if !path.join("CURRENT").exists() {
            return Err(LedgerError::NotInitialized(path.display().to_string()));
        }
        Self::from_store(Store::open(path)?)
    }

    fn from_store(store: Store) -> Result<Self, LedgerError> {
        let chain = store
            .chain()?
            .ok_or_else(|| LedgerError::NotInitialized(store.path().display().to_string()))?;
        let state_root = store.state_root(chain.height)?.ok_or_else(|| {
            LedgerError::Corrupt(format!("no state root at height {}", chain.height))
        })?;
        info!(chain = %chain.chain_id, height = chain.height, root = %state_root, "ledger opened");
        Ok(Ledger {
            verifier: Verifier::new(chain.chain_id.clone()),
            store,
            chain,
            state_root,
        })
    }

    /// The chain record after the last committed block.
    pub fn chain(&self) -> &ChainState {
        &self.chain
    }

    /// The last committed height.
    pub fn height(&self) -> Height {
        self.chain.height
    }

    /// The state root after the last committed block.
    pub fn state_root(&self) -> StateRoot {
        self.state_root
    }

    /// A verifier for this chain, sharing the ledger's key cache; it can
    /// check the next block on another thread while this one commits.
    pub fn verifier(&self) -> Verifier {
        self.verifier.clone()
    }

    /// The block that would follow the last committed one.
    pub fn next_block(
        &self,
        time: Timestamp,
        proposer: Address,
        txs: Vec<SignedTransaction>,
    ) -> Result<Block, LedgerError> {
        Ok(Block::new(
            self.chain.chain_id.clone(),
            self.chain.height.saturating_add(1),
            time,
            proposer,
            self.chain.last_block,
            self.next_commitments()?,
            txs,
        ))
    }

    /// What the next block's header must commit to: the state root now
    /// and the validators of its height and of the one after.
    pub fn next_commitments(&self) -> Result<Commitments, LedgerError> {
        let height = self.chain.height.saturating_add(1);
        Ok(Commitments {
            state_root: self.state_root,
            validators: validator_set_hash(&self.validators_at(height)?),
            next_validators: validator_set_hash(&self.validators_at(height.saturating_add(1))?),
        })
    }

    /// An error if `block` follows the last block but its header commits
    /// to another state or other validators than this ledger's; a block
    /// that does not follow it is left to [`execute::apply_block`] to
    /// refuse.
    fn check_commitments(&self, block: &Block) -> Result<(), LedgerError> {
        let header = &block.header;
        if Some(header.height) != self.chain.height.checked_add(1)
            || header.parent != self.chain.last_block
        {
            return Ok(());
        }
        let expected = self.next_commitments()?;
        let got = header.commitments;
        if got.state_root != expected.state_root {
            return Err(LedgerError::StateRootMismatch {
                height: header.height,
                expected: expected.state_root,
                got: got.state_root,
            });
        }
        if got.validators != expected.validators {
            return Err(LedgerError::ValidatorSetMismatch {
                height: header.height,
                which: "its own",
            });
        }
        if got.next_validators != expected.next_validators {
            return Err(LedgerError::ValidatorSetMismatch {
                height: header.height,
                which: "the next height's",
            });
        }
        Ok(())
    }

    /// Verifies, applies and durably commits `block`.
    pub fn commit_block(&mut self, block: Block) -> Result<CommittedBlock, LedgerError> {
        let verified = self.verifier.verify_block(block)?;
        self.commit_verified(verified)
    }

    /// Applies and durably commits a block whose signatures were checked.
    /// When this returns `Ok`, the block is on disk.
    pub fn commit_verified(
        &mut self,
        verified: VerifiedBlock,
    ) -> Result<CommittedBlock, LedgerError> {
        self.commit_with(verified, None)
    }

    /// Verifies, applies and durably commits `block` together with the
    /// certificate that finalized it, in one write: after a crash both are
    /// there or neither is.
    pub fn commit_certified(
        &mut self,
        block: Block,
        certificate: &[u8],
    ) -> Result<CommittedBlock, LedgerError> {
        let verified = self.verifier.verify_block(block)?;
        self.commit_with(verified, Some(certificate))
    }

    /// Verifies and applies `block` on top of the committed state without
    /// writing anything: whether it is valid, and its effects ready for
    /// [`Ledger::commit_prepared`].
    pub fn prepare(&self, block: Block) -> Result<PreparedBlock, LedgerError> {
        self.check_commitments(&block)?;
        let verified = self.verifier.verify_block(block)?;
        let effects = execute::apply_block(&self.store, &self.chain, &verified)?;
        Ok(PreparedBlock {
            verified,
            effects,
            on: self.chain.last_block,
        })
    }

    /// Durably commits a prepared block, with its certificate if given, in
    /// one write. Prepared on another state than the committed one (a block
    /// was committed since), it is applied again first.
    pub fn commit_prepared(
        &mut self,
        prepared: PreparedBlock,
        certificate: Option<&[u8]>,
    ) -> Result<CommittedBlock, LedgerError> {
        if prepared.on != self.chain.last_block {
            return self.commit_with(prepared.verified, certificate);
        }
        self.write(prepared.verified, prepared.effects, certificate)
    }

    /// The certificate committed with the block at `height`, if any.
    pub fn certificate(&self, height: Height) -> Result<Option<Vec<u8>>, LedgerError> {
        self.store.certificate(height)
    }

    fn commit_with(
        &mut self,
        verified: VerifiedBlock,
        certificate: Option<&[u8]>,
    ) -> Result<CommittedBlock, LedgerError> {
        self.check_commitments(verified.block())?;
        let effects = execute::apply_block(&self.store, &self.chain, &verified)?;
        self.write(verified, effects, certificate)
    }

    fn write(
        &mut self,
        verified: VerifiedBlock,
        effects: BlockEffects,
        certificate: Option<&[u8]>,
    ) -> Result<CommittedBlock, LedgerError> {
        let block = verified.into_block();
        let state_root = self.store.commit(&block, &effects, certificate)?;
        let hash = block.hash();
        let time = block.header.time;
        debug!(
            height = block.header.height,
            txs = block.txs.len(),
            settled = effects.settlements.len(),
            root = %state_root,
            "block committed"
        );
        self.chain = effects.chain;
        self.state_root = state_root;
        Ok(CommittedBlock {
            height: block.header.height,
            hash,
            state_root,
            time,
            results: effects.results,
            settlements: effects.settlements,
            accounts: effects.accounts,
            assets: effects.assets.into_iter().map(|(_, asset)| asset).collect(),
            listings: effects
                .listings
                .into_iter()
                .map(|(_, listing)| listing)
                .collect(),
            rentals: effects
                .rentals
                .into_iter()
                .map(|(_, rental)| rental)
                .collect(),
        })
    }

    /// Whether `tx` would be applied if it were the only transaction of a
    /// block at `time` on top of the committed state: the ledger's own
    /// checks, run without a signature and without writing anything.
    pub fn check_transaction(&self, tx: &Transaction, time: Timestamp) -> Result<(), LedgerError> {
        execute::check_transaction(&self.store, &self.chain, tx, time)
    }

    /// An account; one that never held anything is empty.
    pub fn account(&self, address: &Address) -> Result<Account, LedgerError> {
        Ok(self.store.account(address)?.unwrap_or_default())
    }

    /// An asset.
    pub fn asset(&self, id: &AssetId) -> Result<Option<Asset>, LedgerError> {
        self.store.asset(id)
    }

    /// A listing.
    pub fn listing(&self, id: ListingId) -> Result<Option<Listing>, LedgerError> {
        self.store.listing(id)
    }

    /// A rental.
    pub fn rental(&self, id: RentalId) -> Result<Option<Rental>, LedgerError> {
        self.store.rental(id)
    }

    /// A validator.
    pub fn validator(&self, address: &Address) -> Result<Option<Validator>, LedgerError> {
        self.store.validator(address)
    }

    /// Every account that holds or held tokens, by address.
    pub fn accounts(&self) -> Result<Vec<(Address, Account)>, LedgerError> {
        self.store.accounts()
    }

    /// Every asset.
    pub fn assets(&self) -> Result<Vec<Asset>, LedgerError> {
        self.store.assets()
    }

    /// Every listing, open or closed, by id.
    pub fn listings(&self) -> Result<Vec<Listing>, LedgerError> {
        self.store.listings()
    }

    /// Every rental, active or ended, by id.
    pub fn rentals(&self) -> Result<Vec<Rental>, LedgerError> {
        self.store.rentals()
    }

    /// Every validator.
    pub fn validators(&self) -> Result<Vec<Validator>, LedgerError> {
        self.store.validators()
    }

    /// The validators of `height`, by address: the next height's are those
    /// the state names now ([`Ledger::validators`]); those of the height
    /// after it are known too, from the stake changes waiting, since a
    /// change waits [`crate::VALIDATOR_CHANGE_DELAY`] heights.
    pub fn validators_at(&self, height: Height) -> Result<Vec<Validator>, LedgerError> {
        let committed = self.chain.height;
        let known = committed.saturating_add(1)..=committed.saturating_add(2);
        if !known.contains(&height) {
            return Err(LedgerError::ValidatorsUnknown {
                requested: height,
                committed,
            });
        }
        let changes = self
            .chain
            .validator_changes
            .iter()
            .filter(|change| change.from <= height)
            .map(ValidatorChange::after);
        Ok(powers_after(self.validators()?, changes)
            .into_iter()
            .map(|(address, power)| Validator { address, power })
            .collect())
    }

    /// A committed block and its outcome.
    pub fn block(&self, height: Height) -> Result<StoredBlock, LedgerError> {
        self.store.block(height)?.ok_or(LedgerError::UnknownHeight {
            requested: height,
            committed: self.chain.height,
        })
    }

    /// The earliest end of an active rental: a block at or after that
    /// time settles it. `None` when nothing is rented.
    pub fn next_rental_due(&self) -> Result<Option<Timestamp>, LedgerError> {
        self.store.next_rental_due()
    }

    /// Where an applied transaction was committed.
    pub fn transaction(&self, id: &TxId) -> Result<Option<TxLocation>, LedgerError> {
        self.store.transaction(id)
    }

    /// Cuts the state after the last committed block into chunks of about
    /// `chunk_bytes` (at most [`snapshot::CHUNK_BYTES`]), handing each to
    /// `sink` with its number, and returns the snapshot's manifest.
    pub fn snapshot(
        &self,
        chunk_bytes: usize,
        sink: impl FnMut(u32, Vec<u8>) -> Result<(), LedgerError>,
    ) -> Result<SnapshotManifest, LedgerError> {
        let mut chunker = Chunker::new(chunk_bytes, sink);
        self.store.snapshot(&mut chunker)?;
        chunker.finish(
            self.chain.chain_id.clone(),
            self.chain.height,
            self.state_root,
        )
    }

    /// The state root after block `height`.
    pub fn state_root_at(&self, height: Height) -> Result<StateRoot, LedgerError> {
        if height > self.chain.height {
            return Err(LedgerError::UnknownHeight {
                requested: height,
                committed: self.chain.height,
            });
        }
        self.store
            .state_root(height)?
            .ok_or_else(|| LedgerError::Corrupt(format!("no state root at height {height}")))
    }

    /// A proof of `asset`'s record at `height`, to be checked with
    /// [`crate::verify_holding`] against that height's state root.
    pub fn prove_asset(&self, asset: &AssetId, height: Height) -> Result<AssetProof, LedgerError> {
        if height > self.chain.height {
            return Err(LedgerError::UnknownHeight {
                requested: height,
                committed: self.chain.height,
            });
        }
        let (record, path) = self
            .store
            .asset_with_proof(asset, height)?
            .ok_or(LedgerError::AssetNotFound(*asset))?;
        Ok(AssetProof {
            asset: *asset,
            height,
            record,
            path,
        })
    }
}

impl StateReader for Ledger {
    fn account(&self, address: &Address) -> Result<Option<Account>, LedgerError> {
        self.store.account(address)
    }

    fn asset(&self, id: &AssetId) -> Result<Option<Asset>, LedgerError> {
        self.store.asset(id)
    }

    fn listing(&self, id: ListingId) -> Result<Option<Listing>, LedgerError> {
        self.store.listing(id)
    }

    fn rental(&self, id: RentalId) -> Result<Option<Rental>, LedgerError> {
        self.store.rental(id)
    }

    fn validator(&self, address: &Address) -> Result<Option<Validator>, LedgerError> {
        self.store.validator(address)
    }

    fn validators(&self) -> Result<Vec<Validator>, LedgerError> {
        self.store.validators()
    }

    fn rentals_due(&self, time: Timestamp) -> Result<Vec<(Timestamp, RentalId)>, LedgerError> {
        StateReader::rentals_due(&self.store, time)
    }
}

/// A ledger being rebuilt from a snapshot, chunk by chunk, in a directory
/// of its own. Dropped before it is finished, it can be taken up again
/// with [`Restore::begin`] on the same directory and manifest: the chunks
/// already in stay.
pub struct Restore {
    store: Store,
    manifest: SnapshotManifest,
    done: BTreeSet<u32>,
}

impl Restore {
    /// Starts restoring the snapshot `manifest` describes into `path`, or
    /// takes up the restore of it already there. The manifest's root must
    /// be one the caller trusts (a certified header commits to it): the
    /// restored state is checked against it.
    pub fn begin(path: impl AsRef<Path>, manifest: SnapshotManifest) -> Result<Self, LedgerError> {
        manifest.check()?;
        let store = Store::open(path.as_ref())?;
        let done = store.begin_restore(&manifest)?;
        Ok(Restore {
            store,
            manifest,
            done,
        })
    }

    /// The snapshot being restored.
    pub fn manifest(&self) -> &SnapshotManifest {
        &self.manifest
    }

    /// The chunks still to add, by number.
    pub fn missing(&self) -> Vec<u32> {
        (0..self.manifest.chunks.len() as u32)
            .filter(|index| !self.done.contains(index))
            .collect()
    }

    /// Checks chunk `index` against the manifest and writes its records.
    /// A chunk that does not match changes nothing.
    pub fn add(&mut self, index: u32, bytes: &[u8]) -> Result<(), LedgerError> {
        let entries = snapshot::read_chunk(&self.manifest, index, bytes)?;
        if self.done.contains(&index) {
            return Ok(());
        }
        self.store
            .restore_chunk(self.manifest.height, index, entries)?;
        self.done.insert(index);
        Ok(())
    }

    /// With every chunk in, builds the state tree and, if its root is the
    /// manifest's, opens the restored ledger: at the snapshot's height,
    /// ready for the blocks after it. `genesis` is the network's block 0
    /// hash, which the ledger keeps to refuse another network's blocks.
    pub fn finish(mut self, genesis: BlockHash) -> Result<Ledger, LedgerError> {
        let missing = self.missing().len();
        if missing > 0 {
            return Err(LedgerError::RestoreIncomplete { missing });
        }
        self.store.finish_restore(&self.manifest, genesis)?;
        info!(
            chain = %self.manifest.chain_id,
            height = self.manifest.height,
            entries = self.manifest.entries,
            "ledger restored from a snapshot"
        );
        Ledger::from_store(self.store)
    }
}
