//! Blocks, rentals and refusals through the host's handle.

use std::time::Duration;

use ledger::{LedgerError, ListingTerms, Operation};
use server_less::HostError;
use server_less::mempool::Added;
use server_less::node::TxStatus;

use plaza_tests::net::{T0, TestHost, final_status};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_makes_a_living_network_and_status_shows_it() {
    let net = TestHost::manual();
    let status = net.handle().status().await.unwrap();
    assert_eq!(status.chain_id.as_str(), "plaza-it");
    // Genesis, the sample pack minted, then listed; the worlds' deeds
    // minted, then let, sold and given.
    assert_eq!(status.height, 4);
    assert!(status.listings >= 20, "{} listings", status.listings);
    assert_eq!(status.pending, 0);
    let ada = net
        .handle()
        .account(net.key("ada").address())
        .await
        .unwrap();
    // Ada minted every other one of the sample models (the first, the
    // third, ...), each for the fee.
    let minted_by_ada = (assets::pack::sample_models().len() as u64).div_ceil(2);
    assert_eq!(minted_by_ada, 21);
    assert_eq!(
        ada.balance,
        server_less::home::DEMO_BALANCE - minted_by_ada * ledger::MINT_FEE
    );
    assert!(!net.hourly_listings(&net.key("ada")).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rental_ends_and_settles_in_a_block_nobody_asked_for() {
    let net = TestHost::manual();
    let handle = net.handle();
    let (ada, bo) = (net.key("ada"), net.key("bo"));
    let hit = net.hourly_listings(&ada).await.remove(0);
    let ListingTerms::Rent(terms) = hit.listing.terms else {
        unreachable!("a rent listing")
    };
    let host = handle.status().await.unwrap().address;
    let before = (
        handle.account(ada.address()).await.unwrap().balance,
        handle.account(bo.address()).await.unwrap().balance,
        handle.account(host).await.unwrap().balance,
    );

    let started = handle.status().await.unwrap().height;
    net.run(
        &bo,
        Operation::Rent {
            listing: hit.listing.id,
            periods: 2,
        },
    )
    .await
    .unwrap();
    let rent = 2 * terms.price_per_period;
    assert_eq!(
        handle.account(bo.address()).await.unwrap().balance,
        before.1 - rent - terms.deposit
    );

    // Time passes with no traffic: the host makes the block that ends it.
    let mut events = handle.subscribe();
    let idle = handle.status().await.unwrap().height;
    assert!(idle > started);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        handle.status().await.unwrap().height,
        idle,
        "no work, no blocks"
    );
    net.clock().advance(2 * 3_600);
    let event = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let event = events.recv().await.unwrap();
            if !event.block.settlements.is_empty() {
                return event;
            }
        }
    })
    .await
    .expect("a settling block within 5 s");
    assert_eq!(event.block.time, T0 + 2 * 3_600);
    assert!(event.block.results.is_empty());
    let split = event.block.settlements[0].split;
    assert_eq!(split.fee, rent / 100, "the network's 1 %");
    assert_eq!(split.royalty + split.fee + split.to_lessor, rent);

    // Ada is creator and lessor: she keeps all but the fee; Bo gets his
    // deposit back; the host, as proposer, earns the fee.
    assert_eq!(
        handle.account(ada.address()).await.unwrap().balance,
        before.0 + rent - split.fee
    );
    assert_eq!(
        handle.account(bo.address()).await.unwrap().balance,
        before.1 - rent
    );
    assert_eq!(
        handle.account(host).await.unwrap().balance,
        before.2 + split.fee
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_transactions_are_refused_at_once_with_the_ledgers_reason() {
    let net = TestHost::manual();
    let handle = net.handle();
    let (ada, bo) = (net.key("ada"), net.key("bo"));
    let listing = net.hourly_listings(&ada).await.remove(0).listing.id;
    let height = handle.status().await.unwrap().height;

    // Ada cannot rent her own listing.
    let own = net
        .signed(
            &ada,
            Operation::Rent {
                listing,
                periods: 1,
            },
        )
        .await;
    let err = handle.submit(own).await.unwrap_err();
    assert!(
        matches!(err, HostError::Ledger(LedgerError::SelfDealing { .. })),
        "{err}"
    );

    // Signed by Bo in Ada's name.
    let mut forged = net
        .signed(
            &bo,
            Operation::Pay {
                to: bo.address(),
                amount: 10,
            },
        )
        .await;
    forged.tx.signer = ada.address();
    let err = handle.submit(forged).await.unwrap_err();
    assert!(
        matches!(err, HostError::Ledger(LedgerError::BadSignature { .. })),
        "{err}"
    );

    // Nothing was queued, so no block was made.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = handle.status().await.unwrap();
    assert_eq!((status.height, status.pending), (height, 0));

    // A good one goes through; sent again, it is a replay.
    let pay = net
        .signed(
            &bo,
            Operation::Pay {
                to: ada.address(),
                amount: 10,
            },
        )
        .await;
    let id = match handle.submit(pay.clone()).await.unwrap() {
        Added::New(id) => id,
        other => panic!("{other:?}"),
    };
    assert!(matches!(
        final_status(&handle, id).await,
        TxStatus::Final {
            rejection: None,
            ..
        }
    ));
    let err = handle.submit(pay).await.unwrap_err();
    assert!(
        matches!(err, HostError::Ledger(LedgerError::StaleNonce { .. })),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_host_has_every_block_and_still_settles_what_it_left_running() {
    let mut net = TestHost::manual();
    let (ada, bo) = (net.key("ada"), net.key("bo"));
    let listing = net.hourly_listings(&ada).await.remove(0).listing.id;
    net.run(
        &bo,
        Operation::Rent {
            listing,
            periods: 1,
        },
    )
    .await
    .unwrap();
    let before = net.handle().status().await.unwrap();

    net.restart().await;
    let after = net.handle().status().await.unwrap();
    assert_eq!(
        (after.height, after.state_root, after.listings),
        (before.height, before.state_root, before.listings)
    );

    let mut events = net.handle().subscribe();
    net.clock().advance(3_600);
    let event = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("a block within 5 s")
        .unwrap();
    assert_eq!(event.block.settlements.len(), 1);
    assert_eq!(event.block.height, before.height + 1);
}
