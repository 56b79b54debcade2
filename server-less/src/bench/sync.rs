//! `plaza-host bench sync`: how long a new host takes to reach a network's
//! state from a snapshot, against replaying every block, and how much disk
//! an empty host takes.
//!
//! A network's history is made first: blocks of payments that open
//! `objects` accounts (10,000 to a block), committed to a ledger on disk.
//! Then, each timed on its own:
//! - replay: every block applied to a new ledger from the genesis, with
//!   every signature checked, as `init --join --full-replay` and `run` do;
//! - sync: the state after the last block cut into snapshot chunks (as a
//!   host does every `snapshot_every` blocks, written to disk), then
//!   rebuilt from those files in a new ledger, each chunk checked against
//!   the manifest and the whole against the root, as `init --join` does
//!   with the chunks it fetched. Fetching them over the network is not in
//!   the figure: on one machine it would measure the loopback.
//! - the disk an empty host takes: a home made by `plaza-host init`,
//!   counted as the file system allocates it (what `du` shows).

use std::path::Path;
use std::time::{Duration, Instant};

use ledger::snapshot::CHUNK_BYTES;
use ledger::{
    Address, Block, ChainId, Genesis, Keypair, Ledger, Operation, Restore, SignedTransaction,
    Transaction, Validator,
};

use crate::error::HostError;

/// Payments in one block of the history.
const BLOCK_PAYMENTS: usize = 10_000;

/// How the sync benchmark runs.
#[derive(Clone, Copy, Debug)]
pub struct SyncOptions {
    /// Accounts the history opens: the objects in the state.
    pub objects: usize,
}

/// What the sync benchmark measured.
#[derive(Clone, Debug)]
pub struct SyncReport {
    /// Objects in the state (accounts opened, and the genesis's).
    pub objects: usize,
    /// Blocks in the history.
    pub blocks: usize,
    /// Bytes of the snapshot's chunks.
    pub snapshot_bytes: u64,
    /// Taking the snapshot (writing its chunks).
    pub snapshot: Duration,
    /// Rebuilding the ledger from the chunks.
    pub sync: Duration,
    /// Replaying every block from the genesis.
    pub replay: Duration,
    /// Bytes an empty host's home takes on disk.
    pub empty_home_bytes: u64,
}

/// Runs the benchmark in `dir`, which it fills.
pub fn sync(dir: &Path, options: SyncOptions) -> Result<SyncReport, HostError> {
    let chain = ChainId::new("plaza-bench-sync")?;
    let funder = Keypair::from_seed([1; 32]);
    let validator = Keypair::from_seed([2; 32]);
    let mut genesis = Genesis::new(
        chain.clone(),
        vec![(funder.address(), 1 << 50)],
        vec![Validator {
            address: validator.address(),
            power: 100,
        }],
    );
    genesis.time = 1_800_000_000;

    // The history: payments opening `objects` accounts, signed on every
    // core.
    let payments = sign_payments(&chain, &funder, options.objects);
    let mut source = Ledger::create(dir.join("source"), &genesis)?;
    let mut blocks: Vec<Block> = Vec::new();
    for (index, txs) in payments.chunks(BLOCK_PAYMENTS).enumerate() {
        let block = source.next_block(
            genesis.time + 1 + index as u64,
            validator.address(),
            txs.to_vec(),
        )?;
        source.commit_block(block.clone())?;
        blocks.push(block);
    }
    drop(payments);

    let start = Instant::now();
    let mut replayed = Ledger::create(dir.join("replayed"), &genesis)?;
    for block in &blocks {
        replayed.commit_block(block.clone())?;
    }
    let replay = start.elapsed();
    if replayed.state_root() != source.state_root() {
        return Err(HostError::Consensus(
            "the replayed ledger's root differs from the source's".into(),
        ));
    }
    drop(replayed);

    let chunks = dir.join("snapshot");
    std::fs::create_dir_all(&chunks).map_err(|err| HostError::io(&chunks, err))?;
    let start = Instant::now();
    let manifest = source.snapshot(CHUNK_BYTES, |index, bytes| {
        let path = crate::snapshots::chunk_path(&chunks, index);
        std::fs::write(&path, bytes)
            .map_err(|err| ledger::LedgerError::Storage(format!("{}: {err}", path.display())))
    })?;
    let snapshot = start.elapsed();
    let genesis_block = source.block(0)?.block.hash();
    let root = source.state_root();
    drop(source);

    let start = Instant::now();
    let mut restore = Restore::begin(dir.join("restored"), manifest.clone())?;
    for index in restore.missing() {
        let path = crate::snapshots::chunk_path(&chunks, index);
        let bytes = std::fs::read(&path).map_err(|err| HostError::io(&path, err))?;
        restore.add(index, &bytes)?;
    }
    let restored = restore.finish(genesis_block)?;
    let sync = start.elapsed();
    if restored.state_root() != root {
        return Err(HostError::Consensus(
            "the restored ledger's root differs from the source's".into(),
        ));
    }
    drop(restored);

    let home = crate::home::Home::new(dir.join("empty-host"));
    crate::home::init(&home, Some("plaza-bench-empty"), genesis.time)?;
    let empty_home_bytes = allocated_bytes(home.root())?;

    Ok(SyncReport {
        objects: manifest.entries as usize,
        blocks: blocks.len(),
        snapshot_bytes: manifest.bytes,
        snapshot,
        sync,
        replay,
        empty_home_bytes,
    })
}

/// `count` payments of 1 from `funder` to as many new accounts, in nonce
/// order.
fn sign_payments(chain: &ChainId, funder: &Keypair, count: usize) -> Vec<SignedTransaction> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = count.div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> = (0..count)
            .step_by(per)
            .map(|from| {
                let to = (from + per).min(count);
                scope.spawn(move || {
                    (from..to)
                        .map(|nonce| {
                            let to = Address::from_bytes(
                                *blake3::hash(&(nonce as u64).to_le_bytes()).as_bytes(),
                            );
                            Transaction {
                                chain_id: chain.clone(),
                                signer: funder.address(),
                                nonce: nonce as u64,
                                valid_until: u64::MAX,
                                op: Operation::Pay { to, amount: 1 },
                            }
                            .sign(funder)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|part| {
                part.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// Bytes the files under `root` take on disk, as the file system
/// allocated them.
fn allocated_bytes(root: &Path) -> Result<u64, HostError> {
    use std::os::unix::fs::MetadataExt as _;
    let mut total = 0;
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|err| HostError::io(&dir, err))? {
            let entry = entry.map_err(|err| HostError::io(&dir, err))?;
            let metadata = entry
                .metadata()
                .map_err(|err| HostError::io(entry.path(), err))?;
            if metadata.is_dir() {
                dirs.push(entry.path());
            } else {
                total += metadata.blocks() * 512;
            }
        }
    }
    Ok(total)
}
