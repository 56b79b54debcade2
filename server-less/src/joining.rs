//! Making a home for a host that joins a running network from another
//! machine: `plaza-host init --join <host> --genesis <hash>`.
//!
//! The new host asks one host of the network (at its join endpoint, the
//! address players use) what network it is, fetches the network's genesis
//! from it, and checks it against the genesis hash the operator trusts
//! (which `plaza-host status` prints on any host of the network): the
//! hash is recomputed from what was fetched, and every block in it is
//! replayed into the new ledger with its signatures and rules checked.
//! Nothing the host says is believed beyond that; the addresses it names
//! are only where to look for peers, and the blocks after the genesis
//! come certified by the validators when the new host runs.
//!
//! Where the host offers a state snapshot, the new ledger starts from it
//! rather than from the genesis (unless `--full-replay`): the snapshot's
//! root must be the one a header names that the validators certified, the
//! validators being followed from those the genesis leaves through every
//! change of the set, each certified by the set before it. The chunks
//! come on several connections at once, each checked against the
//! snapshot's manifest, and the state they make against the root.
//!
//! The home is made in a directory beside it and moved into place only
//! when it is whole: a failed join leaves nothing behind.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use ledger::light::CertifiedState;
use ledger::snapshot::SnapshotManifest;
use ledger::{Address, Keypair, Ledger, Restore};
use libp2p::Multiaddr;
use plaza_client::network::{NetworkAsk, SnapshotHead, SnapshotOffer};
use rand::rngs::OsRng;
use tracing::info;

use crate::config::{Config, NetworkConfig};
use crate::error::HostError;
use crate::genesis::{NetworkGenesis, NetworkHash};
use crate::home::{Home, HomeError, write_key};

/// How long to wait for each answer of the host joined through.
const WAIT: Duration = Duration::from_secs(10);
/// How many connections fetch a snapshot's chunks at once.
const CHUNK_FETCHERS: usize = 3;

/// How far a join has come, for a progress bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Bytes of the genesis fetched, of all.
    Genesis {
        /// Fetched so far.
        got: u64,
        /// In all.
        total: u64,
    },
    /// Bytes of the snapshot's chunks fetched and checked, of all.
    Snapshot {
        /// The height the snapshot's state is after.
        height: u64,
        /// Bytes fetched so far.
        got: u64,
        /// In all.
        total: u64,
        /// Chunks fetched so far.
        chunks: usize,
        /// Chunks in all.
        of: usize,
    },
}

/// Where the joining host listens on its own machine.
#[derive(Clone, Debug)]
pub struct JoinOptions {
    /// The address every endpoint binds to (`0.0.0.0` for every
    /// interface).
    pub bind: IpAddr,
    /// The addresses players and hosts reach it at, where not `bind`.
    pub public: Vec<IpAddr>,
    /// Its ports: this one for players' joins, the next for sessions
    /// (UDP), then the peer network (TCP and QUIC), then consensus, then
    /// the operator's port (metrics and the status page).
    pub base_port: u16,
    /// Replay every block from the genesis rather than start from a
    /// snapshot the host offers.
    pub full_replay: bool,
}

/// What a join made.
#[derive(Clone, Debug)]
pub struct Joined {
    /// The network.
    pub chain_id: String,
    /// The new host's key's address.
    pub host: Address,
    /// The height its ledger starts at; the rest comes when it runs.
    pub start_height: u64,
    /// Whether it starts from a snapshot (at `start_height`).
    pub from_snapshot: bool,
    /// The network's height, as the host joined through said.
    pub network_height: u64,
    /// Peer addresses recorded to join the peer network through.
    pub bootstrap: usize,
    /// Validators' consensus addresses recorded.
    pub consensus_peers: usize,
}

/// Makes a home in `home` for a host of the network that the host whose
/// join endpoint is `from` belongs to, if its genesis is the one `trusted`
/// names. `progress` hears how far the join has come.
pub fn join(
    home: &Home,
    from: SocketAddr,
    trusted: NetworkHash,
    options: &JoinOptions,
    mut progress: impl FnMut(Progress),
) -> Result<Joined, HostError> {
    let root = home.root();
    crate::home::refuse_occupied(root)?;
    let refused = |reason: String| HostError::from(HomeError::Join(reason));
    let ask = NetworkAsk::ask(from, WAIT).map_err(|err| {
        HostError::from(HomeError::Unreachable(format!(
            "asking the host at {from}: {err}"
        )))
    })?;
    let info = ask.info.clone();
    if info.genesis != trusted.0 {
        return Err(refused(format!(
            "the host at {from} is on network {:?} whose genesis hash is {}, not {trusted}, the \
             one you trust: check the hash (`plaza-host status` on a host of the network you \
             mean prints it) and the address",
            info.chain_id,
            NetworkHash(info.genesis)
        )));
    }
    if info.genesis_bytes == 0 {
        return Err(refused(format!(
            "the host at {from} cannot be joined: it runs a network of one host, or keeps no \
             genesis; join through another host of the network"
        )));
    }
    let total = u64::from(info.genesis_bytes);
    let bytes = ask
        .genesis(|got| {
            progress(Progress::Genesis {
                got: got as u64,
                total,
            })
        })
        .map_err(|err| refused(format!("fetching the genesis from {from}: {err}")))?;
    let genesis = NetworkGenesis::from_bytes(&bytes)
        .map_err(|reason| refused(format!("the genesis {from} sent is malformed: {reason}")))?;
    let hash = genesis.hash();
    if hash != trusted {
        return Err(refused(format!(
            "the genesis {from} sent hashes to {hash}, not to {trusted}, the hash you trust: it \
             is forged or of another network; nothing was kept"
        )));
    }
    if genesis.genesis.chain_id.as_str() != info.chain_id {
        return Err(refused(format!(
            "the host at {from} says network {:?} but its genesis is network {}'s",
            info.chain_id, genesis.genesis.chain_id
        )));
    }
    let bootstrap: Vec<String> = info
        .peers
        .iter()
        .filter_map(|text| text.parse::<Multiaddr>().ok())
        .filter(|address| crate::peers::peer_of(address).is_some())
        .map(|address| address.to_string())
        .collect();
    if bootstrap.is_empty() {
        return Err(refused(format!(
            "the host at {from} named no peer address to join the network through"
        )));
    }
    let ports = Ports::from(options.base_port)?;
    let own_consensus = tcp_address(options.bind, ports.consensus);
    let consensus_peers: Vec<String> = info
        .consensus
        .iter()
        .filter_map(|text| text.parse::<Multiaddr>().ok())
        .map(|address| address.to_string())
        .filter(|address| *address != own_consensus)
        .collect();

    let staging = Staging::new(root)?;
    let made = Home::new(staging.path());
    genesis.replay(&made.ledger())?;
    genesis.write(&made.genesis())?;
    let mut start_height = genesis.blocks.len() as u64;
    let snapshot = info
        .snapshot
        .filter(|offer| !options.full_replay && offer.height > start_height);
    if let Some(offer) = snapshot {
        start_height = restore(from, &info.chain_id, offer, &made, &mut progress)?;
    }
    let key = Keypair::generate(&mut OsRng);
    write_key(&made.host_key(), &key)?;
    let mut config = Config::new(genesis.genesis.chain_id.as_str());
    config.founder = genesis.founder.map(|founder| founder.to_string());
    config.sessions.bind = options.bind;
    config.sessions.public = options.public.clone();
    config.sessions.join_port = ports.join;
    config.sessions.udp_port = ports.sessions;
    // The operator's port stays on this machine.
    config.operator = Some(crate::config::OperatorConfig {
        listen: SocketAddr::new(IpAddr::from([127, 0, 0, 1]), ports.operator),
    });
    config.network = Some(NetworkConfig {
        consensus_listen: own_consensus,
        consensus_peers: consensus_peers.clone(),
        peers_listen: crate::peers::PeerConfig::on(options.bind, ports.peers)
            .listen
            .iter()
            .map(ToString::to_string)
            .collect(),
        bootstrap: bootstrap.clone(),
        mdns: false,
        snapshot_every: crate::config::DEFAULT_SNAPSHOT_EVERY,
        snapshots_kept: 2,
    });
    config.check().map_err(|reason| HomeError::Config {
        path: home.config(),
        reason,
    })?;
    crate::home::write_file(&made.config(), config.to_toml().as_bytes(), false)?;
    staging.finish(root)?;
    info!(
        chain = %genesis.genesis.chain_id,
        %from,
        start_height,
        network_height = info.height,
        "joined the network"
    );
    Ok(Joined {
        chain_id: info.chain_id,
        host: key.address(),
        start_height,
        from_snapshot: snapshot.is_some(),
        network_height: info.height,
        bootstrap: bootstrap.len(),
        consensus_peers: consensus_peers.len(),
    })
}

/// Replaces the ledger `made` holds (the genesis replayed) with the
/// snapshot `offer` names, fetched from the host at `from` and checked
/// against what the genesis trusts; returns its height.
fn restore(
    from: SocketAddr,
    chain: &str,
    offer: SnapshotOffer,
    made: &Home,
    progress: &mut impl FnMut(Progress),
) -> Result<u64, HostError> {
    let refused = |reason: String| HostError::from(HomeError::Join(reason));
    let height = offer.height;
    let fetch_failed = |err: plaza_client::ClientError| {
        refused(format!("fetching snapshot {height} from {from}: {err}"))
    };
    let head = NetworkAsk::ask(from, WAIT)
        .and_then(|mut ask| ask.snapshot_item(height, 0, offer.head_bytes as usize))
        .map_err(fetch_failed)?;
    let head = SnapshotHead::from_bytes(&head)
        .map_err(|err| refused(format!("snapshot {height} from {from}: {err}")))?;
    let malformed = |err: ledger::LedgerError| {
        refused(format!("snapshot {height} from {from} is malformed: {err}"))
    };
    let manifest = SnapshotManifest::from_bytes(&head.manifest).map_err(malformed)?;
    let certified = CertifiedState::from_bytes(&head.certified).map_err(malformed)?;
    let named: u64 = head.chunk_lengths.iter().map(|l| u64::from(*l)).sum();
    if head.chunk_lengths.len() != manifest.chunks.len() || named != manifest.bytes {
        return Err(refused(format!(
            "snapshot {height} from {from} names {} chunk lengths ({named} bytes) for {} chunks \
             ({} bytes)",
            head.chunk_lengths.len(),
            manifest.chunks.len(),
            manifest.bytes
        )));
    }

    // What the genesis leaves is trusted: its state, and the validators of
    // the first height consensus decided.
    let (trusted, genesis_height, genesis_block) = {
        let replayed = Ledger::open(made.ledger())?;
        let after = replayed.height();
        (
            replayed.validators_at(after + 1)?,
            after,
            replayed.block(0)?.block.hash(),
        )
    };
    let root = certified
        .verify(&manifest.chain_id, &trusted, genesis_height)
        .map_err(|err| refused(format!("snapshot {height} from {from}: {err}")))?;
    if manifest.chain_id.as_str() != chain
        || manifest.height != height
        || certified.state_height() != height
        || root != manifest.state_root
    {
        return Err(refused(format!(
            "snapshot {height} from {from} is not the state the validators certified: its \
             manifest names {} at height {}, root {}; the certified header names root {root} \
             after height {}",
            manifest.chain_id,
            manifest.height,
            manifest.state_root,
            certified.state_height()
        )));
    }

    let ledger_dir = made.ledger();
    std::fs::remove_dir_all(&ledger_dir).map_err(|err| HostError::io(&ledger_dir, err))?;
    let mut restore = Restore::begin(&ledger_dir, manifest)?;
    let lengths = head.chunk_lengths;
    let total: u64 = lengths.iter().map(|length| u64::from(*length)).sum();
    let of = lengths.len();
    let queue = Mutex::new(restore.missing());
    let (sender, received) = std::sync::mpsc::sync_channel(CHUNK_FETCHERS);
    std::thread::scope(|scope| -> Result<(), HostError> {
        for _ in 0..CHUNK_FETCHERS.min(of) {
            let sender = sender.clone();
            let (queue, lengths) = (&queue, &lengths);
            scope.spawn(move || {
                let mut ask = match NetworkAsk::ask(from, WAIT) {
                    Ok(ask) => ask,
                    Err(err) => {
                        let _ = sender.send(Err(err));
                        return;
                    }
                };
                loop {
                    let next = queue.lock().map(|mut queue| queue.pop()).unwrap_or(None);
                    let Some(index) = next else { return };
                    let Some(&length) = lengths.get(index as usize) else {
                        return;
                    };
                    let fetched = ask
                        .snapshot_item(height, index + 1, length as usize)
                        .map(|bytes| (index, bytes));
                    let failed = fetched.is_err();
                    // The receiver gone (a failure elsewhere) stops this one.
                    if sender.send(fetched).is_err() || failed {
                        return;
                    }
                }
            });
        }
        drop(sender);
        let mut got = 0u64;
        let mut chunks = 0usize;
        let outcome = (|| {
            for fetched in &received {
                let (index, bytes) = fetched.map_err(fetch_failed)?;
                restore.add(index, &bytes).map_err(|err| {
                    refused(format!(
                        "chunk {index} of snapshot {height} from {from}: {err}"
                    ))
                })?;
                got += bytes.len() as u64;
                chunks += 1;
                progress(Progress::Snapshot {
                    height,
                    got,
                    total,
                    chunks,
                    of,
                });
            }
            Ok(())
        })();
        // Stops the fetchers still at work.
        if let Ok(mut queue) = queue.lock() {
            queue.clear();
        }
        drop(received);
        outcome
    })?;
    let missing = restore.missing().len();
    if missing > 0 {
        return Err(refused(format!(
            "snapshot {height} from {from}: {missing} chunks never came"
        )));
    }
    drop(restore.finish(genesis_block)?);
    crate::snapshots::write_changes(&made.snapshots(), &certified.changes)?;
    info!(
        height,
        chunks = of,
        bytes = total,
        "ledger restored from a snapshot"
    );
    Ok(height)
}

/// A host's ports from its first.
struct Ports {
    join: u16,
    sessions: u16,
    peers: u16,
    consensus: u16,
    operator: u16,
}

impl Ports {
    fn from(base: u16) -> Result<Ports, HostError> {
        let at = |offset: u16| {
            base.checked_add(offset).ok_or_else(|| {
                HostError::from(HomeError::Join(format!(
                    "port {base} leaves no room for the host's five ports"
                )))
            })
        };
        Ok(Ports {
            join: at(0)?,
            sessions: at(1)?,
            peers: at(2)?,
            consensus: at(3)?,
            operator: at(4)?,
        })
    }
}

/// `/ip4/<ip>/tcp/<port>` (or `/ip6/…`).
fn tcp_address(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(ip) => format!("/ip4/{ip}/tcp/{port}"),
        IpAddr::V6(ip) => format!("/ip6/{ip}/tcp/{port}"),
    }
}

/// A home being made beside where it goes, removed unless finished.
struct Staging {
    path: PathBuf,
    done: bool,
}

impl Staging {
    fn new(root: &Path) -> Result<Staging, HostError> {
        let name = root
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| "host".into());
        let parent = root.parent().unwrap_or_else(|| Path::new("."));
        std::fs::create_dir_all(parent).map_err(|err| HostError::io(parent, err))?;
        let path = parent.join(format!(".{name}.joining-{:08x}", rand::random::<u32>()));
        std::fs::create_dir(&path).map_err(|err| HostError::io(&path, err))?;
        Ok(Staging { path, done: false })
    }

    fn path(&self) -> &Path {
        &self.path
    }

    /// Moves the home into place.
    fn finish(mut self, root: &Path) -> Result<(), HostError> {
        if root.exists() {
            // Checked empty at the start.
            std::fs::remove_dir(root).map_err(|err| HostError::io(root, err))?;
        }
        std::fs::rename(&self.path, root).map_err(|err| HostError::io(root, err))?;
        self.done = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_staged_home_is_gone_unless_finished() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("host");
        let staging = Staging::new(&root).unwrap();
        std::fs::write(staging.path().join("x"), b"x").unwrap();
        drop(staging);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        let staging = Staging::new(&root).unwrap();
        std::fs::write(staging.path().join("x"), b"x").unwrap();
        staging.finish(&root).unwrap();
        assert!(root.join("x").is_file());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(tcp_address("::".parse().unwrap(), 7483), "/ip6/::/tcp/7483");
    }
}
