//! `plaza-host`: make a network, run a host, and look at it.

// A command-line tool answers on its standard output and error.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bench;
mod player;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use plaza_client::bot;
use plaza_client::client::Client;
use server_less::clock::{Clock, SystemClock};
use server_less::home::{self, Home};
use server_less::sessions;

use tracing_subscriber::EnvFilter;

/// Plaza's peer host: keeps the ledger, makes blocks and serves worlds.
#[derive(Parser)]
#[command(name = "plaza-host", version, about)]
struct Cli {
    /// The host's home directory: key, configuration, ledger and files
    /// [default: $XDG_DATA_HOME/plaza/host, or ~/.local/share/plaza/host].
    #[arg(long, global = true, env = "PLAZA_HOME")]
    home: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Make a new network in --home: host key, demo accounts with money,
    /// the sample pack minted and partly listed, and config.toml. With
    /// --join, make a host of an existing network instead.
    Init {
        /// The network's name (1 to 32 of a-z, 0-9 and '-'); a random one
        /// if left out.
        #[arg(long, conflicts_with = "join")]
        chain_id: Option<String>,
        /// Join the network of the host whose join endpoint (the address
        /// players use, host:port) this is: its genesis is fetched and
        /// checked against --genesis, its hosts recorded to start from,
        /// and a key made for this host.
        #[arg(long, requires = "genesis")]
        join: Option<String>,
        /// The genesis hash of the network to join, as `plaza-host status`
        /// prints it on any host of that network. A host offering another
        /// is refused.
        #[arg(long, requires = "join")]
        genesis: Option<server_less::genesis::NetworkHash>,
        /// With --join: the address to listen on (0.0.0.0 for every
        /// interface).
        #[arg(long, default_value = "0.0.0.0", requires = "join")]
        bind: std::net::IpAddr,
        /// With --join: an address players and hosts reach this host at,
        /// where it is not --bind (a public address behind NAT); repeat for
        /// several.
        #[arg(long, requires = "join")]
        public: Vec<std::net::IpAddr>,
        /// With --join: the join port; sessions use the next (UDP), the
        /// peer network the one after (TCP and QUIC), consensus the next,
        /// the operator's port (metrics, status page; on 127.0.0.1) the
        /// next.
        #[arg(long, default_value_t = server_less::config::DEFAULT_JOIN_PORT, requires = "join")]
        port: u16,
        /// With --join: replay every block from the genesis instead of
        /// starting from the latest state snapshot the host offers (which
        /// is checked against the validators' signatures either way).
        #[arg(long, requires = "join")]
        full_replay: bool,
    },
    /// Run the host: open the ledger, make blocks and serve players (the
    /// join and session ports are in config.toml) until Ctrl-C or SIGTERM,
    /// which finish the block being written and stop cleanly.
    Run {
        /// Make a new network first (as `init` does) if --home holds none.
        #[arg(long)]
        init: bool,
    },
    /// Make a network of several hosts on this machine: homes host-1 to
    /// host-N in --dir with one genesis, each with its own validator key,
    /// its own ports and the others' addresses. Start each with
    /// `plaza-host --home <dir>/host-N run`.
    Testnet {
        /// Validators.
        #[arg(long, default_value_t = 4)]
        hosts: usize,
        /// Hosts that follow the chain without voting, after the
        /// validators.
        #[arg(long, default_value_t = 0)]
        followers: usize,
        /// Where to make the homes.
        #[arg(long)]
        dir: PathBuf,
        /// The network's name; a random one if left out.
        #[arg(long)]
        chain_id: Option<String>,
        /// Host N uses ports base + 10 (N - 1) to base + 10 (N - 1) + 3.
        #[arg(long, default_value_t = 7500)]
        base_port: u16,
    },
    /// Show the host's network, genesis hash, height, state root,
    /// validators and demo accounts; while the host runs, what it says at
    /// its join endpoint.
    Status {
        /// Print one JSON object instead.
        #[arg(long)]
        json: bool,
    },
    /// Stake tokens of the host's own account (its key is the validator
    /// key): from two blocks on, the host is a validator with that much
    /// more voting power. Talks to the host running in --home.
    Stake {
        /// Tokens to bond.
        amount: u64,
    },
    /// Take staked tokens back: two blocks on, the host's voting power
    /// shrinks by that much (with none left it is no longer a validator)
    /// and the tokens return to its account. Talks to the host running in
    /// --home.
    Unstake {
        /// Tokens to unbond.
        amount: u64,
    },
    /// A headless player: join a running host, walk a world and look at
    /// the catalogue.
    Bot {
        /// The host's join endpoint.
        #[arg(long, default_value = "127.0.0.1:7480")]
        join: std::net::SocketAddr,
        /// Play as this demo account of --home (ada, bo, cy, dee); a new
        /// throwaway account if left out.
        #[arg(long)]
        demo: Option<String>,
        /// The world to walk.
        #[arg(long, default_value = "Plaza Square")]
        world: String,
        /// How long to play, in seconds.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Put on what the account holds first, one thing a slot.
        #[arg(long)]
        dress: bool,
        /// Wander within this many metres of the spawn point.
        #[arg(long)]
        radius: Option<f32>,
    },
    /// Your wallet: a key sealed with a passphrase (the host never sees
    /// it), and your account as the host sees it.
    Wallet {
        #[command(flatten)]
        player: player::PlayerArgs,
        #[command(subcommand)]
        command: player::WalletCommand,
    },
    /// Browse, list, rent, buy, return and cancel, from the terminal.
    Market {
        #[command(flatten)]
        player: player::PlayerArgs,
        #[command(subcommand)]
        command: player::MarketCommand,
    },
    /// Bring your own 3D models into Plaza.
    Asset {
        #[command(flatten)]
        player: player::PlayerArgs,
        #[command(subcommand)]
        command: player::AssetCommand,
    },
    /// Measure this machine.
    #[command(subcommand)]
    Bench(bench::Bench),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            // The consensus engine logs every vote at info.
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,arc_malachitebft=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("plaza-host: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Plaza's directory in the platform's data directory: `what` there.
fn data_dir(what: &str) -> anyhow::Result<PathBuf> {
    match home::data_dir() {
        Some(data) => Ok(data.join(what)),
        None => anyhow::bail!("no home directory is known: pass --home <dir> (or --wallets <dir>)"),
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let home = Home::new(cli.home.map_or_else(|| data_dir("host"), Ok)?);
    match cli.command {
        Command::Init {
            join: Some(from),
            genesis: Some(trusted),
            bind,
            public,
            port,
            full_replay,
            ..
        } => {
            use std::net::ToSocketAddrs as _;
            let addresses: Vec<std::net::SocketAddr> = from
                .to_socket_addrs()
                .map_err(|err| anyhow::anyhow!("--join {from}: {err}"))?
                .collect();
            let options = server_less::joining::JoinOptions {
                bind,
                public,
                base_port: port,
                full_replay,
            };
            // Each address the name has, in turn, until one answers.
            let mut joined = None;
            for (index, address) in addresses.iter().enumerate() {
                let mut bars = progress::JoinBars::default();
                let outcome =
                    server_less::joining::join(&home, *address, trusted, &options, |step| {
                        bars.show(step)
                    });
                bars.finish();
                match outcome {
                    Ok(made) => {
                        joined = Some(made);
                        break;
                    }
                    Err(err) if index + 1 < addresses.len() && err.is_unreachable() => {
                        eprintln!("plaza-host: {err}; trying the next address");
                    }
                    Err(err) => return Err(err.into()),
                }
            }
            let Some(joined) = joined else {
                anyhow::bail!("--join {from}: the name has no address");
            };
            println!(
                "joined network {} in {}: the ledger starts at block {} of the network's {}{}",
                joined.chain_id,
                home.root().display(),
                joined.start_height,
                joined.network_height,
                if joined.from_snapshot {
                    " (from a snapshot certified by the validators)"
                } else {
                    ""
                }
            );
            println!(
                "host {} (not a validator; `plaza-host stake` makes it one)",
                joined.host
            );
            println!(
                "{} peer address(es) and {} validator address(es) recorded; start it with: \
                 plaza-host --home {} run",
                joined.bootstrap,
                joined.consensus_peers,
                home.root().display()
            );
        }
        Command::Init { chain_id, .. } => {
            let made = home::init(&home, chain_id.as_deref(), SystemClock.now())?;
            println!(
                "network {} made in {}",
                made.chain_id,
                home.root().display()
            );
            println!("host (validator) {}", made.host);
            for (name, address) in &made.demo {
                println!("demo account {name:<4} {address}");
            }
            println!(
                "{} sample assets minted, {} listed; start it with: plaza-host --home {} run",
                made.minted,
                made.listed,
                home.root().display()
            );
        }
        Command::Testnet {
            hosts,
            followers,
            dir,
            chain_id,
            base_port,
        } => {
            let homes = home::testnet(
                &dir,
                hosts,
                followers,
                chain_id.as_deref(),
                SystemClock.now(),
            )?;
            home::connect_testnet(&homes, hosts, base_port)?;
            for (index, made) in homes.iter().enumerate() {
                let config = made.load_config()?;
                println!(
                    "{} {}: join 127.0.0.1:{}",
                    if index < hosts {
                        "validator"
                    } else {
                        "follower "
                    },
                    made.root().display(),
                    config.sessions.join_port
                );
            }
            println!(
                "start each with: plaza-host --home {}/host-N run",
                dir.display()
            );
        }
        Command::Run { init } => {
            if init && !home.is_initialised() {
                let made = home::init(&home, None, SystemClock.now())?;
                tracing::info!(
                    chain = %made.chain_id,
                    home = %home.root().display(),
                    "new network made"
                );
            }
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async {
                // From here on Ctrl-C and SIGTERM stop the host cleanly,
                // even while it starts.
                let signals = sessions::StopSignals::listen()?;
                let (host, sessions) =
                    sessions::serve(&home, Arc::new(SystemClock), |_| {}).await?;
                let _operator = match host.config().operator {
                    Some(operator) => start_operator(&home, &host, operator.listen).await,
                    None => None,
                };
                let served = signals
                    .until(&host, || {
                        tracing::info!(
                            join = %sessions.join_addr(),
                            sessions = %sessions.udp_addr(),
                            "players can join"
                        );
                    })
                    .await;
                match &served {
                    Ok(()) => tracing::info!("asked to stop (Ctrl-C or SIGTERM): stopping"),
                    Err(err) => tracing::error!(%err, "stopping"),
                }
                sessions.stop().await;
                let stopped = host.stop().await;
                // The engine's fault is the one to report.
                served.and(stopped)
            })?;
        }
        Command::Bench(which) => bench::run(which)?,
        Command::Bot {
            join,
            demo,
            world,
            seconds,
            dress,
            radius,
        } => {
            let key = match demo {
                Some(name) => home.load_demo_key(&name)?,
                None => ledger::Keypair::generate(&mut rand::rngs::OsRng),
            };
            println!("playing as {}", key.address());
            let mut client = Client::connect(join, &key, std::time::Duration::from_secs(10))?;
            bot::wander(
                &mut client,
                &world,
                std::time::Duration::from_secs(seconds),
                bot::Wandering { dress, radius },
            )?;
            client.disconnect();
        }
        Command::Wallet { player, command } => player::wallet(&player, command)?,
        Command::Market { player, command } => player::market(&player, command)?,
        Command::Asset { player, command } => player::asset(&player, command)?,
        Command::Stake { amount } => {
            stake(&home, ledger::Operation::Stake { amount }, "staked")?;
        }
        Command::Unstake { amount } => {
            stake(&home, ledger::Operation::Unstake { amount }, "unstaked")?;
        }
        Command::Status { json } => {
            let config = home.load_config()?;
            let ledger = match ledger::Ledger::open(home.ledger()) {
                Ok(ledger) => ledger,
                Err(err) if err.is_locked() => return running_status(&home, &config, json),
                Err(err) => return Err(err.into()),
            };
            let host = home.load_host_key()?.address();
            let chain = ledger.chain();
            let genesis = genesis_hash(&home)?;
            if json {
                let validators: Vec<serde_json::Value> = ledger
                    .validators()?
                    .iter()
                    .map(
                        |v| serde_json::json!({"address": v.address.to_string(), "power": v.power}),
                    )
                    .collect();
                println!(
                    "{}",
                    serde_json::json!({
                        "chain": config.chain_id,
                        "genesis": genesis,
                        "joinable": config.network.is_some() && genesis.is_some(),
                        "host": host.to_string(),
                        "height": chain.height,
                        "block_time": chain.time,
                        "state_root": ledger.state_root().to_string(),
                        "validators": validators,
                        "running": false,
                    })
                );
                return Ok(());
            }
            println!("chain      {}", config.chain_id);
            match &genesis {
                Some(hash) => println!("genesis    {hash}  (hosts join with --genesis {hash})"),
                None => {
                    println!("genesis    (not kept: this home was made before hosts could join)")
                }
            }
            println!("host       {host}");
            println!("height     {}", chain.height);
            println!("block time {}", chain.time);
            println!("state root {}", ledger.state_root());
            println!("escrow     {}", chain.escrow);
            println!("staked     {}", chain.staked);
            println!("host balance {}", ledger.account(&host)?.balance);
            for validator in ledger.validators()? {
                let me = if validator.address == host {
                    "  (this host)"
                } else {
                    ""
                };
                println!(
                    "validator  {}  power {}{me}",
                    validator.address, validator.power
                );
            }
            for change in &chain.validator_changes {
                println!(
                    "from block {}: {} power {}{}",
                    change.from,
                    change.validator,
                    change.power,
                    if change.release > 0 {
                        format!(", {} returned", change.release)
                    } else {
                        String::new()
                    }
                );
            }
            if let Some(founder) = &config.founder {
                // Every host of the network must name the same one.
                println!("founder    {founder}  (the worlds' parcels are its deeds)");
            }
            for name in home::DEMO_ACCOUNTS {
                if let Ok(key) = home.load_demo_key(name) {
                    let account = ledger.account(&key.address())?;
                    println!(
                        "demo {name:<4}  {}  balance {}",
                        key.address(),
                        account.balance
                    );
                }
            }
        }
    }
    Ok(())
}

/// Serves the operator's port at `listen` for `host` until dropped; a port
/// that cannot be bound leaves the host running without it, and says so.
async fn start_operator(
    home: &Home,
    host: &server_less::Host,
    listen: std::net::SocketAddr,
) -> Option<AbortOnDrop> {
    let listener = match server_less::operator::bind(listen).await {
        Ok(listener) => listener,
        Err(err) => {
            tracing::error!(%err, "metrics and the status page are off");
            return None;
        }
    };
    let genesis = host.genesis().map(|genesis| genesis.hash().to_string());
    let view = server_less::operator::OperatorView::new(
        host.handle(),
        host.meters(),
        home.root(),
        genesis,
        server_less::worlds::builtin()
            .into_iter()
            .map(|world| world.info.name)
            .collect(),
    );
    tracing::info!(page = %format!("http://{listen}/"), metrics = %format!("http://{listen}/metrics"), "operator's port");
    Some(AbortOnDrop(tokio::spawn(server_less::operator::serve(
        listener,
        Arc::new(view),
    ))))
}

/// A task that ends when this is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The genesis hash of the network of `home`, if its genesis is kept.
fn genesis_hash(home: &Home) -> anyhow::Result<Option<String>> {
    if !home.genesis().exists() {
        return Ok(None);
    }
    let genesis = server_less::genesis::NetworkGenesis::load(&home.genesis())?;
    Ok(Some(genesis.hash().to_string()))
}

/// The join endpoint of the host configured by `config`, from this
/// machine.
fn local_join(config: &server_less::config::Config) -> std::net::SocketAddr {
    let bind = config.sessions.bind;
    let ip = if bind.is_unspecified() {
        match bind {
            std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        }
    } else {
        bind
    };
    std::net::SocketAddr::new(ip, config.sessions.join_port)
}

/// `status` of a host that is running: what it says at its join endpoint.
fn running_status(
    home: &Home,
    config: &server_less::config::Config,
    json: bool,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let join = local_join(config);
    let asked = plaza_client::network::NetworkAsk::ask(join, player::WAIT).with_context(|| {
        format!(
            "a host is running in {} but did not answer at {join}",
            home.root().display()
        )
    })?;
    let info = asked.info;
    // The network's name and addresses are the host's words: printed
    // escaped.
    let chain = info.chain_id.escape_debug().to_string();
    let genesis = (info.genesis != [0; 32])
        .then(|| server_less::genesis::NetworkHash(info.genesis).to_string());
    if json {
        let validators: Vec<serde_json::Value> = info
            .validators
            .iter()
            .map(|(address, power)| serde_json::json!({"address": address.to_string(), "power": power}))
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "chain": info.chain_id,
                "genesis": genesis,
                "joinable": info.genesis_bytes > 0,
                "host": info.host.to_string(),
                "height": info.height,
                "block_time": info.block_time,
                "validators": validators,
                "peers": info.peers,
                "consensus": info.consensus,
                "snapshot": info.snapshot.map(|snapshot| snapshot.height),
                "running": true,
            })
        );
        return Ok(());
    }
    println!("chain      {chain}  (running)");
    match &genesis {
        Some(hash) if info.genesis_bytes > 0 => {
            println!("genesis    {hash}  (hosts join with --genesis {hash})")
        }
        Some(hash) => println!("genesis    {hash}  (a network of one: not joinable)"),
        None => println!("genesis    (not kept: this home was made before hosts could join)"),
    }
    println!("host       {}", info.host);
    println!("height     {}", info.height);
    println!("block time {}", info.block_time);
    if let Some(snapshot) = info.snapshot {
        println!(
            "snapshot   after block {} (joining hosts start from it)",
            snapshot.height
        );
    }
    for (address, power) in &info.validators {
        let me = if *address == info.host {
            "  (this host)"
        } else {
            ""
        };
        println!("validator  {address}  power {power}{me}");
    }
    for address in &info.peers {
        println!("peers at   {}", address.escape_debug());
    }
    println!("join at    {join}");
    Ok(())
}

/// Signs `op` with the host's key and has the host running in `home` put
/// it in a block.
fn stake(home: &Home, op: ledger::Operation, done: &str) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let config = home.load_config()?;
    let key = home.load_host_key()?;
    let join = local_join(&config);
    let mut client = Client::connect(join, &key, player::WAIT).with_context(|| {
        format!(
            "joining the host at {join} (is `plaza-host --home {} run` running?)",
            home.root().display()
        )
    })?;
    let outcome = (|| {
        // Every host serves the square.
        client.enter("Plaza Square", player::WAIT)?;
        let height = player::act(&mut client, op, done)?;
        println!(
            "in force from block {}",
            height + ledger::VALIDATOR_CHANGE_DELAY
        );
        Ok(())
    })();
    client.disconnect();
    outcome
}
