//! Every figure a quote gives equals what the real ledger moves: random
//! rentals (returned early at a random time, or run to their end) and
//! sales, applied to a ledger on RocksDB, balances compared to the quote.

use ledger::{Keypair, LedgerError, Operation, RentTerms};
use market::{MarketError, rent_quote, return_quote, sale_quote};
use proptest::prelude::*;

use crate::common::{Net, T0};

fn delta(after: [u64; 4], before: [u64; 4]) -> [i128; 4] {
    [0, 1, 2, 3].map(|i| i128::from(after[i]) - i128::from(before[i]))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn rent_and_return_quotes_are_what_the_ledger_moves(
        fee_bps in 0u16..=1_000,
        royalty_bps in 0u16..=2_500,
        price in 1u64..=5_000_000,
        period_secs in 1u64..=100_000,
        min_periods in 1u32..=5,
        extra_periods in 0u32..=20,
        deposit in 0u64..=1_000_000,
        take in 0u32..=25,
        return_at in prop::option::of(0u64..=2_000_000),
    ) {
        let mut net = Net::new(fee_bps);
        let asset = net.asset(royalty_bps);
        let owner = net.owner();
        let terms = RentTerms {
            price_per_period: price,
            period_secs,
            min_periods,
            max_periods: min_periods + extra_periods,
            deposit,
            reserved_for: None,
        };
        net.run(&owner, Operation::ListForRent { asset, terms, expires_at: u64::MAX }).unwrap();
        let listing_id = net.ledger.asset(&asset).unwrap().unwrap().listing.unwrap();
        let listing = net.ledger.listing(listing_id).unwrap().unwrap();
        let params = net.ledger.chain().params;
        let renter = net.renter();
        let when = net.time + 7;
        let quote = rent_quote(
            &listing,
            &net.ledger.asset(&asset).unwrap().unwrap(),
            &params,
            &renter.address(),
            take,
            when,
            Some(net.balance(&renter.address())),
        );
        let before = net.balances();
        let outcome = net.run_at(when, &renter, Operation::Rent { listing: listing_id, periods: take });
        // The quote refuses exactly when the ledger does, with its reason.
        match (&quote, &outcome) {
            (Ok(_), Ok(())) => {}
            (Err(MarketError::Refused(quoted)), Err(applied)) => prop_assert_eq!(quoted, applied),
            other => prop_assert!(false, "quote and ledger disagree: {:?}", other),
        }
        let Ok(quote) = quote else { return Ok(()) };
        let paid = delta(net.balances(), before);
        prop_assert_eq!(paid, [0, 0, -i128::from(quote.total_now), 0]);
        let rental_id = net.ledger.asset(&asset).unwrap().unwrap().rental.unwrap().id;
        let rental = net.ledger.rental(rental_id).unwrap().unwrap();
        prop_assert_eq!(rental.ends_at, quote.ends_at);
        prop_assert_eq!(rental.starts_at, quote.starts_at);

        let before = net.balances();
        let split = match return_at {
            Some(offset) if when + 1 + offset < quote.ends_at => {
                let at = when + 1 + offset;
                let back = return_quote(&rental, &params, &renter.address(), at).unwrap();
                net.run_at(at, &renter, Operation::ReturnRental { rental: rental_id }).unwrap();
                prop_assert_eq!(back.paid + back.refund, quote.rent);
                prop_assert_eq!(back.split.royalty + back.split.fee + back.split.to_lessor, back.paid);
                let moved = delta(net.balances(), before);
                prop_assert_eq!(moved[2], i128::from(back.to_renter));
                back.split
            }
            _ => {
                // Run to the end: the ledger settles it by itself.
                let end = quote.ends_at;
                prop_assert!(return_quote(&rental, &params, &renter.address(), end).is_err());
                net.time = end;
                let block = net.ledger.next_block(end, net.validator.address(), Vec::new()).unwrap();
                net.ledger.commit_block(block).unwrap();
                let moved = delta(net.balances(), before);
                prop_assert_eq!(moved[2], i128::from(quote.deposit));
                quote.split
            }
        };
        let moved = delta(net.balances(), before);
        prop_assert_eq!(moved[0], i128::from(split.royalty));
        prop_assert_eq!(moved[1], i128::from(split.to_lessor));
        prop_assert_eq!(moved[3], i128::from(split.fee));
    }

    #[test]
    fn sale_quotes_are_what_the_ledger_moves(
        fee_bps in 0u16..=1_000,
        royalty_bps in 0u16..=2_500,
        price in 0u64..=20_000_000_000,
    ) {
        let mut net = Net::new(fee_bps);
        let asset = net.asset(royalty_bps);
        let owner = net.owner();
        net.run(&owner, Operation::ListForSale { asset, price, expires_at: u64::MAX }).unwrap();
        let listing_id = net.ledger.asset(&asset).unwrap().unwrap().listing.unwrap();
        let listing = net.ledger.listing(listing_id).unwrap().unwrap();
        let buyer = net.renter();
        let when = net.time + 3;
        let quote = sale_quote(
            &listing,
            &net.ledger.asset(&asset).unwrap().unwrap(),
            &net.ledger.chain().params,
            &buyer.address(),
            when,
            Some(net.balance(&buyer.address())),
        );
        let before = net.balances();
        let outcome = net.run_at(when, &buyer, Operation::Buy { listing: listing_id });
        match (&quote, &outcome) {
            (Ok(quote), Ok(())) => {
                let moved = delta(net.balances(), before);
                prop_assert_eq!(moved, [
                    i128::from(quote.split.royalty),
                    i128::from(quote.split.to_lessor),
                    -i128::from(quote.price),
                    i128::from(quote.split.fee),
                ]);
                prop_assert_eq!(net.ledger.asset(&asset).unwrap().unwrap().owner, buyer.address());
            }
            (Err(MarketError::Refused(quoted)), Err(applied)) => prop_assert_eq!(quoted, applied),
            other => prop_assert!(false, "quote and ledger disagree: {:?}", other),
        }
    }
}

#[test]
fn quotes_refuse_what_the_ledger_refuses() {
    let mut net = Net::new(100);
    let asset = net.asset(500);
    let owner = net.owner();
    let terms = RentTerms {
        price_per_period: 100,
        period_secs: 3_600,
        min_periods: 2,
        max_periods: 4,
        deposit: 50,
        reserved_for: Some(net.creator().address()),
    };
    net.run(
        &owner,
        Operation::ListForRent {
            asset,
            terms,
            expires_at: T0 + 10_000,
        },
    )
    .unwrap();
    let listing_id = net.ledger.asset(&asset).unwrap().unwrap().listing.unwrap();
    let listing = net.ledger.listing(listing_id).unwrap().unwrap();
    let record = net.ledger.asset(&asset).unwrap().unwrap();
    let params = net.ledger.chain().params;
    let quote = |who: &Keypair, periods: u32, now: u64| {
        rent_quote(
            &listing,
            &record,
            &params,
            &who.address(),
            periods,
            now,
            None,
        )
    };
    let reason = |result: Result<market::RentQuote, MarketError>| match result {
        Err(MarketError::Refused(err)) => err,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert!(matches!(
        reason(quote(&net.renter(), 2, net.time + 1)),
        LedgerError::ReservedForOther { .. }
    ));
    assert!(matches!(
        reason(quote(&net.creator(), 5, net.time + 1)),
        LedgerError::PeriodsOutOfRange {
            periods: 5,
            min: 2,
            max: 4
        }
    ));
    assert!(matches!(
        reason(quote(&net.creator(), 2, T0 + 10_000)),
        LedgerError::ListingExpired { .. }
    ));
    assert!(matches!(
        reason(quote(&net.owner(), 2, net.time + 1)),
        LedgerError::SelfDealing { .. }
    ));
    let ok = quote(&net.creator(), 3, net.time + 1).unwrap();
    assert_eq!((ok.rent, ok.deposit, ok.total_now), (300, 50, 350));
    assert_eq!(ok.ends_at, net.time + 1 + 3 * 3_600);
    assert_eq!(
        (ok.split.royalty, ok.split.fee, ok.split.to_lessor),
        (15, 3, 282)
    );
    let poor = rent_quote(
        &listing,
        &record,
        &params,
        &net.creator().address(),
        3,
        net.time + 1,
        Some(349),
    );
    assert!(matches!(
        reason(poor),
        LedgerError::InsufficientFunds {
            needed: 350,
            available: 349,
            ..
        }
    ));
    assert!(matches!(
        sale_quote(
            &listing,
            &record,
            &params,
            &net.creator().address(),
            net.time + 1,
            None
        ),
        Err(MarketError::Refused(LedgerError::WrongListingKind {
            expected: "sale",
            ..
        }))
    ));
}
