//! The BFT engine: the malachite engine orders the host's blocks.
//!
//! [`Bft`] runs malachite beside the host (on its own libp2p port) and
//! answers what it asks through the host's block seam: on its turn the
//! host proposes a block from its mempool and streams it in parts; parts
//! from others are reassembled, their proposer's signature checked and the
//! block checked against the ledger before the engine may vote for it; a
//! finalized block is committed with its commit certificate, and the next
//! height starts with the validators the ledger names.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use ledger::{Block, ChainId, Keypair};
use malachitebft_app_channel::app::config::{
    ConsensusConfig, NodeConfig, P2pConfig, ValueSyncConfig,
};
use malachitebft_app_channel::app::engine::host::{HeightParams, Next, SyncedValueOutcome};
use malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use malachitebft_app_channel::app::types::codec::Codec;
use malachitebft_app_channel::app::types::sync::RawDecidedValue;
use malachitebft_app_channel::app::types::{LocallyProposedValue, PeerId, ProposedValue};
use malachitebft_app_channel::{
    AppMsg, ConsensusContext, NetworkContext, NetworkIdentity, NetworkMsg, RequestContext,
    SyncContext, WalContext,
};
use malachitebft_core_types::{
    CommitCertificate, ExtendedCommitCertificate, Height as _, LinearTimeouts, Round,
    Validator as _, Validity, VoteExtensions,
};
use malachitebft_signing::Signer;
use tokio::sync::{mpsc, watch};
use tracing::{debug, error, info, warn};

use super::catch_up::CatchUp;
use super::codec::{MAX_PART_BYTES, PlazaCodec, decode_certificate, encode_certificate};
use super::context::{BlockHash, ChainHeight, Plaza, ProposalPart, ValidatorAddress, ValidatorSet};
use super::proposals::ProposalLog;
use super::settings::{BftSettings, Faults, spoilt};
use super::signed::SignedLog;
use super::signing::{PlazaSigner, PlazaVerifier, init_bytes, parts_bytes, signed_by};
use super::slashing::report;
use super::streams::{Streams, Whole};
use super::wal_check;
use crate::engine::{Engine, EngineRun};
use crate::error::HostError;
use crate::node::HostHandle;

/// Blocks kept for the next height, and proposals kept for this one.
const MAX_KEPT: usize = 32;
/// How far a new proposal's time may be from this host's clock, either
/// way: a validator whose clock is further off has its proposals refused
/// (and is named in the log). A block proposed again in a later round
/// (one with a polka) keeps its time, and is only held to not being
/// ahead.
pub const MAX_CLOCK_SKEW_SECS: u64 = 30;
/// Least time between the last block and a proposal.
const MIN_BLOCK_INTERVAL: Duration = Duration::from_millis(50);
/// Longest a proposer waits for something to put in a block.
const EMPTY_BLOCK_INTERVAL: Duration = Duration::from_millis(1_000);

/// The engine of a network of validators.
pub struct Bft(pub BftSettings);

struct Config {
    moniker: String,
    consensus: ConsensusConfig,
    value_sync: ValueSyncConfig,
}

impl NodeConfig for Config {
    fn moniker(&self) -> &str {
        &self.moniker
    }

    fn consensus(&self) -> &ConsensusConfig {
        &self.consensus
    }

    fn consensus_mut(&mut self) -> &mut ConsensusConfig {
        &mut self.consensus
    }

    fn value_sync(&self) -> &ValueSyncConfig {
        &self.value_sync
    }

    fn value_sync_mut(&mut self) -> &mut ValueSyncConfig {
        &mut self.value_sync
    }
}

impl Engine for Bft {
    fn run(self: Box<Self>, host: HostHandle, stop: watch::Receiver<bool>) -> EngineRun {
        Box::pin(run(self.0, host, stop))
    }
}

fn failed(what: &str, err: impl std::fmt::Display) -> HostError {
    HostError::Consensus(format!("{what}: {err}"))
}

async fn run(
    settings: BftSettings,
    host: HostHandle,
    mut stop: watch::Receiver<bool>,
) -> Result<(), HostError> {
    let me = ValidatorAddress(Keypair::from_seed(settings.seed).address());
    let signer = PlazaSigner::new(settings.seed, settings.chain.clone());
    let keypair = crate::peers::identity(settings.node_key)?;
    let peer = keypair.public().to_peer_id().to_bytes();
    // Every host can sign: the engine takes part in a height only when the
    // ledger names this host among that height's validators, so a host
    // that stakes starts voting when its stake is in force and one that
    // unstakes stops, without a restart. Until then it follows the chain
    // and takes decided blocks from the others.
    let validator = host
        .validators()
        .await?
        .iter()
        .any(|validator| validator.address == me.0);
    let proof = signer
        .sign_validator_proof(
            signer.public_key().as_bytes().to_vec(),
            keypair.public().to_peer_id().to_bytes(),
        )
        .await
        .map_err(|err| failed("signing the validator proof", err))?;
    let proof = PlazaCodec.encode(&proof)?;
    let identity =
        NetworkIdentity::new_validator(settings.moniker.clone(), keypair, me.to_string(), proof);
    let verifier = Box::new(PlazaVerifier::new(settings.chain.clone()));
    let consensus = ConsensusContext::new_validator(
        me,
        verifier,
        Box::new(PlazaSigner::guarded(
            settings.seed,
            settings.chain.clone(),
            SignedLog::open(&settings.wal.with_extension("signed"))?,
        )),
    );
    let config = Config {
        moniker: settings.moniker.clone(),
        consensus: ConsensusConfig {
            p2p: P2pConfig {
                listen_addr: settings.listen.clone(),
                persistent_peers: settings.peers.clone(),
                ..P2pConfig::default()
            },
            ..ConsensusConfig::default()
        },
        value_sync: ValueSyncConfig::default(),
    };
    let log = ProposalLog::open(&settings.wal.with_extension("proposals"))?;
    wal_check::check(&settings.wal)?;
    let (mut channels, engine) = malachitebft_app_channel::start_engine(
        Plaza,
        config,
        WalContext::new(settings.wal.clone(), PlazaCodec),
        NetworkContext::new(identity, PlazaCodec),
        consensus,
        SyncContext::new(PlazaCodec),
        RequestContext::new(100),
    )
    .await
    .map_err(|err| failed("starting the consensus engine", err))?;
    info!(address = %me, validator, listen = %settings.listen, "consensus started");
    let mut app = App {
        host,
        peer,
        broken: None,
        faults: settings.faults,
        key: Keypair::from_seed(settings.seed),
        chain: settings.chain,
        me,
        signer,
        timeouts: settings.timeouts,
        network: channels.network.clone(),
        height: ChainHeight(0),
        blocks: HashMap::new(),
        proposed: Vec::new(),
        waiting: Vec::new(),
        streams: Streams::default(),
        last_block: tokio::time::Instant::now(),
        validators: None,
        next_validators: None,
        log,
        history_min: None,
        catch_up: CatchUp::new(std::time::Instant::now()),
    };
    // A host that starts answers players "catching up" until it is at the
    // network's tip.
    app.host.set_current(false);
    let mut check = tokio::time::interval(Duration::from_millis(250));
    let result = loop {
        tokio::select! {
            message = channels.consensus.recv() => match message {
                Some(message) => match app.handle(message).await {
                    Ok(()) => {}
                    Err(_) if app.broken.is_some() => {
                        break Err(app.broken.take().unwrap_or(HostError::Stopped));
                    }
                    // The host is gone: nothing to take part for.
                    Err(HostError::Stopped) => break Err(HostError::Stopped),
                    // Nothing a peer sends, and no one message, ends the
                    // loop: the engine's round timeouts and value sync
                    // take it on from here.
                    Err(err) => warn!(%err, "a consensus step failed; consensus goes on"),
                },
                None => break Err(HostError::Consensus("the consensus engine stopped".into())),
            },
            _ = check.tick() => app.check_current(),
            _ = stop.changed() => break Ok(()),
        }
    };
    engine.actor.stop(None);
    let _ = engine.handle.await;
    result
}

/// A block received for a height not reached yet.
struct Waiting {
    value: ProposedValue<Plaza>,
    block: Block,
}

struct App {
    host: HostHandle,
    /// This node's peer id on the consensus network, which its proposal
    /// streams are bound to.
    peer: Vec<u8>,
    faults: Faults,
    /// Set when this host cannot go on taking part (its store failed a
    /// decided block): the loop ends with it.
    broken: Option<HostError>,
    /// The validator's key, which signs its reports of equivocation.
    key: Keypair,
    chain: ChainId,
    me: ValidatorAddress,
    signer: PlazaSigner,
    timeouts: LinearTimeouts,
    network: mpsc::Sender<NetworkMsg<Plaza>>,
    height: ChainHeight,
    /// Blocks proposed or received, by hash, until one is committed.
    blocks: HashMap<BlockHash, Block>,
    /// Values proposed or received for the current height.
    proposed: Vec<ProposedValue<Plaza>>,
    /// Blocks for later heights, checked when their height starts.
    waiting: Vec<Waiting>,
    streams: Streams,
    /// When this host last committed a block.
    last_block: tokio::time::Instant,
    /// The validators of the current height.
    validators: Option<ValidatorSet>,
    /// The validators of the height after it.
    next_validators: Option<ValidatorSet>,
    /// This validator's proposals, on disk.
    log: ProposalLog,
    /// The first height with a commit certificate, once known.
    history_min: Option<ChainHeight>,
    /// Whether this host is at the network's tip yet.
    catch_up: CatchUp,
}

impl App {
    /// Tells the host whether it is at the network's tip.
    fn check_current(&mut self) {
        let head = self.host.backlog().borrow().time;
        let clock = self.host.now();
        let current = self
            .catch_up
            .is_current(head, clock, std::time::Instant::now());
        self.host.set_current(current);
    }

    async fn handle(&mut self, message: AppMsg<Plaza>) -> Result<(), HostError> {
        match message {
            AppMsg::ConsensusReady { reply } => {
                let height = ChainHeight(self.host.status().await?.height + 1);
                self.height = height;
                let _ = reply.send((height, self.params(height).await?));
            }
            AppMsg::StartedRound {
                height,
                round,
                reply_value,
                ..
            } => {
                self.height = height;
                self.streams.started_round(height, round);
                self.check_waiting().await;
                let values = self
                    .proposed
                    .iter()
                    .filter(|value| value.height == height && value.round == round)
                    .cloned()
                    .collect();
                let _ = reply_value.send(values);
            }
            AppMsg::GetValue {
                height,
                round,
                timeout,
                reply,
            } => match self.propose(height, round, timeout).await {
                Ok(value) => {
                    let _ = reply.send(LocallyProposedValue::new(height, round, value));
                }
                // Proposing nothing is safe: the round times out and the
                // next proposer's turn comes.
                Err(err) => warn!(%height, %round, %err, "no proposal this round"),
            },
            AppMsg::ExtendVote { reply, .. } => {
                let _ = reply.send(None);
            }
            AppMsg::VerifyVoteExtensions {
                extensions, reply, ..
            } => {
                let _ = reply.send(
                    extensions
                        .into_iter()
                        .map(|(address, _)| (address, Ok(())))
                        .collect(),
                );
            }
            AppMsg::RestreamProposal {
                height,
                round,
                valid_round,
                address,
                value_id,
            } => {
                if address == self.me {
                    // After a restart the block is on disk, not in memory.
                    let block = match self.blocks.get(&value_id) {
                        Some(block) => Some(block.clone()),
                        None => self.log.by_hash(height, value_id),
                    };
                    if let Some(block) = block {
                        self.stream(height, round, valid_round, &block, 1).await;
                        self.blocks.insert(value_id, block);
                    }
                }
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                let _ = reply.send(self.history_min().await);
            }
            AppMsg::ReceivedProposalPart {
                from,
                published_by,
                part,
                reply,
            } => {
                let value = self.received(published_by.unwrap_or(from), part).await;
                let _ = reply.send(value);
            }
            AppMsg::Decided { reply, .. } => {
                let _ = reply.send(());
            }
            AppMsg::Finalized {
                certificate,
                evidence,
                reply,
                ..
            } => {
                if !evidence.is_empty()
                    && let Some(validators) = &self.validators
                {
                    report(
                        &self.host,
                        &self.key,
                        &self.chain,
                        validators,
                        certificate.height,
                        &evidence,
                    );
                }
                let next = self.finalize(certificate).await?;
                let _ = reply.send(next);
            }
            AppMsg::GetDecidedValues { range, reply } => {
                let values = self.decided(*range.start(), *range.end()).await;
                let _ = reply.send(values);
            }
            AppMsg::ProcessSyncedValue {
                height,
                round,
                proposer,
                value_bytes,
                reply,
            } => {
                self.catch_up.synced(std::time::Instant::now());
                let outcome = match Block::from_bytes(&value_bytes) {
                    Err(_) => SyncedValueOutcome::PeerFault,
                    Ok(block) => {
                        let value = BlockHash(block.hash().0);
                        // A decided block from history: its time is old by
                        // nature, and only the ledger's checks apply.
                        let validity = self.ledger_validity(&block, "a synced block").await;
                        self.keep_block(value, block, validity);
                        SyncedValueOutcome::Verdict(ProposedValue {
                            height,
                            round,
                            valid_round: Round::Nil,
                            proposer,
                            value,
                            validity,
                        })
                    }
                };
                let _ = reply.send(outcome);
            }
        }
        Ok(())
    }

    /// The lowest height this host can serve to a host catching up: the
    /// first with a commit certificate. The blocks a network was made with
    /// (`init` signs them alone, before consensus runs) have none; every
    /// host of the network starts with them.
    async fn history_min(&mut self) -> ChainHeight {
        if let Some(known) = self.history_min {
            return known;
        }
        let Ok(status) = self.host.status().await else {
            return ChainHeight(1);
        };
        let (mut low, mut high) = (1, status.height + 1);
        // Uncertified blocks come first, then only certified ones.
        while low < high {
            let middle = low + (high - low) / 2;
            match self.host.certificate(middle).await {
                Ok(Some(_)) => high = middle,
                Ok(None) => low = middle + 1,
                Err(_) => return ChainHeight(1),
            }
        }
        let found = ChainHeight(low);
        if low <= status.height {
            self.history_min = Some(found);
        }
        found
    }

    /// The validators and timeouts of `height`, which starts now; the
    /// validators of the height after it are kept too, to know whose
    /// proposals for it to take early.
    async fn params(&mut self, height: ChainHeight) -> Result<HeightParams<Plaza>, HostError> {
        let validators = ValidatorSet::new(&self.host.validators_at(height.0).await?)?;
        self.validators = Some(validators.clone());
        self.next_validators = Some(ValidatorSet::new(
            &self.host.validators_at(height.0 + 1).await?,
        )?);
        Ok(HeightParams::new(validators, self.timeouts, None))
    }

    /// This host's value for `height` and `round`: the block it proposed
    /// before in this round if any (kept on disk, so a validator restarted
    /// within a height proposes the same block again), else a new one from
    /// its mempool, saved before it is sent.
    async fn propose(
        &mut self,
        height: ChainHeight,
        round: Round,
        timeout: Duration,
    ) -> Result<BlockHash, HostError> {
        if let Some(value) = self.proposed.iter().find(|value| {
            value.height == height && value.round == round && value.proposer == self.me
        }) {
            return Ok(value.value);
        }
        let block = match self.log.find(height, round)? {
            Some(block) => {
                info!(%height, %round, "proposing again the block proposed before a restart");
                block
            }
            None => {
                self.pace(timeout).await;
                let now = self
                    .host
                    .now()
                    .saturating_add_signed(self.faults.clock_skew_secs);
                let mut block = self.host.propose(now).await?;
                if self.faults.invalid_proposals {
                    block = spoilt(block, height.0);
                }
                if block.header.height != height.0 {
                    return Err(HostError::Consensus(format!(
                        "asked for a block at height {height}, but the ledger is at {}",
                        block.header.height
                    )));
                }
                self.log.save(height, round, &block)?;
                block
            }
        };
        let value = BlockHash(block.hash().0);
        self.proposed.push(ProposedValue {
            height,
            round,
            valid_round: Round::Nil,
            proposer: self.me,
            value,
            validity: Validity::Valid,
        });
        self.stream(height, round, Round::Nil, &block, 0).await;
        debug!(%height, %round, txs = block.txs.len(), "proposed a block");
        self.blocks.insert(value, block);
        Ok(value)
    }

    /// Waits, before proposing, until there is something to put in the
    /// block (a transaction, or a rental's end falling due), at least
    /// [`MIN_BLOCK_INTERVAL`] after the last block and at most
    /// [`EMPTY_BLOCK_INTERVAL`] (or half the propose timeout): a quiet
    /// network makes an empty block now and then, not one after another.
    async fn pace(&self, timeout: Duration) {
        let started = tokio::time::Instant::now();
        let latest = started + EMPTY_BLOCK_INTERVAL.min(timeout / 2);
        let earliest = self.last_block + MIN_BLOCK_INTERVAL;
        let mut work = self.host.backlog();
        loop {
            let now = tokio::time::Instant::now();
            let state = *work.borrow_and_update();
            let due =
                state.next_due.is_some_and(|due| due <= self.host.now()) || state.stake_changes;
            if now >= latest || ((state.pending > 0 || due) && now >= earliest) {
                return;
            }
            let wake = if state.pending > 0 || due {
                earliest
            } else {
                latest
            };
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => {}
                changed = work.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Streams `block` to the other validators as proposal parts.
    async fn stream(
        &self,
        height: ChainHeight,
        round: Round,
        pol_round: Round,
        block: &Block,
        attempt: u8,
    ) {
        let bytes = block.to_bytes();
        let value = BlockHash(block.hash().0);
        let mut id = Vec::with_capacity(17);
        id.extend_from_slice(&height.0.to_be_bytes());
        id.extend_from_slice(&round.as_i64().to_be_bytes());
        id.push(attempt);
        let opening = self.signer.sign(&init_bytes(
            &self.chain,
            height,
            round,
            pol_round,
            &self.me,
            &self.peer,
            &id,
        ));
        let id = StreamId::new(Bytes::from(id));
        let signature =
            self.signer
                .sign(&parts_bytes(&self.chain, height, round, &self.me, &value));
        let parts = std::iter::once(ProposalPart::Init {
            height,
            round,
            pol_round,
            proposer: self.me,
            signature: opening,
        })
        .chain(
            bytes
                .chunks(MAX_PART_BYTES)
                .map(|chunk| ProposalPart::Data(chunk.to_vec())),
        )
        .chain(std::iter::once(ProposalPart::Fin(signature)));
        if self.faults.bogus_streams > 0 {
            self.bogus_streams(height, round).await;
        }
        let mut sequence = 0;
        for part in parts {
            if !self.publish(&id, sequence, part).await {
                return;
            }
            sequence += 1;
        }
        let _ = self
            .network
            .send(NetworkMsg::PublishProposalPart(StreamMessage::new(
                id,
                sequence,
                StreamContent::Fin,
            )))
            .await;
    }

    /// Publishes the bogus streams [`Faults::bogus_streams`] asks for.
    async fn bogus_streams(&self, height: ChainHeight, round: Round) {
        for index in 0..self.faults.bogus_streams {
            let id = StreamId::new(Bytes::from(
                format!("bogus {height} {round} {index}").into_bytes(),
            ));
            let parts = if index % 2 == 0 {
                // No first part at all.
                vec![
                    ProposalPart::Data(vec![0xbd; 1024]),
                    ProposalPart::Data(vec![0xbd; 1024]),
                ]
            } else {
                // A first part in the name of someone it is not.
                let other = self
                    .validators
                    .as_ref()
                    .and_then(|set| {
                        set.validators()
                            .iter()
                            .find(|v| v.address() != &self.me)
                            .map(|v| *v.address())
                    })
                    .unwrap_or(self.me);
                let signature = self.signer.sign(&init_bytes(
                    &self.chain,
                    height,
                    round,
                    Round::Nil,
                    &other,
                    &self.peer,
                    &id.to_bytes(),
                ));
                vec![
                    ProposalPart::Init {
                        height,
                        round,
                        pol_round: Round::Nil,
                        proposer: other,
                        signature,
                    },
                    ProposalPart::Data(vec![0xbd; 1024]),
                ]
            };
            for (sequence, part) in (0..).zip(parts) {
                if !self.publish(&id, sequence, part).await {
                    return;
                }
            }
        }
    }

    /// Publishes part `sequence` of stream `id`; false once the network
    /// has stopped.
    async fn publish(&self, id: &StreamId, sequence: u64, part: ProposalPart) -> bool {
        let message = StreamMessage::new(id.clone(), sequence, StreamContent::Data(part));
        self.network
            .send(NetworkMsg::PublishProposalPart(message))
            .await
            .is_ok()
    }

    /// Takes a part of another validator's proposal; the proposed value
    /// once the stream is whole. Only a stream opened by the round's own
    /// proposer (for this height or the next) is kept, within the bounds
    /// of [`Streams`]; a proposal already at hand is not checked again,
    /// and a second, different one from the same proposer for the same
    /// round is refused (and reported).
    async fn received(
        &mut self,
        from: PeerId,
        part: StreamMessage<ProposalPart>,
    ) -> Option<ProposedValue<Plaza>> {
        let (height, current, next) = (
            self.height,
            self.validators.as_ref(),
            self.next_validators.as_ref(),
        );
        let chain = &self.chain;
        let whole = self.streams.add(from, part, |init, signature, stream| {
            let set = if init.height == height {
                current
            } else if init.height == height.increment() {
                next
            } else {
                None
            };
            let proposes = set.is_some_and(|set| {
                set.proposer(init.height, init.round).address() == &init.proposer
            });
            proposes
                && signed_by(
                    &init.proposer,
                    &init_bytes(
                        chain,
                        init.height,
                        init.round,
                        init.pol_round,
                        &init.proposer,
                        &from.to_bytes(),
                        &stream.to_bytes(),
                    ),
                    signature,
                )
        })?;
        let Whole {
            init,
            bytes,
            signature,
        } = whole;
        let block = match Block::from_bytes(&bytes) {
            Ok(block) => block,
            Err(err) => {
                warn!(%from, proposer = %init.proposer, %err, "a proposed block does not decode");
                return None;
            }
        };
        let value = BlockHash(block.hash().0);
        let signed = signed_by(
            &init.proposer,
            &parts_bytes(&self.chain, init.height, init.round, &init.proposer, &value),
            &signature,
        );
        if !signed {
            warn!(%from, proposer = %init.proposer, "a proposal's parts are not signed by its proposer");
            return None;
        }
        // The same proposal again (another copy, or sent again): nothing
        // new. Another proposal by the same proposer for the same round:
        // it signed two, which the engine reports; the first is kept.
        let seen = self
            .proposed
            .iter()
            .chain(self.waiting.iter().map(|waiting| &waiting.value))
            .find(|seen| {
                seen.height == init.height
                    && seen.round == init.round
                    && seen.proposer == init.proposer
            });
        if let Some(seen) = seen {
            if seen.value != value {
                warn!(
                    proposer = %init.proposer,
                    height = %init.height,
                    round = %init.round,
                    "a validator proposed two different blocks for one round; the first is kept"
                );
            }
            return None;
        }
        let mut proposed = ProposedValue {
            height: init.height,
            round: init.round,
            valid_round: init.pol_round,
            proposer: init.proposer,
            value,
            validity: Validity::Invalid,
        };
        if init.height > self.height {
            if self.waiting.len() < MAX_KEPT {
                self.waiting.push(Waiting {
                    value: proposed,
                    block,
                });
            }
            return None;
        }
        if init.height < self.height || self.proposed.len() >= MAX_KEPT {
            return None;
        }
        proposed.validity = self.validity(&block, init.pol_round).await;
        self.keep_block(value, block, proposed.validity);
        self.proposed.push(proposed.clone());
        Some(proposed)
    }

    /// Keeps a block for its commit if it is valid; an invalid one is
    /// never kept, and never replaces one kept under the same hash.
    fn keep_block(&mut self, value: BlockHash, block: Block, validity: Validity) {
        if validity == Validity::Valid {
            self.blocks.entry(value).or_insert(block);
        }
    }

    /// Checks the blocks that arrived early for the height now started.
    async fn check_waiting(&mut self) {
        let (now, later): (Vec<Waiting>, Vec<Waiting>) = std::mem::take(&mut self.waiting)
            .into_iter()
            .filter(|waiting| waiting.value.height >= self.height)
            .partition(|waiting| waiting.value.height == self.height);
        self.waiting = later;
        for Waiting { mut value, block } in now {
            value.validity = self.validity(&block, value.valid_round).await;
            self.keep_block(value.value, block, value.validity);
            self.proposed.push(value);
        }
    }

    /// Whether `block` may follow the committed chain: the ledger's checks
    /// (parent, height, time not before the parent's, signatures, every
    /// rule), and a time within [`MAX_CLOCK_SKEW_SECS`] of this host's
    /// clock: never ahead of it by more, and, for a fresh proposal (no
    /// polka round), not behind it by more either.
    async fn validity(&self, block: &Block, pol_round: Round) -> Validity {
        let now = self.host.now();
        let time = block.header.time;
        let ahead = time.saturating_sub(now);
        let behind = if pol_round == Round::Nil {
            now.saturating_sub(time)
        } else {
            0
        };
        if ahead > MAX_CLOCK_SKEW_SECS || behind > MAX_CLOCK_SKEW_SECS {
            warn!(
                height = block.header.height,
                proposer = %block.header.proposer,
                ahead_secs = ahead,
                behind_secs = behind,
                "a validator's clock is off: its proposal's time is too far from this host's"
            );
            return Validity::Invalid;
        }
        self.ledger_validity(block, "a proposed block").await
    }

    /// The ledger's verdict on `block` (parent, height, time not before
    /// the parent's, signatures, every rule); `what` names it in the log.
    async fn ledger_validity(&self, block: &Block, what: &str) -> Validity {
        match self.host.check(block.clone()).await {
            Ok(()) => Validity::Valid,
            Err(err) => {
                warn!(
                    height = block.header.height,
                    proposer = %block.header.proposer,
                    %err,
                    "{what} is invalid"
                );
                Validity::Invalid
            }
        }
    }

    /// Commits the decided block and starts the next height.
    async fn finalize(
        &mut self,
        certificate: CommitCertificate<Plaza>,
    ) -> Result<Next<Plaza>, HostError> {
        let height = certificate.height;
        let Some(block) = self.blocks.get(&certificate.value_id).cloned() else {
            warn!(%height, value = %certificate.value_id, "the decided block is not at hand");
            return Ok(Next::Restart(height, self.params(height).await?));
        };
        let committed = match self
            .host
            .commit_certified(block, encode_certificate(&certificate))
            .await
        {
            Ok(committed) => committed,
            Err(HostError::Stopped) => return Err(HostError::Stopped),
            Err(err) => {
                // A block more than two thirds decided, checked when it came,
                // that this host cannot commit: its store is failing. Voting
                // on in this height could sign against its own votes, so
                // consensus stops here rather than risk that.
                error!(%height, %err, "the decided block could not be committed; consensus stops");
                self.broken = Some(HostError::Consensus(format!(
                    "the block decided at height {height} could not be committed: {err}"
                )));
                return Err(HostError::Consensus(format!("commit failed: {err}")));
            }
        };
        debug!(
            height = committed,
            signatures = certificate.commit_signatures.len(),
            "block final"
        );
        self.blocks.clear();
        self.proposed.clear();
        if let Err(err) = self.log.prune(committed) {
            warn!(%err, "the proposals of committed heights could not be removed");
        }
        // Streams of the next height may already be on their way.
        self.streams.committed(height);
        let refused = self.streams.take_refused();
        if refused > 0 {
            debug!(refused, "proposal parts refused during the height");
        }
        let next = ChainHeight(committed + 1);
        self.height = next;
        self.last_block = tokio::time::Instant::now();
        Ok(Next::Start(next, self.params(next).await?))
    }

    /// Decided blocks from `start` to `end` with their certificates, as
    /// far as this host has them.
    async fn decided(&self, start: ChainHeight, end: ChainHeight) -> Vec<RawDecidedValue<Plaza>> {
        let mut values = Vec::new();
        let mut height = start.0.max(1);
        while height <= end.0 && values.len() < 16 {
            let (Ok(block), Ok(Some(certificate))) = (
                self.host.block(height).await,
                self.host.certificate(height).await,
            ) else {
                break;
            };
            let Ok(certificate) = decode_certificate(&certificate) else {
                warn!(height, "a stored commit certificate does not decode");
                break;
            };
            values.push(RawDecidedValue::new(
                Bytes::from(block.to_bytes()),
                ExtendedCommitCertificate::from_commit_certificate_and_extensions(
                    certificate,
                    VoteExtensions::new(Vec::new()),
                ),
            ));
            height += 1;
        }
        values
    }
}
