//! The market desk: what the player asks of the host and what it answers,
//! kept for the panels to show. No UI here: the panels call the desk's
//! methods, the desk turns them into protocol requests, and each answer
//! the session brings lands in the desk by its request id.
//!
//! Transactions go one at a time, so each takes the account's next nonce:
//! the desk asks for the account and the host's time, signs with the
//! player's key, submits, and follows the transaction until it is final
//! (applied, or rejected with the ledger's reason).

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::time::Instant;

use assets::{ContentId, Manifest};
use bevy::prelude::*;
use ledger::{Account, Address, AssetId, Nonce, Operation, Timestamp, Trade, TxId};
use market::trade;
use plaza_client::client::Client;
use plaza_client::protocol::{
    Browse, Card, ClientMessage, Event, Holding, MAX_PAGE_HITS, Quote, QuoteAsk, ServerMessage,
    TradeView, TxState,
};

/// Finished actions kept for the activity list.
pub const DONE_KEPT: usize = 8;
/// Actions waiting their turn at most.
pub const QUEUE_MAX: usize = 16;
/// Manifests kept for cards.
const MANIFESTS_KEPT: usize = 4_096;
/// Preview pictures kept for cards.
const PREVIEWS_KEPT: usize = 64;
/// Requests held back in the client above which files wanted for display
/// are asked for in a later frame.
const HELD_FOR_FILES: usize = 16;
/// How long a transaction may be pending with no news before the host
/// is asked where it is.
const STATUS_AFTER: std::time::Duration = std::time::Duration::from_secs(20);
/// Quotes kept.
const QUOTES_KEPT: usize = 8;
/// How long a quote is shown before it is asked again (a return's refund
/// falls as periods begin).
pub const QUOTE_FRESH: std::time::Duration = std::time::Duration::from_secs(10);
/// How long the account is not asked for again after a refusal.
const REFUSED_PAUSE: std::time::Duration = std::time::Duration::from_secs(5);

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
    /// A quote for this question.
    Quote(QuoteAsk),
    /// An asset's manifest.
    Manifest(AssetId),
    /// A preview picture, by content id.
    Preview(ContentId),
    /// A model for the cache, by content id.
    Model(ContentId),
    /// A trade invitation or action.
    Trade,
}

/// Where an action stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxProgress {
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

impl TxProgress {
    /// Whether it is over.
    pub fn is_final(&self) -> bool {
        matches!(self, TxProgress::Applied { .. } | TxProgress::Rejected(_))
    }

    /// In words, for the activity list.
    pub fn describe(&self) -> String {
        match self {
            TxProgress::Queued => "queued".to_owned(),
            TxProgress::Signing => "signing".to_owned(),
            TxProgress::Sent(_) => "sent".to_owned(),
            TxProgress::Pending(_) => "pending".to_owned(),
            TxProgress::Applied { height, .. } => format!("final in block {height}"),
            TxProgress::Rejected(reason) => format!("rejected: {reason}"),
        }
    }
}

/// Something the player signs: an operation and where it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlayerTx {
    /// What it does, in words.
    pub label: String,
    /// The operation.
    pub op: Operation,
    /// A nonce the operation fixes (a trade's), else the account's next.
    nonce: Option<Nonce>,
    /// Where it stands.
    pub stage: TxProgress,
    /// When it reached its stage (or was last asked about).
    since: Instant,
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
    /// The request of the page asked last (older answers are dropped).
    asked: Option<u32>,
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
    /// When it was asked.
    pub at: Instant,
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
    /// An invitation sent and not yet answered.
    inviting: bool,
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
    /// The latest quotes, newest last.
    quotes: VecDeque<QuoteView>,
    /// Files (manifests, previews, models) the host could not give: not
    /// asked for again.
    missing: HashSet<ContentId>,
    /// When the account was last refused.
    holdings_refused: Option<Instant>,
    /// Manifests fetched, by asset.
    pub manifests: HashMap<AssetId, Manifest>,
    /// Preview pictures fetched (PNG bytes), by content id.
    pub previews: HashMap<ContentId, Vec<u8>>,
    /// Actions in flight, the first one being worked on.
    pub actions: VecDeque<PlayerTx>,
    /// Finished actions, newest last.
    pub done: VecDeque<PlayerTx>,
    /// The trade window.
    pub trade: TradeDesk,
    /// The latest block's time, from the host's events.
    pub block_time: Option<(Timestamp, Instant)>,
    /// Where models are cached (the asset server's folder), if anywhere.
    pub cache: Option<PathBuf>,
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
            quotes: VecDeque::new(),
            missing: HashSet::new(),
            holdings_refused: None,
            manifests: HashMap::new(),
            previews: HashMap::new(),
            actions: VecDeque::new(),
            done: VecDeque::new(),
            trade: TradeDesk::default(),
            block_time: None,
            cache: None,
        }
    }

    /// The desk, caching models it fetches in `cache`.
    pub fn with_cache(mut self, cache: PathBuf) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Whether the client has enough requests held back that files wanted
    /// for display can wait for a later frame.
    fn backed_up(client: &Client) -> bool {
        client.held_requests() >= HELD_FOR_FILES
    }

    fn ask(&mut self, client: &mut Client, why: Asked, build: impl FnOnce(u32) -> ClientMessage) {
        let id = client.ask(build);
        self.asked.insert(id, why);
    }

    fn waiting_for(&self, why: &Asked) -> bool {
        self.asked.values().any(|asked| asked == why)
    }

    /// An asset's name, from its manifest once fetched, else the end of
    /// its id.
    pub fn asset_name(&self, asset: &AssetId) -> String {
        self.manifests
            .get(asset)
            .map(|manifest| manifest.name.clone())
            .unwrap_or_else(|| {
                let id = asset.to_string();
                format!("asset ..{}", &id[id.len().saturating_sub(8)..])
            })
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
        if self.catalogue.waiting {
            return;
        }
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
        if self.catalogue.waiting {
            return;
        }
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
        let id = client.ask(|request| ClientMessage::Browse { request, query });
        self.asked.insert(id, Asked::Page);
        self.catalogue.asked = Some(id);
    }

    /// Asks for the account again (unless that is already asked).
    pub fn refresh(&mut self, client: &mut Client) {
        let refused_lately = self
            .holdings_refused
            .is_some_and(|at| at.elapsed() < REFUSED_PAUSE);
        if !refused_lately && !self.waiting_for(&Asked::Holdings) {
            self.ask(client, Asked::Holdings, |request| {
                ClientMessage::Inventory { request }
            });
        }
    }

    /// What `ask` would cost and pay out now: the host's last answer (or
    /// `None` while it is asked); asked again when older than
    /// [`QUOTE_FRESH`].
    pub fn quote(&mut self, client: &mut Client, ask: QuoteAsk) -> Option<Result<Quote, String>> {
        let known = self.quotes.iter().rposition(|view| view.ask == ask);
        let stale = known.is_none_or(|at| {
            let view = &self.quotes[at];
            view.answer.is_some() && view.at.elapsed() > QUOTE_FRESH
        });
        // One quote at a time: a slider dragged asks for where it stops.
        let in_flight = self
            .asked
            .values()
            .any(|asked| matches!(asked, Asked::Quote(_)));
        if stale && !in_flight {
            if let Some(at) = known {
                // The old figures stay on screen until the new ones come.
                self.quotes[at].at = Instant::now();
            } else {
                if self.quotes.len() >= QUOTES_KEPT {
                    self.quotes.pop_front();
                }
                self.quotes.push_back(QuoteView {
                    ask,
                    answer: None,
                    at: Instant::now(),
                });
            }
            self.ask(client, Asked::Quote(ask), |request| ClientMessage::Quote {
                request,
                ask,
            });
        }
        self.quotes
            .iter()
            .rfind(|view| view.ask == ask)
            .and_then(|view| view.answer.clone())
    }

    /// Fetches an asset's manifest for its card, unless it is known or
    /// already asked for.
    pub fn want_manifest(&mut self, client: &mut Client, asset: AssetId) {
        let why = Asked::Manifest(asset);
        if self.manifests.contains_key(&asset)
            || self.missing.contains(&asset.0)
            || Self::backed_up(client)
            || self.waiting_for(&why)
        {
            return;
        }
        let id = asset.0.to_bytes();
        self.ask(client, why, |request| ClientMessage::Fetch { request, id });
    }

    /// Fetches a preview picture, unless it is known or already asked for.
    pub fn want_preview(&mut self, client: &mut Client, preview: ContentId) {
        let why = Asked::Preview(preview);
        if self.previews.contains_key(&preview)
            || self.missing.contains(&preview)
            || Self::backed_up(client)
            || self.waiting_for(&why)
        {
            return;
        }
        let id = preview.to_bytes();
        self.ask(client, why, |request| ClientMessage::Fetch { request, id });
    }

    /// The cache's file name of `model` once it is there; until then it is
    /// fetched (once) and `None`.
    pub fn model_file(&mut self, client: &mut Client, model: &ContentId) -> Option<String> {
        let cache = self.cache.as_ref()?;
        let file = format!("{model}.glb");
        if cache.join(&file).exists() {
            return Some(file);
        }
        let why = Asked::Model(*model);
        if !self.missing.contains(model) && !Self::backed_up(client) && !self.waiting_for(&why) {
            let id = model.to_bytes();
            self.ask(client, why, |request| ClientMessage::Fetch { request, id });
        }
        None
    }

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
            nonce: None,
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

    /// Invites `player` to trade, unless a window or an invitation is
    /// already open (one trade at a time).
    pub fn trade_invite(&mut self, client: &mut Client, player: u16) -> Result<(), Refusal> {
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
    pub fn trade_answer(&mut self, client: &mut Client, accept: bool) -> Result<(), Refusal> {
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
    pub fn trade_act(&mut self, client: &mut Client, action: trade::Action) -> Result<(), Refusal> {
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

    /// Moves the first action on: asks for the nonce when it is its turn.
    pub fn advance(&mut self, client: &mut Client) {
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

    fn finish_first(&mut self, client: &mut Client, stage: TxProgress) {
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
        let request = message.request();
        let asked = request.and_then(|request| self.asked.remove(&request));
        match (asked, message) {
            (Some(Asked::Page), _) if request != self.catalogue.asked => {}
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
            (Some(Asked::Holdings), ServerMessage::Error { message, .. }) => {
                warn!(%message, "the host refused the account");
                self.holdings_refused = Some(Instant::now());
            }
            (Some(Asked::Nonce), ServerMessage::Inventory { account, now, .. }) => {
                self.sign_first(client, account, now);
            }
            (Some(Asked::Nonce | Asked::Submit), ServerMessage::Error { message, .. }) => {
                self.finish_first(client, TxProgress::Rejected(message));
            }
            (Some(Asked::Submit), ServerMessage::Tx { id, state, .. }) => {
                self.tx_state(client, id, state);
            }
            (Some(Asked::Quote(ask)), ServerMessage::Quote { quote, .. }) => {
                self.quoted(ask, Ok(quote));
            }
            (Some(Asked::Quote(ask)), ServerMessage::Error { message, .. }) => {
                self.quoted(ask, Err(message));
            }
            (Some(Asked::Manifest(asset)), ServerMessage::Chunk { bytes, .. }) => {
                match Manifest::from_json(&bytes) {
                    Ok(manifest) if asset.0.matches(&bytes) => {
                        if self.manifests.len() >= MANIFESTS_KEPT
                            && let Some(old) = self.manifests.keys().next().copied()
                        {
                            self.manifests.remove(&old);
                        }
                        self.manifests.insert(asset, manifest);
                    }
                    _ => {
                        warn!(%asset, "the host sent a manifest that does not read");
                        self.miss(asset.0);
                    }
                }
            }
            (Some(Asked::Manifest(asset)), ServerMessage::Error { message, .. }) => {
                warn!(%asset, %message, "no manifest");
                self.miss(asset.0);
            }
            (Some(Asked::Preview(preview)), ServerMessage::Chunk { bytes, .. }) => {
                if preview.matches(&bytes) {
                    if self.previews.len() >= PREVIEWS_KEPT {
                        self.previews.clear();
                    }
                    self.previews.insert(preview, bytes);
                } else {
                    warn!(%preview, "the host sent a preview that is not the one asked for");
                    self.miss(preview);
                }
            }
            (Some(Asked::Model(model)), ServerMessage::Chunk { bytes, .. }) => match &self.cache {
                Some(cache) if model.matches(&bytes) => {
                    if let Err(err) =
                        crate::stock::write_whole(cache, &format!("{model}.glb"), &bytes)
                    {
                        warn!(%model, %err, "the model could not be cached");
                        self.miss(model);
                    }
                }
                _ => {
                    warn!(%model, "the host sent a model that is not the one asked for");
                    self.miss(model);
                }
            },
            (Some(Asked::Model(model)), ServerMessage::Error { message, .. }) => {
                warn!(%model, %message, "no model");
                self.miss(model);
            }
            (Some(Asked::Preview(preview)), ServerMessage::Error { message, .. }) => {
                warn!(%preview, %message, "no preview");
                self.miss(preview);
            }
            (Some(Asked::Trade), ServerMessage::Trade { view, .. }) => {
                self.trade_view(*view, true);
            }
            (Some(Asked::Trade), ServerMessage::Error { message, .. }) => {
                self.trade.inviting = false;
                self.trade.error = Some(message);
            }
            (None, ServerMessage::Tx { id, state, .. }) => self.tx_state(client, id, state),
            (None, ServerMessage::Trade { view, .. }) => self.trade_view(*view, false),
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

    fn miss(&mut self, id: ContentId) {
        if self.missing.len() >= MANIFESTS_KEPT {
            self.missing.clear();
        }
        self.missing.insert(id);
    }

    fn quoted(&mut self, ask: QuoteAsk, answer: Result<Quote, String>) {
        if let Some(view) = self.quotes.iter_mut().rev().find(|view| view.ask == ask) {
            view.answer = Some(answer);
        }
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
        first.stage = TxProgress::Sent(tx.id());
        first.since = Instant::now();
        self.ask(client, Asked::Submit, |request| ClientMessage::Submit {
            request,
            tx,
        });
    }

    fn tx_state(&mut self, client: &mut Client, id: TxId, state: TxState) {
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

    /// A trade window's news: `answer` when it answers this player's own
    /// request (an invitation it sent opens its window).
    fn trade_view(&mut self, view: TradeView, answer: bool) {
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
    fn finish_trade(&mut self, view: &TradeView) {
        if view.stage != trade::Stage::Signed
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
                nonce: Some(nonce),
                stage: TxProgress::Queued,
                since: Instant::now(),
            },
        );
        self.trade.submitted = Some(view.trade);
    }
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
            page_size: crate::catalogue::PAGE,
            ..Browse::default()
        },
    );
}
