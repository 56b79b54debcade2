//! A byzantine validator among four: one that proposes only invalid
//! blocks while flooding bogus proposal streams, and one whose clock is
//! far off. The three honest validators keep finalising, agree on every
//! block, and commit nothing the byzantine one proposed.

use std::time::Duration;

use plaza_tests::testnet::Testnet;
use server_less::consensus::Faults;

/// Starts four validators, the fourth with `faults`; pays through the
/// honest ones for a while; checks that blocks keep coming, that the
/// honest hosts agree, and that no block of the byzantine one is final.
async fn honest_validators_carry_on(faults: Faults) {
    let mut net = Testnet::new(4, 0);
    for index in 0..3 {
        net.start(index);
    }
    net.start_with(3, faults);
    let byzantine = net.validator(3);
    let start = net.height(0).await;
    // Enough blocks for the byzantine validator to have had its turns to
    // propose several times over.
    let mut last = start;
    for round in 0..16u64 {
        last = net
            .pay_caught_up((round % 3) as usize, &[0, 1, 2], 1 + round)
            .await;
    }
    assert!(
        last >= start + 12,
        "only {} blocks in 16 payments",
        last - start
    );
    for index in 1..3 {
        net.same_chain(index, last).await;
    }
    for height in start + 1..=last {
        let block = net.handle(0).block(height).await.unwrap();
        assert_ne!(
            block.header.proposer, byzantine,
            "block {height} of the byzantine validator is final"
        );
    }
    // The byzantine host is still in step with the chain too (it follows
    // the others' blocks), and every host is still taking part.
    tokio::time::sleep(Duration::from_millis(200)).await;
    net.stop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validator_proposing_invalid_blocks_amid_64_bogus_streams_does_not_halt_a_height() {
    let _turn = plaza_tests::WHOLE_NETWORK.lock().await;
    honest_validators_carry_on(Faults {
        invalid_proposals: true,
        bogus_streams: 64,
        clock_skew_secs: 0,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validator_with_its_clock_two_minutes_ahead_has_its_proposals_refused() {
    let _turn = plaza_tests::WHOLE_NETWORK.lock().await;
    honest_validators_carry_on(Faults {
        invalid_proposals: false,
        bogus_streams: 0,
        clock_skew_secs: 120,
    })
    .await;
}
