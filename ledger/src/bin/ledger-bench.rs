//! Measures the ledger on this machine: the ed25519 verification limit
//! (batch verification on every core), then verify + apply + commit to
//! RocksDB in blocks of 5,000 transactions.
//!
//! `cargo run --release -p ledger --bin ledger-bench [-- --blocks N]`

// A benchmark reports on the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::mpsc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use ed25519_dalek::VerifyingKey;
use rayon::prelude::*;

use ledger::testkit::{Mix, Workload};
use ledger::{BATCH_TXS, Block, BlockHash, Commitments, Ledger, Operation, SignedTransaction};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ACCOUNTS: usize = 10_000;
const ASSETS: usize = 20_000;
const BLOCK_TXS: usize = 5_000;

fn main() -> Result<()> {
    let mut blocks = 40usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--blocks" => {
                blocks = args
                    .next()
                    .context("--blocks needs a number")?
                    .parse()
                    .context("--blocks needs a number")?;
            }
            other => bail!("unknown argument {other:?}; usage: ledger-bench [--blocks N]"),
        }
    }
    let cores = rayon::current_num_threads();
    let dir = std::env::temp_dir().join(format!("plaza-ledger-bench-{}", std::process::id()));
    let _cleanup = RemoveOnDrop(dir.clone());

    eprintln!(
        "setting up: {ACCOUNTS} accounts, {ASSETS} assets, {blocks} blocks of {BLOCK_TXS} transactions"
    );
    let mut workload = Workload::new(7, ACCOUNTS, ASSETS, Mix::default());
    let mut ledger = Ledger::create(&dir, &workload.genesis())?;
    let proposer = workload.proposer();
    while !workload.minted() {
        let (time, txs) = workload.next_block(BLOCK_TXS);
        let block = ledger.next_block(time, proposer, txs)?;
        let committed = ledger.commit_block(block)?;
        if let Some(bad) = committed.results.iter().find(|r| r.outcome.is_err()) {
            bail!("setup transaction rejected: {:?}", bad.outcome);
        }
    }
    let generated: Vec<(u64, Vec<SignedTransaction>)> = (0..blocks)
        .map(|_| workload.next_block(BLOCK_TXS))
        .collect();
    let total: usize = generated.iter().map(|(_, txs)| txs.len()).sum();
    let mut counts = [0usize; 4];
    for tx in generated.iter().flat_map(|(_, txs)| txs) {
        let slot = match tx.tx.op {
            Operation::Pay { .. } => 0,
            Operation::TransferAsset { .. } => 1,
            Operation::ListForRent { .. } => 2,
            _ => 3,
        };
        counts[slot] += 1;
    }
    eprintln!(
        "workload: {total} transactions: {} payments, {} transfers, {} rent listings, {} rentals",
        counts[0], counts[1], counts[2], counts[3]
    );

    // 1. The limit: batch verification of the same transactions' signatures
    //    on every core, with keys already decompressed.
    let items: Vec<(Vec<u8>, ed25519_dalek::Signature, VerifyingKey)> = generated
        .iter()
        .flat_map(|(_, txs)| txs)
        .map(|tx| {
            let key = tx
                .tx
                .signer
                .verifying_key()
                .expect("workload keys are valid");
            (tx.tx.signing_bytes(), tx.signature.to_dalek(), key)
        })
        .collect();
    let limit_before = batch_verify_rate(&items, BATCH_TXS)?;
    let single_sample = &items[..items.len().min(20_000)];
    let start = Instant::now();
    for (message, signature, key) in single_sample {
        key.verify_strict(message, signature)?;
    }
    let single_core = single_sample.len() as f64 / start.elapsed().as_secs_f64();
    println!(
        "verify limit before: {limit_before:.0} signatures/s (batches of {BATCH_TXS} on {cores} \
         cores); verify_strict alone: {single_core:.0}/s on one core"
    );

    // 2. End to end: the next block's signatures are verified on a helper
    //    thread (itself using every core) while the ledger applies and
    //    commits the current one.
    let chain_height = ledger.height();
    let mut prepared = Vec::with_capacity(blocks);
    for (i, (time, txs)) in generated.into_iter().enumerate() {
        // Parent and commitments are set when the block before is
        // committed; its signatures are checked meanwhile.
        let block = Block::new(
            ledger.chain().chain_id.clone(),
            chain_height + 1 + i as u64,
            time,
            proposer,
            BlockHash::default(),
            Commitments::default(),
            txs,
        );
        prepared.push(block);
    }
    //    The verifying threads run at the lowest priority, so that they take
    //    what the commit path leaves of the cores and never slow it down.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cores)
        .thread_name(|i| format!("verify-{i}"))
        .start_handler(|_| {
            let _ =
                thread_priority::set_current_thread_priority(thread_priority::ThreadPriority::Min);
        })
        .build()?;
    let verifier = ledger.verifier();
    let (sender, receiver) = mpsc::sync_channel(1);
    let start = Instant::now();
    let producer = std::thread::spawn(move || {
        for block in prepared {
            let verified = pool.install(|| verifier.verify_block(block));
            if sender.send(verified).is_err() {
                break;
            }
        }
    });
    let (commit_cpu, all_cpu) = (cpu_seconds("thread-self"), cpu_seconds("self"));
    let mut applied = 0usize;
    let mut settled = 0usize;
    for verified in receiver {
        let verified = verified?.on(ledger.chain().last_block, ledger.next_commitments()?);
        let committed = ledger.commit_verified(verified)?;
        if let Some(bad) = committed.results.iter().find(|r| r.outcome.is_err()) {
            bail!("benchmark transaction rejected: {:?}", bad.outcome);
        }
        applied += committed.results.len();
        settled += committed.settlements.len();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let commit_cpu = cpu_seconds("thread-self") - commit_cpu;
    let all_cpu = cpu_seconds("self") - all_cpu;
    producer
        .join()
        .map_err(|_| anyhow::anyhow!("verifier thread panicked"))?;
    let apply_commit = applied as f64 / elapsed;
    println!(
        "verify + apply + commit: {apply_commit:.0} transactions/s ({applied} transactions in \
         {blocks} blocks of {BLOCK_TXS}, {settled} rentals settled, {elapsed:.2} s, synced \
         RocksDB write per block; CPU {all_cpu:.2} s, of which the commit thread {commit_cpu:.2} s)"
    );
    // The machine's speed drifts; the limit is taken again after the
    // end-to-end run and the two are averaged.
    let limit_after = batch_verify_rate(&items, BATCH_TXS)?;
    let verify_limit = (limit_before + limit_after) / 2.0;
    // For reference: larger batches amortise more, at the cost of latency
    // and of a longer search when a batch holds a bad signature.
    let larger = batch_verify_rate(&items, 4 * BATCH_TXS)?;
    println!(
        "verify limit after: {limit_after:.0} signatures/s; limit used: {verify_limit:.0} \
         signatures/s (mean); for reference, batches of {}: {larger:.0}/s",
        4 * BATCH_TXS
    );
    let ratio = apply_commit / verify_limit;
    println!(
        "{}",
        serde_json::json!({
            "verify_limit_tx_s": verify_limit.round(),
            "apply_commit_tx_s": apply_commit.round(),
            "ratio": (ratio * 1000.0).round() / 1000.0,
        })
    );
    Ok(())
}

/// Signatures per second that batch verification checks on every core, in
/// batches of `batch`, with the keys already decompressed.
fn batch_verify_rate(
    items: &[(Vec<u8>, ed25519_dalek::Signature, VerifyingKey)],
    batch: usize,
) -> Result<f64> {
    let start = Instant::now();
    items.par_chunks(batch).try_for_each(|chunk| {
        let messages: Vec<&[u8]> = chunk.iter().map(|(m, _, _)| m.as_slice()).collect();
        let signatures: Vec<_> = chunk.iter().map(|(_, s, _)| *s).collect();
        let keys: Vec<_> = chunk.iter().map(|(_, _, k)| *k).collect();
        ed25519_dalek::verify_batch(&messages, &signatures, &keys)
    })?;
    Ok(items.len() as f64 / start.elapsed().as_secs_f64())
}

/// CPU seconds (user + system) used so far by `/proc/<which>`: `self` for
/// the process, `thread-self` for the calling thread. Zero where there is no
/// procfs.
fn cpu_seconds(which: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{which}/stat")) else {
        return 0.0;
    };
    // Fields after the command name; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
