//! `plaza`: walk Plaza's 3D world. With no arguments it starts a host in
//! this process (a network of one in the platform's data directory) and
//! enters its first world. The work is in [`world::launch`]; this builds
//! the app and runs it.

// A command-line program answers on its standard error.
#![allow(clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;

use bevy::prelude::*;
use clap::Parser;
use tracing_subscriber::EnvFilter;
use world::launch::{self, Options};

/// Plaza: walk the world, browse, rent and trade.
#[derive(Parser, Debug)]
#[command(name = "plaza", version, about)]
struct Cli {
    /// Join this host's join endpoint (host:port) instead of starting one
    /// in this process.
    #[arg(long)]
    connect: Option<String>,
    /// The world to enter.
    #[arg(long, default_value = "Plaza Square")]
    world: String,
    /// Plaza's data directory [default: $XDG_DATA_HOME/plaza, or
    /// ~/.local/share/plaza]; the embedded host lives in its `host`.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Play with this wallet (a name in <data>/wallets) [default:
    /// "player", made on first use, and given its first tokens by the
    /// embedded network]. The passphrase comes from $PLAZA_PASSPHRASE or
    /// the terminal.
    #[arg(long)]
    wallet: Option<String>,
    /// Play a demo account of the embedded network instead (ada, bo, cy or
    /// dee): no wallet, no passphrase.
    #[arg(long, conflicts_with_all = ["wallet", "connect"])]
    demo: Option<String>,
    /// Save a picture of the window once the world has drawn, then exit.
    #[arg(long)]
    screenshot: Option<PathBuf>,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,wgpu=warn,naga=warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let options = Options {
        connect: cli.connect,
        world: cli.world,
        data: cli.data,
        wallet: cli.wallet,
        demo: cli.demo,
        screenshot: cli.screenshot,
    };
    let outcome = if has_display() {
        run(options)
    } else if options.connect.is_some() {
        Err(anyhow::anyhow!(
            "no display here (DISPLAY is not set), and --connect needs one: there is no world to show"
        ))
    } else {
        #[cfg(feature = "embedded-host")]
        eprintln!("{}", launch::HEADLESS_NOTE);
        launch::headless(&options).map(|()| ExitCode::SUCCESS)
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("plaza: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether an X display is there (the client is built for X11; Wayland
/// sessions provide one through XWayland).
fn has_display() -> bool {
    std::env::var_os("DISPLAY").is_some_and(|value| !value.is_empty())
}

fn run(options: Options) -> anyhow::Result<ExitCode> {
    let launched = launch::prepare(options)?;
    // The runner consumes the app's world (and the session in it) on
    // return; the host it talked to stops after.
    #[cfg(feature = "embedded-host")]
    let exit = {
        let (mut app, embedded) = launched.into_app();
        let exit = app.run();
        if let Some(embedded) = embedded {
            embedded.stop()?;
        }
        exit
    };
    #[cfg(not(feature = "embedded-host"))]
    let exit = launched.into_app().run();
    Ok(match exit {
        AppExit::Success => ExitCode::SUCCESS,
        AppExit::Error(code) => ExitCode::from(code.get()),
    })
}
