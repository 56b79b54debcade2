//! What a validator is started with: its keys, network, peers, write-ahead
//! log and round timeouts, and (for tests) the misbehaviour it puts on.

use std::path::PathBuf;
use std::time::Duration;

use ledger::{Block, ChainId, Keypair};
use libp2p::Multiaddr;
use malachitebft_core_types::LinearTimeouts;

use crate::error::HostError;
use crate::home::Home;

/// What a validator needs to take part in consensus. Its `Debug` output
/// leaves the two secrets out.
#[derive(Clone)]
pub struct BftSettings {
    /// The validator's ed25519 secret (the host key), which signs votes
    /// and proposals.
    pub seed: [u8; 32],
    /// The secret of this host's identity on the consensus network, apart
    /// from the validator key.
    pub node_key: [u8; 32],
    /// The network.
    pub chain: ChainId,
    /// A name for logs.
    pub moniker: String,
    /// Where consensus listens (`/ip4/127.0.0.1/tcp/27000`).
    pub listen: Multiaddr,
    /// The other validators' consensus addresses.
    pub peers: Vec<Multiaddr>,
    /// The write-ahead log file.
    pub wal: PathBuf,
    /// Round timeouts.
    pub timeouts: LinearTimeouts,
    /// Misbehaviour to put on, for tests of how honest hosts cope with a
    /// byzantine validator; none for a real host.
    pub faults: Faults,
}

/// What a byzantine validator does, for tests: a real host has none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Propose only blocks that cannot be valid, in turn: one with a
    /// wrong parent, one whose header's transaction hash does not match
    /// its transactions, one for another height.
    pub invalid_proposals: bool,
    /// With each proposal, publish this many bogus streams besides: parts
    /// with no first part, and first parts in the honest proposer's name
    /// signed with the wrong key.
    pub bogus_streams: usize,
    /// Propose with a clock this many seconds off.
    pub clock_skew_secs: i64,
}

impl std::fmt::Debug for BftSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BftSettings")
            .field("validator", &Keypair::from_seed(self.seed).address())
            .field("chain", &self.chain)
            .field("moniker", &self.moniker)
            .field("listen", &self.listen)
            .field("peers", &self.peers)
            .field("wal", &self.wal)
            .field("timeouts", &self.timeouts)
            .field("faults", &self.faults)
            .finish_non_exhaustive()
    }
}

impl BftSettings {
    /// The settings of the validator whose home is `home`: its keys and
    /// write-ahead log from there, timeouts for a local network, no
    /// faults.
    pub fn for_home(
        home: &Home,
        chain: ChainId,
        moniker: String,
        listen: Multiaddr,
        peers: Vec<Multiaddr>,
    ) -> Result<BftSettings, HostError> {
        Ok(BftSettings {
            seed: home.load_host_key()?.seed(),
            node_key: home.consensus_node_key()?,
            chain,
            moniker,
            listen,
            peers,
            wal: home.root().join("wal").join("consensus.wal"),
            timeouts: local_timeouts(),
            faults: Faults::default(),
        })
    }
}

/// Timeouts for a network on one machine or a fast local network.
pub fn local_timeouts() -> LinearTimeouts {
    LinearTimeouts {
        propose: Duration::from_millis(1_000),
        propose_delta: Duration::from_millis(250),
        prevote: Duration::from_millis(500),
        prevote_delta: Duration::from_millis(250),
        precommit: Duration::from_millis(500),
        precommit_delta: Duration::from_millis(250),
        rebroadcast: Duration::from_secs(2),
        max_timeout: Duration::from_secs(30),
    }
}

/// `block` made invalid, a different way at each height (for
/// [`Faults::invalid_proposals`]).
pub(super) fn spoilt(block: Block, height: u64) -> Block {
    let mut header = block.header;
    match height % 3 {
        0 => header.parent = ledger::BlockHash([0x5e; 32]),
        1 => header.tx_root = [0x5e; 32],
        _ => header.height = header.height.saturating_add(7),
    }
    Block {
        header,
        txs: block.txs,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn settings_never_show_their_secrets() {
        let settings = BftSettings {
            seed: [0xab; 32],
            node_key: [0xcd; 32],
            chain: ChainId::new("plaza-test").unwrap(),
            moniker: "host-1".into(),
            listen: "/ip4/127.0.0.1/tcp/1".parse().unwrap(),
            peers: Vec::new(),
            wal: PathBuf::from("/tmp/wal"),
            timeouts: local_timeouts(),
            faults: Faults::default(),
        };
        let shown = format!("{settings:?}");
        assert!(shown.contains("host-1"));
        for secret in ["171, 171", "ab, ab", "abab", "205, 205", "cdcd"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
