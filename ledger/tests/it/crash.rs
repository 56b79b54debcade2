//! Crash safety: a child process commits blocks in a loop and is killed
//! with SIGKILL at random moments; every reopen must find a committed
//! height at least as high as the child last reported, with the state root
//! a fresh replay of the same blocks gives.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use ledger::Ledger;
use ledger::testkit::{SOAK_BLOCK_TXS, soak_workload};

const SEED: u64 = 2024;

#[test]
fn sigkill_at_random_moments_never_loses_or_tears_a_block() {
    killed_at_random(24);
}

#[test]
#[ignore = "long: 120 kills, about three minutes"]
fn sigkill_120_times_in_the_middle_of_commits_never_loses_or_tears_a_block() {
    killed_at_random(120);
}

/// Kills the committing child `kills` times; after each, the ledger
/// reopens at a height at least the last one reported, with the root a
/// replay gives.
fn killed_at_random(kills: usize) {
    let dir = tempfile::tempdir().unwrap();
    let ledger_dir = dir.path().join("ledger");
    let replay_dir = dir.path().join("replay");
    let mut replay_workload = soak_workload(SEED);
    let mut replay = Ledger::create(&replay_dir, &replay_workload.genesis()).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut last_height = 0;

    for round in 0..kills {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ledger-soak"))
            .arg(&ledger_dir)
            .arg(SEED.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the soak binary starts");
        let stdout = child.stdout.take().unwrap();
        // Let it reach its commit loop, then kill it at a random moment.
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().expect("the child commits a block").unwrap();
        std::thread::sleep(Duration::from_millis(rng.gen_range(0..250)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let reported: u64 = std::iter::once(first)
            .chain(lines.map_while(Result::ok))
            .filter_map(|line| line.split_whitespace().nth(1)?.parse().ok())
            .max()
            .unwrap();

        let reopened = Ledger::open(&ledger_dir).unwrap();
        let height = reopened.height();
        assert!(
            height >= reported,
            "round {round}: reopened at {height} but the child reported {reported} committed"
        );
        assert!(
            height >= last_height,
            "round {round}: went back from {last_height} to {height}"
        );
        while replay.height() < height {
            let (time, txs) = replay_workload.next_block(SOAK_BLOCK_TXS);
            let block = replay
                .next_block(time, replay_workload.proposer(), txs)
                .unwrap();
            replay.commit_block(block).unwrap();
        }
        assert_eq!(
            reopened.state_root(),
            replay.state_root(),
            "round {round} at height {height}"
        );
        assert_eq!(reopened.chain(), replay.chain(), "round {round}");
        last_height = height;
    }
    assert!(
        last_height > kills as u64,
        "the child made progress: {last_height}"
    );
}
