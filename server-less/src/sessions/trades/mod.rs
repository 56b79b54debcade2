//! Face-to-face trades: windows between two players of one world,
//! their actions queued and applied one at a time, the signed trade
//! submitted when both have signed. A window with a player of another
//! host of the world lives at the inviter's host (see [`across`]).

use std::collections::VecDeque;

use ledger::Address;
use market::TradeWindow;
use market::trade::{Action, Stage};
use renet::ClientId;

use super::convert::trade_view;
use super::presence::RemoteKey;
use super::queries::unavailable;
use super::replies::{Reply, deliver};
use super::server::{Occupant, Server, refused};
use crate::calls::CallAnswer;
use crate::error::HostError;
use crate::node::TradeOutcome;
use plaza_client::protocol::{ErrorCode, ProtocolError, ServerMessage};
use tokio::sync::oneshot;

mod across;
pub(super) use across::Relayed;

/// Trade windows one player may be part of.
pub(super) const MAX_TRADES: usize = 2;

/// Actions waiting on one trade window.
pub(super) const MAX_TRADE_QUEUE: usize = 8;

/// A trade window this host keeps.
pub(super) struct TradeSlot {
    pub(super) window: TradeWindow,
    /// Its players at this host: both, or the inviter alone when the
    /// invitee plays at another host.
    pub(super) clients: Vec<ClientId>,
    /// The invitee, when it plays at another host of the world.
    pub(super) remote: Option<RemoteParty>,
    pub(super) busy: bool,
    pub(super) queue: VecDeque<(Asker, Action)>,
}

/// A trade's invitee at another host.
pub(super) struct RemoteParty {
    /// Its host, and its number there.
    pub(super) key: RemoteKey,
    /// Its account.
    pub(super) account: Address,
    /// Whether its host took the invitation (until then the window is
    /// not told to it).
    pub(super) invited: bool,
    /// Views of the window sent to its host so far (news and answers):
    /// each is numbered, so that its host drops one overtaken by a newer.
    pub(super) views: u64,
}

impl RemoteParty {
    /// The next view's number.
    pub(super) fn next_view(&mut self) -> u64 {
        self.views += 1;
        self.views
    }
}

/// Who asked for a trade action, and where its answer goes.
pub(super) enum Asker {
    /// A player of this host, and its request.
    Local(ClientId, u32),
    /// The invitee at another host, through its host's call.
    Remote(oneshot::Sender<CallAnswer>),
}

impl Server {
    /// Opens a window between `from`, this host's player `client` who
    /// asked for it in `request`, and `to`: refused (and `None`) when one
    /// of the `parties` at this host is in [`MAX_TRADES`] trades already
    /// or the market will not open it; otherwise the trade's number,
    /// counted among each party's trades, and its window.
    fn open_window(
        &mut self,
        client: ClientId,
        request: u32,
        parties: &[ClientId],
        from: Address,
        to: Address,
    ) -> Option<(u64, TradeWindow)> {
        let busy = parties.iter().any(|c| {
            self.sessions
                .get(c)
                .is_none_or(|session| session.trades.len() >= MAX_TRADES)
        });
        if busy {
            self.send(
                client,
                &refused(
                    Some(request),
                    ErrorCode::Busy,
                    format!("a player is already in {MAX_TRADES} trades"),
                ),
            );
            return None;
        }
        let window = match TradeWindow::invite(self.chain_id.clone(), from, to, self.handle.now()) {
            Ok(window) => window,
            Err(err) => {
                self.send(
                    client,
                    &refused(Some(request), ErrorCode::Refused, err.to_string()),
                );
                return None;
            }
        };
        let trade = self.next_trade;
        self.next_trade += 1;
        for party in parties {
            if let Some(session) = self.sessions.get_mut(party) {
                session.trades.push(trade);
            }
        }
        Some((trade, window))
    }

    pub(super) fn trade_invite(&mut self, client: ClientId, request: u32, player: u16) {
        let Some(session) = self.sessions.get(&client) else {
            return;
        };
        let from = session.account;
        let occupant = self
            .worlds
            .get(session.world)
            .and_then(|world| world.slots.get(usize::from(player)).copied().flatten());
        let target = match occupant {
            Some(Occupant::Local(target)) => Some(target),
            Some(Occupant::Remote(key)) => {
                self.invite_across(client, request, session.world, key);
                return;
            }
            None => None,
        };
        let Some(target) = target.filter(|target| *target != client) else {
            let err = ProtocolError::new(
                ErrorCode::NotFound,
                format!("no other player {player} in this world"),
            );
            self.breach(client, Some(request), &err);
            return;
        };
        let Some((to, blocks)) = self
            .sessions
            .get(&target)
            .map(|session| (session.account, session.blocked.contains(&from)))
        else {
            return;
        };
        if blocks {
            self.send(
                client,
                &refused(
                    Some(request),
                    ErrorCode::Refused,
                    format!("player {player} is not taking trade invitations"),
                ),
            );
            return;
        }
        let Some((trade, window)) = self.open_window(client, request, &[client, target], from, to)
        else {
            return;
        };
        let view = trade_view(trade, &window);
        self.trades.insert(
            trade,
            TradeSlot {
                window,
                clients: vec![client, target],
                remote: None,
                busy: false,
                queue: VecDeque::new(),
            },
        );
        self.send(
            client,
            &ServerMessage::Trade {
                request: Some(request),
                view: Box::new(view.clone()),
            },
        );
        self.send(
            target,
            &ServerMessage::Trade {
                request: None,
                view: Box::new(view),
            },
        );
    }

    pub(super) fn trade_act(&mut self, client: ClientId, request: u32, trade: u64, action: Action) {
        if self.relayed.contains_key(&trade) {
            self.relay_act(client, request, trade, action);
            return;
        }
        let Some(slot) = self.trades.get_mut(&trade) else {
            let err = ProtocolError::new(ErrorCode::NotFound, format!("no open trade {trade}"));
            self.breach(client, Some(request), &err);
            return;
        };
        if !slot.clients.contains(&client) {
            let err =
                ProtocolError::new(ErrorCode::NotFound, format!("trade {trade} is not yours"));
            self.breach(client, Some(request), &err);
            return;
        }
        if slot.queue.len() >= MAX_TRADE_QUEUE {
            let err = ProtocolError::new(ErrorCode::Busy, "too many trade actions waiting");
            self.breach(client, Some(request), &err);
            return;
        }
        slot.queue
            .push_back((Asker::Local(client, request), action));
        self.next_trade_action(trade);
    }

    /// Sends the next waiting action of `trade` to the ledger thread; one
    /// at a time, so each acts on the window the last one left.
    pub(super) fn next_trade_action(&mut self, trade: u64) {
        let Some(slot) = self.trades.get_mut(&trade) else {
            return;
        };
        if slot.busy {
            return;
        }
        let Some((asker, action)) = slot.queue.pop_front() else {
            return;
        };
        let who = match &asker {
            Asker::Local(client, _) => match self.sessions.get_mut(client) {
                Some(session) => {
                    session.in_flight += 1;
                    session.account
                }
                None => return,
            },
            Asker::Remote(_) => match &slot.remote {
                Some(remote) => remote.account,
                None => return,
            },
        };
        slot.busy = true;
        let window = slot.window.clone();
        let handle = self.handle.clone();
        let replies = self.replies.clone();
        self.runtime.spawn(async move {
            let outcome = handle.trade_act(window, who, action).await;
            deliver(&replies, Reply::Trade(trade, asker, outcome));
        });
    }

    /// `who` left: their windows close.
    pub(super) fn close_trade_for(&mut self, trade: u64, client: ClientId, who: &Address) {
        if self.relayed.contains_key(&trade) {
            self.drop_relayed(trade, None, None);
            return;
        }
        let Some(mut slot) = self.trades.remove(&trade) else {
            return;
        };
        let mut view = trade_view(trade, &slot.window);
        if !slot.window.is_closed() {
            view.stage = Stage::Cancelled { by: *who };
        }
        if let Some(remote) = &mut slot.remote {
            let seq = remote.next_view();
            self.push_view(remote.key.0, seq, view.clone(), None);
        }
        for other in slot.clients {
            if other != client {
                if let Some(session) = self.sessions.get_mut(&other) {
                    session.trades.retain(|t| *t != trade);
                }
                self.send(
                    other,
                    &ServerMessage::Trade {
                        request: None,
                        view: Box::new(view.clone()),
                    },
                );
            }
        }
    }

    pub(super) fn expire_trades(&mut self) {
        let now = self.handle.now();
        let expired: Vec<u64> = self
            .trades
            .iter_mut()
            .filter_map(|(id, slot)| (!slot.busy && slot.window.tick(now)).then_some(*id))
            .collect();
        for trade in expired {
            self.finish_trade(trade, None, true);
        }
        self.expire_relayed();
    }

    /// Tells both sides where `trade` stands (answering `answer`'s
    /// request; the other host's player too if `tell_remote`), and
    /// forgets it if closed.
    pub(super) fn finish_trade(
        &mut self,
        trade: u64,
        answer: Option<(ClientId, u32)>,
        tell_remote: bool,
    ) {
        let Some(slot) = self.trades.get_mut(&trade) else {
            return;
        };
        let view = trade_view(trade, &slot.window);
        let clients = slot.clients.clone();
        let closed = slot.window.is_closed();
        let news = match &mut slot.remote {
            Some(remote) if tell_remote && remote.invited => {
                Some((remote.key.0, remote.next_view()))
            }
            _ => None,
        };
        if let Some((host, seq)) = news {
            self.push_view(host, seq, view.clone(), Some(trade));
        }
        for client in clients.iter().copied() {
            let request = answer
                .filter(|(actor, _)| *actor == client)
                .map(|(_, request)| request);
            self.send(
                client,
                &ServerMessage::Trade {
                    request,
                    view: Box::new(view.clone()),
                },
            );
        }
        if closed {
            self.trades.remove(&trade);
            for client in clients {
                if let Some(session) = self.sessions.get_mut(&client) {
                    session.trades.retain(|t| *t != trade);
                }
            }
        }
    }

    pub(super) fn traded(
        &mut self,
        trade: u64,
        asker: Asker,
        outcome: Result<TradeOutcome, HostError>,
    ) {
        if let Asker::Local(client, _) = &asker {
            self.answered(*client);
        }
        let Some(slot) = self.trades.get_mut(&trade) else {
            // Closed meanwhile (a player left).
            if let Asker::Remote(answer) = asker {
                let _ = answer.send(CallAnswer::refused(
                    ErrorCode::NotFound,
                    format!("trade {trade} has closed"),
                ));
            }
            return;
        };
        slot.busy = false;
        match (asker, outcome) {
            (Asker::Local(client, request), Ok((window, Ok(())))) => {
                slot.window = *window;
                self.finish_trade(trade, Some((client, request)), true);
            }
            (Asker::Remote(answer), Ok((window, Ok(())))) => {
                slot.window = *window;
                let seq = slot.remote.as_mut().map_or(0, RemoteParty::next_view);
                let view = Box::new(trade_view(trade, &slot.window));
                // The other host gave up waiting: it hears as news.
                let unheard = answer.send(CallAnswer::Trade { seq, view }).is_err();
                self.finish_trade(trade, None, unheard);
            }
            (Asker::Local(client, request), Ok((_, Err(err)))) => {
                self.send(
                    client,
                    &refused(Some(request), ErrorCode::Refused, err.to_string()),
                );
            }
            (Asker::Remote(answer), Ok((_, Err(err)))) => {
                let _ = answer.send(CallAnswer::refused(ErrorCode::Refused, err.to_string()));
            }
            (Asker::Local(client, request), Err(err)) => {
                self.send(client, &unavailable(request, &err));
            }
            (Asker::Remote(answer), Err(err)) => {
                let _ = answer.send(CallAnswer::refused(ErrorCode::Unavailable, err.to_string()));
            }
        }
        self.next_trade_action(trade);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sessions::fixture::{Fixture, SQUARE, code};
    use plaza_client::protocol::{ClientMessage, TradeView};

    fn view(message: ServerMessage) -> TradeView {
        match message {
            ServerMessage::Trade { view, .. } => *view,
            other => panic!("not a trade: {other:?}"),
        }
    }

    #[test]
    fn a_trade_opens_between_two_players_and_closes_for_both_when_one_cancels() {
        let mut fixture = Fixture::new();
        let (ada, ada_player) = fixture.enter("ada", SQUARE);
        let (bo, bo_player) = fixture.enter("bo", SQUARE);

        // No one to trade with: nobody at that number, or oneself.
        fixture.send(
            ada,
            &ClientMessage::TradeInvite {
                request: 1,
                player: 999,
            },
        );
        let nobody = fixture.until(ada, "a refusal", |message| message.request() == Some(1));
        assert_eq!(code(&nobody), Some(ErrorCode::NotFound));
        fixture.send(
            ada,
            &ClientMessage::TradeInvite {
                request: 2,
                player: ada_player,
            },
        );
        let oneself = fixture.until(ada, "a refusal", |message| message.request() == Some(2));
        assert_eq!(code(&oneself), Some(ErrorCode::NotFound));

        // Ada invites Bo: both see the window.
        fixture.send(
            ada,
            &ClientMessage::TradeInvite {
                request: 3,
                player: bo_player,
            },
        );
        let opened = view(fixture.until(ada, "the window", |message| message.request() == Some(3)));
        let told = view(fixture.until(bo, "the invitation", |message| {
            matches!(message, ServerMessage::Trade { .. })
        }));
        assert_eq!(opened.trade, told.trade);
        assert_eq!(opened.inviter, fixture.key("ada").address());
        assert_eq!(opened.invitee, fixture.key("bo").address());
        let trade = opened.trade;

        // A window that is not theirs, or not there, is refused.
        let (cy, _) = fixture.enter("cy", SQUARE);
        fixture.send(
            cy,
            &ClientMessage::TradeAct {
                request: 4,
                trade,
                action: Action::Cancel,
            },
        );
        let theirs = fixture.until(cy, "a refusal", |message| message.request() == Some(4));
        assert_eq!(code(&theirs), Some(ErrorCode::NotFound));
        fixture.send(
            cy,
            &ClientMessage::TradeAct {
                request: 5,
                trade: trade + 100,
                action: Action::Cancel,
            },
        );
        let gone = fixture.until(cy, "a refusal", |message| message.request() == Some(5));
        assert_eq!(code(&gone), Some(ErrorCode::NotFound));

        // Bo cancels: both are told, and the window is gone.
        fixture.send(
            bo,
            &ClientMessage::TradeAct {
                request: 6,
                trade,
                action: Action::Cancel,
            },
        );
        let answer = view(fixture.until(bo, "the answer", |message| message.request() == Some(6)));
        let bo_address = fixture.key("bo").address();
        assert_eq!(answer.stage, Stage::Cancelled { by: bo_address });
        let news = view(fixture.until(ada, "the news", |message| {
            matches!(message, ServerMessage::Trade { request: None, .. })
        }));
        assert_eq!(news.stage, Stage::Cancelled { by: bo_address });
        assert!(fixture.server.trades.is_empty());
        assert!(fixture.server.sessions[&ada].trades.is_empty());
    }

    #[test]
    fn a_player_in_as_many_trades_as_allowed_is_busy_and_a_leaver_cancels_theirs() {
        let mut fixture = Fixture::new();
        let (ada, _) = fixture.enter("ada", SQUARE);
        let mut others = Vec::new();
        for name in ["bo", "cy", "dee"] {
            others.push(fixture.enter(name, SQUARE));
        }
        for (request, (_, player)) in others.iter().enumerate() {
            let request = request as u32 + 1;
            fixture.send(
                ada,
                &ClientMessage::TradeInvite {
                    request,
                    player: *player,
                },
            );
            let answer = fixture.until(ada, "the answer", |message| {
                message.request() == Some(request)
            });
            if (request as usize) <= MAX_TRADES {
                view(answer);
            } else {
                assert_eq!(code(&answer), Some(ErrorCode::Busy), "{answer:?}");
            }
        }
        // Ada leaves: the windows she was in close as cancelled by her.
        let ada_address = fixture.key("ada").address();
        fixture.server.renet.disconnect(ada);
        for (client, _) in others.iter().take(MAX_TRADES) {
            let closed = view(fixture.until(*client, "the window closing", |message| {
                matches!(message, ServerMessage::Trade { view, .. } if view.stage.is_closed())
            }));
            assert_eq!(closed.stage, Stage::Cancelled { by: ada_address });
        }
        assert!(fixture.server.trades.is_empty());
    }
}
