//! `plaza-host bench world`: a crowd of bots walks one world; the
//! session server's tick and the bytes each client receives are measured.

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
pub(super) const WARM_UP_SECS: u64 = 12;

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
pub(super) fn walk_crowd(
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
