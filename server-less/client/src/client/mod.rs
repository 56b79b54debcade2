//! A world client without a screen: joins a host, enters a world, moves,
//! browses, submits transactions, fetches assets and trades. The world
//! client uses it under its scene; the bot, the terminal commands, the
//! tests and the load benchmark use it directly.
//!
//! It is synchronous: [`Client::pump`] exchanges packets and must be
//! called often (every tick); the request helpers pump while they wait.

mod session;

pub use self::session::{Session, SessionState};

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use assets::{Codec, ContentId};
use ledger::{AssetId, ChainId, Keypair, SignedTransaction, TxId};
use renet::RenetClient;
use renet_netcode::ClientAuthentication;

use crate::error::ClientError;
use crate::protocol::{
    self, AvatarState, Browse, CHANNEL_ASSETS, CHUNK_BYTES, Card, ClientMessage, ErrorCode,
    Holding, MAX_UPLOAD_BYTES, PlayerInfo, ProtocolError, Quote, QuoteAsk, ServerMessage, Slot,
    TradeView, TxState, Upload, VERSION, WorldInfo, Worn,
};
use crate::time::unix_time;
use crate::transport::ClientTransport;

/// Messages kept for the caller at most; older ones are dropped first.
const INBOX: usize = 4_096;
/// How long a request may go unanswered before the client gives up on it
/// (and frees its place for the next).
pub const ANSWER_WAIT: Duration = Duration::from_secs(30);
/// How long a client waits between pumps while it waits for an answer.
const POLL: Duration = Duration::from_millis(5);

/// What a player needs to go on in its world at another host: the
/// world's other hosts it was told of, its key, the world and what it
/// wore. Made from a session ([`SessionState::rejoin`]); joining blocks,
/// so a frame loop runs it on a thread of its own.
#[derive(Clone, Debug)]
pub struct Rejoin {
    /// Where the world's other hosts take players.
    pub hosts: Vec<std::net::SocketAddr>,
    /// The player's key.
    pub key: Keypair,
    /// The world.
    pub world: String,
    /// What it wore.
    pub worn: crate::protocol::Worn,
}

impl Rejoin {
    /// Joins the hosts in turn until one lets the player in, enters the
    /// world (at that host's spawn point) and puts on again what it wore
    /// (each item checked again by the new host; one no longer held, a
    /// rental that ended meanwhile, stays off); where that host takes
    /// players, and the new session.
    pub fn join(self, timeout: Duration) -> Result<(std::net::SocketAddr, Client), ClientError> {
        let mut last = None;
        for join in self.hosts {
            let entered = Client::connect(join, &self.key, timeout).and_then(|mut next| {
                next.enter(&self.world, timeout)?;
                Ok(next)
            });
            match entered {
                Ok(mut next) => {
                    for (slot, asset) in self.worn {
                        match next.wear(slot, Some(asset), timeout) {
                            Ok(_) | Err(ClientError::Protocol(_)) => {}
                            Err(err) => return Err(err),
                        }
                    }
                    return Ok((join, next));
                }
                Err(err) => last = Some(err.to_string()),
            }
        }
        Err(ClientError::NoOtherHost {
            world: self.world,
            last,
        })
    }
}

/// A host not heard from for this long is taken for gone: it is heard
/// several times a second while it lives (avatar updates, netcode's
/// keep-alives), so this is sooner than netcode's own timeout says so.
pub const HOST_GONE_AFTER: Duration = Duration::from_secs(2);

/// What the host said when the client entered a world.
#[derive(Clone, Debug, PartialEq)]
pub struct Welcome {
    /// The client's number in the world.
    pub player: u16,
    /// The network.
    pub chain_id: ChainId,
    /// The last block's height when it entered.
    pub height: u64,
    /// That block's time.
    pub time: ledger::Timestamp,
    /// The scene.
    pub world: WorldInfo,
    /// Every world the host serves.
    pub worlds: Vec<String>,
    /// The players already there.
    pub players: Vec<PlayerInfo>,
}

/// A connected client: a session with its own transport, for a program
/// without a game loop (bots, benchmarks, the command line, tests).
pub struct Client {
    renet: RenetClient,
    transport: ClientTransport,
    last: Instant,
    state: SessionState,
}

impl Client {
    /// Joins the host whose join endpoint is `join` as `key`'s account and
    /// waits until the session is connected.
    pub fn connect(
        join: SocketAddr,
        key: &Keypair,
        timeout: Duration,
    ) -> Result<Client, ClientError> {
        let mut client = Client::start(join, key)?;
        let deadline = Instant::now() + timeout;
        while !client.renet.is_connected() {
            client.pump()?;
            if Instant::now() >= deadline {
                return Err(ClientError::Timeout {
                    what: "the session to connect",
                    secs: timeout.as_secs(),
                });
            }
            std::thread::sleep(POLL);
        }
        Ok(client)
    }

    /// Joins as [`Client::connect`] does, without waiting for the session:
    /// it connects as [`Client::pump`] is called.
    pub fn start(join: SocketAddr, key: &Keypair) -> Result<Client, ClientError> {
        let token = crate::join::join_host(join, key, None)?.token;
        // Loopback for a host on this machine, every interface otherwise.
        let ip: std::net::IpAddr = match (join.ip().is_loopback(), join.is_ipv4()) {
            (true, true) => std::net::Ipv4Addr::LOCALHOST.into(),
            (true, false) => std::net::Ipv6Addr::LOCALHOST.into(),
            (false, true) => std::net::Ipv4Addr::UNSPECIFIED.into(),
            (false, false) => std::net::Ipv6Addr::UNSPECIFIED.into(),
        };
        let bind = SocketAddr::new(ip, 0);
        let socket =
            UdpSocket::bind(bind).map_err(|err| ClientError::net("binding a UDP socket", err))?;
        let transport = ClientTransport::new(
            unix_time(),
            ClientAuthentication::Secure {
                connect_token: token,
            },
            socket,
        )
        .map_err(|err| {
            ClientError::from(ProtocolError::new(ErrorCode::Unavailable, err.to_string()))
        })?;
        Ok(Client {
            renet: RenetClient::new(protocol::connection_config(protocol::End::Client)),
            transport,
            last: Instant::now(),
            state: SessionState::new(key),
        })
    }

    /// The session: the connection and what it remembers.
    pub fn session(&mut self) -> Session<'_> {
        Session {
            renet: &mut self.renet,
            state: &mut self.state,
        }
    }

    /// The connection, its transport and the session's state, apart: for
    /// a game loop that runs each on its own.
    pub fn into_parts(self) -> (RenetClient, ClientTransport, SessionState) {
        (self.renet, self.transport, self.state)
    }

    /// Whether the session is up.
    pub fn is_connected(&self) -> bool {
        self.renet.is_connected()
    }

    /// Exchanges packets with the host: reads what arrived, sends what is
    /// queued. An error means the session has ended.
    pub fn pump(&mut self) -> Result<(), ClientError> {
        let now = Instant::now();
        let elapsed = now - self.last;
        self.last = now;
        self.renet.update(elapsed);
        if let Err(reason) = self.transport.update(elapsed, &mut self.renet) {
            return Err(ClientError::Disconnected(reason));
        }
        self.session().receive()?;
        if let Err(reason) = self.transport.send_packets(&mut self.renet) {
            return Err(ClientError::Disconnected(reason));
        }
        Ok(())
    }

    /// Sends a message on the reliable channel; refused if it cannot be
    /// encoded.
    pub fn send(&mut self, message: &ClientMessage) -> Result<(), ClientError> {
        self.session().send(message)
    }

    /// Sends raw bytes on a channel (for tests of the host's defences).
    pub fn send_raw(&mut self, channel: u8, bytes: Vec<u8>) {
        self.session().send_raw(channel, bytes);
    }

    /// Sends the avatar's state (unreliable channel).
    pub fn send_move(&mut self, state: AvatarState) -> Result<(), ClientError> {
        self.session().send_move(state)
    }

    /// Sends the request `build` makes without waiting (see
    /// [`Session::ask`]); its id.
    pub fn ask(&mut self, build: impl FnOnce(u32) -> ClientMessage) -> u32 {
        self.session().ask(build)
    }

    /// Waits for the first message `wanted` picks, pumping meanwhile;
    /// other messages stay in the inbox.
    pub fn wait_for<T>(
        &mut self,
        what: &'static str,
        timeout: Duration,
        mut wanted: impl FnMut(&ServerMessage) -> Option<T>,
    ) -> Result<T, ClientError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(at) = self.state.inbox.iter().position(|m| wanted(m).is_some()) {
                let message = self
                    .state
                    .inbox
                    .remove(at)
                    .unwrap_or_else(|| unreachable!());
                return wanted(&message).ok_or(ClientError::Timeout {
                    what,
                    secs: timeout.as_secs(),
                });
            }
            if Instant::now() >= deadline {
                return Err(ClientError::Timeout {
                    what,
                    secs: timeout.as_secs(),
                });
            }
            self.pump()?;
            std::thread::sleep(POLL);
        }
    }

    /// Sends a request and waits for its answer; a refusal is an error.
    pub fn request(
        &mut self,
        what: &'static str,
        timeout: Duration,
        build: impl FnOnce(u32) -> ClientMessage,
    ) -> Result<ServerMessage, ClientError> {
        let id = self.ask(build);
        let answer = self.wait_for(what, timeout, |message| {
            (message.request() == Some(id)).then(|| message.clone())
        })?;
        if let ServerMessage::Error { code, message, .. } = answer {
            return Err(ProtocolError::new(code, message).into());
        }
        Ok(answer)
    }

    /// Enters `world` and waits for the welcome.
    /// A host that is catching up with the network after a start is asked
    /// again, within `timeout`.
    pub fn enter(&mut self, world: &str, timeout: Duration) -> Result<&Welcome, ClientError> {
        let deadline = Instant::now() + timeout;
        loop {
            self.send(&ClientMessage::Hello {
                version: VERSION,
                world: world.to_owned(),
            })?;
            self.state.welcome = None;
            let left = deadline.saturating_duration_since(Instant::now());
            let answer = self.wait_for("the welcome", left, |message| match message {
                ServerMessage::Welcome { .. } => Some(Ok(())),
                ServerMessage::Error {
                    request: None,
                    code,
                    message,
                } => Some(Err(ProtocolError::new(*code, message.clone()))),
                _ => None,
            })?;
            match answer {
                Err(err) if err.code == ErrorCode::CatchingUp && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(250).min(left));
                }
                answer => {
                    answer?;
                    break;
                }
            }
        }
        self.state.welcome.as_ref().ok_or(ClientError::Timeout {
            what: "the welcome",
            secs: timeout.as_secs(),
        })
    }

    /// One page of the catalogue: hits and the next page's cursor.
    pub fn browse(
        &mut self,
        query: Browse,
        timeout: Duration,
    ) -> Result<(Vec<Card>, Option<String>), ClientError> {
        match self.request("a catalogue page", timeout, |request| {
            ClientMessage::Browse { request, query }
        })? {
            ServerMessage::Page { hits, next, .. } => Ok((hits, next)),
            other => Err(unexpected(&other)),
        }
    }

    /// The account's balance and nonce, what it owns and what it rents.
    pub fn inventory(
        &mut self,
        timeout: Duration,
    ) -> Result<(ledger::Account, Vec<Holding>, Vec<Holding>), ClientError> {
        match self.request("the inventory", timeout, |request| {
            ClientMessage::Inventory { request }
        })? {
            ServerMessage::Inventory {
                account,
                owned,
                renting,
                ..
            } => Ok((account, owned, renting)),
            other => Err(unexpected(&other)),
        }
    }

    /// Submits a signed transaction; its state on arrival (pending, or
    /// rejected with the reason).
    pub fn submit(
        &mut self,
        tx: SignedTransaction,
        timeout: Duration,
    ) -> Result<(TxId, TxState), ClientError> {
        match self.request("a submit answer", timeout, |request| {
            ClientMessage::Submit { request, tx }
        })? {
            ServerMessage::Tx { id, state, .. } => Ok((id, state)),
            other => Err(unexpected(&other)),
        }
    }

    /// Where a transaction is now.
    pub fn tx_status(&mut self, id: TxId, timeout: Duration) -> Result<TxState, ClientError> {
        match self.request("a transaction's status", timeout, |request| {
            ClientMessage::TxStatus { request, id }
        })? {
            ServerMessage::Tx { state, .. } => Ok(state),
            other => Err(unexpected(&other)),
        }
    }

    /// Waits for the final state of a transaction this client submitted.
    pub fn wait_final(&mut self, id: TxId, timeout: Duration) -> Result<TxState, ClientError> {
        self.wait_for(
            "a transaction to be final",
            timeout,
            |message| match message {
                ServerMessage::Tx {
                    request: None,
                    id: found,
                    state,
                } if *found == id => Some(state.clone()),
                _ => None,
            },
        )
    }

    /// Submits and waits until final.
    pub fn submit_final(
        &mut self,
        tx: SignedTransaction,
        timeout: Duration,
    ) -> Result<TxState, ClientError> {
        let (id, state) = self.submit(tx, timeout)?;
        match state {
            TxState::Pending => self.wait_final(id, timeout),
            done => Ok(done),
        }
    }

    /// Fetches a blob and checks it against its content id.
    pub fn fetch(&mut self, id: &ContentId, timeout: Duration) -> Result<Vec<u8>, ClientError> {
        let bytes = id.to_bytes();
        match self.request("a blob", timeout, |request| ClientMessage::Fetch {
            request,
            id: bytes,
        })? {
            ServerMessage::Chunk { bytes, .. } if id.matches(&bytes) => Ok(bytes),
            ServerMessage::Chunk { .. } => Err(ProtocolError::new(
                ErrorCode::Malformed,
                format!("the host sent bytes that are not {id}"),
            )
            .into()),
            other => Err(unexpected(&other)),
        }
    }

    /// The account's balance and nonce, and the host's time.
    pub fn account_now(
        &mut self,
        timeout: Duration,
    ) -> Result<(ledger::Account, ledger::Timestamp), ClientError> {
        match self.request("the inventory", timeout, |request| {
            ClientMessage::Inventory { request }
        })? {
            ServerMessage::Inventory { account, now, .. } => Ok((account, now)),
            other => Err(unexpected(&other)),
        }
    }

    /// What renting, buying or returning would cost and pay out now.
    pub fn quote(&mut self, ask: QuoteAsk, timeout: Duration) -> Result<Quote, ClientError> {
        match self.request("a quote", timeout, |request| ClientMessage::Quote {
            request,
            ask,
        })? {
            ServerMessage::Quote { quote, .. } => Ok(quote),
            other => Err(unexpected(&other)),
        }
    }

    /// How long since the host's last datagram arrived (netcode's
    /// keep-alives count, so a quiet host is heard several times a
    /// second: [`HOST_GONE_AFTER`] of silence means it is gone).
    pub fn silent_for(&self) -> Duration {
        self.transport.silent_for()
    }

    /// The host went away (or is given up on): this session ends, and the
    /// client joins another host of the world it was told of (in turn,
    /// until one lets it in), enters the same world (at its spawn point)
    /// and puts on again what it wore, each item checked again by the new
    /// host; the new session.
    pub fn join_another(mut self, timeout: Duration) -> Result<Client, ClientError> {
        self.transport.disconnect();
        let (_, next) = self.state.rejoin().join(timeout)?;
        Ok(next)
    }

    /// Wears `asset` in `slot` (or takes off what is there, `asset`
    /// none) and waits for the host's word: what this player wears now,
    /// as the host checked it against the ledger, or its refusal.
    pub fn wear(
        &mut self,
        slot: Slot,
        asset: Option<AssetId>,
        timeout: Duration,
    ) -> Result<Worn, ClientError> {
        match self.request("wearing", timeout, |request| ClientMessage::Wear {
            request,
            slot,
            asset,
        })? {
            ServerMessage::Appearance { worn, .. } => Ok(worn),
            other => Err(unexpected(&other)),
        }
    }

    /// Signs `op` with this client's key as [`market::transaction`] makes
    /// it (the account's next nonce, or a trade's own; valid for
    /// [`market::VALID_SECS`] from the host's time), submits it and waits until it is final; the transaction's id and
    /// its end (applied, or rejected with the ledger's reason).
    pub fn act(
        &mut self,
        op: ledger::Operation,
        timeout: Duration,
    ) -> Result<(TxId, TxState), ClientError> {
        let (account, now) = self.account_now(timeout)?;
        let chain_id = match &self.state.welcome {
            Some(welcome) => welcome.chain_id.clone(),
            None => {
                return Err(ProtocolError::new(
                    ErrorCode::WrongState,
                    "enter a world before acting",
                )
                .into());
            }
        };
        let signer = self.state.key.address();
        let tx =
            market::transaction(chain_id, signer, account.nonce, op, now).sign(&self.state.key);
        let id = tx.id();
        let state = self.submit_final(tx, timeout)?;
        Ok((id, state))
    }

    /// Uploads a blob (a model, preview or manifest) and waits until the
    /// host has checked and stored it; returns its content id.
    pub fn upload(
        &mut self,
        codec: Codec,
        bytes: &[u8],
        timeout: Duration,
    ) -> Result<ContentId, ClientError> {
        if bytes.is_empty() || bytes.len() as u64 > MAX_UPLOAD_BYTES {
            return Err(ProtocolError::new(
                ErrorCode::TooLarge,
                format!(
                    "{} bytes: a host takes uploads of 1 to {MAX_UPLOAD_BYTES} bytes",
                    bytes.len()
                ),
            )
            .into());
        }
        let id = ContentId::of(codec, bytes);
        let request = self.state.next_request;
        self.state.next_request = self.state.next_request.wrapping_add(1);
        self.renet.send_message(
            CHANNEL_ASSETS,
            protocol::encode(&Upload::Begin {
                request,
                id: id.to_bytes(),
                size: bytes.len() as u64,
            })?,
        );
        let deadline = Instant::now() + timeout;
        let mut offset = 0;
        loop {
            // As much as the channel takes now; the rest after a pump.
            while offset < bytes.len() {
                let end = (offset + CHUNK_BYTES).min(bytes.len());
                let piece = protocol::encode(&Upload::Bytes {
                    request,
                    offset: offset as u64,
                    bytes: bytes[offset..end].to_vec(),
                })?;
                if !self.renet.can_send_message(CHANNEL_ASSETS, piece.len()) {
                    break;
                }
                self.renet.send_message(CHANNEL_ASSETS, piece);
                offset = end;
            }
            self.pump()?;
            let answer = self.state.inbox.iter().position(|message| match message {
                ServerMessage::Stored { request: r, .. } => *r == request,
                ServerMessage::Error { request: r, .. } => *r == Some(request),
                _ => false,
            });
            if let Some(at) = answer {
                return match self.state.inbox.remove(at) {
                    Some(ServerMessage::Stored { id: stored, .. }) if stored == id.to_bytes() => {
                        Ok(id)
                    }
                    Some(ServerMessage::Error { code, message, .. }) => {
                        Err(ProtocolError::new(code, message).into())
                    }
                    other => Err(ProtocolError::new(
                        ErrorCode::Malformed,
                        format!("an upload answered with {other:?}"),
                    )
                    .into()),
                };
            }
            if Instant::now() >= deadline {
                return Err(ClientError::Timeout {
                    what: "an upload to be stored",
                    secs: timeout.as_secs(),
                });
            }
            std::thread::sleep(POLL);
        }
    }

    /// Invites `player` to trade and returns the new window.
    pub fn trade_invite(
        &mut self,
        player: u16,
        timeout: Duration,
    ) -> Result<TradeView, ClientError> {
        let id = self.ask(|request| ClientMessage::TradeInvite { request, player });
        self.trade_answer(id, timeout)
    }

    /// Acts in a trade window and returns the window as it is after.
    pub fn trade_act(
        &mut self,
        trade: u64,
        action: market::trade::Action,
        timeout: Duration,
    ) -> Result<TradeView, ClientError> {
        let id = self.ask(|request| ClientMessage::TradeAct {
            request,
            trade,
            action,
        });
        self.trade_answer(id, timeout)
    }

    fn trade_answer(&mut self, id: u32, timeout: Duration) -> Result<TradeView, ClientError> {
        let answer = self.wait_for("a trade window", timeout, |message| match message {
            ServerMessage::Trade {
                request: Some(request),
                view,
            } if *request == id => Some(Ok(view.clone())),
            ServerMessage::Error {
                request: Some(request),
                code,
                message,
            } if *request == id => Some(Err(ProtocolError::new(*code, message.clone()))),
            _ => None,
        })?;
        Ok(*answer?)
    }

    /// Waits for an update of a trade window that `wanted` accepts.
    pub fn wait_trade(
        &mut self,
        timeout: Duration,
        wanted: impl Fn(&TradeView) -> bool,
    ) -> Result<TradeView, ClientError> {
        self.wait_for("a trade window", timeout, |message| match message {
            ServerMessage::Trade { view, .. } if wanted(view) => Some((**view).clone()),
            _ => None,
        })
    }

    /// Leaves: tells the host and closes the session.
    pub fn disconnect(&mut self) {
        self.transport.disconnect();
    }
}

/// A client is its session's state too: its key, welcome, avatars in view,
/// answers waiting and requests held.
impl std::ops::Deref for Client {
    type Target = SessionState;

    fn deref(&self) -> &SessionState {
        &self.state
    }
}

impl std::ops::DerefMut for Client {
    fn deref_mut(&mut self) -> &mut SessionState {
        &mut self.state
    }
}

fn unexpected(message: &ServerMessage) -> ClientError {
    let name = match message {
        ServerMessage::Welcome { .. } => "welcome",
        ServerMessage::Page { .. } => "page",
        ServerMessage::Inventory { .. } => "inventory",
        ServerMessage::Tx { .. } => "tx",
        ServerMessage::Chunk { .. } => "chunk",
        _ => "other",
    };
    ProtocolError::new(ErrorCode::Malformed, format!("an unexpected {name} answer")).into()
}
