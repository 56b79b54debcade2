//! Builders against the real ledger: a built transaction is one the
//! ledger applies, and a refused intent is refused with the very reason
//! the ledger would give.

use assets::AssetKind;
use ledger::testkit::chain_id;
use ledger::{AssetId, LedgerError, Operation, RentTerms, Transaction};
use market::{MarketError, VALID_SECS, build};
use proptest::prelude::*;

use crate::common::{Net, hourly, manifest};

fn built(
    net: &Net,
    who: &ledger::Keypair,
    op: Operation,
    now: u64,
) -> Result<Transaction, MarketError> {
    let nonce = net.ledger.account(&who.address()).unwrap().nonce;
    build(
        &net.ledger,
        net.ledger.chain(),
        who.address(),
        nonce,
        op,
        now,
    )
}

#[test]
fn every_intent_builds_a_transaction_the_ledger_applies() {
    let mut net = Net::new(100);
    let (alice, bob) = (net.players[3].clone(), net.players[4].clone());
    let mut made = manifest("Brass lamp", AssetKind::Lighting, "", "gold");
    made.creator = alice.address().to_string();
    let lamp = AssetId(made.content_id().unwrap());
    let chair = net.mint(
        &bob,
        manifest("Oak chair", AssetKind::Furniture, "", "brown"),
    );
    let run = |net: &mut Net, who: &ledger::Keypair, op: Operation| {
        let now = net.time + 1;
        let tx = built(net, who, op, now).unwrap();
        assert_eq!(tx.valid_until, now + VALID_SECS);
        let committed = net.commit_at(now, vec![tx.sign(who)]);
        assert_eq!(committed.results[0].outcome, Ok(()));
    };
    run(
        &mut net,
        &alice,
        Operation::Mint {
            manifest: ledger::ManifestBytes(made.to_json().unwrap()),
            royalty_bps: 500,
        },
    );
    let expires_at = net.time + 50_000;
    run(
        &mut net,
        &alice,
        Operation::ListForRent {
            asset: lamp,
            terms: hourly(7),
            expires_at,
        },
    );
    let listing = net.listing_of(&lamp);
    run(
        &mut net,
        &bob,
        Operation::Rent {
            listing,
            periods: 3,
        },
    );
    let rental = net.ledger.asset(&lamp).unwrap().unwrap().rental.unwrap().id;
    run(&mut net, &bob, Operation::ReturnRental { rental });
    run(&mut net, &alice, Operation::CancelListing { listing });
    run(
        &mut net,
        &bob,
        Operation::ListForSale {
            asset: chair,
            price: 90,
            expires_at,
        },
    );
    let listing = net.listing_of(&chair);
    run(&mut net, &alice, Operation::Buy { listing });
    run(
        &mut net,
        &alice,
        Operation::TransferAsset {
            asset: chair,
            to: bob.address(),
        },
    );
    run(
        &mut net,
        &bob,
        Operation::Pay {
            to: alice.address(),
            amount: 12,
        },
    );
    assert_eq!(
        net.ledger.asset(&chair).unwrap().unwrap().owner,
        bob.address()
    );
}

#[test]
fn a_nonce_already_used_is_refused_and_a_later_one_kept() {
    let net = Net::new(100);
    let alice = net.players[3].clone();
    let pay = Operation::Pay {
        to: net.players[4].address(),
        amount: 1,
    };
    let tx = build(
        &net.ledger,
        net.ledger.chain(),
        alice.address(),
        3,
        pay.clone(),
        net.time + 1,
    )
    .unwrap();
    assert_eq!(tx.nonce, 3);
    let mut net = net;
    net.run(
        &alice,
        Operation::Pay {
            to: net.players[5].address(),
            amount: 1,
        },
    )
    .unwrap();
    assert!(matches!(
        build(
            &net.ledger,
            net.ledger.chain(),
            alice.address(),
            0,
            pay,
            net.time + 1
        ),
        Err(MarketError::Refused(LedgerError::StaleNonce {
            expected: 1,
            got: 0,
            ..
        }))
    ));
}

#[derive(Clone, Debug)]
enum Try {
    ListRent {
        who: usize,
        asset: usize,
        price: u64,
        min: u32,
        max: u32,
        expires_in: u64,
    },
    ListSale {
        who: usize,
        asset: usize,
        price: u64,
        expires_in: u64,
    },
    Rent {
        who: usize,
        listing: u64,
        periods: u32,
    },
    Buy {
        who: usize,
        listing: u64,
    },
    Cancel {
        who: usize,
        listing: u64,
    },
    Return {
        who: usize,
        rental: u64,
    },
    Pay {
        who: usize,
        to: usize,
        amount: u64,
    },
    Give {
        who: usize,
        asset: usize,
        to: usize,
    },
    Wait {
        secs: u64,
    },
}

fn tries() -> impl Strategy<Value = Try> {
    prop_oneof![
        (
            0..4usize,
            0..6usize,
            0..30u64,
            0..4u32,
            0..6u32,
            0..20_000u64
        )
            .prop_map(|(who, asset, price, min, max, expires_in)| Try::ListRent {
                who,
                asset,
                price,
                min,
                max,
                expires_in
            }),
        (0..4usize, 0..6usize, 0..3_000_000_000u64, 0..20_000u64).prop_map(
            |(who, asset, price, expires_in)| Try::ListSale {
                who,
                asset,
                price,
                expires_in
            }
        ),
        (0..4usize, 0..8u64, 0..12u32).prop_map(|(who, listing, periods)| Try::Rent {
            who,
            listing,
            periods
        }),
        (0..4usize, 0..8u64).prop_map(|(who, listing)| Try::Buy { who, listing }),
        (0..4usize, 0..8u64).prop_map(|(who, listing)| Try::Cancel { who, listing }),
        (0..4usize, 0..4u64).prop_map(|(who, rental)| Try::Return { who, rental }),
        (0..4usize, 0..4usize, 0..20_000_000_000u64).prop_map(|(who, to, amount)| Try::Pay {
            who,
            to,
            amount
        }),
        (0..4usize, 0..6usize, 0..4usize).prop_map(|(who, asset, to)| Try::Give { who, asset, to }),
        (1..30_000u64).prop_map(|secs| Try::Wait { secs }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random intents, most of them doomed: the builder refuses exactly
    /// what the ledger refuses, with the same reason.
    #[test]
    fn the_builder_refuses_what_the_ledger_refuses(tries in prop::collection::vec(tries(), 1..40)) {
        let mut net = Net::new(100);
        let players: Vec<ledger::Keypair> = net.players[..4].to_vec();
        let assets: Vec<AssetId> = (0..6)
            .map(|i| net.mint(&players[i % 4].clone(), manifest(&format!("Thing {i}"), AssetKind::Decoration, "", "red")))
            .collect();
        for attempt in tries {
            let now = net.time + 1;
            let (who, op) = match attempt {
                Try::Wait { secs } => {
                    net.commit_at(net.time + secs, Vec::new());
                    continue;
                }
                Try::ListRent { who, asset, price, min, max, expires_in } => (who, Operation::ListForRent {
                    asset: assets[asset],
                    terms: RentTerms { price_per_period: price, period_secs: 600, min_periods: min, max_periods: max, deposit: price, reserved_for: None },
                    expires_at: now + expires_in,
                }),
                Try::ListSale { who, asset, price, expires_in } => (who, Operation::ListForSale { asset: assets[asset], price, expires_at: now + expires_in }),
                Try::Rent { who, listing, periods } => (who, Operation::Rent { listing: ledger::ListingId(listing), periods }),
                Try::Buy { who, listing } => (who, Operation::Buy { listing: ledger::ListingId(listing) }),
                Try::Cancel { who, listing } => (who, Operation::CancelListing { listing: ledger::ListingId(listing) }),
                Try::Return { who, rental } => (who, Operation::ReturnRental { rental: ledger::RentalId(rental) }),
                Try::Pay { who, to, amount } => (who, Operation::Pay { to: players[to].address(), amount }),
                Try::Give { who, asset, to } => (who, Operation::TransferAsset { asset: assets[asset], to: players[to].address() }),
            };
            let signer = players[who].clone();
            let verdict = built(&net, &signer, op.clone(), now);
            // The same operation, forced through the ledger.
            let forced = match &verdict {
                Ok(tx) => tx.clone(),
                Err(_) => Transaction {
                    chain_id: chain_id(),
                    signer: signer.address(),
                    nonce: net.ledger.account(&signer.address()).unwrap().nonce,
                    valid_until: now + VALID_SECS,
                    op,
                },
            };
            let outcome = net.commit_at(now, vec![forced.sign(&signer)]).results[0].outcome.clone();
            match (verdict, outcome) {
                (Ok(_), Ok(())) => {}
                (Err(MarketError::Refused(said)), Err(did)) => prop_assert_eq!(said, did),
                other => prop_assert!(false, "builder and ledger disagree: {:?}", other),
            }
        }
    }
}

#[test]
fn every_client_signs_with_one_nonce_and_deadline_rule() {
    let (a, b, c) = (
        ledger::Address::from_bytes([1; 32]),
        ledger::Address::from_bytes([2; 32]),
        ledger::Address::from_bytes([3; 32]),
    );
    let pay = Operation::Pay { to: b, amount: 5 };
    let tx = market::transaction(chain_id(), a, 7, pay, 1_000);
    assert_eq!((tx.signer, tx.nonce), (a, 7));
    assert_eq!(tx.valid_until, 1_000 + VALID_SECS);
    // A trade's parties sign with the nonces its terms fixed; anyone else
    // (a third party cannot submit it, but the rule is the same) with
    // the next.
    let terms = ledger::TradeTerms {
        a,
        b,
        a_gives: ledger::TradeSide::default(),
        b_gives: ledger::TradeSide::default(),
        a_nonce: 4,
        b_nonce: 9,
        expires_at: 2_000,
        revision: 1,
        offers_hash: [0; 32],
    };
    let trade = Operation::Trade(Box::new(ledger::Trade {
        terms,
        a_signature: ledger::Signature([0; 64]),
        b_signature: ledger::Signature([0; 64]),
    }));
    assert_eq!(market::nonce_for(&trade, &a, 6), 4);
    assert_eq!(market::nonce_for(&trade, &b, 6), 9);
    assert_eq!(market::nonce_for(&trade, &c, 6), 6);
    assert_eq!(market::transaction(chain_id(), b, 11, trade, 0).nonce, 9);
}
