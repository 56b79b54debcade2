//! What a host sends: answers to requests and the events of a world and
//! of the ledger a player needs.

use super::requests::Quote;
use super::{ErrorCode, MAX_SERVER_MESSAGE_BYTES, ProtocolError, decode};
use borsh::{BorshDeserialize, BorshSerialize};
use ledger::{
    Account, ActiveRental, Address, Amount, AssetId, Height, Listing, Rental, Signature, Timestamp,
    TradeSide, TradeTerms, TxId,
};
use market::trade::Stage;
use market::wear::Slot;

/// The most things one avatar wears: one in each slot.
pub const MAX_WORN: usize = Slot::ALL.len();

/// What a client is told about another player.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct PlayerInfo {
    /// The player's number in this world.
    pub player: u16,
    /// Their account.
    pub account: Address,
    /// What they wear, checked against the ledger by the host.
    pub worn: Worn,
}

/// What an avatar wears: at most one asset in each slot, in slot order.
pub type Worn = Vec<(Slot, AssetId)>;

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
    /// Its holder: its deed's renter during a rental, else its owner.
    pub holder: Option<Address>,
    /// One corner (x, z), in metres.
    pub min: [f32; 2],
    /// The opposite corner.
    pub max: [f32; 2],
    /// The ledger asset that is the parcel, once the network has one.
    /// What its holder put down on it follows the welcome, as
    /// [`ServerMessage::Arranged`] messages.
    pub deed: Option<AssetId>,
    /// The tenure its holder holds the deed under: an arrangement is for
    /// one tenure.
    pub tenure: Option<crate::land::Tenure>,
}

impl ParcelInfo {
    /// Its middle (x, z).
    pub fn centre(&self) -> [f32; 2] {
        [0, 1].map(|axis| self.min[axis] + (self.max[axis] - self.min[axis]) / 2.0)
    }

    /// Whether `at` (x, z) is on the parcel, edges included.
    pub fn contains(&self, at: [f32; 2]) -> bool {
        (0..2).all(|axis| {
            let (low, high) = (
                self.min[axis].min(self.max[axis]),
                self.min[axis].max(self.max[axis]),
            );
            low <= at[axis] && at[axis] <= high
        })
    }
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
    /// Paved paths.
    pub paths: Vec<PathInfo>,
    /// The world's own things: trees, lamps, benches, signs.
    pub props: Vec<Prop>,
}

/// Most paths, and most props, a client draws of a world.
pub const MAX_SCENERY: usize = 512;

/// The most a prop keeps walkers off, metres.
pub const MAX_PROP_BLOCKS: f32 = 5.0;

impl WorldInfo {
    /// The world as a client may draw it, whatever the host sent: its
    /// size and spawn point finite, every stall and parcel corner on the
    /// world (a number that is none put at its middle, so that stalls and
    /// parcels keep their places in the lists), paths and props that are
    /// not on the world dropped, at most [`MAX_SCENERY`] of each, a path's
    /// width and a prop's reach bounded.
    pub fn sanitized(mut self) -> WorldInfo {
        let half = if self.half_size.is_finite() {
            self.half_size.clamp(1.0, 100_000.0)
        } else {
            100.0
        };
        self.half_size = half;
        let onto = |v: f32| {
            if v.is_finite() {
                v.clamp(-half, half)
            } else {
                0.0
            }
        };
        self.spawn = self.spawn.map(onto);
        for stall in &mut self.stalls {
            stall.position = stall.position.map(onto);
        }
        for parcel in &mut self.parcels {
            parcel.min = parcel.min.map(onto);
            parcel.max = parcel.max.map(onto);
        }
        let on_world = |at: &[f32; 2]| at.iter().all(|v| v.is_finite() && v.abs() <= half);
        self.paths
            .retain(|path| on_world(&path.from) && on_world(&path.to) && path.width.is_finite());
        self.paths.truncate(MAX_SCENERY);
        for path in &mut self.paths {
            path.width = path.width.clamp(0.1, half);
        }
        self.props.retain(|prop| on_world(&prop.at));
        self.props.truncate(MAX_SCENERY);
        for prop in &mut self.props {
            prop.blocks = if prop.blocks.is_finite() {
                prop.blocks.clamp(0.0, MAX_PROP_BLOCKS)
            } else {
                0.0
            };
        }
        self
    }
}

/// A paved path: a straight strip between two points.
#[derive(Clone, Debug, PartialEq, BorshSerialize, BorshDeserialize)]
pub struct PathInfo {
    /// One end (x, z), metres.
    pub from: [f32; 2],
    /// The other end.
    pub to: [f32; 2],
    /// Its width, metres.
    pub width: f32,
}

/// One of a world's own things, drawn from its model: it belongs to the
/// world, not to anyone.
#[derive(Clone, Debug, PartialEq, BorshSerialize, BorshDeserialize)]
pub struct Prop {
    /// What it is ("Olive tree").
    pub name: String,
    /// The content id (bytes) of its glTF binary model, fetched as any
    /// model is.
    pub model: Vec<u8>,
    /// Where it stands (x, z), metres.
    pub at: [f32; 2],
    /// Which way it faces, in 256ths of a turn.
    pub turn: u8,
    /// Half the side of the square walkers keep out of, metres (0: they
    /// walk through).
    pub blocks: f32,
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
        /// Whether it changed what the stalls and parcels of your world
        /// show (a listing opened, closed, expired, rented out or back):
        /// read them again.
        restock: bool,
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
        /// Where you are: the world's spawn point, or where another host
        /// of this world last showed you (a player whose host went away
        /// goes on from there).
        at: [f32; 3],
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
    /// What a player in your world wears now, as the host checked it
    /// against the ledger: the answer to your own [`Wear`] (`request`
    /// set), or news (someone put something on or took it off, or the
    /// ledger took it from them: a rental ended, a sale or a trade).
    ///
    /// [`Wear`]: super::ClientMessage::Wear
    Appearance {
        /// Request id, for an answer.
        request: Option<u32>,
        /// The player.
        player: u16,
        /// What they wear, at most [`MAX_WORN`] things.
        worn: Worn,
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
    /// Other hosts of your world and where to join them (`ip:port`), at
    /// most [`MAX_HOSTS_TOLD`](super::MAX_HOSTS_TOLD): where to go on if
    /// this host goes away.
    Hosts {
        /// Their join addresses.
        joins: Vec<String>,
    },
    /// The accounts you block: the answer to a
    /// [`Block`](super::ClientMessage::Block).
    Blocked {
        /// Request id.
        request: u32,
        /// The accounts, at most [`MAX_BLOCKED`](super::MAX_BLOCKED).
        accounts: Vec<Address>,
    },
    /// Player `player` of your world said `text` to you alone.
    Told {
        /// The player, by its number in this world.
        player: u16,
        /// Its account.
        account: Address,
        /// What it said.
        text: String,
    },
    /// What you told a player reached it: the answer to a
    /// [`Tell`](super::ClientMessage::Tell).
    Delivered {
        /// Request id.
        request: u32,
    },
    /// The worlds the network knows and how many players are in each (on
    /// entry, and when it changed, every two seconds at most), at most
    /// [`MAX_WORLDS_TOLD`](super::MAX_WORLDS_TOLD): this host's first.
    Worlds {
        /// The worlds.
        worlds: Vec<WorldEntry>,
    },
    /// A parcel of your world has another deed, holder or tenure (a block
    /// sold, let, traded or took it back): what was put down on it is
    /// gone.
    Parcel {
        /// The parcel, by its index in the world's parcels.
        parcel: u16,
        /// Its deed.
        deed: Option<AssetId>,
        /// Its holder now.
        holder: Option<Address>,
        /// The tenure it holds the deed under.
        tenure: Option<crate::land::Tenure>,
    },
    /// What a parcel of your world shows now, as the host checked it
    /// against the ledger: the answer to your own
    /// [`Arrange`](super::ClientMessage::Arrange) (`request` set), or news
    /// (its holder arranged it, here or at another host of the world, or
    /// the ledger took a thing from its holder).
    Arranged {
        /// Request id, for an answer.
        request: Option<u32>,
        /// The parcel, by its index in the world's parcels.
        parcel: u16,
        /// What stands on it, at most
        /// [`MAX_PLACED`](crate::land::MAX_PLACED) things.
        placed: Vec<crate::land::PlacedItem>,
    },
}

/// A world the network knows.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct WorldEntry {
    /// Its name.
    pub name: String,
    /// Players in it, at every host that serves it.
    pub players: u32,
    /// Whether this host serves it (travel there is a hello away).
    pub here: bool,
    /// Where hosts that serve it take players (`ip:port`), for a world
    /// this host does not serve, at most
    /// [`MAX_HOSTS_TOLD`](super::MAX_HOSTS_TOLD).
    pub joins: Vec<String>,
}

impl ServerMessage {
    /// The request this message answers, if it is an answer.
    pub fn request(&self) -> Option<u32> {
        match self {
            ServerMessage::Page { request, .. }
            | ServerMessage::Inventory { request, .. }
            | ServerMessage::Quote { request, .. }
            | ServerMessage::Stored { request, .. }
            | ServerMessage::Blocked { request, .. }
            | ServerMessage::Delivered { request }
            | ServerMessage::Chunk { request, .. } => Some(*request),
            ServerMessage::Tx { request, .. }
            | ServerMessage::Trade { request, .. }
            | ServerMessage::Appearance { request, .. }
            | ServerMessage::Arranged { request, .. }
            | ServerMessage::Error { request, .. } => *request,
            _ => None,
        }
    }

    /// Decodes a message from the reliable or assets channel.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        decode(bytes, MAX_SERVER_MESSAGE_BYTES)
    }
}
