//! Entering and leaving a world: a client connects with a token that
//! names its account, says hello for a world, and leaves it again.

use std::collections::VecDeque;

use ledger::Address;
use renet::ClientId;
use tracing::{debug, info};

use super::avatars::{MAX_SPEED, STRIDE_BURST, STRIDE_SLACK};
use super::limits::Session;
use super::server::{Reply, Server, deliver, error, refused};
use crate::rate::Bucket;
use plaza_client::protocol::{
    self, ErrorCode, PlayerInfo, ProtocolError, ServerMessage, SessionState, TICK_HZ, VERSION,
    WorldInfo,
};

impl Server {
    pub(super) fn connected(&mut self, client: ClientId) {
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

    pub(super) fn hello(&mut self, client: ClientId, version: u16, name: &str) {
        if version != VERSION {
            let err = ProtocolError::new(
                ErrorCode::WrongVersion,
                format!("this host speaks protocol {VERSION}, the client {version}"),
            );
            self.send(client, &error(None, &err));
            self.renet.disconnect(client);
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
        let work = *self.handle.backlog().borrow();
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
}
