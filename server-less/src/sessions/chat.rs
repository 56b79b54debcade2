//! Talking: chat lines that carry a fixed distance (to this host's
//! players, and to the world's other hosts in presence), lines said to one
//! player alone (at this host, or through a call to the player's host),
//! and blocks: a player hears nothing from an account it blocks, and
//! takes no trade invitation from it.

use renet::ClientId;

use super::avatars::distance2;
use super::presence::RemoteKey;
use super::replies::Reply;
use super::server::{Occupant, Server, refused};
use crate::calls::{CallAnswer, HostCall};
use ledger::Address;
use plaza_client::protocol::{
    ErrorCode, MAX_BLOCKED, MAX_REQUESTS_WAITING, ProtocolError, ServerMessage, check_line,
};

/// How far a chat line carries, metres.
pub(super) const CHAT_RADIUS: f32 = 64.0;

impl Server {
    /// A chat line of `speaker` at `here`, delivered to this host's
    /// players in `world` within [`CHAT_RADIUS`] who do not block it.
    pub(super) fn say_near(
        &mut self,
        world: usize,
        here: [f32; 3],
        speaker: &Address,
        message: &ServerMessage,
    ) {
        let Some(world) = self.worlds.get(world) else {
            return;
        };
        let listeners: Vec<ClientId> = world
            .clients()
            .filter(|other| {
                self.sessions.get(other).is_some_and(|s| {
                    !s.blocked.contains(speaker)
                        && s.avatar.is_some_and(|a| {
                            distance2(a.position(), here) <= CHAT_RADIUS * CHAT_RADIUS
                        })
                })
            })
            .collect();
        for listener in listeners {
            self.send(listener, message);
        }
    }

    pub(super) fn chat(&mut self, client: ClientId, text: String) {
        let Some(session) = self.sessions.get_mut(&client) else {
            return;
        };
        if !session.chats.take() {
            let err = ProtocolError::new(ErrorCode::RateLimited, "chat: one line a second");
            self.breach(client, None, &err);
            return;
        }
        let here = session.avatar.map(|a| a.position()).unwrap_or_default();
        let (player, index, speaker) = (session.player, session.world, session.account);
        let message = ServerMessage::Chat {
            player,
            account: session.account,
            text: text.clone(),
        };
        let relayed = self.link.is_some();
        let Some(world) = self.worlds.get_mut(index) else {
            return;
        };
        // Other hosts of the world hear it too; a line past what one
        // presence message carries is dropped for them.
        if relayed && world.said.len() < crate::presence::MAX_SAID {
            world.said.push(crate::presence::Said { id: player, text });
        }
        self.say_near(index, here, &speaker, &message);
    }

    /// `client` blocks `account` (or not): its chat lines and trade
    /// invitations no longer reach the player; answered with the list.
    pub(super) fn block_account(
        &mut self,
        client: ClientId,
        request: u32,
        account: Address,
        blocked: bool,
    ) {
        let Some(session) = self.sessions.get_mut(&client) else {
            return;
        };
        if account == session.account {
            let err = ProtocolError::new(ErrorCode::Invalid, "you cannot block yourself");
            self.send(client, &super::server::error(Some(request), &err));
            return;
        }
        if !blocked {
            session.blocked.remove(&account);
        } else if session.blocked.len() < MAX_BLOCKED || session.blocked.contains(&account) {
            session.blocked.insert(account);
        } else {
            let err = ProtocolError::new(
                ErrorCode::Busy,
                format!("you block {MAX_BLOCKED} accounts already: unblock one first"),
            );
            self.send(client, &super::server::error(Some(request), &err));
            return;
        }
        let accounts = session.blocked.iter().copied().collect();
        self.send(client, &ServerMessage::Blocked { request, accounts });
    }

    /// `client` says `text` to player `player` of its world alone: given
    /// here to a player of this host, or through its host to a player of
    /// another (whose host answers); refused, without saying why, to a
    /// player who blocks the speaker. One line a second, with chat.
    pub(super) fn tell(&mut self, client: ClientId, request: u32, player: u16, text: String) {
        let Some(session) = self.sessions.get_mut(&client) else {
            return;
        };
        if !session.chats.take() {
            let err = ProtocolError::new(ErrorCode::RateLimited, "chat: one line a second");
            self.breach(client, Some(request), &err);
            return;
        }
        let (from, me, index) = (session.account, session.player, session.world);
        let busy = session.in_flight >= MAX_REQUESTS_WAITING;
        let Some(world) = self.worlds.get(index) else {
            return;
        };
        let occupant = world.slots.get(usize::from(player)).copied().flatten();
        let world_name = world.world.info.name.clone();
        match occupant {
            Some(Occupant::Local(target)) if target != client => {
                let answer = self.deliver_told(target, me, from, text);
                let answer = match answer {
                    Ok(()) => ServerMessage::Delivered { request },
                    Err(err) => refused(Some(request), err.code, err.message),
                };
                self.send(client, &answer);
            }
            Some(Occupant::Remote(key)) => {
                if busy {
                    let err = ProtocolError::new(ErrorCode::Busy, "too many requests waiting");
                    self.breach(client, Some(request), &err);
                    return;
                }
                self.tell_across(client, request, key, world_name, from, text);
            }
            _ => {
                let err = ProtocolError::new(
                    ErrorCode::NotFound,
                    format!("no other player {player} in this world"),
                );
                self.breach(client, Some(request), &err);
            }
        }
    }

    /// Hands `text`, said by `account` (player `from` here), to `target`
    /// unless it blocks the speaker.
    fn deliver_told(
        &mut self,
        target: ClientId,
        from: u16,
        account: Address,
        text: String,
    ) -> Result<(), ProtocolError> {
        let blocks = self
            .sessions
            .get(&target)
            .is_none_or(|session| session.blocked.contains(&account));
        if blocks {
            return Err(ProtocolError::new(
                ErrorCode::Refused,
                "that player is not taking messages",
            ));
        }
        self.send(
            target,
            &ServerMessage::Told {
                player: from,
                account,
                text,
            },
        );
        Ok(())
    }

    /// The line goes to player `key` of another host, through that host.
    fn tell_across(
        &mut self,
        client: ClientId,
        request: u32,
        key: RemoteKey,
        world: String,
        from: Address,
        text: String,
    ) {
        if let Some(session) = self.sessions.get_mut(&client) {
            session.in_flight += 1;
        }
        let call = HostCall::Tell {
            world,
            player: key.1,
            from,
            text,
        };
        self.call(key.0, call, move |answer| {
            let message = match answer {
                Ok(CallAnswer::Done) => ServerMessage::Delivered { request },
                Ok(CallAnswer::Refused { code, message }) => refused(Some(request), code, message),
                Ok(CallAnswer::Trade { .. }) => refused(
                    Some(request),
                    ErrorCode::Unavailable,
                    "the player's host answered with a trade",
                ),
                Err(reason) => refused(
                    Some(request),
                    ErrorCode::Unavailable,
                    format!("the player's host could not be reached: {reason}"),
                ),
            };
            Reply::Answer(client, message)
        });
    }

    /// Another host's player `from` says `text` to this host's player
    /// `player` in `world`: given to it if the speaker is one that host
    /// has here and the player does not block it.
    pub(super) fn told_here(
        &mut self,
        host: Address,
        world: &str,
        player: u16,
        from: Address,
        text: String,
    ) -> CallAnswer {
        if let Err(err) = check_line(&text) {
            return CallAnswer::refused(ErrorCode::Malformed, err.message);
        }
        let Some(state) = self
            .worlds
            .iter_mut()
            .find(|state| state.world.info.name == world)
        else {
            return CallAnswer::refused(ErrorCode::NotFound, format!("no world {world:?} here"));
        };
        let Some(Occupant::Local(target)) = state.slots.get(usize::from(player)).copied().flatten()
        else {
            return CallAnswer::refused(
                ErrorCode::NotFound,
                format!("no player {player} of this host in {world}"),
            );
        };
        let Some(remote) = state
            .remotes
            .iter_mut()
            .find(|(key, remote)| key.0 == host && remote.account == from)
            .map(|(_, remote)| remote)
        else {
            return CallAnswer::refused(
                ErrorCode::NotFound,
                "the speaker is not one of your players this host shows",
            );
        };
        // One line a second from each player of another host, as chat.
        if !remote.may_say() {
            return CallAnswer::refused(ErrorCode::RateLimited, "one line a second");
        }
        let speaker = remote.player;
        match self.deliver_told(target, speaker, from, text) {
            Ok(()) => CallAnswer::Done,
            Err(err) => CallAnswer::refused(err.code, err.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sessions::fixture::{Fixture, SQUARE, code};
    use plaza_client::protocol::ClientMessage;

    fn says(fixture: &mut Fixture, client: ClientId, text: &str) {
        fixture.send(client, &ClientMessage::Chat { text: text.into() });
    }

    #[test]
    fn a_player_who_blocks_another_hears_none_of_its_lines_nor_its_invitations() {
        let mut fixture = Fixture::new();
        let (ada, _) = fixture.enter("ada", SQUARE);
        let (bo, _) = fixture.enter("bo", SQUARE);
        let (cy, _) = fixture.enter("cy", SQUARE);
        let ada_address = fixture.key("ada").address();
        fixture.send(
            bo,
            &ClientMessage::Block {
                request: 1,
                account: ada_address,
                blocked: true,
            },
        );
        let answer = fixture.until(bo, "the list", |message| message.request() == Some(1));
        assert_eq!(
            answer,
            ServerMessage::Blocked {
                request: 1,
                accounts: vec![ada_address]
            }
        );
        // Ada speaks: cy hears it, bo does not.
        says(&mut fixture, ada, "anyone here?");
        fixture.until(
            cy,
            "ada's line",
            |message| matches!(message, ServerMessage::Chat { text, .. } if text == "anyone here?"),
        );
        for _ in 0..5 {
            fixture.step();
        }
        assert!(
            !fixture
                .heard(bo)
                .iter()
                .any(|message| matches!(message, ServerMessage::Chat { .. }))
        );
        // Nor does an invitation from ada reach bo.
        let bo_player = fixture.server.sessions[&bo].player;
        fixture.send(
            ada,
            &ClientMessage::TradeInvite {
                request: 2,
                player: bo_player,
            },
        );
        let refused = fixture.until(ada, "the refusal", |message| message.request() == Some(2));
        assert_eq!(code(&refused), Some(ErrorCode::Refused), "{refused:?}");
        assert!(fixture.server.trades.is_empty());
        // Unblocked, ada is heard again.
        fixture.send(
            bo,
            &ClientMessage::Block {
                request: 3,
                account: ada_address,
                blocked: false,
            },
        );
        fixture.until(bo, "the list", |message| message.request() == Some(3));
        says(&mut fixture, ada, "hello again");
        fixture.until(
            bo,
            "ada's line",
            |message| matches!(message, ServerMessage::Chat { text, .. } if text == "hello again"),
        );
    }

    fn tells(fixture: &mut Fixture, client: ClientId, request: u32, player: u16, text: &str) {
        fixture.send(
            client,
            &ClientMessage::Tell {
                request,
                player,
                text: text.into(),
            },
        );
    }

    #[test]
    fn a_line_said_to_one_player_reaches_it_alone_unless_it_blocks_the_speaker() {
        let mut fixture = Fixture::new();
        let (ada, ada_player) = fixture.enter("ada", SQUARE);
        let (bo, bo_player) = fixture.enter("bo", SQUARE);
        let (cy, _) = fixture.enter("cy", SQUARE);
        let ada_address = fixture.key("ada").address();
        tells(&mut fixture, ada, 1, bo_player, "psst, bo");
        let answer = fixture.until(ada, "the answer", |m| m.request() == Some(1));
        assert_eq!(answer, ServerMessage::Delivered { request: 1 });
        let told = fixture.until(bo, "the line", |m| matches!(m, ServerMessage::Told { .. }));
        assert_eq!(
            told,
            ServerMessage::Told {
                player: ada_player,
                account: ada_address,
                text: "psst, bo".into(),
            }
        );
        for _ in 0..3 {
            fixture.step();
        }
        assert!(
            !fixture
                .heard(cy)
                .iter()
                .any(|m| matches!(m, ServerMessage::Told { .. } | ServerMessage::Chat { .. }))
        );

        // Nobody there, or oneself: not found.
        std::thread::sleep(std::time::Duration::from_millis(1_100));
        tells(&mut fixture, ada, 2, ada_player, "me?");
        let answer = fixture.until(ada, "the refusal", |m| m.request() == Some(2));
        assert_eq!(code(&answer), Some(ErrorCode::NotFound));

        // Bo blocks ada: her lines to him are refused and never arrive.
        fixture.send(
            bo,
            &ClientMessage::Block {
                request: 3,
                account: ada_address,
                blocked: true,
            },
        );
        fixture.until(bo, "the list", |m| m.request() == Some(3));
        std::thread::sleep(std::time::Duration::from_millis(1_100));
        tells(&mut fixture, ada, 4, bo_player, "still there?");
        let answer = fixture.until(ada, "the refusal", |m| m.request() == Some(4));
        assert_eq!(code(&answer), Some(ErrorCode::Refused));
        for _ in 0..3 {
            fixture.step();
        }
        assert!(
            !fixture
                .heard(bo)
                .iter()
                .any(|m| matches!(m, ServerMessage::Told { .. }))
        );
    }

    #[test]
    fn lines_to_one_player_cross_hosts_through_the_players_host() {
        use crate::sessions::fixture::present;
        let mut fixture = Fixture::new();
        let (ada, _) = fixture.enter("ada", SQUARE);
        let ada_player = fixture.server.sessions[&ada].player;
        let ada_address = fixture.key("ada").address();
        let host = ledger::Keypair::from_seed([9; 32]);
        let bo = fixture.key("bo").address();
        fixture.arrives(
            &host,
            1,
            vec![present(3, bo, [1.0, 0.0, 1.0], Vec::new())],
            Vec::new(),
        );
        let bo_here = fixture.joined_as(ada, bo);

        // Ada to bo: through bo's host, whose word is the answer.
        tells(&mut fixture, ada, 1, bo_here, "hello, other host");
        let call = fixture.next_call();
        assert_eq!(call.host, host.address());
        assert_eq!(
            call.call,
            HostCall::Tell {
                world: SQUARE.into(),
                player: 3,
                from: ada_address,
                text: "hello, other host".into(),
            }
        );
        call.answer.send(Ok(CallAnswer::Done)).unwrap();
        let answer = fixture.until(ada, "the answer", |m| m.request() == Some(1));
        assert_eq!(answer, ServerMessage::Delivered { request: 1 });

        // Bo to ada, from bo's host: ada hears it from bo's number here.
        let line = |from: Address, player: u16| HostCall::Tell {
            world: SQUARE.into(),
            player,
            from,
            text: "hello back".into(),
        };
        assert_eq!(
            fixture.call_in(host.address(), line(bo, ada_player)),
            CallAnswer::Done
        );
        let told = fixture.until(ada, "bo's line", |m| {
            matches!(m, ServerMessage::Told { .. })
        });
        assert_eq!(
            told,
            ServerMessage::Told {
                player: bo_here,
                account: bo,
                text: "hello back".into(),
            }
        );
        // In someone else's name, to nobody, from a host with no
        // presence here, or too often: refused.
        let cy = fixture.key("cy").address();
        let stranger = ledger::Keypair::from_seed([10; 32]).address();
        for (from_host, call, refusal) in [
            (host.address(), line(cy, ada_player), ErrorCode::NotFound),
            (
                host.address(),
                line(bo, ada_player + 7),
                ErrorCode::NotFound,
            ),
            (stranger, line(bo, ada_player), ErrorCode::NotFound),
        ] {
            match fixture.call_in(from_host, call) {
                CallAnswer::Refused { code, .. } => assert_eq!(code, refusal),
                other => panic!("not refused: {other:?}"),
            }
        }
        let mut limited = false;
        for _ in 0..8 {
            limited |= matches!(
                fixture.call_in(host.address(), line(bo, ada_player)),
                CallAnswer::Refused {
                    code: ErrorCode::RateLimited,
                    ..
                }
            );
        }
        assert!(limited, "a line a second, five at once");
        // Ada blocks bo: refused.
        fixture.send(
            ada,
            &ClientMessage::Block {
                request: 2,
                account: bo,
                blocked: true,
            },
        );
        fixture.until(ada, "the list", |m| m.request() == Some(2));
        std::thread::sleep(std::time::Duration::from_millis(1_100));
        match fixture.call_in(host.address(), line(bo, ada_player)) {
            CallAnswer::Refused { code, .. } => assert_eq!(code, ErrorCode::Refused),
            other => panic!("not refused: {other:?}"),
        }
    }
}
