//! Entering and leaving a world: a client connects with a token that
//! names its account and its pass, says hello for a world, sends its pass
//! again now and then, and leaves.

use plaza_client::time::unix_time;
use renet::ClientId;
use tracing::{debug, info};

use super::avatars::{MAX_SPEED, STRIDE_BURST, STRIDE_SLACK};
use super::join::{check_pass, from_user_data};
use super::limits::Session;
use super::presence::LAST_SEEN_FOR;
use super::replies::{Reply, deliver};
use super::server::{Occupant, Server, error, refused};
use crate::rate::Bucket;
use plaza_client::join::{PASS_RENEW, Pass};
use plaza_client::protocol::{
    self, ErrorCode, PlayerInfo, ProtocolError, ServerMessage, SessionState, VERSION, WorldInfo,
};

/// Players one welcome names at most (each with what it wears: well
/// within a message's size).
const MAX_WELCOME_PLAYERS: usize = 128;

impl Server {
    pub(super) fn connected(&mut self, client: ClientId) {
        let Some(user_data) = self.transport.user_data(client) else {
            self.renet.disconnect(client);
            return;
        };
        let (account, pass) = from_user_data(&user_data);
        self.sessions
            .insert(client, Session::new(account, pass, &self.settings));
        debug!(client, %account, "client connected");
    }

    pub(super) fn disconnected(&mut self, client: ClientId) {
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

    pub(super) fn leave_world(&mut self, client: ClientId, session: &Session) {
        if let Some(world) = self.worlds.get_mut(session.world) {
            world.free_number(session.player);
            world.published.remove(&session.player);
            if world.left.len() < crate::presence::MAX_PRESENT {
                world.left.push(session.player);
            }
            let others: Vec<ClientId> = world.clients().collect();
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

    /// The player's pass signed again: kept, and shown to other hosts
    /// from the next message naming all the world's players, if it is
    /// the player's for this host, of now and newer than the last; at
    /// most one every half [`PASS_RENEW`] is checked. Anything else is a
    /// breach.
    pub(super) fn pass_again(&mut self, client: ClientId, pass: Pass) {
        let Some(session) = self.sessions.get(&client) else {
            return;
        };
        let account = session.account;
        let checked = if session.passed.elapsed() < PASS_RENEW / 2 {
            Err(ProtocolError::new(
                ErrorCode::RateLimited,
                format!("a pass at most every {} s", PASS_RENEW.as_secs() / 2),
            ))
        } else if pass.since <= session.pass.since {
            Err(ProtocolError::new(
                ErrorCode::Invalid,
                "a pass no newer than the last",
            ))
        } else {
            check_pass(
                &pass,
                (&self.chain_id, &self.identity.address()),
                &account,
                unix_time(),
            )
        };
        if let Err(err) = checked {
            self.breach(client, None, &err);
            return;
        }
        if let Some(session) = self.sessions.get_mut(&client) {
            session.pass = pass;
            session.passed = std::time::Instant::now();
        }
        self.saw_pass(account, pass.since);
    }

    pub(super) fn hello(&mut self, client: ClientId, version: u16, name: &str) {
        if version != VERSION {
            let err = ProtocolError::new(
                ErrorCode::WrongVersion,
                format!("this host speaks protocol {VERSION}, the client {version}"),
            );
            self.send(client, &error(None, &err));
            self.let_go(client);
            return;
        }
        if !self.handle.is_current() {
            // Told, not struck: the client may say hello again.
            let err = ProtocolError::new(
                ErrorCode::CatchingUp,
                "this host is catching up with the network; try again in a few seconds",
            );
            self.send(client, &error(None, &err));
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
        // A player shown as another host's (in this world or another)
        // that came here: only the one here is shown from now on, and its
        // pass is the newest of the account.
        self.saw_pass(session.account, session.pass.since);
        for (world, key, _) in self.remotes_of(&session.account) {
            self.remote_left(world, key);
        }
        let mut session = session;
        let Some(world) = self.worlds.get_mut(index) else {
            self.sessions.insert(client, session);
            return;
        };
        let Some(player) = world.take_number(Occupant::Local(client)) else {
            self.sessions.insert(client, session);
            self.send(
                client,
                &refused(None, ErrorCode::Unavailable, "this world is full"),
            );
            return;
        };
        // A player another host of this world showed lately goes on where
        // it was last seen there (its host went away, say); others start
        // at the spawn point.
        let spawn = world.world.info.spawn;
        let at = world
            .last_seen
            .remove(&session.account)
            .filter(|(_, left)| left.elapsed() < LAST_SEEN_FOR)
            // On the ground as this world has it: a client keeps its own.
            .map_or(spawn, |(at, _)| [at[0], spawn[1], at[2]]);
        session.state = SessionState::InWorld;
        session.world = index;
        session.player = player;
        session.avatar = Some(protocol::AvatarState::new(at, 0.0, protocol::Gait::Idle));
        session.stride = Bucket::new(MAX_SPEED + STRIDE_SLACK, STRIDE_BURST);
        session.changed = true;
        let account = session.account;
        let worn = session.worn.clone();
        let players: Vec<PlayerInfo> = world
            .slots
            .iter()
            .enumerate()
            .filter_map(|(slot, other)| {
                let player = u16::try_from(slot).ok()?;
                let (account, worn) = match (*other)? {
                    Occupant::Local(other) => {
                        let other = self.sessions.get(&other)?;
                        (other.account, other.worn.clone())
                    }
                    Occupant::Remote(key) => {
                        let other = world.remotes.get(&key)?;
                        (other.account, other.worn.clone())
                    }
                };
                Some(PlayerInfo {
                    player,
                    account,
                    worn,
                })
            })
            .collect();
        let others: Vec<ClientId> = world.clients().collect();
        let info: WorldInfo = world.world.info.clone();
        // The welcome names as many players as fit in one message; the
        // rest follow as joins.
        let mut players = players;
        let later = players.split_off(players.len().min(MAX_WELCOME_PLAYERS));
        self.sessions.insert(client, session);
        let work = *self.handle.backlog().borrow();
        let welcome = ServerMessage::Welcome {
            version: VERSION,
            player,
            account,
            chain_id: self.chain_id.as_str().to_owned(),
            height: work.height,
            time: work.time,
            world: info,
            at,
            worlds: self
                .worlds
                .iter()
                .map(|world| world.world.info.name.clone())
                .collect(),
            players,
        };
        self.send(client, &welcome);
        for info in later {
            self.send(client, &ServerMessage::PlayerJoined(info));
        }
        // Where to go on if this host goes away (none, maybe: then what
        // the player knew of another world's hosts is forgotten).
        let joins = self.hosts_of(index);
        self.send(client, &ServerMessage::Hosts { joins });
        let worlds = self.world_list();
        self.send(client, &ServerMessage::Worlds { worlds });
        self.tell_parcels(client, index);
        if !worn.is_empty() {
            // What it wears comes with it from the world it left.
            self.send(
                client,
                &ServerMessage::Appearance {
                    request: None,
                    player,
                    worn: worn.clone(),
                },
            );
        }
        for other in others {
            if other != client {
                self.send(
                    other,
                    &ServerMessage::PlayerJoined(PlayerInfo {
                        player,
                        account,
                        worn: worn.clone(),
                    }),
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sessions::fixture::{Fixture, SQUARE};
    use plaza_client::protocol::ClientMessage;

    fn hello(world: &str) -> ClientMessage {
        ClientMessage::Hello {
            version: VERSION,
            world: world.to_owned(),
        }
    }

    fn is_error(code: ErrorCode) -> impl Fn(&ServerMessage) -> bool {
        move |message| matches!(message, ServerMessage::Error { code: got, .. } if *got == code)
    }

    #[test]
    fn another_protocol_version_is_told_which_and_let_go() {
        let mut fixture = Fixture::new();
        let client = fixture.connect(&fixture.key("ada"));
        fixture.send(
            client,
            &ClientMessage::Hello {
                version: VERSION + 1,
                world: SQUARE.into(),
            },
        );
        let told = fixture.until(client, "the refusal", is_error(ErrorCode::WrongVersion));
        let ServerMessage::Error { message, .. } = told else {
            unreachable!()
        };
        assert!(
            message.contains(&format!("protocol {VERSION}")),
            "{message}"
        );
        fixture.step();
        assert!(!fixture.connected(client));
    }

    #[test]
    fn a_world_this_host_does_not_serve_is_refused_with_the_ones_it_does() {
        let mut fixture = Fixture::new();
        let client = fixture.connect(&fixture.key("ada"));
        fixture.send(client, &hello("Atlantis"));
        let told = fixture.until(client, "the refusal", is_error(ErrorCode::NotFound));
        let ServerMessage::Error { message, .. } = told else {
            unreachable!()
        };
        assert!(message.contains(SQUARE), "{message}");
        // Still connected, still outside: hello again works.
        assert_eq!(
            fixture.server.sessions[&client].state,
            SessionState::Connected
        );
        fixture.send(client, &hello(SQUARE));
        fixture.until(client, "the welcome", |message| {
            matches!(message, ServerMessage::Welcome { .. })
        });
    }

    #[test]
    fn players_entering_and_leaving_are_told_to_the_others_and_numbers_are_reused() {
        let mut fixture = Fixture::new();
        let (ada, ada_player) = fixture.enter("ada", SQUARE);
        let bo_account = fixture.key("bo").address();
        let bo = fixture.connect(&fixture.key("bo"));
        fixture.send(bo, &hello(SQUARE));
        let welcome = fixture.until(bo, "bo's welcome", |message| {
            matches!(message, ServerMessage::Welcome { .. })
        });
        let ServerMessage::Welcome {
            player: bo_player,
            players,
            account,
            world,
            ..
        } = welcome
        else {
            unreachable!()
        };
        assert_eq!(account, bo_account);
        assert_eq!(world.name, SQUARE);
        assert_ne!(bo_player, ada_player);
        // Bo is told who was there; Ada that Bo came.
        assert!(players.iter().any(|info| info.player == ada_player));
        fixture.until(ada, "bo joining", |message| {
            *message
                == ServerMessage::PlayerJoined(PlayerInfo {
                    player: bo_player,
                    account: bo_account,
                    worn: Vec::new(),
                })
        });
        // Bo goes: Ada is told, and the next to come gets Bo's number.
        fixture.server.renet.disconnect(bo);
        fixture.until(ada, "bo leaving", |message| {
            *message == ServerMessage::PlayerLeft { player: bo_player }
        });
        let (_, cy_player) = fixture.enter("cy", SQUARE);
        assert_eq!(cy_player, bo_player);
    }

    #[test]
    fn a_host_catching_up_asks_players_to_come_back_without_striking_them() {
        let mut fixture = Fixture::new();
        let client = fixture.connect(&fixture.key("ada"));
        fixture.server.handle.set_current(false);
        fixture.send(client, &hello(SQUARE));
        fixture.until(client, "the refusal", is_error(ErrorCode::CatchingUp));
        assert_eq!(fixture.server.sessions[&client].strikes, 0.0);
        fixture.server.handle.set_current(true);
        fixture.send(client, &hello(SQUARE));
        fixture.until(client, "the welcome", |message| {
            matches!(message, ServerMessage::Welcome { .. })
        });
    }

    #[test]
    fn a_player_sends_its_pass_again_and_only_its_own_newer_one_of_now_is_taken() {
        use crate::sessions::fixture::code;
        use std::time::{Duration, Instant};

        let mut fixture = Fixture::new();
        let (ada, _) = fixture.enter("ada", SQUARE);
        let key = fixture.key("ada");
        let host = fixture.server.identity.address();
        let chain = fixture.chain_id.clone();
        let joined = fixture.server.sessions[&ada].pass;
        let now = || crate::presence::unix_millis();
        let refused = |fixture: &mut Fixture, pass: Pass| {
            fixture.send(ada, &ClientMessage::Pass { pass });
            let heard = fixture.until(ada, "the refusal", |message| code(message).is_some());
            assert_eq!(
                fixture.server.sessions[&ada].pass, joined,
                "a refused pass was taken"
            );
            code(&heard).unwrap()
        };
        // Half a minute not yet gone since the join: not even checked.
        let fresh = Pass::sign(&key, &chain, &host, now());
        assert_eq!(refused(&mut fixture, fresh), ErrorCode::RateLimited);
        let long_ago = |fixture: &mut Fixture| {
            let session = fixture.server.sessions.get_mut(&ada).unwrap();
            session.passed = Instant::now()
                .checked_sub(PASS_RENEW)
                .unwrap_or(session.passed);
        };
        // Another's signature, another host's pass, one dated ten minutes
        // off, one no newer than the last: refused.
        long_ago(&mut fixture);
        let bo = fixture.key("bo");
        assert_eq!(
            refused(&mut fixture, Pass::sign(&bo, &chain, &host, now())),
            ErrorCode::BadSignature
        );
        let elsewhere = ledger::Keypair::from_seed([77; 32]).address();
        assert_eq!(
            refused(&mut fixture, Pass::sign(&key, &chain, &elsewhere, now())),
            ErrorCode::BadSignature
        );
        assert_eq!(
            refused(
                &mut fixture,
                Pass::sign(&key, &chain, &host, now() + 600_000)
            ),
            ErrorCode::Invalid
        );
        assert_eq!(
            refused(&mut fixture, Pass::sign(&key, &chain, &host, joined.since)),
            ErrorCode::Invalid
        );
        // Its own, for this host, of now: taken, and the account's newest.
        let renewed = Pass::sign(&key, &chain, &host, joined.since + 1_000);
        fixture.send(ada, &ClientMessage::Pass { pass: renewed });
        let deadline = Instant::now() + Duration::from_secs(10);
        while fixture.server.sessions[&ada].pass != renewed {
            assert!(Instant::now() < deadline, "the renewed pass was not taken");
            fixture.step();
        }
        assert!(
            !fixture
                .server
                .newer_pass_seen(&key.address(), renewed.since)
        );
        assert!(fixture.server.newer_pass_seen(&key.address(), joined.since));
    }
}
