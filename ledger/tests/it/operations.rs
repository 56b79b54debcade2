//! Each operation, and each way it can be refused.

use ledger::testkit::{asset_id, mint_op};
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
    let alice = net.alice.clone();
    let (id, op) = mint_op(&alice.address(), 9, 1, cap + 1);
    let err = net.run(&alice, op).unwrap_err();
    assert_eq!(
        err,
        LedgerError::RoyaltyTooHigh {
            bps: cap + 1,
            max: cap
        }
    );
    assert!(net.ledger.asset(&id).unwrap().is_none());
    // The refused mint spent the nonce and nothing else.
    assert_eq!(net.ledger.account(&alice.address()).unwrap().nonce, 1);
    assert_eq!(net.balance(&alice), START);

    let id = net.mint(&alice, 1, cap);
    let (_, again) = mint_op(&alice.address(), 9, 1, 0);
    let err = net.run(&alice, again).unwrap_err();
    assert_eq!(err, LedgerError::AssetExists(id));
    assert_eq!(net.owner(&id), alice.address());
}

#[test]
fn a_mint_costs_its_fee_and_only_the_creator_the_manifest_names_may_mint_it() {
    let mut net = Net::new();
    let (alice, bob) = (net.alice.clone(), net.bob.clone());
    let id = net.mint(&alice, 3, 100);
    assert_eq!(net.balance(&alice), START - ledger::MINT_FEE);
    assert_eq!(
        net.ledger.asset(&id).unwrap().unwrap().creator,
        alice.address()
    );

    // Bob copies a mint of alice's manifest from the mempool: refused,
    // and alice's own mint still goes through afterwards.
    let (theirs, op) = mint_op(&alice.address(), 9, 4, 2_000);
    let err = net.run(&bob, op.clone()).unwrap_err();
    assert_eq!(
        err,
        LedgerError::NotTheCreator {
            signer: bob.address(),
            creator: alice.address().to_string(),
        }
    );
    assert!(net.ledger.asset(&theirs).unwrap().is_none());
    assert_eq!(net.balance(&bob), START);
    net.run(&alice, op).unwrap();
    assert_eq!(net.owner(&theirs), alice.address());

    // Bytes that are not a canonical manifest are refused.
    let err = net
        .run(
            &alice,
            Operation::Mint {
                manifest: ledger::ManifestBytes(b"{\"name\":\"x\"}".to_vec()),
                royalty_bps: 0,
            },
        )
        .unwrap_err();
    assert!(matches!(err, LedgerError::BadManifest(_)), "{err}");

    // An account that cannot pay the fee mints nothing.
    let broke = ledger::testkit::keypair(77, 1);
    let (nothing, op) = mint_op(&broke.address(), 9, 5, 0);
    let err = net.run(&broke, op).unwrap_err();
    assert!(
        matches!(err, LedgerError::InsufficientFunds { .. }),
        "{err}"
    );
    assert!(net.ledger.asset(&nothing).unwrap().is_none());
}

#[test]
fn a_transaction_that_fails_in_a_block_spends_its_nonce_and_cannot_be_replayed() {
    let mut net = Net::new();
    let (alice, bob) = (net.alice.clone(), net.bob.clone());
    // Alice pays more than she has: refused, nonce 0 spent.
    let tx = net.tx_with_nonce(
        &alice,
        0,
        Operation::Pay {
            to: bob.address(),
            amount: START + 1,
        },
    );
    assert!(matches!(
        net.submit(tx.clone()),
        Err(LedgerError::InsufficientFunds { .. })
    ));
    assert_eq!(net.ledger.account(&alice.address()).unwrap().nonce, 1);
    assert_eq!(net.balance(&alice), START);
    // Once she could pay, the same signed transaction is still refused:
    // its nonce is gone.
    net.run(
        &bob,
        Operation::Pay {
            to: alice.address(),
            amount: 10,
        },
    )
    .unwrap();
    let replayed = net.submit(tx);
    assert!(
        matches!(replayed, Err(LedgerError::StaleNonce { .. })),
        "{replayed:?}"
    );
    assert_eq!(net.balance(&alice), START + 10);
    // Her next transaction, nonce 1, goes through.
    net.run(
        &alice,
        Operation::Pay {
            to: bob.address(),
            amount: 1,
        },
    )
    .unwrap();
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
