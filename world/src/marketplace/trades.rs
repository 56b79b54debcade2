//! Trades from this side: invitations, actions in the window, the
//! signature over the final terms, and the signed trade queued once.

use ledger::Trade;
use market::trade;
use std::time::Instant;

use bevy::prelude::*;
use ledger::Operation;
use plaza_client::client::Session;
use plaza_client::protocol::{ClientMessage, TradeView};

use super::{Asked, Marketplace, PlayerTx, Refusal, TxProgress};

impl Marketplace {
    /// Invites `player` to trade, unless a window or an invitation is
    /// already open (one trade at a time).
    pub fn trade_invite(&mut self, client: &mut Session<'_>, player: u16) -> Result<(), Refusal> {
        if self.trade.view.is_some() || self.trade.inviting {
            return Err(Refusal("you are already in a trade".to_owned()));
        }
        if self.trade.invitation.is_some() {
            return Err(Refusal("answer the invitation you have first".to_owned()));
        }
        self.trade.error = None;
        self.trade.inviting = true;
        self.ask(client, Asked::Trade, |request| ClientMessage::TradeInvite {
            request,
            player,
        });
        Ok(())
    }

    /// Answers the invitation waiting: accept (its window opens) or
    /// decline.
    pub fn trade_answer(&mut self, client: &mut Session<'_>, accept: bool) -> Result<(), Refusal> {
        let Some(invited) = self.trade.invitation.take() else {
            return Err(Refusal("no invitation is waiting".to_owned()));
        };
        let trade = invited.trade;
        let action = if accept {
            self.trade.view = Some(invited);
            self.trade.error = None;
            trade::Action::Accept
        } else {
            trade::Action::Cancel
        };
        self.ask(client, Asked::Trade, |request| ClientMessage::TradeAct {
            request,
            trade,
            action,
        });
        Ok(())
    }

    /// Acts in the open trade window.
    pub fn trade_act(
        &mut self,
        client: &mut Session<'_>,
        action: trade::Action,
    ) -> Result<(), Refusal> {
        let Some(trade) = self.trade.view.as_ref().map(|view| view.trade) else {
            return Err(Refusal("no trade window is open".to_owned()));
        };
        if matches!(
            action,
            trade::Action::Confirm { .. } | trade::Action::Sign(_)
        ) && !self.actions.is_empty()
        {
            // The terms fix the account's next nonce: a transaction still
            // on its way would use it first.
            return Err(Refusal(
                "wait for your transactions in flight to finish first".to_owned(),
            ));
        }
        self.trade.error = None;
        self.ask(client, Asked::Trade, |request| ClientMessage::TradeAct {
            request,
            trade,
            action,
        });
        Ok(())
    }

    /// Signs the final terms of the open window.
    pub fn trade_sign(&mut self, client: &mut Session<'_>) -> Result<(), Refusal> {
        let (Some(view), Some(welcome)) = (&self.trade.view, client.welcome()) else {
            return Err(Refusal("no trade is waiting for signatures".to_owned()));
        };
        let Some(terms) = &view.terms else {
            return Err(Refusal(
                "both sides must confirm before the terms can be signed".to_owned(),
            ));
        };
        let signature = terms.sign(&welcome.chain_id, client.key());
        self.trade_act(client, trade::Action::Sign(signature))
    }

    /// Closes a finished trade window, or one the host refused to act in
    /// (it may have ended it).
    pub fn trade_dismiss(&mut self) {
        if self.trade.error.is_some()
            || self
                .trade
                .view
                .as_ref()
                .is_some_and(|view| view.stage.is_closed())
        {
            self.trade.view = None;
            self.trade.error = None;
        }
    }

    /// A trade window's news: `answer` when it answers this player's own
    /// request (an invitation it sent opens its window).
    pub(super) fn trade_view(&mut self, view: TradeView, answer: bool) {
        let me = self.me;
        let current = self.trade.view.as_ref().map(|open| open.trade);
        let invited_by_me = answer && self.trade.inviting && view.inviter == me;
        if invited_by_me {
            self.trade.inviting = false;
        }
        if current == Some(view.trade) || (current.is_none() && invited_by_me) {
            self.finish_trade(&view);
            self.trade.view = Some(view);
        } else if view.stage == trade::Stage::Invited && view.invitee == me {
            if current.is_none() {
                self.trade.invitation = Some(view);
            }
        } else if self
            .trade
            .invitation
            .as_ref()
            .is_some_and(|invited| invited.trade == view.trade)
        {
            // The inviter withdrew, or the invitation timed out.
            self.trade.invitation = None;
        }
    }

    /// Once both have signed, the inviter submits the trade.
    pub(super) fn finish_trade(&mut self, view: &TradeView) {
        if view.stage != trade::Stage::Signed
            || view.inviter != self.me
            || self.trade.submitted == Some(view.trade)
        {
            return;
        }
        let (Some(terms), Some([a_signature, b_signature])) = (&view.terms, view.signatures) else {
            return;
        };
        let op = Operation::Trade(Box::new(Trade {
            terms: terms.clone(),
            a_signature,
            b_signature,
        }));
        // First in line: the terms fix this nonce.
        let at = usize::from(
            self.actions
                .front()
                .is_some_and(|first| first.stage != TxProgress::Queued),
        );
        self.actions.insert(
            at,
            PlayerTx {
                label: format!("trade {}", view.trade),
                op,
                stage: TxProgress::Queued,
                since: Instant::now(),
            },
        );
        self.trade.submitted = Some(view.trade);
    }
}
