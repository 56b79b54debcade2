//! The host's configuration file, `config.toml` in its home directory.

use std::net::IpAddr;
use std::path::Path;

use ledger::MAX_BLOCK_TXS;
use serde::{Deserialize, Serialize};

use crate::error::HostError;
use crate::home::HomeError;
use crate::mempool::MempoolLimits;
use crate::node::NodeSettings;
use crate::sessions::SessionSettings;

/// The most public addresses a host names.
pub const MAX_PUBLIC_ADDRESSES: usize = 16;

/// The join endpoint's port unless configured; sessions use the next.
pub const DEFAULT_JOIN_PORT: u16 = 7480;

/// Everything `config.toml` holds. Unknown fields are refused, so a typo
/// is an error rather than a silently ignored setting.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The network this host belongs to: written by `init`, and checked
    /// against the ledger's at every start.
    pub chain_id: String,
    /// The network's founder: the account whose deeds (assets of kind
    /// parcel naming a world and a parcel) are the worlds' parcels.
    /// Every host of a network names the same one; absent, no parcel has
    /// a holder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub founder: Option<String>,
    /// Block production.
    pub blocks: BlockConfig,
    /// The mempool's bounds.
    pub mempool: MempoolConfig,
    /// World sessions.
    pub sessions: SessionsConfig,
    /// The operator's port: metrics and the status page. Absent, off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<OperatorConfig>,
    /// The network of hosts. Absent, the host is a network of one
    /// validator that makes its own blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkConfig>,
}

/// The operator's port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorConfig {
    /// Where `/metrics` and the status page are served (HTTP).
    pub listen: std::net::SocketAddr,
}

/// The operator's port unless configured: the join port's fourth after.
pub const DEFAULT_OPERATOR_PORT: u16 = DEFAULT_JOIN_PORT + 4;

/// How a host takes part in a network of hosts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// Where consensus listens, as a multiaddress.
    pub consensus_listen: String,
    /// The validators' consensus addresses.
    pub consensus_peers: Vec<String>,
    /// Where the peer network (transactions and files) listens.
    pub peers_listen: Vec<String>,
    /// Hosts to join the peer network through, each ending in
    /// `/p2p/<peer id>`.
    pub bootstrap: Vec<String>,
    /// Whether to find hosts on the local network by mDNS.
    pub mdns: bool,
    /// A snapshot of the state is taken after every this many blocks, for
    /// joining hosts to start from; 0 takes none.
    #[serde(default = "default_snapshot_every")]
    pub snapshot_every: u64,
    /// How many of the latest snapshots are kept (1 to 16).
    #[serde(default = "default_snapshots_kept")]
    pub snapshots_kept: usize,
}

/// Blocks between two snapshots unless configured.
pub const DEFAULT_SNAPSHOT_EVERY: u64 = 1_000;

fn default_snapshot_every() -> u64 {
    DEFAULT_SNAPSHOT_EVERY
}

fn default_snapshots_kept() -> usize {
    2
}

impl NetworkConfig {
    /// The addresses, read.
    pub fn addresses(&self) -> Result<NetworkAddresses, String> {
        let one = |name: &str, text: &str| {
            text.parse::<libp2p::Multiaddr>()
                .map_err(|err| format!("network.{name}: {text:?} is not a multiaddress: {err}"))
        };
        let many = |name: &str, texts: &[String]| {
            texts
                .iter()
                .map(|text| one(name, text))
                .collect::<Result<Vec<_>, _>>()
        };
        let addresses = NetworkAddresses {
            consensus_listen: one("consensus_listen", &self.consensus_listen)?,
            consensus_peers: many("consensus_peers", &self.consensus_peers)?,
            peers_listen: many("peers_listen", &self.peers_listen)?,
            bootstrap: many("bootstrap", &self.bootstrap)?,
        };
        if let Some(address) = addresses
            .bootstrap
            .iter()
            .find(|address| crate::peers::peer_of(address).is_none())
        {
            return Err(format!(
                "network.bootstrap: {address} does not end in /p2p/<peer id>"
            ));
        }
        Ok(addresses)
    }
}

/// [`NetworkConfig`]'s addresses, read.
#[derive(Clone, Debug)]
pub struct NetworkAddresses {
    /// Where consensus listens.
    pub consensus_listen: libp2p::Multiaddr,
    /// The validators' consensus addresses.
    pub consensus_peers: Vec<libp2p::Multiaddr>,
    /// Where the peer network listens.
    pub peers_listen: Vec<libp2p::Multiaddr>,
    /// Hosts to join through.
    pub bootstrap: Vec<libp2p::Multiaddr>,
}

/// Where and how players connect.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionsConfig {
    /// The address both endpoints listen on.
    pub bind: IpAddr,
    /// The addresses players and other hosts reach this host at, where
    /// they are not `bind`: the machine's public address behind NAT, or
    /// the ones to name when bound to every interface. Empty, each is told
    /// the address it reached the join endpoint at.
    #[serde(default)]
    pub public: Vec<IpAddr>,
    /// TCP port of the join endpoint.
    pub join_port: u16,
    /// UDP port of the sessions.
    pub udp_port: u16,
    /// Most players at once.
    pub max_players: usize,
    /// How far a player sees other avatars, in metres.
    pub view_radius: f32,
    /// Reliable messages a player may send per second.
    pub messages_per_sec: f32,
}

/// Block production.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockConfig {
    /// Least time between two blocks, in milliseconds (10 to 60,000).
    pub min_interval_ms: u64,
    /// Most transactions in one block (1 to the ledger's limit).
    pub max_txs: usize,
}

/// The mempool's bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MempoolConfig {
    /// Most transactions waiting in all.
    pub max_txs: usize,
    /// Most bytes of transactions waiting in all.
    pub max_bytes: usize,
    /// Most transactions one account may have waiting.
    pub max_per_account: usize,
}

impl Config {
    /// The defaults, for network `chain_id`.
    pub fn new(chain_id: &str) -> Self {
        let mempool = MempoolLimits::default();
        let sessions = SessionSettings::default();
        Config {
            chain_id: chain_id.to_owned(),
            founder: None,
            blocks: BlockConfig {
                min_interval_ms: 100,
                max_txs: MAX_BLOCK_TXS,
            },
            mempool: MempoolConfig {
                max_txs: mempool.max_txs,
                max_bytes: mempool.max_bytes,
                max_per_account: mempool.max_per_account,
            },
            sessions: SessionsConfig {
                bind: sessions.bind,
                public: Vec::new(),
                join_port: DEFAULT_JOIN_PORT,
                udp_port: DEFAULT_JOIN_PORT + 1,
                max_players: sessions.max_players,
                view_radius: sessions.view_radius,
                messages_per_sec: sessions.messages_per_sec,
            },
            operator: Some(OperatorConfig {
                listen: std::net::SocketAddr::from(([127, 0, 0, 1], DEFAULT_OPERATOR_PORT)),
            }),
            network: None,
        }
    }

    /// The file's text, every field with its explanation.
    pub fn to_toml(&self) -> String {
        format!(
            r#"# plaza-host configuration. Every field is required; unknown fields are
# refused. Changes take effect at the next `plaza-host run`.

# The network this host belongs to. Written by `plaza-host init`; it must
# match the ledger's, so do not change it.
chain_id = "{chain_id}"
{founder}
[blocks]
# Least time between two blocks, in milliseconds (10 to 60000). A block is
# made when transactions wait and this long has passed since the last one,
# and whenever a rental's end falls due.
min_interval_ms = {min_interval_ms}
# Most transactions in one block (1 to {max_block_txs}).
max_txs = {max_txs}

[mempool]
# Most transactions waiting for a block, from everyone together.
max_txs = {mempool_txs}
# Most bytes of transactions waiting, from everyone together.
max_bytes = {mempool_bytes}
# Most transactions one account may have waiting at once.
max_per_account = {per_account}

[sessions]
# The address players connect to: "127.0.0.1" for this machine only,
# "0.0.0.0" (or "::") for every network the machine is on.
bind = "{bind}"
# The addresses players and other hosts reach this host at, where they are
# not `bind`: the public address of a host behind NAT, or the ones to name
# when bound to every interface, e.g. ["203.0.113.7"]. Empty, each one is
# told the address it reached the join endpoint at.
public = {public}
# TCP port where players prove their account and get a session token.
join_port = {join_port}
# UDP port of the world sessions.
udp_port = {udp_port}
# Most players connected at once (1 to 1024).
max_players = {max_players}
# How far a player sees other avatars, in metres (1 to 500).
view_radius = {view_radius:?}
# Reliable messages a player may send per second (1 to 1000); more are
# dropped, and a player who keeps at it is disconnected.
messages_per_sec = {messages_per_sec:?}
"#,
            bind = self.sessions.bind,
            public = {
                let quoted: Vec<String> = self
                    .sessions
                    .public
                    .iter()
                    .map(|ip| format!("\"{ip}\""))
                    .collect();
                format!("[{}]", quoted.join(", "))
            },
            join_port = self.sessions.join_port,
            udp_port = self.sessions.udp_port,
            max_players = self.sessions.max_players,
            view_radius = self.sessions.view_radius,
            messages_per_sec = self.sessions.messages_per_sec,
            chain_id = self.chain_id,
            founder = self.founder_toml(),
            min_interval_ms = self.blocks.min_interval_ms,
            max_block_txs = MAX_BLOCK_TXS,
            max_txs = self.blocks.max_txs,
            mempool_txs = self.mempool.max_txs,
            mempool_bytes = self.mempool.max_bytes,
            per_account = self.mempool.max_per_account,
        ) + &self.operator_toml()
            + &self.network_toml()
    }

    fn operator_toml(&self) -> String {
        let Some(operator) = &self.operator else {
            return String::new();
        };
        format!(
            r#"
[operator]
# Where the operator's port serves /metrics (Prometheus text format),
# /status.json and a status page, over HTTP. Keep it on loopback, or behind
# a firewall: anyone who reaches it sees the host's figures. Remove the
# section to turn it off.
listen = "{listen}"
"#,
            listen = operator.listen
        )
    }

    fn founder_toml(&self) -> String {
        let Some(founder) = &self.founder else {
            return String::new();
        };
        format!(
            r#"
# The network's founder: the account whose deeds (assets of kind parcel
# naming a world and a parcel) are the worlds' parcels. Every host of the
# network must name the same one; without it no parcel has a holder.
founder = {founder:?}
"#
        )
    }

    fn network_toml(&self) -> String {
        let Some(network) = &self.network else {
            return String::new();
        };
        let list = |items: &[String]| {
            let quoted: Vec<String> = items.iter().map(|item| format!("{item:?}")).collect();
            format!("[{}]", quoted.join(", "))
        };
        format!(
            r#"
[network]
# Where consensus listens (a multiaddress). Validators vote on every block
# with the malachite BFT engine.
consensus_listen = {consensus_listen:?}
# The validators' consensus addresses.
consensus_peers = {consensus_peers}
# Where the peer network listens: transactions spread by gossip, asset
# files fetched from the hosts that have them (TCP and QUIC).
peers_listen = {peers_listen}
# Hosts to join the peer network through, each ending in /p2p/<peer id>;
# any host can be one.
bootstrap = {bootstrap}
# Find hosts on the local network by mDNS.
mdns = {mdns}
# Take a snapshot of the ledger's state after every this many blocks (0 for
# none): a host joining the network starts from the latest instead of
# replaying every block. Each takes about the state's size on disk.
snapshot_every = {snapshot_every}
# How many of the latest snapshots to keep (1 to 16).
snapshots_kept = {snapshots_kept}
"#,
            consensus_listen = network.consensus_listen,
            consensus_peers = list(&network.consensus_peers),
            peers_listen = list(&network.peers_listen),
            bootstrap = list(&network.bootstrap),
            mdns = network.mdns,
            snapshot_every = network.snapshot_every,
            snapshots_kept = network.snapshots_kept,
        )
    }

    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Self, HostError> {
        let text = std::fs::read_to_string(path).map_err(|err| HostError::io(path, err))?;
        let config: Config = toml::from_str(&text).map_err(|err| HomeError::Config {
            path: path.to_owned(),
            reason: err.to_string(),
        })?;
        config.check().map_err(|reason| HomeError::Config {
            path: path.to_owned(),
            reason,
        })?;
        Ok(config)
    }

    /// Whether every value is in range; what is wrong if not.
    pub fn check(&self) -> Result<(), String> {
        if !(10..=60_000).contains(&self.blocks.min_interval_ms) {
            return Err(format!(
                "blocks.min_interval_ms is {}; use 10 to 60000",
                self.blocks.min_interval_ms
            ));
        }
        if !(1..=MAX_BLOCK_TXS).contains(&self.blocks.max_txs) {
            return Err(format!(
                "blocks.max_txs is {}; use 1 to {MAX_BLOCK_TXS}",
                self.blocks.max_txs
            ));
        }
        for (name, value) in [
            ("mempool.max_txs", self.mempool.max_txs),
            ("mempool.max_bytes", self.mempool.max_bytes),
            ("mempool.max_per_account", self.mempool.max_per_account),
        ] {
            if value == 0 {
                return Err(format!("{name} is 0; it must be at least 1"));
            }
        }
        let sessions = &self.sessions;
        if !(1..=1024).contains(&sessions.max_players) {
            return Err(format!(
                "sessions.max_players is {}; use 1 to 1024",
                sessions.max_players
            ));
        }
        if !(1.0..=500.0).contains(&sessions.view_radius) {
            return Err(format!(
                "sessions.view_radius is {}; use 1 to 500",
                sessions.view_radius
            ));
        }
        if !(1.0..=1000.0).contains(&sessions.messages_per_sec) {
            return Err(format!(
                "sessions.messages_per_sec is {}; use 1 to 1000",
                sessions.messages_per_sec
            ));
        }
        if let Some(network) = &self.network {
            network.addresses()?;
            if !(1..=16).contains(&network.snapshots_kept) {
                return Err(format!(
                    "network.snapshots_kept is {}; use 1 to 16",
                    network.snapshots_kept
                ));
            }
        }
        if sessions.public.len() > MAX_PUBLIC_ADDRESSES {
            return Err(format!(
                "sessions.public lists {} addresses; at most {MAX_PUBLIC_ADDRESSES}",
                sessions.public.len()
            ));
        }
        if let Some(ip) = sessions
            .public
            .iter()
            .find(|ip| ip.is_unspecified() || ip.is_multicast())
        {
            return Err(format!(
                "sessions.public: {ip} is no address a player can reach; list the host's own"
            ));
        }
        if let Some(founder) = &self.founder {
            founder
                .parse::<ledger::Address>()
                .map_err(|err| format!("founder: {founder:?} is not an account address: {err}"))?;
        }
        if sessions.join_port != 0 && sessions.join_port == sessions.udp_port {
            return Err(format!(
                "sessions.join_port and sessions.udp_port are both {}; they must differ",
                sessions.join_port
            ));
        }
        Ok(())
    }

    /// The world server's settings.
    pub fn session_settings(&self) -> SessionSettings {
        SessionSettings {
            bind: self.sessions.bind,
            public: self.sessions.public.clone(),
            udp_port: self.sessions.udp_port,
            join_port: self.sessions.join_port,
            max_players: self.sessions.max_players,
            view_radius: self.sessions.view_radius,
            messages_per_sec: self.sessions.messages_per_sec,
            ..SessionSettings::default()
        }
    }

    /// The ledger thread's settings.
    pub fn node_settings(&self) -> NodeSettings {
        NodeSettings {
            mempool: MempoolLimits {
                max_txs: self.mempool.max_txs,
                max_bytes: self.mempool.max_bytes,
                max_per_account: self.mempool.max_per_account,
            },
            block_max_txs: self.blocks.max_txs,
            founder: self
                .founder
                .as_deref()
                .and_then(|founder| founder.parse().ok()),
            snapshots: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_written_file_reads_back_as_written_and_bad_values_are_named() {
        let config = Config::new("plaza-local");
        let back: Config = toml::from_str(&config.to_toml()).expect("parses");
        assert_eq!(back, config);

        let typo = config
            .to_toml()
            .replace("max_per_account", "max_per_acount");
        let err = toml::from_str::<Config>(&typo).expect_err("unknown field");
        assert!(err.to_string().contains("max_per_acount"), "{err}");

        // The founder reads back; one that is no address is named.
        let mut founded = config.clone();
        founded.founder = Some(ledger::Keypair::from_seed([5; 32]).address().to_string());
        let back: Config = toml::from_str(&founded.to_toml()).expect("parses");
        assert_eq!(back, founded);
        founded.founder = Some("plaza1nobody".into());
        assert!(founded.check().expect_err("no address").contains("founder"));

        let mut slow = config.clone();
        slow.blocks.min_interval_ms = 5;
        assert!(
            slow.check()
                .expect_err("out of range")
                .contains("min_interval_ms")
        );
        let mut networked = config.clone();
        networked.network = Some(NetworkConfig {
            consensus_listen: "/ip4/127.0.0.1/tcp/7483".into(),
            consensus_peers: vec!["/ip4/127.0.0.1/tcp/7493".into()],
            peers_listen: vec!["/ip4/127.0.0.1/tcp/7482".into()],
            bootstrap: Vec::new(),
            mdns: false,
            snapshot_every: crate::config::DEFAULT_SNAPSHOT_EVERY,
            snapshots_kept: 2,
        });
        let back: Config = toml::from_str(&networked.to_toml()).expect("parses");
        assert_eq!(back, networked);
        networked.check().unwrap();
        networked.network.as_mut().unwrap().bootstrap = vec!["/ip4/127.0.0.1/tcp/1".into()];
        assert!(networked.check().unwrap_err().contains("/p2p/"));
        networked.network.as_mut().unwrap().consensus_listen = "nowhere".into();
        assert!(networked.check().unwrap_err().contains("consensus_listen"));
        let mut empty = config;
        empty.mempool.max_txs = 0;
        assert!(empty.check().expect_err("zero").contains("mempool.max_txs"));
    }
}
