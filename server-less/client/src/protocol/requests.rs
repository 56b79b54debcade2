//! What a client sends on the reliable and asset channels, and the checks
//! a host makes of each field before it acts.

use super::{
    CHUNK_BYTES, ErrorCode, MAX_CHAT_BYTES, MAX_CLIENT_MESSAGE_BYTES, MAX_PAGE_HITS,
    MAX_SEARCH_BYTES, MAX_UPLOAD_BYTES, MAX_WORLD_NAME_BYTES, ProtocolError, SessionState,
    check_text, decode,
};
use borsh::{BorshDeserialize, BorshSerialize};
use ledger::{Address, Amount, AssetId, ListingId, RentalId, SignedTransaction, Timestamp, TxId};
use market::trade::Action;
use market::wear::Slot;

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
    /// Wear `asset` in `slot` (one you hold now, of a kind that goes
    /// there), or take off what is there (`asset` none). The host checks
    /// it against the ledger and tells everyone in the world what you
    /// wear.
    Wear {
        /// Request id.
        request: u32,
        /// Where.
        slot: Slot,
        /// What, or nothing.
        asset: Option<AssetId>,
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
    /// Block another account (its chat lines and trade invitations no
    /// longer reach you), or unblock it; answered with the accounts you
    /// block, at most [`MAX_BLOCKED`].
    ///
    /// [`MAX_BLOCKED`]: super::MAX_BLOCKED
    Block {
        /// Request id.
        request: u32,
        /// The account.
        account: Address,
        /// Blocked (true) or not (false).
        blocked: bool,
    },
    /// Says `text` to player `player` of your world alone (wherever it
    /// is, at this host or another); answered
    /// [`Delivered`](super::ServerMessage::Delivered), or refused.
    Tell {
        /// Request id.
        request: u32,
        /// The player.
        player: u16,
        /// What to say, as a chat line.
        text: String,
    },
    /// Your pass for this host, signed again now (every
    /// [`PASS_RENEW`](crate::join::PASS_RENEW) while in a world): hosts
    /// believe no pass older than [`PASS_MAX_AGE`](crate::join::PASS_MAX_AGE).
    /// Not answered; one that is not yours for this host, not of now, or
    /// not newer than the last is refused.
    Pass {
        /// The pass.
        pass: crate::join::Pass,
    },
    /// Put these things down on a parcel you hold, in place of what stands
    /// there (none: take everything up). Answered with
    /// [`ServerMessage::Arranged`](super::ServerMessage::Arranged) once
    /// the host has checked it against the ledger, or refused with why.
    Arrange {
        /// Request id.
        request: u32,
        /// The things, signed by you.
        arrangement: crate::land::Arrangement,
    },
}

/// Checks a chat line: some words, at most [`MAX_CHAT_BYTES`], no
/// control characters.
pub fn check_line(text: &str) -> Result<(), ProtocolError> {
    if text.trim().is_empty() {
        return Err(ProtocolError::new(ErrorCode::Invalid, "an empty chat line"));
    }
    check_text("a chat line", text, MAX_CHAT_BYTES)
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
            ClientMessage::Chat { text } | ClientMessage::Tell { text, .. } => check_line(text),
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
            ClientMessage::Arrange { arrangement, .. } => arrangement.check_shape(),
            ClientMessage::Inventory { .. }
            | ClientMessage::Quote { .. }
            | ClientMessage::Submit { .. }
            | ClientMessage::TxStatus { .. }
            | ClientMessage::TradeInvite { .. }
            | ClientMessage::TradeAct { .. }
            | ClientMessage::Wear { .. }
            | ClientMessage::Block { .. }
            | ClientMessage::Pass { .. } => Ok(()),
        }
    }

    /// The request id, if the message has one.
    pub fn request(&self) -> Option<u32> {
        match self {
            ClientMessage::Hello { .. }
            | ClientMessage::Chat { .. }
            | ClientMessage::Pass { .. } => None,
            ClientMessage::Browse { request, .. }
            | ClientMessage::Inventory { request }
            | ClientMessage::Submit { request, .. }
            | ClientMessage::TxStatus { request, .. }
            | ClientMessage::Fetch { request, .. }
            | ClientMessage::Quote { request, .. }
            | ClientMessage::TradeInvite { request, .. }
            | ClientMessage::TradeAct { request, .. }
            | ClientMessage::Wear { request, .. }
            | ClientMessage::Block { request, .. }
            | ClientMessage::Tell { request, .. }
            | ClientMessage::Arrange { request, .. } => Some(*request),
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
            ClientMessage::Wear { .. } => "wear",
            ClientMessage::Block { .. } => "block",
            ClientMessage::Tell { .. } => "tell",
            ClientMessage::Pass { .. } => "pass",
            ClientMessage::Arrange { .. } => "arrange",
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
