//! The ledger thread: the one place the host's ledger, mempool and
//! catalogue are changed. Everything else talks to it through a
//! [`HostHandle`]: commands with replies over a bounded channel, and
//! committed blocks broadcast to whoever listens.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use assets::{BlobStore, Manifest};
use ledger::{
    Account, Address, Asset, AssetId, Block, ChainId, CommittedBlock, Height, Ledger, LedgerError,
    Listing, ListingId, MAX_BLOCK_BYTES, MAX_BLOCK_TXS, ManifestBytes, Operation,
    SignedTransaction, StateRoot, Timestamp, TxId, Validator,
};
use market::Catalogue;
use market::catalogue::{Changes, Manifests, Page, Query, WorldLayout};
use market::trade::Action;
use market::{MarketError, TradeWindow};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tracing::{debug, info, warn};

use crate::error::HostError;
use crate::mempool::{Added, Mempool, MempoolLimits, SignatureChecked};
use crate::peers::{GossipedTx, Verdict};
use plaza_client::protocol::{Quote, QuoteAsk};

/// Block-making commands waiting for the ledger thread at most.
const COMMAND_QUEUE: usize = 1_024;
/// Players' and peers' requests waiting for the ledger thread at most:
/// a queue of their own, served only when no block-making command waits,
/// so that no flood of queries or gossip can hold up consensus.
const REQUEST_QUEUE: usize = 1_024;
/// How often [`HostHandle::wait_final`] asks.
const FINAL_POLL: Duration = Duration::from_millis(10);
/// Block events kept for listeners that fall behind.
const EVENT_QUEUE: usize = 256;
/// Accepted transactions waiting to be gossiped.
const ACCEPTED_QUEUE: usize = 4096;
/// Blocks checked and kept for their commit, the newest.
const PREPARED_KEPT: usize = 4;
/// Reports of misbehaving validators kept, the newest.
const MISBEHAVIOUR_KEPT: usize = 64;

/// How the ledger thread is set up.
#[derive(Clone, Copy, Debug)]
pub struct NodeSettings {
    /// Mempool bounds.
    pub mempool: MempoolLimits,
    /// Most transactions in one block.
    pub block_max_txs: usize,
}

impl Default for NodeSettings {
    fn default() -> Self {
        NodeSettings {
            mempool: MempoolLimits::default(),
            block_max_txs: MAX_BLOCK_TXS,
        }
    }
}

/// What the block-ordering engine needs to know to decide when to make a
/// block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Work {
    /// Transactions waiting.
    pub pending: usize,
    /// The earliest end of an active rental.
    pub next_due: Option<Timestamp>,
    /// The last committed height.
    pub height: Height,
    /// The last committed block's time.
    pub time: Timestamp,
    /// Whether stake changes wait to take effect: the next block puts the
    /// first of them in force.
    pub stake_changes: bool,
}

/// A block the ledger committed, with the transactions dropped from the
/// mempool because of it.
#[derive(Debug)]
pub struct BlockEvent {
    /// What the block did.
    pub block: CommittedBlock,
    /// Waiting transactions that can no longer go through, with the reason.
    pub dropped: Vec<(TxId, LedgerError)>,
}

/// Where a transaction is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxStatus {
    /// Waiting in this host's mempool.
    Pending,
    /// In a committed block: applied, or refused with the ledger's reason.
    Final {
        /// The block.
        height: Height,
        /// `None` when applied; the reason when refused.
        rejection: Option<String>,
    },
    /// Neither waiting here nor in any block.
    Unknown,
}

/// The host's state at a glance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeStatus {
    /// The network.
    pub chain_id: ChainId,
    /// This host's validator address: the proposer of its blocks.
    pub address: Address,
    /// The last committed height.
    pub height: Height,
    /// Its block time.
    pub time: Timestamp,
    /// The state root after it.
    pub state_root: StateRoot,
    /// Transactions waiting.
    pub pending: usize,
    /// Open listings in the catalogue.
    pub listings: usize,
}

/// A validator found signing two different proposals or votes for one
/// height and round (equivocation), as consensus reported it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Misbehaviour {
    /// The height decided when it was found.
    pub height: Height,
    /// The validator.
    pub validator: Address,
    /// Pairs of conflicting proposals it signed.
    pub conflicting_proposals: usize,
    /// Pairs of conflicting votes it signed.
    pub conflicting_votes: usize,
}

/// What an account holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inventory {
    /// Balance and next nonce.
    pub account: Account,
    /// Assets it owns (rented out or not).
    pub owned: Vec<Asset>,
    /// Assets it rents from others.
    pub renting: Vec<Asset>,
    /// The host's time when it was read.
    pub now: Timestamp,
}

/// A trade window after an action, and whether the action was taken.
pub type TradeOutcome = (Box<TradeWindow>, Result<(), MarketError>);

enum Command {
    Submit(
        Box<SignedTransaction>,
        oneshot::Sender<Result<Added, HostError>>,
    ),
    SubmitGossiped(
        Vec<SignedTransaction>,
        oneshot::Sender<Vec<Result<Added, HostError>>>,
    ),
    TxStatus(TxId, oneshot::Sender<Result<TxStatus, HostError>>),
    Status(oneshot::Sender<NodeStatus>),
    Account(Address, oneshot::Sender<Result<Account, HostError>>),
    Browse(Box<Query>, oneshot::Sender<Result<Page, HostError>>),
    Inventory(Address, oneshot::Sender<Result<Inventory, HostError>>),
    Quote(Address, QuoteAsk, oneshot::Sender<Result<Quote, HostError>>),
    TradeAct(
        Box<TradeWindow>,
        Address,
        Box<Action>,
        oneshot::Sender<TradeOutcome>,
    ),
    Propose(Timestamp, oneshot::Sender<Result<Block, HostError>>),
    Check(Box<Block>, oneshot::Sender<Result<(), HostError>>),
    Commit(
        Box<Block>,
        Option<Vec<u8>>,
        oneshot::Sender<Result<Height, HostError>>,
    ),
    Certificate(Height, oneshot::Sender<Result<Option<Vec<u8>>, HostError>>),
    Validators(oneshot::Sender<Result<Vec<Validator>, HostError>>),
    ValidatorsAt(Height, oneshot::Sender<Result<Vec<Validator>, HostError>>),
    Block(Height, oneshot::Sender<Result<Block, HostError>>),
    StateRoot(Height, oneshot::Sender<Result<StateRoot, HostError>>),
    /// Ends the ledger thread once the commands before it are answered.
    Shutdown,
}

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
    commands: mpsc::Sender<Command>,
    requests: mpsc::Sender<Command>,
    events: broadcast::Sender<Arc<BlockEvent>>,
    accepted: broadcast::Sender<SignedTransaction>,
    work: watch::Receiver<Work>,
    now: Arc<dyn crate::clock::Clock>,
    misbehaviour: Arc<std::sync::Mutex<VecDeque<Misbehaviour>>>,
    verifier: ledger::Verifier,
}

impl HostHandle {
    /// Asks on the engine's queue, which the ledger thread serves first.
    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, HostError> {
        ask(&self.commands, command).await
    }

    /// Asks on the queue of players' and peers' requests, served when
    /// the engine's is empty.
    async fn request<T>(
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
    fn check_signature(&self, tx: &SignedTransaction) -> Result<(), HostError> {
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

    /// What the engine watches to decide when to make a block.
    pub fn work(&self) -> watch::Receiver<Work> {
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

/// The manifests in the blob store, read and checked on demand.
struct StoredManifests<'a>(&'a BlobStore);

impl Manifests for StoredManifests<'_> {
    fn manifest(&self, asset: &AssetId) -> Option<Arc<Manifest>> {
        let bytes = self.0.get(&asset.0).ok()?;
        Manifest::from_json(&bytes).ok().map(Arc::new)
    }
}

/// The catalogue of the ledger's committed state, placing listings in
/// `worlds`.
fn catalogue_of(
    ledger: &Ledger,
    blobs: &BlobStore,
    worlds: &[WorldLayout],
) -> Result<Catalogue, HostError> {
    let mut catalogue = Catalogue::build(
        &ledger.listings()?,
        &ledger.assets()?,
        ledger.chain().time,
        &StoredManifests(blobs),
    )?;
    for world in worlds {
        catalogue.add_world(world.clone())?;
    }
    Ok(catalogue)
}

/// Who owns and who rents each asset, by account: the ledger keys assets
/// by id only.
#[derive(Default)]
struct Holdings {
    owned: HashMap<Address, BTreeSet<AssetId>>,
    renting: HashMap<Address, BTreeSet<AssetId>>,
    holders: HashMap<AssetId, (Address, Option<Address>)>,
}

impl Holdings {
    fn of(assets: &[Asset]) -> Self {
        let mut holdings = Holdings::default();
        holdings.update(assets);
        holdings
    }

    fn update(&mut self, assets: &[Asset]) {
        for asset in assets {
            let renter = asset.rental.map(|rental| rental.renter);
            if let Some((owner, old_renter)) = self.holders.insert(asset.id, (asset.owner, renter))
            {
                remove(&mut self.owned, &owner, &asset.id);
                if let Some(old) = old_renter {
                    remove(&mut self.renting, &old, &asset.id);
                }
            }
            self.owned.entry(asset.owner).or_default().insert(asset.id);
            if let Some(renter) = renter {
                self.renting.entry(renter).or_default().insert(asset.id);
            }
        }
    }

    fn ids(map: &HashMap<Address, BTreeSet<AssetId>>, who: &Address) -> Vec<AssetId> {
        map.get(who)
            .map(|ids| ids.iter().copied().collect())
            .unwrap_or_default()
    }
}

fn remove(map: &mut HashMap<Address, BTreeSet<AssetId>>, who: &Address, id: &AssetId) {
    if let Some(ids) = map.get_mut(who) {
        ids.remove(id);
        if ids.is_empty() {
            map.remove(who);
        }
    }
}

/// The ledger thread's state.
struct Node {
    ledger: Ledger,
    blobs: Arc<BlobStore>,
    mempool: Mempool,
    catalogue: Catalogue,
    worlds: Vec<WorldLayout>,
    holdings: Holdings,
    address: Address,
    settings: NodeSettings,
    events: broadcast::Sender<Arc<BlockEvent>>,
    accepted: broadcast::Sender<SignedTransaction>,
    work: watch::Sender<Work>,
    clock: Arc<dyn crate::clock::Clock>,
    /// Blocks checked for consensus, kept for their commit.
    prepared: Vec<ledger::PreparedBlock>,
    /// The earliest end of an active rental, as of the last commit.
    next_due: Option<Timestamp>,
}

/// Opens the ledger and blob store under `home` and starts the ledger
/// thread; `address` proposes this host's blocks; the catalogue places
/// listings in `worlds`.
pub(crate) fn start(
    ledger_path: &Path,
    blobs: Arc<BlobStore>,
    worlds: Vec<WorldLayout>,
    address: Address,
    settings: NodeSettings,
    clock: Arc<dyn crate::clock::Clock>,
) -> Result<(HostHandle, std::thread::JoinHandle<()>), HostError> {
    let ledger = Ledger::open(ledger_path)?;
    let catalogue = catalogue_of(&ledger, &blobs, &worlds)?;
    let holdings = Holdings::of(&ledger.assets()?);
    let mempool = Mempool::new(settings.mempool, ledger.verifier());
    let (commands, mut inbox) = mpsc::channel(COMMAND_QUEUE);
    let (requests, mut requested) = mpsc::channel(REQUEST_QUEUE);
    let (events, _) = broadcast::channel(EVENT_QUEUE);
    let (accepted, _) = broadcast::channel(ACCEPTED_QUEUE);
    let (work, work_rx) = watch::channel(Work::default());
    let mut node = Node {
        ledger,
        blobs,
        mempool,
        catalogue,
        worlds,
        holdings,
        address,
        settings,
        events: events.clone(),
        accepted: accepted.clone(),
        work,
        clock: clock.clone(),
        prepared: Vec::new(),
        next_due: None,
    };
    node.publish_work(true);
    let verifier = node.ledger.verifier();
    info!(
        chain = %node.ledger.chain().chain_id,
        height = node.ledger.height(),
        listings = node.catalogue.len(),
        "ledger open"
    );
    let thread = std::thread::Builder::new()
        .name("plaza-ledger".into())
        .spawn(move || {
            while let Some(command) = next_command(&mut inbox, &mut requested) {
                if matches!(command, Command::Shutdown) {
                    break;
                }
                node.handle(command);
            }
            // Whatever still waits is answered with `Stopped`.
            inbox.close();
            requested.close();
            debug!("ledger thread stopped");
        })
        .map_err(|err| HostError::io("ledger thread", err))?;
    Ok((
        HostHandle {
            commands,
            requests,
            events,
            accepted,
            work: work_rx,
            now: clock,
            misbehaviour: Arc::default(),
            verifier,
        },
        thread,
    ))
}

/// The ledger thread's next command: the engine's first, players' and
/// peers' requests only when none of those waits. `None` once the
/// engine's queue is closed.
fn next_command(
    commands: &mut mpsc::Receiver<Command>,
    requests: &mut mpsc::Receiver<Command>,
) -> Option<Command> {
    match commands.try_recv() {
        Ok(command) => return Some(command),
        Err(mpsc::error::TryRecvError::Disconnected) => return None,
        Err(mpsc::error::TryRecvError::Empty) => {}
    }
    if let Ok(request) = requests.try_recv() {
        return Some(request);
    }
    futures::executor::block_on(async {
        tokio::select! {
            biased;
            command = commands.recv() => command,
            Some(request) = requests.recv() => Some(request),
        }
    })
}

impl Node {
    fn handle(&mut self, command: Command) {
        // A listener that has gone away does not stop the thread.
        match command {
            Command::Submit(tx, reply) => {
                let now = self.clock.now().max(self.ledger.chain().time);
                let spread = (*tx).clone();
                // The handle checked the signature before sending it.
                let added = self
                    .mempool
                    .add(*tx, &self.ledger, now, SignatureChecked::Yes);
                if matches!(added, Ok(Added::New(_))) {
                    // Nobody listening (a host alone) is fine.
                    let _ = self.accepted.send(spread);
                    self.publish_work(false);
                }
                let _ = reply.send(added);
            }
            Command::SubmitGossiped(txs, reply) => {
                let now = self.clock.now().max(self.ledger.chain().time);
                let results: Vec<Result<Added, HostError>> = txs
                    .into_iter()
                    .map(|tx| {
                        self.mempool
                            .add(tx, &self.ledger, now, SignatureChecked::Yes)
                    })
                    .collect();
                if results
                    .iter()
                    .any(|added| matches!(added, Ok(Added::New(_))))
                {
                    self.publish_work(false);
                }
                let _ = reply.send(results);
            }
            Command::TxStatus(id, reply) => {
                let _ = reply.send(self.tx_status(&id));
            }
            Command::Status(reply) => {
                let _ = reply.send(NodeStatus {
                    chain_id: self.ledger.chain().chain_id.clone(),
                    address: self.address,
                    height: self.ledger.height(),
                    time: self.ledger.chain().time,
                    state_root: self.ledger.state_root(),
                    pending: self.mempool.len(),
                    listings: self.catalogue.len(),
                });
            }
            Command::Account(address, reply) => {
                let _ = reply.send(self.ledger.account(&address).map_err(Into::into));
            }
            Command::Browse(query, reply) => {
                let now = self.clock.now().max(self.ledger.chain().time);
                let _ = reply.send(self.catalogue.search(&query, now).map_err(Into::into));
            }
            Command::Quote(address, ask, reply) => {
                let now = self.clock.now().max(self.ledger.chain().time);
                let _ = reply.send(self.quote(&address, ask, now));
            }
            Command::Inventory(address, reply) => {
                let now = self.clock.now().max(self.ledger.chain().time);
                let _ = reply.send(self.inventory(&address, now));
            }
            Command::TradeAct(mut window, who, action, reply) => {
                let now = self.clock.now().max(self.ledger.chain().time);
                let before = window.clone();
                let outcome = window.act(&who, *action, now, &self.ledger);
                let window = if outcome.is_ok() { window } else { before };
                let _ = reply.send((window, outcome));
            }
            Command::Propose(time, reply) => {
                let time = time.max(self.ledger.chain().time);
                // Half the block's byte limit for transactions leaves ample
                // room for the header and the encoding's length prefixes.
                let txs = self
                    .mempool
                    .propose(self.settings.block_max_txs, MAX_BLOCK_BYTES / 2);
                let _ = reply.send(Ok(self.ledger.next_block(time, self.address, txs)));
            }
            Command::Check(block, reply) => {
                let _ = reply.send(self.check(*block));
            }
            Command::Commit(block, certificate, reply) => {
                let _ = reply.send(self.commit(*block, certificate.as_deref()));
            }
            Command::Certificate(height, reply) => {
                let _ = reply.send(self.ledger.certificate(height).map_err(Into::into));
            }
            Command::Validators(reply) => {
                let _ = reply.send(self.ledger.validators().map_err(Into::into));
            }
            Command::Block(height, reply) => {
                let _ = reply.send(
                    self.ledger
                        .block(height)
                        .map(|stored| stored.block)
                        .map_err(Into::into),
                );
            }
            Command::ValidatorsAt(height, reply) => {
                let _ = reply.send(self.ledger.validators_at(height).map_err(Into::into));
            }
            Command::StateRoot(height, reply) => {
                let _ = reply.send(self.ledger.state_root_at(height).map_err(Into::into));
            }
            Command::Shutdown => {}
        }
    }

    fn tx_status(&self, id: &TxId) -> Result<TxStatus, HostError> {
        if self.mempool.contains(id) {
            return Ok(TxStatus::Pending);
        }
        let Some(location) = self.ledger.transaction(id)? else {
            return Ok(TxStatus::Unknown);
        };
        let stored = self.ledger.block(location.height)?;
        let rejection = stored
            .results
            .get(location.index as usize)
            .and_then(|result| result.rejection.clone());
        Ok(TxStatus::Final {
            height: location.height,
            rejection,
        })
    }

    fn inventory(&self, address: &Address, now: Timestamp) -> Result<Inventory, HostError> {
        let read = |ids: Vec<AssetId>| -> Result<Vec<Asset>, HostError> {
            let mut assets = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(asset) = self.ledger.asset(&id)? {
                    assets.push(asset);
                }
            }
            Ok(assets)
        };
        Ok(Inventory {
            account: self.ledger.account(address)?,
            owned: read(Holdings::ids(&self.holdings.owned, address))?,
            renting: read(Holdings::ids(&self.holdings.renting, address))?,
            now,
        })
    }

    fn quote(&self, who: &Address, ask: QuoteAsk, now: Timestamp) -> Result<Quote, HostError> {
        let params = &self.ledger.chain().params;
        let listing_and_asset = |id: ListingId| -> Result<(Listing, Asset), HostError> {
            let listing = self
                .ledger
                .listing(id)?
                .ok_or(LedgerError::ListingNotFound(id))?;
            let asset = self
                .ledger
                .asset(&listing.asset)?
                .ok_or(LedgerError::AssetNotFound(listing.asset))?;
            Ok((listing, asset))
        };
        let balance = Some(self.ledger.account(who)?.balance);
        Ok(match ask {
            QuoteAsk::Rent { listing, periods } => {
                let (listing, asset) = listing_and_asset(listing)?;
                let quote =
                    market::rent_quote(&listing, &asset, params, who, periods, now, balance)?;
                Quote {
                    pay_now: quote.total_now,
                    amount: quote.rent,
                    deposit: quote.deposit,
                    royalty: quote.split.royalty,
                    fee: quote.split.fee,
                    to_lessor: quote.split.to_lessor,
                    to_renter: 0,
                    ends_at: Some(quote.ends_at),
                }
            }
            QuoteAsk::Buy { listing } => {
                let (listing, asset) = listing_and_asset(listing)?;
                let quote = market::sale_quote(&listing, &asset, params, who, now, balance)?;
                Quote {
                    pay_now: quote.price,
                    amount: quote.price,
                    royalty: quote.split.royalty,
                    fee: quote.split.fee,
                    to_lessor: quote.split.to_lessor,
                    ..Quote::default()
                }
            }
            QuoteAsk::Return { rental } => {
                let found = self
                    .ledger
                    .rental(rental)?
                    .ok_or(LedgerError::RentalNotFound(rental))?;
                let quote = market::return_quote(&found, params, who, now)?;
                Quote {
                    amount: quote.paid,
                    deposit: quote.deposit,
                    royalty: quote.split.royalty,
                    fee: quote.split.fee,
                    to_lessor: quote.split.to_lessor,
                    to_renter: quote.to_renter,
                    ..Quote::default()
                }
            }
        })
    }

    /// Verifies and applies `block` without writing; a valid one is kept
    /// so that committing it later writes what was worked out here.
    ///
    /// Every signature in the block is checked, those this host's mempool
    /// checked on arrival too: the block's signatures are checked in
    /// batches whose verdict on a malformed signature can depend on its
    /// batch, so every host must check the same batches to reach the same
    /// results.
    fn check(&mut self, block: Block) -> Result<(), HostError> {
        let prepared = self.ledger.prepare(block)?;
        if self.prepared.len() == PREPARED_KEPT {
            self.prepared.remove(0);
        }
        self.prepared.push(prepared);
        Ok(())
    }

    fn commit(&mut self, block: Block, certificate: Option<&[u8]>) -> Result<Height, HostError> {
        let hash = block.hash();
        let prepared = match self
            .prepared
            .iter()
            .position(|prepared| prepared.block().hash() == hash)
        {
            Some(index) => self.prepared.swap_remove(index),
            None => self.ledger.prepare(block)?,
        };
        self.prepared.clear();
        let manifests: Vec<ManifestBytes> = prepared
            .block()
            .txs
            .iter()
            .filter_map(|tx| match &tx.tx.op {
                Operation::Mint { manifest, .. } => Some(manifest.clone()),
                _ => None,
            })
            .collect();
        let committed = self.ledger.commit_prepared(prepared, certificate)?;
        let height = committed.height;
        self.keep_manifests(&committed, manifests);
        if let Err(err) = self
            .catalogue
            .apply(Changes::from(&committed), &StoredManifests(&self.blobs))
        {
            // The ledger is the truth: rebuild the index from it.
            warn!(%err, height, "catalogue out of step with the ledger; rebuilding it");
            self.catalogue = catalogue_of(&self.ledger, &self.blobs, &self.worlds)?;
        }
        self.holdings.update(&committed.assets);
        let dropped = self
            .mempool
            .on_block(&committed.results, committed.time, &self.ledger);
        debug!(
            height,
            txs = committed.results.len(),
            dropped = dropped.len(),
            "block applied"
        );
        self.publish_work(true);
        // Nobody listening is fine.
        let _ = self.events.send(Arc::new(BlockEvent {
            block: committed,
            dropped,
        }));
        Ok(height)
    }

    /// Stores the manifests of the assets `committed` minted, which came
    /// in the block itself, so the catalogue and players have them at
    /// once. One that cannot be stored is fetched when asked for.
    fn keep_manifests(&self, committed: &CommittedBlock, manifests: Vec<ManifestBytes>) {
        for manifest in manifests {
            let id = manifest.asset_id();
            // The block's changed assets are in id order.
            let minted = committed
                .assets
                .binary_search_by_key(&id, |asset| asset.id)
                .ok()
                .and_then(|at| committed.assets.get(at))
                .is_some_and(|asset| asset.minted_at == committed.height);
            if !minted {
                continue;
            }
            if let Err(err) = self.blobs.put(assets::Codec::Json, &manifest.0) {
                warn!(asset = %id, %err, "a minted asset's manifest could not be stored");
            }
        }
    }

    /// Tells the engine what waits. The next rental end is read from the
    /// ledger after a commit (`committed`), and otherwise kept: only a
    /// block changes it.
    fn publish_work(&mut self, committed: bool) {
        if committed {
            self.next_due = match self.ledger.next_rental_due() {
                Ok(due) => due,
                Err(err) => {
                    warn!(%err, "cannot read the next rental end");
                    None
                }
            };
        }
        let work = Work {
            pending: self.mempool.len(),
            next_due: self.next_due,
            stake_changes: !self.ledger.chain().validator_changes.is_empty(),
            height: self.ledger.height(),
            time: self.ledger.chain().time,
        };
        self.work.send_if_modified(|old| {
            let changed = *old != work;
            *old = work;
            changed
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> Command {
        Command::Status(oneshot::channel().0)
    }

    #[test]
    fn the_engines_commands_go_before_every_waiting_player_request() {
        let (commands, mut inbox) = mpsc::channel(COMMAND_QUEUE);
        let (requests, mut requested) = mpsc::channel(REQUEST_QUEUE);
        // Players fill their queue, and it holds no more.
        for _ in 0..REQUEST_QUEUE {
            requests.try_send(status()).unwrap();
        }
        assert!(matches!(
            requests.try_send(status()),
            Err(mpsc::error::TrySendError::Full(_))
        ));
        // The engine's command is next all the same.
        commands
            .try_send(Command::Validators(oneshot::channel().0))
            .unwrap();
        let next = next_command(&mut inbox, &mut requested);
        assert!(matches!(next, Some(Command::Validators(_))));
        // Players are served while the engine has nothing, and one more
        // command from it jumps the rest of their queue.
        assert!(matches!(
            next_command(&mut inbox, &mut requested),
            Some(Command::Status(_))
        ));
        commands
            .try_send(Command::Certificate(1, oneshot::channel().0))
            .unwrap();
        assert!(matches!(
            next_command(&mut inbox, &mut requested),
            Some(Command::Certificate(1, _))
        ));
        for _ in 1..REQUEST_QUEUE {
            assert!(matches!(
                next_command(&mut inbox, &mut requested),
                Some(Command::Status(_))
            ));
        }
        // With the engine gone the thread ends, whatever players still ask.
        requests.try_send(status()).unwrap();
        drop(commands);
        assert!(next_command(&mut inbox, &mut requested).is_none());
    }
}
