//! World sessions: the join endpoint and the renet server.
//!
//! A player first proves its account over the join endpoint (TCP): it
//! signs a fresh challenge and receives a netcode connect token (secure
//! mode) carrying the account in its encrypted user data. It then connects
//! over UDP and talks [`plaza_client::protocol`].
//!
//! The renet server runs on a thread of its own at [`TICK_HZ`]. A tick
//! reads what clients sent, answers what it can at once, hands ledger
//! questions to tasks on the Tokio runtime (their answers come back on a
//! bounded channel and go out on a later tick, so a slow ledger never
//! stretches a tick), turns committed blocks into per-player events, sends
//! each client the avatars in its view, and streams asset chunks.
//!
//! Everything a client can grow is bounded: requests in flight, watched
//! transactions, downloads, uploads (one at a time, 16 MiB, 64 MiB for
//! all players at once, abandoned after 10 s without a piece), trade
//! windows, and message rates (a client that keeps breaking them is
//! disconnected).

mod avatars;
mod chat;
mod convert;
mod cpu;
mod entry;
mod files;
#[cfg(test)]
mod fixture;
mod join;
mod land;
mod limits;
mod network;
mod news;
mod presence;
mod queries;
mod replies;
mod server;
mod trades;
mod wear;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, TcpListener as StdTcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use assets::BlobStore;
use ledger::{ChainId, Keypair};
use rand::RngCore;
use renet::RenetServer;
use renet_netcode::{ServerAuthentication, ServerConfig};
use tokio::net::TcpListener;
use tracing::{error, info, warn};
use zeroize::Zeroizing;

use self::join::Issuer;
pub use self::join::JoinLimits;
use self::replies::REPLY_QUEUE;
use self::server::{Server, WorldState};
use crate::clock::unix_time;
use crate::error::HostError;
use crate::node::HostHandle;
use crate::uploads::Uploads;
use crate::worlds::World;
use plaza_client::protocol::{self, TICK_HZ};
use plaza_client::transport::Transport;

/// How often the socket is read between ticks.
const SOCKET_POLL: Duration = Duration::from_millis(4);

/// Tick times kept for [`Sessions::take_tick_times`].
const TICK_HISTORY: usize = 100_000;

/// The first pause before a session server that panicked starts again;
/// it doubles, up to [`RESTART_BACKOFF_MAX`], while panics keep coming.
const RESTART_BACKOFF_MIN: Duration = Duration::from_millis(100);

/// The longest pause before a session server starts again.
const RESTART_BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Starts the host in `home` and serves its worlds with the session
/// settings of its config.toml, changed by `adjust`; the host is stopped
/// again if the sessions cannot start. Must be called inside a Tokio
/// runtime.
pub async fn serve(
    home: &crate::home::Home,
    clock: Arc<dyn crate::clock::Clock>,
    adjust: impl FnOnce(&mut SessionSettings),
) -> Result<(crate::Host, Sessions), HostError> {
    let host = crate::Host::start(home, clock)?;
    let mut settings = host.config().session_settings();
    settings.meters = host.meters();
    settings.network = match network::offer_of(home, &host) {
        Ok(offer) => Some(offer),
        Err(err) => {
            host.stop().await?;
            return Err(err);
        }
    };
    adjust(&mut settings);
    let started = match home.load_host_key() {
        Ok(identity) => {
            Sessions::start(
                host.handle(),
                host.blobs(),
                host.uploads(),
                crate::worlds::builtin(),
                identity,
                settings,
                host.take_world_link(),
            )
            .await
        }
        Err(err) => Err(err),
    };
    match started {
        Ok(sessions) => Ok((host, sessions)),
        Err(err) => {
            host.stop().await?;
            Err(err)
        }
    }
}

/// Ctrl-C (SIGINT) and SIGTERM (what service managers send), listened for
/// from when this is made: a signal that comes while the host starts waits
/// here instead of killing the process mid-write.
pub struct StopSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Listens for both from now on. Must be called inside a Tokio
    /// runtime.
    pub fn listen() -> Result<StopSignals, HostError> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(StopSignals {
            interrupt: signal(SignalKind::interrupt())
                .map_err(|err| HostError::io("Ctrl-C handler", err))?,
            terminate: signal(SignalKind::terminate())
                .map_err(|err| HostError::io("SIGTERM handler", err))?,
        })
    }

    /// Calls `ready`, then waits for either signal (one that came before
    /// counts); or, should `host`'s block engine stop on its own first,
    /// returns why: a host that no longer follows the chain stops serving
    /// rather than answer players from a frozen height (`plaza-host run`
    /// then exits non-zero with the cause).
    pub async fn until(
        mut self,
        host: &crate::Host,
        ready: impl FnOnce(),
    ) -> Result<(), HostError> {
        let mut fault = host.engine_fault();
        ready();
        tokio::select! {
            _ = self.interrupt.recv() => Ok(()),
            _ = self.terminate.recv() => Ok(()),
            Ok(cause) = fault.wait_for(Option::is_some) => Err(HostError::Consensus(format!(
                "consensus has stopped ({}): this host no longer follows the chain, so it stops \
                 serving rather than answer players from a frozen height; fix the cause named \
                 above and start it again",
                cause.as_deref().unwrap_or("no cause given")
            ))),
        }
    }
}

/// Calls `ready` once Ctrl-C (SIGINT) and SIGTERM are listened for, then
/// waits for either, as [`StopSignals::until`] does.
pub async fn until_interrupted(host: &crate::Host, ready: impl FnOnce()) -> Result<(), HostError> {
    StopSignals::listen()?.until(host, ready).await
}

/// How the world server is set up.
#[derive(Clone, Debug)]
pub struct SessionSettings {
    /// The address both endpoints listen on.
    pub bind: IpAddr,
    /// The UDP port for sessions (0: any free port).
    pub udp_port: u16,
    /// The TCP port of the join endpoint (0: any free port).
    pub join_port: u16,
    /// Most players connected at once (at most 1,024).
    pub max_players: usize,
    /// How far a player sees other avatars, metres.
    pub view_radius: f32,
    /// Reliable messages a client may send per second (and twice that in
    /// a burst).
    pub messages_per_sec: f32,
    /// Bounds on the join endpoint.
    pub joins: JoinLimits,
    /// The addresses players and hosts reach this host at, where they
    /// differ from `bind` (a host bound to every interface, or behind NAT);
    /// empty, the address each one reached the join endpoint at.
    pub public: Vec<IpAddr>,
    /// What hosts that join the network are told and given; `None` for a
    /// host that cannot be joined.
    pub network: Option<Arc<network::NetworkOffer>>,
    /// Where the server keeps its live figures for the operator.
    pub meters: Arc<crate::operator::Meters>,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            bind: IpAddr::from([127, 0, 0, 1]),
            udp_port: 0,
            join_port: 0,
            max_players: 256,
            view_radius: 48.0,
            messages_per_sec: 30.0,
            joins: JoinLimits::default(),
            public: Vec::new(),
            network: None,
            meters: Arc::default(),
        }
    }
}

/// The running world server.
pub struct Sessions {
    join_addr: SocketAddr,
    udp_addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    join_task: tokio::task::JoinHandle<()>,
    gauges: Arc<Gauges>,
}

/// What the session server measures and counts, shared with whoever
/// started it.
#[derive(Default)]
struct Gauges {
    /// The processing time of each tick.
    ticks: Mutex<Vec<Duration>>,
    /// The CPU time the session thread used in each tick, where the
    /// system says.
    tick_cpu: Mutex<Vec<Duration>>,
    /// Bytes per second sent to each client, sampled once a second.
    traffic: Mutex<Vec<f64>>,
    /// Datagrams netcode refused.
    refused: Arc<AtomicU64>,
    /// Times the server panicked and was started again.
    restarts: AtomicU64,
    /// Set to make the server panic at its next tick (fault injection).
    panic_next_tick: AtomicBool,
    /// Set to stop the server dead at its next tick, without a word to
    /// anyone (fault injection: a killed host).
    halt: AtomicBool,
}

/// What a session server is made of: kept, so that a server that panicked
/// can be made again from scratch.
struct Parts {
    handle: HostHandle,
    runtime: tokio::runtime::Handle,
    blobs: Arc<BlobStore>,
    uploads: Arc<Uploads>,
    chain_id: ChainId,
    worlds: Vec<World>,
    settings: SessionSettings,
    socket: UdpSocket,
    udp_addr: SocketAddr,
    protocol_id: u64,
    /// Netcode's key for connect tokens, shared with the join endpoint.
    private_key: Zeroizing<[u8; 32]>,
    /// The host's key, which signs its players' presence.
    identity: Keypair,
    /// The addresses players reach the sessions at.
    reach: Vec<IpAddr>,
    /// Where players join this host, as other hosts tell their players
    /// (none when bound to every interface: the address others reach it
    /// at is not known here).
    advertised: Option<SocketAddr>,
    /// The session server's end of the peer network: presence to
    /// publish and heard, calls to make and taken (shared by each server
    /// made).
    link: Option<presence::LinkIo>,
    gauges: Arc<Gauges>,
}

impl Parts {
    /// A new server: no sessions, the same socket and token key.
    fn server(&self) -> Result<Server, HostError> {
        let socket = self
            .socket
            .try_clone()
            .map_err(|err| HostError::net("sharing the session socket", err))?;
        let transport = Transport::new(
            ServerConfig {
                current_time: unix_time(),
                max_clients: self.settings.max_players.clamp(1, 1024),
                protocol_id: self.protocol_id,
                public_addresses: self
                    .reach
                    .iter()
                    .map(|ip| SocketAddr::new(*ip, self.udp_addr.port()))
                    .collect(),
                authentication: ServerAuthentication::Secure {
                    private_key: *self.private_key,
                },
            },
            socket,
            self.gauges.refused.clone(),
        )
        .map_err(|err| HostError::net("starting netcode", err))?;
        let (replies, inbox) = sync_channel(REPLY_QUEUE);
        // Blocks from now on are heard; the parcels' holders are those of
        // the last block before.
        let events = self.handle.subscribe();
        let lands = self.handle.lands();
        Ok(Server {
            renet: RenetServer::new(protocol::connection_config(protocol::End::Host)),
            transport,
            events,
            handle: self.handle.clone(),
            runtime: self.runtime.clone(),
            blobs: self.blobs.clone(),
            chain_id: self.chain_id.clone(),
            worlds: self
                .worlds
                .iter()
                .map(|world| {
                    WorldState::new(crate::worlds::with_lands(world.clone(), &lands.worlds))
                })
                .collect(),
            sessions: HashMap::new(),
            watched: HashMap::new(),
            trades: HashMap::new(),
            relayed: HashMap::new(),
            next_trade: 1,
            uploads: self.uploads.clone(),
            // At most a minute (see `Uploads::collect_every`).
            collect_every: (self.uploads.collect_every().as_secs() as u32).max(1) * TICK_HZ,
            pieces_loading: 0,
            replies,
            inbox,
            settings: self.settings.clone(),
            tick: 0,
            height: self.handle.backlog().borrow().height,
            identity: self.identity.clone(),
            advertised: self.advertised,
            link: self.link.clone(),
            hosts: HashMap::new(),
            passes: HashMap::new(),
            worlds_told: Vec::new(),
            remote_checks: 0,
            parcels_at: lands.height,
            rechecks: std::collections::VecDeque::new(),
            gauges: self.gauges.clone(),
            leaving: Vec::new(),
        })
    }
}

/// Runs the session server until `stop`; a server that panics is logged,
/// dropped with every session it held (each client is told), and made
/// again, so players can join again without a restart of the host.
fn supervise(parts: Parts, first: Server, stop: &AtomicBool) {
    let mut backoff = RESTART_BACKOFF_MIN;
    let mut first = Some(first);
    loop {
        let made = match first.take() {
            Some(server) => Ok(server),
            None => parts.server(),
        };
        let mut server = match made {
            Ok(server) => server,
            Err(err) => {
                error!(%err, "the session server cannot start; world sessions are down");
                return;
            }
        };
        let started = Instant::now();
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| server.run(stop)));
        let Err(panic) = ran else {
            return;
        };
        let restarts = parts.gauges.restarts.fetch_add(1, Ordering::Relaxed) + 1;
        error!(
            panic = panic_message(&panic),
            restarts,
            players = server.sessions.len(),
            "the session server panicked: every session ends, and it starts again"
        );
        // Tell the clients at once rather than let them time out, if the
        // server is whole enough to; then drop it where a second panic
        // cannot take the thread down.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            server.transport.disconnect_all(&mut server.renet);
            drop(server);
        }));
        if stop.load(Ordering::Acquire) {
            return;
        }
        let (wait, next) = restart_wait(backoff, started.elapsed());
        let waited = Instant::now();
        while waited.elapsed() < wait {
            if stop.load(Ordering::Acquire) {
                return;
            }
            std::thread::sleep(SOCKET_POLL);
        }
        backoff = next;
    }
}

/// How long to wait before starting a server that panicked after
/// running `ran`, the wait being `backoff` so far, and what it becomes: a
/// server that keeps panicking is started again more slowly (the wait
/// doubling up to [`RESTART_BACKOFF_MAX`]); one that ran a good while
/// first, after the shortest wait again.
fn restart_wait(backoff: Duration, ran: Duration) -> (Duration, Duration) {
    let wait = if ran > RESTART_BACKOFF_MAX * 4 {
        RESTART_BACKOFF_MIN
    } else {
        backoff
    };
    (wait, (wait * 2).min(RESTART_BACKOFF_MAX))
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

impl Sessions {
    /// Opens both endpoints and starts serving `worlds` from the host
    /// behind `handle`, with its files in `blobs` and players' uploads
    /// waiting in `uploads`; `identity` is the host's key, which signs
    /// join challenges and its players' presence; through `link` (a host
    /// with peers) its players meet, and trade with, those of the other
    /// hosts of their world. Must be called inside a Tokio runtime.
    pub async fn start(
        handle: HostHandle,
        blobs: Arc<BlobStore>,
        uploads: Arc<Uploads>,
        worlds: Vec<World>,
        identity: Keypair,
        settings: SessionSettings,
        link: Option<crate::link::WorldLink>,
    ) -> Result<Sessions, HostError> {
        let status = handle.status().await?;
        let chain_id = status.chain_id;
        let udp = session_socket(SocketAddr::new(settings.bind, settings.udp_port))
            .map_err(|err| HostError::net("binding the session UDP port", err))?;
        let udp_addr = udp
            .local_addr()
            .map_err(|err| HostError::net("reading the session address", err))?;
        let mut private_key = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(&mut private_key[..]);
        let protocol_id = protocol::protocol_id(&chain_id);

        let join = StdTcpListener::bind(SocketAddr::new(settings.bind, settings.join_port))
            .map_err(|err| HostError::net("binding the join port", err))?;
        join.set_nonblocking(true)
            .map_err(|err| HostError::net("setting up the join port", err))?;
        let join_addr = join
            .local_addr()
            .map_err(|err| HostError::net("reading the join address", err))?;
        let join = TcpListener::from_std(join)
            .map_err(|err| HostError::net("setting up the join port", err))?;
        let reach = network::reach(settings.bind, &settings.public);
        let issuer = Arc::new(Issuer {
            chain_id: chain_id.clone(),
            protocol_id,
            private_key: private_key.clone(),
            udp_addr,
            reach: reach.clone(),
            next_client: AtomicU64::new(1),
            identity: identity.clone(),
            worlds: worlds.iter().map(|world| world.info.name.clone()).collect(),
            network: settings.network.clone(),
        });
        let joins = settings.joins;

        // Where other hosts' players are sent to join this one: its first
        // public address, or the one it is bound to.
        let advertised = settings
            .public
            .first()
            .map(|ip| SocketAddr::new(*ip, join_addr.port()))
            .or_else(|| (!join_addr.ip().is_unspecified()).then_some(join_addr));
        let gauges = Arc::new(Gauges::default());
        let parts = Parts {
            handle,
            runtime: tokio::runtime::Handle::current(),
            blobs,
            uploads,
            chain_id,
            worlds,
            settings,
            socket: udp,
            udp_addr,
            protocol_id,
            private_key,
            identity,
            advertised,
            reach,
            link: link.map(presence::LinkIo::from),
            gauges: gauges.clone(),
        };
        // The first server is made here, so that what stops it from
        // starting is told to the caller, and players are let join once
        // it runs.
        let first = parts.server()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("plaza-sessions".into())
            .spawn(move || supervise(parts, first, &stop_flag))
            .map_err(|err| HostError::io("session thread", err))?;
        let join_task = tokio::spawn(join::serve(join, issuer, joins));
        info!(%udp_addr, %join_addr, "serving world sessions");
        Ok(Sessions {
            join_addr,
            udp_addr,
            stop,
            thread: Some(thread),
            join_task,
            gauges,
        })
    }

    /// Where clients join (TCP).
    pub fn join_addr(&self) -> SocketAddr {
        self.join_addr
    }

    /// Where sessions run (UDP).
    pub fn udp_addr(&self) -> SocketAddr {
        self.udp_addr
    }

    /// The processing time of each tick since the last call.
    pub fn take_tick_times(&self) -> Vec<Duration> {
        std::mem::take(&mut *self.gauges.ticks.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The CPU time the session thread used in each tick since the last
    /// call (empty where the system does not say): beside
    /// [`Sessions::take_tick_times`], it tells a slow tick from a machine
    /// too busy to run it.
    pub fn take_tick_cpu(&self) -> Vec<Duration> {
        std::mem::take(
            &mut *self
                .gauges
                .tick_cpu
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        )
    }

    /// Bytes per second sent to each connected client, as renet measures
    /// it, sampled once a second since the last call.
    pub fn take_client_rates(&self) -> Vec<f64> {
        std::mem::take(
            &mut *self
                .gauges
                .traffic
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        )
    }

    /// Datagrams netcode refused since the sessions started (malformed,
    /// forged, replayed, for another network).
    pub fn refused_datagrams(&self) -> u64 {
        self.gauges.refused.load(Ordering::Relaxed)
    }

    /// Times the session server panicked and was started again.
    pub fn restarts(&self) -> u64 {
        self.gauges.restarts.load(Ordering::Relaxed)
    }

    /// Makes the session server panic at its next tick, as a bug nobody
    /// foresaw would: for fault-injection tests of the restart.
    pub fn panic_next_tick(&self) {
        self.gauges.panic_next_tick.store(true, Ordering::Release);
    }

    /// Stops the session server dead at its next tick, as a killed host
    /// would: no goodbye to any player, nothing more read or sent, no
    /// more presence; the join endpoint closes. For fault injection (the
    /// world benchmark's failover time).
    pub fn halt(&self) {
        self.gauges.halt.store(true, Ordering::Release);
        self.join_task.abort();
    }

    /// Disconnects every client and stops both endpoints.
    pub async fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        self.join_task.abort();
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        info!("world sessions stopped");
    }
}

impl Drop for Sessions {
    /// Sessions dropped without [`Sessions::stop`] still end within a
    /// tick, and release the ledger and blob store they hold before they
    /// are gone.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        self.join_task.abort();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Socket buffers asked for: a tick's worth of datagrams from every
/// player arrives in a burst between two reads, and a small datagram
/// costs the kernel's queue far more than its size. The kernel may grant
/// less (`net.core.rmem_max`).
const SOCKET_BUFFER_BYTES: usize = 4 * 1024 * 1024;

fn session_socket(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    if let Err(err) = socket.set_recv_buffer_size(SOCKET_BUFFER_BYTES) {
        warn!(%err, "cannot enlarge the session socket's receive buffer");
    }
    if let Err(err) = socket.set_send_buffer_size(SOCKET_BUFFER_BYTES) {
        warn!(%err, "cannot enlarge the session socket's send buffer");
    }
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_that_keeps_panicking_is_restarted_more_and_more_slowly() {
        let mut backoff = RESTART_BACKOFF_MIN;
        let mut waits = Vec::new();
        for _ in 0..8 {
            let (wait, next) = restart_wait(backoff, Duration::from_millis(10));
            waits.push(wait);
            backoff = next;
        }
        assert_eq!(waits[0], RESTART_BACKOFF_MIN);
        assert!(waits.windows(2).all(|pair| pair[1] >= pair[0]));
        assert_eq!(*waits.last().unwrap(), RESTART_BACKOFF_MAX);
        // One that served a good while before it panicked: the shortest
        // wait again.
        assert_eq!(
            restart_wait(RESTART_BACKOFF_MAX, RESTART_BACKOFF_MAX * 5).0,
            RESTART_BACKOFF_MIN
        );
    }

    #[test]
    fn a_panic_is_logged_with_its_message_whatever_its_payload() {
        let text: Box<dyn std::any::Any + Send> = Box::new("a str");
        let owned: Box<dyn std::any::Any + Send> = Box::new(String::from("a string"));
        let other: Box<dyn std::any::Any + Send> = Box::new(42_u8);
        assert_eq!(panic_message(&text), "a str");
        assert_eq!(panic_message(&owned), "a string");
        assert_eq!(panic_message(&other), "(no message)");
    }
}
