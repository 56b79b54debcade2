//! The block's working copy of state: reads fall through to the committed
//! state, writes stay here, and a journal undoes a failed transaction.

use std::hash::Hash;

use crate::error::LedgerError;
use crate::execute::StateReader;
use crate::hashing::{FastMap, FastSet};
use std::collections::BTreeMap;

use crate::ids::{Amount, AssetId, Height, ListingId, RentalId};
use crate::keys::Address;
use crate::state::{
    Account, Asset, Listing, Rental, RentalStatus, Slash, Validator, ValidatorChange, powers_after,
};

/// Counters kept in the chain record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Counters {
    pub(crate) next_listing: u64,
    pub(crate) next_rental: u64,
    pub(crate) escrow: Amount,
    pub(crate) staked: Amount,
    pub(crate) supply: Amount,
}

struct Slot<V> {
    value: Option<V>,
    dirty: bool,
}

/// One kind of record, keyed.
struct Table<K, V> {
    slots: FastMap<K, Slot<V>>,
}

impl<K: Copy + Eq + Hash + Ord, V: Clone> Table<K, V> {
    fn new() -> Self {
        Table {
            slots: FastMap::default(),
        }
    }

    fn get(
        &mut self,
        key: K,
        load: impl FnOnce(&K) -> Result<Option<V>, LedgerError>,
    ) -> Result<Option<V>, LedgerError> {
        if let Some(slot) = self.slots.get(&key) {
            return Ok(slot.value.clone());
        }
        let value = load(&key)?;
        self.slots.insert(
            key,
            Slot {
                value: value.clone(),
                dirty: false,
            },
        );
        Ok(value)
    }

    /// Writes `value`, returning what the slot held before, for the journal.
    fn put(&mut self, key: K, value: V) -> Option<Slot<V>> {
        self.slots.insert(
            key,
            Slot {
                value: Some(value),
                dirty: true,
            },
        )
    }

    fn restore(&mut self, key: K, previous: Option<Slot<V>>) {
        match previous {
            Some(slot) => {
                self.slots.insert(key, slot);
            }
            None => {
                self.slots.remove(&key);
            }
        }
    }

    /// The written records, in key order.
    fn into_dirty(self) -> Vec<(K, V)> {
        let mut out: Vec<(K, V)> = self
            .slots
            .into_iter()
            .filter(|(_, slot)| slot.dirty)
            .filter_map(|(key, slot)| slot.value.map(|value| (key, value)))
            .collect();
        out.sort_unstable_by_key(|(key, _)| *key);
        out
    }
}

enum Undo {
    /// The slashes as they were.
    Slashed(Vec<Slash>),
    /// The whole queue of validator changes as it was.
    ValidatorChanges(Vec<ValidatorChange>),
    Account(Address, Option<Slot<Account>>),
    Asset(AssetId, Option<Slot<Asset>>),
    Listing(ListingId, Option<Slot<Listing>>),
    Rental(RentalId, Option<Slot<Rental>>),
    Validator(Address, Option<Slot<Validator>>),
    Counters(Counters),
    /// A validator change was added.
    ValidatorChange,
}

/// The records a block changed, each in key order.
pub(crate) struct Changes {
    pub(crate) accounts: Vec<(Address, Account)>,
    pub(crate) assets: Vec<(AssetId, Asset)>,
    pub(crate) listings: Vec<(ListingId, Listing)>,
    pub(crate) rentals: Vec<(RentalId, Rental)>,
    pub(crate) validators: Vec<Validator>,
    /// Rentals that were active before the block, of those in `rentals`.
    pub(crate) were_active: FastSet<RentalId>,
    pub(crate) counters: Counters,
    pub(crate) validator_changes: Vec<ValidatorChange>,
    pub(crate) slashed: Vec<Slash>,
}

/// State as the block sees it while it is being applied.
pub(crate) struct Overlay<'r, R> {
    base: &'r R,
    accounts: Table<Address, Account>,
    assets: Table<AssetId, Asset>,
    listings: Table<ListingId, Listing>,
    rentals: Table<RentalId, Rental>,
    validators: Table<Address, Validator>,
    were_active: FastSet<RentalId>,
    counters: Counters,
    /// Validator changes not in force yet, oldest first.
    validator_changes: Vec<ValidatorChange>,
    slashed: Vec<Slash>,
    journal: Vec<Undo>,
}

impl<'r, R: StateReader> Overlay<'r, R> {
    pub(crate) fn new(
        base: &'r R,
        counters: Counters,
        validator_changes: Vec<ValidatorChange>,
        slashed: Vec<Slash>,
    ) -> Self {
        Overlay {
            base,
            accounts: Table::new(),
            assets: Table::new(),
            listings: Table::new(),
            rentals: Table::new(),
            validators: Table::new(),
            were_active: FastSet::default(),
            counters,
            validator_changes,
            slashed,
            journal: Vec::new(),
        }
    }

    /// The committed state underneath.
    pub(crate) fn base(&self) -> &'r R {
        self.base
    }

    /// Forgets the journal: what was written so far stays.
    pub(crate) fn keep(&mut self) {
        self.journal.clear();
    }

    /// Undoes everything written since the last [`Overlay::keep`].
    pub(crate) fn undo(&mut self) {
        while let Some(entry) = self.journal.pop() {
            match entry {
                Undo::Account(key, slot) => self.accounts.restore(key, slot),
                Undo::Asset(key, slot) => self.assets.restore(key, slot),
                Undo::Listing(key, slot) => self.listings.restore(key, slot),
                Undo::Rental(key, slot) => self.rentals.restore(key, slot),
                Undo::Validator(key, slot) => self.validators.restore(key, slot),
                Undo::Counters(counters) => self.counters = counters,
                Undo::ValidatorChange => {
                    self.validator_changes.pop();
                }
                Undo::ValidatorChanges(before) => self.validator_changes = before,
                Undo::Slashed(before) => self.slashed = before,
            }
        }
    }

    pub(crate) fn into_changes(self) -> Changes {
        Changes {
            accounts: self.accounts.into_dirty(),
            assets: self.assets.into_dirty(),
            listings: self.listings.into_dirty(),
            rentals: self.rentals.into_dirty(),
            validators: self
                .validators
                .into_dirty()
                .into_iter()
                .map(|(_, validator)| validator)
                .collect(),
            were_active: self.were_active,
            counters: self.counters,
            validator_changes: self.validator_changes,
            slashed: self.slashed,
        }
    }

    // ---- accounts ----

    /// The account, or an empty one if it never held anything.
    pub(crate) fn account(&mut self, address: Address) -> Result<Account, LedgerError> {
        let base = self.base;
        Ok(self
            .accounts
            .get(address, |key| base.account(key))?
            .unwrap_or_default())
    }

    pub(crate) fn set_account(&mut self, address: Address, account: Account) {
        let previous = self.accounts.put(address, account);
        self.journal.push(Undo::Account(address, previous));
    }

    /// Takes `amount` from `address`'s balance.
    pub(crate) fn debit(&mut self, address: Address, amount: Amount) -> Result<(), LedgerError> {
        let mut account = self.account(address)?;
        account.balance =
            account
                .balance
                .checked_sub(amount)
                .ok_or(LedgerError::InsufficientFunds {
                    account: address,
                    needed: amount,
                    available: account.balance,
                })?;
        self.set_account(address, account);
        Ok(())
    }

    /// Adds `amount` to `address`'s balance.
    pub(crate) fn credit(&mut self, address: Address, amount: Amount) -> Result<(), LedgerError> {
        if amount == 0 {
            return Ok(());
        }
        let mut account = self.account(address)?;
        account.balance = account
            .balance
            .checked_add(amount)
            .ok_or(LedgerError::Overflow { what: "a balance" })?;
        self.set_account(address, account);
        Ok(())
    }

    // ---- assets ----

    pub(crate) fn asset(&mut self, id: AssetId) -> Result<Option<Asset>, LedgerError> {
        let base = self.base;
        self.assets.get(id, |key| base.asset(key))
    }

    pub(crate) fn require_asset(&mut self, id: AssetId) -> Result<Asset, LedgerError> {
        self.asset(id)?.ok_or(LedgerError::AssetNotFound(id))
    }

    pub(crate) fn set_asset(&mut self, asset: Asset) {
        let previous = self.assets.put(asset.id, asset.clone());
        self.journal.push(Undo::Asset(asset.id, previous));
    }

    // ---- listings ----

    pub(crate) fn listing(&mut self, id: ListingId) -> Result<Option<Listing>, LedgerError> {
        let base = self.base;
        self.listings.get(id, |key| base.listing(*key))
    }

    pub(crate) fn require_listing(&mut self, id: ListingId) -> Result<Listing, LedgerError> {
        self.listing(id)?.ok_or(LedgerError::ListingNotFound(id))
    }

    pub(crate) fn set_listing(&mut self, listing: Listing) {
        let previous = self.listings.put(listing.id, listing.clone());
        self.journal.push(Undo::Listing(listing.id, previous));
    }

    // ---- rentals ----

    pub(crate) fn require_rental(&mut self, id: RentalId) -> Result<Rental, LedgerError> {
        let base = self.base;
        let were_active = &mut self.were_active;
        self.rentals
            .get(id, |key| {
                let rental = base.rental(*key)?;
                if rental
                    .as_ref()
                    .is_some_and(|rental| rental.status == RentalStatus::Active)
                {
                    were_active.insert(*key);
                }
                Ok(rental)
            })?
            .ok_or(LedgerError::RentalNotFound(id))
    }

    pub(crate) fn set_rental(&mut self, rental: Rental) {
        let previous = self.rentals.put(rental.id, rental.clone());
        self.journal.push(Undo::Rental(rental.id, previous));
    }

    // ---- validators ----

    /// A validator's power in force now, 0 if it is none.
    pub(crate) fn validator_power(&mut self, address: Address) -> Result<u64, LedgerError> {
        let base = self.base;
        Ok(self
            .validators
            .get(address, |key| base.validator(key))?
            .map_or(0, |validator| validator.power))
    }

    pub(crate) fn set_validator(&mut self, validator: Validator) {
        let previous = self.validators.put(validator.address, validator);
        self.journal
            .push(Undo::Validator(validator.address, previous));
    }

    /// Removes and returns the changes whose first height is `height` or
    /// earlier. Not journaled: done before the block's transactions.
    pub(crate) fn take_validator_changes(&mut self, height: Height) -> Vec<ValidatorChange> {
        let due = self
            .validator_changes
            .iter()
            .take_while(|change| change.from <= height)
            .count();
        self.validator_changes.drain(..due).collect()
    }

    pub(crate) fn validator_changes(&self) -> &[ValidatorChange] {
        &self.validator_changes
    }

    pub(crate) fn add_validator_change(&mut self, change: ValidatorChange) {
        self.validator_changes.push(change);
        self.journal.push(Undo::ValidatorChange);
    }

    /// The validators slashed lately.
    pub(crate) fn slashed(&self) -> &[Slash] {
        &self.slashed
    }

    /// Records a slash, forgetting those whose evidence could no longer
    /// be reported at `height`.
    pub(crate) fn record_slash(&mut self, slash: Slash, height: Height, window: Height) {
        let before = self.slashed.clone();
        self.slashed
            .retain(|kept| kept.at.saturating_add(window) >= height);
        self.slashed.push(slash);
        self.journal.push(Undo::Slashed(before));
    }

    /// Puts `change` in the place of whatever change of its validator
    /// waits, or adds it.
    pub(crate) fn replace_validator_change(&mut self, change: ValidatorChange) {
        let before = self.validator_changes.clone();
        self.validator_changes
            .retain(|waiting| waiting.validator != change.validator);
        self.validator_changes.push(change);
        self.validator_changes.sort_by_key(|waiting| waiting.from);
        self.journal.push(Undo::ValidatorChanges(before));
    }

    /// The validators and their power once every change made so far is
    /// in force.
    pub(crate) fn planned_validators(&self) -> Result<BTreeMap<Address, u64>, LedgerError> {
        let written = self
            .validators
            .slots
            .values()
            .filter(|slot| slot.dirty)
            .filter_map(|slot| slot.value);
        let changes = self.validator_changes.iter().map(ValidatorChange::after);
        Ok(powers_after(
            self.base.validators()?,
            written.chain(changes),
        ))
    }

    // ---- counters ----

    pub(crate) fn counters(&self) -> Counters {
        self.counters
    }

    pub(crate) fn set_counters(&mut self, counters: Counters) {
        self.journal.push(Undo::Counters(self.counters));
        self.counters = counters;
    }
}
