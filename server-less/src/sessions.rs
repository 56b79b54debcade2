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

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr, TcpListener as StdTcpListener, UdpSocket};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use assets::{AssetKind, BlobStore, ContentId, Manifest};
use ledger::{Address, Amount, ChainId, Keypair, LedgerError, TxId};
use market::TradeWindow;
use market::catalogue::{Cursor, Page, PriceBasis, PriceRange, Query, Range, Side, Sort};
use market::trade::{Action, Party, Stage};
use rand::RngCore;
use renet::{ClientId, RenetServer, ServerEvent};
use renet_netcode::{ServerAuthentication, ServerConfig};
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tracing::{debug, error, info, warn};
use zeroize::Zeroizing;

use crate::clock::unix_time;
use crate::error::HostError;
use crate::join::{Issuer, JoinLimits};
use crate::node::{BlockEvent, HostHandle, TradeOutcome, TxStatus};
use crate::rate::Bucket;
use crate::uploads::Uploads;
use crate::worlds::World;
use plaza_client::protocol::{
    self, Avatars, Browse, CHANNEL_ASSETS, CHANNEL_AVATAR, CHANNEL_RELIABLE, CHUNK_BYTES, Card,
    ClientMessage, ErrorCode, Event, Holding, MAX_AVATARS_PER_UPDATE, MAX_FETCHES_QUEUED,
    MAX_REQUESTS_WAITING, Move, PlayerInfo, ProtocolError, ServerMessage, SessionState, Shown,
    TICK_HZ, TradeAction, TradeView, TxState, Upload, VERSION, WorldInfo,
};
use plaza_client::transport::Transport;

/// Transactions one client may watch to finality.
const MAX_WATCHED: usize = 64;
/// Pieces of downloads read (and held) at once for all players: a piece
/// is 1 MiB, and only the piece being sent is held per download.
const MAX_PIECES_LOADING: usize = 64;
/// Chunks sent to one client per tick at most.
const CHUNKS_PER_TICK: usize = 4;
/// Reliable messages read from one client per tick; the rest wait in
/// renet's bounded channel (a client that overfills it is dropped).
const MESSAGES_PER_TICK: usize = 16;
/// Upload pieces read from one client per tick (16 KiB each: 5 MiB/s).
const UPLOAD_CHUNKS_PER_TICK: usize = 16;
/// An upload with no piece for this long is abandoned.
const UPLOAD_IDLE: Duration = Duration::from_secs(10);
/// Trade windows one player may be part of.
const MAX_TRADES: usize = 2;
/// Actions waiting on one trade window.
const MAX_TRADE_QUEUE: usize = 8;
/// Answers waiting for the tick: more than can be outstanding (1,024
/// players with 8 requests each, and a piece for each download read), so
/// that none is ever lost.
const REPLY_QUEUE: usize = 16_384;
/// Fastest an avatar may move, metres per second.
const MAX_SPEED: f32 = 15.0;
/// What a player may cover beyond [`MAX_SPEED`] each second, for clocks
/// and networks that are not exact.
const STRIDE_SLACK: f32 = 1.0;
/// The most a player may cover at once after standing still, metres: a
/// quarter second at the fastest.
const STRIDE_BURST: f32 = (MAX_SPEED + STRIDE_SLACK) / 4.0;
/// How far above or below the ground an avatar may be, metres.
const MAX_HEIGHT: f32 = 8.0;
/// How far a chat line carries, metres.
const CHAT_RADIUS: f32 = 64.0;
/// Every avatar in view is sent at least this often, in ticks.
const KEYFRAME_TICKS: u32 = TICK_HZ;
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

/// Calls `ready` once Ctrl-C (SIGINT) is listened for, then waits for it.
pub async fn until_interrupted(ready: impl FnOnce()) -> Result<(), HostError> {
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|err| HostError::io("Ctrl-C handler", err))?;
    ready();
    interrupt.recv().await;
    Ok(())
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
    /// Bytes per second sent to each client, sampled once a second.
    traffic: Mutex<Vec<f64>>,
    /// Datagrams netcode refused.
    refused: Arc<AtomicU64>,
    /// Times the server panicked and was started again.
    restarts: AtomicU64,
    /// Set to make the server panic at its next tick (fault injection).
    panic_next_tick: AtomicBool,
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
                public_addresses: vec![self.udp_addr],
                authentication: ServerAuthentication::Secure {
                    private_key: *self.private_key,
                },
            },
            socket,
            self.gauges.refused.clone(),
        )
        .map_err(|err| HostError::net("starting netcode", err))?;
        let (replies, inbox) = sync_channel(REPLY_QUEUE);
        Ok(Server {
            renet: RenetServer::new(protocol::connection_config(protocol::End::Host)),
            transport,
            events: self.handle.subscribe(),
            handle: self.handle.clone(),
            runtime: self.runtime.clone(),
            blobs: self.blobs.clone(),
            chain_id: self.chain_id.clone(),
            worlds: self
                .worlds
                .iter()
                .map(|world| WorldState {
                    world: world.clone(),
                    slots: Vec::new(),
                })
                .collect(),
            sessions: HashMap::new(),
            watched: HashMap::new(),
            trades: HashMap::new(),
            next_trade: 1,
            uploads: self.uploads.clone(),
            // At most a minute (see `Uploads::collect_every`).
            collect_every: (self.uploads.collect_every().as_secs() as u32).max(1) * TICK_HZ,
            pieces_loading: 0,
            replies,
            inbox,
            settings: self.settings.clone(),
            tick: 0,
            gauges: self.gauges.clone(),
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
        // A server that keeps panicking is started again more slowly.
        if started.elapsed() > RESTART_BACKOFF_MAX * 4 {
            backoff = RESTART_BACKOFF_MIN;
        }
        let waited = Instant::now();
        while waited.elapsed() < backoff {
            if stop.load(Ordering::Acquire) {
                return;
            }
            std::thread::sleep(SOCKET_POLL);
        }
        backoff = (backoff * 2).min(RESTART_BACKOFF_MAX);
    }
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
    /// join challenges. Must be called inside a Tokio runtime.
    pub async fn start(
        handle: HostHandle,
        blobs: Arc<BlobStore>,
        uploads: Arc<Uploads>,
        worlds: Vec<World>,
        identity: Keypair,
        settings: SessionSettings,
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
        let issuer = Arc::new(Issuer {
            chain_id: chain_id.clone(),
            protocol_id,
            private_key: private_key.clone(),
            udp_addr,
            next_client: AtomicU64::new(1),
            identity,
            worlds: worlds.iter().map(|world| world.info.name.clone()).collect(),
        });
        let joins = settings.joins;

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
        let join_task = tokio::spawn(crate::join::serve(join, issuer, joins));
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

/// An asset download in progress: the blob is read a piece at a time,
/// off the tick, and only the piece being sent is held.
struct Download {
    request: u32,
    id: ContentId,
    size: u64,
    /// Bytes sent so far.
    offset: u64,
    /// The piece being sent: its index and bytes.
    piece: Option<(u64, Vec<u8>)>,
    /// Whether the next piece is being read.
    loading: bool,
}

/// A blob a client is uploading, streaming into its file.
struct Uploading {
    request: u32,
    file: crate::uploads::Upload,
    /// When the last piece arrived.
    heard: Instant,
}

/// One connected client.
struct Session {
    account: Address,
    state: SessionState,
    world: usize,
    player: u16,
    avatar: Option<protocol::AvatarState>,
    /// Metres the avatar may still cover: refilled with time at
    /// [`MAX_SPEED`] and [`STRIDE_SLACK`], up to [`STRIDE_BURST`].
    stride: Bucket,
    last_seq: u32,
    changed: bool,
    in_flight: usize,
    balance: Option<Amount>,
    downloads: VecDeque<Download>,
    upload: Option<Uploading>,
    /// An upload refused or abandoned: its pieces still on the way are
    /// dropped without a strike.
    dropped_upload: Option<u32>,
    trades: Vec<u64>,
    messages: Bucket,
    moves: Bucket,
    chats: Bucket,
    /// Protocol breaches lately; decays by one a second.
    strikes: f32,
    /// When the last rate-limit notice was sent.
    noticed: Option<Instant>,
}

/// Players disconnected after this many recent breaches.
const MAX_STRIKES: f32 = 50.0;

struct WorldState {
    world: World,
    /// Player number → client.
    slots: Vec<Option<ClientId>>,
}

/// A trade window the host relays.
struct TradeSlot {
    window: TradeWindow,
    clients: [ClientId; 2],
    busy: bool,
    queue: VecDeque<(ClientId, u32, Action)>,
}

/// What a ledger task hands back to the tick.
enum Reply {
    /// Send this to a client; the request is answered.
    Answer(ClientId, ServerMessage),
    /// The client's transaction is waiting: watch it to finality.
    Watch(ClientId, TxId),
    /// A blob to stream: its id and size, or why not.
    Blob(ClientId, u32, Result<(ContentId, u64), String>),
    /// A piece of a blob being streamed: request, piece index, bytes.
    Piece(ClientId, u32, u64, Result<Vec<u8>, String>),
    /// A trade action's outcome.
    Trade(u64, ClientId, u32, Result<TradeOutcome, HostError>),
    /// A player's balance when it entered a world.
    Balance(ClientId, Amount),
}

struct Server {
    renet: RenetServer,
    transport: Transport,
    handle: HostHandle,
    events: broadcast::Receiver<Arc<BlockEvent>>,
    runtime: tokio::runtime::Handle,
    blobs: Arc<BlobStore>,
    chain_id: ChainId,
    worlds: Vec<WorldState>,
    sessions: HashMap<ClientId, Session>,
    watched: HashMap<TxId, ClientId>,
    trades: HashMap<u64, TradeSlot>,
    next_trade: u64,
    /// Uploads waiting to be minted, and those under way.
    uploads: Arc<Uploads>,
    /// Ticks between two collections of expired uploads.
    collect_every: u32,
    /// Pieces of downloads being read now.
    pieces_loading: usize,
    replies: SyncSender<Reply>,
    inbox: Receiver<Reply>,
    settings: SessionSettings,
    tick: u32,
    gauges: Arc<Gauges>,
}

fn error(request: Option<u32>, err: &ProtocolError) -> ServerMessage {
    ServerMessage::Error {
        request,
        code: err.code,
        message: err.message.clone(),
    }
}

fn refused(request: Option<u32>, code: ErrorCode, message: impl Into<String>) -> ServerMessage {
    ServerMessage::Error {
        request,
        code,
        message: message.into(),
    }
}

/// The distance between two positions, metres.
fn distance(a: [f32; 3], b: [f32; 3]) -> f32 {
    let (dx, dy, dz) = (a[0] - b[0], a[1] - b[1], a[2] - b[2]);
    (dx * dx + dy * dy + dz * dz).sqrt()
}

fn distance2(a: [f32; 3], b: [f32; 3]) -> f32 {
    let (dx, dz) = (a[0] - b[0], a[2] - b[2]);
    dx * dx + dz * dz
}

impl Server {
    fn run(&mut self, stop: &AtomicBool) {
        let period = Duration::from_secs(1) / TICK_HZ;
        let mut last = Instant::now();
        let mut next = last + period;
        let mut second = Instant::now();
        let mut last_tick = last;
        while !stop.load(Ordering::Acquire) {
            let started = Instant::now();
            let (elapsed, since_tick) = (started - last, started - last_tick);
            last = started;
            last_tick = started;
            self.tick(elapsed, since_tick);
            let took = started.elapsed();
            {
                let mut ticks = self.gauges.ticks.lock().unwrap_or_else(|p| p.into_inner());
                if ticks.len() < TICK_HISTORY {
                    ticks.push(took);
                }
            }
            if second.elapsed() >= Duration::from_secs(1) {
                second = Instant::now();
                self.sample_traffic();
            }
            // Between ticks the socket is read every few milliseconds so
            // that its queue never overflows; what arrives waits in renet
            // for the tick.
            let mut now = Instant::now();
            while next > now {
                std::thread::sleep((next - now).min(SOCKET_POLL));
                now = Instant::now();
                let elapsed = now - last;
                last = now;
                self.renet.update(elapsed);
                self.transport.update(elapsed, &mut self.renet);
            }
            if next + period > now {
                next += period;
            } else {
                // Behind: start again from now rather than racing to
                // catch up.
                next = now + period;
            }
        }
        self.transport.disconnect_all(&mut self.renet);
    }

    fn sample_traffic(&mut self) {
        let rates: Vec<f64> = self
            .renet
            .clients_id_iter()
            .map(|client| self.renet.bytes_sent_per_sec(client))
            .collect();
        let mut traffic = self
            .gauges
            .traffic
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if traffic.len() + rates.len() <= TICK_HISTORY {
            traffic.extend(rates);
        }
    }

    /// One tick: `elapsed` since the socket was last read, `since_tick`
    /// since the last tick.
    fn tick(&mut self, elapsed: Duration, since_tick: Duration) {
        if self.gauges.panic_next_tick.swap(false, Ordering::AcqRel) {
            panic!("a fault injected into the session server");
        }
        self.tick = self.tick.wrapping_add(1);
        self.renet.update(elapsed);
        self.transport.update(elapsed, &mut self.renet);
        while let Some(event) = self.renet.get_event() {
            match event {
                ServerEvent::ClientConnected { client_id } => self.connected(client_id),
                ServerEvent::ClientDisconnected { client_id, reason } => {
                    debug!(client_id, %reason, "client disconnected");
                    self.disconnected(client_id);
                }
            }
        }
        let seconds = since_tick.as_secs_f32();
        let clients: Vec<ClientId> = self.sessions.keys().copied().collect();
        for client in clients {
            self.receive(client, seconds);
        }
        self.drain_replies();
        self.drain_blocks();
        if self.tick.is_multiple_of(TICK_HZ) {
            self.expire_trades();
            self.expire_uploads();
        }
        if self.tick.is_multiple_of(self.collect_every) {
            let uploads = self.uploads.clone();
            self.runtime.spawn_blocking(move || uploads.collect());
        }
        self.send_avatars();
        self.send_chunks();
        self.transport.send_packets(&mut self.renet);
    }

    fn send(&mut self, client: ClientId, message: &ServerMessage) {
        if self.renet.is_connected(client) {
            self.renet
                .send_message(client, CHANNEL_RELIABLE, protocol::encode(message));
        }
    }

    fn connected(&mut self, client: ClientId) {
        let Some(user_data) = self.transport.user_data(client) else {
            self.renet.disconnect(client);
            return;
        };
        let mut account = [0u8; 32];
        account.copy_from_slice(&user_data[..32]);
        let rate = self.settings.messages_per_sec;
        let per_tick = TICK_HZ as f32;
        self.sessions.insert(
            client,
            Session {
                account: Address::from_bytes(account),
                state: SessionState::Connected,
                world: 0,
                player: 0,
                avatar: None,
                stride: Bucket::new(MAX_SPEED + STRIDE_SLACK, STRIDE_BURST),
                last_seq: 0,
                changed: false,
                in_flight: 0,
                balance: None,
                downloads: VecDeque::new(),
                upload: None,
                dropped_upload: None,
                trades: Vec::new(),
                messages: Bucket::new(rate, rate * 2.0),
                moves: Bucket::new(per_tick * 1.5, per_tick),
                chats: Bucket::new(1.0, 5.0),
                strikes: 0.0,
                noticed: None,
            },
        );
        debug!(client, account = %Address::from_bytes(account), "client connected");
    }

    fn disconnected(&mut self, client: ClientId) {
        let Some(session) = self.sessions.remove(&client) else {
            return;
        };
        if session.state == SessionState::InWorld {
            self.leave_world(client, &session);
        }
        self.watched.retain(|_, watcher| *watcher != client);
        for trade in session.trades {
            self.close_trade_for(trade, client, &session.account);
        }
    }

    fn leave_world(&mut self, client: ClientId, session: &Session) {
        if let Some(world) = self.worlds.get_mut(session.world) {
            if let Some(slot) = world.slots.get_mut(usize::from(session.player)) {
                *slot = None;
            }
            let others: Vec<ClientId> = world.slots.iter().flatten().copied().collect();
            for other in others {
                if other != client {
                    self.send(
                        other,
                        &ServerMessage::PlayerLeft {
                            player: session.player,
                        },
                    );
                }
            }
        }
    }

    /// A breach by `client`: answered, counted, and the client dropped
    /// if it keeps at it.
    fn breach(&mut self, client: ClientId, request: Option<u32>, err: &ProtocolError) {
        let Some(session) = self.sessions.get_mut(&client) else {
            return;
        };
        session.strikes += 1.0;
        let strikes = session.strikes;
        let limited = err.code == ErrorCode::RateLimited;
        // One rate-limit notice a second is enough.
        let notify = !limited
            || session
                .noticed
                .is_none_or(|at| at.elapsed() >= Duration::from_secs(1));
        if limited && notify {
            session.noticed = Some(Instant::now());
        }
        if notify {
            self.send(client, &error(request, err));
        }
        if strikes > MAX_STRIKES {
            warn!(client, %err, "disconnecting a client that keeps breaking the protocol");
            self.renet.disconnect(client);
        }
    }

    fn receive(&mut self, client: ClientId, seconds: f32) {
        if let Some(session) = self.sessions.get_mut(&client) {
            session.messages.refill(seconds);
            session.moves.refill(seconds);
            session.chats.refill(seconds);
            session.stride.refill(seconds);
            session.strikes = (session.strikes - seconds).max(0.0);
        }
        while let Some(bytes) = self.renet.receive_message(client, CHANNEL_AVATAR) {
            let Some(session) = self.sessions.get_mut(&client) else {
                return;
            };
            if !session.moves.take() {
                continue;
            }
            match Move::decode(&bytes) {
                Ok(update) => self.moved(client, update),
                Err(err) => self.breach(client, None, &err),
            }
        }
        for _ in 0..UPLOAD_CHUNKS_PER_TICK {
            let Some(bytes) = self.renet.receive_message(client, CHANNEL_ASSETS) else {
                break;
            };
            self.upload(client, &bytes);
        }
        for _ in 0..MESSAGES_PER_TICK {
            let Some(bytes) = self.renet.receive_message(client, CHANNEL_RELIABLE) else {
                break;
            };
            let Some(session) = self.sessions.get_mut(&client) else {
                return;
            };
            if !session.messages.take() {
                let err = ProtocolError::new(
                    ErrorCode::RateLimited,
                    format!(
                        "more than {} messages a second: message dropped",
                        self.settings.messages_per_sec
                    ),
                );
                self.breach(client, None, &err);
                continue;
            }
            let state = session.state;
            let message = ClientMessage::decode(&bytes)
                .and_then(|message| message.allowed_in(state).map(|()| message));
            match message {
                Ok(message) => self.handle(client, message),
                Err(err) => {
                    // The request id, if the bytes got that far.
                    let request = protocol::decode::<ClientMessage>(&bytes, usize::MAX)
                        .ok()
                        .and_then(|message| message.request());
                    self.breach(client, request, &err);
                }
            }
        }
    }

    fn moved(&mut self, client: ClientId, update: Move) {
        let Some(session) = self.sessions.get_mut(&client) else {
            return;
        };
        if session.state != SessionState::InWorld {
            return;
        }
        // Late or repeated updates are stale; sequence numbers wrap.
        if session.avatar.is_some() && update.seq.wrapping_sub(session.last_seq) as i32 <= 0 {
            return;
        }
        let Some(world) = self.worlds.get(session.world) else {
            return;
        };
        let half = world.world.info.half_size;
        let position = update.state.position();
        if position[0].abs() > half || position[2].abs() > half || position[1].abs() > MAX_HEIGHT {
            let err = ProtocolError::new(
                ErrorCode::Invalid,
                format!(
                    "a move to ({:.1}, {:.1}, {:.1}) leaves the world",
                    position[0], position[1], position[2]
                ),
            );
            self.breach(client, None, &err);
            return;
        }
        let mut state = update.state;
        if let Some(old) = session.avatar {
            // However the moves come (one at a time, twenty at once, after
            // standing still), the distance covered is what the time since
            // allows: the stride bucket holds a quarter second's running
            // at most. A move beyond it is cut short where the bucket runs
            // out: the client's own view catches up as it slows down.
            let from = old.position();
            let wanted = distance(from, position);
            let allowed = session.stride.take_up_to(wanted);
            if allowed < wanted {
                let part = if wanted > 0.0 { allowed / wanted } else { 0.0 };
                let at = [0, 1, 2].map(|axis| from[axis] + (position[axis] - from[axis]) * part);
                state = protocol::AvatarState::new(at, update.state.yaw(), update.state.gait);
                if wanted - allowed > STRIDE_BURST {
                    let err = ProtocolError::new(
                        ErrorCode::Invalid,
                        format!("a move of {wanted:.1} m is faster than running: it was cut short"),
                    );
                    self.breach(client, None, &err);
                }
            }
        }
        let Some(session) = self.sessions.get_mut(&client) else {
            return;
        };
        session.changed |= session.avatar != Some(state);
        session.avatar = Some(state);
        session.last_seq = update.seq;
    }

    fn handle(&mut self, client: ClientId, message: ClientMessage) {
        let request = message.request();
        let Some(session) = self.sessions.get_mut(&client) else {
            return;
        };
        let account = session.account;
        if request.is_some() && session.in_flight >= MAX_REQUESTS_WAITING {
            let err = ProtocolError::new(
                ErrorCode::Busy,
                format!("{MAX_REQUESTS_WAITING} requests are waiting: wait for their answers"),
            );
            self.breach(client, request, &err);
            return;
        }
        match message {
            ClientMessage::Hello { version, world } => self.hello(client, version, &world),
            ClientMessage::Chat { text } => self.chat(client, text),
            ClientMessage::Browse { request, query } => {
                self.browse(client, account, request, query)
            }
            ClientMessage::Inventory { request } => {
                self.ask(client, async move |handle: HostHandle| {
                    let inventory = handle.inventory(account).await;
                    Some(match inventory {
                        Ok(inventory) => {
                            let holding = |asset: &ledger::Asset| Holding {
                                asset: asset.id,
                                owner: asset.owner,
                                rented: asset.rental,
                                listing: asset.listing.map(|listing| listing.0),
                            };
                            ServerMessage::Inventory {
                                request,
                                account: inventory.account,
                                owned: inventory.owned.iter().map(holding).collect(),
                                renting: inventory.renting.iter().map(holding).collect(),
                                now: inventory.now,
                            }
                        }
                        Err(err) => unavailable(request, &err),
                    })
                });
            }
            ClientMessage::Quote { request, ask } => {
                self.ask(client, async move |handle: HostHandle| {
                    Some(match handle.quote(account, ask).await {
                        Ok(quote) => ServerMessage::Quote { request, quote },
                        Err(err @ (HostError::Ledger(_) | HostError::Market(_)))
                            if !err.is_internal() =>
                        {
                            refused(Some(request), ErrorCode::Refused, err.to_string())
                        }
                        Err(err) => unavailable(request, &err),
                    })
                });
            }
            ClientMessage::Submit { request, tx } => self.submit(client, account, request, tx),
            ClientMessage::TxStatus { request, id } => {
                self.ask(client, async move |handle: HostHandle| {
                    Some(match handle.tx_status(id).await {
                        Ok(status) => ServerMessage::Tx {
                            request: Some(request),
                            id,
                            state: tx_state(status),
                        },
                        Err(err) => unavailable(request, &err),
                    })
                });
            }
            ClientMessage::Fetch { request, id } => self.fetch(client, request, &id),
            ClientMessage::TradeInvite { request, player } => {
                self.trade_invite(client, request, player)
            }
            ClientMessage::TradeAct {
                request,
                trade,
                action,
            } => self.trade_act(client, request, trade, action),
        }
    }

    /// Runs `job` on the runtime; its message (if any) answers the
    /// client's request on a later tick.
    fn ask<F>(&mut self, client: ClientId, job: impl FnOnce(HostHandle) -> F + Send + 'static)
    where
        F: Future<Output = Option<ServerMessage>> + Send + 'static,
    {
        if let Some(session) = self.sessions.get_mut(&client) {
            session.in_flight += 1;
        }
        let handle = self.handle.clone();
        let replies = self.replies.clone();
        self.runtime.spawn(async move {
            let message = job(handle).await.unwrap_or(ServerMessage::Error {
                request: None,
                code: ErrorCode::Unavailable,
                message: "no answer".into(),
            });
            deliver(&replies, Reply::Answer(client, message));
        });
    }

    fn hello(&mut self, client: ClientId, version: u16, name: &str) {
        if version != VERSION {
            let err = ProtocolError::new(
                ErrorCode::WrongVersion,
                format!("this host speaks protocol {VERSION}, the client {version}"),
            );
            self.send(client, &error(None, &err));
            self.renet.disconnect(client);
            return;
        }
        let Some(index) = self
            .worlds
            .iter()
            .position(|world| world.world.info.name == name)
        else {
            let names: Vec<&str> = self
                .worlds
                .iter()
                .map(|world| world.world.info.name.as_str())
                .collect();
            let err = ProtocolError::new(
                ErrorCode::NotFound,
                format!(
                    "no world {name:?} here; this host serves {}",
                    names.join(", ")
                ),
            );
            self.breach(client, None, &err);
            return;
        };
        // Leaving the world it was in, if any.
        let Some(session) = self.sessions.remove(&client) else {
            return;
        };
        if session.state == SessionState::InWorld {
            self.leave_world(client, &session);
        }
        let mut session = session;
        let Some(world) = self.worlds.get_mut(index) else {
            self.sessions.insert(client, session);
            return;
        };
        let player = match world.slots.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                world.slots.push(None);
                world.slots.len() - 1
            }
        };
        let Ok(player) = u16::try_from(player) else {
            self.sessions.insert(client, session);
            self.send(
                client,
                &refused(None, ErrorCode::Unavailable, "this world is full"),
            );
            return;
        };
        if let Some(slot) = world.slots.get_mut(usize::from(player)) {
            *slot = Some(client);
        }
        let spawn = world.world.info.spawn;
        session.state = SessionState::InWorld;
        session.world = index;
        session.player = player;
        session.avatar = Some(protocol::AvatarState::new(spawn, 0.0, protocol::Gait::Idle));
        session.stride = Bucket::new(MAX_SPEED + STRIDE_SLACK, STRIDE_BURST);
        session.changed = true;
        let account = session.account;
        let players: Vec<PlayerInfo> = world
            .slots
            .iter()
            .enumerate()
            .filter_map(|(slot, other)| {
                let other = (*other)?;
                let other_session = self.sessions.get(&other)?;
                Some(PlayerInfo {
                    player: u16::try_from(slot).ok()?,
                    account: other_session.account,
                })
            })
            .collect();
        let others: Vec<ClientId> = world.slots.iter().flatten().copied().collect();
        let info: WorldInfo = world.world.info.clone();
        self.sessions.insert(client, session);
        let work = *self.handle.work().borrow();
        let welcome = ServerMessage::Welcome {
            version: VERSION,
            player,
            account,
            chain_id: self.chain_id.as_str().to_owned(),
            height: work.height,
            time: work.time,
            world: info,
            worlds: self
                .worlds
                .iter()
                .map(|world| world.world.info.name.clone())
                .collect(),
            players,
        };
        self.send(client, &welcome);
        for other in others {
            if other != client {
                self.send(
                    other,
                    &ServerMessage::PlayerJoined(PlayerInfo { player, account }),
                );
            }
        }
        let handle = self.handle.clone();
        let replies = self.replies.clone();
        self.runtime.spawn(async move {
            if let Ok(found) = handle.account(account).await {
                deliver(&replies, Reply::Balance(client, found.balance));
            }
        });
        info!(client, %account, world = name, player, "player entered a world");
    }

    fn chat(&mut self, client: ClientId, text: String) {
        let Some(session) = self.sessions.get_mut(&client) else {
            return;
        };
        if !session.chats.take() {
            let err = ProtocolError::new(ErrorCode::RateLimited, "chat: one line a second");
            self.breach(client, None, &err);
            return;
        }
        let here = session.avatar.map(|a| a.position()).unwrap_or_default();
        let message = ServerMessage::Chat {
            player: session.player,
            account: session.account,
            text,
        };
        let Some(world) = self.worlds.get(session.world) else {
            return;
        };
        let listeners: Vec<ClientId> = world
            .slots
            .iter()
            .flatten()
            .copied()
            .filter(|other| {
                self.sessions.get(other).is_some_and(|s| {
                    s.avatar
                        .is_some_and(|a| distance2(a.position(), here) <= CHAT_RADIUS * CHAT_RADIUS)
                })
            })
            .collect();
        for listener in listeners {
            self.send(listener, &message);
        }
    }

    fn browse(&mut self, client: ClientId, viewer: Address, request: u32, browse: Browse) {
        let query = match query_of(&browse, viewer) {
            Ok(query) => query,
            Err(err) => {
                self.breach(client, Some(request), &err);
                return;
            }
        };
        self.ask(client, async move |handle: HostHandle| {
            Some(match handle.browse(query).await {
                Ok(page) => page_message(request, page),
                Err(HostError::Market(err)) => {
                    refused(Some(request), ErrorCode::Invalid, err.to_string())
                }
                Err(err) => unavailable(request, &err),
            })
        });
    }

    fn submit(
        &mut self,
        client: ClientId,
        account: Address,
        request: u32,
        tx: ledger::SignedTransaction,
    ) {
        if tx.tx.signer != account {
            let err = ProtocolError::new(
                ErrorCode::Refused,
                format!(
                    "the transaction is {}'s; this session is {account}'s",
                    tx.tx.signer
                ),
            );
            self.breach(client, Some(request), &err);
            return;
        }
        let watching = self.watched.values().filter(|c| **c == client).count();
        if watching >= MAX_WATCHED {
            let err = ProtocolError::new(
                ErrorCode::Busy,
                format!("{MAX_WATCHED} transactions are waiting: wait for some to be final"),
            );
            self.breach(client, Some(request), &err);
            return;
        }
        let id = tx.id();
        let replies = self.replies.clone();
        self.ask(client, async move |handle: HostHandle| {
            Some(match handle.submit(tx).await {
                Ok(_) => {
                    deliver(&replies, Reply::Watch(client, id));
                    ServerMessage::Tx {
                        request: Some(request),
                        id,
                        state: TxState::Pending,
                    }
                }
                Err(err) if err.is_internal() || matches!(err, HostError::Stopped) => {
                    unavailable(request, &err)
                }
                Err(err) => ServerMessage::Tx {
                    request: Some(request),
                    id,
                    state: TxState::Rejected {
                        height: None,
                        reason: err.to_string(),
                    },
                },
            })
        });
    }

    fn fetch(&mut self, client: ClientId, request: u32, id: &[u8]) {
        let id = match ContentId::from_bytes(id) {
            Ok(id) => id,
            Err(err) => {
                let err = ProtocolError::new(ErrorCode::Invalid, format!("content id: {err}"));
                self.breach(client, Some(request), &err);
                return;
            }
        };
        let queued = self
            .sessions
            .get(&client)
            .map_or(0, |session| session.downloads.len());
        if queued >= MAX_FETCHES_QUEUED {
            let err = ProtocolError::new(
                ErrorCode::Busy,
                format!("{MAX_FETCHES_QUEUED} downloads are queued: wait for one to finish"),
            );
            self.breach(client, Some(request), &err);
            return;
        }
        if let Some(session) = self.sessions.get_mut(&client) {
            session.in_flight += 1;
        }
        let blobs = self.blobs.clone();
        let replies = self.replies.clone();
        self.runtime.spawn_blocking(move || {
            let result = match (blobs.contains(&id), blobs.info(&id)) {
                (Ok(true), Ok(Some(info))) => Ok((id, info.size)),
                (Ok(false), _) | (Ok(true), Ok(None)) => Err(format!("this host has no blob {id}")),
                (Err(err), _) | (_, Err(err)) => Err(HostError::from(err).for_player()),
            };
            deliver(&replies, Reply::Blob(client, request, result));
        });
    }

    /// A message on the assets channel: an upload's beginning or bytes.
    fn upload(&mut self, client: ClientId, bytes: &[u8]) {
        let Some(session) = self.sessions.get(&client) else {
            return;
        };
        let upload = Upload::decode(bytes).and_then(|upload| match session.state {
            SessionState::InWorld => Ok(upload),
            SessionState::Connected => Err(ProtocolError::new(
                ErrorCode::WrongState,
                "upload before hello: enter a world first",
            )),
        });
        match upload {
            Ok(Upload::Begin { request, id, size }) => {
                self.begin_upload(client, request, &id, size)
            }
            Ok(Upload::Bytes {
                request,
                offset,
                bytes,
            }) => self.upload_bytes(client, request, offset, &bytes),
            Err(err) => {
                let request = protocol::decode::<Upload>(bytes, usize::MAX)
                    .ok()
                    .map(|upload| upload.request());
                match request {
                    Some(request) => self.abandon_upload(client, request, &err),
                    None => self.breach(client, None, &err),
                }
            }
        }
    }

    fn begin_upload(&mut self, client: ClientId, request: u32, id: &[u8], size: u64) {
        let Some(session) = self.sessions.get_mut(&client) else {
            return;
        };
        let refusal = if !session.messages.take() {
            Some(ProtocolError::new(
                ErrorCode::RateLimited,
                "too many messages a second: upload dropped",
            ))
        } else if session.upload.is_some() {
            Some(ProtocolError::new(
                ErrorCode::Busy,
                "an upload is under way: wait until it is stored",
            ))
        } else if session.in_flight >= MAX_REQUESTS_WAITING {
            Some(ProtocolError::new(
                ErrorCode::Busy,
                format!("{MAX_REQUESTS_WAITING} requests are waiting: wait for their answers"),
            ))
        } else {
            ContentId::from_bytes(id)
                .err()
                .map(|err| ProtocolError::new(ErrorCode::Invalid, format!("content id: {err}")))
        };
        if let Some(err) = refusal {
            // The upload under way, if any, goes on; this one's pieces are
            // dropped as they come.
            if session
                .upload
                .as_ref()
                .is_none_or(|upload| upload.request != request)
            {
                session.dropped_upload = Some(request);
            }
            self.breach(client, Some(request), &err);
            return;
        }
        let Ok(id) = ContentId::from_bytes(id) else {
            return;
        };
        let file = match self.uploads.begin(session.account, id, size) {
            Ok(file) => file,
            Err(reason) => {
                session.dropped_upload = Some(request);
                self.send(client, &refused(Some(request), ErrorCode::Busy, reason));
                return;
            }
        };
        session.in_flight += 1;
        if session.dropped_upload == Some(request) {
            session.dropped_upload = None;
        }
        session.upload = Some(Uploading {
            request,
            file,
            heard: Instant::now(),
        });
    }

    /// Ends the upload under way if it is `request` (its reservation and
    /// request slot freed), drops the rest of `request`'s pieces, and
    /// answers with `err`.
    fn abandon_upload(&mut self, client: ClientId, request: u32, err: &ProtocolError) {
        let Some(session) = self.sessions.get_mut(&client) else {
            return;
        };
        let active = session
            .upload
            .as_ref()
            .is_some_and(|upload| upload.request == request);
        if active && session.upload.take().is_some() {
            // Dropping the upload deletes its file and frees its room.
            self.answered(client);
        }
        if let Some(session) = self.sessions.get_mut(&client) {
            session.dropped_upload = Some(request);
        }
        self.breach(client, Some(request), err);
    }

    fn upload_bytes(&mut self, client: ClientId, request: u32, offset: u64, bytes: &[u8]) {
        let Some(session) = self.sessions.get_mut(&client) else {
            return;
        };
        let active = session.upload.as_ref().map(|upload| upload.request);
        if active != Some(request) {
            if session.dropped_upload == Some(request) {
                return;
            }
            let err = ProtocolError::new(
                ErrorCode::Invalid,
                format!("an upload piece for request {request}, which is not under way"),
            );
            self.breach(client, Some(request), &err);
            return;
        }
        let Some(upload) = session.upload.as_mut() else {
            return;
        };
        let written = if upload.file.written() == offset {
            upload.file.write(bytes)
        } else {
            Err(format!(
                "an upload piece at {offset} is out of order: {} bytes had arrived",
                upload.file.written()
            ))
        };
        if let Err(reason) = written {
            let err = ProtocolError::new(
                ErrorCode::Invalid,
                format!("{reason}: the upload is abandoned"),
            );
            self.abandon_upload(client, request, &err);
            return;
        }
        upload.heard = Instant::now();
        if upload.file.written() < upload.file.size() {
            return;
        }
        let Some(upload) = session.upload.take() else {
            return;
        };
        let replies = self.replies.clone();
        self.runtime.spawn_blocking(move || {
            let id = upload.file.id();
            let message = match upload.file.finish() {
                Ok(()) => ServerMessage::Stored {
                    request: upload.request,
                    id: id.to_bytes(),
                },
                Err(reason) => refused(Some(upload.request), ErrorCode::Invalid, reason),
            };
            deliver(&replies, Reply::Answer(client, message));
        });
    }

    /// Abandons uploads that have had no piece for [`UPLOAD_IDLE`], so a
    /// player cannot hold the host's upload room by beginning and stalling.
    fn expire_uploads(&mut self) {
        let stalled: Vec<(ClientId, u32)> = self
            .sessions
            .iter()
            .filter_map(|(client, session)| {
                let upload = session.upload.as_ref()?;
                (upload.heard.elapsed() > UPLOAD_IDLE).then_some((*client, upload.request))
            })
            .collect();
        for (client, request) in stalled {
            let err = ProtocolError::new(
                ErrorCode::Refused,
                format!(
                    "no piece for {} s: the upload is abandoned",
                    UPLOAD_IDLE.as_secs()
                ),
            );
            self.abandon_upload(client, request, &err);
        }
    }

    fn trade_invite(&mut self, client: ClientId, request: u32, player: u16) {
        let Some(session) = self.sessions.get(&client) else {
            return;
        };
        let from = session.account;
        let target = self
            .worlds
            .get(session.world)
            .and_then(|world| world.slots.get(usize::from(player)).copied().flatten());
        let Some(target) = target.filter(|target| *target != client) else {
            let err = ProtocolError::new(
                ErrorCode::NotFound,
                format!("no other player {player} in this world"),
            );
            self.breach(client, Some(request), &err);
            return;
        };
        let Some(to) = self.sessions.get(&target).map(|session| session.account) else {
            return;
        };
        let busy = [client, target].iter().any(|c| {
            self.sessions
                .get(c)
                .is_none_or(|session| session.trades.len() >= MAX_TRADES)
        });
        if busy {
            self.send(
                client,
                &refused(
                    Some(request),
                    ErrorCode::Busy,
                    format!("a player is already in {MAX_TRADES} trades"),
                ),
            );
            return;
        }
        let window = match TradeWindow::invite(self.chain_id.clone(), from, to, self.handle.now()) {
            Ok(window) => window,
            Err(err) => {
                self.send(
                    client,
                    &refused(Some(request), ErrorCode::Refused, err.to_string()),
                );
                return;
            }
        };
        let trade = self.next_trade;
        self.next_trade += 1;
        for c in [client, target] {
            if let Some(session) = self.sessions.get_mut(&c) {
                session.trades.push(trade);
            }
        }
        let view = trade_view(trade, &window);
        self.trades.insert(
            trade,
            TradeSlot {
                window,
                clients: [client, target],
                busy: false,
                queue: VecDeque::new(),
            },
        );
        self.send(
            client,
            &ServerMessage::Trade {
                request: Some(request),
                view: Box::new(view.clone()),
            },
        );
        self.send(
            target,
            &ServerMessage::Trade {
                request: None,
                view: Box::new(view),
            },
        );
    }

    fn trade_act(&mut self, client: ClientId, request: u32, trade: u64, action: TradeAction) {
        let Some(slot) = self.trades.get_mut(&trade) else {
            let err = ProtocolError::new(ErrorCode::NotFound, format!("no open trade {trade}"));
            self.breach(client, Some(request), &err);
            return;
        };
        if !slot.clients.contains(&client) {
            let err =
                ProtocolError::new(ErrorCode::NotFound, format!("trade {trade} is not yours"));
            self.breach(client, Some(request), &err);
            return;
        }
        if slot.queue.len() >= MAX_TRADE_QUEUE {
            let err = ProtocolError::new(ErrorCode::Busy, "too many trade actions waiting");
            self.breach(client, Some(request), &err);
            return;
        }
        slot.queue.push_back((client, request, action_of(action)));
        self.next_trade_action(trade);
    }

    /// Sends the next waiting action of `trade` to the ledger thread; one
    /// at a time, so each acts on the window the last one left.
    fn next_trade_action(&mut self, trade: u64) {
        let Some(slot) = self.trades.get_mut(&trade) else {
            return;
        };
        if slot.busy {
            return;
        }
        let Some((client, request, action)) = slot.queue.pop_front() else {
            return;
        };
        let Some(who) = self.sessions.get(&client).map(|s| s.account) else {
            return;
        };
        slot.busy = true;
        let window = slot.window.clone();
        let handle = self.handle.clone();
        let replies = self.replies.clone();
        if let Some(session) = self.sessions.get_mut(&client) {
            session.in_flight += 1;
        }
        self.runtime.spawn(async move {
            let outcome = handle.trade_act(window, who, action).await;
            deliver(&replies, Reply::Trade(trade, client, request, outcome));
        });
    }

    /// `who` left: their windows close.
    fn close_trade_for(&mut self, trade: u64, client: ClientId, who: &Address) {
        let Some(slot) = self.trades.remove(&trade) else {
            return;
        };
        let mut view = trade_view(trade, &slot.window);
        if !slot.window.is_closed() {
            view.stage = format!("cancelled: {who} left");
        }
        for other in slot.clients {
            if other != client {
                if let Some(session) = self.sessions.get_mut(&other) {
                    session.trades.retain(|t| *t != trade);
                }
                self.send(
                    other,
                    &ServerMessage::Trade {
                        request: None,
                        view: Box::new(view.clone()),
                    },
                );
            }
        }
    }

    fn expire_trades(&mut self) {
        let now = self.handle.now();
        let expired: Vec<u64> = self
            .trades
            .iter_mut()
            .filter_map(|(id, slot)| (!slot.busy && slot.window.tick(now)).then_some(*id))
            .collect();
        for trade in expired {
            self.finish_trade(trade, None);
        }
    }

    /// Tells both sides where `trade` stands (answering `answer`'s
    /// request), and forgets it if closed.
    fn finish_trade(&mut self, trade: u64, answer: Option<(ClientId, u32)>) {
        let Some(slot) = self.trades.get(&trade) else {
            return;
        };
        let view = trade_view(trade, &slot.window);
        let clients = slot.clients;
        let closed = slot.window.is_closed();
        for client in clients {
            let request = answer
                .filter(|(actor, _)| *actor == client)
                .map(|(_, request)| request);
            self.send(
                client,
                &ServerMessage::Trade {
                    request,
                    view: Box::new(view.clone()),
                },
            );
        }
        if closed {
            self.trades.remove(&trade);
            for client in clients {
                if let Some(session) = self.sessions.get_mut(&client) {
                    session.trades.retain(|t| *t != trade);
                }
            }
        }
    }

    fn answered(&mut self, client: ClientId) {
        if let Some(session) = self.sessions.get_mut(&client) {
            session.in_flight = session.in_flight.saturating_sub(1);
        }
    }

    fn drain_replies(&mut self) {
        for _ in 0..REPLY_QUEUE {
            let Ok(reply) = self.inbox.try_recv() else {
                break;
            };
            match reply {
                Reply::Answer(client, message) => {
                    self.answered(client);
                    self.send(client, &message);
                }
                Reply::Watch(client, id) => {
                    if self.sessions.contains_key(&client) {
                        self.watched.insert(id, client);
                    }
                }
                Reply::Balance(client, balance) => {
                    if let Some(session) = self.sessions.get_mut(&client) {
                        session.balance.get_or_insert(balance);
                    }
                }
                Reply::Blob(client, request, result) => {
                    self.answered(client);
                    match result {
                        Ok((id, size)) => {
                            if let Some(session) = self.sessions.get_mut(&client) {
                                session.downloads.push_back(Download {
                                    request,
                                    id,
                                    size,
                                    offset: 0,
                                    piece: None,
                                    loading: false,
                                });
                            }
                        }
                        Err(reason) => {
                            self.send(client, &refused(Some(request), ErrorCode::NotFound, reason))
                        }
                    }
                }
                Reply::Piece(client, request, index, result) => {
                    self.pieces_loading = self.pieces_loading.saturating_sub(1);
                    self.piece_arrived(client, request, index, result);
                }
                Reply::Trade(trade, client, request, outcome) => {
                    self.answered(client);
                    self.traded(trade, client, request, outcome);
                }
            }
        }
    }

    fn traded(
        &mut self,
        trade: u64,
        client: ClientId,
        request: u32,
        outcome: Result<TradeOutcome, HostError>,
    ) {
        let Some(slot) = self.trades.get_mut(&trade) else {
            // Closed meanwhile (a player left).
            return;
        };
        slot.busy = false;
        match outcome {
            Ok((window, Ok(()))) => {
                slot.window = *window;
                self.finish_trade(trade, Some((client, request)));
            }
            Ok((_, Err(err))) => {
                self.send(
                    client,
                    &refused(Some(request), ErrorCode::Refused, err.to_string()),
                );
            }
            Err(err) => self.send(client, &unavailable(request, &err)),
        }
        self.next_trade_action(trade);
    }

    fn drain_blocks(&mut self) {
        loop {
            match self.events.try_recv() {
                Ok(event) => self.block(&event),
                Err(broadcast::error::TryRecvError::Lagged(missed)) => {
                    warn!(missed, "world sessions fell behind the ledger's blocks");
                }
                Err(_) => break,
            }
        }
    }

    /// Moves the files of the assets `event` minted out of the uploads
    /// waiting and into the blob store, where they are served.
    fn keep_minted_files(&self, event: &BlockEvent) {
        let minted: Vec<ContentId> = event
            .block
            .assets
            .iter()
            .filter(|asset| asset.minted_at == event.block.height)
            .map(|asset| asset.id.0)
            .collect();
        if minted.is_empty() {
            return;
        }
        let (uploads, blobs) = (self.uploads.clone(), self.blobs.clone());
        self.runtime.spawn_blocking(move || {
            for manifest in minted {
                let kept = uploads.promote(&[manifest], &blobs).and_then(|_| {
                    let read = Manifest::from_json(&blobs.get(&manifest)?)?;
                    uploads.promote(&[read.model, read.preview], &blobs)
                });
                if let Err(err) = kept {
                    debug!(%manifest, %err, "a minted asset's uploads were not kept");
                }
            }
        });
    }

    /// Tells each player what `event` changed for them.
    fn block(&mut self, event: &BlockEvent) {
        self.keep_minted_files(event);
        let block = &event.block;
        let mut news: HashMap<Address, Vec<Event>> = HashMap::new();
        for listing in &block.listings {
            news.entry(listing.lister)
                .or_default()
                .push(Event::Listing(listing.clone()));
        }
        for rental in &block.rentals {
            let event = if rental.status == ledger::RentalStatus::Active {
                Event::RentalStarted(rental.clone())
            } else {
                Event::RentalEnded(rental.clone())
            };
            news.entry(rental.lessor).or_default().push(event.clone());
            news.entry(rental.renter).or_default().push(event);
        }
        let balances: HashMap<Address, Amount> = block
            .accounts
            .iter()
            .map(|(address, account)| (*address, account.balance))
            .collect();
        let heading = ServerMessage::Event(Event::Block {
            height: block.height,
            time: block.time,
        });
        let clients: Vec<ClientId> = self.sessions.keys().copied().collect();
        for client in clients {
            let Some(session) = self.sessions.get_mut(&client) else {
                continue;
            };
            if session.state != SessionState::InWorld {
                continue;
            }
            let account = session.account;
            let mut out = vec![heading.clone()];
            if let Some(after) = balances.get(&account).copied()
                && let Some(before) = session.balance.replace(after)
                && before != after
            {
                out.push(ServerMessage::Event(Event::Balance { before, after }));
            }
            if let Some(events) = news.get(&account) {
                out.extend(events.iter().cloned().map(ServerMessage::Event));
            }
            for message in out {
                self.send(client, &message);
            }
        }
        let finals = block.results.iter().map(|result| {
            let state = match &result.outcome {
                Ok(()) => TxState::Applied {
                    height: block.height,
                },
                Err(err) => TxState::Rejected {
                    height: Some(block.height),
                    reason: err.to_string(),
                },
            };
            (result.id, state)
        });
        let dropped = event.dropped.iter().map(|(id, err): &(TxId, LedgerError)| {
            (
                *id,
                TxState::Rejected {
                    height: None,
                    reason: err.to_string(),
                },
            )
        });
        let updates: Vec<(TxId, TxState)> = finals.chain(dropped).collect();
        for (id, state) in updates {
            if let Some(client) = self.watched.remove(&id) {
                self.send(
                    client,
                    &ServerMessage::Tx {
                        request: None,
                        id,
                        state,
                    },
                );
            }
        }
    }

    /// Sends each player the avatars within its view radius that moved,
    /// and all of them once a second; nearest first, at most
    /// [`MAX_AVATARS_PER_UPDATE`].
    fn send_avatars(&mut self) {
        let radius = self.settings.view_radius;
        let cell = radius.max(1.0);
        for world in 0..self.worlds.len() {
            let members: Vec<(ClientId, u16, protocol::AvatarState, bool)> = self.worlds[world]
                .slots
                .iter()
                .flatten()
                .filter_map(|client| {
                    let session = self.sessions.get(client)?;
                    Some((*client, session.player, session.avatar?, session.changed))
                })
                .collect();
            if members.is_empty() {
                continue;
            }
            let key = |position: [f32; 3]| {
                (
                    (position[0] / cell).floor() as i32,
                    (position[2] / cell).floor() as i32,
                )
            };
            let mut grid: HashMap<(i32, i32), Vec<usize>> = HashMap::new();
            for (index, member) in members.iter().enumerate() {
                grid.entry(key(member.2.position()))
                    .or_default()
                    .push(index);
            }
            let mut near: Vec<(f32, usize)> = Vec::new();
            for (viewer, &(client, player, state, _)) in members.iter().enumerate() {
                let here = state.position();
                let (cx, cz) = key(here);
                let keyframe = (self.tick.wrapping_add(u32::from(player))) % KEYFRAME_TICKS == 0;
                near.clear();
                for dx in -1..=1 {
                    for dz in -1..=1 {
                        for &other in grid.get(&(cx + dx, cz + dz)).into_iter().flatten() {
                            if other == viewer {
                                continue;
                            }
                            let d2 = distance2(here, members[other].2.position());
                            if d2 <= radius * radius {
                                near.push((d2, other));
                            }
                        }
                    }
                }
                if near.len() > MAX_AVATARS_PER_UPDATE {
                    near.select_nth_unstable_by(MAX_AVATARS_PER_UPDATE, |a, b| a.0.total_cmp(&b.0));
                    near.truncate(MAX_AVATARS_PER_UPDATE);
                }
                near.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
                let avatars: Vec<(u16, protocol::AvatarState)> = near
                    .iter()
                    .filter(|(_, other)| keyframe || members[*other].3)
                    .map(|(_, other)| (members[*other].1, members[*other].2))
                    .collect();
                if avatars.is_empty() {
                    continue;
                }
                let update = Avatars {
                    tick: self.tick,
                    avatars,
                };
                self.renet
                    .send_message(client, CHANNEL_AVATAR, protocol::encode(&update));
            }
            for (client, ..) in members {
                if let Some(session) = self.sessions.get_mut(&client) {
                    session.changed = false;
                }
            }
        }
    }

    /// A piece read for a download: kept for sending, or the download
    /// ends with the reason.
    fn piece_arrived(
        &mut self,
        client: ClientId,
        request: u32,
        index: u64,
        result: Result<Vec<u8>, String>,
    ) {
        let Some(session) = self.sessions.get_mut(&client) else {
            return;
        };
        let Some(at) = session
            .downloads
            .iter()
            .position(|download| download.request == request)
        else {
            return;
        };
        match result {
            Ok(bytes) => {
                if let Some(download) = session.downloads.get_mut(at) {
                    download.loading = false;
                    download.piece = Some((index, bytes));
                }
            }
            Err(reason) => {
                session.downloads.remove(at);
                self.send(client, &refused(Some(request), ErrorCode::NotFound, reason));
            }
        }
    }

    fn send_chunks(&mut self) {
        let piece_len = assets::pieces::PIECE_LEN as u64;
        let mut wanted: Vec<(ClientId, u32, ContentId, u64)> = Vec::new();
        for (client, session) in self.sessions.iter_mut() {
            for _ in 0..CHUNKS_PER_TICK {
                let Some(download) = session.downloads.front_mut() else {
                    break;
                };
                let index = download.offset / piece_len;
                let Some((held, piece)) = download.piece.as_ref().filter(|(at, _)| *at == index)
                else {
                    if !download.loading {
                        download.loading = true;
                        wanted.push((*client, download.request, download.id, index));
                    }
                    break;
                };
                if !self
                    .renet
                    .can_send_message(*client, CHANNEL_ASSETS, CHUNK_BYTES + 64)
                {
                    break;
                }
                let start = usize::try_from(download.offset - held * piece_len).unwrap_or(0);
                let end = (start + CHUNK_BYTES).min(piece.len());
                let Some(bytes) = piece.get(start..end).filter(|bytes| !bytes.is_empty()) else {
                    // A piece shorter than the blob said: the download ends.
                    session.downloads.pop_front();
                    break;
                };
                let chunk = ServerMessage::Chunk {
                    request: download.request,
                    offset: download.offset,
                    size: download.size,
                    bytes: bytes.to_vec(),
                };
                self.renet
                    .send_message(*client, CHANNEL_ASSETS, protocol::encode(&chunk));
                download.offset += bytes.len() as u64;
                if download.offset >= download.size {
                    session.downloads.pop_front();
                }
            }
        }
        for (client, request, id, index) in wanted {
            if self.pieces_loading >= MAX_PIECES_LOADING {
                // Read on a later tick, when others are done.
                if let Some(download) = self
                    .sessions
                    .get_mut(&client)
                    .and_then(|session| session.downloads.front_mut())
                {
                    download.loading = false;
                }
                continue;
            }
            self.pieces_loading += 1;
            let blobs = self.blobs.clone();
            let replies = self.replies.clone();
            self.runtime.spawn_blocking(move || {
                let piece = blobs
                    .piece(&id, index)
                    .map_err(|err| HostError::from(err).for_player());
                deliver(&replies, Reply::Piece(client, request, index, piece));
            });
        }
    }
}

/// Hands an answer to the tick; if the queue is full the answer is lost
/// and the client's request times out, which is logged.
fn deliver(replies: &SyncSender<Reply>, reply: Reply) {
    match replies.try_send(reply) {
        Ok(()) | Err(TrySendError::Disconnected(_)) => {}
        Err(TrySendError::Full(_)) => warn!("session answers queue full: an answer was dropped"),
    }
}

fn unavailable(request: u32, err: &HostError) -> ServerMessage {
    refused(Some(request), ErrorCode::Unavailable, err.for_player())
}

fn tx_state(status: TxStatus) -> TxState {
    match status {
        TxStatus::Pending => TxState::Pending,
        TxStatus::Final {
            height,
            rejection: None,
        } => TxState::Applied { height },
        TxStatus::Final {
            height,
            rejection: Some(reason),
        } => TxState::Rejected {
            height: Some(height),
            reason,
        },
        TxStatus::Unknown => TxState::Unknown,
    }
}

/// The market's query for a client's browse request.
fn query_of(browse: &Browse, viewer: Address) -> Result<Query, ProtocolError> {
    let invalid = |message: String| ProtocolError::new(ErrorCode::Invalid, message);
    let kind = browse
        .kind
        .as_deref()
        .map(AssetKind::from_str)
        .transpose()
        .map_err(|err| invalid(format!("kind: {err}")))?;
    let after = browse
        .after
        .as_deref()
        .map(Cursor::from_str)
        .transpose()
        .map_err(|err| invalid(format!("cursor: {err}")))?;
    Ok(Query {
        kind,
        side: browse
            .rent
            .map(|rent| if rent { Side::Rent } else { Side::Sale }),
        price: browse.max_price.map(|max| PriceRange {
            range: Range { min: 0, max },
            basis: PriceBasis::PerPeriod,
        }),
        owner: browse.owner,
        world: browse.world.clone(),
        text: browse.text.clone(),
        viewer: Some(viewer),
        sort: if browse.cheapest_first {
            Sort::PriceLow
        } else {
            Sort::Newest
        },
        page_size: usize::from(browse.page_size),
        after,
        ..Query::default()
    })
}

fn page_message(request: u32, page: Page) -> ServerMessage {
    let hits = page
        .hits
        .into_iter()
        .map(|hit| Card {
            creator: hit.creator,
            rented_until: hit.rented_until,
            name: hit.manifest.as_ref().map(|m| m.name.clone()),
            kind: hit.manifest.as_ref().map(|m| m.kind.as_str().to_owned()),
            preview: hit.manifest.as_ref().map(|m| m.preview.to_bytes()),
            shown: hit
                .places
                .into_iter()
                .map(|(world, place)| match place {
                    market::catalogue::Place::Stall(index) => Shown {
                        world,
                        stall: true,
                        index,
                    },
                    market::catalogue::Place::Parcel(index) => Shown {
                        world,
                        stall: false,
                        index,
                    },
                })
                .collect(),
            listing: hit.listing,
        })
        .collect();
    ServerMessage::Page {
        request,
        hits,
        next: page.next.map(|cursor| cursor.to_string()),
    }
}

fn action_of(action: TradeAction) -> Action {
    match action {
        TradeAction::Accept => Action::Accept,
        TradeAction::AddAsset { asset, revision } => Action::AddAsset { asset, revision },
        TradeAction::RemoveAsset { asset, revision } => Action::RemoveAsset { asset, revision },
        TradeAction::SetTokens { amount, revision } => Action::SetTokens { amount, revision },
        TradeAction::Confirm { revision } => Action::Confirm { revision },
        TradeAction::Unconfirm => Action::Unconfirm,
        TradeAction::Sign(signature) => Action::Sign(signature),
        TradeAction::Cancel => Action::Cancel,
    }
}

fn trade_view(trade: u64, window: &TradeWindow) -> TradeView {
    let parties = [Party::Inviter, Party::Invitee];
    let stage = match window.stage() {
        Stage::Cancelled { .. } => "cancelled",
        other => other.name(),
    };
    TradeView {
        trade,
        inviter: window.player(Party::Inviter),
        invitee: window.player(Party::Invitee),
        stage: stage.to_owned(),
        revision: window.revision(),
        offers: parties.map(|party| window.offer(party).clone()),
        confirmed: parties.map(|party| window.confirmed(party)),
        signed: parties.map(|party| window.signed(party)),
        terms: window.terms().cloned(),
        signatures: window
            .trade()
            .map(|trade| [trade.a_signature, trade.b_signature]),
    }
}
