//! The handle every part of the host holds: commands to the ledger thread
//! with their replies, and what it publishes (the backlog, committed
//! blocks).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use ledger::{
    Account, Address, AssetId, Block, Height, LedgerError, SignedTransaction, StateRoot, Timestamp,
    TxId, Validator,
};
use market::TradeWindow;
use market::catalogue::{Page, Query};
use market::trade::Action;
use market::wear::Slot;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use super::{
    Backlog, BlockEvent, Command, FINAL_POLL, Inventory, MISBEHAVIOUR_KEPT, Misbehaviour,
    NodeStatus, TradeOutcome, TxStatus,
};
use crate::error::HostError;
use crate::mempool::Added;
use crate::peers::{GossipedTx, Verdict};
use plaza_client::protocol::{Quote, QuoteAsk};

/// Sends the command `command` makes with a reply channel to a task's
/// queue and waits for the reply; `Stopped` when the task has ended.
pub(crate) async fn ask<C, T>(
    commands: &mpsc::Sender<C>,
    command: impl FnOnce(oneshot::Sender<T>) -> C,
) -> Result<T, HostError> {
    let (reply, answer) = oneshot::channel();
    commands
        .send(command(reply))
        .await
        .map_err(|_| HostError::Stopped)?;
    answer.await.map_err(|_| HostError::Stopped)
}

/// A cloneable handle to the ledger thread.
#[derive(Clone)]
pub struct HostHandle {
    pub(super) commands: mpsc::Sender<Command>,
    pub(super) requests: mpsc::Sender<Command>,
    pub(super) events: broadcast::Sender<Arc<BlockEvent>>,
    pub(super) accepted: broadcast::Sender<SignedTransaction>,
    pub(super) work: watch::Receiver<Backlog>,
    /// The worlds' layouts with their parcels' deeds, holders and tenures.
    pub(super) lands: watch::Receiver<Arc<super::Lands>>,
    pub(super) now: Arc<dyn crate::clock::Clock>,
    pub(super) misbehaviour: Arc<std::sync::Mutex<VecDeque<Misbehaviour>>>,
    pub(super) verifier: ledger::Verifier,
    /// Whether the host is at the network's tip: its block engine says
    /// so (a host alone always is; a validator once it has caught up).
    pub(super) current: Arc<watch::Sender<bool>>,
}

impl HostHandle {
    /// The worlds' layouts as of the last block that changed one: each
    /// parcel with its deed, holder and tenure.
    pub fn lands(&self) -> Arc<super::Lands> {
        self.lands.borrow().clone()
    }

    /// Asks on the engine's queue, which the ledger thread serves first.
    pub(super) async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, HostError> {
        ask(&self.commands, command).await
    }

    /// Asks on the queue of players' and peers' requests, served when
    /// the engine's is empty.
    pub(super) async fn request<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, HostError> {
        ask(&self.requests, command).await
    }

    /// Checks `tx` and queues it for a block; the reason if it is refused.
    pub async fn submit(&self, tx: SignedTransaction) -> Result<Added, HostError> {
        self.check_signature(&tx)?;
        self.request(|reply| Command::Submit(Box::new(tx), reply))
            .await?
    }

    /// Checks transactions other hosts gossiped, queues those the mempool
    /// takes for a block and gives each its verdict, in one visit to the
    /// ledger thread. Unlike [`HostHandle::submit`], they are not announced
    /// as this host's to pass on (gossip passes them on once accepted).
    /// Their signatures were checked by the peer network, which alone
    /// makes a [`GossipedTx`].
    pub async fn submit_gossiped(&self, gossiped: Vec<GossipedTx>) -> Result<(), HostError> {
        let txs = gossiped.iter().map(|one| one.tx.clone()).collect();
        let results = self
            .request(|reply| Command::SubmitGossiped(txs, reply))
            .await?;
        for (one, added) in gossiped.into_iter().zip(results) {
            one.judge(Verdict::of(&added));
        }
        Ok(())
    }

    /// The network and signature checks of a submission, made on the
    /// caller's thread so that the ledger thread, which every block waits
    /// for, does not spend its time on them.
    pub(super) fn check_signature(&self, tx: &SignedTransaction) -> Result<(), HostError> {
        if &tx.tx.chain_id != self.verifier.chain_id() {
            return Err(LedgerError::WrongChain {
                expected: self.verifier.chain_id().clone(),
                got: tx.tx.chain_id.clone(),
            }
            .into());
        }
        self.verifier.verify_transaction(tx)?;
        Ok(())
    }

    /// Transactions this host's own players submitted and the mempool
    /// took, for the peer network to spread. A receiver that falls far
    /// behind misses some.
    pub fn accepted(&self) -> broadcast::Receiver<SignedTransaction> {
        self.accepted.subscribe()
    }

    /// Where transaction `id` is.
    pub async fn tx_status(&self, id: TxId) -> Result<TxStatus, HostError> {
        self.request(|reply| Command::TxStatus(id, reply)).await?
    }

    /// Waits up to `within` for transaction `id` to be in a block: the
    /// block's height, and the ledger's reason if it was refused there.
    pub async fn wait_final(
        &self,
        id: TxId,
        within: Duration,
    ) -> Result<(Height, Option<String>), HostError> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let TxStatus::Final { height, rejection } = self.tx_status(id).await? {
                return Ok((height, rejection));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(HostError::Timeout {
                    what: "a transaction to be final",
                    secs: within.as_secs(),
                });
            }
            tokio::time::sleep(FINAL_POLL).await;
        }
    }

    /// The host's state at a glance.
    pub async fn status(&self) -> Result<NodeStatus, HostError> {
        self.ask(Command::Status).await
    }

    /// An account's balance and next nonce.
    pub async fn account(&self, address: Address) -> Result<Account, HostError> {
        self.request(|reply| Command::Account(address, reply))
            .await?
    }

    /// Whether `who` may wear `asset` in `slot` now, by the committed
    /// state and the asset's manifest (`market::wear::may_wear`): the
    /// height of the state it was checked against, or why not.
    pub async fn may_wear(
        &self,
        who: Address,
        asset: AssetId,
        slot: Slot,
    ) -> Result<Height, HostError> {
        self.request(|reply| Command::Wear(who, asset, slot, reply))
            .await?
    }

    /// Whether a holder holds a parcel under a tenure and may put each of
    /// some things down on it, by the ledger's state
    /// (`market::wear::holds_parcel`, `market::wear::may_place`).
    pub async fn placeable(&self, ask: super::PlaceableAsk) -> Result<super::Placeable, HostError> {
        self.request(|reply| Command::Placeable(Box::new(ask), reply))
            .await?
    }

    /// One page of the catalogue.
    pub async fn browse(&self, query: Query) -> Result<Page, HostError> {
        self.request(|reply| Command::Browse(Box::new(query), reply))
            .await?
    }

    /// What `address` owns and rents, with its balance and nonce.
    pub async fn inventory(&self, address: Address) -> Result<Inventory, HostError> {
        self.request(|reply| Command::Inventory(address, reply))
            .await?
    }

    /// What `ask` would cost and pay `who` in a block at the host's time.
    pub async fn quote(&self, who: Address, ask: QuoteAsk) -> Result<Quote, HostError> {
        self.request(|reply| Command::Quote(who, ask, reply))
            .await?
    }

    /// `who` does `action` in `window`, checked against the committed
    /// state at the host's time. The window comes back changed if the
    /// action was taken, unchanged with the reason if not.
    pub async fn trade_act(
        &self,
        window: TradeWindow,
        who: Address,
        action: Action,
    ) -> Result<TradeOutcome, HostError> {
        self.request(|reply| Command::TradeAct(Box::new(window), who, Box::new(action), reply))
            .await
    }

    /// Asks the ledger thread to finish what is queued and stop.
    pub(crate) async fn shutdown(&self) {
        // Already stopped is fine.
        let _ = self.commands.send(Command::Shutdown).await;
    }

    /// As [`HostHandle::shutdown`] without waiting: true when the ledger
    /// thread is stopping or gone, false when the engine's queue is full.
    pub(crate) fn try_shutdown(&self) -> bool {
        !matches!(
            self.commands.try_send(Command::Shutdown),
            Err(mpsc::error::TrySendError::Full(_))
        )
    }

    /// Every block committed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<BlockEvent>> {
        self.events.subscribe()
    }

    /// Whether the host is at the network's tip, as its block engine last
    /// said: a host still catching up after a start answers players
    /// "catching up" rather than from an old height.
    pub fn is_current(&self) -> bool {
        *self.current.borrow()
    }

    /// Tells everyone holding a handle whether the host is at the
    /// network's tip (for block engines).
    pub fn set_current(&self, current: bool) {
        self.current
            .send_if_modified(|now| std::mem::replace(now, current) != current);
    }

    /// What the engine watches to decide when to make a block.
    pub fn backlog(&self) -> watch::Receiver<Backlog> {
        self.work.clone()
    }

    /// The host's block clock.
    pub fn now(&self) -> Timestamp {
        self.now.now()
    }

    /// A block of waiting transactions at `time`, proposed by this host.
    pub async fn propose(&self, time: Timestamp) -> Result<Block, HostError> {
        self.ask(|reply| Command::Propose(time, reply)).await?
    }

    /// Whether `block` is valid on top of the committed chain: signatures,
    /// parent, height, time, proposer and every rule, without writing.
    pub async fn check(&self, block: Block) -> Result<(), HostError> {
        self.ask(|reply| Command::Check(Box::new(block), reply))
            .await?
    }

    /// The validators of the next block.
    pub async fn validators(&self) -> Result<Vec<Validator>, HostError> {
        self.ask(Command::Validators).await?
    }

    /// Every asset's manifest id where the ledger started from a snapshot
    /// (the blocks that minted them, and their files, never came here);
    /// none otherwise.
    pub async fn unfetched_assets(&self) -> Result<Vec<assets::ContentId>, HostError> {
        self.request(Command::UnfetchedAssets).await?
    }

    /// The validators of `height`: the next height or the one after.
    pub async fn validators_at(&self, height: Height) -> Result<Vec<Validator>, HostError> {
        self.ask(|reply| Command::ValidatorsAt(height, reply))
            .await?
    }

    /// The committed block at `height`.
    pub async fn block(&self, height: Height) -> Result<Block, HostError> {
        self.ask(|reply| Command::Block(height, reply)).await?
    }

    /// The state root after the committed block at `height`.
    pub async fn state_root_at(&self, height: Height) -> Result<StateRoot, HostError> {
        self.ask(|reply| Command::StateRoot(height, reply)).await?
    }

    /// Applies and durably commits a decided block; its height.
    pub async fn commit(&self, block: Block) -> Result<Height, HostError> {
        self.ask(|reply| Command::Commit(Box::new(block), None, reply))
            .await?
    }

    /// Applies and durably commits a decided block with the certificate
    /// that finalized it, in one write; its height.
    pub async fn commit_certified(
        &self,
        block: Block,
        certificate: Vec<u8>,
    ) -> Result<Height, HostError> {
        self.ask(|reply| Command::Commit(Box::new(block), Some(certificate), reply))
            .await?
    }

    /// Records that consensus found a validator equivocating; the newest
    /// [`MISBEHAVIOUR_KEPT`] reports are kept.
    pub(crate) fn report_misbehaviour(&self, report: Misbehaviour) {
        let mut kept = self
            .misbehaviour
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if kept.len() == MISBEHAVIOUR_KEPT {
            kept.pop_front();
        }
        kept.push_back(report);
    }

    /// Validators consensus found signing conflicting proposals or votes
    /// since the host started, oldest first.
    pub fn misbehaviour(&self) -> Vec<Misbehaviour> {
        self.misbehaviour
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .copied()
            .collect()
    }

    /// The certificate committed with the block at `height`, if any.
    pub async fn certificate(&self, height: Height) -> Result<Option<Vec<u8>>, HostError> {
        self.ask(|reply| Command::Certificate(height, reply))
            .await?
    }
}
