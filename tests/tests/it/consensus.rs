//! The host with its blocks ordered by the malachite BFT engine, over real
//! sockets on 127.0.0.1 and a real ledger.

use std::time::Duration;

use ledger::Operation;
use plaza_tests::testnet::Testnet;
use server_less::node::TxStatus;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_of_one_validator_finalises_blocks_through_consensus() {
    let _turn = plaza_tests::WHOLE_NETWORK.lock().await;
    let mut net = Testnet::new(1, 0);
    net.start(0);
    let before = net.balance_of_bo(0).await;
    let height = net.pay(0, 25).await;
    assert!(height >= 1);
    assert_eq!(net.balance_of_bo(0).await, before + 25);
    net.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_validators_agree_on_every_block_and_a_rent_at_one_is_final_at_all() {
    let _turn = plaza_tests::WHOLE_NETWORK.lock().await;
    let mut net = Testnet::new(4, 0);
    for index in 0..4 {
        net.start(index);
    }
    // One of the sample pack's rent listings, not bo's own.
    let bo = net.key("bo");
    let page = net
        .handle(0)
        .browse(market::catalogue::Query {
            side: Some(market::catalogue::Side::Rent),
            ..Default::default()
        })
        .await
        .unwrap();
    let hit = page
        .hits
        .iter()
        .find(|hit| hit.listing.lister != bo.address())
        .expect("a rent listing");
    let ledger::ListingTerms::Rent(terms) = hit.listing.terms else {
        panic!("a rent listing with sale terms");
    };
    let asset = hit.listing.asset;
    let rent = net
        .tx(
            0,
            &bo,
            Operation::Rent {
                listing: hit.listing.id,
                periods: terms.min_periods,
            },
        )
        .await;
    // Submitted at one host only: it is final once that host proposes.
    let height = net.final_at(0, rent).await;
    for index in 0..4 {
        net.same_chain(index, height).await;
        let held = net.handle(index).inventory(bo.address()).await.unwrap();
        assert!(
            held.renting.iter().any(|rented| rented.id == asset),
            "host {} does not show the rent",
            index + 1
        );
    }
    net.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_validators_go_on_without_the_fourth_which_catches_up_when_back() {
    let _turn = plaza_tests::WHOLE_NETWORK.lock().await;
    let mut net = Testnet::new(4, 0);
    for index in 0..4 {
        net.start(index);
    }
    let first = net.pay(0, 10).await;
    net.same_chain(3, first).await;
    net.stop(3).await;
    // Three of four hold more than two thirds of the power.
    let second = net.pay(1, 20).await;
    assert!(second > first);
    net.start(3);
    net.same_chain(3, second).await;
    // Back in step, it finalises with the others again.
    let third = net.pay(0, 30).await;
    net.same_chain(3, third).await;
    let expected = net.balance_of_bo(0).await;
    assert_eq!(net.balance_of_bo(3).await, expected);
    net.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_is_not_a_validator_joins_late_and_syncs_the_whole_chain() {
    let _turn = plaza_tests::WHOLE_NETWORK.lock().await;
    let mut net = Testnet::new(4, 1);
    for index in 0..4 {
        net.start(index);
    }
    net.pay(0, 10).await;
    let height = net.pay(2, 20).await;
    net.start(4);
    net.same_chain(4, height).await;
    // It follows what comes next too.
    let later = net.pay(0, 5).await;
    net.same_chain(4, later).await;
    let expected = net.balance_of_bo(0).await;
    assert_eq!(net.balance_of_bo(4).await, expected);
    net.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitioned_two_against_two_nothing_is_final_and_three_against_one_the_three_go_on() {
    let _turn = plaza_tests::WHOLE_NETWORK.lock().await;
    let mut net = Testnet::with_links(4).await;
    for index in 0..4 {
        net.start(index);
    }
    let first = net.pay(0, 10).await;
    net.same_chain(3, first).await;

    // Two against two: neither side holds more than two thirds of the
    // power, so neither decides anything.
    net.links().cut(&[0, 1], &[2, 3]);
    // A block decided just before may still land, at a host that lagged
    // too; nothing beyond it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut decided = 0;
    for index in 0..4 {
        decided = decided.max(net.height(index).await);
    }
    let to = net.key("bo").address();
    let waiting = net
        .tx(0, &net.key("ada"), Operation::Pay { to, amount: 1 })
        .await;
    net.handle(0).submit(waiting.clone()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    for index in 0..4 {
        let height = net.height(index).await;
        assert!(
            height <= decided,
            "host {} finalised block {height} while partitioned (the last decided before was {decided})",
            index + 1
        );
    }
    assert_eq!(
        net.handle(0).tx_status(waiting.id()).await.unwrap(),
        TxStatus::Pending
    );

    // Mended, the network goes on as one chain: what waited is final.
    net.links().heal();
    let healed = net.final_at(0, waiting).await;
    assert!(healed > decided);
    for index in 0..4 {
        net.same_chain(index, healed).await;
    }

    // Three against one: the three hold more than two thirds and go on.
    net.links().cut(&[3], &[0, 1, 2]);
    let alone = net.height(3).await;
    let three = net.pay(1, 20).await;
    net.same_chain(2, three).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        net.height(3).await <= alone + 1,
        "the lone host finalised alone"
    );
    net.links().heal();
    net.same_chain(3, three).await;
    net.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_stakes_votes_from_two_blocks_on_and_stops_when_it_unstakes() {
    let _turn = plaza_tests::WHOLE_NETWORK.lock().await;
    // Three genesis validators and a fourth host that follows the chain.
    let mut net = Testnet::new(3, 1);
    for index in 0..4 {
        net.start(index);
    }
    let newcomer = net.home(3).load_host_key().unwrap();
    let funding = net
        .tx(
            0,
            &net.key("ada"),
            Operation::Pay {
                to: newcomer.address(),
                amount: 10_000,
            },
        )
        .await;
    net.final_at(0, funding).await;
    let stake = net
        .tx(0, &newcomer, Operation::Stake { amount: 5_000 })
        .await;
    let staked_at = net.final_at(0, stake).await;
    net.power_becomes(0, &newcomer, 5_000).await;
    assert!(net.height(0).await > staked_at);

    // With one genesis validator gone, the other two hold less than two
    // thirds of the power: blocks are final only with the newcomer's
    // votes.
    net.stop(2).await;
    let voted = net.pay(0, 10).await;
    net.same_chain(3, voted).await;
    net.start(2);

    let unstake = net
        .tx(0, &newcomer, Operation::Unstake { amount: 5_000 })
        .await;
    net.final_at(0, unstake).await;
    net.power_becomes(0, &newcomer, 0).await;
    assert_eq!(
        net.handle(0)
            .account(newcomer.address())
            .await
            .unwrap()
            .balance,
        10_000
    );
    // No longer needed: the three go on without it.
    net.stop(3).await;
    let after = net.pay(1, 20).await;
    net.same_chain(2, after).await;
    net.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validator_run_twice_is_reported_for_its_conflicting_votes_and_the_chain_does_not_fork() {
    let _turn = plaza_tests::WHOLE_NETWORK.lock().await;
    // Host 5 runs with validator 4's key (and a node key of its own): one
    // validator twice, each copy proposing from what it alone was sent and
    // voting for its own block.
    let mut net = Testnet::new(4, 1);
    std::fs::copy(net.home(3).host_key(), net.home(4).host_key()).unwrap();
    let twin = net.home(3).load_host_key().unwrap().address();
    for index in 0..5 {
        net.start(index);
    }
    let (ada, cy, bo) = (net.key("ada"), net.key("cy"), net.key("bo").address());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let reported = loop {
        // Each copy always has a payment of its own waiting.
        for (index, payer) in [(3, &ada), (4, &cy)] {
            let tx = net
                .tx(index, payer, Operation::Pay { to: bo, amount: 1 })
                .await;
            let _ = net.handle(index).submit(tx).await;
        }
        let reports: Vec<_> = (0..3)
            .flat_map(|index| net.handle(index).misbehaviour())
            .collect();
        if !reports.is_empty() {
            break reports;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no host reported the twice-run validator"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(reported.iter().all(|report| report.validator == twin));
    assert!(
        reported
            .iter()
            .any(|report| report.conflicting_votes + report.conflicting_proposals > 0)
    );
    // The hosts that saw it report it to the ledger, which burns a tenth
    // of its stake and takes it out of the set two heights on.
    let dee = net.key("dee");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut last_sent = None;
    loop {
        let validators = net.handle(0).validators().await.unwrap();
        if !validators.iter().any(|validator| validator.address == twin) {
            assert_eq!(validators.len(), 3);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the twice-run validator was never slashed"
        );
        let tx = net.tx(0, &dee, Operation::Pay { to: bo, amount: 1 }).await;
        if let Ok(added) = net.handle(0).submit(tx).await {
            last_sent = Some(added.id());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Dee's last payment is in a block before dee pays again.
    if let Some(id) = last_sent {
        net.handle(0)
            .wait_final(id, Duration::from_secs(30))
            .await
            .unwrap();
    }
    // The nine tenths not burnt are back in its account.
    let account = net.handle(0).account(twin).await.unwrap();
    assert!(
        account.balance >= 90_000,
        "the twin got back {} of its 100,000 stake",
        account.balance
    );
    // One chain: every host, both copies too, has the same blocks. (Dee
    // pays: ada and cy may still have payments waiting at the copies.)
    let tx = net.tx(0, &dee, Operation::Pay { to: bo, amount: 5 }).await;
    let height = net.final_at(0, tx).await;
    for index in 1..5 {
        net.same_chain(index, height).await;
    }
    net.stop_all().await;
}
