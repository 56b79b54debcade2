//! The market desk: what the player asks of the host and what it answers,
//! kept for the panels to show. No UI here: the panels call the desk's
//! methods, the desk turns them into protocol requests, and each answer
//! the session brings lands in the desk by its request id.
//!
//! Transactions go one at a time, so each takes the account's next nonce:
//! the desk asks for the account and the host's time, signs with the
//! player's key, submits, and follows the transaction until it is final
//! (applied, or rejected with the ledger's reason).

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use assets::{ContentId, Manifest};
use bevy::prelude::*;
use ledger::{Account, Address, AssetId, Nonce, Operation, Timestamp, Trade, TxId};
use server_less::client::Client;
use server_less::protocol::{
    Browse, Card, ClientMessage, Event, Holding, MAX_PAGE_HITS, Quote, QuoteAsk, ServerMessage,
    TradeAction, TradeView, TxState,
};

/// Finished actions kept for the activity list.
pub const DONE_KEPT: usize = 8;
/// Actions waiting their turn at most.
pub const QUEUE_MAX: usize = 16;
/// Manifests kept for cards.
const MANIFESTS_KEPT: usize = 512;
/// Preview pictures kept for cards.
const PREVIEWS_KEPT: usize = 64;

/// What a request was for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Asked {
    /// A catalogue page.
    Page,
    /// The account, for the inventory panel.
    Holdings,
    /// The account's nonce and the host's time, to sign the first action.
    Nonce,
    /// The first action's submission.
    Submit,
    /// A quote.
    Quote,
    /// An asset's manifest.
    Manifest(AssetId),
    /// A preview picture, by content id.
    Preview(ContentId),
    /// A trade invitation or action.
    Trade,
}

/// Where an action stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Waiting its turn.
    Queued,
    /// Asking for the account's nonce and the host's time to sign.
    Signing,
    /// Signed and sent: waiting for the host's answer.
    Sent(TxId),
    /// In the host's pool, waiting for a block.
    Pending(TxId),
    /// Applied in the block at this height.
    Applied {
        /// The transaction.
        id: TxId,
        /// The block.
        height: u64,
    },
    /// Refused, with the ledger's (or the host's) reason.
    Rejected(String),
}

impl Stage {
    /// Whether it is over.
    pub fn is_final(&self) -> bool {
        matches!(self, Stage::Applied { .. } | Stage::Rejected(_))
    }

    /// In words, for the activity list.
    pub fn describe(&self) -> String {
        match self {
            Stage::Queued => "queued".to_owned(),
            Stage::Signing => "signing".to_owned(),
            Stage::Sent(_) => "sent".to_owned(),
            Stage::Pending(_) => "pending".to_owned(),
            Stage::Applied { height, .. } => format!("final in block {height}"),
            Stage::Rejected(reason) => format!("rejected: {reason}"),
        }
    }
}

/// Something the player signs: an operation and where it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    /// What it does, in words.
    pub label: String,
    /// The operation.
    pub op: Operation,
    /// A nonce the operation fixes (a trade's), else the account's next.
    nonce: Option<Nonce>,
    /// Where it stands.
    pub stage: Stage,
}

/// The catalogue panel's state.
#[derive(Clone, Debug, Default)]
pub struct Catalogue {
    /// The question last asked.
    pub query: Browse,
    /// The page shown.
    pub hits: Vec<Card>,
    /// The next page's cursor.
    pub next: Option<String>,
    /// The cursors of the pages before this one (for "previous").
    back: Vec<Option<String>>,
    /// This page's cursor.
    this: Option<String>,
    /// Page number shown, from 1.
    pub page: usize,
    /// Waiting for a page.
    pub waiting: bool,
    /// Why the last search failed.
    pub error: Option<String>,
}

/// The account, as the host last told it.
#[derive(Clone, Debug)]
pub struct Holdings {
    /// Balance and nonce.
    pub account: Account,
    /// Assets owned.
    pub owned: Vec<Holding>,
    /// Assets rented from others.
    pub renting: Vec<Holding>,
    /// The host's time when it answered.
    pub now: Timestamp,
    /// When the answer came.
    pub at: Instant,
}

/// A quote asked for and its answer.
#[derive(Clone, Debug, PartialEq)]
pub struct QuoteView {
    /// The question.
    pub ask: QuoteAsk,
    /// The figures, or why there are none; `None` while waiting.
    pub answer: Option<Result<Quote, String>>,
}

/// The trade window's state on this side.
#[derive(Clone, Debug, Default)]
pub struct TradeDesk {
    /// The window this player is in.
    pub view: Option<TradeView>,
    /// An invitation waiting for an answer.
    pub invitation: Option<TradeView>,
    /// Why the last trade request was refused.
    pub error: Option<String>,
    /// The trade whose transaction was queued (so it is queued once).
    submitted: Option<u64>,
}

/// The desk: requests in flight and what their answers said.
#[derive(Resource, Debug)]
pub struct Desk {
    /// The player's account.
    pub me: Address,
    asked: HashMap<u32, Asked>,
    /// The catalogue panel.
    pub catalogue: Catalogue,
    /// The account, once known.
    pub holdings: Option<Holdings>,
    /// The latest quote.
    pub quote: Option<QuoteView>,
    /// Manifests fetched, by asset.
    pub manifests: HashMap<AssetId, Manifest>,
    /// Preview pictures fetched (PNG bytes), by content id.
    pub previews: HashMap<ContentId, Vec<u8>>,
    /// Actions in flight, the first one being worked on.
    pub actions: VecDeque<Action>,
    /// Finished actions, newest last.
    pub done: VecDeque<Action>,
    /// The trade window.
    pub trade: TradeDesk,
    /// The latest block's time, from the host's events.
    pub block_time: Option<(Timestamp, Instant)>,
}

/// Why the desk refused something before asking the host.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

impl Desk {
    /// An empty desk for the player `me`.
    pub fn new(me: Address) -> Self {
        Desk {
            me,
            asked: HashMap::new(),
            catalogue: Catalogue::default(),
            holdings: None,
            quote: None,
            manifests: HashMap::new(),
            previews: HashMap::new(),
            actions: VecDeque::new(),
            done: VecDeque::new(),
            trade: TradeDesk::default(),
            block_time: None,
        }
    }

    fn ask(&mut self, client: &mut Client, why: Asked, build: impl FnOnce(u32) -> ClientMessage) {
        let id = client.ask(build);
        self.asked.insert(id, why);
    }

    fn waiting_for(&self, why: &Asked) -> bool {
        self.asked.values().any(|asked| asked == why)
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

    /// Searches the catalogue from its first page.
    pub fn search(&mut self, client: &mut Client, mut query: Browse) {
        query.after = None;
        query.page_size = query.page_size.clamp(1, MAX_PAGE_HITS);
        self.catalogue.query = query;
        self.catalogue.back.clear();
        self.catalogue.this = None;
        self.catalogue.page = 1;
        self.request_page(client);
    }

    /// The next page, if there is one.
    pub fn next_page(&mut self, client: &mut Client) {
        let Some(next) = self.catalogue.next.clone() else {
            return;
        };
        let this = self.catalogue.this.replace(next);
        self.catalogue.back.push(this);
        self.catalogue.page += 1;
        self.request_page(client);
    }

    /// The page before, if there is one.
    pub fn previous_page(&mut self, client: &mut Client) {
        let Some(before) = self.catalogue.back.pop() else {
            return;
        };
        self.catalogue.this = before;
        self.catalogue.page = self.catalogue.page.saturating_sub(1).max(1);
        self.request_page(client);
    }

    fn request_page(&mut self, client: &mut Client) {
        let mut query = self.catalogue.query.clone();
        query.after = self.catalogue.this.clone();
        self.catalogue.waiting = true;
        self.catalogue.error = None;
        self.ask(client, Asked::Page, |request| ClientMessage::Browse {
            request,
            query,
        });
    }

    /// Asks for the account again (unless that is already asked).
    pub fn refresh(&mut self, client: &mut Client) {
        if !self.waiting_for(&Asked::Holdings) {
            self.ask(client, Asked::Holdings, |request| {
                ClientMessage::Inventory { request }
            });
        }
    }

    /// Asks what `ask` would cost and pay out now.
    pub fn ask_quote(&mut self, client: &mut Client, ask: QuoteAsk) {
        self.quote = Some(QuoteView { ask, answer: None });
        self.ask(client, Asked::Quote, |request| ClientMessage::Quote {
            request,
            ask,
        });
    }

    /// Fetches an asset's manifest for its card, unless it is known or
    /// already asked for.
    pub fn want_manifest(&mut self, client: &mut Client, asset: AssetId) {
        let why = Asked::Manifest(asset);
        if self.manifests.contains_key(&asset) || self.waiting_for(&why) {
            return;
        }
        let id = asset.0.to_bytes();
        self.ask(client, why, |request| ClientMessage::Fetch { request, id });
    }

    /// Fetches a preview picture, unless it is known or already asked for.
    pub fn want_preview(&mut self, client: &mut Client, preview: ContentId) {
        let why = Asked::Preview(preview);
        if self.previews.contains_key(&preview) || self.waiting_for(&why) {
            return;
        }
        let id = preview.to_bytes();
        self.ask(client, why, |request| ClientMessage::Fetch { request, id });
    }

    /// Queues `op` to be signed and submitted; `label` says what it does.
    pub fn act(&mut self, label: impl Into<String>, op: Operation) -> Result<(), Refusal> {
        self.queue(label.into(), op, None)
    }

    fn queue(&mut self, label: String, op: Operation, nonce: Option<Nonce>) -> Result<(), Refusal> {
        if self.actions.len() >= QUEUE_MAX {
            return Err(Refusal(format!(
                "{QUEUE_MAX} actions are already waiting: wait for them to finish"
            )));
        }
        self.actions.push_back(Action {
            label,
            op,
            nonce,
            stage: Stage::Queued,
        });
        Ok(())
    }

    /// Whether an action is in flight for `op`.
    pub fn busy_with(&self, op: &Operation) -> bool {
        self.actions.iter().any(|action| action.op == *op)
    }

    /// Invites `player` to trade.
    pub fn trade_invite(&mut self, client: &mut Client, player: u16) {
        self.trade.error = None;
        self.ask(client, Asked::Trade, |request| ClientMessage::TradeInvite {
            request,
            player,
        });
    }

    /// Acts in the open trade window (or answers the invitation, for
    /// `Accept` and `Cancel`).
    pub fn trade_act(&mut self, client: &mut Client, action: TradeAction) -> Result<(), Refusal> {
        let trade = match (&self.trade.view, &self.trade.invitation) {
            (Some(view), _) => view.trade,
            (None, Some(invited)) => invited.trade,
            (None, None) => return Err(Refusal("no trade window is open".to_owned())),
        };
        if matches!(action, TradeAction::Accept | TradeAction::Cancel)
            && let Some(invited) = self.trade.invitation.take()
        {
            self.trade.view = Some(invited);
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
    pub fn trade_sign(&mut self, client: &mut Client) -> Result<(), Refusal> {
        let (Some(view), Some(welcome)) = (&self.trade.view, client.welcome()) else {
            return Err(Refusal("no trade is waiting for signatures".to_owned()));
        };
        let Some(terms) = &view.terms else {
            return Err(Refusal(
                "both sides must confirm before the terms can be signed".to_owned(),
            ));
        };
        let signature = terms.sign(&welcome.chain_id, client.key());
        self.trade_act(client, TradeAction::Sign(signature))
    }

    /// Closes a finished trade window.
    pub fn trade_dismiss(&mut self) {
        if self
            .trade
            .view
            .as_ref()
            .is_some_and(|view| closed(&view.stage))
        {
            self.trade.view = None;
        }
    }

    /// Moves the first action on: asks for the nonce when it is its turn.
    pub fn advance(&mut self, client: &mut Client) {
        if let Some(first) = self.actions.front_mut()
            && first.stage == Stage::Queued
        {
            first.stage = Stage::Signing;
            self.ask(client, Asked::Nonce, |request| ClientMessage::Inventory {
                request,
            });
        }
    }

    fn finish_first(&mut self, client: &mut Client, stage: Stage) {
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

    /// Takes in a message from the host: answers to the desk's requests
    /// and news of the account and trades. Returns what is not the desk's.
    pub fn take(&mut self, client: &mut Client, message: ServerMessage) -> Option<ServerMessage> {
        let request = match &message {
            ServerMessage::Page { request, .. }
            | ServerMessage::Inventory { request, .. }
            | ServerMessage::Quote { request, .. }
            | ServerMessage::Chunk { request, .. } => Some(*request),
            ServerMessage::Tx { request, .. }
            | ServerMessage::Trade { request, .. }
            | ServerMessage::Error { request, .. } => *request,
            _ => None,
        };
        let asked = request.and_then(|request| self.asked.remove(&request));
        match (asked, message) {
            (Some(Asked::Page), ServerMessage::Page { hits, next, .. }) => {
                self.catalogue.hits = hits;
                self.catalogue.next = next;
                self.catalogue.waiting = false;
            }
            (Some(Asked::Page), ServerMessage::Error { message, .. }) => {
                self.catalogue.waiting = false;
                self.catalogue.error = Some(message);
            }
            (
                Some(Asked::Holdings),
                ServerMessage::Inventory {
                    account,
                    owned,
                    renting,
                    now,
                    ..
                },
            ) => {
                self.holdings = Some(Holdings {
                    account,
                    owned,
                    renting,
                    now,
                    at: Instant::now(),
                });
            }
            (Some(Asked::Nonce), ServerMessage::Inventory { account, now, .. }) => {
                self.sign_first(client, account, now);
            }
            (Some(Asked::Nonce | Asked::Submit), ServerMessage::Error { message, .. }) => {
                self.finish_first(client, Stage::Rejected(message));
            }
            (Some(Asked::Submit), ServerMessage::Tx { id, state, .. }) => {
                self.tx_state(client, id, state);
            }
            (Some(Asked::Quote), ServerMessage::Quote { quote, .. }) => {
                if let Some(view) = &mut self.quote {
                    view.answer = Some(Ok(quote));
                }
            }
            (Some(Asked::Quote), ServerMessage::Error { message, .. }) => {
                if let Some(view) = &mut self.quote {
                    view.answer = Some(Err(message));
                }
            }
            (Some(Asked::Manifest(asset)), ServerMessage::Chunk { bytes, .. }) => {
                match Manifest::from_json(&bytes) {
                    Ok(manifest) if asset.0.matches(&bytes) => {
                        if self.manifests.len() >= MANIFESTS_KEPT {
                            self.manifests.clear();
                        }
                        self.manifests.insert(asset, manifest);
                    }
                    _ => warn!(%asset, "the host sent a manifest that does not read"),
                }
            }
            (Some(Asked::Manifest(asset)), ServerMessage::Error { message, .. }) => {
                warn!(%asset, %message, "no manifest");
            }
            (Some(Asked::Preview(preview)), ServerMessage::Chunk { bytes, .. }) => {
                if preview.matches(&bytes) {
                    if self.previews.len() >= PREVIEWS_KEPT {
                        self.previews.clear();
                    }
                    self.previews.insert(preview, bytes);
                } else {
                    warn!(%preview, "the host sent a preview that is not the one asked for");
                }
            }
            (Some(Asked::Preview(preview)), ServerMessage::Error { message, .. }) => {
                warn!(%preview, %message, "no preview");
            }
            (Some(Asked::Trade), ServerMessage::Trade { view, .. }) => self.trade_view(*view),
            (Some(Asked::Trade), ServerMessage::Error { message, .. }) => {
                self.trade.error = Some(message);
            }
            (None, ServerMessage::Tx { id, state, .. }) => self.tx_state(client, id, state),
            (None, ServerMessage::Trade { view, .. }) => self.trade_view(*view),
            (None, ServerMessage::Event(event)) => {
                match event {
                    Event::Block { time, .. } => self.block_time = Some((time, Instant::now())),
                    Event::Listing(_)
                    | Event::RentalStarted(_)
                    | Event::RentalEnded(_)
                    | Event::Balance { .. } => self.refresh(client),
                }
                return Some(ServerMessage::Event(event));
            }
            (_, other) => return Some(other),
        }
        None
    }

    fn sign_first(&mut self, client: &mut Client, account: Account, now: Timestamp) {
        let (Some(first), Some(welcome)) = (self.actions.front_mut(), client.welcome()) else {
            return;
        };
        let tx = ledger::Transaction {
            chain_id: welcome.chain_id.clone(),
            signer: client.key().address(),
            nonce: first.nonce.unwrap_or(account.nonce),
            valid_until: now + market::VALID_SECS,
            op: first.op.clone(),
        }
        .sign(client.key());
        first.stage = Stage::Sent(tx.id());
        self.ask(client, Asked::Submit, |request| ClientMessage::Submit {
            request,
            tx,
        });
    }

    fn tx_state(&mut self, client: &mut Client, id: TxId, state: TxState) {
        let ours = self.actions.front().is_some_and(
            |first| matches!(first.stage, Stage::Sent(sent) | Stage::Pending(sent) if sent == id),
        );
        if !ours {
            return;
        }
        match state {
            TxState::Pending => {
                if let Some(first) = self.actions.front_mut() {
                    first.stage = Stage::Pending(id);
                }
            }
            TxState::Applied { height } => {
                self.finish_first(client, Stage::Applied { id, height });
            }
            TxState::Rejected { reason, .. } => self.finish_first(client, Stage::Rejected(reason)),
            TxState::Unknown => {
                self.finish_first(
                    client,
                    Stage::Rejected("the host lost track of it".to_owned()),
                );
            }
        }
    }

    fn trade_view(&mut self, view: TradeView) {
        let me = self.me;
        let current = self.trade.view.as_ref().map(|open| open.trade);
        if current == Some(view.trade) || (current.is_none() && view.inviter == me) {
            self.finish_trade(&view);
            self.trade.view = Some(view);
        } else if view.stage == "invited" && view.invitee == me {
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
    fn finish_trade(&mut self, view: &TradeView) {
        if view.stage != "signed"
            || view.inviter != self.me
            || self.trade.submitted == Some(view.trade)
        {
            return;
        }
        let (Some(terms), Some([a_signature, b_signature])) = (&view.terms, view.signatures) else {
            return;
        };
        let nonce = terms.a_nonce;
        let op = Operation::Trade(Box::new(Trade {
            terms: terms.clone(),
            a_signature,
            b_signature,
        }));
        match self.queue(format!("trade {}", view.trade), op, Some(nonce)) {
            Ok(()) => self.trade.submitted = Some(view.trade),
            Err(refusal) => self.trade.error = Some(refusal.0),
        }
    }
}

/// Whether a trade stage is an end.
pub fn closed(stage: &str) -> bool {
    matches!(stage, "cancelled" | "timed out" | "signed")
}

/// Keeps the session's answers flowing into the desk and its first action
/// moving.
pub struct DeskPlugin;

impl Plugin for DeskPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Startup, first_look);
    }
}

fn first_look(session: Option<NonSendMut<crate::net::Session>>, mut desk: ResMut<Desk>) {
    let Some(mut session) = session else {
        return;
    };
    desk.refresh(&mut session.0);
    let world = session
        .0
        .welcome()
        .map(|welcome| welcome.world.name.clone());
    desk.search(
        &mut session.0,
        Browse {
            world,
            page_size: 12,
            ..Browse::default()
        },
    );
}
