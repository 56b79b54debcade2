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
//! The home is made in a directory beside it and moved into place only
//! when it is whole: a failed join leaves nothing behind.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ledger::{Address, Keypair};
use libp2p::Multiaddr;
use plaza_client::network::NetworkAsk;
use rand::rngs::OsRng;
use tracing::info;

use crate::config::{Config, NetworkConfig};
use crate::error::HostError;
use crate::genesis::{NetworkGenesis, NetworkHash};
use crate::home::{Home, HomeError, write_key};

/// How long to wait for each answer of the host joined through.
const WAIT: Duration = Duration::from_secs(10);

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
    /// The network's height, as the host joined through said.
    pub network_height: u64,
    /// Peer addresses recorded to join the peer network through.
    pub bootstrap: usize,
    /// Validators' consensus addresses recorded.
    pub consensus_peers: usize,
}

/// Makes a home in `home` for a host of the network that the host whose
/// join endpoint is `from` belongs to, if its genesis is the one `trusted`
/// names. `progress` hears the genesis bytes fetched so far and the whole.
pub fn join(
    home: &Home,
    from: SocketAddr,
    trusted: NetworkHash,
    options: &JoinOptions,
    mut progress: impl FnMut(usize, usize),
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
    let total = info.genesis_bytes as usize;
    let bytes = ask
        .genesis(|got| progress(got, total))
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
    });
    config.check().map_err(|reason| HomeError::Config {
        path: home.config(),
        reason,
    })?;
    crate::home::write_file(&made.config(), config.to_toml().as_bytes(), false)?;
    staging.finish(root)?;
    let start_height = genesis.blocks.len() as u64;
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
        network_height: info.height,
        bootstrap: bootstrap.len(),
        consensus_peers: consensus_peers.len(),
    })
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
