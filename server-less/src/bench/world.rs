//! `plaza-host bench world`: a crowd of bots walks one world, served by
//! one host or by several hosts of one network (the bots split between
//! them); each session server's tick and the bytes each client receives
//! are measured (wall-clock, and the session thread's own CPU time), and
//! with several hosts how long a player's move at one host takes to reach
//! a player at another, and how long a player whose host is killed takes
//! to be back in the world at another.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger::Keypair;
use plaza_client::ClientError;
use rand::rngs::OsRng;
use rand::{Rng, SeedableRng};
use tracing::info;

use crate::clock::{Clock, SystemClock};
use crate::error::HostError;
use crate::home::{self, Home};

use super::percentile;

/// How the world benchmark runs.
#[derive(Clone, Copy, Debug)]
pub struct WorldOptions {
    /// Hosts serving the world (validators of one network); the bots are
    /// split between them.
    pub hosts: usize,
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
    /// The tick processing times of the host whose 99th percentile was
    /// the highest, sorted.
    pub ticks: Vec<Duration>,
    /// That host's session thread's CPU time in each tick, sorted (empty
    /// where the system does not say).
    pub tick_cpu: Vec<Duration>,
    /// With several hosts: from killing the first host to a player of
    /// it being back in the world at another (what it wore on again).
    pub failover: Option<Duration>,
    /// With several hosts: the time from a probe player's move at the
    /// first host to a watcher at the last seeing it there, sorted.
    pub crossings: Vec<Duration>,
    /// Probe moves the watcher did not see within half a second.
    pub cross_host_missed: usize,
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

    /// The `p`th fraction of the session thread's CPU time per tick.
    pub fn tick_cpu(&self, p: f64) -> Duration {
        percentile(&self.tick_cpu, p)
    }

    /// The `p`th fraction of the times from a move at one host to its
    /// sight at another.
    pub fn cross_host(&self, p: f64) -> Duration {
        percentile(&self.crossings, p)
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
pub(super) const WARM_UP_SECS: u64 = 12;

/// Makes a network of `options.hosts` hosts under `dir`, serves it on
/// loopback, and has `options.bots` bots (split between the hosts) walk
/// one world at the avatar tick while each host's ticks and per-client
/// traffic are measured, and, with several hosts, a probe's moves at the
/// first host are timed to a watcher at the last.
pub async fn world(dir: &Path, options: WorldOptions) -> Result<WorldReport, HostError> {
    let count = options.hosts.max(1);
    let homes = if count == 1 {
        let home = Home::new(dir.join("host"));
        home::init(&home, Some("plaza-bench"), SystemClock.now())?;
        vec![home]
    } else {
        let homes = home::testnet(dir, count, 0, Some("plaza-bench"), SystemClock.now())?;
        home::connect_testnet(&homes, count, super::free_port_block()?)?;
        homes
    };
    let per_host = options.bots.div_ceil(count);
    let mut served = Vec::with_capacity(count);
    for home in &homes {
        served.push(serve_bench(home, per_host).await?);
    }
    let joins: Vec<std::net::SocketAddr> = served
        .iter()
        .map(|(_, sessions)| sessions.join_addr())
        .collect();
    let walking = Duration::from_secs(WARM_UP_SECS + u64::from(options.seconds) + 1);
    let mut crowds = Vec::with_capacity(count);
    let mut readies = Vec::with_capacity(count);
    for (index, join) in joins.iter().copied().enumerate() {
        let (ready_tx, ready) = tokio::sync::oneshot::channel();
        let bots = per_host.min(options.bots.saturating_sub(index * per_host));
        crowds.push(tokio::task::spawn_blocking(move || {
            walk_crowd(join, bots, walking, ready_tx)
        }));
        readies.push(ready);
    }
    let probe = (count > 1).then(|| {
        let (from, to) = (joins[0], joins[count - 1]);
        let key = homes[0].load_demo_key("ada");
        tokio::task::spawn_blocking(move || time_crossings(from, to, key?, walking))
    });
    let outcome = async {
        for ready in readies {
            ready.await.map_err(|_| {
                HostError::Client(ClientError::Disconnected("the bots never got in".into()))
            })??;
        }
        tokio::time::sleep(Duration::from_secs(WARM_UP_SECS)).await;
        for (_, sessions) in &served {
            sessions.take_tick_times();
            sessions.take_tick_cpu();
            sessions.take_client_rates();
        }
        tokio::time::sleep(Duration::from_secs(u64::from(options.seconds))).await;
        Ok::<_, HostError>(
            served
                .iter()
                .map(|(_, sessions)| {
                    (
                        sessions.take_tick_times(),
                        sessions.take_tick_cpu(),
                        sessions.take_client_rates(),
                    )
                })
                .collect::<Vec<_>>(),
        )
    }
    .await;
    let mut connected = 0;
    let mut in_view = 0.0;
    for crowd in crowds {
        let (bots, view) = crowd.await.map_err(|_| HostError::Stopped)??;
        in_view += view * bots as f64;
        connected += bots;
    }
    let (mut crossings, cross_host_missed) = match probe {
        Some(probe) => probe.await.map_err(|_| HostError::Stopped)??,
        None => (Vec::new(), 0),
    };
    crossings.sort_unstable();
    let failover = if count > 1 {
        Some(time_failover(&served, homes[0].load_demo_key("bo")?).await?)
    } else {
        None
    };
    for (host, sessions) in served {
        sessions.stop().await;
        host.stop().await?;
    }
    let mut ticks = Vec::new();
    let mut tick_cpu = Vec::new();
    let mut client_rates = Vec::new();
    for (mut host_ticks, mut host_cpu, rates) in outcome? {
        host_ticks.sort_unstable();
        host_cpu.sort_unstable();
        if ticks.is_empty() || percentile(&host_ticks, 0.99) > percentile(&ticks, 0.99) {
            ticks = host_ticks;
            tick_cpu = host_cpu;
        }
        client_rates.extend(rates);
    }
    Ok(WorldReport {
        bots: connected,
        ticks,
        tick_cpu,
        failover,
        crossings,
        cross_host_missed,
        client_rates,
        in_view: in_view / connected.max(1) as f64,
    })
}

/// Serves `home` on loopback for `bots` bots from this machine.
async fn serve_bench(
    home: &Home,
    bots: usize,
) -> Result<(crate::Host, crate::sessions::Sessions), HostError> {
    crate::sessions::serve(home, Arc::new(SystemClock), |settings| {
        *settings = crate::sessions::SessionSettings {
            max_players: (bots + 8).min(1024),
            // Every bot joins from this machine's one address.
            joins: crate::sessions::JoinLimits {
                per_address_per_sec: 1_000.0,
                per_address_burst: 1_000.0,
                ..crate::sessions::JoinLimits::default()
            },
            ..crate::sessions::SessionSettings::default()
        };
    })
    .await
}

/// A player at the first host, wearing what it owns, is told of the
/// world's other hosts; then the first host's session server is stopped
/// dead (no goodbye, as a killed host's); the time from then until the
/// player, having noticed the silence, is back in the world at another
/// host with what it wore on again.
async fn time_failover(
    served: &[(crate::Host, crate::sessions::Sessions)],
    key: Keypair,
) -> Result<Duration, HostError> {
    use plaza_client::client::{Client, HOST_GONE_AFTER};
    let wait = Duration::from_secs(30);
    let Some(((_, first), _)) = served.split_first() else {
        return Err(HostError::Stopped);
    };
    let join = first.join_addr();
    let player = tokio::task::spawn_blocking(move || {
        let mut player = Client::connect(join, &key, wait)?;
        player.enter("Plaza Square", wait)?;
        let (_, owned, _) = player.inventory(wait)?;
        for holding in owned.iter().filter(|holding| holding.rented.is_none()) {
            if player
                .wear(
                    plaza_client::protocol::Slot::Head,
                    Some(holding.asset),
                    wait,
                )
                .is_ok()
            {
                break;
            }
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while player.other_hosts().is_empty() {
            if Instant::now() > deadline {
                return Err(HostError::Timeout {
                    what: "the player to hear of the world's other hosts",
                    secs: 60,
                });
            }
            player.pump()?;
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok::<_, HostError>(player)
    })
    .await
    .map_err(|_| HostError::Stopped)??;
    first.halt();
    let killed = Instant::now();
    tokio::task::spawn_blocking(move || {
        let mut player = player;
        while player.pump().is_ok() && player.silent_for() <= HOST_GONE_AFTER {
            std::thread::sleep(Duration::from_millis(5));
        }
        let back = player.join_another(wait)?;
        drop(back);
        Ok::<_, HostError>(killed.elapsed())
    })
    .await
    .map_err(|_| HostError::Stopped)?
}

/// How often the probe moves.
const PROBE_EVERY: Duration = Duration::from_millis(500);

/// A probe player at `from` steps between two spots every half second
/// for `walking`; a watcher at `to` (another host of the network) times
/// each step from the probe sending it to the watcher seeing it; the
/// times, and how many steps it did not see within the half second.
fn time_crossings(
    from: std::net::SocketAddr,
    to: std::net::SocketAddr,
    key: Keypair,
    walking: Duration,
) -> Result<(Vec<Duration>, usize), HostError> {
    use plaza_client::protocol::{AvatarState, Gait};
    let wait = Duration::from_secs(30);
    let mut probe = plaza_client::client::Client::connect(from, &key, wait)?;
    let spawn = probe.enter("Plaza Square", wait)?.world.spawn;
    let watcher_key = Keypair::generate(&mut OsRng);
    let mut watcher = plaza_client::client::Client::connect(to, &watcher_key, wait)?;
    let account = key.address();
    // The probe is in the world's roster once the watcher's host shows
    // it (in the welcome, or joining later); both clients are pumped.
    watcher.enter("Plaza Square", wait)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let seen_as = loop {
        if let Some(player) = watcher.player_of(&account) {
            break player;
        }
        if Instant::now() > deadline {
            return Err(HostError::Timeout {
                what: "the probe at the other host",
                secs: 60,
            });
        }
        probe.pump()?;
        watcher.pump()?;
        probe.drain();
        watcher.drain();
        std::thread::sleep(Duration::from_millis(5));
    };
    // Eight spots round a circle of 2 m by the spawn point, a step of
    // about 1.5 m apart (one the stride allows): a stale view four
    // seconds old is the only one that matches a step's spot.
    let spots: Vec<[f32; 3]> = (0..8)
        .map(|n| {
            let angle = n as f32 * std::f32::consts::TAU / 8.0;
            [
                spawn[0] - 6.0 + 2.0 * angle.cos(),
                spawn[1],
                spawn[2] - 6.0 + 2.0 * angle.sin(),
            ]
        })
        .collect();
    let started = Instant::now();
    let mut times = Vec::new();
    let mut missed = 0;
    let mut step = 0usize;
    while started.elapsed() < walking {
        let spot = spots[step % spots.len()];
        step += 1;
        let sent = Instant::now();
        probe.send_move(AvatarState::new(spot, 0.0, Gait::Walk))?;
        probe.pump()?;
        let mut seen = false;
        while sent.elapsed() < PROBE_EVERY {
            probe.pump()?;
            watcher.pump()?;
            watcher.drain();
            probe.drain();
            if !seen && let Some((state, _)) = watcher.avatars().get(&seen_as) {
                let at = state.position();
                if (at[0] - spot[0]).abs() < 0.05 && (at[2] - spot[2]).abs() < 0.05 {
                    // The warm-up's steps are not measured.
                    if started.elapsed() > Duration::from_secs(WARM_UP_SECS) {
                        times.push(sent.elapsed());
                    }
                    seen = true;
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if !seen && started.elapsed() > Duration::from_secs(WARM_UP_SECS) {
            // Counted at the half second it was waited for, at least.
            times.push(PROBE_EVERY);
            missed += 1;
        }
    }
    Ok((times, missed))
}

/// Joins `count` bots, enters them into the first world, says so on
/// `ready`, and walks them for `walking`; how many were still connected
/// at the end, and the avatars they had in view on average.
pub(super) fn walk_crowd(
    join: std::net::SocketAddr,
    count: usize,
    walking: Duration,
    ready: tokio::sync::oneshot::Sender<Result<(), HostError>>,
) -> Result<(usize, f64), HostError> {
    // Each crowd its own paths (the port of its host tells them apart).
    let mut rng = rand::rngs::StdRng::seed_from_u64(7 + u64::from(join.port()));
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
