//! The event loop: the one task that owns the swarm, answers commands,
//! checks gossip, serves and fetches files, and keeps peers' scores.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use assets::{BlobStore, ContentId};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use ledger::{SignedTransaction, Verifier};
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance, MessageId, PublishError};
use libp2p::kad::{self, GetProvidersOk, QueryResult, RecordKey};
use libp2p::request_response::{self, OutboundRequestId, ResponseChannel};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, StreamProtocol, Swarm, identify, mdns};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use super::calls::{Answering, Caller};
use super::files::{FileResponse, Served};
use super::handle::{Command, Reply};
use super::{
    BOOTSTRAP_EVERY, FREE_IGNORED_BURST, FREE_IGNORED_PER_SEC, GossipedTx, MAX_ADDRESSES_PER_PEER,
    MAX_PROVIDED_BY_OTHERS, MAX_PROVIDED_BY_PEER_PER_HOUR, PeerLimits, PeerStatus, VERDICT_WAIT,
    Verdict,
};
use crate::calls::{CallAnswer, InCall};
use crate::error::HostError;
use crate::presence::{PassCache, Presence, SignedPresence};
use crate::rate::Bucket;

use super::swarm::{Behaviour, BehaviourEvent, peer_of};

pub(super) type VerdictWait = Pin<Box<dyn Future<Output = (MessageId, PeerId, Verdict)> + Send>>;

/// The longest agent version kept of a peer.
const MAX_AGENT_CHARS: usize = 96;

pub(super) struct EventLoop {
    pub(super) swarm: Swarm<Behaviour>,
    pub(super) topic: IdentTopic,
    /// The presence topic, and where checked presence goes once the host
    /// follows it.
    pub(super) presence: (IdentTopic, Option<mpsc::Sender<Presence>>),
    /// Players' passes in presence found good.
    pub(super) passes: PassCache,
    pub(super) verifier: Verifier,
    pub(super) inbound: mpsc::Sender<GossipedTx>,
    pub(super) verdicts: FuturesUnordered<VerdictWait>,
    pub(super) providers: HashMap<kad::QueryId, (HashSet<PeerId>, Reply<Vec<PeerId>>)>,
    pub(super) requests: HashMap<OutboundRequestId, Reply<Result<FileResponse, HostError>>>,
    pub(super) serving: HashMap<PeerId, usize>,
    pub(super) serving_total: usize,
    pub(super) served: mpsc::Sender<Served>,
    pub(super) store: Option<Arc<BlobStore>>,
    pub(super) limits: PeerLimits,
    pub(super) banned: HashSet<PeerId>,
    pub(super) listening: Vec<Multiaddr>,
    /// What each connected peer calls itself (identify's agent version,
    /// cut to [`MAX_AGENT_CHARS`]).
    pub(super) agents: HashMap<PeerId, String>,
    /// This network's Kademlia protocol.
    pub(super) kad_protocol: StreamProtocol,
    /// Others' provider records taken this hour: in all, per peer, and
    /// when the hour began.
    pub(super) provided_by_others: (usize, HashMap<PeerId, usize>, tokio::time::Instant),
    /// Per peer: the allowance of dropped gossip left, when it was last
    /// topped up, and the penalty earned beyond it.
    pub(super) ignored: HashMap<PeerId, (Bucket, tokio::time::Instant, f64)>,
    /// Calls made to other hosts, waiting for their answers.
    pub(super) calls: HashMap<OutboundRequestId, Reply<Result<CallAnswer, String>>>,
    /// Where calls from other hosts go, once the session server takes
    /// them.
    pub(super) called: Option<mpsc::Sender<InCall>>,
    /// Calls from other hosts waiting for their answers.
    pub(super) answering: FuturesUnordered<Answering>,
    /// The hosts that may call, by key: those whose presence was heard.
    pub(super) callers: HashMap<ledger::Address, Caller>,
}

impl EventLoop {
    pub(super) async fn run(
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
                Some((peer, channel, answer)) = self.answering.next(), if !self.answering.is_empty() => {
                    if self.swarm.behaviour_mut().calls.send_response(channel, answer).is_err() {
                        debug!(%peer, "a call closed before its answer");
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

    pub(super) fn command(&mut self, command: Command) {
        match command {
            Command::Publish(bytes, reply) => {
                let topic = self.topic.clone();
                let result = match self.swarm.behaviour_mut().gossip.publish(topic, bytes) {
                    Ok(_) | Err(PublishError::Duplicate) => Ok(true),
                    Err(PublishError::NoPeersSubscribedToTopic) => Ok(false),
                    Err(err) => Err(HostError::peer(format!("cannot gossip: {err}"))),
                };
                let _ = reply.send(result);
            }
            Command::PublishPresence(bytes) => {
                let topic = self.presence.0.clone();
                match self.swarm.behaviour_mut().gossip.publish(topic, bytes) {
                    Ok(_)
                    | Err(PublishError::Duplicate | PublishError::NoPeersSubscribedToTopic) => {}
                    Err(err) => debug!(%err, "presence could not be published"),
                }
            }
            Command::FollowPresence(sender, reply) => {
                let topic = self.presence.0.clone();
                let result = self
                    .swarm
                    .behaviour_mut()
                    .gossip
                    .subscribe(&topic)
                    .map(|_| ())
                    .map_err(|err| HostError::peer(format!("cannot subscribe to {topic}: {err}")));
                if result.is_ok() {
                    self.presence.1 = Some(sender);
                }
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
                    .map_err(|err| HostError::peer(format!("cannot dial {address}: {err}")));
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
                    agents: self
                        .agents
                        .iter()
                        .map(|(peer, agent)| (*peer, agent.clone()))
                        .collect(),
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
                    .start_providing(RecordKey::new(&blob.multihash()))
                    .map(|_| ())
                    .map_err(|err| HostError::peer(format!("cannot announce {blob}: {err:?}")));
                let _ = reply.send(result);
            }
            Command::Providers(blob, reply) => {
                let query = self
                    .swarm
                    .behaviour_mut()
                    .kad
                    .get_providers(RecordKey::new(&blob.multihash()));
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
            Command::Call(call) => match super::calls::peer_of_host(&call.host) {
                Some(peer) => {
                    let id = self
                        .swarm
                        .behaviour_mut()
                        .calls
                        .send_request(&peer, call.call);
                    self.calls.insert(id, call.answer);
                }
                None => {
                    let _ = call
                        .answer
                        .send(Err(format!("{} is not a host's key", call.host)));
                }
            },
            Command::FollowCalls(sessions, reply) => {
                self.called = Some(sessions);
                let _ = reply.send(());
            }
            Command::Ban(peer, reply) => {
                self.ban(peer);
                let _ = reply.send(());
            }
        }
    }

    pub(super) fn ban(&mut self, peer: PeerId) {
        warn!(%peer, "peer dropped for misbehaving");
        self.banned.insert(peer);
        let behaviour = self.swarm.behaviour_mut();
        behaviour.blocked.block_peer(peer);
        behaviour.gossip.blacklist_peer(&peer);
        behaviour.kad.remove_peer(&peer);
    }

    pub(super) fn event(&mut self, event: SwarmEvent<BehaviourEvent>) {
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
            SwarmEvent::ConnectionClosed {
                peer_id,
                cause,
                num_established,
                ..
            } => {
                debug!(peer = %peer_id, ?cause, "disconnected");
                if num_established == 0 {
                    self.agents.remove(&peer_id);
                }
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                debug!(peer = ?peer_id, %error, "could not connect");
            }
            _ => {}
        }
    }

    pub(super) fn behaviour(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. }) => {
                if self.swarm.is_connected(&peer_id) {
                    let agent: String = info.agent_version.chars().take(MAX_AGENT_CHARS).collect();
                    self.agents.insert(peer_id, agent);
                }
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
            BehaviourEvent::Calls(event) => self.calls(event),
            _ => {}
        }
    }

    pub(super) fn query_progressed(&mut self, id: kad::QueryId, result: QueryResult, last: bool) {
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
    pub(super) fn gossiped(&mut self, from: PeerId, id: MessageId, message: gossipsub::Message) {
        if message.topic == self.presence.0.hash() {
            let verdict = self.presence_gossiped(&from, &message.data);
            self.report(&id, &from, verdict);
            return;
        }
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

    pub(super) fn ask_host(&mut self, from: PeerId, id: MessageId, tx: SignedTransaction) {
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
    pub(super) fn identified(&mut self, peer: PeerId, info: identify::Info) {
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

    /// Another host's provider record or value: kept only if it is keyed by
    /// a blake3 multihash (content is announced as IPFS announces it, by
    /// the multihash rather than the whole CID, and nothing else is), within
    /// the hour's bounds per peer and in all. Values are never kept: this
    /// network stores none.
    pub(super) fn kad_inbound(&mut self, request: kad::InboundRequest) {
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
        if !ContentId::is_multihash(record.key.as_ref()) {
            debug!(%peer, "a provider record for something that is not a blake3 multihash was dropped");
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
    pub(super) fn ignored(&mut self, peer: PeerId) {
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
    pub(super) fn forgive(&mut self) {
        let gossip = &mut self.swarm.behaviour_mut().gossip;
        self.ignored.retain(|peer, (_, _, penalty)| {
            *penalty = (*penalty / 2.0).floor();
            gossip.set_application_score(peer, -*penalty);
            *penalty != 0.0
        });
    }

    /// Checks a presence message (bounded, decoded, for this network,
    /// signed by the host it names) and hands it to the sessions: a bad
    /// one is rejected, which lowers the score of the peer that passed it
    /// on; a good one is passed on to other peers.
    fn presence_gossiped(&mut self, from: &PeerId, data: &[u8]) -> Verdict {
        let Some(sessions) = self.presence.1.clone() else {
            return Verdict::Ignore;
        };
        match SignedPresence::verified_with(data, self.verifier.chain_id(), &mut self.passes) {
            Ok(presence) => {
                self.heard_host(presence.host);
                if sessions.try_send(presence).is_err() {
                    debug!("presence waiting for the sessions is full: dropped");
                }
                Verdict::Accept
            }
            Err(err) => {
                debug!(peer = %from, %err, "presence refused");
                Verdict::Reject
            }
        }
    }

    pub(super) fn report(&mut self, id: &MessageId, from: &PeerId, verdict: Verdict) {
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
}

/// One request-response event, as the file and call protocols both take
/// it: a peer asks, or an answer (or the failure to get one) comes back.
pub(super) enum Exchange<Request, Response> {
    /// A peer asks; the answer goes back on the channel.
    Asked(PeerId, Request, ResponseChannel<Response>),
    /// A request of ours is answered, or failed with why.
    Answered(OutboundRequestId, Result<Response, String>),
}

impl<Request, Response> Exchange<Request, Response> {
    /// The exchange an event is, if any (an inbound failure is logged as
    /// `what` and is none).
    pub(super) fn of(
        event: request_response::Event<Request, Response>,
        what: &str,
    ) -> Option<Self> {
        match event {
            request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
                ..
            } => Some(Exchange::Asked(peer, request, channel)),
            request_response::Event::Message {
                message:
                    request_response::Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => Some(Exchange::Answered(request_id, Ok(response))),
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => Some(Exchange::Answered(
                request_id,
                Err(format!("the {what} to {peer} failed: {error}")),
            )),
            request_response::Event::InboundFailure { peer, error, .. } => {
                debug!(%peer, %error, "a {what} from a peer failed");
                None
            }
            request_response::Event::ResponseSent { .. } => None,
        }
    }
}

/// Why fetching from one peer failed.
pub(super) enum Failure {
    /// The peer sent something false: drop it.
    Lied(&'static str, String),
    /// Anything else: try another.
    Failed(HostError),
}
