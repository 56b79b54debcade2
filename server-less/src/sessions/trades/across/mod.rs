//! Trades between players of two hosts of one world. The window lives at
//! the inviter's host, its *home*, which runs it exactly as a window
//! between two of its own players, the invitee's actions arriving as
//! calls from the invitee's host. The invitee's host *relays*: it shows
//! its player the window under a number of its own, passes the player's
//! actions to the home and the home's answers back.
//!
//! Neither host believes the other more than it must: a call about a
//! window is taken only from the host that is the window's other end,
//! an invitation only for a player who is here, from a player that host
//! is showing here, and the assets move only when both players have
//! signed the terms in their own clients (the ledger checks both
//! signatures). When either end goes (its player leaves, or its host
//! falls silent), the window closes on both sides as cancelled.

use renet::ClientId;
use tokio::sync::oneshot;
use tracing::debug;

use super::{Asker, MAX_TRADE_QUEUE, RemoteParty, TradeSlot};
use crate::calls::{CallAnswer, HostCall, InCall, OutCall};
use crate::sessions::convert::trade_view;
use crate::sessions::presence::RemoteKey;
use crate::sessions::replies::{Reply, deliver};
use crate::sessions::server::{Server, refused};
use ledger::Address;
use market::trade::{Action, Stage};
use plaza_client::protocol::{ErrorCode, ServerMessage, TradeView};

/// Calls from other hosts taken in one tick, at most.
const CALLS_PER_TICK: usize = 32;

mod relay;

pub(in crate::sessions) use relay::Relayed;

impl Server {
    /// Calls `host`; what it answers (or why nothing came) goes to the
    /// tick as `then` makes it.
    pub(in crate::sessions) fn call(
        &self,
        host: Address,
        call: HostCall,
        then: impl FnOnce(Result<CallAnswer, String>) -> Reply + Send + 'static,
    ) {
        let Some(link) = &self.link else {
            deliver(
                &self.replies,
                then(Err("this host has no peer network".into())),
            );
            return;
        };
        let (answer, answered) = oneshot::channel();
        if let Err(err) = link.calls.try_send(OutCall { host, call, answer }) {
            let reason = match err {
                tokio::sync::mpsc::error::TrySendError::Full(_) => "too many calls waiting",
                tokio::sync::mpsc::error::TrySendError::Closed(_) => "the peer network stopped",
            };
            deliver(&self.replies, then(Err(reason.into())));
            return;
        }
        let replies = self.replies.clone();
        self.runtime.spawn(async move {
            let answer = answered
                .await
                .unwrap_or_else(|_| Err("the peer network stopped".into()));
            deliver(&replies, then(answer));
        });
    }

    /// This host's player `client` invites player `key` of another host
    /// of world `world`: the window opens here, and its host is asked to
    /// show it to its player; the inviter hears once it has answered.
    pub(super) fn invite_across(
        &mut self,
        client: ClientId,
        request: u32,
        world: usize,
        key: RemoteKey,
    ) {
        let Some(from) = self.sessions.get(&client).map(|session| session.account) else {
            return;
        };
        let Some((to, world_name)) = self.worlds.get(world).and_then(|state| {
            let remote = state.remotes.get(&key)?;
            Some((remote.account, state.world.info.name.clone()))
        }) else {
            return;
        };
        let Some((trade, window)) = self.open_window(client, request, &[client], from, to) else {
            return;
        };
        let view = trade_view(trade, &window);
        if let Some(session) = self.sessions.get_mut(&client) {
            session.in_flight += 1;
        }
        self.trades.insert(
            trade,
            TradeSlot {
                window,
                clients: vec![client],
                remote: Some(RemoteParty {
                    key,
                    account: to,
                    invited: false,
                    views: 0,
                }),
                busy: false,
                queue: std::collections::VecDeque::new(),
            },
        );
        let call = HostCall::TradeInvite {
            world: world_name,
            player: key.1,
            view: view.clone(),
        };
        let host = key.0;
        self.call(host, call, move |answer| {
            Reply::Invited(trade, client, request, host, Box::new(view), answer)
        });
    }

    /// `host`, the invitee's, answered the invitation of `trade` (sent
    /// as `sent`).
    pub(in crate::sessions) fn invite_answered(
        &mut self,
        trade: u64,
        (client, request): (ClientId, u32),
        host: Address,
        sent: TradeView,
        answer: Result<CallAnswer, String>,
    ) {
        self.answered(client);
        let mut closed = sent;
        closed.stage = Stage::Cancelled { by: closed.inviter };
        let Some(slot) = self.trades.get_mut(&trade) else {
            // The inviter gave up meanwhile: the invitee's host, which
            // may have taken it, hears the window closed.
            self.push_view(host, 1, closed, None);
            return;
        };
        let refusal = match answer {
            Ok(CallAnswer::Done) => {
                if let Some(remote) = &mut slot.remote {
                    remote.invited = true;
                }
                let view = trade_view(trade, &slot.window);
                self.send(
                    client,
                    &ServerMessage::Trade {
                        request: Some(request),
                        view: Box::new(view),
                    },
                );
                return;
            }
            Ok(CallAnswer::Refused { code, message }) => (code, message),
            Ok(CallAnswer::Trade { .. }) => (
                ErrorCode::Unavailable,
                "the other host answered the invitation with a window".to_owned(),
            ),
            Err(reason) => (
                ErrorCode::Unavailable,
                format!("the player's host could not be reached: {reason}"),
            ),
        };
        self.trades.remove(&trade);
        if let Some(session) = self.sessions.get_mut(&client) {
            session.trades.retain(|t| *t != trade);
        }
        // Taken after all (the answer lost on the way): closed there too.
        self.push_view(host, 1, closed, None);
        self.send(client, &refused(Some(request), refusal.0, refusal.1));
    }

    /// Tells `host` where a window whose invitee plays there stands; if
    /// it cannot be told, window `trade` (still open here) closes.
    pub(super) fn push_view(&self, host: Address, seq: u64, view: TradeView, trade: Option<u64>) {
        self.call(host, HostCall::TradeView { seq, view }, move |answer| {
            Reply::Pushed(trade, answer)
        });
    }

    /// What the invitee's host said to a window's news.
    pub(in crate::sessions) fn pushed(
        &mut self,
        trade: Option<u64>,
        answer: Result<CallAnswer, String>,
    ) {
        let failed = match answer {
            Ok(CallAnswer::Done) => return,
            Ok(CallAnswer::Refused { message, .. }) => message,
            Ok(CallAnswer::Trade { .. }) => "a window for news".to_owned(),
            Err(reason) => reason,
        };
        debug!(?trade, %failed, "a trade's news did not reach the invitee's host");
        // The two sides no longer agree: the window closes here, and the
        // other side is told so (if that too fails, it forgets the window
        // once its home is silent or says it is gone).
        if let Some(trade) = trade
            && let Some(by) = self
                .trades
                .get(&trade)
                .and_then(|slot| slot.remote.as_ref().map(|remote| remote.account))
        {
            self.close_home_trade(trade, by);
        }
    }

    /// Closes window `trade` here as cancelled by `by` (unless it closed
    /// already), telling this host's players in it and the other host.
    fn close_home_trade(&mut self, trade: u64, by: Address) {
        let Some(mut slot) = self.trades.remove(&trade) else {
            return;
        };
        let mut view = trade_view(trade, &slot.window);
        if !slot.window.is_closed() {
            view.stage = Stage::Cancelled { by };
        }
        if let Some(remote) = &mut slot.remote {
            let seq = remote.next_view();
            self.push_view(remote.key.0, seq, view.clone(), None);
        }
        for client in slot.clients {
            if let Some(session) = self.sessions.get_mut(&client) {
                session.trades.retain(|t| *t != trade);
            }
            self.send(
                client,
                &ServerMessage::Trade {
                    request: None,
                    view: Box::new(view.clone()),
                },
            );
        }
    }

    /// Player `key` of another host is no longer shown here: the windows
    /// it was in close on this side, and the other side is told.
    pub(in crate::sessions) fn trader_left(&mut self, key: RemoteKey, account: Address) {
        let homed: Vec<u64> = self
            .trades
            .iter()
            .filter(|(_, slot)| slot.remote.as_ref().is_some_and(|r| r.key == key))
            .map(|(trade, _)| *trade)
            .collect();
        for trade in homed {
            self.close_home_trade(trade, account);
        }
        let relayed: Vec<u64> = self
            .relayed
            .iter()
            .filter(|(_, relayed)| relayed.inviter == key)
            .map(|(trade, _)| *trade)
            .collect();
        for trade in relayed {
            self.drop_relayed(trade, Some(Stage::Cancelled { by: account }), None);
        }
    }

    /// Takes in the calls other hosts made of this one.
    pub(in crate::sessions) fn drain_calls(&mut self) {
        let Some(link) = &self.link else {
            return;
        };
        let mut calls = Vec::new();
        {
            let mut called = link.called.lock().unwrap_or_else(|p| p.into_inner());
            while calls.len() < CALLS_PER_TICK {
                match called.try_recv() {
                    Ok(call) => calls.push(call),
                    Err(_) => break,
                }
            }
        }
        for InCall { host, call, answer } in calls {
            if !self.hosts.contains_key(&host) {
                let _ = answer.send(CallAnswer::refused(
                    ErrorCode::NotFound,
                    "this host has heard no presence of yours",
                ));
                continue;
            }
            match call {
                HostCall::TradeInvite {
                    world,
                    player,
                    view,
                } => {
                    let said = self.invited_here(host, &world, player, view);
                    let _ = answer.send(said);
                }
                HostCall::TradeView { seq, view } => {
                    let said = self.news_here(host, seq, view);
                    let _ = answer.send(said);
                }
                HostCall::TradeAct { trade, action } => self.act_here(host, trade, action, answer),
                HostCall::Tell {
                    world,
                    player,
                    from,
                    text,
                } => {
                    let said = self.told_here(host, &world, player, from, text);
                    let _ = answer.send(said);
                }
            }
        }
    }

    /// Another host's player acts on window `trade` here.
    fn act_here(
        &mut self,
        host: Address,
        trade: u64,
        action: Action,
        answer: oneshot::Sender<CallAnswer>,
    ) {
        let Some(slot) = self.trades.get_mut(&trade) else {
            let _ = answer.send(CallAnswer::refused(
                ErrorCode::NotFound,
                format!("no open trade {trade}"),
            ));
            return;
        };
        // Only the invitee's host was told the window's id; it may act
        // before its answer to the invitation arrives.
        let theirs = match &mut slot.remote {
            Some(remote) if remote.key.0 == host => {
                remote.invited = true;
                true
            }
            _ => false,
        };
        if !theirs {
            let _ = answer.send(CallAnswer::refused(
                ErrorCode::NotFound,
                format!("trade {trade} is not your player's"),
            ));
            return;
        }
        if slot.queue.len() >= MAX_TRADE_QUEUE {
            let _ = answer.send(CallAnswer::refused(
                ErrorCode::Busy,
                "too many trade actions waiting",
            ));
            return;
        }
        slot.queue.push_back((Asker::Remote(answer), action));
        self.next_trade_action(trade);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sessions::fixture::{Fixture, SQUARE, present};
    use ledger::Keypair;
    use plaza_client::protocol::ClientMessage;

    pub(super) fn view_of(message: ServerMessage) -> TradeView {
        match message {
            ServerMessage::Trade { view, .. } => *view,
            other => panic!("not a trade: {other:?}"),
        }
    }

    pub(super) fn refused_with(answer: &CallAnswer) -> Option<ErrorCode> {
        match answer {
            CallAnswer::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Ada plays here; bo is player 3 of `host`, shown to ada: the
    /// fixture, ada, ada's and bo's accounts, and bo's number here.
    pub(super) fn ada_meets_bo(host: &Keypair) -> (Fixture, ClientId, Address, Address, u16) {
        let mut fixture = Fixture::new();
        let (ada, _) = fixture.enter("ada", SQUARE);
        let bo = fixture.key("bo").address();
        fixture.arrives(
            host,
            1,
            vec![present(3, bo, [1.0, 0.0, 1.0], Vec::new())],
            Vec::new(),
        );
        let bo_here = fixture.joined_as(ada, bo);
        let ada_account = fixture.key("ada").address();
        (fixture, ada, ada_account, bo, bo_here)
    }

    #[test]
    fn a_window_with_a_player_of_another_host_lives_at_the_inviters_host() {
        let host = Keypair::from_seed([9; 32]);
        let (mut fixture, ada, ada_account, bo, bo_here) = ada_meets_bo(&host);

        // Ada invites bo: bo's host is asked, and ada hears once it says yes.
        fixture.send(
            ada,
            &ClientMessage::TradeInvite {
                request: 1,
                player: bo_here,
            },
        );
        let call = fixture.next_call();
        assert_eq!(call.host, host.address());
        let HostCall::TradeInvite {
            world,
            player,
            view,
        } = call.call
        else {
            panic!("not an invitation: {:?}", call.call);
        };
        assert_eq!((world.as_str(), player), (SQUARE, 3));
        assert_eq!((view.inviter, view.invitee), (ada_account, bo));
        assert_eq!(view.stage, Stage::Invited);
        let trade = view.trade;

        // Another host cannot act on the window, even one that told of
        // its players here; bo's host can, for bo, even before its
        // answer to the invitation arrives.
        let stranger = Keypair::from_seed([10; 32]);
        let cancel = HostCall::TradeAct {
            trade,
            action: Action::Cancel,
        };
        let answer = fixture.call_in(stranger.address(), cancel.clone());
        assert_eq!(refused_with(&answer), Some(ErrorCode::NotFound));
        fixture.arrives(&stranger, 1, Vec::new(), Vec::new());
        let answer = fixture.call_in(stranger.address(), cancel);
        assert_eq!(refused_with(&answer), Some(ErrorCode::NotFound));
        let accept = HostCall::TradeAct {
            trade,
            action: Action::Accept,
        };
        let CallAnswer::Trade {
            seq,
            view: accepted,
        } = fixture.call_in(host.address(), accept)
        else {
            panic!("no window back");
        };
        assert_eq!(seq, 1);
        assert_eq!(
            (accepted.trade, accepted.stage.clone()),
            (trade, Stage::Open)
        );
        call.answer.send(Ok(CallAnswer::Done)).unwrap();
        let opened = view_of(fixture.until(ada, "the window", |m| m.request() == Some(1)));
        assert_eq!(opened.stage, Stage::Open);

        // Ada's own change is news for bo's host.
        fixture.send(
            ada,
            &ClientMessage::TradeAct {
                request: 2,
                trade,
                action: Action::SetTokens {
                    amount: 5,
                    revision: accepted.revision,
                },
            },
        );
        let call = fixture.next_call();
        let HostCall::TradeView { seq, view } = &call.call else {
            panic!("not news: {:?}", call.call);
        };
        assert_eq!((*seq, view.offers[0].tokens), (2, 5));
        call.answer.send(Ok(CallAnswer::Done)).unwrap();
        fixture.until(ada, "ada's answer", |m| m.request() == Some(2));

        // Bo leaves its host: the window closes here as cancelled by bo,
        // and bo's host is told.
        fixture.arrives(&host, 2, Vec::new(), vec![3]);
        let closed = view_of(fixture.until(
            ada,
            "the window closing",
            |m| matches!(m, ServerMessage::Trade { view, .. } if view.stage.is_closed()),
        ));
        assert_eq!(closed.stage, Stage::Cancelled { by: bo });
        assert!(fixture.server.trades.is_empty());
        assert!(fixture.server.sessions[&ada].trades.is_empty());
        let call = fixture.next_call();
        assert!(
            matches!(&call.call, HostCall::TradeView { seq: 3, view } if view.stage == Stage::Cancelled { by: bo }),
            "{:?}",
            call.call
        );
    }

    #[test]
    fn an_invitation_the_invitees_host_refuses_or_cannot_hear_closes_the_window() {
        let host = Keypair::from_seed([9; 32]);
        let (mut fixture, ada, ada_account, _, bo_here) = ada_meets_bo(&host);
        for (request, answer) in [
            (
                1,
                Ok(CallAnswer::refused(ErrorCode::Refused, "not taking trades")),
            ),
            (2, Err("the call timed out".to_owned())),
        ] {
            fixture.send(
                ada,
                &ClientMessage::TradeInvite {
                    request,
                    player: bo_here,
                },
            );
            fixture.next_call().answer.send(answer).unwrap();
            let said = fixture.until(ada, "the refusal", |m| m.request() == Some(request));
            let ServerMessage::Error { code, message, .. } = said else {
                panic!("not refused: {said:?}");
            };
            let expected = if request == 1 {
                ErrorCode::Refused
            } else {
                ErrorCode::Unavailable
            };
            assert_eq!(code, expected, "{message}");
            assert!(fixture.server.trades.is_empty());
            assert!(fixture.server.sessions[&ada].trades.is_empty());
            // Had it taken the invitation after all, bo's host hears the
            // window closed.
            let told = fixture.next_call();
            assert!(
                matches!(&told.call, HostCall::TradeView { view, .. } if view.stage == Stage::Cancelled { by: ada_account }),
                "{:?}",
                told.call
            );
        }
    }
}
