//! The wire protocol between a world client and a host, shared by both.
//!
//! Two exchanges:
//! - **Join**, over a small TCP endpoint ([`crate::join`]): the client
//!   names its account, signs the host's challenge (which names the host
//!   and the world) with its wallet key, and gets a netcode connect token,
//!   sealed to key shares of that exchange, whose private part carries the
//!   proven account. Frames are a 2-byte length and a borsh value.
//! - **Session**, over renet with netcode's secure mode: reliable ordered
//!   messages for everything but movement ([`ClientMessage`],
//!   [`ServerMessage`]), unreliable ones for avatar state at
//!   [`TICK_HZ`] ([`Move`], [`Avatars`]), and a reliable channel of its own
//!   for blobs (the host's chunks of a fetch, a client's [`Upload`]s) so
//!   that a model moving never holds up a trade. A netcode datagram
//!   carries every renet packet one side has for the other in an update,
//!   each framed by a 2-byte length (Plaza's own transport on both ends,
//!   not renet_netcode's).
//!
//! Every message is borsh, refused if longer than its channel's limit or
//! if bytes are left over, and checked field by field
//! ([`ClientMessage::decode`]); a [`SessionState`] says which messages may
//! arrive when.

use std::time::Duration;

use borsh::{BorshDeserialize, BorshSerialize};
use ledger::{
    Account, ActiveRental, Address, Amount, AssetId, ChainId, Height, Listing, ListingId, Rental,
    RentalId, Signature, SignedTransaction, Timestamp, TradeSide, TradeTerms, TxId,
};
use market::trade::{Action, Stage};
use renet::{ChannelConfig, ConnectionConfig, SendType};

/// The protocol's version. It is part of the netcode protocol id, so a
/// client of another version cannot connect; one that does is refused at
/// hello with [`ErrorCode::WrongVersion`]. Version 2: uploads, quotes,
/// bundled datagrams. Version 3: the join names the host and the world,
/// and the connect token travels sealed ([`crate::join`]). Version 4: a
/// trade's stage is the market's `Stage`, and its actions the market's
/// `Action`.
pub const VERSION: u16 = 4;
/// Avatar updates per second, both ways.
pub const TICK_HZ: u32 = 20;
/// Reliable ordered channel: requests, answers, events, trades.
pub const CHANNEL_RELIABLE: u8 = 0;
/// Unreliable channel: avatar state.
pub const CHANNEL_AVATAR: u8 = 1;
/// Reliable ordered channel for blobs: the host's [`ServerMessage::Chunk`]s
/// of a fetch, and a client's [`Upload`]s.
pub const CHANNEL_ASSETS: u8 = 2;

/// Longest client message, in bytes: a submitted transaction of the
/// largest size (a mint carrying its manifest) fits.
pub const MAX_CLIENT_MESSAGE_BYTES: usize = ledger::MAX_TX_BYTES + 1024;
/// Longest host message, in bytes.
pub const MAX_SERVER_MESSAGE_BYTES: usize = 64 * 1024;
/// Longest join frame, in bytes (a connect token is 2,048).
pub const MAX_JOIN_FRAME_BYTES: usize = 4 * 1024;
/// Bytes of an asset in one chunk.
pub const CHUNK_BYTES: usize = 16 * 1024;
/// Largest blob a client may upload (a model, its preview or its
/// manifest).
pub const MAX_UPLOAD_BYTES: u64 = 16 << 20;
/// Longest chat line, in bytes.
pub const MAX_CHAT_BYTES: usize = 280;
/// Longest world name, in bytes.
pub const MAX_WORLD_NAME_BYTES: usize = 64;
/// Longest catalogue search text, in bytes.
pub const MAX_SEARCH_BYTES: usize = 200;
/// Most hits on one catalogue page sent to a client.
pub const MAX_PAGE_HITS: u16 = 50;
/// Most avatars in one [`Avatars`] update.
pub const MAX_AVATARS_PER_UPDATE: usize = 48;
/// Requests one client may have waiting for an answer; more are refused
/// as busy.
pub const MAX_REQUESTS_WAITING: usize = 8;
/// Blob fetches one client may have queued; more are refused as busy.
pub const MAX_FETCHES_QUEUED: usize = 4;
/// Requests a client keeps waiting at most (the smaller of the two
/// limits above): [`crate::client::Client::ask`] holds the rest back
/// until answers come.
pub const CLIENT_REQUESTS_WAITING: usize = MAX_FETCHES_QUEUED;
/// Requests a second a client sends at most (burst twice that): under the
/// host's default of 30 reliable messages a second.
pub const CLIENT_REQUESTS_PER_SEC: f32 = 20.0;

/// Metres per unit of a quantised coordinate.
const POSITION_STEP: f32 = 1.0 / 64.0;
/// The quantised value of coordinate 0.
const POSITION_ZERO: f32 = 32_768.0;

/// Which end of a session a renet configuration is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The host.
    Host,
    /// A player's client.
    Client,
}

/// The renet channels and their memory limits for one end.
///
/// Each end may have as many bytes unacknowledged on a channel as the
/// channel's limit; the other end takes in twice that. Acknowledgements go
/// out when an end reads its socket, so everything that arrives between
/// two reads (after a long frame, say) is within the sender's window, and
/// the receiver counts a message that arrives in slices at whole slices,
/// which can add a little to it: with room for twice the window a slow
/// reader is never dropped for it.
pub fn connection_config(end: End) -> ConnectionConfig {
    let mut config = base_config();
    let receiving = match end {
        End::Host => &mut config.client_channels_config,
        End::Client => &mut config.server_channels_config,
    };
    for channel in receiving {
        channel.max_memory_usage_bytes *= 2;
    }
    config
}

fn base_config() -> ConnectionConfig {
    let reliable = |channel_id, max_memory_usage_bytes| ChannelConfig {
        channel_id,
        max_memory_usage_bytes,
        send_type: SendType::ReliableOrdered {
            resend_time: Duration::from_millis(200),
        },
    };
    let avatar = |max_memory_usage_bytes| ChannelConfig {
        channel_id: CHANNEL_AVATAR,
        max_memory_usage_bytes,
        send_type: SendType::Unreliable,
    };
    ConnectionConfig {
        available_bytes_per_tick: 64 * 1024,
        server_channels_config: vec![
            reliable(CHANNEL_RELIABLE, 2 * 1024 * 1024),
            avatar(64 * 1024),
            reliable(CHANNEL_ASSETS, 256 * 1024),
        ],
        client_channels_config: vec![
            reliable(CHANNEL_RELIABLE, 256 * 1024),
            avatar(16 * 1024),
            reliable(CHANNEL_ASSETS, 256 * 1024),
        ],
    }
}

/// The netcode protocol id of a network: a hash of the protocol version
/// and the chain id, so that a token for one network or version is
/// refused by another.
pub fn protocol_id(chain_id: &ChainId) -> u64 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"plaza/world-protocol");
    hasher.update(&VERSION.to_le_bytes());
    hasher.update(chain_id.as_str().as_bytes());
    let hash = hasher.finalize();
    let mut id = [0u8; 8];
    id.copy_from_slice(&hash.as_bytes()[..8]);
    u64::from_le_bytes(id)
}

/// Where a session stands; it decides which messages may arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionState {
    /// Connected with a proven account, not yet in a world: only
    /// [`ClientMessage::Hello`] is accepted.
    Connected,
    /// In a world: everything is accepted.
    InWorld,
}

/// How a player moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, BorshSerialize, BorshDeserialize)]
pub enum Gait {
    /// Standing.
    Idle,
    /// Walking.
    Walk,
    /// Running.
    Run,
}

/// An avatar's position, heading and gait in 8 bytes: coordinates in
/// 1/64 m over ±512 m, heading in 1/256 of a turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, BorshSerialize, BorshDeserialize)]
pub struct AvatarState {
    /// East-west.
    pub x: u16,
    /// Height.
    pub y: u16,
    /// North-south.
    pub z: u16,
    /// Heading.
    pub yaw: u8,
    /// Gait.
    pub gait: Gait,
}

fn quantise(metres: f32) -> u16 {
    let value = (metres / POSITION_STEP + POSITION_ZERO).round();
    // Saturating: a position out of range lands on the edge.
    value.clamp(0.0, f32::from(u16::MAX)) as u16
}

impl AvatarState {
    /// The state of an avatar at `position` (metres) facing `yaw`
    /// (radians).
    pub fn new(position: [f32; 3], yaw: f32, gait: Gait) -> Self {
        let turn = yaw.rem_euclid(std::f32::consts::TAU) / std::f32::consts::TAU;
        AvatarState {
            x: quantise(position[0]),
            y: quantise(position[1]),
            z: quantise(position[2]),
            yaw: ((turn * 256.0).round() as u32 % 256) as u8,
            gait,
        }
    }

    /// The position in metres.
    pub fn position(&self) -> [f32; 3] {
        let metres = |value: u16| (f32::from(value) - POSITION_ZERO) * POSITION_STEP;
        [metres(self.x), metres(self.y), metres(self.z)]
    }

    /// The heading in radians about the vertical: 0 faces -z, and it grows
    /// turning towards -x (counter-clockwise seen from above), as a
    /// rotation about +y does. [`heading_towards`] gives it for a direction.
    pub fn yaw(&self) -> f32 {
        f32::from(self.yaw) / 256.0 * std::f32::consts::TAU
    }
}

/// The heading ([`AvatarState::yaw`]) of an avatar moving by `dx`, `dz`.
pub fn heading_towards(dx: f32, dz: f32) -> f32 {
    (-dx).atan2(-dz)
}

/// A client's avatar update (unreliable channel).
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Move {
    /// Counts up with every update; older ones arriving late are ignored.
    pub seq: u32,
    /// Where the avatar is.
    pub state: AvatarState,
}

/// The host's avatar update for one client (unreliable channel): the
/// avatars in its view that moved, and all of them once a second.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Avatars {
    /// The host's tick.
    pub tick: u32,
    /// (player, state), nearest first.
    pub avatars: Vec<(u16, AvatarState)>,
}

/// A catalogue question (the market crate's query, in wire form).
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Browse {
    /// Words that must each begin a word of the asset's text.
    pub text: String,
    /// Only this kind of asset (its name, such as "lighting").
    pub kind: Option<String>,
    /// Only rent (`Some(true)`) or only sale (`Some(false)`) listings.
    pub rent: Option<bool>,
    /// Only prices at most this (per period for rent).
    pub max_price: Option<Amount>,
    /// Only listings by this owner.
    pub owner: Option<Address>,
    /// Only listings shown in this world.
    pub world: Option<String>,
    /// Cheapest first instead of newest first.
    pub cheapest_first: bool,
    /// Hits per page, 1 to [`MAX_PAGE_HITS`].
    pub page_size: u16,
    /// Continue after this cursor from an earlier page.
    pub after: Option<String>,
}

/// What a client asks of the host (reliable channel). Requests carry an
/// id the answer repeats.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ClientMessage {
    /// Enter (or change to) a world.
    Hello {
        /// The client's protocol version.
        version: u16,
        /// The world's name.
        world: String,
    },
    /// Say something to the players near you.
    Chat {
        /// The line.
        text: String,
    },
    /// Search the catalogue.
    Browse {
        /// Request id.
        request: u32,
        /// The question.
        query: Browse,
    },
    /// Your balance, nonce, and the assets you own and use.
    Inventory {
        /// Request id.
        request: u32,
    },
    /// Submit a transaction you signed; updates follow until it is final.
    Submit {
        /// Request id.
        request: u32,
        /// The transaction.
        tx: SignedTransaction,
    },
    /// Where a transaction is.
    TxStatus {
        /// Request id.
        request: u32,
        /// The transaction.
        id: TxId,
    },
    /// Fetch a blob (an asset's manifest, model or preview) by content id.
    Fetch {
        /// Request id.
        request: u32,
        /// The content id's bytes.
        id: Vec<u8>,
    },
    /// What renting, buying or returning early would cost and pay out,
    /// now, for you (the market crate's quotes on committed state).
    Quote {
        /// Request id.
        request: u32,
        /// The question.
        ask: QuoteAsk,
    },
    /// Invite another player of your world to trade.
    TradeInvite {
        /// Request id.
        request: u32,
        /// The player.
        player: u16,
    },
    /// Act in a trade window you are part of.
    TradeAct {
        /// Request id.
        request: u32,
        /// The window.
        trade: u64,
        /// What you do: the market's own action.
        action: Action,
    },
}

/// What a client is told about another player.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct PlayerInfo {
    /// The player's number in this world.
    pub player: u16,
    /// Their account.
    pub account: Address,
}

/// A market stall in a world.
#[derive(Clone, Debug, PartialEq, BorshSerialize, BorshDeserialize)]
pub struct StallInfo {
    /// Its sign.
    pub name: String,
    /// The kinds of asset it shows.
    pub kinds: Vec<String>,
    /// Where it stands (x, z), in metres.
    pub position: [f32; 2],
}

/// A parcel of land in a world.
#[derive(Clone, Debug, PartialEq, BorshSerialize, BorshDeserialize)]
pub struct ParcelInfo {
    /// Its name.
    pub name: String,
    /// Its holder.
    pub holder: Option<Address>,
    /// One corner (x, z), in metres.
    pub min: [f32; 2],
    /// The opposite corner.
    pub max: [f32; 2],
}

/// A world's scene as the client draws it.
#[derive(Clone, Debug, PartialEq, BorshSerialize, BorshDeserialize)]
pub struct WorldInfo {
    /// The world's name.
    pub name: String,
    /// Half the side of the square world, in metres.
    pub half_size: f32,
    /// Where new avatars appear.
    pub spawn: [f32; 3],
    /// Market stalls.
    pub stalls: Vec<StallInfo>,
    /// Parcels.
    pub parcels: Vec<ParcelInfo>,
}

/// Where a listing is shown: world name, stall or parcel, index.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Shown {
    /// The world.
    pub world: String,
    /// A stall (`true`) or a parcel.
    pub stall: bool,
    /// Its index in the world's stalls or parcels.
    pub index: u16,
}

/// One catalogue hit, as a card shows it.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Card {
    /// The listing.
    pub listing: Listing,
    /// The asset's creator.
    pub creator: Address,
    /// When the asset's current rental ends, if rented out.
    pub rented_until: Option<Timestamp>,
    /// The asset's name, if the host has its manifest.
    pub name: Option<String>,
    /// Its kind.
    pub kind: Option<String>,
    /// Its preview's content id.
    pub preview: Option<Vec<u8>>,
    /// Where worlds show it.
    pub shown: Vec<Shown>,
}

/// An asset a player holds.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Holding {
    /// The asset.
    pub asset: AssetId,
    /// Its owner.
    pub owner: Address,
    /// The rental that holds its use right now, if it is rented out: its
    /// id, renter and end.
    pub rented: Option<ActiveRental>,
    /// Its open listing, if any.
    pub listing: Option<u64>,
}

/// Where a transaction is.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum TxState {
    /// Waiting for a block.
    Pending,
    /// Applied in the block at this height.
    Applied {
        /// The block.
        height: Height,
    },
    /// Refused: in a block at `height`, or on arrival or while waiting
    /// when `height` is `None`.
    Rejected {
        /// The block, if it got into one.
        height: Option<Height>,
        /// The ledger's reason.
        reason: String,
    },
    /// Not known to this host.
    Unknown,
}

/// A ledger change that concerns a player.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Event {
    /// A block was committed.
    Block {
        /// Its height.
        height: Height,
        /// Its time.
        time: Timestamp,
    },
    /// One of the player's listings was made or changed.
    Listing(Listing),
    /// A rental the player is lessor or renter of began.
    RentalStarted(Rental),
    /// A rental the player is lessor or renter of ended (settled or
    /// returned).
    RentalEnded(Rental),
    /// The player's balance changed: a payment received is `after >
    /// before`.
    Balance {
        /// Before the block.
        before: Amount,
        /// After it.
        after: Amount,
    },
}

/// Where a trade window stands, as both players see it.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct TradeView {
    /// The window's id.
    pub trade: u64,
    /// The inviter (the ledger's party `a`).
    pub inviter: Address,
    /// The invitee (party `b`).
    pub invitee: Address,
    /// Where the window stands.
    pub stage: Stage,
    /// The offers' revision.
    pub revision: u64,
    /// What each side offers, inviter first.
    pub offers: [TradeSide; 2],
    /// Whether each side confirmed this revision.
    pub confirmed: [bool; 2],
    /// Whether each side signed the terms.
    pub signed: [bool; 2],
    /// The final terms to sign, from the signing stage on.
    pub terms: Option<TradeTerms>,
    /// Both signatures once signed: the inviter submits the trade.
    pub signatures: Option<[Signature; 2]>,
}

/// Why the host refused something.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ErrorCode {
    /// The bytes are not a message of this protocol.
    Malformed,
    /// The message is longer than its channel allows.
    TooLarge,
    /// Another protocol version.
    WrongVersion,
    /// Not allowed in the session's state (for example, before hello).
    WrongState,
    /// A field is out of range.
    Invalid,
    /// No such world, player, trade or blob.
    NotFound,
    /// Too many messages: slow down.
    RateLimited,
    /// Too many requests waiting: wait for answers.
    Busy,
    /// The join signature does not match the account.
    BadSignature,
    /// The ledger or market refused it; the message says why.
    Refused,
    /// The host cannot answer now.
    Unavailable,
}

/// What the host tells a client (reliable channels).
#[derive(Clone, Debug, PartialEq, BorshSerialize, BorshDeserialize)]
pub enum ServerMessage {
    /// You are in `world`.
    Welcome {
        /// The host's protocol version.
        version: u16,
        /// Your number in this world.
        player: u16,
        /// Your account.
        account: Address,
        /// The network.
        chain_id: String,
        /// The last committed block.
        height: Height,
        /// Its time.
        time: Timestamp,
        /// The scene.
        world: WorldInfo,
        /// Every world this host serves.
        worlds: Vec<String>,
        /// The players already here.
        players: Vec<PlayerInfo>,
    },
    /// A player entered your world.
    PlayerJoined(PlayerInfo),
    /// A player left it.
    PlayerLeft {
        /// Their number.
        player: u16,
    },
    /// Someone near you said something.
    Chat {
        /// Who.
        player: u16,
        /// Their account.
        account: Address,
        /// What.
        text: String,
    },
    /// A catalogue page.
    Page {
        /// Request id.
        request: u32,
        /// The hits.
        hits: Vec<Card>,
        /// The cursor of the next page, if any.
        next: Option<String>,
    },
    /// Your account.
    Inventory {
        /// Request id.
        request: u32,
        /// Balance and next nonce.
        account: Account,
        /// Assets you own.
        owned: Vec<Holding>,
        /// Assets you rent from others.
        renting: Vec<Holding>,
        /// The host's time: date transactions from it.
        now: Timestamp,
    },
    /// A transaction's state: the answer to a submit or status request
    /// (`request` set), or an update to one you submitted.
    Tx {
        /// Request id, for an answer.
        request: Option<u32>,
        /// The transaction.
        id: TxId,
        /// Where it is.
        state: TxState,
    },
    /// A ledger change that concerns you.
    Event(Event),
    /// A piece of a blob you fetched (assets channel). The blob is whole
    /// when `offset + bytes.len() == size`.
    Chunk {
        /// Request id.
        request: u32,
        /// Where the bytes go.
        offset: u64,
        /// The blob's length.
        size: u64,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// The answer to a [`ClientMessage::Quote`].
    Quote {
        /// Request id.
        request: u32,
        /// The figures.
        quote: Quote,
    },
    /// Your upload is whole, matches its content id and is stored.
    Stored {
        /// Request id.
        request: u32,
        /// The content id's bytes.
        id: Vec<u8>,
    },
    /// A trade window you are part of changed: the answer to your action
    /// (`request` set), or news of the other player's.
    Trade {
        /// Request id, for an answer.
        request: Option<u32>,
        /// The window.
        view: Box<TradeView>,
    },
    /// A refusal.
    Error {
        /// The request refused, if it had an id.
        request: Option<u32>,
        /// Why, as a code.
        code: ErrorCode,
        /// Why, in words.
        message: String,
    },
}

/// A message that broke the protocol.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ProtocolError {
    /// What kind of breach.
    pub code: ErrorCode,
    /// In words.
    pub message: String,
}

impl ProtocolError {
    /// A breach of kind `code`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ProtocolError {
            code,
            message: message.into(),
        }
    }
}

impl From<market::MarketError> for ProtocolError {
    /// The market's refusal, told to the player as it is.
    fn from(err: market::MarketError) -> Self {
        ProtocolError::new(ErrorCode::Refused, err.to_string())
    }
}

/// Encodes a value; refused (never an empty message) if it cannot be,
/// which for these types means a collection past 4 GiB.
pub fn encode<T: BorshSerialize>(value: &T) -> Result<Vec<u8>, ProtocolError> {
    borsh::to_vec(value)
        .map_err(|err| ProtocolError::new(ErrorCode::TooLarge, format!("cannot encode: {err}")))
}

/// Decodes a value of at most `max` bytes with nothing left over.
pub fn decode<T: BorshDeserialize>(bytes: &[u8], max: usize) -> Result<T, ProtocolError> {
    if bytes.len() > max {
        return Err(ProtocolError::new(
            ErrorCode::TooLarge,
            format!("{} bytes, the most is {max}", bytes.len()),
        ));
    }
    borsh::from_slice(bytes)
        .map_err(|err| ProtocolError::new(ErrorCode::Malformed, format!("cannot decode: {err}")))
}

fn check_text(what: &str, text: &str, max: usize) -> Result<(), ProtocolError> {
    if text.len() > max {
        return Err(ProtocolError::new(
            ErrorCode::Invalid,
            format!("{what} is {} bytes, the most is {max}", text.len()),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(ProtocolError::new(
            ErrorCode::Invalid,
            format!("{what} holds control characters"),
        ));
    }
    Ok(())
}

impl ClientMessage {
    /// Decodes and checks a message from the reliable channel.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let message: ClientMessage = decode(bytes, MAX_CLIENT_MESSAGE_BYTES)?;
        message.check()?;
        Ok(message)
    }

    /// Checks each field's range.
    pub fn check(&self) -> Result<(), ProtocolError> {
        match self {
            ClientMessage::Hello { world, .. } => {
                check_text("the world name", world, MAX_WORLD_NAME_BYTES)
            }
            ClientMessage::Chat { text } => {
                if text.trim().is_empty() {
                    return Err(ProtocolError::new(ErrorCode::Invalid, "an empty chat line"));
                }
                check_text("a chat line", text, MAX_CHAT_BYTES)
            }
            ClientMessage::Browse { query, .. } => {
                check_text("the search text", &query.text, MAX_SEARCH_BYTES)?;
                if query.page_size == 0 || query.page_size > MAX_PAGE_HITS {
                    return Err(ProtocolError::new(
                        ErrorCode::Invalid,
                        format!(
                            "a page of {} hits: ask for 1 to {MAX_PAGE_HITS}",
                            query.page_size
                        ),
                    ));
                }
                for text in [&query.kind, &query.world, &query.after]
                    .into_iter()
                    .flatten()
                {
                    check_text("a browse field", text, MAX_WORLD_NAME_BYTES)?;
                }
                Ok(())
            }
            ClientMessage::Fetch { id, .. } => {
                if id.len() > 64 {
                    return Err(ProtocolError::new(
                        ErrorCode::Invalid,
                        "a content id of over 64 bytes",
                    ));
                }
                Ok(())
            }
            ClientMessage::Quote {
                ask: QuoteAsk::Rent { periods: 0, .. },
                ..
            } => Err(ProtocolError::new(
                ErrorCode::Invalid,
                "a rent quote for 0 periods",
            )),
            ClientMessage::Inventory { .. }
            | ClientMessage::Quote { .. }
            | ClientMessage::Submit { .. }
            | ClientMessage::TxStatus { .. }
            | ClientMessage::TradeInvite { .. }
            | ClientMessage::TradeAct { .. } => Ok(()),
        }
    }

    /// The request id, if the message has one.
    pub fn request(&self) -> Option<u32> {
        match self {
            ClientMessage::Hello { .. } | ClientMessage::Chat { .. } => None,
            ClientMessage::Browse { request, .. }
            | ClientMessage::Inventory { request }
            | ClientMessage::Submit { request, .. }
            | ClientMessage::TxStatus { request, .. }
            | ClientMessage::Fetch { request, .. }
            | ClientMessage::Quote { request, .. }
            | ClientMessage::TradeInvite { request, .. }
            | ClientMessage::TradeAct { request, .. } => Some(*request),
        }
    }

    /// The message's name, for errors and logs.
    pub fn name(&self) -> &'static str {
        match self {
            ClientMessage::Hello { .. } => "hello",
            ClientMessage::Chat { .. } => "chat",
            ClientMessage::Browse { .. } => "browse",
            ClientMessage::Inventory { .. } => "inventory",
            ClientMessage::Submit { .. } => "submit",
            ClientMessage::TxStatus { .. } => "tx status",
            ClientMessage::Fetch { .. } => "fetch",
            ClientMessage::Quote { .. } => "quote",
            ClientMessage::TradeInvite { .. } => "trade invite",
            ClientMessage::TradeAct { .. } => "trade action",
        }
    }

    /// Whether the message may arrive in `state`; the refusal if not.
    pub fn allowed_in(&self, state: SessionState) -> Result<(), ProtocolError> {
        match (state, self) {
            (SessionState::InWorld, _) | (SessionState::Connected, ClientMessage::Hello { .. }) => {
                Ok(())
            }
            (SessionState::Connected, message) => Err(ProtocolError::new(
                ErrorCode::WrongState,
                format!("{} before hello: enter a world first", message.name()),
            )),
        }
    }
}

/// A quote to ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum QuoteAsk {
    /// Renting a rent listing for some periods.
    Rent {
        /// The listing.
        listing: ListingId,
        /// Periods, at least 1.
        periods: u32,
    },
    /// Buying a sale listing.
    Buy {
        /// The listing.
        listing: ListingId,
    },
    /// Returning a rental you hold now.
    Return {
        /// The rental.
        rental: RentalId,
    },
}

/// What an action costs and pays out, in the ledger's own arithmetic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Quote {
    /// Paid by you now: rent and deposit into escrow, or the price.
    pub pay_now: Amount,
    /// The rent for the periods, the price, or (for a return) the rent for
    /// the periods begun.
    pub amount: Amount,
    /// The deposit held (returned at the end).
    pub deposit: Amount,
    /// To the asset's creator.
    pub royalty: Amount,
    /// To the block's proposer, for the network.
    pub fee: Amount,
    /// To the lessor or the seller.
    pub to_lessor: Amount,
    /// Back to you on a return: unused periods' rent and the deposit.
    pub to_renter: Amount,
    /// When a rental would end.
    pub ends_at: Option<Timestamp>,
}

/// A client's upload of a blob (an asset's model, preview or manifest),
/// on the assets channel, where order is kept: a [`Upload::Begin`], then
/// its bytes in order. One upload at a time; the host answers on the
/// reliable channel with [`ServerMessage::Stored`] once the whole blob
/// matches its content id and is stored, or with an error naming the
/// request.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum Upload {
    /// A blob of `size` bytes whose content id is `id` follows.
    Begin {
        /// Request id.
        request: u32,
        /// The content id's bytes.
        id: Vec<u8>,
        /// The blob's length, 1 to [`MAX_UPLOAD_BYTES`].
        size: u64,
    },
    /// The next bytes, at most [`CHUNK_BYTES`].
    Bytes {
        /// The request this belongs to.
        request: u32,
        /// Where the bytes go.
        offset: u64,
        /// The bytes.
        bytes: Vec<u8>,
    },
}

impl Upload {
    /// Decodes and checks a message from the assets channel.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let upload: Upload = decode(bytes, CHUNK_BYTES + 32)?;
        match &upload {
            Upload::Begin { id, size, .. } => {
                if *size == 0 || *size > MAX_UPLOAD_BYTES {
                    return Err(ProtocolError::new(
                        ErrorCode::TooLarge,
                        format!("an upload of {size} bytes: 1 to {MAX_UPLOAD_BYTES} may be sent"),
                    ));
                }
                if id.len() > 64 {
                    return Err(ProtocolError::new(
                        ErrorCode::Invalid,
                        "a content id of over 64 bytes",
                    ));
                }
            }
            Upload::Bytes { bytes, .. } => {
                if bytes.is_empty() || bytes.len() > CHUNK_BYTES {
                    return Err(ProtocolError::new(
                        ErrorCode::Invalid,
                        format!(
                            "an upload piece of {} bytes: 1 to {CHUNK_BYTES} may be sent",
                            bytes.len()
                        ),
                    ));
                }
            }
        }
        Ok(upload)
    }

    /// The request it belongs to.
    pub fn request(&self) -> u32 {
        match self {
            Upload::Begin { request, .. } | Upload::Bytes { request, .. } => *request,
        }
    }
}

impl ServerMessage {
    /// The request this message answers, if it is an answer.
    pub fn request(&self) -> Option<u32> {
        match self {
            ServerMessage::Page { request, .. }
            | ServerMessage::Inventory { request, .. }
            | ServerMessage::Quote { request, .. }
            | ServerMessage::Stored { request, .. }
            | ServerMessage::Chunk { request, .. } => Some(*request),
            ServerMessage::Tx { request, .. }
            | ServerMessage::Trade { request, .. }
            | ServerMessage::Error { request, .. } => *request,
            _ => None,
        }
    }

    /// Decodes a message from the reliable or assets channel.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        decode(bytes, MAX_SERVER_MESSAGE_BYTES)
    }
}

impl Move {
    /// Decodes an avatar update; its size is fixed.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        decode(bytes, 16)
    }
}

impl Avatars {
    /// Decodes an avatar update from the host.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let avatars: Avatars = decode(bytes, 8 + 10 * MAX_AVATARS_PER_UPDATE)?;
        Ok(avatars)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avatar_state_is_eight_bytes_and_round_trips_within_a_step() {
        let state = AvatarState::new([12.34, 0.5, -200.01], 1.0, Gait::Walk);
        assert_eq!(encode(&state).unwrap().len(), 8);
        let back = state.position();
        for (a, b) in back.iter().zip([12.34, 0.5, -200.01]) {
            assert!(
                (a - b).abs() <= POSITION_STEP / 2.0 + f32::EPSILON,
                "{a} vs {b}"
            );
        }
        assert!((state.yaw() - 1.0).abs() < std::f32::consts::TAU / 256.0);
        let far = AvatarState::new([10_000.0, -10_000.0, 0.0], -0.1, Gait::Idle);
        assert_eq!((far.x, far.y), (u16::MAX, 0));
        assert_eq!(encode(&Move { seq: 7, state }).unwrap().len(), 12);
    }

    #[test]
    fn messages_are_checked_for_size_fields_and_state() {
        let hello = ClientMessage::Hello {
            version: VERSION,
            world: "Plaza Square".into(),
        };
        assert_eq!(
            ClientMessage::decode(&encode(&hello).unwrap()),
            Ok(hello.clone())
        );
        let mut trailing = encode(&hello).unwrap();
        trailing.push(0);
        assert_eq!(
            ClientMessage::decode(&trailing).map_err(|e| e.code),
            Err(ErrorCode::Malformed)
        );
        assert_eq!(
            ClientMessage::decode(&[9, 1, 2]).map_err(|e| e.code),
            Err(ErrorCode::Malformed)
        );
        let long = ClientMessage::Chat {
            text: "a".repeat(MAX_CLIENT_MESSAGE_BYTES),
        };
        assert_eq!(
            ClientMessage::decode(&encode(&long).unwrap()).map_err(|e| e.code),
            Err(ErrorCode::TooLarge)
        );
        let shout = ClientMessage::Chat {
            text: "b".repeat(MAX_CHAT_BYTES + 1),
        };
        assert_eq!(
            ClientMessage::decode(&encode(&shout).unwrap()).map_err(|e| e.code),
            Err(ErrorCode::Invalid)
        );
        let browse = ClientMessage::Browse {
            request: 1,
            query: Browse {
                page_size: 0,
                ..Browse::default()
            },
        };
        assert_eq!(browse.check().map_err(|e| e.code), Err(ErrorCode::Invalid));
        assert_eq!(
            browse
                .allowed_in(SessionState::Connected)
                .map_err(|e| e.code),
            Err(ErrorCode::WrongState)
        );
        assert!(hello.allowed_in(SessionState::Connected).is_ok());
        assert!(browse.allowed_in(SessionState::InWorld).is_ok());
    }

    #[test]
    fn protocol_ids_differ_by_network() {
        let a = protocol_id(&ChainId::new("plaza-a").unwrap_or_else(|_| unreachable!()));
        let b = protocol_id(&ChainId::new("plaza-b").unwrap_or_else(|_| unreachable!()));
        assert_ne!(a, b);
    }
}
