//! Splitting a payment between lessor or seller, creator and network, and
//! settling rentals out of escrow. Integer arithmetic only: the three parts
//! always add up to the whole.

// Money is counted here: every sum is checked.
#![cfg_attr(not(test), warn(clippy::arithmetic_side_effects))]

use borsh::{BorshDeserialize, BorshSerialize};

use crate::error::LedgerError;
use crate::execute::StateReader;
use crate::execute::overlay::Overlay;
use crate::ids::{Amount, AssetId, BPS_DENOMINATOR, BasisPoints, RentalId, Timestamp};
use crate::keys::Address;
use crate::state::{Rental, RentalStatus};

/// How a payment for a rent or a sale is divided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Split {
    /// To the asset's creator.
    pub royalty: Amount,
    /// To the proposer of the block, for the network.
    pub fee: Amount,
    /// To the lessor or seller: what is left.
    pub to_lessor: Amount,
}

/// `bps` basis points of `amount`, rounded down.
pub(crate) fn share(amount: Amount, bps: BasisPoints) -> Result<Amount, LedgerError> {
    let scaled = u128::from(amount)
        .checked_mul(u128::from(bps))
        .ok_or(LedgerError::Overflow { what: "a share" })?;
    let share = scaled
        .checked_div(u128::from(BPS_DENOMINATOR))
        .ok_or(LedgerError::Overflow { what: "a share" })?;
    Amount::try_from(share).map_err(|_| LedgerError::Overflow { what: "a share" })
}

impl Split {
    /// Divides `amount`: the royalty and the fee are rounded down and the
    /// lessor gets the remainder, so no unit is lost.
    pub fn of(
        amount: Amount,
        royalty_bps: BasisPoints,
        fee_bps: BasisPoints,
    ) -> Result<Split, LedgerError> {
        let royalty = share(amount, royalty_bps)?;
        let fee = share(amount, fee_bps)?;
        let to_lessor = amount
            .checked_sub(royalty)
            .and_then(|rest| rest.checked_sub(fee))
            .ok_or(LedgerError::Overflow {
                what: "the lessor's share",
            })?;
        Ok(Split {
            royalty,
            fee,
            to_lessor,
        })
    }
}

/// A rental closed by the ledger: at its end, or early by its renter.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Settlement {
    /// The rental.
    pub rental: RentalId,
    /// The asset, whose use returns to its owner.
    pub asset: AssetId,
    /// Whether the renter returned it before its end (possibly in its last
    /// period, with nothing to refund).
    pub early: bool,
    /// Periods paid for.
    pub periods_used: u32,
    /// How the paid rent was divided.
    pub split: Split,
    /// Unused rent returned to the renter.
    pub refund: Amount,
    /// Deposit returned to the renter.
    pub deposit: Amount,
}

/// Periods a renter pays for when returning at `now`: every period that
/// has begun, the one beginning at `now` included, at most all.
pub fn periods_used(rental: &Rental, now: Timestamp) -> u32 {
    let elapsed = now.saturating_sub(rental.starts_at);
    let begun = elapsed
        .checked_div(rental.period_secs)
        .unwrap_or(0)
        .saturating_add(1)
        .min(u64::from(rental.periods));
    u32::try_from(begun).unwrap_or(rental.periods)
}

/// The rent paid for `periods_used` periods of `rental`, and the rent
/// refunded for the rest.
pub fn rent_paid_and_refund(
    rental: &Rental,
    periods_used: u32,
) -> Result<(Amount, Amount), LedgerError> {
    let paid = rental
        .price_per_period
        .checked_mul(u64::from(periods_used))
        .ok_or(LedgerError::Overflow { what: "rent used" })?;
    let unused = rental
        .periods
        .checked_sub(periods_used)
        .ok_or(LedgerError::Overflow {
            what: "unused periods",
        })?;
    let refund = rental
        .price_per_period
        .checked_mul(u64::from(unused))
        .ok_or(LedgerError::Overflow { what: "the refund" })?;
    Ok((paid, refund))
}

/// How a rental ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Its time ran out; every period is paid.
    AtEnd,
    /// The renter returned it; the periods that have begun are paid.
    Returned,
}

/// Pays out `rental` from escrow, and gives the asset's use back to its
/// owner.
pub(crate) fn settle<R: StateReader>(
    overlay: &mut Overlay<'_, R>,
    mut rental: Rental,
    ending: Ending,
    now: Timestamp,
    proposer: Address,
    fee_bps: BasisPoints,
) -> Result<Settlement, LedgerError> {
    let early = ending == Ending::Returned;
    let periods_used = match ending {
        Ending::AtEnd => rental.periods,
        Ending::Returned => periods_used(&rental, now),
    };
    let (paid, refund) = rent_paid_and_refund(&rental, periods_used)?;
    let split = Split::of(paid, rental.royalty_bps, fee_bps)?;

    let mut counters = overlay.counters();
    counters.escrow = counters
        .escrow
        .checked_sub(rental.escrow())
        .ok_or_else(|| LedgerError::Corrupt(format!("escrow is short of {}", rental.id)))?;
    overlay.set_counters(counters);

    overlay.credit(rental.creator, split.royalty)?;
    overlay.credit(proposer, split.fee)?;
    overlay.credit(rental.lessor, split.to_lessor)?;
    let back = refund
        .checked_add(rental.deposit)
        .ok_or(LedgerError::Overflow {
            what: "the renter's refund",
        })?;
    overlay.credit(rental.renter, back)?;

    let mut asset = overlay.require_asset(rental.asset)?;
    if asset.rental.map(|active| active.id) == Some(rental.id) {
        asset.rental = None;
        overlay.set_asset(asset);
    }
    rental.status = if early {
        RentalStatus::Returned {
            at: now,
            periods_used,
        }
    } else {
        RentalStatus::Settled { at: now }
    };
    let settlement = Settlement {
        rental: rental.id,
        asset: rental.asset,
        early,
        periods_used,
        split,
        refund,
        deposit: rental.deposit,
    };
    overlay.set_rental(rental);
    Ok(settlement)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn split_rounds_shares_down_and_gives_the_rest_to_the_lessor() {
        let split = Split::of(999, 250, 100).unwrap();
        assert_eq!(
            split,
            Split {
                royalty: 24,
                fee: 9,
                to_lessor: 966
            }
        );
        let split = Split::of(u64::MAX, 2_500, 100).unwrap();
        assert_eq!(split.royalty + split.fee + split.to_lessor, u64::MAX);
        assert!(Split::of(10, 9_000, 2_000).is_err());
    }

    proptest! {
        #[test]
        fn split_never_leaks(amount: u64, royalty in 0u16..=5_000, fee in 0u16..=5_000) {
            let split = Split::of(amount, royalty, fee).unwrap();
            prop_assert_eq!(
                u128::from(split.royalty) + u128::from(split.fee) + u128::from(split.to_lessor),
                u128::from(amount)
            );
        }
    }
}
