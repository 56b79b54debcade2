//! Builders: from what a user means to do to an unsigned ledger
//! transaction, checked by the ledger's own rules against the state the
//! user sees, so that a problem is known before anything is signed.

use ledger::{
    Address, Amount, AssetId, BasisPoints, ChainState, LedgerError, ListingId, Nonce, Operation,
    RentTerms, RentalId, StateReader, Timestamp, Trade, Transaction,
};

use crate::error::MarketError;

/// How long a built transaction stays valid, in seconds.
pub const VALID_SECS: u64 = 600;

/// What a user means to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Intent {
    /// Create an asset from a stored manifest.
    Mint {
        /// The manifest's content id.
        manifest: AssetId,
        /// The creator's share of every rent and sale.
        royalty_bps: BasisPoints,
    },
    /// Offer an asset for rent.
    ListForRent {
        /// The asset.
        asset: AssetId,
        /// Price, periods, deposit, reservation.
        terms: RentTerms,
        /// When the listing lapses.
        expires_at: Timestamp,
    },
    /// Offer an asset for sale.
    ListForSale {
        /// The asset.
        asset: AssetId,
        /// The price.
        price: Amount,
        /// When the listing lapses.
        expires_at: Timestamp,
    },
    /// Withdraw a listing.
    Cancel {
        /// The listing.
        listing: ListingId,
    },
    /// Rent through a listing.
    Rent {
        /// The listing.
        listing: ListingId,
        /// How many periods.
        periods: u32,
    },
    /// Buy through a listing.
    Buy {
        /// The listing.
        listing: ListingId,
    },
    /// Hand a rented asset back before its end.
    ReturnEarly {
        /// The rental.
        rental: RentalId,
    },
    /// Send tokens.
    Pay {
        /// The recipient.
        to: Address,
        /// How much.
        amount: Amount,
    },
    /// Give an asset away.
    Transfer {
        /// The asset.
        asset: AssetId,
        /// The new owner.
        to: Address,
    },
    /// Submit a trade both parties signed (see [`crate::TradeWindow`]).
    /// Boxed: it is far larger than every other intent.
    Trade(Box<Trade>),
}

impl Intent {
    fn into_operation(self) -> Operation {
        match self {
            Intent::Mint {
                manifest,
                royalty_bps,
            } => Operation::Mint {
                manifest,
                royalty_bps,
            },
            Intent::ListForRent {
                asset,
                terms,
                expires_at,
            } => Operation::ListForRent {
                asset,
                terms,
                expires_at,
            },
            Intent::ListForSale {
                asset,
                price,
                expires_at,
            } => Operation::ListForSale {
                asset,
                price,
                expires_at,
            },
            Intent::Cancel { listing } => Operation::CancelListing { listing },
            Intent::Rent { listing, periods } => Operation::Rent { listing, periods },
            Intent::Buy { listing } => Operation::Buy { listing },
            Intent::ReturnEarly { rental } => Operation::ReturnRental { rental },
            Intent::Pay { to, amount } => Operation::Pay { to, amount },
            Intent::Transfer { asset, to } => Operation::TransferAsset { asset, to },
            Intent::Trade(trade) => Operation::Trade(trade),
        }
    }
}

/// The unsigned transaction by which `signer` does `intent`, checked by
/// the ledger's rules against `state` and `chain` as they would stand in a
/// block at `now`; it is valid for [`VALID_SECS`].
///
/// `nonce` is the nonce to use: the account's next one, or later when
/// the signer has transactions in flight (the checks then run as if they
/// were not, since their effects are not known yet). A trade uses the
/// signer's nonce from the signed terms, whatever `nonce` says.
pub fn build(
    state: &impl StateReader,
    chain: &ChainState,
    signer: Address,
    nonce: Nonce,
    intent: Intent,
    now: Timestamp,
) -> Result<Transaction, MarketError> {
    let next = state.account(&signer)?.unwrap_or_default().nonce;
    let nonce = match &intent {
        Intent::Trade(trade) if trade.terms.a == signer => trade.terms.a_nonce,
        Intent::Trade(trade) if trade.terms.b == signer => trade.terms.b_nonce,
        _ => nonce,
    };
    if nonce < next {
        return Err(LedgerError::StaleNonce {
            account: signer,
            expected: next,
            got: nonce,
        }
        .into());
    }
    if let Intent::Trade(trade) = &intent {
        // The ledger checks both parties' signatures before anything else.
        let terms = &trade.terms;
        terms.verify(&chain.chain_id, &terms.a, &trade.a_signature)?;
        terms.verify(&chain.chain_id, &terms.b, &trade.b_signature)?;
    }
    let mut tx = Transaction {
        chain_id: chain.chain_id.clone(),
        signer,
        nonce: next,
        valid_until: now.saturating_add(VALID_SECS),
        op: intent.into_operation(),
    };
    ledger::check_transaction(state, chain, &tx, now)?;
    tx.nonce = nonce;
    Ok(tx)
}
