//! The host's error: each domain's own refusals (the ledger's, the
//! market's, the home's, the mempool's, the peer network's, a client's)
//! and the host's own failures (files, sockets, timeouts, a stopped
//! ledger thread, consensus).

use std::path::PathBuf;

use ledger::LedgerError;
use thiserror::Error;

/// Everything the host can refuse or fail at.
#[derive(Debug, Error)]
pub enum HostError {
    /// The ledger refused a transaction or a block, or failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The blob store refused a file or failed.
    #[error(transparent)]
    Assets(#[from] assets::AssetError),
    /// The marketplace logic refused a request.
    #[error(transparent)]
    Market(#[from] market::MarketError),
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The host's home directory or its configuration is wrong.
    #[error(transparent)]
    Home(#[from] crate::home::HomeError),
    /// The mempool refused a transaction for its own bounds (the
    /// ledger's refusals are [`HostError::Ledger`]).
    #[error(transparent)]
    Mempool(crate::mempool::MempoolError),
    /// The host is shutting down or its ledger thread has stopped.
    #[error("the host has stopped")]
    Stopped,
    /// A network socket could not be opened or used.
    #[error("network: {what}: {source}")]
    Net {
        /// What was being done.
        what: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A player broke the world protocol, or asked for something refused.
    #[error("{0}")]
    Protocol(#[from] plaza_client::protocol::ProtocolError),
    /// Talking to a host as a client (a bot, a benchmark, the command
    /// line), or a wallet, failed.
    #[error(transparent)]
    Client(#[from] plaza_client::ClientError),
    /// No answer came in time.
    #[error("no answer from the host within {secs} s while waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: &'static str,
        /// How long.
        secs: u64,
    },
    /// The peer network refused or failed.
    #[error(transparent)]
    Peer(#[from] crate::peers::PeerError),
    /// A consensus message is malformed, or consensus could not do what
    /// it was asked.
    #[error("consensus: {0}")]
    Consensus(String),
}

impl HostError {
    /// Whether a join failed only because the host to join through could
    /// not be asked (another of its addresses may answer).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            HostError::Home(crate::home::HomeError::Unreachable(_))
        )
    }

    /// Whether this is the host's own failure (storage, files, network,
    /// configuration) rather than a refusal of what was asked: its text
    /// names the host's insides and is for the host's log, not a player.
    pub fn is_internal(&self) -> bool {
        match self {
            HostError::Ledger(err) => err.is_host_fault(),
            HostError::Market(_)
            | HostError::Mempool(_)
            | HostError::Protocol(_)
            | HostError::Stopped
            | HostError::Timeout { .. } => false,
            HostError::Client(err) => !err.is_refusal(),
            _ => true,
        }
    }

    /// What a player may be told: the refusal in full, or for the host's
    /// own failures a plain sentence (the detail is logged, here, once).
    pub fn for_player(&self) -> String {
        if self.is_internal() {
            tracing::warn!(err = %self, "a player's request failed inside the host");
            "the host could not do this just now; try again shortly".to_owned()
        } else {
            self.to_string()
        }
    }

    /// A network failure while doing `what`.
    pub fn net(what: impl Into<String>, source: std::io::Error) -> Self {
        HostError::Net {
            what: what.into(),
            source,
        }
    }

    /// The peer network could not do `what` it was asked.
    pub(crate) fn peer(reason: impl Into<String>) -> Self {
        HostError::Peer(crate::peers::PeerError::Network(reason.into()))
    }

    /// An I/O error about `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        HostError::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<crate::mempool::MempoolError> for HostError {
    /// The ledger's refusals stay the ledger's; the mempool's own bounds
    /// are the mempool's.
    fn from(err: crate::mempool::MempoolError) -> Self {
        match err {
            crate::mempool::MempoolError::Ledger(err) => HostError::Ledger(err),
            other => HostError::Mempool(other),
        }
    }
}
