//! Building the swarm: the host's libp2p identity, its transports and
//! behaviours, the gossip topic, and listening.

use std::time::Duration;

use futures::StreamExt;
use ledger::ChainId;
use libp2p::gossipsub::{
    self, IdentTopic, MessageAuthenticity, MessageId, PeerScoreParams, PeerScoreThresholds,
    TopicScoreParams, ValidationMode,
};
use libp2p::identity::Keypair;
use libp2p::kad::store::{MemoryStore, MemoryStoreConfig};
use libp2p::kad::{self};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{
    Multiaddr, PeerId, StreamProtocol, Swarm, allow_block_list, connection_limits, identify, mdns,
    noise, ping, tcp, yamux,
};
use tracing::warn;

use super::calls::CallCodec;
use super::files::FileCodec;
use super::{
    CALL_TIMEOUT, IDLE_CONNECTION, LISTEN_WAIT, MAX_CALLS_WAITING, MAX_GOSSIP_BYTES, MAX_PROVIDED,
    PROVIDER_RECORD_TTL, PROVIDER_REPUBLISH, PeerConfig, files,
};
use crate::error::HostError;

/// The network's libp2p identity from a host's 32-byte ed25519 secret.
pub fn identity(secret: [u8; 32]) -> Result<Keypair, HostError> {
    let mut secret = secret;
    Keypair::ed25519_from_bytes(&mut secret)
        .map_err(|err| HostError::peer(format!("the host key is not an ed25519 key: {err}")))
}

/// The name of the file protocol on network `chain`: hosts of different
/// networks do not exchange files.
pub fn file_protocol(chain: &ChainId) -> Result<StreamProtocol, HostError> {
    files::protocol(chain.as_str()).map_err(HostError::peer)
}

/// The peer id an address ends in.
pub fn peer_of(address: &Multiaddr) -> Option<PeerId> {
    address.iter().last().and_then(|part| match part {
        libp2p::multiaddr::Protocol::P2p(peer) => Some(peer),
        _ => None,
    })
}

/// The network's Kademlia protocol: provider records keyed by multihash.
pub(super) fn kad_protocol(network: &str) -> Result<StreamProtocol, HostError> {
    StreamProtocol::try_from_owned(format!("/plaza/{network}/kad/2"))
        .map_err(|err| HostError::peer(format!("Kademlia protocol name: {err}")))
}

/// What this host calls itself to peers (identify's agent version).
pub(super) fn agent_version() -> String {
    format!("plaza-host/{}", env!("CARGO_PKG_VERSION"))
}

pub(super) fn build_swarm(
    key: Keypair,
    network: &str,
    config: &PeerConfig,
) -> Result<Swarm<Behaviour>, HostError> {
    let failed =
        |what: &str, err: &dyn std::fmt::Display| HostError::peer(format!("{what}: {err}"));
    let kad_protocol = kad_protocol(network)?;
    let files_protocol = files::protocol(network).map_err(HostError::peer)?;
    let calls_protocol = super::calls::protocol(network).map_err(HostError::peer)?;
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
                identify: identify::Behaviour::new(
                    identify::Config::new(identify_version, key.public())
                        .with_agent_version(agent_version()),
                ),
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
                calls: request_response::Behaviour::with_codec(
                    CallCodec,
                    [(calls_protocol, ProtocolSupport::Full)],
                    request_response::Config::default()
                        .with_request_timeout(CALL_TIMEOUT)
                        .with_max_concurrent_streams(MAX_CALLS_WAITING),
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
pub(super) fn gossip(network: &str) -> Result<gossipsub::Behaviour, String> {
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
    // Presence that fails its checks counts against the peer that passed
    // it on, as a bad transaction does.
    params.topics.insert(
        IdentTopic::new(format!("/plaza/{network}/presence/4")).hash(),
        TopicScoreParams {
            topic_weight: 1.0,
            mesh_message_deliveries_weight: 0.0,
            mesh_failure_penalty_weight: 0.0,
            first_message_deliveries_weight: 0.0,
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

pub(super) async fn wait_for_listeners(
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
                HostError::peer(format!(
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
                return Err(HostError::peer(format!("listener failed: {error}")));
            }
            _ => {}
        }
    }
    if listening.is_empty() {
        return Err(HostError::peer("no listener came up"));
    }
    Ok(listening)
}

#[derive(NetworkBehaviour)]
pub(super) struct Behaviour {
    pub(super) blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    pub(super) limits: connection_limits::Behaviour,
    pub(super) identify: identify::Behaviour,
    pub(super) ping: ping::Behaviour,
    pub(super) kad: kad::Behaviour<MemoryStore>,
    pub(super) mdns: Toggle<mdns::tokio::Behaviour>,
    pub(super) gossip: gossipsub::Behaviour,
    pub(super) files: request_response::Behaviour<FileCodec>,
    pub(super) calls: request_response::Behaviour<CallCodec>,
}
