//! The peer network: hosts find one another, spread transactions and
//! serve one another asset files, over libp2p.
//!
//! [`start`] builds the swarm (TCP and QUIC, with noise and yamux;
//! identify, ping, Kademlia, mDNS, gossipsub, and a request-response
//! protocol for files) and runs it in one task, the event loop. Everything
//! else talks to the loop through a cloneable [`PeerHandle`]: each command
//! goes in on a bounded channel with its own reply channel.
//!
//! Transactions gossiped by other hosts are checked in the loop before
//! anything else sees them: one that does not decode, is for another
//! network or carries a bad signature is rejected, which lowers its
//! sender's gossip score until the sender is ignored. The rest come out as
//! [`GossipedTx`] for the host to judge against its mempool: new ones are
//! passed on to other peers, duplicates and ones not valid yet are
//! dropped without penalty. A gossiped transaction waits for its verdict
//! in a bounded queue; when it is full, new ones are dropped.
//!
//! Files move piece by piece: a fetcher asks a provider (found through
//! Kademlia provider records) for the blob's piece list, checks it against
//! the content id, then checks every piece against the list before it is
//! stored. A peer that sends anything that fails those checks is dropped
//! and refused from then on.
//!
//! Hosts also call one another directly about their players (a trade
//! between players of two hosts; see [`crate::calls`]): each call is one
//! request and its answer, from a peer whose key is the calling host's,
//! at most [`CALLS_PER_SEC`] a second from one peer and
//! [`MAX_CALLS_WAITING`] waiting for the session server at once.

mod calls;
mod event_loop;
mod handle;
mod swarm;

pub use self::calls::{host_of_peer, peer_of_host};
use self::event_loop::EventLoop;
pub use self::handle::PeerHandle;
pub(crate) use self::handle::blocking;
use self::swarm::{build_swarm, wait_for_listeners};
pub use self::swarm::{file_protocol, identity, peer_of};

mod files;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use assets::BlobStore;
use futures::stream::FuturesUnordered;
use ledger::{ChainId, LedgerError, MAX_TX_BYTES, SignedTransaction, Verifier};
use libp2p::gossipsub::IdentTopic;
use libp2p::identity::Keypair;
use libp2p::kad::{self};
use libp2p::{Multiaddr, PeerId};
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

use crate::error::HostError;
use crate::mempool::Added;
use crate::presence::PassCache;

pub use files::{FileCodec, FileRequest, FileResponse, MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES};

/// What the peer network can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The peer network could not start, or could not do what it was
    /// asked.
    #[error("peer network: {0}")]
    Network(String),
    /// A peer sent a file that does not match its content id; it is
    /// dropped and refused from then on.
    #[error("peer {peer} sent a bad {what}: {reason}; it is dropped")]
    Lied {
        /// The peer.
        peer: String,
        /// What it sent.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A presence message that cannot be believed: malformed, out of
    /// range, for another network, or not signed by the host it names.
    #[error("a presence message was refused: {reason}")]
    Presence {
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

/// Commands waiting for the event loop.
const COMMAND_QUEUE: usize = 256;

/// How long a gossiped transaction waits for the host's verdict before it
/// is dropped.
const VERDICT_WAIT: Duration = Duration::from_secs(5);

/// Largest gossip frame: one transaction and gossipsub's own framing.
const MAX_GOSSIP_BYTES: usize = MAX_TX_BYTES + 1024;

/// How often the routing table is refreshed from the network.
const BOOTSTRAP_EVERY: Duration = Duration::from_secs(60);

/// How long a connection nothing uses stays open.
const IDLE_CONNECTION: Duration = Duration::from_secs(120);

/// How long [`start`] waits for its listeners to come up.
const LISTEN_WAIT: Duration = Duration::from_secs(5);

/// Provider records the store holds, this host's own and others' together.
const MAX_PROVIDED: usize = 65_536;

/// Of those, how many other hosts' records are taken in an hour. A record
/// lives [`PROVIDER_RECORD_TTL`], so at most twice this many are held at
/// once, and half the store stays for this host's own announcements,
/// which no flood of others' may crowd out.
const MAX_PROVIDED_BY_OTHERS: usize = 16_384;

/// How long a provider record lives; each host announces its files again
/// every [`PROVIDER_REPUBLISH`].
const PROVIDER_RECORD_TTL: Duration = Duration::from_secs(2 * 3_600);

const PROVIDER_REPUBLISH: Duration = Duration::from_secs(3_600);

/// Provider records one peer may have this host keep per hour.
const MAX_PROVIDED_BY_PEER_PER_HOUR: usize = 1_024;

/// Listen addresses of one peer taken into the routing table.
const MAX_ADDRESSES_PER_PEER: usize = 8;

/// Gossiped transactions a peer may send that are dropped without being
/// wrong (duplicates, nonces not reached, a full mempool), per second,
/// before each further one lowers its score; and how many at once.
const FREE_IGNORED_PER_SEC: f32 = 20.0;

const FREE_IGNORED_BURST: f32 = 200.0;

/// How long a call to another host waits for its answer.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Calls from other hosts waiting for this host's answer, at most; more
/// are answered "busy".
pub const MAX_CALLS_WAITING: usize = 64;

/// Calls one peer may make a second, and at once; more are answered
/// "busy".
pub const CALLS_PER_SEC: f32 = 20.0;

const CALL_BURST: f32 = 40.0;

/// How a host joins the peer network.
#[derive(Clone, Debug)]
pub struct PeerConfig {
    /// Addresses to listen on: TCP (`/ip4/0.0.0.0/tcp/7010`) and QUIC
    /// (`/ip4/0.0.0.0/udp/7010/quic-v1`); port 0 takes a free one.
    pub listen: Vec<Multiaddr>,
    /// Hosts to join through, each address ending in `/p2p/<peer id>`.
    /// Any host can be one.
    pub bootstrap: Vec<Multiaddr>,
    /// Whether to find hosts on the local network by mDNS.
    pub mdns: bool,
    /// Bounds on what peers can make this host hold.
    pub limits: PeerLimits,
    /// The addresses other hosts reach this one at, told to peers (by
    /// identify) and named in its provider records; listen addresses on
    /// one IP are told as they are.
    pub external: Vec<Multiaddr>,
}

/// Bounds on what peers can make a host hold.
#[derive(Clone, Copy, Debug)]
pub struct PeerLimits {
    /// Gossiped transactions waiting for the host's verdict.
    pub inbound_txs: usize,
    /// Connections open at once.
    pub max_connections: u32,
    /// Connections to one peer.
    pub max_connections_per_peer: u32,
    /// File requests served at once.
    pub serving: usize,
    /// File requests of one peer served at once.
    pub serving_per_peer: usize,
    /// How long a file request waits for its answer.
    pub request_timeout: Duration,
}

impl Default for PeerLimits {
    fn default() -> Self {
        PeerLimits {
            inbound_txs: 1024,
            max_connections: 128,
            max_connections_per_peer: 2,
            serving: 8,
            serving_per_peer: 2,
            request_timeout: Duration::from_secs(20),
        }
    }
}

impl PeerConfig {
    /// Listening on TCP and QUIC on `ip`'s `port` (0 for any free one),
    /// with no bootstrap hosts and no mDNS.
    pub fn on(ip: std::net::IpAddr, port: u16) -> Self {
        let ip = match ip {
            std::net::IpAddr::V4(ip) => format!("/ip4/{ip}"),
            std::net::IpAddr::V6(ip) => format!("/ip6/{ip}"),
        };
        let listen = [
            format!("{ip}/tcp/{port}"),
            format!("{ip}/udp/{port}/quic-v1"),
        ]
        .iter()
        .filter_map(|text| text.parse().ok())
        .collect();
        PeerConfig {
            listen,
            bootstrap: Vec::new(),
            mdns: false,
            limits: PeerLimits::default(),
            external: Vec::new(),
        }
    }
}

/// `address` as others reach it: once for each of `public` of its family,
/// then as it is when it names one IP; with an unspecified IP and no
/// `public` address, for `local` (the address an asker reached this host
/// at); nothing where none is known.
pub fn reachable(
    address: &Multiaddr,
    public: &[std::net::IpAddr],
    local: Option<std::net::IpAddr>,
) -> Vec<Multiaddr> {
    use libp2p::multiaddr::Protocol;
    use std::net::IpAddr;
    let unspecified = match address.iter().next() {
        Some(Protocol::Ip4(ip)) => ip.is_unspecified().then_some(true),
        Some(Protocol::Ip6(ip)) => ip.is_unspecified().then_some(false),
        _ => None,
    };
    let v4 = match (unspecified, address.iter().next()) {
        (Some(v4), _) => v4,
        (None, Some(Protocol::Ip4(_))) => true,
        (None, Some(Protocol::Ip6(_))) => false,
        // A name, or no address at all: as it is.
        _ => return vec![address.clone()],
    };
    let ips: Vec<IpAddr> = if public.is_empty() && unspecified.is_some() {
        local.into_iter().map(|ip| ip.to_canonical()).collect()
    } else {
        public.to_vec()
    };
    let mut named: Vec<Multiaddr> = ips
        .into_iter()
        .filter(|ip| ip.is_ipv4() == v4)
        .map(|ip| {
            address
                .iter()
                .enumerate()
                .map(|(index, part)| match (index, ip) {
                    (0, IpAddr::V4(ip)) => Protocol::Ip4(ip),
                    (0, IpAddr::V6(ip)) => Protocol::Ip6(ip),
                    _ => part,
                })
                .collect()
        })
        .collect();
    if unspecified.is_none() && !named.contains(address) {
        named.push(address.clone());
    }
    named
}

/// What the host makes of a gossiped transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// New and valid: pass it on.
    Accept,
    /// Not for passing on, through no fault of the sender: a nonce not
    /// reached yet, a full mempool, a verdict that did not come in time.
    Ignore,
    /// Not for passing on, and of no use to anyone: a transaction waiting
    /// already, or one whose nonce or deadline has passed. A few are
    /// normal; a peer that keeps sending them loses score.
    Stale,
    /// Invalid: the sender's score is lowered.
    Reject,
}

impl Verdict {
    /// The verdict on a gossiped transaction the mempool answered with
    /// `added`.
    pub fn of(added: &Result<Added, HostError>) -> Verdict {
        match added {
            Ok(Added::New(_)) => Verdict::Accept,
            Err(HostError::Ledger(
                LedgerError::BadSignature { .. }
                | LedgerError::BadTradeSignature { .. }
                | LedgerError::WrongChain { .. },
            )) => Verdict::Reject,
            Ok(Added::Duplicate(_))
            | Err(HostError::Ledger(
                LedgerError::StaleNonce { .. } | LedgerError::Expired { .. },
            )) => Verdict::Stale,
            Err(_) => Verdict::Ignore,
        }
    }
}

/// A transaction another host gossiped, well formed, for this network and
/// correctly signed; it waits for the host's [`Verdict`].
#[derive(Debug)]
pub struct GossipedTx {
    /// The transaction.
    pub tx: SignedTransaction,
    /// The peer it came from.
    pub from: PeerId,
    verdict: oneshot::Sender<Verdict>,
}

impl GossipedTx {
    /// Gives the verdict. A transaction dropped without one is ignored.
    pub fn judge(self, verdict: Verdict) {
        // The loop may have stopped waiting; then there is nobody to tell.
        let _ = self.verdict.send(verdict);
    }
}

/// Where the peer network stands.
#[derive(Clone, Debug, Default)]
pub struct PeerStatus {
    /// Addresses it listens on.
    pub listening: Vec<Multiaddr>,
    /// Peers connected now.
    pub connected: Vec<PeerId>,
    /// Peers in the routing table.
    pub known: Vec<PeerId>,
    /// Peers dropped for misbehaving.
    pub banned: Vec<PeerId>,
    /// What each connected peer calls itself (identify's agent version).
    pub agents: Vec<(PeerId, String)>,
}

/// Starts the peer network of a host of network `chain` with identity
/// `key`, serving files from `store`, and waits until it listens. The
/// receiver yields transactions other hosts gossip, for the host to judge.
pub async fn start(
    key: Keypair,
    chain: &ChainId,
    config: PeerConfig,
    store: Option<Arc<BlobStore>>,
) -> Result<(PeerHandle, mpsc::Receiver<GossipedTx>), HostError> {
    let id = key.public().to_peer_id();
    let network = chain.as_str();
    let mut swarm = build_swarm(key, network, &config)?;
    let topic = IdentTopic::new(format!("/plaza/{network}/tx/1"));
    swarm
        .behaviour_mut()
        .gossip
        .subscribe(&topic)
        .map_err(|err| HostError::peer(format!("cannot subscribe to {topic}: {err}")))?;
    swarm.behaviour_mut().kad.set_mode(Some(kad::Mode::Server));
    for address in &config.listen {
        swarm
            .listen_on(address.clone())
            .map_err(|err| HostError::peer(format!("cannot listen on {address}: {err}")))?;
    }
    let listening = wait_for_listeners(&mut swarm, config.listen.len()).await?;
    info!(peer = %id, addresses = ?listening, "peer network listening");
    for address in &config.external {
        swarm.add_external_address(address.clone());
    }
    if !config.external.is_empty() {
        info!(addresses = ?config.external, "peer network: told others as reachable at");
    }
    for address in &config.bootstrap {
        match peer_of(address) {
            Some(peer) if peer != id => {
                swarm
                    .behaviour_mut()
                    .kad
                    .add_address(&peer, address.clone());
                if let Err(err) = swarm.dial(address.clone()) {
                    warn!(%address, %err, "cannot dial bootstrap host");
                }
            }
            Some(_) => {}
            None => {
                return Err(HostError::peer(format!(
                    "bootstrap address {address} does not end in /p2p/<peer id>"
                )));
            }
        }
    }
    let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE);
    let (inbound, inbound_rx) = mpsc::channel(config.limits.inbound_txs.max(1));
    let (served, served_rx) = mpsc::channel(config.limits.serving.max(1));
    let presence = IdentTopic::new(format!("/plaza/{network}/presence/4"));
    let event_loop = EventLoop {
        swarm,
        topic,
        presence: (presence, None),
        passes: PassCache::default(),
        verifier: Verifier::new(chain.clone()),
        inbound,
        verdicts: FuturesUnordered::new(),
        providers: HashMap::new(),
        requests: HashMap::new(),
        serving: HashMap::new(),
        serving_total: 0,
        served,
        store: store.clone(),
        limits: config.limits,
        banned: HashSet::new(),
        listening: listening.clone(),
        kad_protocol: swarm::kad_protocol(network)?,
        provided_by_others: (0, HashMap::new(), tokio::time::Instant::now()),
        ignored: HashMap::new(),
        calls: HashMap::new(),
        called: None,
        answering: FuturesUnordered::new(),
        callers: HashMap::new(),
        agents: HashMap::new(),
    };
    tokio::spawn(event_loop.run(command_rx, served_rx));
    Ok((
        PeerHandle {
            id,
            listening,
            commands,
            store,
        },
        inbound_rx,
    ))
}
