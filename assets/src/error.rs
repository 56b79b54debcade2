//! The one error type of the `assets` crate.

use thiserror::Error;

/// Everything that can go wrong while reading, checking or storing asset data.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum AssetError {
    /// The text is not a multibase-encoded CID.
    #[error("content id {text:?} is not a valid CID: {reason}")]
    CidText {
        /// The text that was given.
        text: String,
        /// What the CID parser reported.
        reason: String,
    },
    /// The bytes are not a binary CID.
    #[error("content id bytes are not a valid CID: {0}")]
    CidBytes(String),
    /// The CID is valid but not one Plaza issues.
    #[error("content id {cid} is not a Plaza content id: {reason}")]
    CidNotPlaza {
        /// The CID that was given, in its own text form.
        cid: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
}
