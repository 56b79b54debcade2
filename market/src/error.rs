//! The one error type of the `market` crate.

use assets::ContentId;
use ledger::{AssetId, LedgerError, ListingId};
use thiserror::Error;

use crate::catalogue::Place;

/// Why the market cannot answer or build what was asked.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MarketError {
    /// The ledger would refuse it, for this reason: the same error the
    /// ledger itself gives, so a user learns it before signing.
    #[error("the ledger would refuse this: {0}")]
    Refused(#[from] LedgerError),
    /// A question about a time before the rental began.
    #[error("time {at} is before the rental began at {starts_at}")]
    BeforeStart {
        /// The time asked about.
        at: u64,
        /// When the rental began.
        starts_at: u64,
    },
    /// A block's changes hold an open listing whose asset the catalogue
    /// has never seen.
    #[error(
        "{listing} is open, but its asset {asset} is neither in the block's changes nor in the catalogue"
    )]
    MissingAsset {
        /// The listing.
        listing: ListingId,
        /// Its asset.
        asset: AssetId,
    },
    /// A manifest offered for an asset is another asset's.
    #[error("the manifest offered for {asset} has content id {got}: it is another asset's")]
    ManifestMismatch {
        /// The asset.
        asset: AssetId,
        /// The manifest's own content id.
        got: ContentId,
    },
    /// A manifest that cannot be written canonically, so has no id.
    #[error("the manifest is not valid: {0}")]
    BadManifest(String),
    /// A world layout that cannot be used.
    #[error("world {world:?} cannot be used: {reason}")]
    BadWorld {
        /// The world.
        world: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No world of that name is in the catalogue.
    #[error("no world {0:?} is in the catalogue")]
    UnknownWorld(String),
    /// The world has no such stall or parcel.
    #[error("world {world:?} has no {place}")]
    UnknownPlace {
        /// The world.
        world: String,
        /// The place asked for.
        place: Place,
    },
    /// A query that cannot be answered as asked.
    #[error("bad query: {0}")]
    BadQuery(String),
    /// A cursor is not one this catalogue writes.
    #[error("{0:?} is not a catalogue cursor")]
    BadCursor(String),
    /// Someone who is neither party acted in a trade window.
    #[error("{0} is not a party to this trade")]
    NotInTrade(ledger::Address),
    /// An action the trade window does not take at its stage.
    #[error("cannot {action} while the trade is {stage}")]
    TradeStage {
        /// What was tried.
        action: &'static str,
        /// The window's stage.
        stage: &'static str,
    },
    /// A change or confirmation made against an older revision.
    #[error(
        "the offers changed (revision {current}) since you looked at revision {seen}: look again"
    )]
    StaleRevision {
        /// The revision the player saw.
        seen: u64,
        /// The window's revision.
        current: u64,
    },
    /// A player who confirmed tried to change their offer.
    #[error("you confirmed these offers: withdraw your confirmation before changing your offer")]
    ConfirmedAlready,
    /// An asset already in one of the offers.
    #[error("{0} is already in the trade")]
    AssetInTrade(AssetId),
    /// Removing an asset that is not in the player's offer.
    #[error("{0} is not in your offer")]
    AssetNotOffered(AssetId),
    /// A cursor from a query with another sort order.
    #[error("the cursor comes from a query sorted another way; start again from the first page")]
    CursorMismatch,
    /// An asset worn in a slot its kind does not go in.
    #[error("{asset} is {kind}, which is not worn on the {slot}")]
    WrongSlot {
        /// The asset.
        asset: AssetId,
        /// Its kind.
        kind: assets::AssetKind,
        /// The slot asked for.
        slot: crate::wear::Slot,
    },
    /// A parcel arranged under a tenure that is over: it changed hands
    /// since.
    #[error("{asset} has changed hands since: arrange it again as its holder now")]
    OtherTenure {
        /// The parcel's deed.
        asset: AssetId,
    },
    /// A parcel put down on a parcel.
    #[error("{asset} is a parcel of land, which cannot be put down on another")]
    NotPlaceable {
        /// The asset.
        asset: AssetId,
    },
    /// An asset worn by someone who neither rents it nor owns it.
    #[error(
        "{who} does not hold {asset}: only its renter, or its owner when it is not rented out, may use it"
    )]
    NotHeld {
        /// The asset.
        asset: AssetId,
        /// Who tried.
        who: ledger::Address,
    },
    /// An asset its owner has rented out.
    #[error("{asset} is rented out until {until}: its renter uses it until then")]
    RentedOut {
        /// The asset.
        asset: AssetId,
        /// When the rental ends.
        until: ledger::Timestamp,
    },
    /// A rental that has ended, though the ledger has not settled it yet.
    #[error("the rental of {asset} ended at {ended}")]
    RentalOver {
        /// The asset.
        asset: AssetId,
        /// When it ended.
        ended: ledger::Timestamp,
    },
}
