//! The ledger handle: a store, the chain's head, and a signature verifier.

use std::path::Path;

use tracing::{debug, info};

use crate::block::{Block, CommittedBlock};
use crate::error::LedgerError;
use crate::execute::{self, BlockEffects, StateReader};
use crate::genesis::Genesis;
use crate::ids::{AssetId, BlockHash, Height, ListingId, RentalId, StateRoot, Timestamp, TxId};
use crate::keys::Address;
use crate::proof::AssetProof;
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
    ) -> Block {
        Block::new(
            self.chain.chain_id.clone(),
            self.chain.height.saturating_add(1),
            time,
            proposer,
            self.chain.last_block,
            txs,
        )
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
