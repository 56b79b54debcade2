//! The event loop: the one task that owns the swarm, answers commands,
//! checks gossip, serves and fetches files, and keeps peers' scores.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use assets::{BlobStatus, BlobStore, ContentId};
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

use super::calls::host_of_peer;
use super::files::{FileRequest, FileResponse};
use super::handle::{Command, Reply};
use super::{
    BOOTSTRAP_EVERY, CALL_BURST, CALLS_PER_SEC, FREE_IGNORED_BURST, FREE_IGNORED_PER_SEC,
    GossipedTx, MAX_ADDRESSES_PER_PEER, MAX_CALLS_WAITING, MAX_PROVIDED_BY_OTHERS,
    MAX_PROVIDED_BY_PEER_PER_HOUR, PeerLimits, PeerStatus, VERDICT_WAIT, Verdict,
};
use crate::calls::{CallAnswer, HostCall, InCall};
use crate::error::HostError;
use crate::presence::{Presence, SignedPresence};
use crate::rate::Bucket;
use plaza_client::protocol::ErrorCode;

use super::swarm::{Behaviour, BehaviourEvent, peer_of};

pub(super) type VerdictWait = Pin<Box<dyn Future<Output = (MessageId, PeerId, Verdict)> + Send>>;

pub(super) type Served = (PeerId, ResponseChannel<FileResponse>, FileResponse);

/// A call from another host waiting for the session server's answer.
pub(super) type Answering =
    Pin<Box<dyn Future<Output = (PeerId, ResponseChannel<CallAnswer>, CallAnswer)> + Send>>;

/// Hosts whose presence was heard that may call, at most; past it, the
/// one heard from longest ago is forgotten.
const MAX_CALLERS: usize = 1_024;

/// How long a call from another host waits for the session server's
/// answer: well inside the caller's own timeout, so that the caller hears
/// "could not answer" rather than nothing.
const ANSWER_WAIT: Duration = Duration::from_secs(7);

/// A host that may call: one whose signed presence this host heard.
pub(super) struct Caller {
    /// When its presence was last heard.
    heard: tokio::time::Instant,
    /// The calls it may still make, and when last topped up.
    allowance: (Bucket, tokio::time::Instant),
}

pub(super) struct EventLoop {
    pub(super) swarm: Swarm<Behaviour>,
    pub(super) topic: IdentTopic,
    /// The presence topic, and where checked presence goes once the host
    /// follows it.
    pub(super) presence: (IdentTopic, Option<mpsc::Sender<Presence>>),
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
                    .map_err(|err| HostError::peer(format!("cannot announce {blob}: {err:?}")));
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
            SwarmEvent::ConnectionClosed { peer_id, cause, .. } => {
                debug!(peer = %peer_id, ?cause, "disconnected");
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

    /// Another host's provider record or value: kept only if it names a
    /// content id (the only thing this network announces), within the
    /// hour's bounds per peer and in all. Values are never kept: this
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
        match SignedPresence::verified(data, self.verifier.chain_id()) {
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

    pub(super) fn files(&mut self, event: request_response::Event<FileRequest, FileResponse>) {
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
                    let _ = reply.send(Err(HostError::peer(format!(
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

    pub(super) fn calls(&mut self, event: request_response::Event<HostCall, CallAnswer>) {
        match event {
            request_response::Event::Message {
                peer,
                message:
                    request_response::Message::Request {
                        request, channel, ..
                    },
                ..
            } => self.called(peer, request, channel),
            request_response::Event::Message {
                message:
                    request_response::Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                if let Some(answer) = self.calls.remove(&request_id) {
                    let _ = answer.send(Ok(response));
                }
            }
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                if let Some(answer) = self.calls.remove(&request_id) {
                    let _ = answer.send(Err(format!("the call to {peer} failed: {error}")));
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                debug!(%peer, %error, "a call from a peer failed");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    /// A call from `peer`: handed to the session server if the peer is a
    /// host, within its rate and there is room; answered "busy" or why
    /// not otherwise. An answer not given in [`ANSWER_WAIT`] is "the
    /// host could not answer".
    pub(super) fn called(
        &mut self,
        peer: PeerId,
        call: HostCall,
        channel: ResponseChannel<CallAnswer>,
    ) {
        let sessions = self.called.clone();
        let host = host_of_peer(&peer);
        let known = host.is_some_and(|host| self.callers.contains_key(&host));
        let refusal = match (host, sessions) {
            (None, _) => Some(CallAnswer::refused(
                ErrorCode::Malformed,
                "the caller's peer id names no host key",
            )),
            (Some(_), None) => Some(CallAnswer::refused(
                ErrorCode::Unavailable,
                "this host takes no calls",
            )),
            (Some(_), Some(_)) if !known => Some(CallAnswer::refused(
                ErrorCode::NotFound,
                "this host has heard no presence of yours",
            )),
            (Some(host), Some(_)) if !self.may_call(&host) => Some(CallAnswer::refused(
                ErrorCode::Busy,
                format!("more than {CALLS_PER_SEC} calls a second"),
            )),
            (Some(_), Some(_)) if self.answering.len() >= MAX_CALLS_WAITING => Some(
                CallAnswer::refused(ErrorCode::Busy, "too many calls waiting"),
            ),
            (Some(host), Some(sessions)) => {
                let (answer, answered) = oneshot::channel();
                match sessions.try_send(InCall { host, call, answer }) {
                    Ok(()) => {
                        self.answering.push(Box::pin(async move {
                            let answer = match tokio::time::timeout(ANSWER_WAIT, answered).await {
                                Ok(Ok(answer)) => answer,
                                _ => CallAnswer::refused(
                                    ErrorCode::Unavailable,
                                    "the host could not answer",
                                ),
                            };
                            (peer, channel, answer)
                        }));
                        return;
                    }
                    Err(_) => Some(CallAnswer::refused(
                        ErrorCode::Busy,
                        "too many calls waiting",
                    )),
                }
            }
        };
        if let Some(refusal) = refusal
            && self
                .swarm
                .behaviour_mut()
                .calls
                .send_response(channel, refusal)
                .is_err()
        {
            debug!(%peer, "a call closed before its answer");
        }
    }

    /// `host`'s signed presence was heard: it may call (the host heard
    /// from longest ago is forgotten to make room).
    fn heard_host(&mut self, host: ledger::Address) {
        let now = tokio::time::Instant::now();
        if let Some(caller) = self.callers.get_mut(&host) {
            caller.heard = now;
            return;
        }
        if self.callers.len() >= MAX_CALLERS {
            let oldest = self
                .callers
                .iter()
                .min_by_key(|(_, caller)| caller.heard)
                .map(|(host, _)| *host);
            if let Some(oldest) = oldest {
                self.callers.remove(&oldest);
            }
        }
        self.callers.insert(
            host,
            Caller {
                heard: now,
                allowance: (Bucket::new(CALLS_PER_SEC, CALL_BURST), now),
            },
        );
    }

    /// Takes one call from `host`'s allowance, if it may call and any is
    /// left.
    fn may_call(&mut self, host: &ledger::Address) -> bool {
        let now = tokio::time::Instant::now();
        let Some(caller) = self.callers.get_mut(host) else {
            return false;
        };
        let (bucket, topped) = &mut caller.allowance;
        bucket.refill(now.duration_since(*topped).as_secs_f32());
        *topped = now;
        bucket.take()
    }

    /// Answers a file request from the store, off the event loop; at most
    /// so many at once, and fewer for one peer.
    pub(super) fn serve(
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

    pub(super) fn done_serving(&mut self, peer: PeerId) {
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
pub(super) fn answer(store: &BlobStore, request: &FileRequest) -> FileResponse {
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
pub(super) enum Failure {
    /// The peer sent something false: drop it.
    Lied(&'static str, String),
    /// Anything else: try another.
    Failed(HostError),
}
