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

mod files;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use assets::{AssetError, BlobStatus, BlobStore, ContentId};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use ledger::{ChainId, LedgerError, MAX_TX_BYTES, SignedTransaction, Verifier};
use libp2p::gossipsub::{
    self, IdentTopic, MessageAcceptance, MessageAuthenticity, MessageId, PeerScoreParams,
    PeerScoreThresholds, PublishError, TopicScoreParams, ValidationMode,
};
use libp2p::identity::Keypair;
use libp2p::kad::store::{MemoryStore, MemoryStoreConfig};
use libp2p::kad::{self, GetProvidersOk, QueryResult, RecordKey};
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{
    Multiaddr, PeerId, StreamProtocol, Swarm, allow_block_list, connection_limits, identify, mdns,
    noise, ping, tcp, yamux,
};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use crate::error::HostError;
use crate::mempool::Added;
use crate::rate::Bucket;

pub use files::{FileCodec, FileRequest, FileResponse, MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES};

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
        }
    }
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
}

type Reply<T> = oneshot::Sender<T>;

enum Command {
    Publish(Vec<u8>, Reply<Result<bool, HostError>>),
    Dial(Multiaddr, Reply<Result<(), HostError>>),
    Status(Reply<PeerStatus>),
    Score(PeerId, Reply<Option<f64>>),
    Provide(ContentId, Reply<Result<(), HostError>>),
    Providers(ContentId, Reply<Vec<PeerId>>),
    Request(PeerId, FileRequest, Reply<Result<FileResponse, HostError>>),
    Ban(PeerId, Reply<()>),
}

/// Talks to the peer network's event loop. Cheap to clone; the loop stops
/// when the last handle is dropped.
#[derive(Clone)]
pub struct PeerHandle {
    id: PeerId,
    listening: Vec<Multiaddr>,
    commands: mpsc::Sender<Command>,
    store: Option<Arc<BlobStore>>,
}

/// The network's libp2p identity from a host's 32-byte ed25519 secret.
pub fn identity(secret: [u8; 32]) -> Result<Keypair, HostError> {
    let mut secret = secret;
    Keypair::ed25519_from_bytes(&mut secret)
        .map_err(|err| HostError::Peer(format!("the host key is not an ed25519 key: {err}")))
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
        .map_err(|err| HostError::Peer(format!("cannot subscribe to {topic}: {err}")))?;
    swarm.behaviour_mut().kad.set_mode(Some(kad::Mode::Server));
    for address in &config.listen {
        swarm
            .listen_on(address.clone())
            .map_err(|err| HostError::Peer(format!("cannot listen on {address}: {err}")))?;
    }
    let listening = wait_for_listeners(&mut swarm, config.listen.len()).await?;
    info!(peer = %id, addresses = ?listening, "peer network listening");
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
                return Err(HostError::Peer(format!(
                    "bootstrap address {address} does not end in /p2p/<peer id>"
                )));
            }
        }
    }
    let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE);
    let (inbound, inbound_rx) = mpsc::channel(config.limits.inbound_txs.max(1));
    let (served, served_rx) = mpsc::channel(config.limits.serving.max(1));
    let event_loop = EventLoop {
        swarm,
        topic,
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
        kad_protocol: StreamProtocol::try_from_owned(format!("/plaza/{network}/kad/1"))
            .map_err(|err| HostError::Peer(format!("Kademlia protocol name: {err}")))?,
        provided_by_others: (0, HashMap::new(), tokio::time::Instant::now()),
        ignored: HashMap::new(),
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

/// The name of the file protocol on network `chain`: hosts of different
/// networks do not exchange files.
pub fn file_protocol(chain: &ChainId) -> Result<StreamProtocol, HostError> {
    files::protocol(chain.as_str()).map_err(HostError::Peer)
}

/// The peer id an address ends in.
pub fn peer_of(address: &Multiaddr) -> Option<PeerId> {
    address.iter().last().and_then(|part| match part {
        libp2p::multiaddr::Protocol::P2p(peer) => Some(peer),
        _ => None,
    })
}

fn build_swarm(
    key: Keypair,
    network: &str,
    config: &PeerConfig,
) -> Result<Swarm<Behaviour>, HostError> {
    let failed =
        |what: &str, err: &dyn std::fmt::Display| HostError::Peer(format!("{what}: {err}"));
    let kad_protocol = StreamProtocol::try_from_owned(format!("/plaza/{network}/kad/1"))
        .map_err(|err| failed("Kademlia protocol name", &err))?;
    let files_protocol = files::protocol(network).map_err(HostError::Peer)?;
    let identify_version = format!("/plaza/{network}/1");
    let limits = config.limits;
    let mdns_on = config.mdns;
    let swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|err| failed("TCP transport", &err))?
        .with_quic()
        .with_behaviour(|key| {
            let id = key.public().to_peer_id();
            let gossip = gossip(network)?;
            let mut kad_config = kad::Config::new(kad_protocol.clone());
            kad_config.set_query_timeout(Duration::from_secs(30));
            // Others' provider records and values are judged before they
            // are kept (see `EventLoop::kad_inbound`), and only peers that
            // say they speak this network's Kademlia enter the routing
            // table (see `EventLoop::identified`).
            kad_config.set_record_filtering(kad::StoreInserts::FilterBoth);
            kad_config.set_provider_record_ttl(Some(PROVIDER_RECORD_TTL));
            kad_config.set_provider_publication_interval(Some(PROVIDER_REPUBLISH));
            kad_config.set_kbucket_inserts(kad::BucketInserts::Manual);
            let mdns = if mdns_on {
                Some(mdns::tokio::Behaviour::new(mdns::Config::default(), id)?)
            } else {
                None
            };
            Ok(Behaviour {
                blocked: allow_block_list::Behaviour::default(),
                limits: connection_limits::Behaviour::new(
                    connection_limits::ConnectionLimits::default()
                        .with_max_established(Some(limits.max_connections))
                        .with_max_established_per_peer(Some(limits.max_connections_per_peer))
                        .with_max_pending_incoming(Some(limits.max_connections / 4 + 1)),
                ),
                identify: identify::Behaviour::new(identify::Config::new(
                    identify_version,
                    key.public(),
                )),
                ping: ping::Behaviour::default(),
                kad: kad::Behaviour::with_config(
                    id,
                    MemoryStore::with_config(
                        id,
                        MemoryStoreConfig {
                            max_provided_keys: MAX_PROVIDED,
                            ..MemoryStoreConfig::default()
                        },
                    ),
                    kad_config,
                ),
                mdns: Toggle::from(mdns),
                gossip,
                files: request_response::Behaviour::with_codec(
                    FileCodec,
                    [(files_protocol, ProtocolSupport::Full)],
                    request_response::Config::default()
                        .with_request_timeout(limits.request_timeout)
                        .with_max_concurrent_streams(limits.serving * 4),
                ),
            })
        })
        .map_err(|err| failed("network behaviour", &err))?
        .with_swarm_config(|swarm| swarm.with_idle_connection_timeout(IDLE_CONNECTION))
        .build();
    Ok(swarm)
}

/// Gossipsub for transactions: messages named by their content (so one
/// transaction from two hosts is one message), held until the host has
/// checked them, and peers scored so that one sending invalid transactions
/// is soon ignored. A message carries no author, sequence number or
/// signature of its own: the transaction in it is signed by its signer,
/// and the peer that passed it on is known from the (noise-authenticated)
/// connection, which is whom a bad one is held against. Signing every
/// message again would cost each host one more signature check per
/// transaction for nothing.
fn gossip(network: &str) -> Result<gossipsub::Behaviour, String> {
    let config = gossipsub::ConfigBuilder::default()
        .validation_mode(ValidationMode::Anonymous)
        .validate_messages()
        .max_transmit_size(MAX_GOSSIP_BYTES)
        .heartbeat_interval(Duration::from_millis(500))
        .message_id_fn(|message: &gossipsub::Message| {
            MessageId::from(blake3::hash(&message.data).as_bytes().to_vec())
        })
        .build()
        .map_err(|err| format!("gossipsub config: {err}"))?;
    let mut gossip = gossipsub::Behaviour::new(MessageAuthenticity::Anonymous, config)
        .map_err(|err| format!("gossipsub: {err}"))?;
    let topic = IdentTopic::new(format!("/plaza/{network}/tx/1"));
    let mut params = PeerScoreParams::default();
    params.topics.insert(
        topic.hash(),
        TopicScoreParams {
            topic_weight: 1.0,
            // Quiet networks are normal: nobody is punished for sending
            // little, only for sending wrong.
            mesh_message_deliveries_weight: 0.0,
            mesh_failure_penalty_weight: 0.0,
            first_message_deliveries_weight: 1.0,
            invalid_message_deliveries_weight: -20.0,
            invalid_message_deliveries_decay: 0.9,
            ..TopicScoreParams::default()
        },
    );
    // Each gossiped transaction dropped beyond a peer's free allowance
    // (see `EventLoop::ignored`) lowers its application score by one; at
    // the default graylist threshold of -80 it is ignored altogether.
    params.app_specific_weight = 1.0;
    gossip.with_peer_score(params, PeerScoreThresholds::default())?;
    Ok(gossip)
}

async fn wait_for_listeners(
    swarm: &mut Swarm<Behaviour>,
    wanted: usize,
) -> Result<Vec<Multiaddr>, HostError> {
    let mut listening = Vec::new();
    let deadline = tokio::time::Instant::now() + LISTEN_WAIT;
    let mut closed = 0;
    while listening.len() + closed < wanted {
        let event = tokio::time::timeout_at(deadline, swarm.select_next_some())
            .await
            .map_err(|_| {
                HostError::Peer(format!(
                    "listeners not up after {} s (up: {listening:?})",
                    LISTEN_WAIT.as_secs()
                ))
            })?;
        match event {
            SwarmEvent::NewListenAddr { address, .. } => listening.push(address),
            SwarmEvent::ListenerClosed {
                addresses, reason, ..
            } => {
                warn!(?addresses, ?reason, "a listener closed");
                closed += 1;
            }
            SwarmEvent::ListenerError { error, .. } => {
                return Err(HostError::Peer(format!("listener failed: {error}")));
            }
            _ => {}
        }
    }
    if listening.is_empty() {
        return Err(HostError::Peer("no listener came up".into()));
    }
    Ok(listening)
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    limits: connection_limits::Behaviour,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    kad: kad::Behaviour<MemoryStore>,
    mdns: Toggle<mdns::tokio::Behaviour>,
    gossip: gossipsub::Behaviour,
    files: request_response::Behaviour<FileCodec>,
}

type VerdictWait = Pin<Box<dyn Future<Output = (MessageId, PeerId, Verdict)> + Send>>;
type Served = (PeerId, ResponseChannel<FileResponse>, FileResponse);

struct EventLoop {
    swarm: Swarm<Behaviour>,
    topic: IdentTopic,
    verifier: Verifier,
    inbound: mpsc::Sender<GossipedTx>,
    verdicts: FuturesUnordered<VerdictWait>,
    providers: HashMap<kad::QueryId, (HashSet<PeerId>, Reply<Vec<PeerId>>)>,
    requests: HashMap<OutboundRequestId, Reply<Result<FileResponse, HostError>>>,
    serving: HashMap<PeerId, usize>,
    serving_total: usize,
    served: mpsc::Sender<Served>,
    store: Option<Arc<BlobStore>>,
    limits: PeerLimits,
    banned: HashSet<PeerId>,
    listening: Vec<Multiaddr>,
    /// This network's Kademlia protocol.
    kad_protocol: StreamProtocol,
    /// Others' provider records taken this hour: in all, per peer, and
    /// when the hour began.
    provided_by_others: (usize, HashMap<PeerId, usize>, tokio::time::Instant),
    /// Per peer: the allowance of dropped gossip left, when it was last
    /// topped up, and the penalty earned beyond it.
    ignored: HashMap<PeerId, (Bucket, tokio::time::Instant, f64)>,
}

impl EventLoop {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut served: mpsc::Receiver<Served>,
    ) {
        let mut bootstrap = tokio::time::interval(BOOTSTRAP_EVERY);
        bootstrap.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                command = commands.recv() => match command {
                    Some(command) => self.command(command),
                    None => break,
                },
                event = self.swarm.select_next_some() => self.event(event),
                Some((id, from, verdict)) = self.verdicts.next(), if !self.verdicts.is_empty() => {
                    self.report(&id, &from, verdict);
                }
                Some((peer, channel, response)) = served.recv() => {
                    self.done_serving(peer);
                    if self.swarm.behaviour_mut().files.send_response(channel, response).is_err() {
                        debug!(%peer, "file request closed before its answer");
                    }
                }
                _ = bootstrap.tick() => {
                    // No known peer is normal for a host alone.
                    let _ = self.swarm.behaviour_mut().kad.bootstrap();
                    self.forgive();
                }
            }
        }
        debug!("peer network stopped");
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Publish(bytes, reply) => {
                let topic = self.topic.clone();
                let result = match self.swarm.behaviour_mut().gossip.publish(topic, bytes) {
                    Ok(_) | Err(PublishError::Duplicate) => Ok(true),
                    Err(PublishError::NoPeersSubscribedToTopic) => Ok(false),
                    Err(err) => Err(HostError::Peer(format!("cannot gossip: {err}"))),
                };
                let _ = reply.send(result);
            }
            Command::Dial(address, reply) => {
                if let Some(peer) = peer_of(&address) {
                    self.swarm
                        .behaviour_mut()
                        .kad
                        .add_address(&peer, address.clone());
                }
                let result = self
                    .swarm
                    .dial(address.clone())
                    .map_err(|err| HostError::Peer(format!("cannot dial {address}: {err}")));
                let _ = reply.send(result);
            }
            Command::Status(reply) => {
                let mut known = Vec::new();
                for bucket in self.swarm.behaviour_mut().kad.kbuckets() {
                    for entry in bucket.iter() {
                        known.push(*entry.node.key.preimage());
                    }
                }
                let _ = reply.send(PeerStatus {
                    listening: self.listening.clone(),
                    connected: self.swarm.connected_peers().copied().collect(),
                    known,
                    banned: self.banned.iter().copied().collect(),
                });
            }
            Command::Score(peer, reply) => {
                let _ = reply.send(self.swarm.behaviour().gossip.peer_score(&peer));
            }
            Command::Provide(blob, reply) => {
                let result = self
                    .swarm
                    .behaviour_mut()
                    .kad
                    .start_providing(RecordKey::new(&blob.to_bytes()))
                    .map(|_| ())
                    .map_err(|err| HostError::Peer(format!("cannot announce {blob}: {err:?}")));
                let _ = reply.send(result);
            }
            Command::Providers(blob, reply) => {
                let query = self
                    .swarm
                    .behaviour_mut()
                    .kad
                    .get_providers(RecordKey::new(&blob.to_bytes()));
                self.providers.insert(query, (HashSet::new(), reply));
            }
            Command::Request(peer, request, reply) => {
                let id = self
                    .swarm
                    .behaviour_mut()
                    .files
                    .send_request(&peer, request);
                self.requests.insert(id, reply);
            }
            Command::Ban(peer, reply) => {
                self.ban(peer);
                let _ = reply.send(());
            }
        }
    }

    fn ban(&mut self, peer: PeerId) {
        warn!(%peer, "peer dropped for misbehaving");
        self.banned.insert(peer);
        let behaviour = self.swarm.behaviour_mut();
        behaviour.blocked.block_peer(peer);
        behaviour.gossip.blacklist_peer(&peer);
        behaviour.kad.remove_peer(&peer);
    }

    fn event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(event) => self.behaviour(event),
            SwarmEvent::NewListenAddr { address, .. } => {
                info!(%address, "peer network listening");
                self.listening.push(address);
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                self.listening.retain(|held| held != &address);
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                endpoint,
                num_established,
                ..
            } => {
                debug!(peer = %peer_id, address = %endpoint.get_remote_address(), "connected");
                if num_established.get() == 1 {
                    // A new peer: learn who it knows.
                    let _ = self.swarm.behaviour_mut().kad.bootstrap();
                }
            }
            SwarmEvent::ConnectionClosed { peer_id, cause, .. } => {
                debug!(peer = %peer_id, ?cause, "disconnected");
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                debug!(peer = ?peer_id, %error, "could not connect");
            }
            _ => {}
        }
    }

    fn behaviour(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. }) => {
                self.identified(peer_id, info);
            }
            BehaviourEvent::Kad(kad::Event::InboundRequest { request }) => {
                self.kad_inbound(request);
            }
            BehaviourEvent::Mdns(mdns::Event::Discovered(found)) => {
                for (peer, address) in found {
                    if self.banned.contains(&peer) {
                        continue;
                    }
                    // Dialled; it enters the routing table once it says
                    // it speaks this network's Kademlia.
                    if !self.swarm.is_connected(&peer) {
                        let _ = self.swarm.dial(address);
                    }
                }
            }
            BehaviourEvent::Kad(kad::Event::OutboundQueryProgressed {
                id, result, step, ..
            }) => self.query_progressed(id, result, step.last),
            BehaviourEvent::Gossip(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            }) => self.gossiped(propagation_source, message_id, message),
            BehaviourEvent::Files(event) => self.files(event),
            _ => {}
        }
    }

    fn query_progressed(&mut self, id: kad::QueryId, result: QueryResult, last: bool) {
        if let QueryResult::GetProviders(result) = result {
            if let Some((found, _)) = self.providers.get_mut(&id)
                && let Ok(GetProvidersOk::FoundProviders { providers, .. }) = result
            {
                found.extend(providers);
            }
            if last && let Some((found, reply)) = self.providers.remove(&id) {
                let local = *self.swarm.local_peer_id();
                let found = found
                    .into_iter()
                    .filter(|peer| *peer != local && !self.banned.contains(peer))
                    .collect();
                let _ = reply.send(found);
            }
        }
    }

    /// Checks a gossiped transaction and hands it to the host for its
    /// verdict, or gives the verdict at once.
    fn gossiped(&mut self, from: PeerId, id: MessageId, message: gossipsub::Message) {
        let verdict = if message.topic != self.topic.hash() {
            Verdict::Reject
        } else {
            match SignedTransaction::from_bytes(&message.data) {
                Err(err) => {
                    debug!(peer = %from, %err, "gossiped transaction malformed");
                    Verdict::Reject
                }
                Ok(tx) if &tx.tx.chain_id != self.verifier.chain_id() => {
                    debug!(peer = %from, chain = %tx.tx.chain_id, "gossiped transaction for another network");
                    Verdict::Reject
                }
                Ok(tx) => match self.verifier.verify_transaction(&tx) {
                    Err(err) => {
                        debug!(peer = %from, %err, "gossiped transaction badly signed");
                        Verdict::Reject
                    }
                    Ok(()) => return self.ask_host(from, id, tx),
                },
            }
        };
        self.report(&id, &from, verdict);
    }

    fn ask_host(&mut self, from: PeerId, id: MessageId, tx: SignedTransaction) {
        if self.verdicts.len() >= self.limits.inbound_txs {
            self.report(&id, &from, Verdict::Ignore);
            return;
        }
        let (verdict, answer) = oneshot::channel();
        if self
            .inbound
            .try_send(GossipedTx { tx, from, verdict })
            .is_err()
        {
            // The host is behind (or gone): drop it, nobody's fault.
            self.report(&id, &from, Verdict::Ignore);
            return;
        }
        self.verdicts.push(Box::pin(async move {
            let verdict = match tokio::time::timeout(VERDICT_WAIT, answer).await {
                Ok(Ok(verdict)) => verdict,
                _ => Verdict::Ignore,
            };
            (id, from, verdict)
        }));
    }

    /// A peer said who it is: if it speaks this network's Kademlia, a few
    /// of the addresses it listens on enter the routing table. A peer
    /// that does not (or lies about its addresses beyond the few) plants
    /// nothing other hosts would be handed.
    fn identified(&mut self, peer: PeerId, info: identify::Info) {
        if self.banned.contains(&peer) || !info.protocols.contains(&self.kad_protocol) {
            debug!(%peer, "a peer that does not speak this network's Kademlia stays out of the routing table");
            return;
        }
        let usable = info.listen_addrs.into_iter().filter(|address| {
            matches!(
                address.iter().next(),
                Some(
                    libp2p::multiaddr::Protocol::Ip4(_)
                        | libp2p::multiaddr::Protocol::Ip6(_)
                        | libp2p::multiaddr::Protocol::Dns(_)
                        | libp2p::multiaddr::Protocol::Dns4(_)
                        | libp2p::multiaddr::Protocol::Dns6(_)
                )
            )
        });
        let kad = &mut self.swarm.behaviour_mut().kad;
        for address in usable.take(MAX_ADDRESSES_PER_PEER) {
            kad.add_address(&peer, address);
        }
    }

    /// Another host's provider record or value: kept only if it names a
    /// content id (the only thing this network announces), within the
    /// hour's bounds per peer and in all. Values are never kept: this
    /// network stores none.
    fn kad_inbound(&mut self, request: kad::InboundRequest) {
        let kad::InboundRequest::AddProvider {
            record: Some(record),
        } = request
        else {
            return;
        };
        let (taken, per_peer, since) = &mut self.provided_by_others;
        if since.elapsed() >= Duration::from_secs(3_600) {
            *taken = 0;
            per_peer.clear();
            *since = tokio::time::Instant::now();
        }
        let peer = record.provider;
        if ContentId::from_bytes(record.key.as_ref()).is_err() {
            debug!(%peer, "a provider record for something that is not a content id was dropped");
            return;
        }
        let mine = per_peer.entry(peer).or_default();
        if *mine >= MAX_PROVIDED_BY_PEER_PER_HOUR || *taken >= MAX_PROVIDED_BY_OTHERS {
            debug!(%peer, "a provider record past the bounds was dropped");
            return;
        }
        if kad::store::RecordStore::add_provider(self.swarm.behaviour_mut().kad.store_mut(), record)
            .is_ok()
        {
            *mine += 1;
            *taken += 1;
        }
    }

    /// A gossiped transaction from `peer` was dropped without being wrong.
    /// A few of those are normal; a peer that keeps sending them lowers
    /// its score with each one past its allowance.
    fn ignored(&mut self, peer: PeerId) {
        let now = tokio::time::Instant::now();
        let (allowance, topped, penalty) = self.ignored.entry(peer).or_insert((
            Bucket::new(FREE_IGNORED_PER_SEC, FREE_IGNORED_BURST),
            now,
            0.0,
        ));
        allowance.refill((now - *topped).as_secs_f32());
        *topped = now;
        if allowance.take() {
            return;
        }
        *penalty += 1.0;
        let score = -*penalty;
        self.swarm
            .behaviour_mut()
            .gossip
            .set_application_score(&peer, score);
    }

    /// Halves every peer's penalty for dropped gossip, now and then, and
    /// forgets peers that have none.
    fn forgive(&mut self) {
        let gossip = &mut self.swarm.behaviour_mut().gossip;
        self.ignored.retain(|peer, (_, _, penalty)| {
            *penalty = (*penalty / 2.0).floor();
            gossip.set_application_score(peer, -*penalty);
            *penalty != 0.0
        });
    }

    fn report(&mut self, id: &MessageId, from: &PeerId, verdict: Verdict) {
        if verdict == Verdict::Stale {
            self.ignored(*from);
        }
        let acceptance = match verdict {
            Verdict::Accept => MessageAcceptance::Accept,
            Verdict::Ignore | Verdict::Stale => MessageAcceptance::Ignore,
            Verdict::Reject => MessageAcceptance::Reject,
        };
        self.swarm
            .behaviour_mut()
            .gossip
            .report_message_validation_result(id, from, acceptance);
    }

    fn files(&mut self, event: request_response::Event<FileRequest, FileResponse>) {
        match event {
            request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
                ..
            } => self.serve(peer, request, channel),
            request_response::Event::Message {
                message:
                    request_response::Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                if let Some(reply) = self.requests.remove(&request_id) {
                    let _ = reply.send(Ok(response));
                }
            }
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                if let Some(reply) = self.requests.remove(&request_id) {
                    let _ = reply.send(Err(HostError::Peer(format!(
                        "file request to {peer} failed: {error}"
                    ))));
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                debug!(%peer, %error, "file request from a peer failed");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    /// Answers a file request from the store, off the event loop; at most
    /// so many at once, and fewer for one peer.
    fn serve(
        &mut self,
        peer: PeerId,
        request: FileRequest,
        channel: ResponseChannel<FileResponse>,
    ) {
        let Some(store) = self.store.clone() else {
            let _ = self
                .swarm
                .behaviour_mut()
                .files
                .send_response(channel, FileResponse::Missing);
            return;
        };
        let mine = self.serving.get(&peer).copied().unwrap_or(0);
        if self.serving_total >= self.limits.serving || mine >= self.limits.serving_per_peer {
            let _ = self
                .swarm
                .behaviour_mut()
                .files
                .send_response(channel, FileResponse::Busy);
            return;
        }
        self.serving.insert(peer, mine + 1);
        self.serving_total += 1;
        let served = self.served.clone();
        tokio::task::spawn_blocking(move || {
            let response = answer(&store, &request);
            // Room is kept for every request being served.
            let _ = served.blocking_send((peer, channel, response));
        });
    }

    fn done_serving(&mut self, peer: PeerId) {
        self.serving_total = self.serving_total.saturating_sub(1);
        if let Some(count) = self.serving.get_mut(&peer) {
            *count -= 1;
            if *count == 0 {
                self.serving.remove(&peer);
            }
        }
    }
}

/// The store's answer to a file request: only whole blobs are offered.
fn answer(store: &BlobStore, request: &FileRequest) -> FileResponse {
    let complete = |blob: &ContentId| matches!(store.status(blob), Ok(BlobStatus::Complete));
    match request {
        FileRequest::Info(blob) if complete(blob) => match store.info(blob) {
            Ok(Some(info)) => FileResponse::Info(info),
            _ => FileResponse::Missing,
        },
        FileRequest::Piece { blob, index } if complete(blob) => match store.piece(blob, *index) {
            Ok(bytes) => FileResponse::Piece(bytes),
            Err(err) => {
                warn!(%blob, index, %err, "a stored piece could not be read");
                FileResponse::Missing
            }
        },
        _ => FileResponse::Missing,
    }
}

/// Why fetching from one peer failed.
enum Failure {
    /// The peer sent something false: drop it.
    Lied(&'static str, String),
    /// Anything else: try another.
    Failed(HostError),
}

impl PeerHandle {
    /// This host's peer id.
    pub fn id(&self) -> PeerId {
        self.id
    }

    /// The addresses it listened on at start, each ending in its peer id,
    /// ready to give to other hosts as a bootstrap address.
    pub fn addresses(&self) -> Vec<Multiaddr> {
        self.listening
            .iter()
            .map(|address| {
                address
                    .clone()
                    .with(libp2p::multiaddr::Protocol::P2p(self.id))
            })
            .collect()
    }

    async fn ask<T>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Result<T, HostError> {
        crate::node::ask(&self.commands, command).await
    }

    /// Gossips a transaction this host accepted. False when no peer
    /// listens for transactions (a host alone).
    pub async fn publish(&self, tx: &SignedTransaction) -> Result<bool, HostError> {
        let bytes = tx.to_bytes();
        self.ask(|reply| Command::Publish(bytes, reply)).await?
    }

    /// Connects to a host at `address`.
    pub async fn dial(&self, address: Multiaddr) -> Result<(), HostError> {
        self.ask(|reply| Command::Dial(address, reply)).await?
    }

    /// Where the network stands.
    pub async fn status(&self) -> Result<PeerStatus, HostError> {
        self.ask(Command::Status).await
    }

    /// The gossip score this host gives `peer`, if it is scored.
    pub async fn score(&self, peer: PeerId) -> Result<Option<f64>, HostError> {
        self.ask(|reply| Command::Score(peer, reply)).await
    }

    /// Announces that this host serves `blob`.
    pub async fn provide(&self, blob: ContentId) -> Result<(), HostError> {
        self.ask(|reply| Command::Provide(blob, reply)).await?
    }

    /// The hosts that announced `blob`.
    pub async fn providers(&self, blob: ContentId) -> Result<Vec<PeerId>, HostError> {
        self.ask(|reply| Command::Providers(blob, reply)).await
    }

    /// Asks `peer` for part of a file.
    pub async fn request(
        &self,
        peer: PeerId,
        request: FileRequest,
    ) -> Result<FileResponse, HostError> {
        self.ask(|reply| Command::Request(peer, request, reply))
            .await?
    }

    /// Drops `peer` and refuses it from now on.
    pub async fn ban(&self, peer: PeerId) -> Result<(), HostError> {
        self.ask(|reply| Command::Ban(peer, reply)).await
    }

    /// Fetches `blob` into the store from the hosts that provide it, unless
    /// it is there already.
    pub async fn fetch(&self, blob: ContentId) -> Result<(), HostError> {
        self.fetch_at_most(blob, u64::MAX).await
    }

    /// As [`PeerHandle::fetch`], but only a blob of at most `max_bytes`:
    /// a larger one is refused before any piece of it is asked for.
    pub async fn fetch_at_most(&self, blob: ContentId, max_bytes: u64) -> Result<(), HostError> {
        let store = self.store()?;
        if blocking(move || store.status(&blob)).await? == BlobStatus::Complete {
            return Ok(());
        }
        let providers = self.providers(blob).await?;
        self.fetch_limited(blob, &providers, max_bytes).await
    }

    /// Fetches `blob` into the store from the first of `peers` that has
    /// it. A peer that sends a false piece list or piece is dropped, and
    /// the next is asked.
    pub async fn fetch_from(&self, blob: ContentId, peers: &[PeerId]) -> Result<(), HostError> {
        self.fetch_limited(blob, peers, u64::MAX).await
    }

    async fn fetch_limited(
        &self,
        blob: ContentId,
        peers: &[PeerId],
        max_bytes: u64,
    ) -> Result<(), HostError> {
        let mut last = None;
        for peer in peers {
            match self.fetch_one(blob, *peer, max_bytes).await {
                Ok(()) => {
                    info!(%blob, %peer, "blob fetched");
                    return Ok(());
                }
                Err(Failure::Lied(what, reason)) => {
                    warn!(%blob, %peer, what, %reason, "peer sent a bad file");
                    self.ban(*peer).await?;
                    last = Some(
                        HostError::PeerLied {
                            peer: peer.to_string(),
                            what,
                            reason,
                        }
                        .to_string(),
                    );
                }
                Err(Failure::Failed(err)) => {
                    debug!(%blob, %peer, %err, "peer did not give the blob");
                    last = Some(err.to_string());
                }
            }
        }
        Err(HostError::NoProvider {
            blob: blob.to_string(),
            last,
        })
    }

    async fn fetch_one(
        &self,
        blob: ContentId,
        peer: PeerId,
        max_bytes: u64,
    ) -> Result<(), Failure> {
        let store = self.store().map_err(Failure::Failed)?;
        let info = match self
            .request(peer, FileRequest::Info(blob))
            .await
            .map_err(Failure::Failed)?
        {
            FileResponse::Info(info) if info.id == blob => info,
            FileResponse::Info(info) => {
                return Err(Failure::Lied(
                    "piece list",
                    format!("it is the list of {}, not {blob}", info.id),
                ));
            }
            FileResponse::Piece(_) => {
                return Err(Failure::Lied(
                    "piece list",
                    "a piece came for a piece list".into(),
                ));
            }
            FileResponse::Missing => {
                return Err(Failure::Failed(HostError::Peer(format!(
                    "{peer} does not have {blob}"
                ))));
            }
            FileResponse::Busy => {
                return Err(Failure::Failed(HostError::Peer(format!("{peer} is busy"))));
            }
        };
        info.check(&store.limits())
            .map_err(|err| Failure::Lied("piece list", err.to_string()))?;
        if info.size > max_bytes {
            return Err(Failure::Failed(HostError::Peer(format!(
                "{blob} is {} bytes, more than the {max_bytes} asked for",
                info.size
            ))));
        }
        let begun = Arc::clone(&store);
        blocking(move || begun.begin(&info))
            .await
            .map_err(Failure::Failed)?;
        let begun = Arc::clone(&store);
        let missing = blocking(move || begun.missing_pieces(&blob))
            .await
            .map_err(Failure::Failed)?;
        for index in missing {
            let bytes = match self
                .request(peer, FileRequest::Piece { blob, index })
                .await
                .map_err(Failure::Failed)?
            {
                FileResponse::Piece(bytes) => bytes,
                FileResponse::Info(_) => {
                    return Err(Failure::Lied(
                        "piece",
                        "a piece list came for a piece".into(),
                    ));
                }
                FileResponse::Missing | FileResponse::Busy => {
                    return Err(Failure::Failed(HostError::Peer(format!(
                        "{peer} did not give piece {index} of {blob}"
                    ))));
                }
            };
            let put = Arc::clone(&store);
            match tokio::task::spawn_blocking(move || put.put_piece(&blob, index, &bytes)).await {
                Ok(Ok(_)) => {}
                Ok(Err(
                    err @ (AssetError::PieceMismatch { .. }
                    | AssetError::PieceLength { .. }
                    | AssetError::NoSuchPiece { .. }),
                )) => return Err(Failure::Lied("piece", err.to_string())),
                Ok(Err(err)) => return Err(Failure::Failed(err.into())),
                Err(_) => return Err(Failure::Failed(HostError::Stopped)),
            }
        }
        Ok(())
    }

    fn store(&self) -> Result<Arc<BlobStore>, HostError> {
        self.store
            .clone()
            .ok_or_else(|| HostError::Peer("this host keeps no files".into()))
    }
}

/// Runs a blob store call off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, AssetError> + Send + 'static,
) -> Result<T, HostError> {
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|_| HostError::Stopped)?
        .map_err(HostError::from)
}
