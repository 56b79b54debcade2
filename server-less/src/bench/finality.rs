//! `plaza-host bench finality`: players rent over world sessions at a
//! steady rate on one host, each rental timed from submit to final.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger::{Keypair, ListingId, Operation, RentTerms, SignedTransaction, TxId};
use rand::rngs::OsRng;
use tracing::info;

use crate::clock::{Clock, SystemClock};
use crate::error::HostError;
use crate::home::{self, DEMO_ACCOUNTS, Home, Signer};
use crate::host::Host;
use crate::mempool::MempoolError;
use crate::node::HostHandle;

use super::percentile;

/// How the finality benchmark runs.
#[derive(Clone, Copy, Debug)]
pub struct FinalityOptions {
    /// Rent transactions submitted per second.
    pub rate: u32,
    /// How long the load lasts, in seconds.
    pub seconds: u32,
}

/// What the finality benchmark measured.
#[derive(Clone, Debug)]
pub struct FinalityReport {
    /// Rents submitted under load.
    pub submitted: usize,
    /// Of those, applied by their block.
    pub applied: usize,
    /// Submit-to-final times, sorted.
    pub latencies: Vec<Duration>,
}

impl FinalityReport {
    /// The `p`th fraction of the submit-to-final times.
    pub fn percentile(&self, p: f64) -> Duration {
        percentile(&self.latencies, p)
    }
}

/// Makes a network in `home`, gives it enough listings and renters, then
/// submits rents at `options.rate` for `options.seconds` and times each
/// from submission to the block that decides it.
pub async fn finality(home: &Home, options: FinalityOptions) -> Result<FinalityReport, HostError> {
    let made = home::init(home, Some("plaza-bench"), SystemClock.now())?;
    let host = Host::start(home, Arc::new(SystemClock))?;
    let handle = host.handle();
    let count = (options.rate * options.seconds) as usize;
    let chain_id = made.chain_id.clone();
    let mut signer = Signer::new(made.chain_id);
    let deadline = || SystemClock.now() + 600;

    // Listings: each demo account mints and lists its share.
    let creators: Vec<Keypair> = DEMO_ACCOUNTS
        .iter()
        .map(|name| home.load_demo_key(name))
        .collect::<Result<_, _>>()?;
    for creator in &creators {
        let account = handle.account(creator.address()).await?;
        signer.set_next_nonce(creator.address(), account.nonce);
    }
    let mut minted = Vec::new();
    for index in 0..count {
        let creator = &creators[index % creators.len()];
        let (asset, op) = ledger::testkit::mint_op(&creator.address(), 0xbe4c, index as u64, 250);
        minted.push((index % creators.len(), asset));
        submit_in_turn(&handle, signer.sign(creator, op, deadline())).await?;
    }
    settle(&handle).await?;
    let expires_at = SystemClock.now() + 86_400;
    for (owner, asset) in &minted {
        let op = Operation::ListForRent {
            asset: *asset,
            terms: RentTerms {
                price_per_period: 10,
                period_secs: 3_600,
                min_periods: 1,
                max_periods: 24,
                deposit: 5,
                reserved_for: None,
            },
            expires_at,
        };
        submit_in_turn(&handle, signer.sign(&creators[*owner], op, deadline())).await?;
    }
    settle(&handle).await?;
    let listings: Vec<ListingId> = {
        let mut found = Vec::new();
        let mut query = market::catalogue::Query {
            side: Some(market::catalogue::Side::Rent),
            page_size: market::catalogue::MAX_PAGE,
            ..Default::default()
        };
        loop {
            let page = handle.browse(query.clone()).await?;
            found.extend(
                page.hits
                    .iter()
                    .filter(|hit| minted.iter().any(|(_, asset)| *asset == hit.asset()))
                    .map(|hit| hit.listing.id),
            );
            match page.next {
                Some(next) => query.after = Some(next),
                None => break,
            }
        }
        found
    };

    // Renters, funded by the demo accounts.
    let renters: Vec<Keypair> = (0..200).map(|_| Keypair::generate(&mut OsRng)).collect();
    for (index, renter) in renters.iter().enumerate() {
        let payer = &creators[index % creators.len()];
        let op = Operation::Pay {
            to: renter.address(),
            amount: 2_000,
        };
        submit_in_turn(&handle, signer.sign(payer, op, deadline())).await?;
    }
    settle(&handle).await?;
    info!(
        listings = listings.len(),
        renters = renters.len(),
        "load begins"
    );

    // The load, over world sessions as players send it: one rent of a
    // fresh listing every 1/rate seconds, from the renters in turn, each
    // timed from the moment its client sends it to the moment the client
    // hears it is final.
    let sessions = crate::sessions::Sessions::start(
        handle.clone(),
        host.blobs(),
        host.uploads(),
        crate::worlds::builtin(),
        home.load_host_key()?,
        crate::sessions::SessionSettings::default(),
        host.take_world_link(),
    )
    .await?;
    let join = sessions.join_addr();
    let rate = options.rate;
    let valid_until = deadline() + 3_600;
    let total = listings.len().min(count);
    let load = tokio::task::spawn_blocking(move || {
        rent_over_sessions(
            join,
            &renters[..renting_clients(rate).min(renters.len())],
            &listings[..total],
            &chain_id,
            rate,
            valid_until,
        )
    })
    .await
    .map_err(|_| HostError::Stopped)?;
    sessions.stop().await;
    host.stop().await?;
    let mut report = load?;
    report.latencies.sort_unstable();
    Ok(report)
}

/// Clients the finality load is sent from: enough that each sends at most
/// 20 a second, well inside a player's message rate, and at least 20.
pub(super) fn renting_clients(rate: u32) -> usize {
    (rate as usize).div_ceil(20).max(20)
}

/// Sends rents of `listings` at `rate` from clients for `renters`, and
/// times each from sending to hearing it is final.
pub(super) fn rent_over_sessions(
    join: std::net::SocketAddr,
    renters: &[Keypair],
    listings: &[ListingId],
    chain_id: &ledger::ChainId,
    rate: u32,
    valid_until: ledger::Timestamp,
) -> Result<FinalityReport, HostError> {
    use plaza_client::protocol::{ClientMessage, ServerMessage, TxState};

    let wait = Duration::from_secs(10);
    let mut clients = Vec::with_capacity(renters.len());
    for renter in renters {
        let mut client = plaza_client::client::Client::connect(join, renter, wait)?;
        client.enter("Plaza Square", wait)?;
        clients.push(client);
    }
    info!(
        listings = listings.len(),
        clients = clients.len(),
        "load begins"
    );
    let mut nonces = vec![0u64; clients.len()];
    let mut sent: HashMap<TxId, Instant> = HashMap::new();
    let mut latencies = Vec::with_capacity(listings.len());
    let (mut applied, mut decided, mut refused) = (0, 0, 0);
    let gap = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let start = Instant::now();
    let mut next = 0usize;
    let mut last_heard = Instant::now();
    while decided + refused < next || next < listings.len() {
        while next < listings.len() && start + gap * next as u32 <= Instant::now() {
            let who = next % clients.len();
            let tx = ledger::Transaction {
                chain_id: chain_id.clone(),
                signer: renters[who].address(),
                nonce: nonces[who],
                valid_until,
                op: Operation::Rent {
                    listing: listings[next],
                    periods: 1,
                },
            }
            .sign(&renters[who]);
            nonces[who] += 1;
            sent.insert(tx.id(), Instant::now());
            clients[who].send(&ClientMessage::Submit {
                request: next as u32,
                tx,
            })?;
            next += 1;
        }
        for client in &mut clients {
            client.pump()?;
            for message in client.drain() {
                match message {
                    ServerMessage::Tx {
                        id,
                        state: state @ (TxState::Applied { .. } | TxState::Rejected { .. }),
                        ..
                    } => {
                        if let Some(at) = sent.remove(&id) {
                            latencies.push(at.elapsed());
                            decided += 1;
                            last_heard = Instant::now();
                            if matches!(state, TxState::Applied { .. }) {
                                applied += 1;
                            }
                        }
                    }
                    ServerMessage::Error {
                        request: Some(_),
                        message,
                        ..
                    } => {
                        tracing::warn!(%message, "a rent was refused");
                        refused += 1;
                    }
                    _ => {}
                }
            }
        }
        if next == listings.len() && last_heard.elapsed() > wait {
            return Err(HostError::Timeout {
                what: "the last rents to be final",
                secs: wait.as_secs(),
            });
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    for client in &mut clients {
        client.disconnect();
    }
    Ok(FinalityReport {
        submitted: next,
        applied,
        latencies,
    })
}

/// Submits `tx`, waiting for room when its account's queue is full.
pub(super) async fn submit_in_turn(
    handle: &HostHandle,
    tx: SignedTransaction,
) -> Result<(), HostError> {
    loop {
        match handle.submit(tx.clone()).await {
            Ok(_) => return Ok(()),
            Err(HostError::Mempool(
                MempoolError::AccountQueueFull { .. } | MempoolError::Full { .. },
            )) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(err) => return Err(err),
        }
    }
}

/// Waits until nothing is pending.
pub(super) async fn settle(handle: &HostHandle) -> Result<(), HostError> {
    while handle.status().await?.pending > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}
