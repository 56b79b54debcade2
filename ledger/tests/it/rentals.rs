//! Renting: escrow, locks, settlement by the ledger, early return.

use ledger::{Holding, LedgerError, ListingStatus, Operation, RentTerms, RentalStatus};

use crate::common::{Net, hourly};

#[test]
fn renting_moves_rent_and_deposit_into_escrow_and_locks_the_asset() {
    let mut net = Net::new();
    let (alice, bob, carol) = (net.alice.clone(), net.bob.clone(), net.carol.clone());
    let id = net.mint(&alice, 1, 0);
    let listing = net.list_for_rent(&alice, id, hourly());
    let bob_before = net.balance(&bob);
    let total = net.total_tokens();

    net.rent(&bob, listing, 3);
    let start = net.time;
    assert_eq!(net.balance(&bob), bob_before - 3 * 100 - 50);
    assert_eq!(net.ledger.chain().escrow, 350);
    assert_eq!(net.total_tokens(), total);
    let asset = net.ledger.asset(&id).unwrap().unwrap();
    let active = asset.rental.unwrap();
    assert_eq!(active.renter, bob.address());
    assert_eq!(active.ends_at, start + 3 * 3_600);
    assert_eq!(asset.owner, alice.address());
    assert_eq!(asset.user(), bob.address());
    let rental = net.ledger.rental(active.id).unwrap().unwrap();
    assert_eq!(rental.status, RentalStatus::Active);
    assert_eq!(
        (rental.lessor, rental.renter, rental.periods),
        (alice.address(), bob.address(), 3)
    );
    // The listing stays open for later renters.
    assert_eq!(
        net.ledger.listing(listing).unwrap().unwrap().status,
        ListingStatus::Open
    );

    // While rented, the owner cannot move, list, sell, trade or re-rent it.
    let far = net.time + 100_000;
    let locked = |action| LedgerError::AssetLocked {
        action,
        asset: id,
        rental: active.id,
        until: active.ends_at,
    };
    assert_eq!(
        net.run(
            &alice,
            Operation::TransferAsset {
                asset: id,
                to: carol.address()
            }
        ),
        Err(locked("transfer"))
    );
    assert_eq!(
        net.run(
            &alice,
            Operation::ListForRent {
                asset: id,
                terms: hourly(),
                expires_at: far
            }
        ),
        Err(locked("list"))
    );
    assert_eq!(
        net.run(
            &alice,
            Operation::ListForSale {
                asset: id,
                price: 5,
                expires_at: far
            }
        ),
        Err(locked("sell"))
    );
    assert_eq!(
        net.run(
            &carol,
            Operation::Rent {
                listing,
                periods: 1
            }
        ),
        Err(locked("re-rent"))
    );

    // The renter cannot transfer, list, sell or sublet it.
    let renting = |action| LedgerError::RenterCannot {
        action,
        asset: id,
        renter: bob.address(),
        rental: active.id,
    };
    assert_eq!(
        net.run(
            &bob,
            Operation::TransferAsset {
                asset: id,
                to: carol.address()
            }
        ),
        Err(renting("transfer"))
    );
    assert_eq!(
        net.run(
            &bob,
            Operation::ListForRent {
                asset: id,
                terms: hourly(),
                expires_at: far
            }
        ),
        Err(renting("list"))
    );
    assert_eq!(
        net.run(
            &bob,
            Operation::ListForSale {
                asset: id,
                price: 5,
                expires_at: far
            }
        ),
        Err(renting("sell"))
    );
    assert_eq!(net.owner(&id), alice.address());
    assert_eq!(net.ledger.chain().escrow, 350);
}

#[test]
fn the_ledger_settles_a_rental_in_the_first_block_that_reaches_its_end() {
    let mut net = Net::new();
    let (alice, bob, carol) = (net.alice.clone(), net.bob.clone(), net.carol.clone());
    // Alice creates with a 5 % royalty and sells to Carol, who rents it out.
    let id = net.mint(&alice, 1, 500);
    net.run(
        &alice,
        Operation::TransferAsset {
            asset: id,
            to: carol.address(),
        },
    )
    .unwrap();
    let terms = RentTerms {
        price_per_period: 1_001,
        period_secs: 60,
        deposit: 77,
        ..hourly()
    };
    let listing = net.list_for_rent(&carol, id, terms);
    assert_eq!(net.ledger.next_rental_due().unwrap(), None);
    net.rent(&bob, listing, 2);
    let ends_at = net.time + 120;
    // The ledger says when a block must come to settle it.
    assert_eq!(net.ledger.next_rental_due().unwrap(), Some(ends_at));
    let rental = net.ledger.asset(&id).unwrap().unwrap().rental.unwrap().id;
    let before = (
        net.balance(&alice),
        net.balance(&bob),
        net.balance(&carol),
        net.proposer_balance(),
    );

    // One second before the end: still active.
    let block = net.advance(ends_at - 1 - net.time);
    assert!(block.settlements.is_empty());
    assert_eq!(
        net.ledger.rental(rental).unwrap().unwrap().status,
        RentalStatus::Active
    );

    // The first block at the end settles it, with nobody sending anything.
    let block = net.advance(1);
    assert_eq!(net.time, ends_at);
    assert_eq!(block.settlements.len(), 1);
    let settlement = &block.settlements[0];
    assert_eq!(settlement.rental, rental);
    assert!(!settlement.early);
    // Rent 2,002: royalty 5 % = 100, fee 1 % = 20, lessor 1,882.
    assert_eq!(
        (
            settlement.split.royalty,
            settlement.split.fee,
            settlement.split.to_lessor
        ),
        (100, 20, 1_882)
    );
    assert_eq!((settlement.refund, settlement.deposit), (0, 77));
    assert_eq!(net.balance(&alice), before.0 + 100);
    assert_eq!(net.balance(&bob), before.1 + 77);
    assert_eq!(net.balance(&carol), before.2 + 1_882);
    assert_eq!(net.proposer_balance(), before.3 + 20);
    assert_eq!(net.ledger.chain().escrow, 0);
    assert_eq!(net.ledger.next_rental_due().unwrap(), None);
    assert_eq!(
        net.ledger.rental(rental).unwrap().unwrap().status,
        RentalStatus::Settled { at: ends_at }
    );
    let asset = net.ledger.asset(&id).unwrap().unwrap();
    assert_eq!(asset.rental, None);
    assert_eq!(asset.user(), carol.address());

    // The listing is still open, so Bob can rent again; Carol may now move it.
    net.rent(&bob, listing, 1);
    let block = net.advance(3_600);
    assert_eq!(block.settlements.len(), 1);
    net.run(
        &carol,
        Operation::TransferAsset {
            asset: id,
            to: alice.address(),
        },
    )
    .unwrap();
    assert_eq!(net.owner(&id), alice.address());
}

#[test]
fn a_late_block_settles_every_rental_that_ended_before_it() {
    let mut net = Net::new();
    let (alice, bob, carol) = (net.alice.clone(), net.bob.clone(), net.carol.clone());
    let mut rentals = Vec::new();
    for (i, periods) in [(1u64, 3u32), (2, 1), (3, 2)] {
        let id = net.mint(&alice, i, 0);
        let terms = RentTerms {
            period_secs: 10,
            ..hourly()
        };
        let listing = net.list_for_rent(&alice, id, terms);
        let renter = if i % 2 == 0 { &bob } else { &carol };
        net.run(renter, Operation::Rent { listing, periods })
            .unwrap();
        rentals.push(net.ledger.asset(&id).unwrap().unwrap().rental.unwrap());
    }
    let block = net.advance(1_000);
    let mut expected: Vec<_> = rentals.iter().map(|r| (r.ends_at, r.id)).collect();
    expected.sort();
    let settled: Vec<_> = block
        .settlements
        .iter()
        .map(|s| {
            (
                net.ledger.rental(s.rental).unwrap().unwrap().ends_at,
                s.rental,
            )
        })
        .collect();
    assert_eq!(settled, expected, "settled in order of end, then id");
    assert_eq!(net.ledger.chain().escrow, 0);
}

#[test]
fn early_return_refunds_unused_whole_periods() {
    let mut net = Net::new();
    let (alice, bob) = (net.alice.clone(), net.bob.clone());
    let id = net.mint(&alice, 1, 0);
    let listing = net.list_for_rent(&alice, id, hourly());
    net.rent(&bob, listing, 5);
    let rental = net.ledger.asset(&id).unwrap().unwrap().rental.unwrap().id;
    let (alice_before, bob_before, fee_before) = (
        net.balance(&alice),
        net.balance(&bob),
        net.proposer_balance(),
    );

    // 1 h 30 min in: two periods have begun, three are refunded.
    net.advance(5_399 - 1);
    assert_eq!(
        net.run(&alice, Operation::ReturnRental { rental }),
        Err(LedgerError::NotRenter {
            rental,
            signer: alice.address(),
            renter: bob.address()
        })
    );
    let tx = net.tx(&bob, Operation::ReturnRental { rental });
    let block = net.commit_after(2, vec![tx]);
    assert_eq!(block.results[0].outcome, Ok(()));
    let settlement = &block.settlements[0];
    assert!(settlement.early);
    assert_eq!(settlement.periods_used, 2);
    assert_eq!(settlement.refund, 300);
    // Paid 200: royalty 0, fee 2, lessor 198; deposit 50 and refund 300 back.
    assert_eq!(net.balance(&alice), alice_before + 198);
    assert_eq!(net.balance(&bob), bob_before + 300 + 50);
    assert_eq!(net.proposer_balance(), fee_before + 2);
    assert_eq!(net.ledger.chain().escrow, 0);
    assert!(matches!(
        net.ledger.rental(rental).unwrap().unwrap().status,
        RentalStatus::Returned {
            periods_used: 2,
            ..
        }
    ));
    assert_eq!(net.ledger.asset(&id).unwrap().unwrap().rental, None);
    assert_eq!(
        net.run(&bob, Operation::ReturnRental { rental }),
        Err(LedgerError::RentalNotActive {
            rental,
            status: "returned early"
        })
    );
    let unknown = ledger::RentalId(404);
    assert_eq!(
        net.run(&bob, Operation::ReturnRental { rental: unknown }),
        Err(LedgerError::RentalNotFound(unknown))
    );
}

#[test]
fn a_returned_rental_pays_at_least_one_period_and_a_settled_one_cannot_be_returned() {
    let mut net = Net::new();
    let (alice, bob) = (net.alice.clone(), net.bob.clone());
    let id = net.mint(&alice, 1, 0);
    let listing = net.list_for_rent(&alice, id, hourly());
    let rent = net.tx(
        &bob,
        Operation::Rent {
            listing,
            periods: 2,
        },
    );
    let rental = ledger::RentalId(net.ledger.chain().next_rental);
    let give_back = net.tx_with_nonce(&bob, rent.tx.nonce + 1, Operation::ReturnRental { rental });
    let block = net.commit_after(1, vec![rent, give_back]);
    assert!(
        block.results.iter().all(|r| r.outcome.is_ok()),
        "{:?}",
        block.results
    );
    assert_eq!(block.settlements[0].periods_used, 1);
    assert_eq!(block.settlements[0].refund, 100);

    net.rent(&bob, listing, 1);
    let rental = net.ledger.asset(&id).unwrap().unwrap().rental.unwrap().id;
    net.advance(3_600);
    assert_eq!(
        net.run(&bob, Operation::ReturnRental { rental }),
        Err(LedgerError::RentalNotActive {
            rental,
            status: "settled at its end"
        })
    );
}

#[test]
fn rent_checks_reservation_periods_funds_and_self() {
    let mut net = Net::new();
    let (alice, bob, carol) = (net.alice.clone(), net.bob.clone(), net.carol.clone());
    let id = net.mint(&alice, 1, 0);
    let terms = RentTerms {
        min_periods: 2,
        max_periods: 4,
        reserved_for: Some(bob.address()),
        ..hourly()
    };
    let listing = net.list_for_rent(&alice, id, terms);
    assert_eq!(
        net.run(
            &carol,
            Operation::Rent {
                listing,
                periods: 2
            }
        ),
        Err(LedgerError::ReservedForOther {
            listing,
            reserved_for: bob.address(),
            signer: carol.address(),
        })
    );
    assert_eq!(
        net.run(
            &alice,
            Operation::Rent {
                listing,
                periods: 2
            }
        ),
        Err(LedgerError::SelfDealing {
            what: "fill a listing",
            address: alice.address()
        })
    );
    for periods in [0, 1, 5] {
        assert_eq!(
            net.run(&bob, Operation::Rent { listing, periods }),
            Err(LedgerError::PeriodsOutOfRange {
                periods,
                min: 2,
                max: 4
            })
        );
    }
    // Bob spends nearly everything, then cannot pay the rent.
    let poor = net.balance(&bob) - 200;
    net.run(
        &bob,
        Operation::Pay {
            to: carol.address(),
            amount: poor,
        },
    )
    .unwrap();
    assert_eq!(
        net.run(
            &bob,
            Operation::Rent {
                listing,
                periods: 2
            }
        ),
        Err(LedgerError::InsufficientFunds {
            account: bob.address(),
            needed: 250,
            available: 200,
        })
    );
    assert_eq!(net.ledger.chain().escrow, 0);
    assert!(net.ledger.rentals().unwrap().is_empty());
    net.run(
        &carol,
        Operation::Pay {
            to: bob.address(),
            amount: 1_000,
        },
    )
    .unwrap();
    net.rent(&bob, listing, 2);
    let proof = net.ledger.prove_asset(&id, net.ledger.height()).unwrap();
    let holding = ledger::verify_holding(&net.ledger.state_root(), &proof, &bob.address()).unwrap();
    assert!(matches!(holding, Holding::Renter { .. }));
}

#[test]
fn a_return_in_the_last_period_is_a_return_with_nothing_refunded() {
    let mut net = Net::new();
    let (alice, bob) = (net.alice.clone(), net.bob.clone());
    let id = net.mint(&alice, 1, 0);
    let listing = net.list_for_rent(&alice, id, hourly());
    net.rent(&bob, listing, 2);
    let rental = net.ledger.asset(&id).unwrap().unwrap().rental.unwrap();
    net.advance(rental.ends_at - net.time - 10);
    let tx = net.tx(&bob, Operation::ReturnRental { rental: rental.id });
    let block = net.commit_after(1, vec![tx]);
    let settlement = &block.settlements[0];
    assert!(settlement.early);
    assert_eq!((settlement.periods_used, settlement.refund), (2, 0));
    assert_eq!(
        net.ledger.rental(rental.id).unwrap().unwrap().status,
        RentalStatus::Returned {
            at: net.time,
            periods_used: 2
        }
    );
}

#[test]
fn a_period_that_begins_at_the_return_is_paid() {
    let mut net = Net::new();
    let (alice, bob) = (net.alice.clone(), net.bob.clone());
    let id = net.mint(&alice, 1, 0);
    let listing = net.list_for_rent(&alice, id, hourly());
    net.rent(&bob, listing, 3);
    let rental = net.ledger.asset(&id).unwrap().unwrap().rental.unwrap();
    let started = rental.ends_at - 3 * 3_600;
    // Exactly one hour in, the second hour has begun.
    net.advance(started + 3_600 - 1 - net.time);
    let tx = net.tx(&bob, Operation::ReturnRental { rental: rental.id });
    let block = net.commit_after(1, vec![tx]);
    assert_eq!(net.time, started + 3_600);
    assert_eq!(
        (
            block.settlements[0].periods_used,
            block.settlements[0].refund
        ),
        (2, 100)
    );
}
