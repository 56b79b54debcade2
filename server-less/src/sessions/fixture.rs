//! A session server for the sessions modules' unit tests: a real host
//! (its RocksDB ledger in a temporary home, the solo block engine) behind
//! a real [`Server`], and players whose renet clients live in memory. What
//! a player sends goes through renet into the server's own reading of
//! messages (rate buckets, decoding, state checks); what the server sends
//! comes back through renet and is decoded. The server's socket and
//! netcode transport are made but never used: the join handshake and the
//! transport are tested on their own, and end to end in `tests/it`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::{Ipv4Addr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger::{Address, ChainId, Keypair, Operation, SignedTransaction, TxId};
use renet::{ClientId, RenetClient};
use zeroize::Zeroizing;

use super::limits::Session;
use super::server::Server;
use super::{Gauges, Parts, SessionSettings};
use crate::Host;
use crate::calls::{CallAnswer, HostCall, InCall, OutCall};
use crate::clock::{Clock, SystemClock};
use crate::home::{self, Home};
use crate::link::WorldRelay;
use crate::presence::{Presence, Present};
use plaza_client::join::Pass;
use plaza_client::protocol::{
    self, AvatarState, Avatars, CHANNEL_ASSETS, CHANNEL_AVATAR, CHANNEL_RELIABLE, ClientMessage,
    End, ErrorCode, ServerMessage, TICK_HZ, TxState, VERSION,
};

/// How long a test waits for an answer.
const WAIT: Duration = Duration::from_secs(20);

/// A host, its session server, and players in memory.
pub(super) struct Fixture {
    pub(super) server: Server,
    players: HashMap<ClientId, Player>,
    next_client: ClientId,
    pub(super) home: Home,
    pub(super) chain_id: ChainId,
    /// The peer network's end of the server's presence link: what the
    /// server publishes, and where other hosts' presence is put in.
    pub(super) relay: WorldRelay,
    host: Option<Host>,
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

/// A player's end: its renet client and what it has heard, in order.
struct Player {
    renet: RenetClient,
    heard: Vec<ServerMessage>,
    /// The latest state of each avatar the avatar updates named.
    avatars: HashMap<u16, AvatarState>,
}

impl Fixture {
    /// A new network of one host with the demo accounts, serving the
    /// built-in worlds with the default session settings.
    pub(super) fn new() -> Fixture {
        Self::with(|_| {})
    }

    /// As [`Fixture::new`], with the session settings changed by `adjust`.
    pub(super) fn with(adjust: impl FnOnce(&mut SessionSettings)) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        home::init(&home, None, SystemClock.now()).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let host = {
            let _entered = runtime.enter();
            Host::start(&home, Arc::new(SystemClock)).unwrap()
        };
        let mut settings = host.config().session_settings();
        adjust(&mut settings);
        let (link, relay) = crate::link::link();
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let udp_addr = socket.local_addr().unwrap();
        let chain_id = runtime.block_on(host.handle().status()).unwrap().chain_id;
        let parts = Parts {
            handle: host.handle(),
            runtime: runtime.handle().clone(),
            blobs: host.blobs(),
            uploads: host.uploads(),
            protocol_id: protocol::protocol_id(&chain_id),
            chain_id: chain_id.clone(),
            worlds: crate::worlds::builtin(),
            settings,
            socket,
            udp_addr,
            reach: vec![udp_addr.ip()],
            private_key: Zeroizing::new([7; 32]),
            identity: home.load_host_key().unwrap(),
            advertised: Some("127.0.0.1:7480".parse().unwrap()),
            link: Some(link.into()),
            gauges: Arc::new(Gauges::default()),
        };
        let server = {
            let _entered = runtime.enter();
            parts.server().unwrap()
        };
        Fixture {
            server,
            players: HashMap::new(),
            next_client: 1,
            home,
            chain_id,
            relay,
            host: Some(host),
            runtime,
            _dir: dir,
        }
    }

    /// The key of demo account `name` (ada, bo, cy, dee).
    pub(super) fn key(&self, name: &str) -> Keypair {
        self.home.load_demo_key(name).unwrap()
    }

    /// A player of `key`'s account connects, as netcode would have let it
    /// after its join (with its pass for this host, dated now).
    pub(super) fn connect(&mut self, key: &Keypair) -> ClientId {
        let account = key.address();
        let pass = Pass::sign(
            key,
            &self.chain_id,
            &self.server.identity.address(),
            crate::presence::unix_millis(),
        );
        let client = self.next_client;
        self.next_client += 1;
        self.server.renet.add_connection(client);
        // The connection event is this fixture's: the account comes from
        // the test, not from a connect token.
        while self.server.renet.get_event().is_some() {}
        self.server
            .sessions
            .insert(client, Session::new(account, pass, &self.server.settings));
        let mut renet = RenetClient::new(protocol::connection_config(End::Client));
        renet.set_connected();
        self.players.insert(
            client,
            Player {
                renet,
                heard: Vec::new(),
                avatars: HashMap::new(),
            },
        );
        client
    }

    /// `client` says hello for `world`: the host's welcome.
    pub(super) fn welcomed(&mut self, client: ClientId, world: &str) -> ServerMessage {
        self.send(
            client,
            &ClientMessage::Hello {
                version: VERSION,
                world: world.to_owned(),
            },
        );
        self.until(client, "the welcome", |message| {
            matches!(message, ServerMessage::Welcome { .. })
        })
    }

    /// Demo account `name` connects and enters `world`; its player number.
    pub(super) fn enter(&mut self, name: &str, world: &str) -> (ClientId, u16) {
        let client = self.connect(&self.key(name));
        let welcome = self.welcomed(client, world);
        let ServerMessage::Welcome { player, .. } = welcome else {
            unreachable!("until returns what it was asked for");
        };
        (client, player)
    }

    /// `client` sends `message` on the reliable channel.
    pub(super) fn send(&mut self, client: ClientId, message: &ClientMessage) {
        self.send_bytes(client, CHANNEL_RELIABLE, protocol::encode(message).unwrap());
    }

    /// `client` sends `bytes`, whatever they are, on `channel`.
    pub(super) fn send_bytes(&mut self, client: ClientId, channel: u8, bytes: Vec<u8>) {
        let player = self.players.get_mut(&client).unwrap();
        player.renet.send_message(channel, bytes);
        for packet in player.renet.get_packets_to_send() {
            // A client the server dropped is no longer heard.
            let _ = self.server.renet.process_packet_from(&packet, client);
        }
    }

    /// One tick: the server reads what was sent, serves, and what it sent
    /// reaches the players.
    pub(super) fn step(&mut self) {
        let tick = Duration::from_secs(1) / TICK_HZ;
        self.server.renet.update(tick);
        // What the transport does: connections renet has closed go.
        for client in self.server.renet.disconnections_id() {
            self.server.renet.remove_connection(client);
        }
        self.server.serve(tick);
        for (client, player) in &mut self.players {
            player.renet.update(tick);
            // What the player's renet has to say (acks), as a client does
            // each frame; a player the server dropped is no longer heard.
            for packet in player.renet.get_packets_to_send() {
                let _ = self.server.renet.process_packet_from(&packet, *client);
            }
            if let Ok(packets) = self.server.renet.get_packets_to_send(*client) {
                for packet in packets {
                    player.renet.process_packet(&packet);
                }
            }
            while let Some(bytes) = player.renet.receive_message(CHANNEL_AVATAR) {
                let update = Avatars::decode(&bytes).unwrap();
                player.avatars.extend(update.avatars);
            }
            for channel in [CHANNEL_RELIABLE, CHANNEL_ASSETS] {
                while let Some(bytes) = player.renet.receive_message(channel) {
                    player.heard.push(ServerMessage::decode(&bytes).unwrap());
                }
            }
        }
    }

    /// Ticks until `client` hears a message `wanted` holds of; that
    /// message (the ones heard before it stay to be read).
    pub(super) fn until(
        &mut self,
        client: ClientId,
        what: &str,
        mut wanted: impl FnMut(&ServerMessage) -> bool,
    ) -> ServerMessage {
        let deadline = Instant::now() + WAIT;
        loop {
            let heard = &mut self.players.get_mut(&client).unwrap().heard;
            if let Some(at) = heard.iter().position(&mut wanted) {
                return heard.remove(at);
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            self.step();
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Where `client` last heard avatar `player` was.
    pub(super) fn avatar_of(&self, client: ClientId, player: u16) -> Option<AvatarState> {
        self.players[&client].avatars.get(&player).copied()
    }

    /// Everything `client` has heard and not yet read.
    pub(super) fn heard(&mut self, client: ClientId) -> Vec<ServerMessage> {
        std::mem::take(&mut self.players.get_mut(&client).unwrap().heard)
    }

    /// Whether the server still holds a session for `client`.
    pub(super) fn connected(&self, client: ClientId) -> bool {
        self.server.renet.is_connected(client) && self.server.sessions.contains_key(&client)
    }

    /// Waits until `client` hears that its transaction `id` is final, and
    /// insists that it applied.
    pub(super) fn wait_applied(&mut self, client: ClientId, id: TxId) {
        let fin = self.until(client, "finality", |message| {
            matches!(message, ServerMessage::Tx { request: None, id: got, .. } if *got == id)
        });
        assert!(
            matches!(
                fin,
                ServerMessage::Tx {
                    state: TxState::Applied { .. },
                    ..
                }
            ),
            "{fin:?}"
        );
    }

    /// Puts in what `host` says of its players in the square (message
    /// `seq`), as the peer network hands it on.
    pub(super) fn arrives(
        &mut self,
        host: &Keypair,
        seq: u64,
        players: Vec<Present>,
        left: Vec<u16>,
    ) {
        let presence = Presence {
            chain_id: self.chain_id.as_str().to_owned(),
            host: host.address(),
            join: None,
            world: SQUARE.into(),
            count: 1,
            seq,
            sent_at: crate::presence::unix_millis(),
            players,
            left,
            said: Vec::new(),
            arranged: Vec::new(),
        };
        self.relay.incoming.try_send(presence).unwrap();
    }

    /// Ticks until `client` hears that `account`, a player of another
    /// host, joined; its number here.
    pub(super) fn joined_as(&mut self, client: ClientId, account: Address) -> u16 {
        let joined = self.until(client, "the other host's player", |message| {
            matches!(message, ServerMessage::PlayerJoined(info) if info.account == account)
        });
        let ServerMessage::PlayerJoined(info) = joined else {
            unreachable!("until returns what it was asked for")
        };
        info.player
    }

    /// Ticks until the server calls another host; that call.
    pub(super) fn next_call(&mut self) -> OutCall {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(call) = self.relay.calls.try_recv() {
                return call;
            }
            assert!(Instant::now() < deadline, "timed out waiting for a call");
            self.step();
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Puts in `host`'s `call`, as the peer network hands it on, and ticks
    /// until the server answers it; that answer.
    pub(super) fn call_in(&mut self, host: Address, call: HostCall) -> CallAnswer {
        let (answer, mut answered) = tokio::sync::oneshot::channel();
        self.relay
            .called
            .try_send(InCall { host, call, answer })
            .unwrap();
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(answer) = answered.try_recv() {
                return answer;
            }
            assert!(Instant::now() < deadline, "timed out waiting for an answer");
            self.step();
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Runs `job` on the host's runtime, waiting for it.
    pub(super) fn block_on<T>(&self, job: impl Future<Output = T>) -> T {
        self.runtime.block_on(job)
    }

    /// `op` signed by `key` for `client`'s session, with the nonce and
    /// time its inventory gives (asked for through the session).
    pub(super) fn sign(
        &mut self,
        client: ClientId,
        key: &Keypair,
        op: Operation,
    ) -> SignedTransaction {
        self.send(client, &ClientMessage::Inventory { request: 9_000 });
        let answer = self.until(client, "the inventory", |message| {
            matches!(message, ServerMessage::Inventory { .. })
        });
        let ServerMessage::Inventory { account, now, .. } = answer else {
            unreachable!("until returns what it was asked for");
        };
        market::transaction(self.chain_id.clone(), key.address(), account.nonce, op, now).sign(key)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(host) = self.host.take() {
            let _ = self.runtime.block_on(host.stop());
        }
    }
}

/// The code of a refusal, if `message` is one.
pub(super) fn code(message: &ServerMessage) -> Option<ErrorCode> {
    match message {
        ServerMessage::Error { code, .. } => Some(*code),
        _ => None,
    }
}

/// A player of another host, walking at `at` in nothing special.
pub(super) fn present(id: u16, account: Address, at: [f32; 3], worn: protocol::Worn) -> Present {
    present_with(id, account, at, worn, Some(crate::presence::unix_millis()))
}

/// The same, with a pass dated `since` (or none). The sessions take
/// presence as the peer network checked it, every pass already found to
/// be its account's for the host that sent it
/// (`presence::SignedPresence::verified`), so the passes made here are
/// not signed.
pub(super) fn present_with(
    id: u16,
    account: Address,
    at: [f32; 3],
    worn: protocol::Worn,
    since: Option<u64>,
) -> Present {
    Present {
        id,
        account,
        pass: since.map(|since| Pass {
            since,
            signature: ledger::Signature([0; 64]),
        }),
        state: AvatarState::new(at, 0.0, protocol::Gait::Walk),
        worn,
    }
}

/// The built-in world the tests' players enter.
pub(super) const SQUARE: &str = "Plaza Square";
