//! The records the ledger keeps: accounts, assets, listings, rentals,
//! validators and the chain's own bookkeeping.

// Money is counted here: every sum is checked.
#![cfg_attr(not(test), warn(clippy::arithmetic_side_effects))]

use borsh::{BorshDeserialize, BorshSerialize};

use crate::error::LedgerError;
use crate::ids::{
    Amount, AssetId, BasisPoints, BlockHash, ChainId, Height, ListingId, Nonce, RentalId, Timestamp,
};
use crate::keys::Address;

/// A token balance and the next nonce the account must use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Account {
    /// Spendable tokens. Escrowed tokens are not part of any balance.
    pub balance: Amount,
    /// The nonce the account's next transaction must carry.
    pub nonce: Nonce,
}

/// A unique asset: who made it, who owns it, and who may use it now.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Asset {
    /// The manifest's content id.
    pub id: AssetId,
    /// Who minted it; receives the royalty on every rent and sale.
    pub creator: Address,
    /// Who holds title.
    pub owner: Address,
    /// The creator's share of every rent and sale, fixed at mint.
    pub royalty_bps: BasisPoints,
    /// The height of the block that minted it.
    pub minted_at: Height,
    /// Counts changes of owner; a listing remembers the value it was made
    /// under, so that it cannot be filled after the asset changed hands.
    pub owner_seq: u64,
    /// The listing that is open for this asset, if any.
    pub listing: Option<ListingId>,
    /// The rental that holds the right to use it, if any.
    pub rental: Option<ActiveRental>,
}

impl Asset {
    /// Who may use the asset at the moment: the renter during a rental,
    /// else the owner.
    pub fn user(&self) -> Address {
        self.rental.map_or(self.owner, |rental| rental.renter)
    }
}

/// The part of a rental that travels with its asset, so that one record
/// (and one proof) says who owns and who uses the asset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ActiveRental {
    /// The rental.
    pub id: RentalId,
    /// Who holds the right to use the asset.
    pub renter: Address,
    /// When the rental ends and the ledger settles it.
    pub ends_at: Timestamp,
}

/// The terms under which an asset can be rented.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct RentTerms {
    /// Price of one period.
    pub price_per_period: Amount,
    /// Length of one period in seconds.
    pub period_secs: u64,
    /// Fewest periods a renter may take.
    pub min_periods: u32,
    /// Most periods a renter may take.
    pub max_periods: u32,
    /// Tokens the renter leaves in escrow and gets back when the rental ends.
    pub deposit: Amount,
    /// If set, only this address may rent.
    pub reserved_for: Option<Address>,
}

impl RentTerms {
    /// Whether `lister` may offer these terms at `now` on a network whose
    /// rentals last at most `max_periods` periods: a price and a period,
    /// at least one period and no more than the limit, not reserved for
    /// the lister, and the longest rental payable and ending in
    /// representable time. The ledger applies this to every listing;
    /// clients check a form with it before signing.
    pub fn check(
        &self,
        lister: &Address,
        max_periods: u32,
        now: Timestamp,
    ) -> Result<(), LedgerError> {
        if self.price_per_period == 0 {
            return Err(LedgerError::ZeroAmount {
                what: "a price per period",
            });
        }
        if self.period_secs == 0 {
            return Err(LedgerError::InvalidTerms(
                "a period must last at least one second",
            ));
        }
        if self.min_periods == 0 {
            return Err(LedgerError::InvalidTerms(
                "the minimum is at least one period",
            ));
        }
        if self.min_periods > self.max_periods {
            return Err(LedgerError::InvalidTerms(
                "the minimum number of periods is above the maximum",
            ));
        }
        if self.max_periods > max_periods {
            return Err(LedgerError::InvalidTerms(
                "the maximum number of periods is above the network's limit",
            ));
        }
        if self.reserved_for.as_ref() == Some(lister) {
            return Err(LedgerError::SelfDealing {
                what: "reserve a listing",
                address: *lister,
            });
        }
        self.price_per_period
            .checked_mul(u64::from(self.max_periods))
            .and_then(|rent| rent.checked_add(self.deposit))
            .ok_or(LedgerError::Overflow {
                what: "the rent for the longest term",
            })?;
        self.period_secs
            .checked_mul(u64::from(self.max_periods))
            .and_then(|length| length.checked_add(now))
            .ok_or(LedgerError::Overflow {
                what: "the end of the longest term",
            })?;
        Ok(())
    }
}

/// What a listing offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ListingTerms {
    /// Rent by the period. The listing stays open for further rentals
    /// until it expires or is cancelled.
    Rent(RentTerms),
    /// Sell title for a price. The first buyer closes the listing.
    Sale {
        /// The price.
        price: Amount,
    },
}

impl ListingTerms {
    /// "rent" or "sale", for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            ListingTerms::Rent(_) => "rent",
            ListingTerms::Sale { .. } => "sale",
        }
    }
}

/// Whether a listing can still be filled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ListingStatus {
    /// Can be filled until it expires.
    Open,
    /// Withdrawn by its lister.
    Cancelled {
        /// Block time of the cancellation.
        at: Timestamp,
    },
    /// A sale listing that was bought.
    Sold {
        /// The buyer.
        buyer: Address,
        /// Block time of the sale.
        at: Timestamp,
    },
}

/// An offer to rent out or sell one asset.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Listing {
    /// This listing.
    pub id: ListingId,
    /// The asset offered.
    pub asset: AssetId,
    /// The owner who listed it.
    pub lister: Address,
    /// The asset's `owner_seq` when it was listed.
    pub owner_seq: u64,
    /// Rent or sale terms.
    pub terms: ListingTerms,
    /// The listing cannot be filled in a block whose time is at or after this.
    pub expires_at: Timestamp,
    /// Block time at which it was made.
    pub created_at: Timestamp,
    /// Open, cancelled or sold.
    pub status: ListingStatus,
}

/// How a rental stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum RentalStatus {
    /// The renter holds the asset.
    Active,
    /// Ran its full length and was settled by the ledger.
    Settled {
        /// Time of the block that settled it.
        at: Timestamp,
    },
    /// Returned early by the renter.
    Returned {
        /// Time of the block that carried the return.
        at: Timestamp,
        /// Periods that were paid for.
        periods_used: u32,
    },
}

/// A rental: tokens in escrow, the right to use an asset for a time.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Rental {
    /// This rental.
    pub id: RentalId,
    /// The asset rented.
    pub asset: AssetId,
    /// The listing it was rented through.
    pub listing: ListingId,
    /// The owner, who is paid the rent.
    pub lessor: Address,
    /// Who uses the asset.
    pub renter: Address,
    /// The asset's creator, who is paid the royalty.
    pub creator: Address,
    /// The royalty rate in force.
    pub royalty_bps: BasisPoints,
    /// Price of one period.
    pub price_per_period: Amount,
    /// Length of one period in seconds.
    pub period_secs: u64,
    /// Periods paid for.
    pub periods: u32,
    /// Refundable deposit held in escrow.
    pub deposit: Amount,
    /// Block time at which it began.
    pub starts_at: Timestamp,
    /// `starts_at + periods × period_secs`.
    pub ends_at: Timestamp,
    /// Active, settled or returned.
    pub status: RentalStatus,
}

impl Rental {
    /// Tokens this rental holds in escrow while active: the whole rent
    /// plus the deposit. Checked when the rental is made, so it cannot
    /// overflow afterwards.
    pub fn escrow(&self) -> Amount {
        self.price_per_period
            .saturating_mul(u64::from(self.periods))
            .saturating_add(self.deposit)
    }
}

/// A validator and its voting power.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Validator {
    /// The validator's signing address.
    pub address: Address,
    /// Its weight in consensus.
    pub power: u64,
}

/// A change of a validator's power, made by a stake or unstake in one
/// block and in force from a later height, so that every host knows the
/// validators of a height before it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ValidatorChange {
    /// The validator.
    pub validator: Address,
    /// Its power from height `from` on; 0 takes it out of the set.
    pub power: u64,
    /// Unstaked tokens returned to its account when the change takes
    /// effect.
    pub release: Amount,
    /// The first height whose validators include the change.
    pub from: Height,
}

impl ValidatorChange {
    /// The validator as the change leaves it.
    pub fn after(&self) -> Validator {
        Validator {
            address: self.validator,
            power: self.power,
        }
    }
}

/// The validators' powers once `changes` are made, in order, to `current`;
/// a power of 0 takes a validator out.
pub(crate) fn powers_after(
    current: impl IntoIterator<Item = Validator>,
    changes: impl IntoIterator<Item = Validator>,
) -> std::collections::BTreeMap<Address, u64> {
    let mut powers: std::collections::BTreeMap<Address, u64> = current
        .into_iter()
        .map(|validator| (validator.address, validator.power))
        .collect();
    for validator in changes {
        if validator.power == 0 {
            powers.remove(&validator.address);
        } else {
            powers.insert(validator.address, validator.power);
        }
    }
    powers
}

/// Network-wide rules, fixed at genesis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ChainParams {
    /// The network's cut of every rent and sale, paid to the block proposer.
    pub network_fee_bps: BasisPoints,
    /// The highest royalty a creator may set.
    pub max_royalty_bps: BasisPoints,
    /// The most periods one rental may last.
    pub max_rental_periods: u32,
}

impl Default for ChainParams {
    fn default() -> Self {
        ChainParams {
            network_fee_bps: 100,
            max_royalty_bps: 2_500,
            max_rental_periods: 10_000,
        }
    }
}

/// The chain's own bookkeeping, itself part of the state tree so that the
/// state root commits to the height and the escrow held.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ChainState {
    /// The network.
    pub chain_id: ChainId,
    /// Height of the last committed block.
    pub height: Height,
    /// Time of the last committed block.
    pub time: Timestamp,
    /// Hash of the last committed block.
    pub last_block: BlockHash,
    /// Id the next listing will get.
    pub next_listing: u64,
    /// Id the next rental will get.
    pub next_rental: u64,
    /// Tokens held in escrow by active rentals.
    pub escrow: Amount,
    /// Tokens bonded by validators (a validator's power is its bond), and
    /// unstaked tokens not yet returned.
    pub staked: Amount,
    /// Validator changes not in force yet, oldest first.
    pub validator_changes: Vec<ValidatorChange>,
    /// Validators slashed for equivocation, kept while evidence of that
    /// age is still taken, so that no evidence slashes twice.
    pub slashed: Vec<Slash>,
    /// All tokens in existence: balances, escrow and stake. Only the
    /// slashing of an equivocating validator changes it: burnt tokens are
    /// gone.
    pub supply: Amount,
    /// Network rules.
    pub params: ChainParams,
}

/// A validator slashed for equivocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Slash {
    /// The validator.
    pub validator: Address,
    /// The height of the evidence: evidence of it at this height or
    /// before is spent.
    pub evidence_height: Height,
    /// The height of the block that slashed it.
    pub at: Height,
}

/// Where a record lives in the state tree.
#[derive(Clone, Copy, Debug)]
pub enum StateKey<'a> {
    /// An account.
    Account(&'a Address),
    /// An asset.
    Asset(&'a AssetId),
    /// A listing.
    Listing(ListingId),
    /// A rental.
    Rental(RentalId),
    /// A validator.
    Validator(&'a Address),
    /// The chain record.
    Chain,
}

impl StateKey<'_> {
    /// The record's key in the state tree.
    pub fn hash(&self) -> crate::tree::KeyHash {
        let (kind, id): (u8, Vec<u8>) = match self {
            StateKey::Account(address) => (1, address.as_bytes().to_vec()),
            StateKey::Asset(asset) => (2, asset.content_id().to_bytes()),
            StateKey::Listing(listing) => (3, listing.0.to_be_bytes().to_vec()),
            StateKey::Rental(rental) => (4, rental.0.to_be_bytes().to_vec()),
            StateKey::Validator(address) => (5, address.as_bytes().to_vec()),
            StateKey::Chain => (6, Vec::new()),
        };
        crate::codec::tagged_hash(crate::codec::STATE_KEY_DOMAIN, &[&[kind], &id])
    }
}
