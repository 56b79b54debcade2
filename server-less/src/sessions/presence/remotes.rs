//! Other hosts' players as this host shows them: joining (a number of
//! this world's), moving (no further than running allows between their
//! host's messages), talking, leaving or going silent, and what they wear
//! (shown once this host's ledger agrees), and the strikes of a host whose
//! word fails those checks.

use std::time::Instant;

use ledger::{Address, AssetId, Height};
use renet::ClientId;
use tracing::{debug, warn};

use super::super::avatars::{MAX_HEIGHT, MAX_SPEED, STRIDE_BURST, STRIDE_SLACK, distance};
use super::super::replies::{Reply, deliver};
use super::super::server::{Occupant, Server};
use super::{
    HOST_STRIKES, IGNORED_FOR, LAST_SEEN_FOR, MAX_PASSES, MAX_REMOTE_CHECKS, MAX_REMOTES_PER_HOST,
    MAX_REMOTES_PER_WORLD, REMOTE_TIMEOUT, Remote, RemoteKey,
};
use crate::error::HostError;
use crate::presence::Present;
use crate::rate::Bucket;
use crate::room::make_room;
use plaza_client::join::PASS_MAX_AGE;
use plaza_client::protocol::{
    AvatarState, MAX_WORN, PlayerInfo, ServerMessage, SessionState, Slot, Worn,
};

impl Server {
    /// A player of `host` where its host says it is, at `sent_at` by the
    /// host's clock: shown as a new player of this world, or moved as far
    /// as the time since its last word allows.
    pub(super) fn remote_moved(
        &mut self,
        world: usize,
        host: Address,
        present: Present,
        sent_at: u64,
        now: Instant,
    ) {
        let key = (host, present.id);
        let Some(state) = self.worlds.get(world) else {
            return;
        };
        let half = state.world.info.half_size;
        let position = present.state.position();
        if position[0].abs() > half || position[2].abs() > half || position[1].abs() > MAX_HEIGHT {
            self.strike_host(&host, "a player off the world");
            return;
        }
        let known = state
            .remotes
            .get(&key)
            .is_some_and(|remote| remote.account == present.account);
        if !known {
            // A number its host gave to another account: the old one left.
            self.remote_left(world, key);
            self.remote_joined(world, key, present, sent_at, now);
            return;
        }
        let Some(remote) = self.worlds[world].remotes.get_mut(&key) else {
            return;
        };
        remote.heard = now;
        let newer = present.pass.filter(|pass| pass.since > remote.since);
        if let Some(pass) = newer {
            remote.since = pass.since;
        }
        // How far it may have gone since its host's last word, by the
        // host's own clock: running, the slack, and a burst.
        let seconds = sent_at.saturating_sub(remote.sent_at) as f32 / 1_000.0;
        remote.sent_at = remote.sent_at.max(sent_at);
        let from = remote.state.position();
        let wanted = distance(from, position);
        let allowed = (MAX_SPEED + STRIDE_SLACK) * seconds + STRIDE_BURST;
        let mut state = present.state;
        let cut = wanted > allowed;
        if cut {
            let part = allowed / wanted;
            let at = [0, 1, 2].map(|axis| from[axis] + (position[axis] - from[axis]) * part);
            state = AvatarState::new(at, present.state.yaw(), present.state.gait);
        }
        remote.changed |= remote.state != state;
        remote.state = state;
        let claimed = bounded(&present.worn);
        let newly: Vec<(Slot, AssetId)> = claimed
            .iter()
            .filter(|item| !remote.claimed.contains(item))
            .copied()
            .collect();
        let dropped = remote.worn.iter().any(|item| !claimed.contains(item));
        remote.claimed = claimed.clone();
        if dropped {
            remote.worn.retain(|item| claimed.contains(item));
            self.remote_appearance(world, key);
        }
        if let Some(pass) = newer {
            self.saw_pass(present.account, pass.since);
        }
        if cut {
            self.strike_host(&host, "a player moving faster than running");
        }
        for (slot, asset) in newly {
            self.check_remote_wear(world, key, slot, asset);
        }
    }

    /// A player of another host said `text`: heard by this host's players
    /// near it, at most a line a second (and five at once) from each.
    pub(super) fn remote_said(&mut self, world: usize, key: RemoteKey, text: String) {
        let Some(remote) = self
            .worlds
            .get_mut(world)
            .and_then(|state| state.remotes.get_mut(&key))
        else {
            return;
        };
        if !remote.may_say() {
            return;
        }
        let message = ServerMessage::Chat {
            player: remote.player,
            account: remote.account,
            text,
        };
        let (here, speaker) = (remote.state.position(), remote.account);
        self.say_near(world, here, &speaker, &message);
    }

    /// A new player of another host: given a number here and shown to
    /// this host's players; what it wears is shown once checked.
    fn remote_joined(
        &mut self,
        world: usize,
        key: RemoteKey,
        present: Present,
        sent_at: u64,
        now: Instant,
    ) {
        // A host's word for an account is taken only with the player's
        // pass for it; one not shown yet waits for the message naming
        // all of a host's players, which carries every pass.
        let Some(pass) = present.pass else {
            return;
        };
        // A pass too old to believe: its player has not signed it again,
        // so it left that host (or never plays there now).
        if too_old(pass.since) {
            return;
        }
        // One account, one avatar: a player playing here is shown as
        // itself; one that two hosts speak for is shown at the host its
        // newer pass names (where it went last), in whichever world, and
        // an older word than the newest this host has seen is not shown
        // (a player that has since gone elsewhere, or logged off there).
        if self.newer_pass_seen(&present.account, pass.since) {
            return;
        }
        let here = self.sessions.values().any(|session| {
            session.account == present.account && session.state == SessionState::InWorld
        });
        let twins = self.remotes_of(&present.account);
        if here || twins.iter().any(|(_, _, since)| *since >= pass.since) {
            return;
        }
        let may_join = self
            .hosts
            .get_mut(&key.0)
            .is_some_and(|record| record.joins.take());
        let Some(state) = self.worlds.get(world) else {
            return;
        };
        let of_host = state
            .remotes
            .keys()
            .filter(|(host, _)| *host == key.0)
            .count();
        if !may_join
            || state.remotes.len() >= MAX_REMOTES_PER_WORLD
            || of_host >= MAX_REMOTES_PER_HOST
        {
            return;
        }
        // Shown here from now on: the older words go.
        self.saw_pass(present.account, pass.since);
        for (index, twin, _) in twins {
            self.remote_left(index, twin);
        }
        let Some(state) = self.worlds.get_mut(world) else {
            return;
        };
        let Some(player) = state.take_number(Occupant::Remote(key)) else {
            return;
        };
        let claimed = bounded(&present.worn);
        state.remotes.insert(
            key,
            Remote {
                player,
                account: present.account,
                state: present.state,
                changed: true,
                heard: now,
                sent_at,
                since: pass.since,
                claimed: claimed.clone(),
                worn: Worn::new(),
                chatted: (Bucket::new(1.0, 5.0), now),
            },
        );
        let joined = ServerMessage::PlayerJoined(PlayerInfo {
            player,
            account: present.account,
            worn: Worn::new(),
        });
        let clients: Vec<ClientId> = state.clients().collect();
        for client in clients {
            self.send(client, &joined);
        }
        for (slot, asset) in claimed {
            self.check_remote_wear(world, key, slot, asset);
        }
    }

    /// A player of another host left: its number is freed and this host's
    /// players are told.
    pub(in crate::sessions) fn remote_left(&mut self, world: usize, key: RemoteKey) {
        let Some(state) = self.worlds.get_mut(world) else {
            return;
        };
        let Some(remote) = state.remotes.remove(&key) else {
            return;
        };
        state.free_number(remote.player);
        // Full: the one that left longest ago makes room.
        make_room(&mut state.last_seen, MAX_REMOTES_PER_WORLD, |(_, left)| {
            *left
        });
        state
            .last_seen
            .insert(remote.account, (remote.state.position(), Instant::now()));
        let left = ServerMessage::PlayerLeft {
            player: remote.player,
        };
        let clients: Vec<ClientId> = state.clients().collect();
        for client in clients {
            self.send(client, &left);
        }
        self.trader_left(key, remote.account);
    }

    /// Players of other hosts not heard of for [`REMOTE_TIMEOUT`] have
    /// left (their host went away, or stopped telling), and so have those
    /// whose newest pass is older than [`PASS_MAX_AGE`] (their host goes
    /// on telling of them, but they signed nothing since).
    pub(in crate::sessions) fn expire_remotes(&mut self) {
        let now = Instant::now();
        for world in 0..self.worlds.len() {
            let gone: Vec<RemoteKey> = self.worlds[world]
                .remotes
                .iter()
                .filter(|(_, remote)| {
                    now.saturating_duration_since(remote.heard) > REMOTE_TIMEOUT
                        || too_old(remote.since)
                })
                .map(|(key, _)| *key)
                .collect();
            for key in gone {
                self.remote_left(world, key);
            }
            self.worlds[world]
                .last_seen
                .retain(|_, (_, left)| now.saturating_duration_since(*left) < LAST_SEEN_FOR);
        }
    }

    /// Asks the ledger thread whether a player of another host holds what
    /// its host says it wears.
    fn check_remote_wear(&mut self, world: usize, key: RemoteKey, slot: Slot, asset: AssetId) {
        let Some(remote) = self
            .worlds
            .get_mut(world)
            .and_then(|state| state.remotes.get_mut(&key))
        else {
            return;
        };
        if self.remote_checks >= MAX_REMOTE_CHECKS {
            // Checked when its host says it again.
            remote.claimed.retain(|item| *item != (slot, asset));
            return;
        }
        self.remote_checks += 1;
        let account = remote.account;
        let handle = self.handle.clone();
        let replies = self.replies.clone();
        self.runtime.spawn(async move {
            let checked = handle.may_wear(account, asset, slot).await;
            deliver(
                &replies,
                Reply::RemoteWear(world, key, account, slot, asset, checked),
            );
        });
    }

    /// The ledger thread's word on what a player of another host wears:
    /// shown to this host's players if it holds it (and its host still
    /// says so of the same account), else not shown, and checked again if
    /// its host says it again (this host may be a block behind the other).
    pub(in crate::sessions) fn remote_wear_checked(
        &mut self,
        world: usize,
        (key, account): (RemoteKey, Address),
        slot: Slot,
        asset: AssetId,
        checked: Result<Height, HostError>,
    ) {
        let Some(remote) = self
            .worlds
            .get_mut(world)
            .and_then(|state| state.remotes.get_mut(&key))
        else {
            return;
        };
        if remote.account != account || !remote.claimed.contains(&(slot, asset)) {
            return;
        }
        match checked {
            Ok(height) if height < self.height => self.check_remote_wear(world, key, slot, asset),
            Ok(_) => {
                remote
                    .worn
                    .retain(|(on, what)| *on != slot && *what != asset);
                remote.worn.push((slot, asset));
                remote.worn.sort_unstable();
                remote.worn.truncate(MAX_WORN);
                self.remote_appearance(world, key);
            }
            Err(err) => {
                debug!(%err, %asset, "a player of another host is not shown wearing this");
                remote.claimed.retain(|item| *item != (slot, asset));
                let shown = remote.worn.len();
                remote.worn.retain(|item| *item != (slot, asset));
                if remote.worn.len() != shown {
                    self.remote_appearance(world, key);
                }
            }
        }
    }

    /// Tells this host's players in `world` what the player of another
    /// host `key` is shown wearing.
    pub(in crate::sessions) fn remote_appearance(&mut self, world: usize, key: RemoteKey) {
        let Some(state) = self.worlds.get(world) else {
            return;
        };
        let Some(remote) = state.remotes.get(&key) else {
            return;
        };
        let news = ServerMessage::Appearance {
            request: None,
            player: remote.player,
            worn: remote.worn.clone(),
        };
        let clients: Vec<ClientId> = state.clients().collect();
        for client in clients {
            self.send(client, &news);
        }
    }

    /// Where other hosts' players of `account` are shown, in every world:
    /// the world, the player's key, and its pass's date.
    pub(in crate::sessions) fn remotes_of(
        &self,
        account: &Address,
    ) -> Vec<(usize, RemoteKey, u64)> {
        self.worlds
            .iter()
            .enumerate()
            .flat_map(|(index, state)| {
                state
                    .remotes
                    .iter()
                    .filter(|(_, remote)| remote.account == *account)
                    .map(move |(key, remote)| (index, *key, remote.since))
            })
            .collect()
    }

    /// Whether a pass of `account` newer than one dated `since` was seen
    /// (from any host, this one included).
    pub(in crate::sessions) fn newer_pass_seen(&self, account: &Address, since: u64) -> bool {
        self.passes
            .get(account)
            .is_some_and(|newest| *newest > since)
    }

    /// Remembers a pass of `account` dated `since`, if newer than the one
    /// remembered ([`MAX_PASSES`] accounts at most: the oldest pass is
    /// forgotten to make room).
    pub(in crate::sessions) fn saw_pass(&mut self, account: Address, since: u64) {
        if let Some(newest) = self.passes.get_mut(&account) {
            *newest = (*newest).max(since);
            return;
        }
        make_room(&mut self.passes, MAX_PASSES, |since| *since);
        self.passes.insert(account, since);
    }

    /// `host` sent something that failed a check: counted, and the host
    /// ignored for a while if it keeps at it.
    fn strike_host(&mut self, host: &Address, what: &str) {
        let Some(record) = self.hosts.get_mut(host) else {
            return;
        };
        record.strikes += 1.0;
        if record.strikes > HOST_STRIKES && record.ignored_until.is_none() {
            warn!(%host, what, "ignoring a host whose players' presence keeps failing checks");
            record.ignored_until = Some(Instant::now() + IGNORED_FOR);
            record.strikes = 0.0;
        } else {
            debug!(%host, what, "a host's presence failed a check");
        }
    }
}

/// Whether a pass dated `since` is older than [`PASS_MAX_AGE`] by this
/// host's clock.
fn too_old(since: u64) -> bool {
    let age = crate::presence::unix_millis().saturating_sub(since);
    u128::from(age) > PASS_MAX_AGE.as_millis()
}

/// What a host says its player wears, at most one thing a slot.
fn bounded(worn: &Worn) -> Worn {
    let mut kept: Worn = Vec::with_capacity(MAX_WORN);
    for (slot, asset) in worn {
        if kept.len() < MAX_WORN && !kept.iter().any(|(taken, _)| taken == slot) {
            kept.push((*slot, *asset));
        }
    }
    kept.sort_unstable();
    kept
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::REMOTE_TIMEOUT;
    use super::super::tests::{bo_visits, other_host};
    use super::*;
    use crate::sessions::avatars::{STRIDE_BURST, distance};
    use crate::sessions::fixture::{Fixture, SQUARE, present, present_with};
    use assets::{AssetKind, Manifest};
    use ledger::Keypair;

    /// `name` connects and says hello for the square: where its welcome
    /// puts it, and the world's spawn point.
    fn enters_at(fixture: &mut Fixture, name: &str) -> ([f32; 3], [f32; 3]) {
        let client = fixture.connect(&fixture.key(name));
        let welcome = fixture.welcomed(client, SQUARE);
        let ServerMessage::Welcome { at, world, .. } = welcome else {
            unreachable!("until returns what it was asked for")
        };
        let here = fixture.server.sessions[&client]
            .avatar
            .map(|state| state.position());
        assert_eq!(here, Some(at), "the host put {name} where it said");
        (at, world.spawn)
    }

    #[test]
    fn a_player_of_another_host_that_comes_here_goes_on_where_it_was_seen() {
        // Bo was shown here as the other host's player; its host goes
        // away (or bo leaves it) and bo joins this host: it goes on from
        // where it was last seen, not from the spawn point.
        let (mut fixture, _, _, _, _) = bo_visits(4, [5.0, 0.0, -6.0]);
        let (at, spawn) = enters_at(&mut fixture, "bo");
        assert!(
            distance(at, [5.0, 0.0, -6.0]) < 0.05,
            "bo entered at {at:?}"
        );
        assert!(distance(at, spawn) > 1.0);
        // A player no other host showed starts at the spawn point.
        let (at, spawn) = enters_at(&mut fixture, "cy");
        assert_eq!(at, spawn);
    }

    fn seen_at(fixture: &mut Fixture, client: ClientId, player: u16, near: [f32; 3]) -> [f32; 3] {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(state) = fixture.avatar_of(client, player)
                && distance(state.position(), near) < 0.05
            {
                return state.position();
            }
            assert!(
                Instant::now() < deadline,
                "player {player} never seen near {near:?}"
            );
            fixture.step();
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn players_of_another_host_walk_here_as_fast_as_the_world_allows_and_leave() {
        let (mut fixture, ada, host, bo, player) = bo_visits(5, [2.0, 0.0, 3.0]);
        seen_at(&mut fixture, ada, player, [2.0, 0.0, 3.0]);

        // A step: shown where its host says.
        std::thread::sleep(Duration::from_millis(100));
        fixture.arrives(
            &host,
            2,
            vec![present(5, bo, [2.5, 0.0, 3.0], Vec::new())],
            Vec::new(),
        );
        seen_at(&mut fixture, ada, player, [2.5, 0.0, 3.0]);
        // A jump across the square: cut short where running would end.
        fixture.arrives(
            &host,
            3,
            vec![present(5, bo, [30.0, 0.0, 3.0], Vec::new())],
            Vec::new(),
        );
        for _ in 0..5 {
            fixture.step();
        }
        let (world, key) = (0, (host.address(), 5));
        let shown = fixture.server.worlds[world].remotes[&key].state.position();
        assert!(shown[0] < 2.5 + STRIDE_BURST + 1.0, "jumped to {shown:?}");
        // An older message arriving late changes nothing.
        fixture.arrives(
            &host,
            2,
            vec![present(5, bo, [-10.0, 0.0, 3.0], Vec::new())],
            Vec::new(),
        );
        for _ in 0..3 {
            fixture.step();
        }
        assert_eq!(
            fixture.server.worlds[world].remotes[&key].state.position(),
            shown
        );

        // Its host says it left: gone for ada too.
        fixture.arrives(&host, 4, Vec::new(), vec![5]);
        fixture.until(ada, "the player leaving", |message| {
            *message == ServerMessage::PlayerLeft { player }
        });

        // One its host stops telling of is gone after the timeout.
        let cy = fixture.key("cy").address();
        let started = Instant::now();
        fixture.arrives(
            &host,
            5,
            vec![present(6, cy, [0.0, 0.0, 0.0], Vec::new())],
            Vec::new(),
        );
        let quiet = fixture.joined_as(ada, cy);
        fixture.until(ada, "the quiet player leaving", |message| {
            *message == ServerMessage::PlayerLeft { player: quiet }
        });
        assert!(started.elapsed() >= REMOTE_TIMEOUT);
    }

    #[test]
    fn a_player_is_one_avatar_however_many_hosts_tell_of_it() {
        let (mut fixture, ada, host, bo, player) = bo_visits(4, [1.0, 0.0, 2.0]);
        // Bo comes here from that host (its host died, or bo moved):
        // ada sees the other host's bo go and this host's bo arrive.
        let (_, here) = fixture.enter("bo", SQUARE);
        fixture.until(ada, "the other host's bo leaving", |message| {
            *message == ServerMessage::PlayerLeft { player }
        });
        fixture.until(ada, "bo arriving here", |message| {
            matches!(message, ServerMessage::PlayerJoined(info) if info.player == here && info.account == bo)
        });
        // The other host goes on telling of bo for a while: not shown.
        for seq in 2..5 {
            fixture.arrives(
                &host,
                seq,
                vec![present(4, bo, [1.0, 0.0, 2.0], Vec::new())],
                Vec::new(),
            );
            fixture.step();
        }
        assert!(fixture.server.worlds[0].remotes.is_empty());

        // Two other hosts tell of cy: the one whose pass is newer (where
        // cy went last) is shown, once.
        let cy = fixture.key("cy").address();
        let then = crate::presence::unix_millis();
        fixture.arrives(
            &host,
            5,
            vec![present_with(6, cy, [0.0, 0.0, 0.0], Vec::new(), Some(then))],
            Vec::new(),
        );
        let cy_here = fixture.joined_as(ada, cy);
        let third = Keypair::from_seed([10; 32]);
        // The third host's word for cy with an older pass, or with none:
        // not shown.
        for (seq, since) in [(1, Some(then - 5_000)), (2, None)] {
            fixture.arrives(
                &third,
                seq,
                vec![present_with(2, cy, [3.0, 0.0, 0.0], Vec::new(), since)],
                Vec::new(),
            );
            fixture.step();
        }
        let shown: Vec<&RemoteKey> = fixture.server.worlds[0].remotes.keys().collect();
        assert_eq!(shown, [&(host.address(), 6)]);
        // With a newer pass (cy joined the third host since): the first
        // host's cy goes, the third's is shown, and the first host's
        // word, pass and all, no longer shows it.
        fixture.arrives(
            &third,
            3,
            vec![present_with(
                2,
                cy,
                [3.0, 0.0, 0.0],
                Vec::new(),
                Some(then + 1),
            )],
            Vec::new(),
        );
        fixture.until(ada, "cy leaving the first host", |message| {
            *message == ServerMessage::PlayerLeft { player: cy_here }
        });
        fixture.joined_as(ada, cy);
        fixture.arrives(
            &host,
            6,
            vec![present_with(6, cy, [0.0, 0.0, 0.0], Vec::new(), Some(then))],
            Vec::new(),
        );
        fixture.step();
        let shown: Vec<&RemoteKey> = fixture.server.worlds[0].remotes.keys().collect();
        assert_eq!(shown, [&(third.address(), 2)]);
        // Cy leaves the third host (logs off): the first host's older
        // word is still not shown, since this host saw a newer pass.
        fixture.arrives(&third, 4, Vec::new(), vec![2]);
        fixture.step();
        fixture.arrives(
            &host,
            7,
            vec![present_with(6, cy, [0.0, 0.0, 0.0], Vec::new(), Some(then))],
            Vec::new(),
        );
        fixture.step();
        assert!(fixture.server.worlds[0].remotes.is_empty());
    }

    #[test]
    fn what_a_player_of_another_host_wears_is_shown_only_if_this_ledger_agrees() {
        let mut fixture = Fixture::new();
        // A demo account's own wearable, and an asset it does not hold.
        let mut found = None;
        for name in ["ada", "bo", "cy", "dee"] {
            let account = fixture.key(name).address();
            let held = fixture
                .block_on(fixture.server.handle.inventory(account))
                .unwrap();
            let hat = held.owned.iter().find(|asset| {
                let bytes = fixture.server.blobs.get(&asset.id.0).unwrap();
                asset.rental.is_none()
                    && Manifest::from_json(&bytes).unwrap().kind == AssetKind::Wearable
            });
            if let Some(hat) = hat {
                found = Some((name, account, hat.id));
                break;
            }
        }
        let (owner, account, hat) = found.expect("a demo account owning a wearable");
        let watcher = ["ada", "bo", "cy", "dee"]
            .into_iter()
            .find(|name| *name != owner)
            .unwrap();
        let theirs = {
            let other = fixture.key(watcher).address();
            let held = fixture
                .block_on(fixture.server.handle.inventory(other))
                .unwrap();
            held.owned.first().expect("an asset of the watcher's").id
        };
        let (client, _) = fixture.enter(watcher, SQUARE);
        let host = other_host();
        let claims = vec![(Slot::Head, hat), (Slot::Back, theirs)];
        fixture.arrives(
            &host,
            1,
            vec![present(1, account, [1.0, 0.0, 1.0], claims)],
            Vec::new(),
        );
        let player = fixture.joined_as(client, account);
        let shown = fixture.until(client, "what it wears", |message| {
            matches!(message, ServerMessage::Appearance { player: got, .. } if *got == player)
        });
        assert_eq!(
            shown,
            ServerMessage::Appearance {
                request: None,
                player,
                worn: vec![(Slot::Head, hat)],
            }
        );
        // Refused, the claim is dropped (to be checked again if its host
        // says it again), and never shown.
        let key = (host.address(), 1);
        let deadline = Instant::now() + Duration::from_secs(10);
        while fixture.server.worlds[0].remotes[&key]
            .claimed
            .iter()
            .any(|(_, asset)| *asset == theirs)
        {
            assert!(
                Instant::now() < deadline,
                "the forged claim was never refused"
            );
            fixture.step();
            std::thread::sleep(Duration::from_millis(2));
        }
        let later = fixture.heard(client);
        assert!(
            !later.iter().any(|message| matches!(
                message,
                ServerMessage::Appearance { worn, .. } if worn.iter().any(|(_, asset)| *asset == theirs)
            )),
            "the forged item was shown: {later:?}"
        );
        assert_eq!(
            fixture.server.worlds[0].remotes[&key].worn,
            vec![(Slot::Head, hat)]
        );
    }

    #[test]
    fn a_player_of_another_host_is_shown_only_while_its_pass_is_fresh() {
        let mut fixture = Fixture::new();
        let (ada, _) = fixture.enter("ada", SQUARE);
        let host = other_host();
        let bo = fixture.key("bo").address();
        let max_age = u64::try_from(PASS_MAX_AGE.as_millis()).unwrap();
        let now = crate::presence::unix_millis();
        // A pass older than any host believes: bo is not shown.
        fixture.arrives(
            &host,
            1,
            vec![present_with(
                3,
                bo,
                [1.0, 0.0, 1.0],
                Vec::new(),
                Some(now - max_age - 1_000),
            )],
            Vec::new(),
        );
        for _ in 0..5 {
            fixture.step();
        }
        assert!(fixture.server.worlds[0].remotes.is_empty());
        // A pass half a second from too old: shown, then gone once it is,
        // though its host goes on telling of bo (and not of a newer pass).
        let since = now - max_age + 500;
        fixture.arrives(
            &host,
            2,
            vec![present_with(
                3,
                bo,
                [1.0, 0.0, 1.0],
                Vec::new(),
                Some(since),
            )],
            Vec::new(),
        );
        let player = fixture.joined_as(ada, bo);
        let shown = Instant::now();
        let mut seq = 3;
        loop {
            fixture.arrives(
                &host,
                seq,
                vec![present_with(
                    3,
                    bo,
                    [1.0, 0.0, 1.0],
                    Vec::new(),
                    Some(since),
                )],
                Vec::new(),
            );
            seq += 1;
            fixture.step();
            if fixture
                .heard(ada)
                .contains(&ServerMessage::PlayerLeft { player })
            {
                break;
            }
            assert!(
                shown.elapsed() < Duration::from_secs(5),
                "bo's stale pass kept it shown"
            );
        }
    }
}
