//! The player's transactions, one at a time: each takes the account's
//! next nonce, is signed with the player's key, submitted, and followed
//! until it is final.

use market::trade;
use plaza_client::protocol::TxState;
use std::time::Instant;

use bevy::prelude::*;
use ledger::{Account, AssetId, Operation, Timestamp, TxId};
use plaza_client::client::Session;
use plaza_client::protocol::ClientMessage;

use super::{
    Asked, DONE_KEPT, Marketplace, PlayerTx, QUEUE_MAX, REFUSED_PAUSE, Refusal, STATUS_AFTER,
    TxProgress,
};

impl Marketplace {
    /// Queues `op` to be signed and submitted; `label` says what it does.
    pub fn act(&mut self, label: impl Into<String>, op: Operation) -> Result<(), Refusal> {
        let signing = self.trade.view.as_ref().is_some_and(|view| {
            matches!(view.stage, trade::Stage::Signing | trade::Stage::Signed)
                && self.actions.iter().chain(&self.done).all(|action| {
                    action.label != format!("trade {}", view.trade) || !action.stage.is_final()
                })
        });
        if signing {
            return Err(Refusal(
                "finish the trade first: its terms use your next nonce".to_owned(),
            ));
        }
        if self.busy_with(&op) {
            return Err(Refusal("that is already on its way".to_owned()));
        }
        if self.actions.len() >= QUEUE_MAX {
            return Err(Refusal(format!(
                "{QUEUE_MAX} actions are already waiting: wait for them to finish"
            )));
        }
        self.actions.push_back(PlayerTx {
            label: label.into(),
            op,
            stage: TxProgress::Queued,
            since: Instant::now(),
        });
        Ok(())
    }

    /// The latest action (in flight or finished) on `listing`: renting or
    /// buying through it, or cancelling it.
    pub fn last_on(&self, listing: ledger::ListingId) -> Option<&PlayerTx> {
        let on = |action: &&PlayerTx| match action.op {
            Operation::Rent { listing: l, .. }
            | Operation::Buy { listing: l }
            | Operation::CancelListing { listing: l } => l == listing,
            _ => false,
        };
        self.actions
            .iter()
            .rev()
            .find(on)
            .or_else(|| self.done.iter().rev().find(on))
    }

    /// Whether an action is in flight for `op`.
    pub fn busy_with(&self, op: &Operation) -> bool {
        self.actions.iter().any(|action| action.op == *op)
    }

    /// Moves the first action on: asks for the nonce when it is its turn.
    /// (First, once, asks the host to block what an earlier run kept.)
    pub fn advance(&mut self, client: &mut Session<'_>) {
        self.ask_kept_blocks(client);
        let Some(first) = self.actions.front_mut() else {
            return;
        };
        match first.stage {
            TxProgress::Queued => {
                first.stage = TxProgress::Signing;
                first.since = Instant::now();
                self.ask(client, Asked::Nonce, |request| ClientMessage::Inventory {
                    request,
                });
            }
            // No news of it for a while (an update can be missed): ask.
            TxProgress::Pending(id) if first.since.elapsed() > STATUS_AFTER => {
                first.since = Instant::now();
                self.ask(client, Asked::Submit, |request| ClientMessage::TxStatus {
                    request,
                    id,
                });
            }
            _ => {}
        }
    }

    pub(super) fn finish_first(&mut self, client: &mut Session<'_>, stage: TxProgress) {
        if let Some(mut action) = self.actions.pop_front() {
            action.stage = stage;
            self.done.push_back(action);
            while self.done.len() > DONE_KEPT {
                self.done.pop_front();
            }
        }
        self.refresh(client);
        self.advance(client);
    }

    pub(super) fn sign_first(
        &mut self,
        client: &mut Session<'_>,
        account: Account,
        now: Timestamp,
    ) {
        let (Some(first), Some(welcome)) = (self.actions.front_mut(), client.welcome()) else {
            return;
        };
        let signer = client.key().address();
        let tx = market::transaction(
            welcome.chain_id.clone(),
            signer,
            account.nonce,
            first.op.clone(),
            now,
        )
        .sign(client.key());
        first.stage = TxProgress::Sent(tx.id());
        first.since = Instant::now();
        self.ask(client, Asked::Submit, |request| ClientMessage::Submit {
            request,
            tx,
        });
    }

    pub(super) fn tx_state(&mut self, client: &mut Session<'_>, id: TxId, state: TxState) {
        let ours = self.actions.front().is_some_and(
            |first| matches!(first.stage, TxProgress::Sent(sent) | TxProgress::Pending(sent) if sent == id),
        );
        if !ours {
            return;
        }
        match state {
            TxState::Pending => {
                if let Some(first) = self.actions.front_mut()
                    && first.stage != TxProgress::Pending(id)
                {
                    first.stage = TxProgress::Pending(id);
                    first.since = Instant::now();
                }
            }
            TxState::Applied { height } => {
                self.finish_first(client, TxProgress::Applied { id, height });
            }
            TxState::Rejected { reason, .. } => {
                self.finish_first(client, TxProgress::Rejected(reason))
            }
            TxState::Unknown => {
                self.finish_first(
                    client,
                    TxProgress::Rejected("the host lost track of it".to_owned()),
                );
            }
        }
    }

    /// The assets the player rents now, as the host last said.
    pub fn renting(&self) -> Vec<AssetId> {
        self.holdings
            .as_ref()
            .map(|held| held.renting.iter().map(|holding| holding.asset).collect())
            .unwrap_or_default()
    }

    /// The host's time now, counted on from its last word.
    pub fn host_now(&self) -> Option<Timestamp> {
        let from_holdings = self
            .holdings
            .as_ref()
            .map(|held| held.now + held.at.elapsed().as_secs());
        let from_block = self
            .block_time
            .map(|(time, at)| time + at.elapsed().as_secs());
        from_holdings.max(from_block)
    }

    /// Asks for the account again (unless that is already asked).
    pub fn refresh(&mut self, client: &mut Session<'_>) {
        let refused_lately = self
            .holdings_refused
            .is_some_and(|at| at.elapsed() < REFUSED_PAUSE);
        if !refused_lately && !self.waiting_for(&Asked::Holdings) {
            self.ask(client, Asked::Holdings, |request| {
                ClientMessage::Inventory { request }
            });
        }
    }
}
