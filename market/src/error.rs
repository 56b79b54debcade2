//! The one error type of the `market` crate.

use ledger::LedgerError;
use thiserror::Error;

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
}
