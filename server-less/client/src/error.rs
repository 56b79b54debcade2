//! The one error type of the `plaza-client` crate.

use std::path::PathBuf;

use thiserror::Error;

use crate::protocol::ProtocolError;

/// Everything talking to a host, or keeping a wallet, can refuse or fail
/// at.
#[derive(Debug, Error)]
pub enum ClientError {
    /// A network socket could not be opened or used.
    #[error("network: {what}: {source}")]
    Net {
        /// What was being done.
        what: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The other side broke the world protocol, or refused a request.
    #[error("{0}")]
    Protocol(#[from] ProtocolError),
    /// No answer came in time.
    #[error("no answer from the host within {secs} s while waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: &'static str,
        /// How long.
        secs: u64,
    },
    /// The session with the host ended.
    #[error("disconnected from the host: {0}")]
    Disconnected(String),
    /// A wallet file is malformed, or a wallet could not be made.
    #[error("wallet {path}: {reason}")]
    Wallet {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// There is no wallet at the path.
    #[error(
        "no wallet at {0}: make one with `plaza-host wallet new`, or import a key with `plaza-host wallet import`"
    )]
    NoWallet(PathBuf),
    /// The passphrase does not open the wallet (or the file was changed).
    #[error("wallet {0}: wrong passphrase, or the file has been changed")]
    WrongPassphrase(PathBuf),
    /// A key to import is in no form a wallet reads.
    #[error("{0}")]
    KeyFormat(String),
    /// The host went away and no other host of the world could be joined.
    #[error("no other host of world {world:?} could be joined{}", last.as_ref().map(|last| format!(" (the last one tried: {last})")).unwrap_or_default())]
    NoOtherHost {
        /// The world.
        world: String,
        /// Why the last host tried could not be joined, if one was tried.
        last: Option<String>,
    },
}

impl ClientError {
    /// A network failure while doing `what`.
    pub fn net(what: impl Into<String>, source: std::io::Error) -> Self {
        ClientError::Net {
            what: what.into(),
            source,
        }
    }

    /// An I/O error about `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ClientError::Io {
            path: path.into(),
            source,
        }
    }

    /// Whether this is a refusal or a silence from the other side (which
    /// a player may be shown as it is) rather than a failure of this
    /// machine's sockets or files.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            ClientError::Protocol(_) | ClientError::Timeout { .. } | ClientError::Disconnected(_)
        )
    }
}
