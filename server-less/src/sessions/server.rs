//! The session server: one thread's loop that reads the socket, runs each
//! tick, dispatches what clients sent, and hands answers from ledger tasks
//! back to their clients.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::time::{Duration, Instant};

use assets::BlobStore;
use ledger::{Address, ChainId, Height, Keypair, TxId};
use renet::{ClientId, RenetServer, ServerEvent};
use tokio::sync::broadcast;
use tracing::{debug, error, warn};

use super::convert::tx_state;
use super::files::UPLOAD_CHUNKS_PER_TICK;
use super::limits::Session;
use super::presence::{HostRecord, LinkIo, Remote, RemoteKey};
use super::queries::unavailable;
use super::replies::Reply;
use super::trades::{Relayed, TradeSlot};
use super::{Gauges, SOCKET_POLL, SessionSettings, TICK_HISTORY};
use crate::error::HostError;
use crate::node::{BlockEvent, HostHandle};
use crate::uploads::Uploads;
use crate::worlds::World;
use plaza_client::protocol::{
    self, CHANNEL_ASSETS, CHANNEL_AVATAR, CHANNEL_RELIABLE, ClientMessage, ErrorCode, Holding,
    MAX_REQUESTS_WAITING, Move, ProtocolError, ServerMessage, TICK_HZ, Worn,
};
use plaza_client::transport::Transport;

/// Reliable messages read from one client per tick; the rest wait in
/// renet's bounded channel (a client that overfills it is dropped).
pub(super) const MESSAGES_PER_TICK: usize = 16;

pub(super) struct WorldState {
    pub(super) world: World,
    /// Player number → who has it: a client of this host, or a player of
    /// another host of this world.
    pub(super) slots: Vec<Option<Occupant>>,
    /// Players of other hosts of this world, by host and their number
    /// there.
    pub(super) remotes: HashMap<RemoteKey, Remote>,
    /// What this host last published of each of its players here.
    pub(super) published: HashMap<u16, (protocol::AvatarState, Worn)>,
    /// This host's players who left since its last presence message.
    pub(super) left: Vec<u16>,
    /// What this host's players said since its last presence message.
    pub(super) said: Vec<crate::presence::Said>,
    /// The last presence message's number.
    pub(super) seq: u64,
    /// The other hosts of this world its players were last told of.
    pub(super) hosts_told: Vec<String>,
    /// Where players of other hosts that left were last shown, and when
    /// they left (for `presence::LAST_SEEN_FOR`): one that comes here goes on
    /// from there.
    pub(super) last_seen: HashMap<Address, ([f32; 3], Instant)>,
    /// What stands on each parcel, by parcel.
    pub(super) plots: Vec<super::land::Plot>,
    /// Arrangements this host's players made, to pass on to the world's
    /// other hosts, oldest first.
    pub(super) to_announce: std::collections::VecDeque<plaza_client::land::Arrangement>,
    /// The parcel whose arrangement is passed on next: one a second in
    /// turn, for hosts that came later.
    pub(super) announce_next: usize,
}

/// Who holds a player number in a world.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Occupant {
    /// A client of this host.
    Local(ClientId),
    /// A player of another host.
    Remote(RemoteKey),
}

impl WorldState {
    /// A world with nobody in it yet.
    pub(super) fn new(world: World) -> Self {
        let parcels = world.info.parcels.len();
        WorldState {
            world,
            slots: Vec::new(),
            remotes: HashMap::new(),
            published: HashMap::new(),
            left: Vec::new(),
            said: Vec::new(),
            // Counting from the time in microseconds: a server made again
            // (or a host restarted) goes on past every number it sent.
            seq: crate::presence::unix_millis().saturating_mul(1_000),
            hosts_told: Vec::new(),
            last_seen: HashMap::new(),
            plots: vec![super::land::Plot::default(); parcels],
            to_announce: std::collections::VecDeque::new(),
            announce_next: 0,
        }
    }

    /// This host's clients in the world.
    pub(super) fn clients(&self) -> impl Iterator<Item = ClientId> + '_ {
        self.slots
            .iter()
            .flatten()
            .filter_map(|occupant| match occupant {
                Occupant::Local(client) => Some(*client),
                Occupant::Remote(_) => None,
            })
    }

    /// Gives `occupant` the lowest free player number, if one is left.
    pub(super) fn take_number(&mut self, occupant: Occupant) -> Option<u16> {
        let free = match self.slots.iter().position(Option::is_none) {
            Some(free) => free,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        let Ok(number) = u16::try_from(free) else {
            self.slots.pop();
            return None;
        };
        self.slots[free] = Some(occupant);
        Some(number)
    }

    /// Frees player number `number`.
    pub(super) fn free_number(&mut self, number: u16) {
        if let Some(slot) = self.slots.get_mut(usize::from(number)) {
            *slot = None;
        }
    }
}

pub(super) struct Server {
    pub(super) renet: RenetServer,
    pub(super) transport: Transport,
    pub(super) handle: HostHandle,
    pub(super) events: broadcast::Receiver<Arc<BlockEvent>>,
    pub(super) runtime: tokio::runtime::Handle,
    pub(super) blobs: Arc<BlobStore>,
    pub(super) chain_id: ChainId,
    pub(super) worlds: Vec<WorldState>,
    pub(super) sessions: HashMap<ClientId, Session>,
    pub(super) watched: HashMap<TxId, ClientId>,
    pub(super) trades: HashMap<u64, TradeSlot>,
    /// Windows at other hosts that this host's players are in, by the
    /// number this host shows them under.
    pub(super) relayed: HashMap<u64, Relayed>,
    pub(super) next_trade: u64,
    /// Uploads waiting to be minted, and those under way.
    pub(super) uploads: Arc<Uploads>,
    /// Ticks between two collections of expired uploads.
    pub(super) collect_every: u32,
    /// Pieces of downloads being read now.
    pub(super) pieces_loading: usize,
    pub(super) replies: SyncSender<Reply>,
    pub(super) inbox: Receiver<Reply>,
    pub(super) settings: SessionSettings,
    pub(super) tick: u32,
    /// The last block heard of.
    pub(super) height: Height,
    /// This host's key: it signs the presence of its players.
    pub(super) identity: Keypair,
    /// Where players join this host, told to other hosts.
    pub(super) advertised: Option<std::net::SocketAddr>,
    /// The peer network's presence topic, where the host has peers.
    pub(super) link: Option<LinkIo>,
    /// Other hosts that told of their players.
    pub(super) hosts: HashMap<Address, HostRecord>,
    /// The date of the newest pass seen of each account (its own players'
    /// and other hosts'): another host's older word for it is not shown.
    pub(super) passes: HashMap<Address, u64>,
    /// The world list this host's players were last told.
    pub(super) worlds_told: Vec<protocol::WorldEntry>,
    /// Ledger checks for other hosts' words (what their players wear,
    /// their parcels' arrangements) and of arrangements shown, in flight.
    pub(super) remote_checks: usize,
    /// The block whose parcels' holders the worlds show: a block event at
    /// or below it changes no holder again.
    pub(super) parcels_at: Height,
    /// Parcels (world, parcel) whose arrangement is to be checked again
    /// against the ledger (blocks were missed), as checks are free.
    pub(super) rechecks: std::collections::VecDeque<(usize, u16)>,
    pub(super) gauges: Arc<Gauges>,
    /// Clients to drop at the next tick, once what was last sent to them
    /// (why they are dropped) has gone out.
    pub(super) leaving: Vec<ClientId>,
}

pub(super) fn error(request: Option<u32>, err: &ProtocolError) -> ServerMessage {
    ServerMessage::Error {
        request,
        code: err.code,
        message: err.message.clone(),
    }
}

/// What players are told when the host stops.
pub(crate) const SHUTTING_DOWN: &str = "the host is shutting down (its operator stopped it): join again when it is back, or join another host of the network";

/// How long the goodbye has to leave before the disconnection follows.
const GOODBYE_WAIT: Duration = Duration::from_millis(100);

pub(super) fn refused(
    request: Option<u32>,
    code: ErrorCode,
    message: impl Into<String>,
) -> ServerMessage {
    ServerMessage::Error {
        request,
        code,
        message: message.into(),
    }
}

impl Server {
    pub(super) fn run(&mut self, stop: &AtomicBool) {
        let period = Duration::from_secs(1) / TICK_HZ;
        let mut last = Instant::now();
        let mut next = last + period;
        let mut second = Instant::now();
        let mut last_tick = last;
        let mut cpu = super::cpu::ThreadCpu::open();
        let mut slowest = Duration::ZERO;
        while !stop.load(Ordering::Acquire) {
            if self.gauges.halt.load(Ordering::Acquire) {
                // Dead, as a killed host is: nobody is told.
                return;
            }
            let started = Instant::now();
            let cpu_before = cpu.used();
            let (elapsed, since_tick) = (started - last, started - last_tick);
            last = started;
            last_tick = started;
            self.tick(elapsed, since_tick);
            let took = started.elapsed();
            slowest = slowest.max(took);
            {
                let mut ticks = self.gauges.ticks.lock().unwrap_or_else(|p| p.into_inner());
                if ticks.len() < TICK_HISTORY {
                    ticks.push(took);
                }
            }
            if let (Some(before), Some(after)) = (cpu_before, cpu.used()) {
                let mut used = self
                    .gauges
                    .tick_cpu
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                if used.len() < TICK_HISTORY {
                    used.push(after.saturating_sub(before));
                }
            }
            if second.elapsed() >= Duration::from_secs(1) {
                second = Instant::now();
                self.sample_traffic();
                self.meter(slowest);
                slowest = Duration::ZERO;
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
        self.say_goodbye();
        self.transport.disconnect_all(&mut self.renet);
    }

    /// Tells every player why the session is about to end (the host is
    /// stopping), and gives those words a moment to leave before the
    /// disconnection does.
    fn say_goodbye(&mut self) {
        let goodbye = refused(None, ErrorCode::Unavailable, SHUTTING_DOWN);
        let clients: Vec<ClientId> = self.sessions.keys().copied().collect();
        if clients.is_empty() {
            return;
        }
        for client in clients {
            self.send(client, &goodbye);
        }
        self.transport.send_packets(&mut self.renet);
        std::thread::sleep(GOODBYE_WAIT);
    }

    /// The live figures for the operator, once a second: players, the
    /// slowest tick of the second, and bytes a second each way.
    fn meter(&self, slowest: Duration) {
        let meters = &self.settings.meters;
        let (mut out, mut inbound) = (0.0, 0.0);
        for client in self.renet.clients_id_iter() {
            out += self.renet.bytes_sent_per_sec(client);
            inbound += self.renet.bytes_received_per_sec(client);
        }
        meters
            .players
            .store(self.sessions.len() as u64, Ordering::Relaxed);
        meters.tick_max_us.store(
            u64::try_from(slowest.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        meters
            .session_bytes_out
            .store(out as u64, Ordering::Relaxed);
        meters
            .session_bytes_in
            .store(inbound as u64, Ordering::Relaxed);
    }

    pub(super) fn sample_traffic(&mut self) {
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
    pub(super) fn tick(&mut self, elapsed: Duration, since_tick: Duration) {
        if self.gauges.panic_next_tick.swap(false, Ordering::AcqRel) {
            panic!("a fault injected into the session server");
        }
        self.renet.update(elapsed);
        self.transport.update(elapsed, &mut self.renet);
        self.serve(since_tick);
        self.transport.send_packets(&mut self.renet);
    }

    /// One tick's work between reading the socket and writing to it:
    /// connections and disconnections, what each client sent (`since_tick`
    /// refills its rate buckets), answers and blocks, expiries, and what
    /// goes out (avatars, file pieces) into renet's channels.
    pub(super) fn serve(&mut self, since_tick: Duration) {
        self.tick = self.tick.wrapping_add(1);
        for client in std::mem::take(&mut self.leaving) {
            self.renet.disconnect(client);
        }
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
        self.recheck_parcels();
        self.drain_presence();
        self.drain_calls();
        self.expire_remotes();
        if self.tick.is_multiple_of(TICK_HZ) {
            self.expire_trades();
            self.expire_uploads();
            self.tell_hosts();
        }
        if self.tick.is_multiple_of(2 * TICK_HZ) {
            self.tell_worlds();
        }
        if self.tick.is_multiple_of(self.collect_every) {
            let uploads = self.uploads.clone();
            self.runtime.spawn_blocking(move || uploads.collect());
        }
        self.send_avatars();
        self.publish_presence();
        self.send_chunks();
    }

    pub(super) fn send(&mut self, client: ClientId, message: &ServerMessage) {
        if !self.renet.is_connected(client) {
            return;
        }
        match protocol::encode(message) {
            Ok(bytes) => self.renet.send_message(client, CHANNEL_RELIABLE, bytes),
            Err(err) => {
                error!(client, %err, "a message for a client could not be encoded; not sent")
            }
        }
    }

    /// Drops `client` at the next tick: what was sent to it this tick (the
    /// reason) goes out first, and nothing more it sends is read.
    pub(super) fn let_go(&mut self, client: ClientId) {
        if !self.leaving.contains(&client) {
            self.leaving.push(client);
        }
    }

    pub(super) fn receive(&mut self, client: ClientId, seconds: f32) {
        if let Some(session) = self.sessions.get_mut(&client) {
            session.refill(seconds);
        }
        while let Some(bytes) = self.renet.receive_message(client, CHANNEL_AVATAR) {
            if self.leaving.contains(&client) {
                return;
            }
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
            if self.leaving.contains(&client) {
                return;
            }
            let Some(bytes) = self.renet.receive_message(client, CHANNEL_ASSETS) else {
                break;
            };
            self.upload(client, &bytes);
        }
        for _ in 0..MESSAGES_PER_TICK {
            if self.leaving.contains(&client) {
                return;
            }
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

    pub(super) fn handle(&mut self, client: ClientId, message: ClientMessage) {
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
            ClientMessage::Tell {
                request,
                player,
                text,
            } => self.tell(client, request, player, text),
            ClientMessage::Pass { pass } => self.pass_again(client, pass),
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
            ClientMessage::Wear {
                request,
                slot,
                asset,
            } => self.wear(client, request, slot, asset),
            ClientMessage::Block {
                request,
                account,
                blocked,
            } => self.block_account(client, request, account, blocked),
            ClientMessage::Arrange {
                request,
                arrangement,
            } => self.arrange(client, request, arrangement),
        }
    }

    pub(super) fn drain_blocks(&mut self) {
        loop {
            match self.events.try_recv() {
                Ok(event) => self.block(&event),
                Err(broadcast::error::TryRecvError::Lagged(missed)) => {
                    warn!(missed, "world sessions fell behind the ledger's blocks");
                    // What the missed blocks took from their wearers is
                    // not known: everything worn is taken off, and put on
                    // again once checked; so are the parcels' things.
                    self.undress_all();
                    self.resettle_parcels();
                    // Nor is which stalls show other listings now: every
                    // world's are read again.
                    self.restock_all();
                }
                Err(_) => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate::Bucket;
    use crate::sessions::fixture::{Fixture, SQUARE, code};
    use plaza_client::protocol::VERSION;

    #[test]
    fn a_request_before_hello_is_refused_with_its_id_and_nothing_is_asked() {
        let mut fixture = Fixture::new();
        let client = fixture.connect(&fixture.key("ada"));
        fixture.send(client, &ClientMessage::Inventory { request: 7 });
        let refused = fixture.until(client, "a refusal", |message| message.request() == Some(7));
        assert_eq!(code(&refused), Some(ErrorCode::WrongState), "{refused:?}");
        assert_eq!(fixture.server.sessions[&client].in_flight, 0);
        // A hello is what it may send.
        fixture.send(
            client,
            &ClientMessage::Hello {
                version: VERSION,
                world: SQUARE.into(),
            },
        );
        fixture.until(client, "the welcome", |message| {
            matches!(message, ServerMessage::Welcome { .. })
        });
    }

    #[test]
    fn a_client_with_every_request_slot_in_use_waits_and_is_answered_after() {
        let mut fixture = Fixture::new();
        let (client, _) = fixture.enter("ada", SQUARE);
        fixture.server.sessions.get_mut(&client).unwrap().in_flight = MAX_REQUESTS_WAITING;
        fixture.send(client, &ClientMessage::Inventory { request: 1 });
        let busy = fixture.until(client, "a refusal", |message| message.request() == Some(1));
        assert_eq!(code(&busy), Some(ErrorCode::Busy), "{busy:?}");
        // A slot frees: the next request is answered.
        fixture.server.answered(client);
        fixture.send(client, &ClientMessage::Inventory { request: 2 });
        let answer = fixture.until(client, "the answer", |message| message.request() == Some(2));
        assert!(
            matches!(answer, ServerMessage::Inventory { .. }),
            "{answer:?}"
        );
    }

    #[test]
    fn more_messages_a_second_than_allowed_are_dropped_and_told_once() {
        let mut fixture = Fixture::with(|settings| settings.messages_per_sec = 4.0);
        let (client, _) = fixture.enter("ada", SQUARE);
        // A full bucket holds two seconds' worth: 8 of the 20 are read,
        // the rest dropped, and the client is told once.
        fixture.server.sessions.get_mut(&client).unwrap().messages = Bucket::new(4.0, 8.0);
        for request in 1..=20 {
            fixture.send(client, &ClientMessage::Inventory { request });
        }
        let mut heard = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        let answered = |heard: &[ServerMessage]| {
            heard
                .iter()
                .filter(|message| matches!(message, ServerMessage::Inventory { .. }))
                .count()
        };
        while answered(&heard) < 8 && Instant::now() < deadline {
            fixture.step();
            heard.extend(fixture.heard(client));
            std::thread::sleep(Duration::from_millis(2));
        }
        for _ in 0..10 {
            fixture.step();
        }
        heard.extend(fixture.heard(client));
        let limited = heard
            .iter()
            .filter(|message| code(message) == Some(ErrorCode::RateLimited))
            .count();
        assert_eq!(limited, 1, "{heard:?}");
        assert_eq!(answered(&heard), 8, "{heard:?}");
    }
}
