//! Two-party trades: every leg or none.

use ledger::testkit::chain_id;
use ledger::{AssetId, Keypair, LedgerError, Operation, Trade, TradeSide, TradeTerms};

use crate::common::{Net, hourly};

fn terms(
    net: &Net,
    a: &Keypair,
    b: &Keypair,
    a_gives: TradeSide,
    b_gives: TradeSide,
) -> TradeTerms {
    TradeTerms {
        a: a.address(),
        b: b.address(),
        a_gives,
        b_gives,
        a_nonce: net.ledger.account(&a.address()).unwrap().nonce,
        b_nonce: net.ledger.account(&b.address()).unwrap().nonce,
        expires_at: net.time + 600,
        revision: 0,
        offers_hash: [0; 32],
    }
    .with_offers_hash()
}

fn signed_by_both(terms: TradeTerms, a: &Keypair, b: &Keypair) -> Operation {
    Operation::Trade(Box::new(Trade {
        a_signature: terms.sign(&chain_id(), a),
        b_signature: terms.sign(&chain_id(), b),
        terms,
    }))
}

fn side(assets: Vec<AssetId>, tokens: u64) -> TradeSide {
    TradeSide { assets, tokens }
}

#[test]
fn a_trade_swaps_assets_and_tokens_and_uses_both_nonces() {
    let mut net = Net::new();
    let (alice, bob) = (net.alice.clone(), net.bob.clone());
    let hat = net.mint(&alice, 1, 0);
    let lamp = net.mint(&bob, 2, 0);
    let chair = net.mint(&bob, 3, 0);
    // Alice's hat was listed; the trade makes that listing lapse.
    let listing = net.list_for_rent(&alice, hat, hourly());
    let (alice_before, bob_before) = (net.balance(&alice), net.balance(&bob));
    let deal = terms(
        &net,
        &alice,
        &bob,
        side(vec![hat], 500),
        side(vec![lamp, chair], 0),
    );
    net.run(&bob, signed_by_both(deal.clone(), &alice, &bob))
        .unwrap();
    assert_eq!(net.owner(&hat), bob.address());
    assert_eq!(net.owner(&lamp), alice.address());
    assert_eq!(net.owner(&chair), alice.address());
    assert_eq!(net.balance(&alice), alice_before - 500);
    assert_eq!(net.balance(&bob), bob_before + 500);
    assert_eq!(
        net.ledger.account(&alice.address()).unwrap().nonce,
        deal.a_nonce + 1
    );
    assert_eq!(
        net.ledger.account(&bob.address()).unwrap().nonce,
        deal.b_nonce + 1
    );
    assert_eq!(
        net.run(
            &net.carol.clone(),
            Operation::Rent {
                listing,
                periods: 1
            }
        ),
        Err(LedgerError::ListingStale {
            listing,
            asset: hat
        })
    );

    // The same signed trade cannot run twice: its nonces are used.
    let replay = net.tx(&bob, signed_by_both(deal, &alice, &bob));
    assert!(matches!(
        net.submit(replay),
        Err(LedgerError::TradeNonce { .. })
    ));
}

#[test]
fn a_trade_with_one_failing_leg_changes_nothing() {
    let mut net = Net::new();
    let (alice, bob) = (net.alice.clone(), net.bob.clone());
    let hat = net.mint(&alice, 1, 0);
    let lamp = net.mint(&bob, 2, 0);
    let too_much = net.balance(&bob) + 1;
    let deal = terms(
        &net,
        &alice,
        &bob,
        side(vec![hat], 0),
        side(vec![lamp], too_much),
    );
    let before = (net.balance(&alice), net.balance(&bob));
    let nonces = (
        net.ledger.account(&alice.address()).unwrap().nonce,
        net.ledger.account(&bob.address()).unwrap().nonce,
    );
    let err = net
        .run(&alice, signed_by_both(deal, &alice, &bob))
        .unwrap_err();
    assert!(
        matches!(err, LedgerError::InsufficientFunds { account, .. } if account == bob.address())
    );
    assert_eq!(net.owner(&hat), alice.address());
    assert_eq!(net.owner(&lamp), bob.address());
    assert_eq!((net.balance(&alice), net.balance(&bob)), before);
    // The submitter's nonce is spent, so the signed trade cannot be sent
    // again; the other party's is not.
    assert_eq!(
        net.ledger.account(&alice.address()).unwrap().nonce,
        nonces.0 + 1
    );
    assert_eq!(net.ledger.account(&bob.address()).unwrap().nonce, nonces.1);

    // A leg naming an asset the giver does not own also sinks the trade.
    let carol_hat = net.mint(&net.carol.clone(), 3, 0);
    let deal = terms(
        &net,
        &alice,
        &bob,
        side(vec![hat, carol_hat], 0),
        side(vec![lamp], 0),
    );
    let err = net
        .run(&alice, signed_by_both(deal, &alice, &bob))
        .unwrap_err();
    assert!(matches!(err, LedgerError::NotOwner { asset, .. } if asset == carol_hat));
    assert_eq!(net.owner(&hat), alice.address());
    assert_eq!(net.owner(&lamp), bob.address());
}

#[test]
fn a_rented_asset_cannot_be_traded_by_owner_or_renter() {
    let mut net = Net::new();
    let (alice, bob, carol) = (net.alice.clone(), net.bob.clone(), net.carol.clone());
    let hat = net.mint(&alice, 1, 0);
    let listing = net.list_for_rent(&alice, hat, hourly());
    net.rent(&bob, listing, 1);
    let rental = net.ledger.asset(&hat).unwrap().unwrap().rental.unwrap();

    let deal = terms(&net, &alice, &carol, side(vec![hat], 0), side(vec![], 10));
    assert_eq!(
        net.run(&alice, signed_by_both(deal, &alice, &carol)),
        Err(LedgerError::AssetLocked {
            action: "trade",
            asset: hat,
            rental: rental.id,
            until: rental.ends_at,
        })
    );
    let deal = terms(&net, &bob, &carol, side(vec![hat], 0), side(vec![], 10));
    assert_eq!(
        net.run(&bob, signed_by_both(deal, &bob, &carol)),
        Err(LedgerError::RenterCannot {
            action: "trade",
            asset: hat,
            renter: bob.address(),
            rental: rental.id,
        })
    );
    assert_eq!(net.owner(&hat), alice.address());
}

#[test]
fn trade_terms_are_checked() {
    let mut net = Net::new();
    let (alice, bob, carol) = (net.alice.clone(), net.bob.clone(), net.carol.clone());
    let hat = net.mint(&alice, 1, 0);

    let deal = terms(&net, &alice, &bob, side(vec![hat], 0), side(vec![], 5));
    assert_eq!(
        net.run(&carol, signed_by_both(deal.clone(), &alice, &bob)),
        Err(LedgerError::NotTradeParty {
            signer: carol.address()
        })
    );

    let mut expired = deal.clone();
    expired.expires_at = net.time + 1;
    assert_eq!(
        net.run(&alice, signed_by_both(expired.clone(), &alice, &bob)),
        Err(LedgerError::TradeExpired {
            expired_at: expired.expires_at,
            now: net.time
        })
    );

    let mut stale = terms(&net, &alice, &bob, side(vec![hat], 0), side(vec![], 5));
    stale.b_nonce += 3;
    assert!(matches!(
        net.run(&alice, signed_by_both(stale, &alice, &bob)),
        Err(LedgerError::TradeNonce { party, .. }) if party == bob.address()
    ));

    let twice = terms(&net, &alice, &bob, side(vec![hat, hat], 0), side(vec![], 5));
    assert_eq!(
        net.run(&alice, signed_by_both(twice, &alice, &bob)),
        Err(LedgerError::InvalidTrade("an asset appears twice"))
    );

    let empty = terms(&net, &alice, &bob, side(vec![], 0), side(vec![], 0));
    assert_eq!(
        net.run(&alice, signed_by_both(empty, &alice, &bob)),
        Err(LedgerError::InvalidTrade("neither side gives anything"))
    );

    let many: Vec<AssetId> = (0..17).map(|i| ledger::testkit::asset_id(5, i)).collect();
    let crowded = terms(&net, &alice, &bob, side(many, 0), side(vec![], 5));
    assert_eq!(
        net.run(&alice, signed_by_both(crowded, &alice, &bob)),
        Err(LedgerError::TooManyTradeAssets {
            count: 17,
            max: ledger::MAX_TRADE_ASSETS
        })
    );

    let alone = terms(&net, &alice, &alice, side(vec![hat], 0), side(vec![], 5));
    assert!(matches!(
        net.run(&alice, signed_by_both(alone, &alice, &alice)),
        Err(LedgerError::SelfDealing { what: "trade", .. })
    ));
    assert_eq!(net.owner(&hat), alice.address());
}

#[test]
fn signatures_over_different_terms_are_rejected() {
    let mut net = Net::new();
    let (alice, bob) = (net.alice.clone(), net.bob.clone());
    let hat = net.mint(&alice, 1, 0);
    let deal = terms(&net, &alice, &bob, side(vec![hat], 0), side(vec![], 1_000));
    // Bob signed a cheaper deal than the one submitted.
    let mut cheaper = deal.clone();
    cheaper.b_gives.tokens = 1;
    let op = Operation::Trade(Box::new(Trade {
        a_signature: deal.sign(&chain_id(), &alice),
        b_signature: cheaper.sign(&chain_id(), &bob),
        terms: deal.clone(),
    }));
    assert_eq!(
        net.run(&alice, op),
        Err(LedgerError::BadTradeSignature {
            party: bob.address()
        })
    );
    // And the other way round, submitted by Bob with the cheap terms.
    let op = Operation::Trade(Box::new(Trade {
        a_signature: deal.sign(&chain_id(), &alice),
        b_signature: cheaper.sign(&chain_id(), &bob),
        terms: cheaper,
    }));
    assert_eq!(
        net.run(&bob, op),
        Err(LedgerError::BadTradeSignature {
            party: alice.address()
        })
    );
    // Terms signed for another chain do not verify here either.
    let other = ledger::ChainId::new("plaza-elsewhere").unwrap();
    let op = Operation::Trade(Box::new(Trade {
        a_signature: deal.sign(&other, &alice),
        b_signature: deal.sign(&other, &bob),
        terms: deal,
    }));
    assert!(matches!(
        net.run(&alice, op),
        Err(LedgerError::BadTradeSignature { .. })
    ));
    assert_eq!(net.owner(&hat), alice.address());
}

#[test]
fn terms_whose_offers_hash_does_not_match_their_offers_are_refused() {
    let mut net = Net::new();
    let (alice, bob) = (net.alice.clone(), net.bob.clone());
    let hat = net.mint(&alice, 1, 0);
    let mut deal = terms(&net, &alice, &bob, side(vec![hat], 0), side(vec![], 70));
    // Both sign terms whose offers were changed after the hash was taken.
    deal.b_gives.tokens = 7;
    let before = (net.balance(&alice), net.balance(&bob));
    assert_eq!(
        net.run(&alice, signed_by_both(deal.clone(), &alice, &bob)),
        Err(LedgerError::TradeOffersHash)
    );
    assert_eq!(net.owner(&hat), alice.address());
    assert_eq!((net.balance(&alice), net.balance(&bob)), before);
    // The same offers under new terms (the refused trade spent alice's
    // nonce) with their hash taken again go through.
    let deal = TradeTerms {
        a_nonce: net.ledger.account(&alice.address()).unwrap().nonce,
        ..deal
    };
    net.run(
        &alice,
        signed_by_both(deal.with_offers_hash(), &alice, &bob),
    )
    .unwrap();
    assert_eq!(net.owner(&hat), bob.address());
}

#[test]
fn a_dry_run_gives_the_outcome_a_block_would_and_writes_nothing() {
    let mut net = Net::new();
    let (alice, bob) = (net.alice.clone(), net.bob.clone());
    let hat = net.mint(&alice, 1, 0);
    let root = net.ledger.state_root();
    let give = |to: &Keypair, nonce| ledger::Transaction {
        chain_id: chain_id(),
        signer: alice.address(),
        nonce,
        valid_until: u64::MAX,
        op: Operation::TransferAsset {
            asset: hat,
            to: to.address(),
        },
    };
    let nonce = net.ledger.account(&alice.address()).unwrap().nonce;
    let time = net.time + 1;
    assert_eq!(
        net.ledger.check_transaction(&give(&bob, nonce), time),
        Ok(())
    );
    assert!(matches!(
        net.ledger.check_transaction(&give(&bob, nonce + 1), time),
        Err(LedgerError::FutureNonce { .. })
    ));
    assert!(matches!(
        net.ledger.check_transaction(&give(&alice, nonce), time),
        Err(LedgerError::SelfDealing { .. })
    ));
    assert!(matches!(
        net.ledger
            .check_transaction(&give(&bob, nonce), net.time - 1),
        Err(LedgerError::BlockTime { .. })
    ));
    assert_eq!(net.ledger.state_root(), root);
    assert_eq!(net.owner(&hat), alice.address());
    net.submit(give(&bob, nonce).sign(&alice)).unwrap();
    assert_eq!(net.owner(&hat), bob.address());
}
