//! The marketplace: what the player asks of the host and what it answers,
//! kept for the panels to show. No UI here: the panels call the marketplace's
//! methods, the marketplace turns them into protocol requests, and each answer
//! the session brings lands in the marketplace by its request id.
//!
//! Transactions go one at a time, so each takes the account's next nonce
//! (a trade, the one its terms fixed; `market::transaction` writes the
//! rule): the marketplace asks for the account and the host's time, signs
//! with the player's key, submits, and follows the transaction until it is final
//! (applied, or rejected with the ledger's reason).

mod appearance;
mod browse;
mod kept;
mod land;
mod people;
mod quotes;
mod trades;
mod transactions;

pub use land::{LandView, land_file, with_item, without_item};
pub use people::{People, people_file};

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::time::Instant;

use assets::{ContentId, Manifest};
use bevy::prelude::*;
use ledger::{Account, Address, AssetId, Operation, Timestamp, TxId};
use plaza_client::client::Session;
use plaza_client::protocol::{
    Browse, Card, ClientMessage, ErrorCode, Event, Holding, Quote, QuoteAsk, ServerMessage,
    TradeView,
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
    /// Putting on this asset.
    Wear(AssetId),
    /// Taking off what a slot holds.
    TakeOff,
    /// A line said to this player alone.
    Tell(u16),
    /// Blocking an account, or no longer.
    Block,
    /// Blocking again, at a new host or in a new run, what was blocked.
    BlockAgain,
    /// Putting things down on a parcel, or taking them up.
    Arrange,
    /// Giving a host again what the player put down on a parcel.
    Restore,
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
    /// Where it stands.
    pub stage: TxProgress,
    /// When it reached its stage (or was last asked about).
    since: Instant,
}

/// The catalogue panel's state.
#[derive(Clone, Debug, Default)]
pub struct CatalogueView {
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
pub struct AccountView {
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
pub struct TradeProgress {
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

/// The marketplace: requests in flight and what their answers said.
#[derive(Resource, Debug)]
pub struct Marketplace {
    /// The player's account.
    pub me: Address,
    asked: HashMap<u32, Asked>,
    /// The catalogue panel.
    pub catalogue: CatalogueView,
    /// The account, once known.
    pub holdings: Option<AccountView>,
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
    pub trade: TradeProgress,
    /// Lines said to one player, and blocks.
    pub people: People,
    /// The latest block's time, from the host's events.
    pub block_time: Option<(Timestamp, Instant)>,
    /// Where models are cached (the asset server's folder), if anywhere.
    pub cache: Option<PathBuf>,
    /// Wearables the host would not put on: not asked for again until
    /// the account changes.
    wear_refused: HashSet<AssetId>,
    /// Where the player's arrangements of its parcels stand.
    pub land: LandView,
}

/// Why the marketplace refused something before asking the host.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

impl Marketplace {
    /// An empty marketplace for the player `me`.
    pub fn new(me: Address) -> Self {
        Marketplace {
            me,
            asked: HashMap::new(),
            catalogue: CatalogueView::default(),
            holdings: None,
            quotes: VecDeque::new(),
            missing: HashSet::new(),
            holdings_refused: None,
            manifests: HashMap::new(),
            previews: HashMap::new(),
            actions: VecDeque::new(),
            done: VecDeque::new(),
            trade: TradeProgress::default(),
            people: People::default(),
            block_time: None,
            cache: None,
            wear_refused: HashSet::new(),
            land: LandView::default(),
        }
    }

    /// The marketplace, caching models it fetches in `cache`.
    pub fn with_cache(mut self, cache: PathBuf) -> Self {
        self.cache = Some(cache);
        self
    }

    /// The marketplace, keeping blocks and mutes in `file` (and asking
    /// the host for the blocks kept there once the session is up).
    pub fn with_people(mut self, file: PathBuf) -> Self {
        self.people = People::kept_in(file);
        self
    }

    /// The player goes on at another host: what was asked of the old
    /// one is forgotten (the new session numbers its requests afresh), an
    /// action being signed is signed again and one sent is asked after
    /// at once, and an open trade ends (its window lived at the old
    /// host).
    pub fn host_changed(&mut self) {
        self.asked.clear();
        self.land.waiting = false;
        // Blocks asked again of the old host are asked of the new one.
        self.people.reasking = 0;
        if let Some(first) = self.actions.front_mut() {
            first.stage = match first.stage {
                TxProgress::Signing => TxProgress::Queued,
                TxProgress::Sent(id) => TxProgress::Pending(id),
                ref other => other.clone(),
            };
            // Long enough ago that a pending one is asked after now.
            first.since = Instant::now()
                .checked_sub(STATUS_AFTER)
                .unwrap_or_else(Instant::now);
        }
        let open = self.trade.view.is_some() || self.trade.invitation.is_some();
        let inviting = self.trade.inviting;
        self.trade = TradeProgress::default();
        if open || inviting {
            self.trade.error =
                Some("the trade ended: its host went away (nothing was exchanged)".into());
        }
    }

    /// Whether the client has enough requests held back that files wanted
    /// for display can wait for a later frame.
    fn backed_up(client: &Session<'_>) -> bool {
        client.held_requests() >= HELD_FOR_FILES
    }

    fn ask(
        &mut self,
        client: &mut Session<'_>,
        why: Asked,
        build: impl FnOnce(u32) -> ClientMessage,
    ) {
        let id = client.ask(build);
        self.asked.insert(id, why);
    }

    fn waiting_for(&self, why: &Asked) -> bool {
        self.asked.values().any(|asked| asked == why)
    }

    /// Takes in a message from the host: answers to the marketplace's requests
    /// and news of the account and trades. Returns what is not the marketplace's.
    pub fn take(
        &mut self,
        client: &mut Session<'_>,
        message: ServerMessage,
    ) -> Option<ServerMessage> {
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
                self.holdings = Some(AccountView {
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
                        crate::stalls::write_whole(cache, &format!("{model}.glb"), &bytes)
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
            // The session keeps every player's appearance.
            (Some(Asked::Wear(_)), ServerMessage::Appearance { .. }) => {}
            // Refused: not asked again until the account changes; a
            // busy or catching-up host is asked again.
            (
                Some(Asked::Wear(asset)),
                ServerMessage::Error {
                    code: ErrorCode::Refused,
                    message,
                    ..
                },
            ) => self.wear_refused(asset, message),
            (Some(Asked::Wear(_)), ServerMessage::Error { .. }) => {}
            (Some(Asked::TakeOff), ServerMessage::Appearance { .. }) => {}
            (Some(Asked::TakeOff), ServerMessage::Error { message, .. }) => {
                warn!(%message, "the host would not take it off");
            }
            (Some(Asked::Tell(player)), ServerMessage::Delivered { .. }) => {
                self.people.told = Some(Ok(player));
            }
            (Some(Asked::Tell(_) | Asked::Block), ServerMessage::Error { message, .. }) => {
                self.people.told = Some(Err(message));
            }
            (Some(Asked::Block), ServerMessage::Blocked { accounts, .. }) => {
                self.people.blocked_now(accounts.into_iter().collect());
            }
            (Some(Asked::BlockAgain), ServerMessage::Blocked { accounts, .. }) => {
                self.people.blocked_again(accounts);
            }
            // The session keeps what stands on each parcel.
            (Some(Asked::Arrange), ServerMessage::Arranged { .. }) => self.land.taken(),
            (Some(Asked::Arrange), ServerMessage::Error { message, .. }) => {
                self.land.refused(message);
            }
            (Some(Asked::Restore), ServerMessage::Arranged { .. }) => {}
            // The host had a newer one, or the parcel changed hands.
            (Some(Asked::Restore), ServerMessage::Error { message, .. }) => {
                tracing::debug!(%message, "a kept arrangement was not taken again");
            }
            (Some(Asked::BlockAgain), ServerMessage::Error { message, .. }) => {
                warn!(%message, "the host would not block again");
                self.people.blocked_again(Vec::new());
            }
            (None, ServerMessage::Tx { id, state, .. }) => self.tx_state(client, id, state),
            (None, ServerMessage::Trade { view, .. }) => self.trade_view(*view, false),
            (None, ServerMessage::Event(event)) => {
                match event {
                    Event::Block { time, .. } => self.block_time = Some((time, Instant::now())),
                    Event::Listing(_)
                    | Event::RentalStarted(_)
                    | Event::RentalEnded(_)
                    | Event::Balance { .. } => {
                        self.wear_refused.clear();
                        self.refresh(client)
                    }
                }
                return Some(ServerMessage::Event(event));
            }
            (_, other) => return Some(other),
        }
        None
    }
}

/// Keeps the session's answers flowing into the marketplace and its first action
/// moving.
pub struct MarketplacePlugin;

impl Plugin for MarketplacePlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Startup, first_look);
    }
}

fn first_look(mut connection: crate::net::Connection, mut marketplace: ResMut<Marketplace>) {
    let Some(mut session) = connection.get() else {
        return;
    };
    marketplace.refresh(&mut session);
    let world = session.welcome().map(|welcome| welcome.world.name.clone());
    marketplace.search(
        &mut session,
        Browse {
            world,
            page_size: crate::catalogue::PAGE,
            ..Browse::default()
        },
    );
}
