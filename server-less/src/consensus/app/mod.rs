//! The BFT engine: the malachite engine orders the host's blocks.
//!
//! [`Bft`] runs malachite beside the host (on its own libp2p port) and
//! answers what it asks through the host's block seam: on its turn the
//! host proposes a block from its mempool and streams it in parts; parts
//! from others are reassembled, their proposer's signature checked and the
//! block checked against the ledger before the engine may vote for it; a
//! finalized block is committed with its commit certificate, and the next
//! height starts with the validators the ledger names.

mod commit;
mod propose;
mod receive;

use std::collections::HashMap;
use std::time::Duration;

use ledger::{Block, ChainId, Keypair};
use malachitebft_app_channel::app::config::{
    ConsensusConfig, NodeConfig, P2pConfig, ValueSyncConfig,
};
use malachitebft_app_channel::app::engine::host::{HeightParams, SyncedValueOutcome};
use malachitebft_app_channel::app::types::codec::Codec;
use malachitebft_app_channel::app::types::{LocallyProposedValue, ProposedValue};
use malachitebft_app_channel::{
    AppMsg, ConsensusContext, NetworkContext, NetworkIdentity, NetworkMsg, RequestContext,
    SyncContext, WalContext,
};
use malachitebft_core_types::{LinearTimeouts, Round};
use malachitebft_signing::Signer;
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use super::catch_up::CatchUp;
use super::codec::PlazaCodec;
use super::context::{BlockHash, ChainHeight, Plaza, ValidatorAddress, ValidatorSet};
use super::proposals::ProposalLog;
use super::settings::{BftSettings, Faults};
use super::signed::SignedLog;
use super::signing::{PlazaSigner, PlazaVerifier};
use super::slashing::report;
use super::streams::Streams;
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
}
