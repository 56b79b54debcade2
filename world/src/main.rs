//! `plaza`: walk Plaza's 3D world. With no arguments it starts a host in
//! this process (a network of one in the platform's data directory) and
//! enters its first world.

// A command-line program answers on its standard error.
#![allow(clippy::print_stderr)]

use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use bevy::log::LogPlugin;
use bevy::prelude::*;
use clap::Parser;
use plaza_client::client::Client;
use tracing_subscriber::EnvFilter;
#[cfg(feature = "embedded-host")]
use world::embedded::Embedded;
use world::marketplace::{Marketplace, MarketplacePlugin};
use world::net::{Remotes, Session};
use world::shot::{ShotPlan, ShotPlugin};
use world::{
    WorldScene, avatar, camera, catalogue, hud, inventory, net, pick, rental, scene, stalls, trade,
    ui, wallet, wear,
};

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
    let outcome = if has_display() {
        run(cli)
    } else if cli.connect.is_some() {
        Err(anyhow::anyhow!(
            "no display here (DISPLAY is not set), and --connect needs one: there is no world to show"
        ))
    } else {
        headless(&cli)
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("plaza: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// With no display: say so, and run the host without the world, as
/// `plaza-host run --init` does, until Ctrl-C.
#[cfg(feature = "embedded-host")]
fn headless(cli: &Cli) -> anyhow::Result<ExitCode> {
    eprintln!(
        "plaza: no display here (DISPLAY is not set), so the 3D world cannot open.\n\
         Running the headless peer host instead, until Ctrl-C, on the address and ports in its\n\
         config.toml (127.0.0.1:7480 unless changed); players join with plaza --connect or\n\
         plaza-host bot. The same host alone:\n\
         \n    cargo run --release -p server-less --bin plaza-host -- run --init\n"
    );

    let dir = data_dir(cli)?.join("host");
    let embedded = Embedded::start(&dir, false)?;
    embedded.serve_until_interrupted(|| {
        tracing::info!(join = %embedded.join_addr(), home = %dir.display(), "players can join");
    })?;
    tracing::info!("Ctrl-C: stopping");
    embedded.stop()?;
    Ok(ExitCode::SUCCESS)
}

/// With no display and no host in this build: nothing to run.
#[cfg(not(feature = "embedded-host"))]
fn headless(_cli: &Cli) -> anyhow::Result<ExitCode> {
    bail!(
        "no display here (DISPLAY is not set), so the 3D world cannot open, and this build has \
         no embedded host to run instead (it was built without the `embedded-host` feature); \
         run a host with plaza-host"
    )
}

/// Whether an X display is there (the client is built for X11; Wayland
/// sessions provide one through XWayland).
fn has_display() -> bool {
    std::env::var_os("DISPLAY").is_some_and(|value| !value.is_empty())
}

fn data_dir(cli: &Cli) -> anyhow::Result<PathBuf> {
    if let Some(dir) = &cli.data {
        return Ok(dir.clone());
    }
    match plaza_client::data_dir() {
        Some(data) => Ok(data),
        None => bail!("no home directory is known: pass --data <dir>"),
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Absolute: the asset server reads models from the cache in it.
    let data = std::path::absolute(data_dir(&cli)?)?;
    #[cfg(feature = "embedded-host")]
    let embedded = match &cli.connect {
        Some(_) => None,
        None => Some(Embedded::start(&data.join("host"), true)?),
    };
    let (join, host) = match &cli.connect {
        Some(name) => {
            let join = name
                .to_socket_addrs()
                .with_context(|| format!("--connect {name}: not a host:port"))?
                .next()
                .with_context(|| format!("--connect {name}: no address"))?;
            (join, name.clone())
        }
        #[cfg(feature = "embedded-host")]
        None => match &embedded {
            Some(embedded) => (embedded.join_addr(), "embedded".to_owned()),
            None => bail!("no host to join"),
        },
        #[cfg(not(feature = "embedded-host"))]
        None => bail!(
            "this build has no embedded host (it was built without the `embedded-host` \
             feature): pass --connect <host:port>"
        ),
    };
    let wallets = data.join("wallets");
    #[cfg(feature = "embedded-host")]
    let key = player_key(&cli, &wallets, embedded.as_ref())?;
    #[cfg(not(feature = "embedded-host"))]
    let key = player_key(&cli, &wallets)?;
    let wait = Duration::from_secs(10);
    let mut client =
        Client::connect(join, &key, wait).with_context(|| format!("joining the host at {join}"))?;
    let welcome = client.enter(&cli.world, wait)?.clone();
    tracing::info!(world = %welcome.world.name, player = welcome.player, account = %key.address(), "entered");
    let cache = data.join("cache").join("models");
    let loader = world::stalls::Loader::start(&mut client, &welcome.world.name, &cache)?;

    let mut app = App::new();
    app.add_plugins(
        DefaultPlugins
            .set(WindowPlugin {
                primary_window: Some(Window {
                    title: format!("Plaza - {}", welcome.world.name),
                    resolution: (1280, 720).into(),
                    ..default()
                }),
                ..default()
            })
            .set(AssetPlugin {
                file_path: cache.to_string_lossy().into_owned(),
                ..default()
            })
            .disable::<LogPlugin>(),
    )
    .insert_resource(loader)
    .insert_resource(WorldScene::new(
        welcome.clone(),
        key.address().to_string(),
        host,
    ))
    .insert_resource(Remotes::new(welcome.player, &welcome.players))
    .insert_resource(Marketplace::new(key.address()).with_cache(cache.clone()))
    .insert_non_send(Session(client))
    .add_plugins((
        scene::ScenePlugin,
        camera::CameraPlugin,
        avatar::AvatarPlugin,
        net::NetPlugin,
        stalls::StallsPlugin,
        pick::PickPlugin,
        ui::UiPlugin,
        MarketplacePlugin,
        hud::HudPlugin,
        catalogue::CataloguePlugin,
        rental::RentalPlugin,
        inventory::InventoryPlugin,
        trade::TradePlugin,
        wear::WearPlugin,
        wear::PlacePlugin,
    ));
    if let Some(path) = cli.screenshot {
        app.add_plugins(ShotPlugin(ShotPlan {
            path,
            after_frames: 90,
        }));
    }
    // The runner consumes the app's world (and the session in it) on
    // return; the host it talked to stops after.
    let exit = app.run();
    #[cfg(feature = "embedded-host")]
    if let Some(embedded) = embedded {
        embedded.stop()?;
    }
    Ok(match exit {
        AppExit::Success => ExitCode::SUCCESS,
        AppExit::Error(code) => ExitCode::from(code.get()),
    })
}

/// The key to play with: a demo account of the embedded network, or the
/// player's wallet (made, and given its first tokens, only on the
/// embedded network; another host's players bring theirs).
#[cfg(feature = "embedded-host")]
fn player_key(
    cli: &Cli,
    wallets: &std::path::Path,
    embedded: Option<&Embedded>,
) -> anyhow::Result<ledger::Keypair> {
    if let (Some(name), Some(embedded)) = (&cli.demo, embedded) {
        return embedded
            .home()
            .load_demo_key(name)
            .with_context(|| format!("--demo {name}: the demo accounts are ada, bo, cy and dee"));
    }
    let name = cli.wallet.as_deref().unwrap_or(wallet::DEFAULT_WALLET);
    let (key, new) = wallet::open_or_make(wallets, name, embedded.is_some())?;
    if let (true, Some(embedded)) = (new, embedded) {
        embedded.grant(&key, &cli.world)?;
    }
    Ok(key)
}

/// The key to play with: the player's wallet.
#[cfg(not(feature = "embedded-host"))]
fn player_key(cli: &Cli, wallets: &std::path::Path) -> anyhow::Result<ledger::Keypair> {
    if cli.demo.is_some() {
        bail!("--demo plays an account of the embedded network, which this build has not");
    }
    let name = cli.wallet.as_deref().unwrap_or(wallet::DEFAULT_WALLET);
    Ok(wallet::open_or_make(wallets, name, false)?.0)
}
