//! The ledger thread: the one place the host's ledger, mempool and
//! catalogue are changed. Everything else talks to it through a
//! [`HostHandle`]: commands with replies over a bounded channel, and
//! committed blocks broadcast to whoever listens.

mod handle;
mod thread;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use assets::BlobStore;
use ledger::{
    Account, Address, Asset, AssetId, Block, ChainId, CommittedBlock, Height, Ledger, LedgerError,
    MAX_BLOCK_TXS, SignedTransaction, StateRoot, Timestamp, TxId, Validator,
};
use market::catalogue::{Page, ParcelChange, Query, WorldLayout};
use market::trade::Action;
use market::wear::Slot;
use market::{MarketError, TradeWindow};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tracing::{debug, info};

pub use self::handle::HostHandle;
pub(crate) use self::handle::ask;
use self::thread::{Holdings, Node, catalogue_of};
use crate::error::HostError;
use crate::mempool::{Added, Mempool, MempoolLimits};
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
#[derive(Clone, Debug)]
pub struct NodeSettings {
    /// Mempool bounds.
    pub mempool: MempoolLimits,
    /// Most transactions in one block.
    pub block_max_txs: usize,
    /// The network's founder, whose deeds are the worlds' parcels.
    pub founder: Option<Address>,
    /// Where to keep state snapshots for joining hosts, after every how
    /// many blocks, and how many; none for a host that cannot be joined.
    pub snapshots: Option<(std::path::PathBuf, u64, usize)>,
}

impl Default for NodeSettings {
    fn default() -> Self {
        NodeSettings {
            mempool: MempoolLimits::default(),
            block_max_txs: MAX_BLOCK_TXS,
            founder: None,
            snapshots: None,
        }
    }
}

/// What waits for a block, and the head it would go on: what the
/// block-ordering engine needs to know to decide when to make one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backlog {
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
    /// The worlds whose stalls or parcels show other listings after it
    /// (a listing opened, closed, expired, rented out or back, or placed
    /// elsewhere): their players restock what they show.
    pub restock: Vec<String>,
    /// Parcels whose deed or holder changed in it.
    pub parcels: Vec<ParcelChange>,
}

/// Whether `holder` may put `things` down on the parcel `deed`, held
/// under `tenure`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaceableAsk {
    /// Who puts them down.
    pub holder: Address,
    /// The parcel's deed.
    pub deed: AssetId,
    /// The tenure the holder says it holds the deed under.
    pub tenure: market::wear::Tenure,
    /// The things.
    pub things: Vec<AssetId>,
}

/// The ledger's word on a [`PlaceableAsk`] at `height`: `None` where the
/// holder may, else why not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placeable {
    /// The state checked against.
    pub height: Height,
    /// Whether the holder holds the parcel under that tenure.
    pub parcel: Option<String>,
    /// One verdict per thing asked about, in order.
    pub verdicts: Vec<Option<String>>,
}

/// The worlds' layouts as of a block: each parcel with its deed, holder
/// and tenure.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Lands {
    /// The block.
    pub height: Height,
    /// Its time.
    pub time: Timestamp,
    /// The layouts, world by world.
    pub worlds: Vec<WorldLayout>,
}

/// Every parcel of `worlds` as it is (deed, holder and tenure): for
/// players to read all again.
pub(crate) fn parcels_of(worlds: &[WorldLayout]) -> Vec<ParcelChange> {
    worlds
        .iter()
        .flat_map(|layout| {
            layout
                .parcels
                .iter()
                .enumerate()
                .filter_map(|(index, parcel)| {
                    Some(ParcelChange {
                        world: layout.name.clone(),
                        parcel: u16::try_from(index).ok()?,
                        deed: parcel.deed,
                        holder: parcel.holder,
                        tenure: parcel.tenure,
                    })
                })
        })
        .collect()
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
    /// The median time the last block's transactions that arrived here
    /// took to be final (from arrival to commit), if any did.
    pub finality: Option<std::time::Duration>,
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
    Wear(
        Address,
        AssetId,
        Slot,
        oneshot::Sender<Result<Height, HostError>>,
    ),
    Placeable(
        Box<PlaceableAsk>,
        oneshot::Sender<Result<Placeable, HostError>>,
    ),
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
    /// Every asset's manifest id, where the ledger started from a
    /// snapshot (it holds no block 1): the blocks that minted them never
    /// came here, nor did their files.
    UnfetchedAssets(oneshot::Sender<Result<Vec<assets::ContentId>, HostError>>),
    ValidatorsAt(Height, oneshot::Sender<Result<Vec<Validator>, HostError>>),
    Block(Height, oneshot::Sender<Result<Block, HostError>>),
    StateRoot(Height, oneshot::Sender<Result<StateRoot, HostError>>),
    /// Ends the ledger thread once the commands before it are answered.
    Shutdown,
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
    let catalogue = catalogue_of(&ledger, &blobs, &worlds, settings.founder)?;
    let holdings = Holdings::of(&ledger.assets()?);
    let mempool = Mempool::new(settings.mempool, ledger.verifier());
    // Snapshots are for others: one that cannot be kept stops none of
    // this host's own work.
    let snapshots = settings.snapshots.clone().and_then(|(dir, every, keep)| {
        crate::snapshots::Snapshots::open(dir, every, keep)
            .map_err(|err| tracing::error!(%err, "no snapshots are taken for joining hosts"))
            .ok()
    });
    let (commands, mut inbox) = mpsc::channel(COMMAND_QUEUE);
    let (requests, mut requested) = mpsc::channel(REQUEST_QUEUE);
    let (events, _) = broadcast::channel(EVENT_QUEUE);
    let (accepted, _) = broadcast::channel(ACCEPTED_QUEUE);
    let (work, work_rx) = watch::channel(Backlog::default());
    let (lands, lands_rx) = watch::channel(Arc::new(Lands {
        height: ledger.height(),
        time: ledger.chain().time,
        worlds: catalogue.worlds().to_vec(),
    }));
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
        lands,
        snapshots,
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
            lands: lands_rx,
            now: clock,
            misbehaviour: Arc::default(),
            verifier,
            current: Arc::new(watch::channel(true).0),
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
