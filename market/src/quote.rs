//! Quotes: what renting, buying or returning early costs and pays out,
//! checked by the same rules the ledger applies and computed with its own
//! arithmetic ([`Split::of`], [`periods_used`]).

// Money is counted here: every sum is checked.
#![cfg_attr(not(test), warn(clippy::arithmetic_side_effects))]

use ledger::{
    Address, Amount, Asset, ChainParams, LedgerError, Listing, ListingTerms, Rental, RentalStatus,
    Split, Timestamp, periods_used,
};

use crate::error::MarketError;

/// What renting a listing for some periods costs now and pays out at the
/// end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RentQuote {
    /// Periods rented.
    pub periods: u32,
    /// Rent for all of them.
    pub rent: Amount,
    /// Deposit, returned to the renter when the rental ends.
    pub deposit: Amount,
    /// Paid into escrow now: rent and deposit.
    pub total_now: Amount,
    /// When the rental begins: the time of the block that takes it.
    pub starts_at: Timestamp,
    /// When it ends and the ledger settles it.
    pub ends_at: Timestamp,
    /// How the rent is divided at the end: royalty to the creator, the
    /// network's fee to the block's proposer, the rest to the lessor.
    pub split: Split,
}

/// What returning a rental early at some time pays back and pays out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReturnQuote {
    /// Periods paid for: every period that has begun.
    pub periods_used: u32,
    /// Rent for those periods.
    pub paid: Amount,
    /// How the paid rent is divided.
    pub split: Split,
    /// Rent for the periods not begun, returned to the renter.
    pub refund: Amount,
    /// The deposit, returned to the renter.
    pub deposit: Amount,
    /// Everything the renter gets back: refund and deposit.
    pub to_renter: Amount,
}

/// What buying a listed asset costs and pays out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SaleQuote {
    /// The price, paid by the buyer.
    pub price: Amount,
    /// How it is divided: royalty, fee, and the seller's proceeds.
    pub split: Split,
}

/// Checks, with the ledger's own rules, that `who` may fill `listing` at
/// `now`.
fn fillable(
    listing: &Listing,
    asset: &Asset,
    who: &Address,
    now: Timestamp,
    expected: &'static str,
) -> Result<(), LedgerError> {
    ledger::check_listing_fillable(listing, now, expected)?;
    ledger::check_asset_fillable(listing, asset, who, expected)
}

fn affordable(who: &Address, needed: Amount, balance: Option<Amount>) -> Result<(), LedgerError> {
    match balance {
        Some(available) if available < needed => Err(LedgerError::InsufficientFunds {
            account: *who,
            needed,
            available,
        }),
        _ => Ok(()),
    }
}

/// The quote for `renter` renting `listing` (of `asset`) for `periods` in a
/// block at `now`. With `balance`, a renter who cannot pay is told so.
pub fn rent_quote(
    listing: &Listing,
    asset: &Asset,
    params: &ChainParams,
    renter: &Address,
    periods: u32,
    now: Timestamp,
    balance: Option<Amount>,
) -> Result<RentQuote, MarketError> {
    fillable(listing, asset, renter, now, "rent")?;
    let ListingTerms::Rent(terms) = listing.terms else {
        return Err(LedgerError::WrongListingKind {
            listing: listing.id,
            expected: "rent",
            actual: listing.terms.kind(),
        }
        .into());
    };
    let costs = ledger::rent_costs(listing.id, &terms, renter, periods, now)?;
    affordable(renter, costs.escrow, balance)?;
    Ok(RentQuote {
        periods,
        rent: costs.rent,
        deposit: terms.deposit,
        total_now: costs.escrow,
        starts_at: now,
        ends_at: costs.ends_at,
        split: Split::of(costs.rent, asset.royalty_bps, params.network_fee_bps)?,
    })
}

/// The quote for `renter` returning `rental` in a block at `at`.
///
/// At or after the rental's end there is nothing to return: the ledger
/// settles it at the start of that block, and says so.
pub fn return_quote(
    rental: &Rental,
    params: &ChainParams,
    renter: &Address,
    at: Timestamp,
) -> Result<ReturnQuote, MarketError> {
    if rental.renter != *renter {
        return Err(LedgerError::NotRenter {
            rental: rental.id,
            signer: *renter,
            renter: rental.renter,
        }
        .into());
    }
    let status = match rental.status {
        RentalStatus::Active if at >= rental.ends_at => Some("settled at its end"),
        RentalStatus::Active => None,
        RentalStatus::Settled { .. } => Some("settled at its end"),
        RentalStatus::Returned { .. } => Some("returned early"),
    };
    if let Some(status) = status {
        return Err(LedgerError::RentalNotActive {
            rental: rental.id,
            status,
        }
        .into());
    }
    if at < rental.starts_at {
        return Err(MarketError::BeforeStart {
            at,
            starts_at: rental.starts_at,
        });
    }
    let used = periods_used(rental, at);
    let (paid, refund) = ledger::rent_paid_and_refund(rental, used)?;
    let to_renter = refund
        .checked_add(rental.deposit)
        .ok_or(LedgerError::Overflow {
            what: "the renter's refund",
        })?;
    Ok(ReturnQuote {
        periods_used: used,
        paid,
        split: Split::of(paid, rental.royalty_bps, params.network_fee_bps)?,
        refund,
        deposit: rental.deposit,
        to_renter,
    })
}

/// The quote for `buyer` buying `listing` (of `asset`) in a block at `now`.
/// With `balance`, a buyer who cannot pay is told so.
pub fn sale_quote(
    listing: &Listing,
    asset: &Asset,
    params: &ChainParams,
    buyer: &Address,
    now: Timestamp,
    balance: Option<Amount>,
) -> Result<SaleQuote, MarketError> {
    fillable(listing, asset, buyer, now, "sale")?;
    let ListingTerms::Sale { price } = listing.terms else {
        return Err(LedgerError::WrongListingKind {
            listing: listing.id,
            expected: "sale",
            actual: listing.terms.kind(),
        }
        .into());
    };
    let split = Split::of(price, asset.royalty_bps, params.network_fee_bps)?;
    affordable(buyer, price, balance)?;
    Ok(SaleQuote { price, split })
}
