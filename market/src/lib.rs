//! Plaza's marketplace logic, with no I/O: the catalogue of what is for
//! rent and for sale; what a rent, a sale or an early return will cost and
//! pay out, computed with the ledger's own integer arithmetic so that a
//! quote is exactly what the ledger will move; the face-to-face trade
//! window; what an avatar may wear; and builders that turn a user's intent
//! into a transaction the ledger will accept.
//!
//! Everything here is a pure function of ledger state, the chain's
//! parameters and a time given by the caller.

mod build;
pub mod catalogue;
mod error;
mod quote;
pub mod trade;
pub mod wear;

pub use crate::build::{VALID_SECS, build, nonce_for, transaction};
pub use crate::catalogue::Catalogue;
pub use crate::error::MarketError;
pub use crate::quote::{RentQuote, ReturnQuote, SaleQuote, rent_quote, return_quote, sale_quote};
pub use crate::trade::TradeWindow;
