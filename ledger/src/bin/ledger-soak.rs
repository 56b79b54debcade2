//! Commits a seeded stream of workload blocks into a ledger directory until
//! it is stopped, printing `committed <height> <state root>` after each
//! commit returns. Run again on the same directory, it picks up where the
//! ledger stands. The crash test kills it at random moments.
//!
//! `ledger-soak <dir> <seed> [--blocks N]`

// The committed heights on stdout are this tool's output.
#![allow(clippy::print_stdout)]

use std::io::Write;

use anyhow::{Context, Result, bail};

use ledger::Ledger;
use ledger::testkit::{SOAK_BLOCK_TXS, soak_workload};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(seed)) = (args.next(), args.next()) else {
        bail!("usage: ledger-soak <dir> <seed> [--blocks N]");
    };
    let seed: u64 = seed.parse().context("the seed is a number")?;
    let limit: Option<u64> = match (args.next().as_deref(), args.next()) {
        (Some("--blocks"), Some(n)) => Some(n.parse().context("--blocks takes a number")?),
        (None, _) => None,
        _ => bail!("usage: ledger-soak <dir> <seed> [--blocks N]"),
    };

    let mut workload = soak_workload(seed);
    let mut ledger = Ledger::create(&dir, &workload.genesis())?;
    // Bring the workload to where the ledger stands.
    for _ in 0..ledger.height() {
        workload.next_block(SOAK_BLOCK_TXS);
    }
    let stdout = std::io::stdout();
    loop {
        if limit.is_some_and(|limit| ledger.height() >= limit) {
            return Ok(());
        }
        let (time, txs) = workload.next_block(SOAK_BLOCK_TXS);
        let block = ledger.next_block(time, workload.proposer(), txs)?;
        let committed = ledger.commit_block(block)?;
        if let Some(bad) = committed.results.iter().find(|r| r.outcome.is_err()) {
            bail!(
                "workload transaction rejected at height {}: {:?}",
                committed.height,
                bad.outcome
            );
        }
        let mut out = stdout.lock();
        writeln!(
            out,
            "committed {} {}",
            committed.height, committed.state_root
        )?;
        out.flush()?;
    }
}
