//! Players of other hosts of the same world: this host publishes where
//! its players are (`crate::presence`), and shows its players those of
//! the other hosts, as it does its own (numbers, joins and leaves, avatar
//! updates, what they wear). It believes no host: a relayed avatar that
//! moves faster than the world allows is cut short where the time since
//! allows, one off the world is dropped, each thing it wears is checked
//! against this host's ledger before anyone sees it, and a host that
//! keeps sending what fails those checks is ignored for a while.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ledger::Address;
use renet::ClientId;
use tokio::sync::mpsc;
use tracing::debug;

use super::server::Server;
use crate::calls::{InCall, OutCall};
use crate::link::WorldLink;
use crate::presence::{Presence, Present, SignedPresence};
use crate::rate::Bucket;
use crate::room::make_room;
use plaza_client::protocol::{
    AvatarState, MAX_HOSTS_TOLD, ServerMessage, SessionState, TICK_HZ, Worn,
};

mod remotes;
mod world_list;

/// A player of another host: that host and its number there.
pub(super) type RemoteKey = (Address, u16);

/// Presence is published every this many ticks (ten times a second).
const PUBLISH_TICKS: u32 = 2;
/// A player of another host not heard of for this long has left.
pub(super) const REMOTE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a player of another host that left is remembered where it
/// was: one whose host went away and that joins here within it goes on
/// from there, not from the spawn point.
pub(super) const LAST_SEEN_FOR: Duration = Duration::from_secs(30);
/// Accounts whose newest pass a host remembers, at most.
const MAX_PASSES: usize = 16_384;
/// Presence messages read from the peer network in one tick, at most.
const PRESENCE_PER_TICK: usize = 64;
/// Presence messages one host may send a second (each world, each part),
/// and at once.
const HOST_RATE: f32 = 100.0;
const HOST_BURST: f32 = 200.0;
/// New players one host may show here a second, and at once.
const HOST_JOINS: f32 = 20.0;
const HOST_JOIN_BURST: f32 = 64.0;
/// Players of one other host one world shows, at most.
const MAX_REMOTES_PER_HOST: usize = 256;
/// A presence message sent further than this from this host's time
/// (either way), milliseconds, is dropped.
const MAX_AGE_MS: u64 = 10_000;
/// Checks of other hosts' players' worn items in flight, at most; a claim
/// left unchecked is checked when its host says it again.
pub(super) const MAX_REMOTE_CHECKS: usize = 256;
/// Worlds of one other host whose players are counted, at most.
const MAX_WORLDS_PER_HOST: usize = 32;
/// A host not heard from for this long no longer counts towards the
/// world list, nor is named as a world's host.
const HOST_HEARD_LATELY: Duration = Duration::from_secs(5);

/// Other hosts this host keeps a record of, at most.
const MAX_HOSTS: usize = 256;
/// Players of other hosts one world shows, at most.
const MAX_REMOTES_PER_WORLD: usize = 1_024;
/// Checks a host may fail (each forgotten after a second) before it is
/// ignored, and for how long.
const HOST_STRIKES: f32 = 20.0;
const IGNORED_FOR: Duration = Duration::from_secs(60);

/// A player of another host, as this host shows it.
pub(super) struct Remote {
    /// Its number in this host's world.
    pub(super) player: u16,
    /// Its account.
    pub(super) account: Address,
    /// Where it is, after this host's checks.
    pub(super) state: AvatarState,
    /// Whether it moved since the last avatar update.
    pub(super) changed: bool,
    /// When its host last told of it.
    pub(super) heard: Instant,
    /// When its host sent that, by its clock (unix milliseconds).
    sent_at: u64,
    /// The date of the newest pass its host showed for it: when two hosts
    /// speak for one account, the one with the newer pass is shown.
    since: u64,
    /// What its host says it wears and is not known to be refused.
    pub(super) claimed: Worn,
    /// What of that this host's ledger agrees it holds: what is shown.
    pub(super) worn: Worn,
    /// Chat lines it may still say, and when last refilled.
    chatted: (Bucket, Instant),
}

impl Remote {
    /// Takes one line from what it may say (a line a second, five at
    /// once, chat and lines to one player alike), if any is left.
    pub(super) fn may_say(&mut self) -> bool {
        let since = self.chatted.1.elapsed().as_secs_f32();
        self.chatted.1 = Instant::now();
        self.chatted.0.refill(since);
        self.chatted.0.take()
    }
}

/// What this host knows of another.
pub(super) struct HostRecord {
    /// The last message number taken, per world.
    seqs: HashMap<String, u64>,
    /// Messages it may still send.
    rate: Bucket,
    /// New players it may still show here.
    joins: Bucket,
    /// When it was last heard from.
    heard: Instant,
    /// Where its players join it, as it last said.
    join: Option<std::net::SocketAddr>,
    /// How many players it has in each world it told of (at most
    /// [`MAX_WORLDS_PER_HOST`]).
    worlds: HashMap<String, u16>,
    /// Checks it failed lately.
    strikes: f32,
    /// Ignored until then.
    ignored_until: Option<Instant>,
}

/// The session server's end of the peer network.
#[derive(Clone)]
pub(super) struct LinkIo {
    /// Where this host's presence goes to be published.
    pub(super) outgoing: mpsc::Sender<SignedPresence>,
    /// Other hosts' presence, checked by the peer network. Shared, so a
    /// server made again after a panic reads on.
    pub(super) incoming: Arc<Mutex<mpsc::Receiver<Presence>>>,
    /// Calls to other hosts.
    pub(super) calls: mpsc::Sender<OutCall>,
    /// Calls from other hosts, shared the same way.
    pub(super) called: Arc<Mutex<mpsc::Receiver<InCall>>>,
}

impl From<WorldLink> for LinkIo {
    fn from(link: WorldLink) -> Self {
        LinkIo {
            outgoing: link.outgoing,
            incoming: Arc::new(Mutex::new(link.incoming)),
            calls: link.calls,
            called: Arc::new(Mutex::new(link.called)),
        }
    }
}

impl Server {
    /// Publishes where this host's players are, world by world: those
    /// that moved or changed what they wear, all of them once a second,
    /// and those that left.
    pub(super) fn publish_presence(&mut self) {
        if !self.tick.is_multiple_of(PUBLISH_TICKS) {
            return;
        }
        let Some(io) = &self.link else {
            return;
        };
        let keyframe = self.tick.is_multiple_of(TICK_HZ);
        let host = self.identity.address();
        for world in &mut self.worlds {
            let mut players = Vec::new();
            let clients: Vec<ClientId> = world.clients().collect();
            let count = u16::try_from(clients.len()).unwrap_or(u16::MAX);
            for client in clients {
                let Some(session) = self.sessions.get(&client) else {
                    continue;
                };
                let (Some(state), SessionState::InWorld) = (session.avatar, session.state) else {
                    continue;
                };
                let now = (state, session.worn.clone());
                let before = world.published.get(&session.player);
                if keyframe || before != Some(&now) {
                    // Its pass goes with a player others may not show yet.
                    let pass = (keyframe || before.is_none()).then_some(session.pass);
                    players.push(Present {
                        id: session.player,
                        account: session.account,
                        pass,
                        state,
                        worn: session.worn.clone(),
                    });
                    world.published.insert(session.player, now);
                }
            }
            let left = std::mem::take(&mut world.left);
            let said = std::mem::take(&mut world.said);
            let arranged = world.arrangements_to_announce(keyframe);
            // A host others may send their players to says so once a
            // second for each world it serves, players or not.
            let heartbeat = keyframe && self.advertised.is_some();
            if players.is_empty()
                && left.is_empty()
                && said.is_empty()
                && arranged.is_empty()
                && !heartbeat
            {
                continue;
            }
            let template = Presence {
                chain_id: self.chain_id.as_str().to_owned(),
                host,
                join: self.advertised.map(|join| join.to_string()),
                world: world.world.info.name.clone(),
                count,
                seq: 0,
                sent_at: crate::presence::unix_millis(),
                players: Vec::new(),
                left,
                said,
                arranged,
            };
            for mut presence in crate::presence::split(template, players) {
                world.seq += 1;
                presence.seq = world.seq;
                if io
                    .outgoing
                    .try_send(SignedPresence::sign(presence, &self.identity))
                    .is_err()
                {
                    debug!("presence to publish is backed up: dropped");
                }
            }
        }
    }

    /// Takes in what other hosts said of their players.
    pub(super) fn drain_presence(&mut self) {
        let Some(io) = &self.link else {
            return;
        };
        let mut arrived = Vec::new();
        {
            let mut incoming = io.incoming.lock().unwrap_or_else(|p| p.into_inner());
            while arrived.len() < PRESENCE_PER_TICK {
                match incoming.try_recv() {
                    Ok(presence) => arrived.push(presence),
                    Err(_) => break,
                }
            }
        }
        for presence in arrived {
            self.presence_arrived(presence);
        }
    }

    /// One host's word on its players in one world: taken if the host is
    /// not ignored, within its rate and newer than the last.
    pub(super) fn presence_arrived(&mut self, presence: Presence) {
        let host = presence.host;
        if host == self.identity.address() {
            return;
        }
        let now = Instant::now();
        if !self.hosts.contains_key(&host) {
            // Forget the longest silent before taking a new one.
            make_room(&mut self.hosts, MAX_HOSTS, |record| record.heard);
        }
        let record = self.hosts.entry(host).or_insert_with(|| HostRecord {
            seqs: HashMap::new(),
            rate: Bucket::new(HOST_RATE, HOST_BURST),
            joins: Bucket::new(HOST_JOINS, HOST_JOIN_BURST),
            heard: now,
            join: None,
            worlds: HashMap::new(),
            strikes: 0.0,
            ignored_until: None,
        });
        let since = now.saturating_duration_since(record.heard).as_secs_f32();
        record.heard = now;
        record.rate.refill(since);
        record.joins.refill(since);
        record.strikes = (record.strikes - since).max(0.0);
        if let Some(until) = record.ignored_until {
            if now < until {
                return;
            }
            record.ignored_until = None;
        }
        if !record.rate.take() {
            return;
        }
        let clock = crate::presence::unix_millis();
        if presence.sent_at.abs_diff(clock) > MAX_AGE_MS {
            // Old (a replay, or held up for seconds), or from a clock far
            // off: either way not where the players are now.
            return;
        }
        // Counted for the world list, this host's worlds or not.
        if record.worlds.len() < MAX_WORLDS_PER_HOST || record.worlds.contains_key(&presence.world)
        {
            record.worlds.insert(presence.world.clone(), presence.count);
        }
        record.join = presence.join.as_deref().and_then(|join| join.parse().ok());
        let Some(world) = self
            .worlds
            .iter()
            .position(|world| world.world.info.name == presence.world)
        else {
            return;
        };
        let last = record.seqs.get(&presence.world).copied().unwrap_or(0);
        if presence.seq <= last {
            return;
        }
        // One entry a world this host serves, at most.
        record.seqs.insert(presence.world.clone(), presence.seq);
        for id in presence.left {
            self.remote_left(world, (host, id));
        }
        for present in presence.players {
            self.remote_moved(world, host, present, presence.sent_at, now);
        }
        for said in presence.said {
            self.remote_said(world, (host, said.id), said.text);
        }
        for arrangement in presence.arranged {
            self.arrangement_heard(world, arrangement);
        }
    }

    /// The join addresses of the other hosts serving `world` that were
    /// heard from lately, at most [`MAX_HOSTS_TOLD`].
    pub(super) fn hosts_of(&self, world: usize) -> Vec<String> {
        let Some(name) = self.worlds.get(world).map(|state| &state.world.info.name) else {
            return Vec::new();
        };
        let mut joins: Vec<(Instant, String)> = self
            .hosts
            .values()
            .filter(|record| record.seqs.contains_key(name) && record.ignored_until.is_none())
            .filter(|record| record.heard.elapsed() < REMOTE_TIMEOUT * 10)
            .filter_map(|record| Some((record.heard, record.join?.to_string())))
            .collect();
        joins.sort_by_key(|(heard, _)| std::cmp::Reverse(*heard));
        joins
            .into_iter()
            .map(|(_, join)| join)
            .take(MAX_HOSTS_TOLD)
            .collect()
    }

    /// Tells this host's players in each world where its other hosts
    /// are, when that changed (called once a second: a host that keeps
    /// changing its address cannot flood the players).
    pub(super) fn tell_hosts(&mut self) {
        for world in 0..self.worlds.len() {
            let joins = self.hosts_of(world);
            if self.worlds[world].hosts_told == joins {
                continue;
            }
            self.worlds[world].hosts_told = joins.clone();
            let message = ServerMessage::Hosts { joins };
            let clients: Vec<ClientId> = self.worlds[world].clients().collect();
            for client in clients {
                self.send(client, &message);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sessions::avatars::distance;
    use crate::sessions::fixture::{Fixture, SQUARE, present};
    use ledger::Keypair;
    use plaza_client::protocol::{CHANNEL_AVATAR, Gait, Move};

    pub(super) fn other_host() -> Keypair {
        Keypair::from_seed([9; 32])
    }

    #[test]
    fn what_players_say_is_heard_across_hosts_a_line_a_second_each() {
        let (mut fixture, ada, host, bo, player) = bo_visits(3, [1.0, 0.0, 1.0]);
        let ada_player = fixture.server.sessions[&ada].player;
        // Eight lines at once: the first five are heard.
        let presence = Presence {
            chain_id: fixture.chain_id.as_str().to_owned(),
            host: host.address(),
            join: None,
            world: SQUARE.into(),
            count: 1,
            seq: 2,
            sent_at: crate::presence::unix_millis(),
            players: Vec::new(),
            left: Vec::new(),
            said: (0..8)
                .map(|n| crate::presence::Said {
                    id: 3,
                    text: format!("line {n}"),
                })
                .collect(),
            arranged: Vec::new(),
        };
        fixture.relay.incoming.try_send(presence).unwrap();
        fixture.until(ada, "bo's first line", |message| {
            matches!(message, ServerMessage::Chat { player: got, text, .. } if *got == player && text == "line 0")
        });
        for _ in 0..10 {
            fixture.step();
        }
        let lines: Vec<String> = fixture
            .heard(ada)
            .into_iter()
            .filter_map(|message| match message {
                ServerMessage::Chat { account, text, .. } if account == bo => Some(text),
                _ => None,
            })
            .collect();
        assert_eq!(lines, ["line 1", "line 2", "line 3", "line 4"]);

        // What ada says goes out to the other hosts.
        fixture.send(
            ada,
            &plaza_client::protocol::ClientMessage::Chat {
                text: "hi bo".into(),
            },
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            assert!(Instant::now() < deadline, "ada's line never published");
            fixture.step();
            let mut said = false;
            while let Ok(signed) = fixture.relay.outgoing.try_recv() {
                said |= signed
                    .presence
                    .said
                    .iter()
                    .any(|line| line.id == ada_player && line.text == "hi bo");
            }
            if said {
                break;
            }
        }
    }

    /// Ada plays here; bo, player `id` of another host, is said to be at
    /// `at` and shown to ada: the fixture, ada, that host, bo's account
    /// and bo's number here.
    pub(super) fn bo_visits(id: u16, at: [f32; 3]) -> (Fixture, ClientId, Keypair, Address, u16) {
        let mut fixture = Fixture::new();
        let (ada, _) = fixture.enter("ada", SQUARE);
        let host = other_host();
        let bo = fixture.key("bo").address();
        fixture.arrives(&host, 1, vec![present(id, bo, at, Vec::new())], Vec::new());
        let player = fixture.joined_as(ada, bo);
        (fixture, ada, host, bo, player)
    }

    #[test]
    fn this_hosts_players_are_published_signed_and_their_leaving_too() {
        let mut fixture = Fixture::new();
        let (ada, player) = fixture.enter("ada", SQUARE);
        let step = Move {
            seq: 1,
            state: AvatarState::new([1.0, 0.0, 1.0], 0.0, Gait::Walk),
        };
        fixture.send_bytes(ada, CHANNEL_AVATAR, borsh::to_vec(&step).unwrap());
        let host = fixture.home.load_host_key().unwrap();
        let ada_account = fixture.key("ada").address();
        let mut seen = false;
        let mut first = true;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !seen {
            assert!(Instant::now() < deadline, "ada's presence never published");
            fixture.step();
            while let Ok(signed) = fixture.relay.outgoing.try_recv() {
                let read = SignedPresence::verified(&signed.to_bytes(), &fixture.chain_id).unwrap();
                assert_eq!((read.host, read.world.as_str()), (host.address(), SQUARE));
                // Ada's first word goes with the pass ada signed for
                // this host when it joined.
                if first && let Some(present) = read.players.first() {
                    let pass = present.pass.expect("a new player's pass");
                    assert!(pass.is_for(&fixture.chain_id, &host.address(), &ada_account));
                    first = false;
                }
                seen |= read.players.iter().any(|present| {
                    present.id == player
                        && present.account == fixture.key("ada").address()
                        && distance(present.state.position(), [1.0, 0.0, 1.0]) < 0.05
                });
            }
        }
        fixture.server.renet.disconnect(ada);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            assert!(Instant::now() < deadline, "ada's leaving never published");
            fixture.step();
            let mut left = false;
            while let Ok(signed) = fixture.relay.outgoing.try_recv() {
                left |= signed.presence.left.contains(&player);
            }
            if left {
                break;
            }
        }
    }

    #[test]
    fn a_host_whose_presence_keeps_failing_checks_is_ignored() {
        let mut fixture = Fixture::new();
        let (ada, _) = fixture.enter("ada", SQUARE);
        let host = other_host();
        let bo = fixture.key("bo").address();
        for seq in 1..=(HOST_STRIKES as u64 + 5) {
            fixture.arrives(
                &host,
                seq,
                vec![present(1, bo, [900.0, 0.0, 0.0], Vec::new())],
                Vec::new(),
            );
            fixture.step();
        }
        // Now even a good word from it is not taken.
        fixture.arrives(
            &host,
            100,
            vec![present(2, bo, [1.0, 0.0, 1.0], Vec::new())],
            Vec::new(),
        );
        for _ in 0..10 {
            fixture.step();
        }
        assert!(fixture.server.worlds[0].remotes.is_empty());
        assert!(
            !fixture
                .heard(ada)
                .iter()
                .any(|message| matches!(message, ServerMessage::PlayerJoined(_)))
        );
    }
}
