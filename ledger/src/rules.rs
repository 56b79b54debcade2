//! The listing and rental rules, as pure functions of state the caller has
//! already read: the ledger applies them to a transaction, and the market
//! applies the very same code to quote and check a user's intent before it
//! is signed.

// Money is counted here: every sum is checked.
#![cfg_attr(not(test), warn(clippy::arithmetic_side_effects))]

use crate::error::LedgerError;
use crate::ids::{Amount, ListingId, Timestamp};
use crate::keys::Address;
use crate::state::{Asset, Listing, ListingStatus, RentTerms};

/// An error unless the listing is open.
pub fn check_open(listing: &Listing) -> Result<(), LedgerError> {
    match listing.status {
        ListingStatus::Open => Ok(()),
        ListingStatus::Cancelled { .. } => Err(LedgerError::ListingClosed {
            listing: listing.id,
            status: "cancelled",
        }),
        ListingStatus::Sold { .. } => Err(LedgerError::ListingClosed {
            listing: listing.id,
            status: "sold",
        }),
    }
}

/// An error unless `owner` holds title to `asset` and no rental holds it:
/// what moving, listing or trading an asset needs. `action` names the
/// attempt in the error.
pub fn check_owned_and_free(
    asset: &Asset,
    owner: &Address,
    action: &'static str,
) -> Result<(), LedgerError> {
    if asset.owner != *owner {
        return Err(match asset.rental {
            Some(rental) if rental.renter == *owner => LedgerError::RenterCannot {
                action,
                asset: asset.id,
                renter: *owner,
                rental: rental.id,
            },
            _ => LedgerError::NotOwner {
                action,
                asset: asset.id,
                signer: *owner,
                owner: asset.owner,
            },
        });
    }
    if let Some(rental) = asset.rental {
        return Err(LedgerError::AssetLocked {
            action,
            asset: asset.id,
            rental: rental.id,
            until: rental.ends_at,
        });
    }
    Ok(())
}

/// The checks on a listing itself before it is filled at `now`: of the
/// `expected` kind ("rent" or "sale"), open, not expired.
pub fn check_listing_fillable(
    listing: &Listing,
    now: Timestamp,
    expected: &'static str,
) -> Result<(), LedgerError> {
    if listing.terms.kind() != expected {
        return Err(LedgerError::WrongListingKind {
            listing: listing.id,
            expected,
            actual: listing.terms.kind(),
        });
    }
    check_open(listing)?;
    if now >= listing.expires_at {
        return Err(LedgerError::ListingExpired {
            listing: listing.id,
            expired_at: listing.expires_at,
            now,
        });
    }
    Ok(())
}

/// The checks on the listed asset and the filler: still owned as listed,
/// not the lister's own listing, not held by a rental.
pub fn check_asset_fillable(
    listing: &Listing,
    asset: &Asset,
    signer: &Address,
    expected: &'static str,
) -> Result<(), LedgerError> {
    if asset.id != listing.asset
        || asset.owner_seq != listing.owner_seq
        || asset.owner != listing.lister
    {
        return Err(LedgerError::ListingStale {
            listing: listing.id,
            asset: listing.asset,
        });
    }
    if listing.lister == *signer {
        return Err(LedgerError::SelfDealing {
            what: "fill a listing",
            address: *signer,
        });
    }
    if let Some(rental) = asset.rental {
        return Err(LedgerError::AssetLocked {
            action: if expected == "rent" {
                "re-rent"
            } else {
                "sell"
            },
            asset: asset.id,
            rental: rental.id,
            until: rental.ends_at,
        });
    }
    Ok(())
}

/// What renting under `terms` for `periods` from `now` costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RentCosts {
    /// Rent for every period.
    pub rent: Amount,
    /// Paid into escrow: the rent and the deposit.
    pub escrow: Amount,
    /// When the rental ends.
    pub ends_at: Timestamp,
}

/// Checks that `renter` may rent listing `listing` under `terms` for
/// `periods` at `now`, and what it costs.
pub fn rent_costs(
    listing: ListingId,
    terms: &RentTerms,
    renter: &Address,
    periods: u32,
    now: Timestamp,
) -> Result<RentCosts, LedgerError> {
    if let Some(reserved_for) = terms.reserved_for
        && reserved_for != *renter
    {
        return Err(LedgerError::ReservedForOther {
            listing,
            reserved_for,
            signer: *renter,
        });
    }
    if periods < terms.min_periods || periods > terms.max_periods {
        return Err(LedgerError::PeriodsOutOfRange {
            periods,
            min: terms.min_periods,
            max: terms.max_periods,
        });
    }
    let rent = terms
        .price_per_period
        .checked_mul(u64::from(periods))
        .ok_or(LedgerError::Overflow { what: "the rent" })?;
    let escrow = rent
        .checked_add(terms.deposit)
        .ok_or(LedgerError::Overflow { what: "the escrow" })?;
    let ends_at = terms
        .period_secs
        .checked_mul(u64::from(periods))
        .and_then(|length| length.checked_add(now))
        .ok_or(LedgerError::Overflow {
            what: "the rental's end",
        })?;
    Ok(RentCosts {
        rent,
        escrow,
        ends_at,
    })
}
