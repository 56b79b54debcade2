//! The one error type of the `server-less` crate.

use std::path::PathBuf;

use ledger::{Address, LedgerError, Nonce};
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
    /// The configuration file is missing a field, has a wrong one or a bad
    /// value.
    #[error("config {path}: {reason}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        reason: String,
    },
    /// `init` was asked to write over an existing host.
    #[error("{0} already holds a host; use another --home, or delete it to start a new network")]
    AlreadyInitialised(PathBuf),
    /// There is no host in the given directory.
    #[error("no host at {0}: run `plaza-host init --home {0}` first")]
    NotInitialised(PathBuf),
    /// A key file is not 32 bytes of hex.
    #[error("key file {path} is malformed: {reason}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The mempool holds as many transactions or bytes as it may.
    #[error("the mempool is full ({txs} transactions, {bytes} bytes); try again shortly")]
    MempoolFull {
        /// Transactions waiting.
        txs: usize,
        /// Their encoded size.
        bytes: usize,
    },
    /// One account has as many transactions waiting as it may.
    #[error("{account} already has {max} transactions waiting; wait for some to be final")]
    AccountQueueFull {
        /// The account.
        account: Address,
        /// The limit.
        max: usize,
    },
    /// Another transaction with the same signer and nonce is waiting.
    #[error("{account} already has another transaction with nonce {nonce} waiting")]
    NoncePending {
        /// The account.
        account: Address,
        /// The nonce.
        nonce: Nonce,
    },
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
    /// The peer network could not start, or could not do what it was
    /// asked.
    #[error("peer network: {0}")]
    Peer(String),
    /// A consensus message is malformed, or consensus could not do what
    /// it was asked.
    #[error("consensus: {0}")]
    Consensus(String),
    /// A peer sent a file that does not match its content id; it is
    /// dropped and refused from then on.
    #[error("peer {peer} sent a bad {what}: {reason}; it is dropped")]
    PeerLied {
        /// The peer.
        peer: String,
        /// What it sent.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// No peer that was asked has the blob.
    #[error("no peer provides {blob}{}", last.as_ref().map(|last| format!(" (last answer: {last})")).unwrap_or_default())]
    NoProvider {
        /// The blob.
        blob: String,
        /// What the last peer asked said, if any was asked.
        last: Option<String>,
    },
}

impl HostError {
    /// Whether this is the host's own failure (storage, files, network,
    /// configuration) rather than a refusal of what was asked: its text
    /// names the host's insides and is for the host's log, not a player.
    pub fn is_internal(&self) -> bool {
        match self {
            HostError::Ledger(err) => err.is_host_fault(),
            HostError::Market(_)
            | HostError::MempoolFull { .. }
            | HostError::AccountQueueFull { .. }
            | HostError::NoncePending { .. }
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

    /// An I/O error about `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        HostError::Io {
            path: path.into(),
            source,
        }
    }
}
