//! A host's home directory: its key, configuration, ledger and blob
//! store, and `init`, which makes a new network that is alive from its
//! first start: demo accounts with money, the sample pack minted to
//! creators, some of it listed for rent and for sale.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use assets::{BlobStore, ImportLimits, StoreLimits};
use ledger::{
    Address, Amount, AssetId, Block, ChainId, Genesis, Keypair, Ledger, ManifestBytes, Nonce,
    Operation, RentTerms, SignedTransaction, Timestamp, Transaction, Validator,
};
use rand::rngs::OsRng;
use tracing::info;

use crate::config::Config;
use crate::error::HostError;

/// What is wrong with a host's home directory.
#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    /// The configuration file is missing a field, has a wrong one or a bad
    /// value.
    #[error("config {path}: {reason}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        reason: String,
    },
    /// `init` was asked to write over an existing host.
    #[error("{0} already holds a host; use another --home, or delete it to start a new network")]
    AlreadyInitialised(PathBuf),
    /// There is no host in the given directory.
    #[error("no host at {0}: run `plaza-host init --home {0}` first")]
    NotInitialised(PathBuf),
    /// A network's genesis file is unreadable or not a genesis.
    #[error("genesis {path}: {reason}")]
    Genesis {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Joining a network failed; nothing was kept.
    #[error("joining the network: {0}")]
    Join(String),
    /// The host to join through could not be asked; nothing was kept.
    #[error("joining the network: {0}")]
    Unreachable(String),
    /// A key file is not 32 bytes of hex.
    #[error("key file {path} is malformed: {reason}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// The demo accounts a new network starts with.
pub const DEMO_ACCOUNTS: [&str; 4] = ["ada", "bo", "cy", "dee"];
/// Each demo account's starting balance.
pub const DEMO_BALANCE: Amount = 1_000_000;
/// Tokens each genesis validator has staked: its voting power.
pub const GENESIS_STAKE: Amount = 100_000;
/// The demo key of the network's founder, whose deeds are the worlds'
/// parcels (see `market::catalogue::land`).
pub const FOUNDER: &str = "founder";
/// The creators of the sample pack, in turn.
const CREATORS: [&str; 2] = ["ada", "bo"];
/// Royalty on every sample asset: 5 %.
const SAMPLE_ROYALTY_BPS: u16 = 500;
/// Sample listings stay open this long.
const SAMPLE_LISTING_SECS: u64 = 365 * 86_400;

/// Where each part of a host lives.
#[derive(Clone, Debug)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// The home at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Home { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `config.toml`.
    pub fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }

    /// The host's validator key.
    pub fn host_key(&self) -> PathBuf {
        self.root.join("host.key")
    }

    /// The ledger's RocksDB directory.
    pub fn ledger(&self) -> PathBuf {
        self.root.join("ledger")
    }

    /// The blob store's directory.
    pub fn blobs(&self) -> PathBuf {
        self.root.join("blobs")
    }

    /// Players' uploads waiting to be minted.
    pub fn uploads(&self) -> PathBuf {
        self.root.join("uploads")
    }

    /// The network's genesis: what hosts that join it are given
    /// (see [`crate::genesis`]).
    pub fn genesis(&self) -> PathBuf {
        self.root.join("genesis.plaza")
    }

    /// The state snapshots this host takes for hosts that join, and the
    /// validator-set changes that prove them (see [`crate::snapshots`]).
    pub fn snapshots(&self) -> PathBuf {
        self.root.join("snapshots")
    }

    /// The demo accounts' keys.
    pub fn demo_key(&self, name: &str) -> PathBuf {
        self.root.join("demo").join(format!("{name}.key"))
    }

    /// Whether `init` has completed here: the configuration is written
    /// last.
    pub fn is_initialised(&self) -> bool {
        self.config().is_file()
    }

    /// The configuration, checked against the ledger's chain.
    pub fn load_config(&self) -> Result<Config, HostError> {
        if !self.is_initialised() {
            return Err(HomeError::NotInitialised(self.root.clone()).into());
        }
        Config::load(&self.config())
    }

    /// The host's validator key.
    pub fn load_host_key(&self) -> Result<Keypair, HostError> {
        read_key(&self.host_key())
    }

    /// The consensus network's node key: the host's identity among the
    /// validators' connections, apart from the validator key that signs
    /// votes (a validator key run twice by mistake then shows up as two
    /// peers, and their conflicting votes are seen). Made on first use.
    pub fn consensus_node_key(&self) -> Result<[u8; 32], HostError> {
        let path = self.root.join("consensus-node.key");
        if !path.exists() {
            write_key(&path, &Keypair::generate(&mut OsRng))?;
        }
        Ok(read_key(&path)?.seed())
    }

    /// A demo account's key.
    pub fn load_demo_key(&self, name: &str) -> Result<Keypair, HostError> {
        read_key(&self.demo_key(name))
    }

    /// Opens the blob store.
    pub fn open_blobs(&self) -> Result<BlobStore, HostError> {
        Ok(BlobStore::open(&self.blobs(), StoreLimits::default())?)
    }
}

/// What `init` made.
#[derive(Clone, Debug)]
pub struct Initialised {
    /// The new network.
    pub chain_id: ChainId,
    /// The host's validator address.
    pub host: Address,
    /// The demo accounts, by name.
    pub demo: Vec<(String, Address)>,
    /// Sample assets minted.
    pub minted: usize,
    /// Sample listings opened.
    pub listed: usize,
}

/// Makes a new network in `home`: host key, demo accounts, genesis at
/// `time`, the sample pack stored and minted, some of it listed, and the
/// configuration. Refused if `home` is not empty.
pub fn init(
    home: &Home,
    chain_id: Option<&str>,
    time: Timestamp,
) -> Result<Initialised, HostError> {
    init_network(home, chain_id, time, vec![Keypair::generate(&mut OsRng)])
}

/// Makes a local network under `dir`: homes `host-1` to `host-N`, the
/// first `validators` of them validators and the rest followers, each with
/// its own key and all with the same genesis, the same first blocks and
/// the same chain id.
pub fn testnet(
    dir: &Path,
    validators: usize,
    followers: usize,
    chain_id: Option<&str>,
    time: Timestamp,
) -> Result<Vec<Home>, HostError> {
    if validators == 0 {
        return Err(HostError::Consensus("a testnet needs a validator".into()));
    }
    let keys: Vec<Keypair> = (0..validators + followers)
        .map(|_| Keypair::generate(&mut OsRng))
        .collect();
    let first = Home::new(dir.join("host-1"));
    init_network(&first, chain_id, time, keys[..validators].to_vec())?;
    let mut homes = vec![first];
    for (index, key) in keys.iter().enumerate().skip(1) {
        let home = Home::new(dir.join(format!("host-{}", index + 1)));
        if home.root().exists() {
            return Err(HomeError::AlreadyInitialised(home.root().to_owned()).into());
        }
        copy_tree(homes[0].root(), home.root())?;
        std::fs::remove_file(home.host_key()).map_err(|err| HostError::io(home.host_key(), err))?;
        write_key(&home.host_key(), key)?;
        homes.push(home);
    }
    Ok(homes)
}

/// Gives each home of a [`testnet`] its own ports on this machine and
/// the others' addresses: host `i` (from 0) uses ports `base + 10 i` (join),
/// `+1` (sessions), `+2` (peer network, TCP and QUIC), `+3`
/// (consensus), and `+4` for the operator's port (metrics and the status
/// page). The first `validators` homes are the validators; every
/// host joins the peer network through the first.
pub fn connect_testnet(homes: &[Home], validators: usize, base_port: u16) -> Result<(), HostError> {
    let port = |index: usize, offset: u16| -> Result<u16, HostError> {
        u16::try_from(index * 10)
            .ok()
            .and_then(|step| base_port.checked_add(step))
            .and_then(|port| port.checked_add(offset))
            .ok_or_else(|| {
                HostError::Consensus(format!(
                    "port {base_port} leaves no room for {} hosts",
                    homes.len()
                ))
            })
    };
    let consensus = |index: usize| -> Result<String, HostError> {
        Ok(format!("/ip4/127.0.0.1/tcp/{}", port(index, 3)?))
    };
    let first_peer = crate::peers::identity(homes[0].load_host_key()?.seed())?
        .public()
        .to_peer_id();
    let bootstrap = format!("/ip4/127.0.0.1/tcp/{}/p2p/{first_peer}", port(0, 2)?);
    for (index, home) in homes.iter().enumerate() {
        let mut config = home.load_config()?;
        config.sessions.bind = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
        config.sessions.join_port = port(index, 0)?;
        config.sessions.udp_port = port(index, 1)?;
        config.operator = Some(crate::config::OperatorConfig {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], port(index, 4)?)),
        });
        let peers = port(index, 2)?;
        config.network = Some(crate::config::NetworkConfig {
            consensus_listen: consensus(index)?,
            consensus_peers: (0..validators)
                .filter(|other| *other != index)
                .map(consensus)
                .collect::<Result<_, _>>()?,
            peers_listen: vec![
                format!("/ip4/127.0.0.1/tcp/{peers}"),
                format!("/ip4/127.0.0.1/udp/{peers}/quic-v1"),
            ],
            bootstrap: if index == 0 {
                Vec::new()
            } else {
                vec![bootstrap.clone()]
            },
            mdns: false,
            snapshot_every: crate::config::DEFAULT_SNAPSHOT_EVERY,
            snapshots_kept: 2,
        });
        config.check().map_err(|reason| HomeError::Config {
            path: home.config(),
            reason,
        })?;
        std::fs::remove_file(home.config()).map_err(|err| HostError::io(home.config(), err))?;
        write_file(&home.config(), config.to_toml().as_bytes(), false)?;
    }
    Ok(())
}

/// An error if `root` is a directory that holds anything: a new home is
/// made only where there is none.
pub(crate) fn refuse_occupied(root: &Path) -> Result<(), HostError> {
    if root.exists()
        && std::fs::read_dir(root)
            .map_err(|err| HostError::io(root, err))?
            .next()
            .is_some()
    {
        return Err(HomeError::AlreadyInitialised(root.to_owned()).into());
    }
    Ok(())
}

/// Copies the directory `from` to `to`, which must not exist.
fn copy_tree(from: &Path, to: &Path) -> Result<(), HostError> {
    std::fs::create_dir_all(to).map_err(|err| HostError::io(to, err))?;
    for entry in std::fs::read_dir(from).map_err(|err| HostError::io(from, err))? {
        let entry = entry.map_err(|err| HostError::io(from, err))?;
        let target = to.join(entry.file_name());
        let kind = entry
            .file_type()
            .map_err(|err| HostError::io(entry.path(), err))?;
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target).map_err(|err| HostError::io(&target, err))?;
        }
    }
    Ok(())
}

/// Makes a new network in `home` as [`init`] does, with `validators` as
/// its genesis validators (each with [`GENESIS_STAKE`] staked); the first
/// is this host's key.
pub fn init_network(
    home: &Home,
    chain_id: Option<&str>,
    time: Timestamp,
    validators: Vec<Keypair>,
) -> Result<Initialised, HostError> {
    let Some(host) = validators.first().cloned() else {
        return Err(HostError::Consensus("a network needs a validator".into()));
    };
    let root = home.root();
    refuse_occupied(root)?;
    std::fs::create_dir_all(root.join("demo")).map_err(|err| HostError::io(root, err))?;
    let chain_id = match chain_id {
        Some(name) => ChainId::new(name)?,
        None => {
            let suffix: u32 = rand::random();
            ChainId::new(format!("plaza-{suffix:08x}"))?
        }
    };

    write_key(&home.host_key(), &host)?;
    let mut demo = Vec::new();
    let mut keys: HashMap<&str, Keypair> = HashMap::new();
    for name in DEMO_ACCOUNTS {
        let key = Keypair::generate(&mut OsRng);
        write_key(&home.demo_key(name), &key)?;
        demo.push((name.to_owned(), key.address()));
        keys.insert(name, key);
    }

    let founder = Keypair::generate(&mut OsRng);
    write_key(&home.demo_key(FOUNDER), &founder)?;
    let mut genesis = Genesis::new(
        chain_id.clone(),
        demo.iter()
            .map(|(_, address)| (*address, DEMO_BALANCE))
            .chain([(founder.address(), DEMO_BALANCE)])
            .collect(),
        validators
            .iter()
            .map(|key| Validator {
                address: key.address(),
                power: GENESIS_STAKE,
            })
            .collect(),
    );
    genesis.time = time;
    let mut ledger = Ledger::create(home.ledger(), &genesis)?;
    let blobs = home.open_blobs()?;

    // The sample pack, credited in turn to the creators.
    let limits = ImportLimits::default();
    let mut signer = Signer::new(chain_id.clone());
    let valid_until = time + 3_600;
    let mut mints = Vec::new();
    let mut owned: Vec<(&str, AssetId)> = Vec::new();
    for (index, model) in assets::pack::sample_models().into_iter().enumerate() {
        let creator = CREATORS[index % CREATORS.len()];
        // A manifest names its creator by address: only that key may
        // mint it.
        let named = keys[creator].address().to_string();
        let imported = assets::import(&blobs, &model.glb, &model.request(&named), &limits)?;
        let asset = AssetId(imported.manifest_id);
        mints.push(signer.sign(
            &keys[creator],
            Operation::Mint {
                manifest: ManifestBytes(imported.manifest.to_json()?),
                royalty_bps: SAMPLE_ROYALTY_BPS,
            },
            valid_until,
        ));
        owned.push((creator, asset));
    }
    blobs.sync()?;
    let mut blocks = vec![commit_all(&mut ledger, time, host.address(), mints)?];

    // Some for rent, some for sale, some given to the other demo accounts
    // to hold, and the rest kept unlisted.
    let expires_at = time + SAMPLE_LISTING_SECS;
    let mut market = Vec::new();
    let mut listed = 0;
    for (index, (owner, asset)) in owned.iter().enumerate() {
        let step = index as u64;
        let op = match index % 6 {
            0 | 3 => Operation::ListForRent {
                asset: *asset,
                terms: RentTerms {
                    price_per_period: 5 + 5 * (step % 7),
                    period_secs: [3_600, 86_400][index % 2],
                    min_periods: 1,
                    max_periods: 72,
                    deposit: 20 * (step % 4),
                    reserved_for: None,
                },
                expires_at,
            },
            1 | 4 => Operation::ListForSale {
                asset: *asset,
                price: 250 + 50 * (step % 9),
                expires_at,
            },
            2 => Operation::TransferAsset {
                asset: *asset,
                to: keys[DEMO_ACCOUNTS[2 + index % 2]].address(),
            },
            _ => continue,
        };
        if !matches!(op, Operation::TransferAsset { .. }) {
            listed += 1;
        }
        market.push(signer.sign(&keys[owner], op, valid_until));
    }
    blocks.push(commit_all(&mut ledger, time, host.address(), market)?);

    // The worlds' land: a deed for each parcel, minted by the founder;
    // some let, some for sale, some given to players to hold, the rest
    // kept.
    let marker = assets::pack::sample_models()
        .into_iter()
        .find(|model| model.kind == assets::AssetKind::Parcel)
        .ok_or_else(|| HostError::Consensus("the sample pack has no parcel model".into()))?;
    let mut deeds = Vec::new();
    let mut land = Vec::new();
    for world in crate::worlds::builtin() {
        for parcel in &world.info.parcels {
            let request = deed_request(&world.info.name, &parcel.name, &founder.address());
            let imported = assets::import(&blobs, &marker.glb, &request, &limits)?;
            deeds.push(signer.sign(
                &founder,
                Operation::Mint {
                    manifest: ManifestBytes(imported.manifest.to_json()?),
                    royalty_bps: 0,
                },
                valid_until,
            ));
            land.push(AssetId(imported.manifest_id));
        }
    }
    blobs.sync()?;
    blocks.push(commit_all(&mut ledger, time, host.address(), deeds)?);
    let mut dealt = Vec::new();
    for (index, deed) in land.iter().enumerate() {
        let op = match index % 4 {
            0 => Operation::ListForRent {
                asset: *deed,
                terms: RentTerms {
                    price_per_period: 40,
                    period_secs: 3_600,
                    min_periods: 1,
                    max_periods: 72,
                    deposit: 0,
                    reserved_for: None,
                },
                expires_at,
            },
            1 => Operation::TransferAsset {
                asset: *deed,
                to: keys[DEMO_ACCOUNTS[2 + (index / 4) % 2]].address(),
            },
            2 => Operation::ListForSale {
                asset: *deed,
                price: 5_000,
                expires_at,
            },
            _ => continue,
        };
        dealt.push(signer.sign(&founder, op, valid_until));
    }
    blocks.push(commit_all(&mut ledger, time, host.address(), dealt)?);
    drop(ledger);
    crate::genesis::NetworkGenesis {
        genesis,
        blocks,
        founder: Some(founder.address()),
    }
    .write(&home.genesis())?;

    // Written last: a home with a configuration is a complete one.
    let mut config = Config::new(chain_id.as_str());
    config.founder = Some(founder.address().to_string());
    write_file(&home.config(), config.to_toml().as_bytes(), false)?;
    info!(
        chain = %chain_id,
        host = %host.address(),
        minted = owned.len(),
        listed,
        parcels = land.len(),
        "network made"
    );
    Ok(Initialised {
        chain_id,
        host: host.address(),
        demo,
        minted: owned.len(),
        listed,
    })
}

/// The import request of the deed to `parcel` of `world`, minted by
/// `founder`: a parcel naming both (see `market::catalogue::land`).
fn deed_request(world: &str, parcel: &str, founder: &Address) -> assets::ImportRequest {
    use assets::{Attribute, AttributeValue};
    let text = |trait_type: &str, value: &str| Attribute {
        trait_type: trait_type.to_owned(),
        value: AttributeValue::Text(value.to_owned()),
    };
    assets::ImportRequest {
        name: format!("{parcel}, {world}"),
        description: format!(
            "A parcel of land in {world}. Its holder's listings are shown on it, and its \
             holder puts things down on it for everyone to see."
        ),
        kind: assets::AssetKind::Parcel,
        creator: founder.to_string(),
        attributes: vec![
            text(market::catalogue::WORLD_TRAIT, world),
            text(market::catalogue::PARCEL_TRAIT, parcel),
        ],
        external_url: None,
        scale: 1.0,
    }
}

/// Signs transactions with each key's next nonce, counted here: for a
/// network's own setup, where nothing else signs for these keys.
pub(crate) struct Signer {
    chain_id: ChainId,
    nonces: HashMap<Address, Nonce>,
}

impl Signer {
    /// A signer for `chain_id` whose keys have used no nonce yet.
    pub(crate) fn new(chain_id: ChainId) -> Self {
        Signer {
            chain_id,
            nonces: HashMap::new(),
        }
    }

    /// Counts `address`'s nonces from `next` on (the benchmarks sign for
    /// accounts that already used some).
    #[cfg(feature = "tools")]
    pub(crate) fn set_next_nonce(&mut self, address: Address, next: Nonce) {
        self.nonces.insert(address, next);
    }

    /// `op` signed by `key` with its next nonce, valid until `valid_until`.
    pub(crate) fn sign(
        &mut self,
        key: &Keypair,
        op: Operation,
        valid_until: Timestamp,
    ) -> SignedTransaction {
        let nonce = self.nonces.entry(key.address()).or_insert(0);
        let tx = Transaction {
            chain_id: self.chain_id.clone(),
            signer: key.address(),
            nonce: *nonce,
            valid_until,
            op,
        };
        *nonce += 1;
        tx.sign(key)
    }
}

/// Commits `txs` in one block and insists that every one applied; the
/// block.
fn commit_all(
    ledger: &mut Ledger,
    time: Timestamp,
    proposer: Address,
    txs: Vec<SignedTransaction>,
) -> Result<Block, HostError> {
    let block = ledger.next_block(time, proposer, txs)?;
    let committed = ledger.commit_block(block.clone())?;
    for result in committed.results {
        result.outcome?;
    }
    Ok(block)
}

/// Writes a key's seed as hex, readable by its owner only.
pub fn write_key(path: &Path, key: &Keypair) -> Result<(), HostError> {
    let text = format!("{}\n", hex(&key.seed()));
    write_file(path, text.as_bytes(), true)
}

/// Reads a key written by [`write_key`].
pub fn read_key(path: &Path) -> Result<Keypair, HostError> {
    let text = std::fs::read_to_string(path).map_err(|err| HostError::io(path, err))?;
    let seed = unhex32(text.trim()).map_err(|reason| HomeError::KeyFile {
        path: path.to_owned(),
        reason,
    })?;
    Ok(Keypair::from_seed(seed))
}

pub(crate) fn write_file(path: &Path, bytes: &[u8], secret: bool) -> Result<(), HostError> {
    plaza_client::text::write_new(path, bytes, secret).map_err(|err| HostError::io(path, err))
}

pub use plaza_client::data_dir;
pub use plaza_client::text::{hex, unhex32};
