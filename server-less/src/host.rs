//! A running host: the ledger thread and its block engine.

use std::sync::Arc;

use assets::{BlobStore, ContentId, Manifest};
use std::time::Duration;

use ledger::{ChainId, SignedTransaction};
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use crate::clock::Clock;
use crate::config::Config;
use crate::consensus::{Bft, BftSettings};
use crate::engine::{Engine, Solo};
use crate::error::HostError;
use crate::home::Home;
use crate::home::HomeError;
use crate::link::{WorldLink, WorldRelay};
use crate::node::{self, HostHandle};
use crate::peers::{self, PeerConfig, PeerHandle, PeerLimits};
use crate::uploads::{UploadLimits, Uploads};

/// A host that is running.
pub struct Host {
    handle: HostHandle,
    stop: watch::Sender<bool>,
    engine: JoinHandle<Result<(), HostError>>,
    /// The peer network and its relay, when the host is one of many.
    network: Option<JoinHandle<Result<(), HostError>>>,
    /// `None` once stopped.
    ledger_thread: Option<std::thread::JoinHandle<()>>,
    blobs: Arc<BlobStore>,
    uploads: Arc<Uploads>,
    config: Config,
    /// Why the block engine stopped, once it has stopped on its own.
    engine_fault: watch::Receiver<Option<String>>,
    /// The session server's end of the peer network, until taken.
    link: std::sync::Mutex<Option<WorldLink>>,
    /// What the host's parts measure, for the operator.
    meters: Arc<crate::operator::Meters>,
    /// The network's genesis, as the home keeps it (none in a home made
    /// before it was kept).
    genesis: Option<Arc<crate::genesis::NetworkGenesis>>,
}

impl Host {
    /// Opens the host in `home` and starts its ledger thread and the solo
    /// block engine configured there. Must be called inside a Tokio
    /// runtime.
    pub fn start(home: &Home, clock: Arc<dyn Clock>) -> Result<Host, HostError> {
        let config = home.load_config()?;
        let engine: Box<dyn Engine> = match &config.network {
            None => Box::new(Solo {
                min_interval: Duration::from_millis(config.blocks.min_interval_ms),
            }),
            Some(network) => {
                let addresses = network.addresses().map_err(|reason| HomeError::Config {
                    path: home.config(),
                    reason,
                })?;
                let name = home.root().file_name().map_or_else(
                    || "host".to_owned(),
                    |name| name.to_string_lossy().into_owned(),
                );
                Box::new(Bft(BftSettings::for_home(
                    home,
                    ChainId::new(config.chain_id.as_str())?,
                    name,
                    addresses.consensus_listen,
                    addresses.consensus_peers,
                )?))
            }
        };
        Self::launch(home, &config, clock, engine)
    }

    /// As [`Host::start`], with another block engine.
    pub fn start_with(
        home: &Home,
        clock: Arc<dyn Clock>,
        engine: Box<dyn Engine>,
    ) -> Result<Host, HostError> {
        Self::launch(home, &home.load_config()?, clock, engine)
    }

    fn launch(
        home: &Home,
        config: &Config,
        clock: Arc<dyn Clock>,
        engine: Box<dyn Engine>,
    ) -> Result<Host, HostError> {
        let key = home.load_host_key()?;
        // Read once: what other hosts are offered, and what this one
        // fetches of the genesis's files.
        let genesis = if home.genesis().exists() {
            Some(Arc::new(crate::genesis::NetworkGenesis::load(
                &home.genesis(),
            )?))
        } else {
            None
        };
        let blobs = Arc::new(home.open_blobs()?);
        // The worlds' own things (trees, lamps), for players to fetch.
        for glb in crate::worlds::prop_files() {
            blobs.put(assets::Codec::Raw, glb)?;
        }
        let uploads = Arc::new(Uploads::open(&home.uploads(), UploadLimits::default())?);
        let mut settings = config.node_settings();
        // Only a host that can be joined (one of a network of hosts, that
        // keeps the genesis) takes snapshots for joining hosts.
        settings.snapshots = config
            .network
            .as_ref()
            .filter(|network| network.snapshot_every > 0 && genesis.is_some())
            .map(|network| {
                (
                    home.snapshots(),
                    network.snapshot_every,
                    network.snapshots_kept,
                )
            });
        let (handle, ledger_thread) = node::start(
            &home.ledger(),
            blobs.clone(),
            crate::worlds::builtin()
                .into_iter()
                .map(|world| world.layout)
                .collect(),
            key.address(),
            settings,
            clock,
        )?;
        let chain = handle.backlog().borrow().height;
        info!(home = %home.root().display(), height = chain, "host started");
        let (stop, stop_rx) = watch::channel(false);
        let meters = Arc::new(crate::operator::Meters::default());
        let mut link = None;
        let network = match &config.network {
            None => None,
            Some(network) => {
                let addresses = network.addresses().map_err(|reason| HomeError::Config {
                    path: home.config(),
                    reason,
                })?;
                let external = addresses
                    .peers_listen
                    .iter()
                    .flat_map(|address| peers::reachable(address, &config.sessions.public, None))
                    .collect();
                let peers = PeerConfig {
                    external,
                    listen: addresses.peers_listen,
                    bootstrap: addresses.bootstrap,
                    mdns: network.mdns,
                    limits: PeerLimits::default(),
                };
                let (ends, relayed) = crate::link::link();
                link = Some(ends);
                Some(tokio::spawn(relay(
                    handle.clone(),
                    peers::identity(key.seed())?,
                    ChainId::new(config.chain_id.as_str())?,
                    peers,
                    blobs.clone(),
                    relayed,
                    meters.clone(),
                    genesis
                        .as_ref()
                        .map(|genesis| genesis.minted())
                        .unwrap_or_default(),
                    stop_rx.clone(),
                )))
            }
        };
        let (fault, engine_fault) = watch::channel(None);
        let run = engine.run(handle.clone(), stop_rx.clone());
        let engine = tokio::spawn(async move {
            let result = run.await;
            // Asked to stop, the engine's end is no fault; otherwise the
            // host no longer follows the chain, and says so at once.
            if !*stop_rx.borrow() {
                let cause = match &result {
                    Ok(()) => "the block engine ended".to_owned(),
                    Err(err) => err.to_string(),
                };
                error!(%cause, "consensus has stopped: this host no longer follows the chain");
                let _ = fault.send(Some(cause));
            }
            result
        });
        Ok(Host {
            handle,
            stop,
            engine,
            network,
            ledger_thread: Some(ledger_thread),
            blobs,
            uploads,
            config: config.clone(),
            engine_fault,
            link: std::sync::Mutex::new(link),
            meters,
            genesis,
        })
    }

    /// The session server's end of the peer network (presence, and calls
    /// between hosts), once (`None` for a host of a network of one, and
    /// after the first call).
    pub fn take_world_link(&self) -> Option<WorldLink> {
        self.link
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }

    /// Why the block engine stopped on its own (`None` while it runs):
    /// from then on the host's state is frozen at its last block, and it
    /// must not be served as current.
    pub fn engine_fault(&self) -> watch::Receiver<Option<String>> {
        self.engine_fault.clone()
    }

    /// A handle for sessions, tools and tests.
    pub fn handle(&self) -> HostHandle {
        self.handle.clone()
    }

    /// The network's genesis, as the home keeps it.
    pub fn genesis(&self) -> Option<&crate::genesis::NetworkGenesis> {
        self.genesis.as_deref()
    }

    /// What the host's parts measure as they run, for the operator.
    pub fn meters(&self) -> Arc<crate::operator::Meters> {
        self.meters.clone()
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The blob store: asset manifests, models and previews.
    pub fn blobs(&self) -> Arc<BlobStore> {
        self.blobs.clone()
    }

    /// Players' uploads waiting to be minted.
    pub fn uploads(&self) -> Arc<Uploads> {
        self.uploads.clone()
    }

    /// Stops making blocks, lets the ledger thread finish what it holds,
    /// and closes the ledger. Everything committed stays committed.
    pub async fn stop(mut self) -> Result<(), HostError> {
        let _ = self.stop.send(true);
        if let Some(network) = self.network.take()
            && let Ok(Err(err)) = network.await
        {
            warn!(%err, "the peer network failed");
        }
        let engine = (&mut self.engine).await;
        // Handles still held elsewhere are answered `Stopped` from now on.
        self.handle.shutdown().await;
        if let Some(thread) = self.ledger_thread.take() {
            tokio::task::spawn_blocking(move || thread.join())
                .await
                .map_err(|_| HostError::Stopped)?
                .map_err(|_| HostError::Stopped)?;
        }
        info!("host stopped");
        match engine {
            Ok(result) => result,
            Err(_) => Err(HostError::Stopped),
        }
    }
}

impl Drop for Host {
    /// A host dropped without [`Host::stop`] (an error path, a test) still
    /// closes its ledger before it is gone: the ledger thread finishes
    /// what is queued and stops, rather than outlive the host with the
    /// store open while the process exits.
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.engine.abort();
        if let Some(network) = &self.network {
            network.abort();
        }
        if let Some(thread) = self.ledger_thread.take() {
            if self.handle.try_shutdown() {
                let _ = thread.join();
            } else {
                warn!("the ledger queue is full; the ledger thread stops on its own");
            }
        }
    }
}

/// Gossiped transactions handed to the ledger thread at once, at most.
const GOSSIP_BATCH: usize = 256;
/// Transactions kept to gossip again once a peer listens.
const MAX_UNSENT: usize = 1024;
/// How long such a transaction is tried.
const UNSENT_FOR: Duration = Duration::from_secs(60);

/// Assets whose files wait to be fetched from other hosts; more are
/// dropped (and fetched when a player asks for them).
const WANTED_FILES: usize = 256;
/// Files this host announces to the network when it starts, at most.
const ANNOUNCED_AT_START: usize = 4_096;
/// Tries to find a new asset's files at other hosts before giving up.
const FETCH_TRIES: u32 = 5;
/// The largest preview picture fetched for a new asset.
const MAX_FETCHED_PREVIEW: u64 = 4 << 20;
/// The largest model fetched for a new asset.
const MAX_FETCHED_MODEL: u64 = 32 << 20;
/// Bytes of previews and models fetched for new assets in one hour, at
/// most: minting is open to everyone (for a fee), so what others mint
/// must not fill this host's disk. A file left out is still served by the
/// hosts that have it.
const FILE_BYTES_PER_HOUR: u64 = 2 << 30;

/// Whether `blobs` holds the asset whose manifest is `manifest` whole:
/// the manifest, its preview and its model.
fn holds_whole(blobs: &BlobStore, manifest: ContentId) -> bool {
    let complete = |id: &ContentId| matches!(blobs.status(id), Ok(assets::BlobStatus::Complete));
    if !complete(&manifest) {
        return false;
    }
    match blobs
        .get(&manifest)
        .map(|bytes| Manifest::from_json(&bytes))
    {
        Ok(Ok(read)) => complete(&read.preview) && complete(&read.model),
        _ => false,
    }
}

/// Keeps the count of connected peers in `meters`, every two seconds.
async fn count_peers(peers: peers::PeerHandle, meters: Arc<crate::operator::Meters>) {
    let mut every = tokio::time::interval(Duration::from_secs(2));
    loop {
        every.tick().await;
        match peers.status().await {
            Ok(status) => meters.peers.store(
                status.connected.len() as u64,
                std::sync::atomic::Ordering::Relaxed,
            ),
            Err(_) => return,
        }
    }
}

/// Runs the host's peer network: transactions other hosts gossip go to the
/// mempool, which gives each its verdict, and transactions this host's
/// players submit are gossiped to the others. Every asset minted in a
/// block has its files fetched from a host that has them, unless this
/// host has them already, and this host then offers them too.
#[allow(clippy::too_many_arguments)]
async fn relay(
    handle: HostHandle,
    key: libp2p::identity::Keypair,
    chain: ChainId,
    config: PeerConfig,
    blobs: Arc<BlobStore>,
    relay: WorldRelay,
    meters: Arc<crate::operator::Meters>,
    minted_at_genesis: Vec<ContentId>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), HostError> {
    let (peers, mut inbound) = match peers::start(key, &chain, config, Some(blobs.clone())).await {
        Ok(started) => started,
        Err(err) => {
            error!(%err, "the peer network could not start; transactions will not spread");
            return Err(err);
        }
    };
    info!(peer = %peers.id(), addresses = ?peers.addresses(), "peer network up");
    let WorldRelay {
        outgoing: mut presence_out,
        incoming: presence_in,
        calls: mut calls_out,
        called,
    } = relay;
    if let Err(err) = peers.follow_presence(presence_in).await {
        warn!(%err, "players on other hosts will not be seen here");
    }
    if let Err(err) = peers.follow_calls(called).await {
        warn!(%err, "players here cannot trade with players of other hosts");
    }
    let (want, wanted) = mpsc::channel(WANTED_FILES);
    // What the network's genesis minted, where this host lacks any of its
    // files (a host that joined the network, or one stopped while it
    // fetched them): fetched like any new asset's files.
    let backfill = want.clone();
    let store = blobs.clone();
    let ledger = handle.clone();
    let _backfill = AbortOnDrop(tokio::spawn(async move {
        // A host that started from a snapshot has none of the files of
        // what was minted before it: those too.
        let restored = match ledger.unfetched_assets().await {
            Ok(restored) => restored,
            Err(err) => {
                warn!(%err, "the ledger's assets cannot be read: the files of what was minted before this host's snapshot are not fetched");
                Vec::new()
            }
        };
        let mut seen = std::collections::HashSet::new();
        for manifest in minted_at_genesis.into_iter().chain(restored) {
            if !seen.insert(manifest) {
                continue;
            }
            let held = store.clone();
            if matches!(
                peers::blocking(move || Ok(holds_whole(&held, manifest))).await,
                Ok(true)
            ) {
                continue;
            }
            if backfill.send(manifest).await.is_err() {
                return;
            }
        }
    }));
    let _files = AbortOnDrop(tokio::spawn(share_files(peers.clone(), blobs, wanted)));
    let _count = AbortOnDrop(tokio::spawn(count_peers(peers.clone(), meters)));
    let mut blocks = handle.subscribe();
    let mut accepted = handle.accepted();
    // Transactions no peer listened for yet (the network still forming),
    // tried again every second while they may still be pending.
    let mut unsent: std::collections::VecDeque<(SignedTransaction, Instant)> =
        std::collections::VecDeque::new();
    let mut retry = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = retry.tick(), if !unsent.is_empty() => {
                for _ in 0..unsent.len() {
                    let Some((tx, since)) = unsent.pop_front() else { break };
                    if since.elapsed() > UNSENT_FOR {
                        continue;
                    }
                    if !matches!(peers.publish(&tx).await, Ok(true)) {
                        unsent.push_back((tx, since));
                    }
                }
            }
            event = blocks.recv() => match event {
                Ok(event) => {
                    let minted = event
                        .block
                        .assets
                        .iter()
                        .filter(|asset| asset.minted_at == event.block.height);
                    for asset in minted {
                        if want.try_send(asset.id.0).is_err() {
                            debug!(asset = %asset.id, "too many files waiting; this one is fetched when asked for");
                        }
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    warn!(missed, "the peer network fell behind the blocks; some assets' files were not fetched");
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
            Some(presence) = presence_out.recv() => peers.publish_presence(&presence),
            Some(call) = calls_out.recv() => peers.call(call),
            gossiped = inbound.recv() => {
                let Some(first) = gossiped else { return Ok(()) };
                // What else has arrived goes to the ledger thread with it.
                let mut batch = vec![first];
                while batch.len() < GOSSIP_BATCH {
                    match inbound.try_recv() {
                        Ok(more) => batch.push(more),
                        Err(_) => break,
                    }
                }
                if handle.submit_gossiped(batch).await.is_err() {
                    // The host is stopping.
                    return Ok(());
                }
            }
            tx = accepted.recv() => match tx {
                Ok(tx) => match peers.publish(&tx).await {
                    Ok(true) => {}
                    Ok(false) => {
                        if unsent.len() < MAX_UNSENT {
                            unsent.push_back((tx, Instant::now()));
                        }
                    }
                    Err(err) => debug!(%err, "a transaction could not be gossiped"),
                },
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    warn!(missed, "the peer network fell behind; some transactions were not gossiped");
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
            _ = stop.changed() => return Ok(()),
        }
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Offers the files this host holds to the network, then fetches each
/// asset's files as `wanted` names it, in turn.
async fn share_files(
    peers: PeerHandle,
    blobs: Arc<BlobStore>,
    mut wanted: mpsc::Receiver<ContentId>,
) {
    let store = blobs.clone();
    match peers::blocking(move || store.ids()).await {
        Ok(ids) => {
            for id in ids.into_iter().take(ANNOUNCED_AT_START) {
                offer(&peers, id).await;
            }
        }
        Err(HostError::Stopped) => return,
        Err(err) => {
            warn!(%err, "the file store could not be listed; its files are not announced")
        }
    }
    let mut budget = FileBudget::new();
    while let Some(manifest) = wanted.recv().await {
        let mut tries = 0;
        loop {
            tries += 1;
            match share_asset(&peers, &blobs, manifest, &mut budget).await {
                Ok(()) => break,
                // The host that minted it may not have announced it yet.
                Err(err) if tries < FETCH_TRIES => {
                    debug!(%manifest, %err, tries, "an asset's files are not to be had yet");
                    tokio::time::sleep(Duration::from_secs(1 << tries)).await;
                }
                Err(err) => {
                    warn!(%manifest, %err, "an asset's files could not be fetched from other hosts");
                    break;
                }
            }
        }
    }
}

/// Preview and model bytes fetched unasked in the current hour.
struct FileBudget {
    since: Instant,
    spent: u64,
}

impl FileBudget {
    fn new() -> Self {
        FileBudget {
            since: Instant::now(),
            spent: 0,
        }
    }

    /// How many bytes may still be fetched this hour.
    fn left(&mut self) -> u64 {
        if self.since.elapsed() >= Duration::from_secs(3_600) {
            *self = FileBudget::new();
        }
        FILE_BYTES_PER_HOUR.saturating_sub(self.spent)
    }

    /// Counts what `file`, now in `blobs`, took.
    async fn spend(&mut self, blobs: &Arc<BlobStore>, file: ContentId) -> Result<(), HostError> {
        let store = blobs.clone();
        let info = peers::blocking(move || store.info(&file)).await?;
        self.spent = self.spent.saturating_add(info.map_or(0, |info| info.size));
        Ok(())
    }
}

/// Fetches an asset's manifest (every host has it already: the mint
/// carried it), then the preview and model it names, each checked piece by
/// piece, each within its size bound and only while the hour's budget
/// lasts, and offers what it holds.
async fn share_asset(
    peers: &PeerHandle,
    blobs: &Arc<BlobStore>,
    manifest: ContentId,
    budget: &mut FileBudget,
) -> Result<(), HostError> {
    peers
        .fetch_at_most(manifest, assets::MAX_MANIFEST_BYTES as u64)
        .await?;
    offer(peers, manifest).await;
    let store = blobs.clone();
    let bytes = peers::blocking(move || store.get(&manifest)).await?;
    let read = Manifest::from_json(&bytes)?;
    for (file, largest) in [
        (read.preview, MAX_FETCHED_PREVIEW),
        (read.model, MAX_FETCHED_MODEL),
    ] {
        let store = blobs.clone();
        let held = peers::blocking(move || store.contains(&file)).await?;
        if !held {
            let allowed = largest.min(budget.left());
            if allowed == 0 {
                info!(%file, "this hour's budget for fetching files is spent; the file stays with the hosts that have it");
                return Ok(());
            }
            if let Err(err) = peers.fetch_at_most(file, allowed).await {
                // The preview is tried again with the manifest; a model
                // is not: the hosts that announced the manifest announced
                // it too.
                if file == read.preview {
                    return Err(err);
                }
                info!(%file, %err, "a new asset's model was not fetched; it stays with the hosts that have it");
                return Ok(());
            }
            budget.spend(blobs, file).await?;
        }
        offer(peers, file).await;
    }
    Ok(())
}

/// Announces that this host holds `file`; one that cannot be announced
/// is still served to whoever asks.
async fn offer(peers: &PeerHandle, file: ContentId) {
    if let Err(err) = peers.provide(file).await {
        debug!(%file, %err, "a file could not be announced");
    }
}
