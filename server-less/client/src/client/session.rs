//! A session's own state, apart from any transport: what a game loop
//! keeps as data and works on each frame through a [`Session`] view.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ledger::{Address, ChainId, Keypair};
use renet::RenetClient;
use tracing::warn;

use crate::error::ClientError;
use crate::protocol::{
    self, AvatarState, Avatars, CHANNEL_ASSETS, CHANNEL_AVATAR, CHANNEL_RELIABLE, ClientMessage,
    ErrorCode, MAX_HOSTS_TOLD, MAX_WORLD_NAME_BYTES, MAX_WORLDS_TOLD, MAX_WORN, Move,
    ServerMessage, WorldEntry, Worn,
};

use super::{ANSWER_WAIT, INBOX, Welcome};
use crate::join::{PASS_RENEW, Pass};
use crate::land::{MAX_PLACED, PlacedItem};
use crate::time::unix_time;

/// What a session remembers between packets: the welcome, requests in
/// flight and held back, answers not yet taken, the avatars in view. It
/// is plain data (a Bevy resource in the world client); [`Session`] works
/// on it together with the renet connection.
#[derive(Debug)]
pub struct SessionState {
    pub(super) key: Keypair,
    pub(super) next_request: u32,
    pub(super) move_seq: u32,
    pub(super) welcome: Option<Welcome>,
    pub(super) inbox: VecDeque<ServerMessage>,
    pub(super) avatars: HashMap<u16, (AvatarState, Instant)>,
    /// What each player in the world wears (this one too), as the host
    /// last said.
    pub(super) appearances: HashMap<u16, Worn>,
    /// What stands on each parcel of the world, by parcel, as the host
    /// last said.
    pub(super) placed: HashMap<u16, Vec<PlacedItem>>,
    /// The world's players (this one too), by player, with their accounts.
    pub(super) players: HashMap<u16, Address>,
    /// The worlds the network knows, as the host last told.
    pub(super) worlds: Vec<WorldEntry>,
    /// The world's other hosts, where to go on if this one goes away.
    pub(super) other_hosts: Vec<SocketAddr>,
    /// The avatar's state last sent.
    pub(super) last_move: Option<AvatarState>,
    /// A hello sent and not yet answered: moves wait, since the host puts
    /// the avatar where it enters when it answers.
    pub(super) entering: bool,
    pub(super) downloads: HashMap<u32, Vec<u8>>,
    pub(super) received_bytes: u64,
    /// Requests sent and not yet answered, and when each was sent.
    pub(super) waiting: HashMap<u32, Instant>,
    /// Requests held back until answers make room.
    pub(super) held: VecDeque<ClientMessage>,
    /// Tokens for sending requests (refilled at
    /// [`protocol::CLIENT_REQUESTS_PER_SEC`]), and when last refilled.
    pub(super) tokens: (f32, Instant),
    /// The host joined (whose key this player's passes name), and when
    /// the pass was last signed.
    pub(super) pass: Option<(Address, Instant)>,
}

impl SessionState {
    /// A session for `key`'s account, before anything was said.
    pub fn new(key: &Keypair) -> Self {
        SessionState {
            key: key.clone(),
            next_request: 1,
            move_seq: 0,
            welcome: None,
            inbox: VecDeque::new(),
            avatars: HashMap::new(),
            appearances: HashMap::new(),
            placed: HashMap::new(),
            players: HashMap::new(),
            worlds: Vec::new(),
            other_hosts: Vec::new(),
            last_move: None,
            entering: false,
            downloads: HashMap::new(),
            received_bytes: 0,
            waiting: HashMap::new(),
            held: VecDeque::new(),
            tokens: (2.0 * protocol::CLIENT_REQUESTS_PER_SEC, Instant::now()),
            pass: None,
        }
    }

    /// The session is with `host`, whose join took this player's pass
    /// just now: it is signed again every [`PASS_RENEW`] from here.
    pub fn joined(&mut self, host: Address) {
        self.pass = Some((host, Instant::now()));
    }

    /// The pass to send the host `now`, if it is time to sign it again:
    /// in a world, [`PASS_RENEW`] after the last.
    pub(super) fn pass_due(&mut self, now: Instant) -> Option<Pass> {
        let (host, signed) = self.pass.as_mut()?;
        let welcome = self.welcome.as_ref()?;
        if now.saturating_duration_since(*signed) < PASS_RENEW {
            return None;
        }
        *signed = now;
        let since = u64::try_from(unix_time().as_millis()).unwrap_or(u64::MAX);
        Some(Pass::sign(&self.key, &welcome.chain_id, host, since))
    }

    /// The session's key.
    pub fn key(&self) -> &Keypair {
        &self.key
    }

    /// What the host said on entering the world, once entered.
    pub fn welcome(&self) -> Option<&Welcome> {
        self.welcome.as_ref()
    }

    /// The avatars in view, by player, with when each was last heard of.
    pub fn avatars(&self) -> &HashMap<u16, (AvatarState, Instant)> {
        &self.avatars
    }

    /// What each player in the world wears (this one too), by player, as
    /// the host checked it against the ledger.
    pub fn appearances(&self) -> &HashMap<u16, Worn> {
        &self.appearances
    }

    /// What stands on each parcel of the world (by its index), as the
    /// host checked it against the ledger.
    pub fn placed(&self) -> &HashMap<u16, Vec<PlacedItem>> {
        &self.placed
    }

    /// The world's players as the host last told (this one too, and those
    /// of the world's other hosts), by player, with their accounts.
    pub fn players(&self) -> &HashMap<u16, Address> {
        &self.players
    }

    /// The player `account` is in this world, if it is in it.
    pub fn player_of(&self, account: &Address) -> Option<u16> {
        self.players
            .iter()
            .find_map(|(player, of)| (of == account).then_some(*player))
    }

    /// The worlds the network knows and how many players are in each, as
    /// the host last told (its own first).
    pub fn worlds(&self) -> &[WorldEntry] {
        &self.worlds
    }

    /// What going to `world`, served by other hosts and not this one,
    /// takes (see [`Rejoin::join`](super::Rejoin::join)): none if the
    /// host named no host of it.
    pub fn elsewhere(&self, world: &str) -> Option<super::Rejoin> {
        let entry = self
            .worlds
            .iter()
            .find(|entry| entry.name == world && !entry.here)?;
        let hosts: Vec<SocketAddr> = entry
            .joins
            .iter()
            .filter_map(|join| join.parse().ok())
            .collect();
        if hosts.is_empty() {
            return None;
        }
        let mut rejoin = self.rejoin();
        rejoin.hosts = hosts;
        rejoin.world = world.to_owned();
        Some(rejoin)
    }

    /// What joining another host of this world takes (see
    /// [`Rejoin::join`](super::Rejoin::join)).
    pub fn rejoin(&self) -> super::Rejoin {
        let worn = self
            .welcome
            .as_ref()
            .and_then(|welcome| self.appearances.get(&welcome.player))
            .cloned()
            .unwrap_or_default();
        super::Rejoin {
            hosts: self.other_hosts.clone(),
            key: self.key.clone(),
            world: self
                .welcome
                .as_ref()
                .map(|welcome| welcome.world.name.clone())
                .unwrap_or_default(),
            worn,
        }
    }

    /// The world's other hosts the host told of (where to go on if it
    /// goes away).
    pub fn other_hosts(&self) -> &[SocketAddr] {
        &self.other_hosts
    }

    /// Bytes of messages received so far.
    pub fn received_bytes(&self) -> u64 {
        self.received_bytes
    }

    /// Takes the messages that arrived and were not taken by a request.
    pub fn drain(&mut self) -> Vec<ServerMessage> {
        self.inbox.drain(..).collect()
    }

    /// Requests held back, not yet sent.
    pub fn held_requests(&self) -> usize {
        self.held.len()
    }

    pub(super) fn arrived(&mut self, message: ServerMessage) {
        match message {
            ServerMessage::Chunk {
                request,
                offset,
                size,
                bytes,
            } => {
                let buffer = self.downloads.entry(request).or_default();
                if offset != buffer.len() as u64 || offset + bytes.len() as u64 > size {
                    self.downloads.remove(&request);
                    self.keep(ServerMessage::Error {
                        request: Some(request),
                        code: ErrorCode::Malformed,
                        message: format!("a chunk at {offset} out of order"),
                    });
                    return;
                }
                buffer.extend_from_slice(&bytes);
                if buffer.len() as u64 == size {
                    let whole = self.downloads.remove(&request).unwrap_or_default();
                    self.keep(ServerMessage::Chunk {
                        request,
                        offset: 0,
                        size,
                        bytes: whole,
                    });
                }
            }
            ServerMessage::Welcome {
                player,
                ref chain_id,
                height,
                time,
                ref world,
                at,
                ref worlds,
                ref players,
                ..
            } => {
                self.entering = false;
                // A place off the world (or not a number) is the spawn
                // point.
                let on_world = at.iter().all(|v| v.is_finite())
                    && at[0].abs() <= world.half_size
                    && at[2].abs() <= world.half_size;
                let at = if on_world { at } else { world.spawn };
                // A new world: its own hosts and spawn point.
                self.other_hosts.clear();
                self.last_move = None;
                match ChainId::new(chain_id.clone()) {
                    Ok(chain_id) => {
                        self.avatars.clear();
                        self.placed.clear();
                        self.appearances = players
                            .iter()
                            .map(|info| (info.player, bounded(&info.worn)))
                            .collect();
                        self.players = players
                            .iter()
                            .map(|info| (info.player, info.account))
                            .collect();
                        self.welcome = Some(Welcome {
                            player,
                            chain_id,
                            height,
                            time,
                            world: world.clone().sanitized(),
                            at,
                            worlds: worlds.clone(),
                            players: players.clone(),
                        });
                    }
                    Err(err) => warn!(%err, "a welcome with a malformed chain id"),
                }
                self.keep(message);
            }
            ServerMessage::PlayerLeft { player } => {
                self.avatars.remove(&player);
                self.appearances.remove(&player);
                self.players.remove(&player);
                self.keep(ServerMessage::PlayerLeft { player });
            }
            ServerMessage::PlayerJoined(ref info) => {
                self.appearances.insert(info.player, bounded(&info.worn));
                self.players.insert(info.player, info.account);
                self.keep(message);
            }
            // A hello refused: moves go again.
            ServerMessage::Error { request: None, .. } => {
                self.entering = false;
                self.keep(message);
            }
            ServerMessage::Hosts { ref joins } => {
                self.other_hosts = joins
                    .iter()
                    .filter_map(|join| join.parse().ok())
                    .take(MAX_HOSTS_TOLD)
                    .collect();
                self.keep(message);
            }
            ServerMessage::Worlds { ref worlds } => {
                self.worlds = worlds
                    .iter()
                    .filter(|entry| entry.name.len() <= MAX_WORLD_NAME_BYTES)
                    .take(MAX_WORLDS_TOLD)
                    .map(|entry| WorldEntry {
                        name: entry.name.clone(),
                        players: entry.players,
                        here: entry.here,
                        joins: entry.joins.iter().take(MAX_HOSTS_TOLD).cloned().collect(),
                    })
                    .collect();
                self.keep(message);
            }
            ServerMessage::Appearance {
                player, ref worn, ..
            } => {
                self.appearances.insert(player, bounded(worn));
                self.keep(message);
            }
            // The world's parcels as the host says they are now.
            ServerMessage::Parcel {
                parcel,
                deed,
                holder,
                tenure,
            } => {
                if let Some(slot) = self
                    .welcome
                    .as_mut()
                    .and_then(|welcome| welcome.world.parcels.get_mut(usize::from(parcel)))
                {
                    if (slot.deed, slot.holder, slot.tenure) != (deed, holder, tenure) {
                        self.placed.remove(&parcel);
                    }
                    slot.deed = deed;
                    slot.holder = holder;
                    slot.tenure = tenure;
                }
                self.keep(message);
            }
            ServerMessage::Arranged {
                parcel, ref placed, ..
            } => {
                let parcels = self
                    .welcome
                    .as_ref()
                    .map_or(0, |welcome| welcome.world.parcels.len());
                if usize::from(parcel) < parcels {
                    if placed.is_empty() {
                        self.placed.remove(&parcel);
                    } else {
                        let placed = placed.iter().take(MAX_PLACED).copied().collect();
                        self.placed.insert(parcel, placed);
                    }
                }
                self.keep(message);
            }
            other => self.keep(other),
        }
    }

    pub(super) fn keep(&mut self, message: ServerMessage) {
        if let Some(request) = message.request() {
            self.waiting.remove(&request);
        }
        if self.inbox.len() >= INBOX {
            self.inbox.pop_front();
        }
        self.inbox.push_back(message);
    }

    /// Gives up on requests the host has not answered in
    /// [`ANSWER_WAIT`]: each gets an error answer in the inbox, and its
    /// place goes to a held one.
    pub(super) fn give_up_on_silence(&mut self) {
        let silent: Vec<u32> = self
            .waiting
            .iter()
            .filter(|(_, sent)| sent.elapsed() >= ANSWER_WAIT)
            .map(|(id, _)| *id)
            .collect();
        for request in silent {
            warn!(request, "no answer from the host: given up");
            self.keep(ServerMessage::Error {
                request: Some(request),
                code: ErrorCode::Unavailable,
                message: format!("the host did not answer in {} s", ANSWER_WAIT.as_secs()),
            });
        }
    }
}

/// A session as one step of a loop sees it: the renet connection (which
/// its transport feeds) and what the session remembers.
pub struct Session<'a> {
    /// The renet connection.
    pub renet: &'a mut RenetClient,
    /// What the session remembers.
    pub state: &'a mut SessionState,
}

impl Session<'_> {
    /// Takes what renet received: avatar updates, answers and events
    /// (decoded and checked), gives up on requests the host left
    /// unanswered, and sends held requests that now fit. An error means
    /// the session has ended.
    pub fn receive(&mut self) -> Result<(), ClientError> {
        let now = Instant::now();
        if let Some(reason) = self.renet.disconnect_reason() {
            return Err(ClientError::Disconnected(reason.to_string()));
        }
        while let Some(bytes) = self.renet.receive_message(CHANNEL_AVATAR) {
            self.state.received_bytes += bytes.len() as u64;
            match Avatars::decode(&bytes) {
                Ok(update) => {
                    for (player, state) in update.avatars {
                        self.state.avatars.insert(player, (state, now));
                    }
                }
                Err(err) => warn!(%err, "a malformed avatar update from the host"),
            }
        }
        for channel in [CHANNEL_RELIABLE, CHANNEL_ASSETS] {
            while let Some(bytes) = self.renet.receive_message(channel) {
                self.state.received_bytes += bytes.len() as u64;
                match ServerMessage::decode(&bytes) {
                    Ok(message) => self.state.arrived(message),
                    Err(err) => warn!(%err, "a malformed message from the host"),
                }
            }
        }
        self.state.give_up_on_silence();
        if let Some(pass) = self.state.pass_due(now) {
            self.send(&ClientMessage::Pass { pass })?;
        }
        self.send_held();
        // Avatars not heard of for two keyframes have left the view.
        self.state
            .avatars
            .retain(|_, (_, heard)| now.duration_since(*heard) < Duration::from_secs(2));
        Ok(())
    }

    /// Whether the session is up.
    pub fn is_connected(&self) -> bool {
        self.renet.is_connected()
    }

    /// Sends a message on the reliable channel; refused if it cannot be
    /// encoded.
    pub fn send(&mut self, message: &ClientMessage) -> Result<(), ClientError> {
        let bytes = protocol::encode(message)?;
        self.renet.send_message(CHANNEL_RELIABLE, bytes);
        if matches!(message, ClientMessage::Hello { .. }) {
            self.state.entering = true;
        }
        Ok(())
    }

    /// Sends raw bytes on a channel (for tests of the host's defences).
    pub fn send_raw(&mut self, channel: u8, bytes: Vec<u8>) {
        self.renet.send_message(channel, bytes);
    }

    /// Sends the avatar's state (unreliable channel); not while a hello
    /// waits for its answer: the host puts the avatar where it enters
    /// ([`Welcome::at`]) when it answers, and a move from before would be
    /// judged from there.
    pub fn send_move(&mut self, state: AvatarState) -> Result<(), ClientError> {
        if self.state.entering {
            return Ok(());
        }
        self.state.move_seq = self.state.move_seq.wrapping_add(1);
        self.state.last_move = Some(state);
        let update = Move {
            seq: self.state.move_seq,
            state,
        };
        let bytes = protocol::encode(&update)?;
        self.renet.send_message(CHANNEL_AVATAR, bytes);
        Ok(())
    }

    /// Sends the request `build` makes with a fresh request id, without
    /// waiting: the answer, which repeats the id, arrives in the inbox.
    ///
    /// The client keeps within the host's limits by itself: at most
    /// [`protocol::CLIENT_REQUESTS_WAITING`] requests wait for answers and
    /// at most [`protocol::CLIENT_REQUESTS_PER_SEC`] go out a second; the
    /// rest are held, in order, and sent by [`Session::receive`] as answers
    /// come. Callers bound how much they ask.
    pub fn ask(&mut self, build: impl FnOnce(u32) -> ClientMessage) -> u32 {
        let id = self.state.next_request;
        self.state.next_request = self.state.next_request.wrapping_add(1);
        self.state.held.push_back(build(id));
        self.send_held();
        id
    }

    pub(super) fn send_held(&mut self) {
        let (tokens, at) = &mut self.state.tokens;
        let rate = protocol::CLIENT_REQUESTS_PER_SEC;
        *tokens = (*tokens + at.elapsed().as_secs_f32() * rate).min(2.0 * rate);
        *at = Instant::now();
        while self.state.waiting.len() < protocol::CLIENT_REQUESTS_WAITING
            && self.state.tokens.0 >= 1.0
        {
            let Some(message) = self.state.held.pop_front() else {
                break;
            };
            self.state.tokens.0 -= 1.0;
            // A request that cannot be encoded is answered here, as the
            // host would refuse it, so that nobody waits for it.
            if let Err(err) = self.send(&message) {
                self.state.inbox.push_back(ServerMessage::Error {
                    request: message.request(),
                    code: ErrorCode::TooLarge,
                    message: err.to_string(),
                });
                continue;
            }
            if let Some(id) = message.request() {
                self.state.waiting.insert(id, Instant::now());
            }
        }
    }
}

/// A session view is its state too: its key, welcome, avatars in view,
/// answers waiting and requests held.
impl std::ops::Deref for Session<'_> {
    type Target = SessionState;

    fn deref(&self) -> &SessionState {
        self.state
    }
}

impl std::ops::DerefMut for Session<'_> {
    fn deref_mut(&mut self) -> &mut SessionState {
        self.state
    }
}

/// What an avatar wears as a host said it, cut to [`MAX_WORN`] things.
fn bounded(worn: &Worn) -> Worn {
    worn.iter().take(MAX_WORN).copied().collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::protocol::WorldInfo;

    fn welcomed(key: &Keypair) -> SessionState {
        let mut state = SessionState::new(key);
        state.arrived(ServerMessage::Welcome {
            version: protocol::VERSION,
            player: 1,
            account: key.address(),
            chain_id: "plaza-test".into(),
            height: 1,
            time: 0,
            world: WorldInfo {
                name: "Plaza Square".into(),
                half_size: 40.0,
                spawn: [0.0, 0.0, 0.0],
                stalls: Vec::new(),
                parcels: Vec::new(),
                paths: Vec::new(),
                props: Vec::new(),
            },
            at: [1.0, 0.0, 1.0],
            worlds: vec!["Plaza Square".into()],
            players: Vec::new(),
        });
        state
    }

    #[test]
    fn a_player_in_a_world_signs_its_pass_again_every_minute_for_its_host() {
        let key = Keypair::from_seed([3; 32]);
        let host = Keypair::from_seed([1; 32]).address();
        // Not joined through the join endpoint: no pass to renew.
        let mut state = welcomed(&key);
        let later = Instant::now() + PASS_RENEW * 2;
        assert_eq!(state.pass_due(later), None);
        // Joined: not before a minute is up, then once.
        state.joined(host);
        assert_eq!(state.pass_due(Instant::now()), None);
        let pass = state.pass_due(later).unwrap();
        let chain = ChainId::new("plaza-test").unwrap();
        assert!(pass.is_for(&chain, &host, &key.address()));
        assert_eq!(state.pass_due(later), None);
        assert!(state.pass_due(later + PASS_RENEW).is_some());
        // Not in a world yet: nothing to renew.
        let mut fresh = SessionState::new(&key);
        fresh.joined(host);
        assert_eq!(fresh.pass_due(later), None);
    }
}
