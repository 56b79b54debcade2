//! The invitee's side of a trade across hosts: this host's player is in
//! a window whose home is another host. The player sees it under a number
//! of this host's; the player's actions go to the home as calls, and the
//! home's news comes back as calls, each view numbered so that an older
//! one never overwrites a newer.

use std::time::{Duration, Instant};

use renet::ClientId;

use crate::calls::{CallAnswer, HostCall};
use crate::sessions::presence::RemoteKey;
use crate::sessions::replies::Reply;
use crate::sessions::server::{Occupant, Server, refused};
use crate::sessions::trades::{MAX_TRADE_QUEUE, MAX_TRADES};
use ledger::Address;
use market::trade::{Action, Stage};
use plaza_client::protocol::{ErrorCode, MAX_REQUESTS_WAITING, ServerMessage, TradeView};

/// A relayed window its home has said nothing of for this long is
/// forgotten as timed out: each of the home's stages times out sooner,
/// and its closing would have been news.
const RELAYED_IDLE: Duration = Duration::from_secs(market::trade::IDLE_SECS + 30);

/// A window at another host that one of this host's players is in.
pub(in crate::sessions) struct Relayed {
    /// The window's home, and its id there.
    pub(super) home: (Address, u64),
    /// The player here.
    pub(super) client: ClientId,
    /// The inviter, as this host shows it.
    pub(super) inviter: RemoteKey,
    /// The window as the home last told it, and that view's number.
    pub(super) last: (u64, TradeView),
    /// The player's actions sent to the home and not yet answered.
    pub(super) asking: usize,
    /// Forgotten as timed out then, unless the home speaks first.
    pub(super) expires: Instant,
}

impl Server {
    /// Relayed windows whose home has been silent too long are forgotten
    /// as timed out.
    pub(in crate::sessions) fn expire_relayed(&mut self) {
        let now = Instant::now();
        let silent: Vec<u64> = self
            .relayed
            .iter()
            .filter(|(_, relayed)| relayed.expires <= now)
            .map(|(trade, _)| *trade)
            .collect();
        for trade in silent {
            self.drop_relayed(trade, Some(Stage::TimedOut), None);
        }
    }

    /// Another host's player invites `player` of this host in `world`.
    pub(super) fn invited_here(
        &mut self,
        host: Address,
        world: &str,
        player: u16,
        view: TradeView,
    ) -> CallAnswer {
        let Some(index) = self
            .worlds
            .iter()
            .position(|state| state.world.info.name == world)
        else {
            return CallAnswer::refused(ErrorCode::NotFound, format!("no world {world:?} here"));
        };
        let state = &self.worlds[index];
        let client = match state.slots.get(usize::from(player)).copied().flatten() {
            Some(Occupant::Local(client)) => client,
            _ => {
                return CallAnswer::refused(
                    ErrorCode::NotFound,
                    format!("no player {player} of this host in {world}"),
                );
            }
        };
        let inviter = state
            .remotes
            .iter()
            .find(|(key, remote)| key.0 == host && remote.account == view.inviter)
            .map(|(key, _)| *key);
        let Some(inviter) = inviter else {
            return CallAnswer::refused(
                ErrorCode::NotFound,
                "the inviter is not one of your players this host shows",
            );
        };
        let Some(session) = self.sessions.get(&client) else {
            return CallAnswer::refused(ErrorCode::NotFound, "the player has gone");
        };
        if session.account != view.invitee || view.stage != Stage::Invited {
            return CallAnswer::refused(
                ErrorCode::Malformed,
                "an invitation that is not one: another invitee, or past the invitation",
            );
        }
        if session.blocked.contains(&view.inviter) {
            return CallAnswer::refused(
                ErrorCode::Refused,
                format!("player {player} is not taking trade invitations"),
            );
        }
        if session.trades.len() >= MAX_TRADES {
            return CallAnswer::refused(
                ErrorCode::Busy,
                format!("a player is already in {MAX_TRADES} trades"),
            );
        }
        if self
            .relayed
            .values()
            .any(|relayed| relayed.home == (host, view.trade))
        {
            return CallAnswer::refused(ErrorCode::Malformed, "that window was opened already");
        }
        let local = self.next_trade;
        self.next_trade += 1;
        if let Some(session) = self.sessions.get_mut(&client) {
            session.trades.push(local);
        }
        let mut shown = view.clone();
        shown.trade = local;
        self.relayed.insert(
            local,
            Relayed {
                home: (host, view.trade),
                client,
                inviter,
                last: (0, view),
                asking: 0,
                expires: Instant::now() + RELAYED_IDLE,
            },
        );
        self.send(
            client,
            &ServerMessage::Trade {
                request: None,
                view: Box::new(shown),
            },
        );
        CallAnswer::Done
    }

    /// A window's home tells where it stands.
    pub(super) fn news_here(&mut self, host: Address, seq: u64, view: TradeView) -> CallAnswer {
        let found = self
            .relayed
            .iter()
            .find(|(_, relayed)| relayed.home == (host, view.trade))
            .map(|(local, _)| *local);
        let Some(local) = found else {
            return CallAnswer::refused(
                ErrorCode::NotFound,
                format!("no window {} of yours here", view.trade),
            );
        };
        if !self.take_news(local, seq, view, None) {
            return CallAnswer::refused(ErrorCode::Malformed, "news of another trade");
        }
        CallAnswer::Done
    }

    /// Shows window `local`'s player the home's view number `seq`
    /// (answering `request`; a view older than one shown already is not
    /// shown again, and a request is answered with the newer); forgets
    /// the window if it closed. False, and nothing shown, if the view is
    /// of other parties.
    pub(super) fn take_news(
        &mut self,
        local: u64,
        seq: u64,
        view: TradeView,
        request: Option<u32>,
    ) -> bool {
        let Some(relayed) = self.relayed.get_mut(&local) else {
            return false;
        };
        let (last_seq, last) = &relayed.last;
        if view.inviter != last.inviter
            || view.invitee != last.invitee
            || view.trade != relayed.home.1
        {
            return false;
        }
        relayed.expires = Instant::now() + RELAYED_IDLE;
        let client = relayed.client;
        let mut shown = if seq > *last_seq {
            relayed.last = (seq, view.clone());
            view
        } else if request.is_some() {
            last.clone()
        } else {
            return true;
        };
        let closed = shown.stage.is_closed();
        shown.trade = local;
        self.send(
            client,
            &ServerMessage::Trade {
                request,
                view: Box::new(shown),
            },
        );
        if closed {
            self.relayed.remove(&local);
            if let Some(session) = self.sessions.get_mut(&client) {
                session.trades.retain(|t| *t != local);
            }
        }
        true
    }

    /// This host's player acts on window `local`, whose home is another
    /// host: the action goes there, and its answer back.
    pub(in crate::sessions) fn relay_act(
        &mut self,
        client: ClientId,
        request: u32,
        local: u64,
        action: Action,
    ) {
        let Some(relayed) = self.relayed.get_mut(&local) else {
            return;
        };
        if relayed.client == client && action == Action::Cancel {
            // Closed here at once, whatever the home does with the news.
            if let Some(account) = self.sessions.get(&client).map(|s| s.account) {
                self.drop_relayed(local, Some(Stage::Cancelled { by: account }), Some(request));
            }
            return;
        }
        if relayed.client != client {
            let err = plaza_client::protocol::ProtocolError::new(
                ErrorCode::NotFound,
                format!("trade {local} is not yours"),
            );
            self.breach(client, Some(request), &err);
            return;
        }
        let busy = relayed.asking >= MAX_TRADE_QUEUE
            || self
                .sessions
                .get(&client)
                .is_none_or(|session| session.in_flight >= MAX_REQUESTS_WAITING);
        if busy {
            let err = plaza_client::protocol::ProtocolError::new(
                ErrorCode::Busy,
                "too many trade actions waiting",
            );
            self.breach(client, Some(request), &err);
            return;
        }
        relayed.asking += 1;
        let (host, trade) = relayed.home;
        if let Some(session) = self.sessions.get_mut(&client) {
            session.in_flight += 1;
        }
        self.call(host, HostCall::TradeAct { trade, action }, move |answer| {
            Reply::Relayed(local, client, request, answer)
        });
    }

    /// The home answered this host's player's action on window `local`.
    pub(in crate::sessions) fn relay_answered(
        &mut self,
        local: u64,
        client: ClientId,
        request: u32,
        answer: Result<CallAnswer, String>,
    ) {
        self.answered(client);
        let Some(relayed) = self.relayed.get_mut(&local) else {
            self.send(
                client,
                &refused(
                    Some(request),
                    ErrorCode::NotFound,
                    format!("trade {local} has closed"),
                ),
            );
            return;
        };
        relayed.asking = relayed.asking.saturating_sub(1);
        let inviter = relayed.last.1.inviter;
        let refusal = match answer {
            Ok(CallAnswer::Trade { seq, view }) => {
                if self.take_news(local, seq, *view, Some(request)) {
                    return;
                }
                (
                    ErrorCode::Unavailable,
                    "the trade's host answered with another trade".to_owned(),
                )
            }
            Ok(CallAnswer::Refused {
                code: ErrorCode::NotFound,
                message,
            }) => {
                // The home no longer has the window: closed here too.
                self.send(
                    client,
                    &refused(Some(request), ErrorCode::NotFound, message),
                );
                self.drop_relayed(local, Some(Stage::Cancelled { by: inviter }), None);
                return;
            }
            Ok(CallAnswer::Refused { code, message }) => (code, message),
            Ok(CallAnswer::Done) => (
                ErrorCode::Unavailable,
                "the trade's host answered without the window".to_owned(),
            ),
            Err(reason) => (
                ErrorCode::Unavailable,
                format!("the trade's host could not be reached: {reason}"),
            ),
        };
        self.send(client, &refused(Some(request), refusal.0, refusal.1));
    }

    /// Forgets window `local` relayed for this host's player; its home
    /// hears it cancelled, and the player sees it closed at `stage`, if
    /// given (answering `request`; a player that left is not told).
    pub(in crate::sessions) fn drop_relayed(
        &mut self,
        local: u64,
        stage: Option<Stage>,
        request: Option<u32>,
    ) {
        let Some(relayed) = self.relayed.remove(&local) else {
            return;
        };
        if let Some(session) = self.sessions.get_mut(&relayed.client) {
            session.trades.retain(|t| *t != local);
        }
        let (_, last) = relayed.last;
        if last.stage.is_closed() {
            return;
        }
        let (host, trade) = relayed.home;
        self.call(
            host,
            HostCall::TradeAct {
                trade,
                action: Action::Cancel,
            },
            |_| Reply::Pushed(None, Ok(CallAnswer::Done)),
        );
        if let Some(stage) = stage {
            let mut shown = last;
            shown.trade = local;
            shown.stage = stage;
            self.send(
                relayed.client,
                &ServerMessage::Trade {
                    request,
                    view: Box::new(shown),
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{ada_meets_bo, refused_with, view_of};
    use super::*;
    use crate::sessions::convert::trade_view;
    use crate::sessions::fixture::SQUARE;
    use ledger::Keypair;
    use market::TradeWindow;
    use plaza_client::protocol::ClientMessage;

    #[test]
    fn a_player_here_trades_with_a_player_of_another_host_through_this_host() {
        let host = Keypair::from_seed([9; 32]);
        let (mut fixture, ada, ada_account, bo, _) = ada_meets_bo(&host);
        let ada_player = fixture.server.sessions[&ada].player;
        let now = fixture.server.handle.now();
        let window = TradeWindow::invite(fixture.chain_id.clone(), bo, ada_account, now).unwrap();
        let view = trade_view(40, &window);
        let invite = |player: u16, view: &TradeView| HostCall::TradeInvite {
            world: SQUARE.into(),
            player,
            view: view.clone(),
        };

        // From a host that does not show bo here, or for another player:
        // refused.
        let stranger = Keypair::from_seed([10; 32]).address();
        let answer = fixture.call_in(stranger, invite(ada_player, &view));
        assert_eq!(refused_with(&answer), Some(ErrorCode::NotFound));
        let answer = fixture.call_in(host.address(), invite(ada_player + 1, &view));
        assert_eq!(refused_with(&answer), Some(ErrorCode::NotFound));

        // From bo's host: ada sees the window under a number of this
        // host's; the same window again is refused.
        let answer = fixture.call_in(host.address(), invite(ada_player, &view));
        assert_eq!(answer, CallAnswer::Done);
        let shown = view_of(fixture.until(ada, "the invitation", |m| {
            matches!(m, ServerMessage::Trade { .. })
        }));
        assert_eq!((shown.inviter, shown.invitee), (bo, ada_account));
        let local = shown.trade;
        let answer = fixture.call_in(host.address(), invite(ada_player, &view));
        assert_eq!(refused_with(&answer), Some(ErrorCode::Malformed));

        // Ada accepts: the action goes to bo's host, its answer to ada.
        fixture.send(
            ada,
            &ClientMessage::TradeAct {
                request: 1,
                trade: local,
                action: Action::Accept,
            },
        );
        let call = fixture.next_call();
        assert_eq!(call.host, host.address());
        assert_eq!(
            call.call,
            HostCall::TradeAct {
                trade: 40,
                action: Action::Accept
            }
        );
        let mut open = view.clone();
        open.stage = Stage::Open;
        call.answer
            .send(Ok(CallAnswer::Trade {
                seq: 1,
                view: Box::new(open.clone()),
            }))
            .unwrap();
        let answered = view_of(fixture.until(ada, "the answer", |m| m.request() == Some(1)));
        assert_eq!((answered.trade, answered.stage), (local, Stage::Open));

        // News of the window from another host is refused; from bo's
        // host, ada sees it, unless newer news came first.
        let mut news = open;
        news.revision = 3;
        let tell = |seq: u64, view: &TradeView| HostCall::TradeView {
            seq,
            view: view.clone(),
        };
        let answer = fixture.call_in(stranger, tell(3, &news));
        assert_eq!(refused_with(&answer), Some(ErrorCode::NotFound));
        let answer = fixture.call_in(host.address(), tell(3, &news));
        assert_eq!(answer, CallAnswer::Done);
        let seen = view_of(fixture.until(
            ada,
            "the news",
            |m| matches!(m, ServerMessage::Trade { request: None, view } if view.revision == 3),
        ));
        assert_eq!(seen.trade, local);
        news.revision = 2;
        let answer = fixture.call_in(host.address(), tell(2, &news));
        assert_eq!(answer, CallAnswer::Done);
        assert_eq!(fixture.server.relayed[&local].last.1.revision, 3);

        // Bo leaves its host: ada's window closes as cancelled by bo, and
        // bo's host hears it cancelled.
        fixture.arrives(&host, 2, Vec::new(), vec![3]);
        let closed = view_of(fixture.until(
            ada,
            "the window closing",
            |m| matches!(m, ServerMessage::Trade { view, .. } if view.stage.is_closed()),
        ));
        assert_eq!(
            (closed.trade, closed.stage),
            (local, Stage::Cancelled { by: bo })
        );
        let call = fixture.next_call();
        assert_eq!(
            call.call,
            HostCall::TradeAct {
                trade: 40,
                action: Action::Cancel
            }
        );
        assert!(fixture.server.relayed.is_empty());
        assert!(fixture.server.sessions[&ada].trades.is_empty());
    }

    #[test]
    fn a_relayed_window_closes_here_at_once_when_its_player_cancels_or_its_home_lost_it() {
        let host = Keypair::from_seed([9; 32]);
        let (mut fixture, ada, ada_account, bo, _) = ada_meets_bo(&host);
        let ada_player = fixture.server.sessions[&ada].player;
        for (trade, request) in [(40_u64, 1_u32), (41, 2)] {
            let now = fixture.server.handle.now();
            let window =
                TradeWindow::invite(fixture.chain_id.clone(), bo, ada_account, now).unwrap();
            let invite = HostCall::TradeInvite {
                world: SQUARE.into(),
                player: ada_player,
                view: trade_view(trade, &window),
            };
            assert_eq!(fixture.call_in(host.address(), invite), CallAnswer::Done);
            let local = view_of(fixture.until(
                ada,
                "the invitation",
                |m| matches!(m, ServerMessage::Trade { view, .. } if view.stage == Stage::Invited),
            ))
            .trade;
            let cancel = HostCall::TradeAct {
                trade,
                action: Action::Cancel,
            };
            if request == 1 {
                // Ada declines: closed here at once, and the home told.
                fixture.send(
                    ada,
                    &ClientMessage::TradeAct {
                        request,
                        trade: local,
                        action: Action::Cancel,
                    },
                );
                let answer =
                    view_of(fixture.until(ada, "the answer", |m| m.request() == Some(request)));
                assert_eq!(answer.stage, Stage::Cancelled { by: ada_account });
                assert_eq!(fixture.next_call().call, cancel);
            } else {
                // The home lost the window: ada's action is refused, and
                // the window closes here.
                fixture.send(
                    ada,
                    &ClientMessage::TradeAct {
                        request,
                        trade: local,
                        action: Action::Accept,
                    },
                );
                let call = fixture.next_call();
                call.answer
                    .send(Ok(CallAnswer::refused(
                        ErrorCode::NotFound,
                        "no open trade",
                    )))
                    .unwrap();
                let refusal = fixture.until(ada, "the refusal", |m| m.request() == Some(request));
                assert_eq!(
                    crate::sessions::fixture::code(&refusal),
                    Some(ErrorCode::NotFound)
                );
                let closed = view_of(fixture.until(
                    ada,
                    "the window closing",
                    |m| matches!(m, ServerMessage::Trade { view, .. } if view.stage.is_closed()),
                ));
                assert_eq!(closed.stage, Stage::Cancelled { by: bo });
                assert_eq!(fixture.next_call().call, cancel);
            }
            assert!(fixture.server.relayed.is_empty());
            assert!(fixture.server.sessions[&ada].trades.is_empty());
        }
    }
}
