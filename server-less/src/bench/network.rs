//! `plaza-host bench network`: validators on loopback finalise a steady
//! load of payments gossiped from one of them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger::{Keypair, Operation, TxId};
use rand::rngs::OsRng;
use rand::{Rng, SeedableRng};
use tracing::info;

use crate::clock::{Clock, SystemClock};
use crate::error::HostError;
use crate::home::{self, DEMO_ACCOUNTS, Signer};
use crate::host::Host;
use crate::node::HostHandle;

use super::finality::{settle, submit_in_turn};
use super::{free_port_block, percentile};

/// How the network benchmark runs.
#[derive(Clone, Copy, Debug)]
pub struct NetworkOptions {
    /// Validators.
    pub hosts: usize,
    /// Transactions submitted per second, spread over the hosts.
    pub rate: u32,
    /// How long the load lasts, in seconds.
    pub seconds: u32,
}

/// What the network benchmark measured.
#[derive(Clone, Debug)]
pub struct NetworkReport {
    /// Transactions submitted under load.
    pub submitted: usize,
    /// Of those, in a final block.
    pub finalised: usize,
    /// From the first submission to the last finalisation.
    pub elapsed: Duration,
    /// The steady part of the load: from its first fifth (at most 2 s,
    /// while the mempools and blocks fill) to the last submission.
    pub window: Duration,
    /// Transactions that became final within the window.
    pub final_in_window: usize,
    /// Submit-to-final times, sorted.
    pub latencies: Vec<Duration>,
}

impl NetworkReport {
    /// The `p`th fraction of the submit-to-final times.
    pub fn percentile(&self, p: f64) -> Duration {
        percentile(&self.latencies, p)
    }

    /// Transactions finalised per second while the load was steady: what
    /// the network sustains (at most the rate offered).
    pub fn final_tx_s(&self) -> f64 {
        self.final_in_window as f64 / self.window.as_secs_f64().max(1e-9)
    }
}

/// What the network benchmark's listings ask: an hour for 10.
pub(super) const BENCH_RENT: ledger::RentTerms = ledger::RentTerms {
    price_per_period: 10,
    period_secs: 3_600,
    min_periods: 1,
    max_periods: 1,
    deposit: 0,
    reserved_for: None,
};

/// Makes a local network of `options.hosts` validators under `dir` (each
/// a whole host: ledger, mempool, consensus, peer network), funds payers
/// and opens listings, then submits payments and rents at `options.rate`
/// for `options.seconds`, each to one host in turn (the others get it by
/// gossip), and times each from submission to the final block that holds
/// it.
pub async fn network(
    dir: &std::path::Path,
    options: NetworkOptions,
) -> Result<NetworkReport, HostError> {
    let homes = home::testnet(
        dir,
        options.hosts,
        0,
        Some("plaza-bench"),
        SystemClock.now(),
    )?;
    home::connect_testnet(&homes, options.hosts, free_port_block()?)?;
    let mut hosts = Vec::with_capacity(homes.len());
    for home in &homes {
        hosts.push(Host::start(home, Arc::new(SystemClock))?);
    }
    let handles: Vec<HostHandle> = hosts.iter().map(Host::handle).collect();
    let first = handles[0].clone();
    let started = Instant::now();
    while first.status().await?.height < 4 {
        if started.elapsed() > Duration::from_secs(60) {
            return Err(HostError::Consensus(
                "the validators made no blocks within 60 s".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let chain_id = first.status().await?.chain_id;
    let mut signer = Signer::new(chain_id.clone());
    let deadline = || SystemClock.now() + 3_600;
    let demo: Vec<Keypair> = DEMO_ACCOUNTS
        .iter()
        .map(|name| homes[0].load_demo_key(name))
        .collect::<Result<_, _>>()?;
    for key in &demo {
        let account = first.account(key.address()).await?;
        signer.set_next_nonce(key.address(), account.nonce);
    }

    // A quarter of the load rents listings opened now; the rest are
    // payments between funded payers.
    let count = (options.rate * options.seconds) as usize;
    let rents = count / 4;
    let mut minted = Vec::with_capacity(rents);
    for index in 0..rents {
        let owner = index % demo.len();
        let (asset, op) =
            ledger::testkit::mint_op(&demo[owner].address(), 0x4e7, index as u64, 250);
        submit_in_turn(&first, signer.sign(&demo[owner], op, deadline())).await?;
        minted.push((owner, asset));
    }
    settle(&first).await?;
    let expires_at = SystemClock.now() + 86_400;
    for (owner, asset) in &minted {
        let op = Operation::ListForRent {
            asset: *asset,
            terms: BENCH_RENT,
            expires_at,
        };
        submit_in_turn(&first, signer.sign(&demo[*owner], op, deadline())).await?;
    }
    settle(&first).await?;
    let payers: Vec<Keypair> = (0..400).map(|_| Keypair::generate(&mut OsRng)).collect();
    for (index, payer) in payers.iter().enumerate() {
        // Enough for every rental and payment it will make.
        let op = Operation::Pay {
            to: payer.address(),
            amount: 2_000,
        };
        submit_in_turn(
            &first,
            signer.sign(&demo[index % demo.len()], op, deadline()),
        )
        .await?;
    }
    settle(&first).await?;
    // Every host holds the funding before the load begins.
    let funded = first.status().await?.height;
    for handle in &handles {
        while handle.status().await?.height < funded {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let mut listings = Vec::with_capacity(rents);
    let mut query = market::catalogue::Query {
        side: Some(market::catalogue::Side::Rent),
        page_size: market::catalogue::MAX_PAGE,
        ..Default::default()
    };
    loop {
        let page = first.browse(query.clone()).await?;
        listings.extend(
            page.hits
                .iter()
                .filter(|hit| hit.listing.terms == ledger::ListingTerms::Rent(BENCH_RENT))
                .map(|hit| hit.listing.id),
        );
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    info!(
        hosts = hosts.len(),
        listings = listings.len(),
        payers = payers.len(),
        "load begins"
    );

    // Finality is read off the first host's committed blocks.
    let mut blocks = first.subscribe();
    let sent: Arc<std::sync::Mutex<HashMap<TxId, Instant>>> = Arc::default();
    let (done, mut finished) = tokio::sync::watch::channel(false);
    let watcher = {
        let sent = Arc::clone(&sent);
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut finals = Vec::new();
            let mut last = Instant::now();
            loop {
                tokio::select! {
                    event = blocks.recv() => match event {
                        Ok(event) => {
                            let now = Instant::now();
                            let mut sent = sent.lock().unwrap_or_else(|p| p.into_inner());
                            for result in &event.block.results {
                                if let Some(at) = sent.remove(&result.id) {
                                    latencies.push(now - at);
                                    finals.push(now);
                                    last = now;
                                }
                            }
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                            tracing::warn!(missed, "the benchmark missed blocks");
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                    },
                    _ = finished.changed() => break,
                }
            }
            (latencies, finals, last)
        })
    };
    let gap = Duration::from_secs_f64(1.0 / f64::from(options.rate.max(1)));
    let load_start = Instant::now();
    let mut nonces = vec![0u64; payers.len()];
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut submitted = 0usize;
    for index in 0..count {
        let at = load_start + gap * index as u32;
        if at > Instant::now() {
            tokio::time::sleep_until(at.into()).await;
        }
        let who = index % payers.len();
        let op = if index % 4 == 0 && index / 4 < listings.len() {
            Operation::Rent {
                listing: listings[index / 4],
                periods: 1,
            }
        } else {
            // Anyone but the payer: paying oneself is refused, and a
            // refused transaction leaves its nonce unused, so the payer's
            // later ones could not follow it.
            let offset = rng.gen_range(1..payers.len());
            Operation::Pay {
                to: payers[(who + offset) % payers.len()].address(),
                amount: 1,
            }
        };
        let tx = ledger::Transaction {
            chain_id: chain_id.clone(),
            signer: payers[who].address(),
            nonce: nonces[who],
            valid_until: deadline(),
            op,
        }
        .sign(&payers[who]);
        nonces[who] += 1;
        // A payer's transactions go to one host, in nonce order.
        let host = &handles[who % handles.len()];
        let id = tx.id();
        sent.lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, Instant::now());
        match host.submit(tx).await {
            Ok(_) => submitted += 1,
            Err(err) => {
                sent.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
                tracing::warn!(%err, "a benchmark transaction was refused");
            }
        }
    }
    let load_end = Instant::now();
    // Wait for the last ones to be final (or give up after 30 s).
    let wait_until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < wait_until && !sent.lock().unwrap_or_else(|p| p.into_inner()).is_empty()
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = done.send(true);
    let (mut latencies, finals, last) = watcher.await.map_err(|_| HostError::Stopped)?;
    let steady_from = load_start
        + (load_end - load_start)
            .div_f64(5.0)
            .min(Duration::from_secs(2));
    let final_in_window = finals
        .iter()
        .filter(|at| **at >= steady_from && **at <= load_end)
        .count();
    for host in hosts {
        host.stop().await?;
    }
    latencies.sort_unstable();
    Ok(NetworkReport {
        submitted,
        finalised: latencies.len(),
        elapsed: last.saturating_duration_since(load_start),
        window: load_end.saturating_duration_since(steady_from),
        final_in_window,
        latencies,
    })
}
