//! `plaza-host bench finality`: how long a rent takes from a player's
//! client sending it to the client hearing it is final, under a steady
//! load, on a solo host; `plaza-host bench world`: the host's tick under
//! a crowd of walking bots; and `plaza-host bench hostile`: honest players
//! while every attack a host must withstand runs in turn.

mod hostile;

pub use hostile::{AttackReport, HostileOptions, HostileReport, hostile};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger::{Keypair, ListingId, Operation, RentTerms, SignedTransaction, TxId};
use plaza_client::ClientError;
use rand::rngs::OsRng;
use rand::{Rng, SeedableRng};
use tracing::info;

use crate::clock::{Clock, SystemClock};
use crate::error::HostError;
use crate::home::{self, DEMO_ACCOUNTS, Home, Signer};
use crate::host::Host;
use crate::mempool::MempoolError;
use crate::node::HostHandle;

/// The `p`th fraction of `sorted` (zero when it is empty).
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

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
fn renting_clients(rate: u32) -> usize {
    (rate as usize).div_ceil(20).max(20)
}

/// Sends rents of `listings` at `rate` from clients for `renters`, and
/// times each from sending to hearing it is final.
fn rent_over_sessions(
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
async fn submit_in_turn(handle: &HostHandle, tx: SignedTransaction) -> Result<(), HostError> {
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
async fn settle(handle: &HostHandle) -> Result<(), HostError> {
    while handle.status().await?.pending > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// How the world benchmark runs.
#[derive(Clone, Copy, Debug)]
pub struct WorldOptions {
    /// Bots on loopback.
    pub bots: usize,
    /// Seconds measured, after a warm-up.
    pub seconds: u32,
}

/// What the world benchmark measured.
#[derive(Clone, Debug)]
pub struct WorldReport {
    /// Bots that were connected and walking to the end.
    pub bots: usize,
    /// The host's tick processing times, sorted.
    pub ticks: Vec<Duration>,
    /// Bytes per second the host sent each client, sampled each second
    /// for each client (renet's measure: packets without UDP headers).
    pub client_rates: Vec<f64>,
    /// Avatars a bot had in view, on average, at the end.
    pub in_view: f64,
}

impl WorldReport {
    /// The `p`th fraction of the tick times.
    pub fn tick(&self, p: f64) -> Duration {
        percentile(&self.ticks, p)
    }

    /// The mean of the per-client send rates, bytes per second.
    pub fn client_rate(&self) -> f64 {
        if self.client_rates.is_empty() {
            return 0.0;
        }
        self.client_rates.iter().sum::<f64>() / self.client_rates.len() as f64
    }

    /// The highest per-client send rate seen, bytes per second.
    pub fn client_rate_max(&self) -> f64 {
        self.client_rates.iter().copied().fold(0.0, f64::max)
    }
}

/// Seconds of walking before the measurement starts: time for every bot
/// to run out from the spawn point to its patch.
const WARM_UP_SECS: u64 = 12;

/// Makes a network in `home`, serves it on loopback, and has
/// `options.bots` bots walk one world at the avatar tick while the host's
/// ticks and per-client traffic are measured.
pub async fn world(home: &Home, options: WorldOptions) -> Result<WorldReport, HostError> {
    home::init(home, Some("plaza-bench"), SystemClock.now())?;
    let (host, sessions) = crate::sessions::serve(home, Arc::new(SystemClock), |settings| {
        *settings = crate::sessions::SessionSettings {
            max_players: (options.bots + 8).min(1024),
            // Every bot joins from this machine's one address.
            joins: crate::sessions::JoinLimits {
                per_address_per_sec: 1_000.0,
                per_address_burst: 1_000.0,
                ..crate::sessions::JoinLimits::default()
            },
            ..crate::sessions::SessionSettings::default()
        };
    })
    .await?;
    let join = sessions.join_addr();
    let (ready_tx, ready) = tokio::sync::oneshot::channel();
    let walking = Duration::from_secs(WARM_UP_SECS + u64::from(options.seconds) + 1);
    let bots = options.bots;
    let crowd = tokio::task::spawn_blocking(move || walk_crowd(join, bots, walking, ready_tx));
    let outcome = async {
        ready.await.map_err(|_| {
            HostError::Client(ClientError::Disconnected("the bots never got in".into()))
        })??;
        tokio::time::sleep(Duration::from_secs(WARM_UP_SECS)).await;
        sessions.take_tick_times();
        sessions.take_client_rates();
        tokio::time::sleep(Duration::from_secs(u64::from(options.seconds))).await;
        Ok::<_, HostError>((sessions.take_tick_times(), sessions.take_client_rates()))
    }
    .await;
    let crowd = crowd.await.map_err(|_| HostError::Stopped)?;
    sessions.stop().await;
    host.stop().await?;
    let (mut ticks, client_rates) = outcome?;
    let (connected, in_view) = crowd?;
    ticks.sort_unstable();
    Ok(WorldReport {
        bots: connected,
        ticks,
        client_rates,
        in_view,
    })
}

/// Joins `count` bots, enters them into the first world, says so on
/// `ready`, and walks them for `walking`; how many were still connected
/// at the end, and the avatars they had in view on average.
fn walk_crowd(
    join: std::net::SocketAddr,
    count: usize,
    walking: Duration,
    ready: tokio::sync::oneshot::Sender<Result<(), HostError>>,
) -> Result<(usize, f64), HostError> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let entered = (|| {
        let mut bots = Vec::with_capacity(count);
        for _ in 0..count {
            let key = Keypair::generate(&mut OsRng);
            bots.push(plaza_client::client::Client::start(join, &key)?);
            // Those already started keep their handshakes alive.
            for bot in &mut bots {
                bot.pump()?;
            }
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while bots.iter().any(|bot| !bot.is_connected()) {
            for bot in &mut bots {
                bot.pump()?;
            }
            if Instant::now() > deadline {
                return Err(HostError::Timeout {
                    what: "the bots to connect",
                    secs: 60,
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        for bot in &mut bots {
            bot.send(&plaza_client::protocol::ClientMessage::Hello {
                version: plaza_client::protocol::VERSION,
                world: "Plaza Square".into(),
            })?;
        }
        while bots.iter().any(|bot| bot.welcome().is_none()) {
            for bot in &mut bots {
                bot.pump()?;
            }
            if Instant::now() > deadline {
                return Err(HostError::Timeout {
                    what: "the bots to enter",
                    secs: 60,
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut walkers = Vec::with_capacity(count);
        for bot in &mut bots {
            bot.drain();
            let spawn = bot.welcome().map(|w| w.world.spawn).unwrap_or_default();
            walkers.push(plaza_client::bot::Walker::new(
                rng.r#gen(),
                [spawn[0], spawn[2]],
                60.0,
            ));
        }
        Ok((bots, walkers))
    })();
    let (mut bots, mut walkers) = match entered {
        Ok(crowd) => {
            let _ = ready.send(Ok(()));
            crowd
        }
        Err(err) => {
            let message = err.to_string();
            let _ = ready.send(Err(err));
            return Err(ClientError::Disconnected(message).into());
        }
    };
    info!(bots = bots.len(), "bots walking");
    let tick = Duration::from_secs(1) / plaza_client::protocol::TICK_HZ;
    let started = Instant::now();
    let mut next = started;
    let mut alive = vec![true; bots.len()];
    while started.elapsed() < walking {
        for ((bot, walker), alive) in bots.iter_mut().zip(&mut walkers).zip(&mut alive) {
            if !*alive {
                continue;
            }
            bot.send_move(walker.step(tick.as_secs_f32()))?;
            if let Err(err) = bot.pump() {
                tracing::warn!(%err, "a bot lost its session");
                *alive = false;
            }
            bot.drain();
        }
        next += tick;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
    }
    let connected = alive.iter().filter(|alive| **alive).count();
    let in_view =
        bots.iter().map(|bot| bot.avatars().len()).sum::<usize>() as f64 / bots.len().max(1) as f64;
    Ok((connected, in_view))
}

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
const BENCH_RENT: ledger::RentTerms = ledger::RentTerms {
    price_per_period: 10,
    period_secs: 3_600,
    min_periods: 1,
    max_periods: 1,
    deposit: 0,
    reserved_for: None,
};

/// The first of 50 loopback ports, TCP and UDP, that are free now, below
/// the range the system hands out for outgoing connections (so that hosts
/// started one after another cannot take a later host's ports with their
/// own connections): the `--base-port` of a local testnet.
pub fn free_port_block() -> Result<u16, HostError> {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.subsec_nanos());
    (0..400u32)
        .map(|attempt| 20_000 + ((seed / 7 + attempt * 577) % 1_200) as u16 * 10)
        .find(|base| {
            (0..50).all(|offset| {
                std::net::TcpListener::bind(("127.0.0.1", base + offset)).is_ok()
                    && std::net::UdpSocket::bind(("127.0.0.1", base + offset)).is_ok()
            })
        })
        .ok_or_else(|| HostError::Consensus("no 50 free loopback ports below 32000".into()))
}

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
