//! Each operation, and each way it can be refused.

use ledger::testkit::asset_id;
use ledger::{LedgerError, ListingStatus, Operation, RentTerms};

use crate::common::{Net, START, hourly};

#[test]
fn mint_makes_the_signer_creator_and_owner() {
    let mut net = Net::new();
    let id = net.mint(&net.alice.clone(), 1, 500);
    let asset = net.ledger.asset(&id).unwrap().unwrap();
    assert_eq!(asset.creator, net.alice.address());
    assert_eq!(asset.owner, net.alice.address());
    assert_eq!(asset.royalty_bps, 500);
    assert_eq!(asset.listing, None);
    assert_eq!(asset.rental, None);
    assert_eq!(net.ledger.account(&net.alice.address()).unwrap().nonce, 1);
}

#[test]
fn mint_refuses_a_royalty_over_the_cap_and_a_second_mint() {
    let mut net = Net::new();
    let cap = net.ledger.chain().params.max_royalty_bps;
    let err = net
        .run(
            &net.alice.clone(),
            Operation::Mint {
                manifest: asset_id(9, 1),
                royalty_bps: cap + 1,
            },
        )
        .unwrap_err();
    assert_eq!(
        err,
        LedgerError::RoyaltyTooHigh {
            bps: cap + 1,
            max: cap
        }
    );
    assert!(net.ledger.asset(&asset_id(9, 1)).unwrap().is_none());
    // The rejected transaction did not use the nonce.
    assert_eq!(net.ledger.account(&net.alice.address()).unwrap().nonce, 0);

    let id = net.mint(&net.alice.clone(), 1, cap);
    let err = net
        .run(
            &net.bob.clone(),
            Operation::Mint {
                manifest: id,
                royalty_bps: 0,
            },
        )
        .unwrap_err();
    assert_eq!(err, LedgerError::AssetExists(id));
    assert_eq!(net.owner(&id), net.alice.address());
}

#[test]
fn pay_moves_tokens_and_refuses_overdrafts_zero_and_self() {
    let mut net = Net::new();
    let (alice, bob) = (net.alice.clone(), net.bob.clone());
    net.run(
        &alice,
        Operation::Pay {
            to: bob.address(),
            amount: 250,
        },
    )
    .unwrap();
    assert_eq!(net.balance(&alice), START - 250);
    assert_eq!(net.balance(&bob), START + 250);

    let err = net
        .run(
            &alice,
            Operation::Pay {
                to: bob.address(),
                amount: START,
            },
        )
        .unwrap_err();
    assert_eq!(
        err,
        LedgerError::InsufficientFunds {
            account: alice.address(),
            needed: START,
            available: START - 250,
        }
    );
    assert_eq!(
        net.run(
            &alice,
            Operation::Pay {
                to: bob.address(),
                amount: 0
            }
        ),
        Err(LedgerError::ZeroAmount { what: "a payment" })
    );
    assert!(matches!(
        net.run(
            &alice,
            Operation::Pay {
                to: alice.address(),
                amount: 1
            }
        ),
        Err(LedgerError::SelfDealing { .. })
    ));
    assert_eq!(net.balance(&alice), START - 250);
    assert_eq!(net.balance(&bob), START + 250);
    // A brand-new account can receive.
    let stranger = ledger::testkit::keypair(77, 0).address();
    net.run(
        &alice,
        Operation::Pay {
            to: stranger,
            amount: 5,
        },
    )
    .unwrap();
    assert_eq!(net.ledger.account(&stranger).unwrap().balance, 5);
}

#[test]
fn transfer_changes_owner_and_only_the_owner_can() {
    let mut net = Net::new();
    let (alice, bob, carol) = (net.alice.clone(), net.bob.clone(), net.carol.clone());
    let id = net.mint(&alice, 1, 0);
    let err = net
        .run(
            &bob,
            Operation::TransferAsset {
                asset: id,
                to: carol.address(),
            },
        )
        .unwrap_err();
    assert_eq!(
        err,
        LedgerError::NotOwner {
            action: "transfer",
            asset: id,
            signer: bob.address(),
            owner: alice.address(),
        }
    );
    assert!(matches!(
        net.run(
            &alice,
            Operation::TransferAsset {
                asset: id,
                to: alice.address()
            }
        ),
        Err(LedgerError::SelfDealing { .. })
    ));
    net.run(
        &alice,
        Operation::TransferAsset {
            asset: id,
            to: bob.address(),
        },
    )
    .unwrap();
    let asset = net.ledger.asset(&id).unwrap().unwrap();
    assert_eq!(asset.owner, bob.address());
    assert_eq!(asset.creator, alice.address());
    assert_eq!(asset.owner_seq, 1);

    let missing = asset_id(9, 99);
    assert_eq!(
        net.run(
            &bob,
            Operation::TransferAsset {
                asset: missing,
                to: carol.address()
            }
        ),
        Err(LedgerError::AssetNotFound(missing))
    );
}

#[test]
fn listing_terms_are_checked() {
    let mut net = Net::new();
    let alice = net.alice.clone();
    let id = net.mint(&alice, 1, 0);
    let limit = net.ledger.chain().params.max_rental_periods;
    let far = net.time + 10_000;
    let cases: Vec<(RentTerms, LedgerError)> = vec![
        (
            RentTerms {
                price_per_period: 0,
                ..hourly()
            },
            LedgerError::ZeroAmount {
                what: "a price per period",
            },
        ),
        (
            RentTerms {
                period_secs: 0,
                ..hourly()
            },
            LedgerError::InvalidTerms("a period must last at least one second"),
        ),
        (
            RentTerms {
                min_periods: 0,
                ..hourly()
            },
            LedgerError::InvalidTerms("the minimum is at least one period"),
        ),
        (
            RentTerms {
                min_periods: 5,
                max_periods: 4,
                ..hourly()
            },
            LedgerError::InvalidTerms("the minimum number of periods is above the maximum"),
        ),
        (
            RentTerms {
                max_periods: limit + 1,
                ..hourly()
            },
            LedgerError::InvalidTerms("the maximum number of periods is above the network's limit"),
        ),
        (
            RentTerms {
                reserved_for: Some(alice.address()),
                ..hourly()
            },
            LedgerError::SelfDealing {
                what: "reserve a listing",
                address: alice.address(),
            },
        ),
        (
            RentTerms {
                price_per_period: u64::MAX / 2,
                max_periods: 3,
                ..hourly()
            },
            LedgerError::Overflow {
                what: "the rent for the longest term",
            },
        ),
        (
            RentTerms {
                period_secs: u64::MAX / 2,
                max_periods: 3,
                ..hourly()
            },
            LedgerError::Overflow {
                what: "the end of the longest term",
            },
        ),
    ];
    for (terms, expected) in cases {
        let got = net.run(
            &alice,
            Operation::ListForRent {
                asset: id,
                terms,
                expires_at: far,
            },
        );
        assert_eq!(got, Err(expected));
    }
    let now = net.time + 1;
    assert_eq!(
        net.run(
            &alice,
            Operation::ListForRent {
                asset: id,
                terms: hourly(),
                expires_at: now
            }
        ),
        Err(LedgerError::InvalidTerms(
            "the listing would expire before it could be filled"
        ))
    );
    assert_eq!(
        net.run(
            &alice,
            Operation::ListForSale {
                asset: id,
                price: 0,
                expires_at: far
            }
        ),
        Err(LedgerError::ZeroAmount { what: "a price" })
    );
    assert!(net.ledger.listings().unwrap().is_empty());
    assert_eq!(net.ledger.asset(&id).unwrap().unwrap().listing, None);
}

#[test]
fn an_asset_has_one_open_listing_and_the_lister_can_cancel_it() {
    let mut net = Net::new();
    let (alice, bob) = (net.alice.clone(), net.bob.clone());
    let id = net.mint(&alice, 1, 0);
    let listing = net.list_for_rent(&alice, id, hourly());
    let far = net.time + 10_000;
    assert_eq!(
        net.run(
            &alice,
            Operation::ListForSale {
                asset: id,
                price: 10,
                expires_at: far
            }
        ),
        Err(LedgerError::AlreadyListed { asset: id, listing })
    );
    assert_eq!(
        net.run(&bob, Operation::CancelListing { listing }),
        Err(LedgerError::NotLister {
            listing,
            signer: bob.address(),
            lister: alice.address()
        })
    );
    net.run(&alice, Operation::CancelListing { listing })
        .unwrap();
    assert!(matches!(
        net.ledger.listing(listing).unwrap().unwrap().status,
        ListingStatus::Cancelled { .. }
    ));
    assert_eq!(net.ledger.asset(&id).unwrap().unwrap().listing, None);
    assert_eq!(
        net.run(&alice, Operation::CancelListing { listing }),
        Err(LedgerError::ListingClosed {
            listing,
            status: "cancelled"
        })
    );
    assert_eq!(
        net.run(
            &bob,
            Operation::Rent {
                listing,
                periods: 1
            }
        ),
        Err(LedgerError::ListingClosed {
            listing,
            status: "cancelled"
        })
    );
    // Now it can be listed again.
    net.run(
        &alice,
        Operation::ListForSale {
            asset: id,
            price: 10,
            expires_at: far,
        },
    )
    .unwrap();
    let unknown = ledger::ListingId(999);
    assert_eq!(
        net.run(&bob, Operation::Buy { listing: unknown }),
        Err(LedgerError::ListingNotFound(unknown))
    );
}

#[test]
fn buying_splits_the_price_and_closes_the_listing() {
    let mut net = Net::new();
    let (alice, bob, carol) = (net.alice.clone(), net.bob.clone(), net.carol.clone());
    let id = net.mint(&alice, 1, 1_000); // 10 % royalty
    net.run(
        &alice,
        Operation::TransferAsset {
            asset: id,
            to: bob.address(),
        },
    )
    .unwrap();
    let far = net.time + 10_000;
    net.run(
        &bob,
        Operation::ListForSale {
            asset: id,
            price: 10_001,
            expires_at: far,
        },
    )
    .unwrap();
    let listing = net.ledger.asset(&id).unwrap().unwrap().listing.unwrap();

    assert_eq!(
        net.run(&bob, Operation::Buy { listing }),
        Err(LedgerError::SelfDealing {
            what: "fill a listing",
            address: bob.address()
        })
    );
    assert_eq!(
        net.run(
            &carol,
            Operation::Rent {
                listing,
                periods: 1
            }
        ),
        Err(LedgerError::WrongListingKind {
            listing,
            expected: "rent",
            actual: "sale"
        })
    );
    let before = (
        net.balance(&alice),
        net.balance(&bob),
        net.balance(&carol),
        net.proposer_balance(),
    );
    net.run(&carol, Operation::Buy { listing }).unwrap();
    // Royalty 10 % of 10,001 = 1,000 (rounded down); fee 1 % = 100; seller 8,901.
    assert_eq!(net.balance(&alice), before.0 + 1_000);
    assert_eq!(net.balance(&bob), before.1 + 8_901);
    assert_eq!(net.balance(&carol), before.2 - 10_001);
    assert_eq!(net.proposer_balance(), before.3 + 100);
    assert_eq!(net.owner(&id), carol.address());
    assert!(matches!(
        net.ledger.listing(listing).unwrap().unwrap().status,
        ListingStatus::Sold { buyer, .. } if buyer == carol.address()
    ));
    assert_eq!(
        net.run(&net.dave.clone(), Operation::Buy { listing }),
        Err(LedgerError::ListingClosed {
            listing,
            status: "sold"
        })
    );
}

#[test]
fn a_listing_cannot_be_filled_after_expiry_or_a_change_of_owner() {
    let mut net = Net::new();
    let (alice, bob, carol) = (net.alice.clone(), net.bob.clone(), net.carol.clone());
    let id = net.mint(&alice, 1, 0);
    let expires_at = net.time + 100;
    net.run(
        &alice,
        Operation::ListForSale {
            asset: id,
            price: 50,
            expires_at,
        },
    )
    .unwrap();
    let listing = net.ledger.asset(&id).unwrap().unwrap().listing.unwrap();
    net.advance(200);
    let err = net.run(&bob, Operation::Buy { listing }).unwrap_err();
    assert_eq!(
        err,
        LedgerError::ListingExpired {
            listing,
            expired_at: expires_at,
            now: net.time
        }
    );

    // A fresh listing, then the owner gives the asset away: the listing is stale.
    let far = net.time + 10_000;
    net.run(
        &alice,
        Operation::ListForRent {
            asset: id,
            terms: hourly(),
            expires_at: far,
        },
    )
    .unwrap();
    let listing = net.ledger.asset(&id).unwrap().unwrap().listing.unwrap();
    net.run(
        &alice,
        Operation::TransferAsset {
            asset: id,
            to: carol.address(),
        },
    )
    .unwrap();
    assert_eq!(net.ledger.asset(&id).unwrap().unwrap().listing, None);
    assert_eq!(
        net.run(
            &bob,
            Operation::Rent {
                listing,
                periods: 1
            }
        ),
        Err(LedgerError::ListingStale { listing, asset: id })
    );
    // Even if it comes back to the lister.
    net.run(
        &carol,
        Operation::TransferAsset {
            asset: id,
            to: alice.address(),
        },
    )
    .unwrap();
    assert_eq!(
        net.run(
            &bob,
            Operation::Rent {
                listing,
                periods: 1
            }
        ),
        Err(LedgerError::ListingStale { listing, asset: id })
    );
}
