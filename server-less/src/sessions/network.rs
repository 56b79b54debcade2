//! The host's answer when another host, or `plaza-host status`, asks at
//! the join endpoint what network this is (see [`plaza_client::network`]):
//! the network's name and genesis hash, the height, the validators, where
//! this host's peer network and the validators' consensus listen, and the
//! genesis itself in parts.
//!
//! Addresses bound to every interface (`0.0.0.0`, `::`) name no place
//! another machine can reach; they are given with the host's public
//! addresses instead, or, with none configured, the address the asker
//! reached this host at.

use std::net::IpAddr;
use std::sync::Arc;

use libp2p::Multiaddr;
use libp2p::multiaddr::Protocol;
use plaza_client::join::{JoinReply, JoinRequest};
use plaza_client::network::{
    GENESIS_PART_BYTES, MAX_ADDRESSES, MAX_NETWORK_FRAME_BYTES, MAX_VALIDATORS, NETWORK_VERSION,
    NetworkInfo, SnapshotOffer, genesis_part,
};
use plaza_client::protocol::{self, ErrorCode, ProtocolError};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::error::HostError;
use crate::node::HostHandle;
use crate::snapshots::Offered;

/// Longest wait for the next request of a host fetching the genesis or a
/// snapshot.
const IDLE: std::time::Duration = std::time::Duration::from_secs(10);

/// What a host tells of its network, and offers hosts that join it.
pub struct NetworkOffer {
    /// The genesis file's bytes, for a host that can be joined (one of a
    /// network of hosts, whose genesis is kept).
    genesis: Option<Arc<Vec<u8>>>,
    /// Its hash; zeros where the genesis is not kept.
    hash: [u8; 32],
    handle: HostHandle,
    /// Where the peer network listens, each ending in `/p2p/<peer id>`.
    peers: Vec<Multiaddr>,
    /// This host's consensus address first (a validator's, or a
    /// follower's), then the validators it dials.
    consensus: Vec<Multiaddr>,
    /// The addresses the host is reached at, when configured.
    public: Vec<IpAddr>,
    /// Where the host keeps the state snapshots it offers, if it takes any.
    snapshots: Option<std::path::PathBuf>,
    /// The latest snapshot as last read, while it is the latest.
    offered: std::sync::Mutex<Option<Arc<Offered>>>,
}

impl NetworkOffer {
    /// The offer of the host behind `handle`, whose genesis is `genesis`
    /// (bytes, where it can be joined, and hash), whose peer network
    /// listens at `peers` (with the peer id) and whose consensus network at
    /// `consensus`.
    pub fn new(
        genesis: Option<Vec<u8>>,
        hash: [u8; 32],
        handle: HostHandle,
        peers: Vec<Multiaddr>,
        consensus: Vec<Multiaddr>,
        public: Vec<IpAddr>,
    ) -> Self {
        NetworkOffer {
            genesis: genesis.map(Arc::new),
            hash,
            handle,
            peers,
            consensus,
            public,
            snapshots: None,
            offered: std::sync::Mutex::new(None),
        }
    }

    /// The same offer, with the snapshots kept in `dir`.
    pub fn with_snapshots(mut self, dir: std::path::PathBuf) -> Self {
        self.snapshots = Some(dir);
        self
    }

    /// The latest snapshot offered, read from disk (off the async threads)
    /// when a newer one than last read is there.
    async fn snapshot(&self) -> Result<Option<Arc<Offered>>, HostError> {
        let Some(dir) = self.snapshots.clone() else {
            return Ok(None);
        };
        let cached = self.offered.lock().ok().and_then(|cached| cached.clone());
        let read = tokio::task::spawn_blocking(move || {
            let newest = crate::snapshots::newest(&dir)?;
            match cached {
                Some(cached) if Some(cached.height) == newest => Ok(Some(cached)),
                _ => crate::snapshots::latest(&dir).map(|offered| offered.map(Arc::new)),
            }
        })
        .await
        .map_err(|_| HostError::Stopped)??;
        if let Ok(mut cached) = self.offered.lock() {
            cached.clone_from(&read);
        }
        Ok(read)
    }

    /// What is said to an asker that reached the host at `local`.
    async fn info(&self, local: IpAddr) -> Result<NetworkInfo, HostError> {
        let status = self.handle.status().await?;
        let validators = self.handle.validators().await?;
        let reachable = |addresses: &[Multiaddr]| -> Vec<String> {
            addresses
                .iter()
                .flat_map(|address| crate::peers::reachable(address, &self.public, Some(local)))
                .map(|address| address.to_string())
                .filter(|text| text.len() <= plaza_client::network::MAX_ADDRESS_BYTES)
                .take(MAX_ADDRESSES)
                .collect()
        };
        Ok(NetworkInfo {
            chain_id: status.chain_id.to_string(),
            genesis: self.hash,
            genesis_bytes: self.genesis.as_ref().map_or(0, |genesis| {
                u32::try_from(genesis.len()).unwrap_or(u32::MAX)
            }),
            height: status.height,
            block_time: status.time,
            host: status.address,
            peers: reachable(&self.peers),
            consensus: reachable(&self.consensus),
            validators: validators
                .iter()
                .take(MAX_VALIDATORS)
                .map(|validator| (validator.address, validator.power))
                .collect(),
            snapshot: match self.snapshot().await {
                Ok(offered) => offered.map(|offered| SnapshotOffer {
                    height: offered.height,
                    head_bytes: u32::try_from(offered.head.len()).unwrap_or(u32::MAX),
                }),
                Err(err) => {
                    tracing::warn!(%err, "the latest snapshot cannot be read; none is offered");
                    None
                }
            },
        })
    }
}

impl std::fmt::Debug for NetworkOffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkOffer")
            .field(
                "genesis_bytes",
                &self.genesis.as_ref().map(|genesis| genesis.len()),
            )
            .field("peers", &self.peers)
            .field("consensus", &self.consensus)
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

/// What `host`, running in `home`, tells of its network and offers hosts
/// that join it: a network of one, or a home made before its genesis was
/// kept, cannot be joined.
pub(super) fn offer_of(
    home: &crate::home::Home,
    host: &crate::Host,
) -> Result<Arc<NetworkOffer>, HostError> {
    let (config, handle, genesis) = (host.config(), host.handle(), host.genesis());
    let path = home.genesis();
    let hash = genesis.as_ref().map_or([0; 32], |genesis| genesis.hash().0);
    let unjoinable = || {
        Arc::new(NetworkOffer::new(
            None,
            hash,
            handle.clone(),
            Vec::new(),
            Vec::new(),
            config.sessions.public.clone(),
        ))
    };
    let Some(network) = &config.network else {
        return Ok(unjoinable());
    };
    let Some(genesis) = genesis else {
        tracing::warn!(
            path = %path.display(),
            "this home has no genesis file (it was made before hosts could join): other hosts \
             cannot join the network through this one"
        );
        return Ok(unjoinable());
    };
    if genesis.genesis.chain_id.as_str() != config.chain_id {
        return Err(crate::home::HomeError::Genesis {
            path,
            reason: format!(
                "it is network {}'s, where this host's is {}",
                genesis.genesis.chain_id, config.chain_id
            ),
        }
        .into());
    }
    let addresses = network
        .addresses()
        .map_err(|reason| crate::home::HomeError::Config {
            path: home.config(),
            reason,
        })?;
    let peer = crate::peers::identity(home.load_host_key()?.seed())?
        .public()
        .to_peer_id();
    let peers = addresses
        .peers_listen
        .iter()
        .map(|address| address.clone().with(Protocol::P2p(peer)))
        .collect();
    let consensus = std::iter::once(addresses.consensus_listen)
        .chain(addresses.consensus_peers)
        .collect();
    let offer = NetworkOffer::new(
        Some(genesis.to_bytes()),
        hash,
        handle,
        peers,
        consensus,
        config.sessions.public.clone(),
    );
    Ok(Arc::new(if network.snapshot_every > 0 {
        offer.with_snapshots(home.snapshots())
    } else {
        offer
    }))
}

/// How long a host asking about the network has to take the genesis and
/// the latest snapshot: ten seconds, and two more for each MiB.
pub(super) async fn wait(offer: Option<&NetworkOffer>) -> std::time::Duration {
    let mut bytes = offer
        .and_then(|offer| offer.genesis.as_ref())
        .map_or(0, |genesis| genesis.len() as u64);
    if let Some(offer) = offer
        && let Ok(Some(snapshot)) = offer.snapshot().await
    {
        bytes += snapshot.bytes();
    }
    std::time::Duration::from_secs(10 + 2 * bytes.div_ceil(1 << 20))
}

/// The addresses players reach a host bound to `bind` at, for netcode to
/// take tokens naming them: the configured `public` ones, and the ones of
/// this machine players on its own networks (or on itself) reach it at:
/// `bind` when it is one address, or when bound to every interface, each
/// address of the machine's interfaces (of both families for `::`).
pub(super) fn reach(bind: IpAddr, public: &[IpAddr]) -> Vec<IpAddr> {
    let mut reach: Vec<IpAddr> = public.to_vec();
    if !bind.is_unspecified() {
        if !reach.contains(&bind) {
            reach.push(bind);
        }
        return reach;
    }
    match if_addrs::get_if_addrs() {
        Ok(interfaces) => {
            for interface in interfaces {
                let ip = interface.ip();
                if (bind.is_ipv6() || ip.is_ipv4()) && !reach.contains(&ip) {
                    reach.push(ip);
                }
            }
        }
        Err(err) => tracing::warn!(
            %err,
            "the machine's addresses could not be read: players are told the loopback address \
             only; set sessions.public in config.toml"
        ),
    }
    if reach.is_empty() {
        reach.push(match bind {
            IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    reach
}

/// The session addresses a connect token names for a player that reached
/// the join endpoint at `local`: that address first where netcode takes
/// it, then the rest of `reach`, at most `max`.
pub(super) fn token_addresses(
    local: IpAddr,
    reach: &[IpAddr],
    udp_port: u16,
    max: usize,
) -> Vec<std::net::SocketAddr> {
    let first = reach.iter().filter(|ip| **ip == local);
    let rest = reach.iter().filter(|ip| **ip != local);
    first
        .chain(rest)
        .take(max)
        .map(|ip| std::net::SocketAddr::new(*ip, udp_port))
        .collect()
}

/// Answers a [`JoinRequest::Network`] and the genesis parts asked for after
/// it, until the asker closes the connection or asks for something else.
pub(super) async fn answer(
    stream: &mut TcpStream,
    offer: Option<&NetworkOffer>,
    version: u16,
) -> Result<(), HostError> {
    if version != NETWORK_VERSION {
        return Err(ProtocolError::new(
            ErrorCode::WrongVersion,
            format!("this host speaks network protocol {NETWORK_VERSION}, the asker {version}"),
        )
        .into());
    }
    let Some(offer) = offer else {
        return Err(ProtocolError::new(
            ErrorCode::Unavailable,
            "this host does not tell of its network",
        )
        .into());
    };
    let local = stream
        .local_addr()
        .map_err(|err| HostError::net("reading the join connection's address", err))?
        .ip()
        .to_canonical();
    let info = offer.info(local).await?;
    write(stream, &JoinReply::Network(info)).await?;
    // Each genesis part once, in order: a connection is sent the genesis
    // at most once. Snapshot parts in any order (a joining host fetches
    // chunks on several connections), but no more bytes than the snapshot
    // holds.
    let mut next = 0u32;
    let mut snapshot: Option<Arc<Offered>> = None;
    let mut snapshot_sent: u64 = 0;
    loop {
        let next_request =
            tokio::time::timeout(IDLE, super::join::read_frame::<JoinRequest>(stream));
        let Ok(next_request) = next_request.await else {
            return Err(HostError::Timeout {
                what: "the next request of a host fetching the network",
                secs: IDLE.as_secs(),
            });
        };
        let request = match next_request {
            Ok(request @ (JoinRequest::GenesisPart { .. } | JoinRequest::SnapshotPart { .. })) => {
                request
            }
            Ok(_) => {
                return Err(ProtocolError::new(
                    ErrorCode::WrongState,
                    "only genesis and snapshot parts are answered after the network",
                )
                .into());
            }
            // The asker has what it wanted and closed the connection.
            Err(HostError::Net { .. }) => return Ok(()),
            Err(err) => return Err(err),
        };
        if let JoinRequest::SnapshotPart { height, item, part } = request {
            if snapshot
                .as_ref()
                .is_none_or(|offered| offered.height != height)
            {
                snapshot = offer
                    .snapshot()
                    .await?
                    .filter(|offered| offered.height == height);
            }
            let Some(offered) = &snapshot else {
                return Err(ProtocolError::new(
                    ErrorCode::NotFound,
                    format!("this host offers no snapshot of height {height} (any more)"),
                )
                .into());
            };
            let bytes = snapshot_part(offered, item, part).await?;
            snapshot_sent = snapshot_sent.saturating_add(bytes.len() as u64);
            if snapshot_sent > offered.bytes() {
                return Err(ProtocolError::new(
                    ErrorCode::WrongState,
                    "more of the snapshot asked than it holds: each part once",
                )
                .into());
            }
            write(
                stream,
                &JoinReply::SnapshotPart {
                    height,
                    item,
                    part,
                    bytes,
                },
            )
            .await?;
            continue;
        }
        let JoinRequest::GenesisPart { part } = request else {
            continue;
        };
        let Some(genesis) = &offer.genesis else {
            return Err(ProtocolError::new(
                ErrorCode::Unavailable,
                "this host cannot be joined: it runs a network of one (no [network] in its \
                 config.toml), or its home keeps no genesis",
            )
            .into());
        };
        if part != next {
            return Err(ProtocolError::new(
                ErrorCode::WrongState,
                format!("part {part} asked where part {next} is next: each once, in order"),
            )
            .into());
        }
        let Some(bytes) = genesis_part(genesis, part) else {
            return Err(ProtocolError::new(
                ErrorCode::NotFound,
                format!("the genesis has no part {part}"),
            )
            .into());
        };
        next = next.saturating_add(1);
        write(
            stream,
            &JoinReply::GenesisPart {
                part,
                bytes: bytes.to_vec(),
            },
        )
        .await?;
    }
}

/// Part `part` of item `item` of `offered`: of its head (item 0) or of
/// chunk `item - 1`, read from its file.
async fn snapshot_part(offered: &Offered, item: u32, part: u32) -> Result<Vec<u8>, HostError> {
    let missing = || -> HostError {
        ProtocolError::new(
            ErrorCode::NotFound,
            format!(
                "snapshot {} has no part {part} of item {item}",
                offered.height
            ),
        )
        .into()
    };
    if item == 0 {
        return genesis_part(&offered.head, part)
            .map(<[u8]>::to_vec)
            .ok_or_else(missing);
    }
    let index = item - 1;
    let length = *offered
        .chunk_lengths
        .get(index as usize)
        .ok_or_else(missing)? as u64;
    let start = u64::from(part) * GENESIS_PART_BYTES as u64;
    if start >= length {
        return Err(missing());
    }
    let take = (length - start).min(GENESIS_PART_BYTES as u64) as usize;
    let path = crate::snapshots::chunk_path(&offered.dir, index);
    tokio::task::spawn_blocking(move || -> Result<Vec<u8>, HostError> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = std::fs::File::open(&path).map_err(|err| HostError::io(&path, err))?;
        file.seek(SeekFrom::Start(start))
            .map_err(|err| HostError::io(&path, err))?;
        let mut bytes = vec![0; take];
        file.read_exact(&mut bytes)
            .map_err(|err| HostError::io(&path, err))?;
        Ok(bytes)
    })
    .await
    .map_err(|_| HostError::Stopped)?
}

async fn write(stream: &mut TcpStream, reply: &JoinReply) -> Result<(), HostError> {
    let bytes =
        plaza_client::join::frame_of_at_most(&protocol::encode(reply)?, MAX_NETWORK_FRAME_BYTES)?;
    stream
        .write_all(&bytes)
        .await
        .map_err(|err| HostError::net("writing a network frame", err))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peers::reachable;

    #[test]
    fn players_are_told_session_addresses_they_can_reach() {
        let any: IpAddr = "0.0.0.0".parse().unwrap();
        let machine = reach(any, &[]);
        assert!(!machine.is_empty());
        assert!(
            machine
                .iter()
                .all(|ip| ip.is_ipv4() && !ip.is_unspecified())
        );
        assert!(
            machine.contains(&"127.0.0.1".parse().unwrap()),
            "{machine:?}"
        );
        let public: IpAddr = "203.0.113.9".parse().unwrap();
        // Behind NAT and bound to every interface: the public address, and
        // the machine's own for players on its networks.
        let both = reach(any, &[public]);
        assert_eq!(both[0], public);
        assert!(both.contains(&"127.0.0.1".parse().unwrap()), "{both:?}");
        let lan: IpAddr = "192.168.1.5".parse().unwrap();
        assert_eq!(reach(lan, &[public]), vec![public, lan]);
        // The address the player came in at comes first.
        let told = token_addresses(public, &[lan, public], 7481, 32);
        assert_eq!(told[0], "203.0.113.9:7481".parse().unwrap());
        assert_eq!(told.len(), 2);
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(token_addresses(stranger, &[lan, public], 7481, 1).len(), 1);
    }

    #[test]
    fn an_address_on_every_interface_is_named_by_where_it_is_reached() {
        let any: Multiaddr =
            "/ip4/0.0.0.0/tcp/7482/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
                .parse()
                .unwrap();
        let local: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(
            reachable(&any, &[], Some(local))[0].to_string(),
            "/ip4/192.0.2.7/tcp/7482/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
        );
        let public: Vec<IpAddr> = vec![
            "203.0.113.9".parse().unwrap(),
            "2001:db8::1".parse().unwrap(),
        ];
        let named = reachable(&any, &public, Some(local));
        assert!(reachable(&any, &[], None).is_empty());
        assert_eq!(named.len(), 1, "only the IPv4 public address: {named:?}");
        assert!(
            named[0]
                .to_string()
                .starts_with("/ip4/203.0.113.9/tcp/7482")
        );
        let fixed: Multiaddr = "/ip4/127.0.0.2/tcp/1".parse().unwrap();
        assert_eq!(reachable(&fixed, &[], Some(local)), vec![fixed.clone()]);
        // Public addresses are named first, the bound one after.
        let both = reachable(&fixed, &public, Some(local));
        assert_eq!(both.len(), 2, "{both:?}");
        assert!(both[0].to_string().starts_with("/ip4/203.0.113.9/tcp/1"));
        assert_eq!(both[1], fixed);
        // An IPv4 asker at a host bound to `::` is seen as an IPv4-mapped
        // address: it is named as IPv4.
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert!(
            reachable(&any, &[], Some(mapped))[0]
                .to_string()
                .starts_with("/ip4/192.0.2.7/")
        );
    }
}
