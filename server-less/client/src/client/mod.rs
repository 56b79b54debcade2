//! A world client without a screen: joins a host, enters a world, moves,
//! browses, submits transactions, fetches assets and trades. The world
//! client uses it under its scene; the bot, the terminal commands, the
//! tests and the load benchmark use it directly.
//!
//! It is synchronous: [`Client::pump`] exchanges packets and must be
//! called often (every tick); the request helpers pump while they wait.

mod requests;
mod session;

pub use self::session::{Session, SessionState};

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use ledger::{ChainId, Keypair};
use renet::RenetClient;
use renet_netcode::ClientAuthentication;

use crate::error::ClientError;
use crate::protocol::{
    self, AvatarState, ClientMessage, ErrorCode, PlayerInfo, ProtocolError, ServerMessage, VERSION,
    WorldInfo,
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
    /// world (where that host last saw it at the old host, or at its spawn
    /// point: [`Welcome::at`]) and puts on again what it wore
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
    /// Where the player is: the spawn point, or where another host of the
    /// world last showed it.
    pub at: [f32; 3],
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
        let joined = crate::join::join_host(join, key, None)?;
        let host = joined.host;
        let token = joined.token;
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
            state: {
                let mut state = SessionState::new(key);
                state.joined(host);
                state
            },
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
            // What came before the end (the host's reason, say) is kept.
            let _ = self.session().receive();
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

    /// How long since the host's last datagram arrived (netcode's
    /// keep-alives count, so a quiet host is heard several times a
    /// second: [`HOST_GONE_AFTER`] of silence means it is gone).
    pub fn silent_for(&self) -> Duration {
        self.transport.silent_for()
    }

    /// The host went away (or is given up on): this session ends, and the
    /// client joins another host of the world it was told of (in turn,
    /// until one lets it in), enters the same world (where the new host
    /// last saw it, or at its spawn point) and puts on again what it wore,
    /// each item checked again by the new host; the new session.
    pub fn join_another(mut self, timeout: Duration) -> Result<Client, ClientError> {
        self.transport.disconnect();
        let (_, next) = self.state.rejoin().join(timeout)?;
        Ok(next)
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
