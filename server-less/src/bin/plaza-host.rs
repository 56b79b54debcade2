//! `plaza-host`: make a network, run a host, and look at it.

// A command-line tool answers on its standard output and error.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use server_less::clock::{Clock, SystemClock};
use server_less::home::{self, Home};
use server_less::{Host, HostError};
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
    /// the sample pack minted and partly listed, and config.toml.
    Init {
        /// The network's name (1 to 32 of a-z, 0-9 and '-'); a random one
        /// if left out.
        #[arg(long)]
        chain_id: Option<String>,
    },
    /// Run the host: open the ledger and make blocks until Ctrl-C.
    Run,
    /// Show the host's chain, height, state root and demo accounts.
    Status,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
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

/// The platform's data directory for the host.
fn default_home() -> anyhow::Result<PathBuf> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|path| path.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share")));
    match data {
        Some(data) => Ok(data.join("plaza").join("host")),
        None => anyhow::bail!("no home directory is known: pass --home <dir>"),
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let home = Home::new(cli.home.map_or_else(default_home, Ok)?);
    match cli.command {
        Command::Init { chain_id } => {
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
        Command::Run => {
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async {
                let host = Host::start(&home, Arc::new(SystemClock))?;
                tokio::signal::ctrl_c()
                    .await
                    .map_err(|err| HostError::io("Ctrl-C handler", err))?;
                tracing::info!("Ctrl-C: stopping");
                host.stop().await
            })?;
        }
        Command::Status => {
            let config = home.load_config()?;
            let ledger = match ledger::Ledger::open(home.ledger()) {
                Ok(ledger) => ledger,
                Err(ledger::LedgerError::Storage(reason)) if reason.contains("lock") => {
                    anyhow::bail!(
                        "a host is running in {}; its log shows its blocks as they are made",
                        home.root().display()
                    )
                }
                Err(err) => return Err(err.into()),
            };
            let host = home.load_host_key()?.address();
            let chain = ledger.chain();
            println!("chain      {}", config.chain_id);
            println!("host       {host}");
            println!("height     {}", chain.height);
            println!("block time {}", chain.time);
            println!("state root {}", ledger.state_root());
            println!("escrow     {}", chain.escrow);
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
