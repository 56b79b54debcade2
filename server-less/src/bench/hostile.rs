//! `plaza-host bench hostile`: honest players walk, search the catalogue
//! and rent while each attack the host must withstand runs in turn; how
//! the honest players fared.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ledger::{Keypair, ListingId, Operation};
use rand::rngs::OsRng;
use rand::{Rng, SeedableRng};
use tracing::{info, warn};

use super::finality::{settle, submit_in_turn};
use super::percentile;
use crate::clock::{Clock, SystemClock};
use crate::error::HostError;
use crate::home::{self, DEMO_ACCOUNTS, Home, Signer};
use crate::hostile::{Attacker, wire};
use plaza_client::client::Client;
use plaza_client::protocol::{
    AvatarState, Browse, CHANNEL_AVATAR, CHANNEL_RELIABLE, ClientMessage, Gait,
};

/// How the hostile benchmark runs.
#[derive(Clone, Copy, Debug)]
pub struct HostileOptions {
    /// Honest players.
    pub bots: usize,
    /// Seconds of each attack, and of the quiet run before them.
    pub seconds: u32,
}

/// What one attack did to the honest players.
#[derive(Clone, Debug)]
pub struct AttackReport {
    /// The attack.
    pub name: &'static str,
    /// Honest players whose session ended during it.
    pub disconnects: usize,
    /// Catalogue searches answered during it, and their p99.
    pub queries: usize,
    /// The p99 of the searches' round trips.
    pub query_p99: Duration,
}

/// The benchmark's outcome.
#[derive(Clone, Debug)]
pub struct HostileReport {
    /// The quiet run's searches: how many, and their p99.
    pub baseline_queries: usize,
    /// Their p99.
    pub baseline_query_p99: Duration,
    /// Each attack in turn.
    pub attacks: Vec<AttackReport>,
    /// Honest players whose session ended, in all.
    pub honest_disconnects: usize,
    /// Payments that took longer than a second to be final: the block
    /// they waited for was missed.
    pub blocks_missed: usize,
    /// Payments timed.
    pub payments: usize,
    /// Times the session server panicked and started again.
    pub restarts: u64,
}

impl HostileReport {
    /// The worst p99 of the searches under any attack.
    pub fn attacked_query_p99(&self) -> Duration {
        self.attacks
            .iter()
            .map(|attack| attack.query_p99)
            .max()
            .unwrap_or_default()
    }
}

/// The attacks, in the order they run.
const ATTACKS: [&str; 10] = [
    "reliable slice at its count",
    "avatar slice past its count",
    "slice 999,999 after a first of 2",
    "unreliable slices whose counts disagree",
    "empty messages past a gap",
    "forged netcode datagrams",
    "half-open join flood",
    "outrunning the world",
    "message flood",
    "upload spam",
];

/// Makes a network in `home`, serves it, funds `options.bots` players and
/// lets them play through a quiet spell and then every attack in turn.
pub async fn hostile(home: &Home, options: HostileOptions) -> Result<HostileReport, HostError> {
    home::init(home, Some("plaza-bench"), SystemClock.now())?;
    let bots = options.bots.clamp(1, 500);
    let (host, sessions) = crate::sessions::serve(home, Arc::new(SystemClock), |settings| {
        *settings = crate::sessions::SessionSettings {
            max_players: (bots + 64).min(1024),
            // The players and most attackers share this machine's one
            // address; the join flood comes from another.
            joins: crate::sessions::JoinLimits {
                per_address_per_sec: 1_000.0,
                per_address_burst: 1_000.0,
                at_once_per_address: 64,
                ..crate::sessions::JoinLimits::default()
            },
            ..crate::sessions::SessionSettings::default()
        };
    })
    .await?;
    let handle = host.handle();
    let chain = handle.status().await?.chain_id;
    let mut signer = Signer::new(chain.clone());
    let demo: Vec<Keypair> = DEMO_ACCOUNTS
        .iter()
        .map(|name| home.load_demo_key(name))
        .collect::<Result<_, _>>()?;
    for key in &demo {
        let account = handle.account(key.address()).await?;
        signer.set_next_nonce(key.address(), account.nonce);
    }
    // Players with money to rent with.
    let players: Vec<Keypair> = (0..bots).map(|_| Keypair::generate(&mut OsRng)).collect();
    let deadline = || SystemClock.now() + 3_600;
    for (index, player) in players.iter().enumerate() {
        let payer = &demo[index % demo.len()];
        let op = Operation::Pay {
            to: player.address(),
            amount: 20_000,
        };
        submit_in_turn(&handle, signer.sign(payer, op, deadline())).await?;
    }
    settle(&handle).await?;
    let listings: Vec<ListingId> = handle
        .browse(market::catalogue::Query {
            side: Some(market::catalogue::Side::Rent),
            page_size: 100,
            ..market::catalogue::Query::default()
        })
        .await?
        .hits
        .into_iter()
        .map(|hit| hit.listing.id)
        .collect();

    let join = sessions.join_addr();
    let stop = Arc::new(AtomicBool::new(false));
    let phase = Arc::new(std::sync::Mutex::new(0usize));
    let crowd = {
        let (stop, phase, chain) = (stop.clone(), phase.clone(), chain.clone());
        tokio::task::spawn_blocking(move || play(join, players, listings, chain, &stop, &phase))
    };
    // Payments through the quiet spell and every attack, each timed to
    // its block.
    let payments = {
        let (handle, stop, chain) = (handle.clone(), stop.clone(), chain.clone());
        let (payer, to) = (demo[0].clone(), demo[1].address());
        tokio::spawn(async move {
            let mut late = 0;
            let mut timed = 0;
            while !stop.load(Ordering::Acquire) {
                let account = handle.account(payer.address()).await?;
                let op = Operation::Pay { to, amount: 1 };
                let tx = market::transaction(
                    chain.clone(),
                    payer.address(),
                    account.nonce,
                    op,
                    SystemClock.now(),
                )
                .sign(&payer);
                let sent = Instant::now();
                let id = handle.submit(tx).await?.id();
                handle.wait_final(id, Duration::from_secs(60)).await?;
                timed += 1;
                if sent.elapsed() > Duration::from_secs(1) {
                    late += 1;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok::<_, HostError>((timed, late))
        })
    };

    let seconds = Duration::from_secs(u64::from(options.seconds.max(2)));
    // The players settle in, then the quiet spell, then each attack.
    tokio::time::sleep(Duration::from_secs(5)).await;
    for attack in 0..=ATTACKS.len() {
        *phase.lock().unwrap_or_else(|p| p.into_inner()) = attack + 1;
        if attack == 0 {
            info!("quiet run");
            tokio::time::sleep(seconds).await;
            continue;
        }
        let name = ATTACKS[attack - 1];
        info!(attack = name, "attack");
        let until = Instant::now() + seconds;
        let join = sessions.join_addr();
        let run = tokio::task::spawn_blocking(move || attack_for(attack - 1, join, until));
        if let Ok(Err(err)) = run.await {
            warn!(attack = name, %err, "the attack itself failed");
        }
    }
    *phase.lock().unwrap_or_else(|p| p.into_inner()) = ATTACKS.len() + 2;
    stop.store(true, Ordering::Release);
    let phases = crowd.await.map_err(|_| HostError::Stopped)??;
    let (timed, late) = payments.await.map_err(|_| HostError::Stopped)??;
    let restarts = sessions.restarts();
    sessions.stop().await;
    host.stop().await?;

    let summary = |phase: usize| -> (usize, Duration, usize) {
        let record = phases.get(phase).cloned().unwrap_or_default();
        let mut latencies = record.0;
        latencies.sort();
        (latencies.len(), percentile(&latencies, 0.99), record.1)
    };
    let (baseline_queries, baseline_query_p99, _) = summary(1);
    let attacks: Vec<AttackReport> = ATTACKS
        .iter()
        .enumerate()
        .map(|(index, name)| {
            let (queries, query_p99, disconnects) = summary(index + 2);
            AttackReport {
                name,
                disconnects,
                queries,
                query_p99,
            }
        })
        .collect();
    let honest_disconnects = phases.iter().map(|phase| phase.1).sum();
    Ok(HostileReport {
        baseline_queries,
        baseline_query_p99,
        attacks,
        honest_disconnects,
        blocks_missed: late,
        payments: timed,
        restarts,
    })
}

/// Search round trips and disconnects, per phase.
type Phases = Vec<(Vec<Duration>, usize)>;

/// The honest players: join, enter, walk at the tick, search the
/// catalogue every two seconds each (timed), and rent once each.
fn play(
    join: SocketAddr,
    players: Vec<Keypair>,
    listings: Vec<ListingId>,
    chain: ledger::ChainId,
    stop: &AtomicBool,
    phase: &std::sync::Mutex<usize>,
) -> Result<Phases, HostError> {
    let mut bots = Vec::with_capacity(players.len());
    for key in &players {
        let mut bot = Client::connect(join, key, Duration::from_secs(30))?;
        bot.enter("Plaza Square", Duration::from_secs(30))?;
        bots.push(bot);
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut walkers: Vec<plaza_client::bot::Walker> = (0..bots.len())
        .map(|_| plaza_client::bot::Walker::new(rng.r#gen(), [0.0, 0.0], 40.0))
        .collect();
    let mut phases: Phases = vec![(Vec::new(), 0); ATTACKS.len() + 3];
    let mut asked: Vec<Option<(u32, Instant, usize)>> = vec![None; bots.len()];
    let mut next_search: Vec<Instant> = (0..bots.len())
        .map(|index| {
            Instant::now() + Duration::from_millis(2_000 * index as u64 / bots.len().max(1) as u64)
        })
        .collect();
    let mut rented = vec![false; bots.len()];
    let mut alive = vec![true; bots.len()];
    let tick = Duration::from_secs(1) / plaza_client::protocol::TICK_HZ;
    let mut next = Instant::now();
    while !stop.load(Ordering::Acquire) {
        let now_phase = *phase.lock().unwrap_or_else(|p| p.into_inner());
        for index in 0..bots.len() {
            if !alive[index] {
                continue;
            }
            let bot = &mut bots[index];
            bot.send_move(walkers[index].step(tick.as_secs_f32()))?;
            if asked[index].is_none() && Instant::now() >= next_search[index] {
                let request = bot.ask(|request| ClientMessage::Browse {
                    request,
                    query: Browse {
                        page_size: 10,
                        ..Browse::default()
                    },
                });
                asked[index] = Some((request, Instant::now(), now_phase));
                next_search[index] += Duration::from_secs(2);
            }
            if !rented[index] && now_phase >= 2 && !listings.is_empty() {
                rented[index] = true;
                let listing = listings[index % listings.len()];
                let op = Operation::Rent {
                    listing,
                    periods: 1,
                };
                // A new player's first transaction.
                let signer = players[index].address();
                let tx = market::transaction(chain.clone(), signer, 0, op, SystemClock.now())
                    .sign(&players[index]);
                bot.ask(|request| ClientMessage::Submit { request, tx });
            }
            if let Err(err) = bot.pump() {
                warn!(%err, "an honest player lost its session");
                alive[index] = false;
                if let Some(record) = phases.get_mut(now_phase) {
                    record.1 += 1;
                }
                continue;
            }
            for message in bot.drain() {
                if let Some((request, sent, at)) = asked[index]
                    && message.request() == Some(request)
                {
                    if let Some(record) = phases.get_mut(at) {
                        record.0.push(sent.elapsed());
                    }
                    asked[index] = None;
                }
            }
        }
        next += tick;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            next = now;
        }
    }
    Ok(phases)
}

/// Runs attack `index` against the host at `join` until `until`.
fn attack_for(index: usize, join: SocketAddr, until: Instant) -> Result<(), HostError> {
    let stranger = || Keypair::generate(&mut OsRng);
    // A fresh attacker sends `packets` and waits to be dropped, over and
    // over.
    let repeat = |packets: Vec<Vec<u8>>| -> Result<(), HostError> {
        while Instant::now() < until {
            let mut attacker = Attacker::connect(join, &stranger())?;
            attacker.send_renet(&packets);
            let dropped_by = Instant::now() + Duration::from_secs(2);
            while attacker.is_connected() && Instant::now() < dropped_by {
                attacker.pump();
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        Ok(())
    };
    match index {
        0 => repeat(vec![wire::slice(
            true,
            0,
            CHANNEL_RELIABLE,
            0,
            2,
            2,
            &[1; 1200],
        )]),
        1 => repeat(vec![wire::slice(
            false,
            0,
            CHANNEL_AVATAR,
            0,
            7,
            3,
            &[1; 1200],
        )]),
        2 => repeat(vec![
            wire::slice(true, 0, CHANNEL_RELIABLE, 0, 0, 2, &[1; 1200]),
            wire::slice(true, 1, CHANNEL_RELIABLE, 0, 999_999, 1_000_000, &[1; 1200]),
        ]),
        3 => repeat(vec![
            wire::slice(false, 0, CHANNEL_AVATAR, 0, 0, 2, &[7; 1200]),
            wire::slice(false, 1, CHANNEL_AVATAR, 0, 39, 40, &[7; 1200]),
        ]),
        4 => {
            let empty: &[u8] = &[];
            let packets = (0..80u64)
                .map(|batch| {
                    let messages: Vec<(u64, &[u8])> =
                        (0..250).map(|i| (1 + batch * 250 + i, empty)).collect();
                    wire::small_reliable(batch, CHANNEL_RELIABLE, &messages)
                })
                .collect();
            repeat(packets)
        }
        5 => {
            let attacker = Attacker::connect(join, &stranger())?;
            let loose = std::net::UdpSocket::bind("127.0.0.1:0")
                .map_err(|err| HostError::net("binding a socket", err))?;
            let mut rng = rand::rngs::StdRng::seed_from_u64(5);
            while Instant::now() < until {
                for _ in 0..200 {
                    let mut forged = vec![0u8; rng.gen_range(18..80)];
                    rng.fill(&mut forged[..]);
                    forged[0] = [0xf5, 0x85, 0x01, 0x32][rng.gen_range(0..4)];
                    attacker.send_raw(&forged);
                    let _ = loose.send_to(&forged, attacker.server_addr());
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(())
        }
        6 => {
            while Instant::now() < until {
                let flood: Vec<std::net::TcpStream> = (0..300)
                    .filter_map(|_| connect_from([127, 0, 0, 2], join).ok())
                    .collect();
                std::thread::sleep(Duration::from_millis(500));
                drop(flood);
            }
            Ok(())
        }
        7 => {
            let mut cheat = Client::connect(join, &stranger(), Duration::from_secs(10))?;
            cheat.enter("Plaza Square", Duration::from_secs(10))?;
            let mut x = 0.0f32;
            while Instant::now() < until {
                for _ in 0..20 {
                    x = (x + 1.95) % 100.0;
                    cheat.send_move(AvatarState::new([x, 0.0, 0.0], 0.0, Gait::Run))?;
                }
                let _ = cheat.pump();
                cheat.drain();
                std::thread::sleep(Duration::from_millis(50));
            }
            Ok(())
        }
        8 => {
            while Instant::now() < until {
                let mut flooder = Client::connect(join, &stranger(), Duration::from_secs(10))?;
                flooder.enter("Plaza Square", Duration::from_secs(10))?;
                while Instant::now() < until {
                    for request in 0..50 {
                        flooder.send(&ClientMessage::Browse {
                            request,
                            query: Browse {
                                page_size: 50,
                                ..Browse::default()
                            },
                        })?;
                    }
                    if flooder.pump().is_err() {
                        break;
                    }
                    flooder.drain();
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            Ok(())
        }
        _ => {
            while Instant::now() < until {
                let mut spammer = Client::connect(join, &stranger(), Duration::from_secs(10))?;
                spammer.enter("Plaza Square", Duration::from_secs(10))?;
                let mut n = 0u32;
                while Instant::now() < until {
                    n += 1;
                    let blob: Vec<u8> = (0..200_000u32).map(|i| (i ^ n) as u8).collect();
                    if spammer
                        .upload(assets::Codec::Raw, &blob, Duration::from_secs(5))
                        .is_err()
                    {
                        // Past the account's quota: a new account.
                        break;
                    }
                }
            }
            Ok(())
        }
    }
}

/// A TCP connection to `to` from the loopback address `ip`.
fn connect_from(ip: [u8; 4], to: SocketAddr) -> std::io::Result<std::net::TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::from((ip, 0)).into())?;
    socket.connect_timeout(&to.into(), Duration::from_millis(500))?;
    Ok(socket.into())
}
