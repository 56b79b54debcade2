//! Everything `plaza` does before its window opens: the data directory,
//! the embedded host or the address of another, the player's key, the
//! session and the world it enters, the stall models to load; then the
//! app, built from [`WorldPlugin`](crate::WorldPlugin).

use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use bevy::log::LogPlugin;
use bevy::prelude::*;
use ledger::Keypair;
use plaza_client::client::{Client, Welcome};

#[cfg(feature = "embedded-host")]
use crate::embedded::Embedded;
use crate::marketplace::Marketplace;
use crate::net::{Remotes, insert_session};
use crate::shot::{ShotPlan, ShotPlugin};
use crate::{WorldPlugin, WorldScene, stalls, wallet};

/// What the player asked for on the command line.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Join this host's join endpoint (host:port) instead of starting one
    /// in this process.
    pub connect: Option<String>,
    /// The world to enter.
    pub world: String,
    /// Plaza's data directory; the platform's when `None`.
    pub data: Option<PathBuf>,
    /// The wallet to play with; "player" when `None`.
    pub wallet: Option<String>,
    /// A demo account of the embedded network to play instead.
    pub demo: Option<String>,
    /// Save a picture of the window once the world has drawn, then exit.
    pub screenshot: Option<PathBuf>,
}

/// A player in a world, ready for the window: the session entered, the
/// scene described, the host (if this process runs it).
pub struct Launched {
    #[cfg(feature = "embedded-host")]
    embedded: Option<Embedded>,
    client: Client,
    welcome: Welcome,
    key: Keypair,
    host: String,
    cache: PathBuf,
    /// Where the player's blocks and mutes are kept.
    people: PathBuf,
    /// Where the player's arrangements of its parcels are kept.
    land: PathBuf,
    loader: stalls::Loader,
    screenshot: Option<PathBuf>,
}

/// Plaza's data directory: the one asked for, else the platform's.
pub fn data_dir(options: &Options) -> anyhow::Result<PathBuf> {
    if let Some(dir) = &options.data {
        return Ok(dir.clone());
    }
    match plaza_client::data_dir() {
        Some(data) => Ok(data),
        None => bail!("no home directory is known: pass --data <dir>"),
    }
}

/// Starts (or finds) the host, opens the player's key, joins and enters
/// the world, and starts loading the stalls' models.
pub fn prepare(cli: Options) -> anyhow::Result<Launched> {
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
    let loader = stalls::Loader::start(&mut client.session(), &welcome.world.name, &cache)?;
    let people = crate::marketplace::people_file(&data, &key.address());
    let land = crate::marketplace::land_file(&data, &key.address());

    Ok(Launched {
        #[cfg(feature = "embedded-host")]
        embedded,
        client,
        welcome,
        key,
        host,
        cache,
        people,
        land,
        loader,
        screenshot: cli.screenshot,
    })
}

impl Launched {
    /// The app: the window, the asset server on the model cache, and the
    /// world. Running it consumes the session; the host this process runs
    /// (if any) comes back, to be stopped after.
    #[cfg(feature = "embedded-host")]
    pub fn into_app(mut self) -> (App, Option<Embedded>) {
        let embedded = self.embedded.take();
        (self.app(), embedded)
    }

    /// The app: the window, the asset server on the model cache, and the
    /// world. Running it consumes the session.
    #[cfg(not(feature = "embedded-host"))]
    pub fn into_app(self) -> App {
        self.app()
    }

    fn app(self) -> App {
        let Launched {
            client,
            welcome,
            key,
            host,
            cache,
            people,
            land,
            loader,
            screenshot,
            ..
        } = self;
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
        .insert_resource(
            Marketplace::new(key.address())
                .with_cache(cache.clone())
                .with_people(people)
                .with_land(land),
        );
        insert_session(&mut app, client);
        app.add_plugins(WorldPlugin);
        if let Some(path) = screenshot {
            app.add_plugins(ShotPlugin(ShotPlan {
                path,
                after_frames: 90,
            }));
        }
        app
    }
}

/// The key to play with: a demo account of the embedded network, or the
/// player's wallet (made, and given its first tokens, only on the
/// embedded network; another host's players bring theirs).
#[cfg(feature = "embedded-host")]
pub(crate) fn player_key(
    cli: &Options,
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
pub(crate) fn player_key(
    cli: &Options,
    wallets: &std::path::Path,
) -> anyhow::Result<ledger::Keypair> {
    if cli.demo.is_some() {
        bail!("--demo plays an account of the embedded network, which this build has not");
    }
    let name = cli.wallet.as_deref().unwrap_or(wallet::DEFAULT_WALLET);
    Ok(wallet::open_or_make(wallets, name, false)?.0)
}

/// What `plaza` tells the person who ran it where there is no display.
#[cfg(feature = "embedded-host")]
pub const HEADLESS_NOTE: &str = "plaza: no display here (DISPLAY is not set), so the 3D world cannot open.\n\
     Running the headless peer host instead, until Ctrl-C, on the address and ports in its\n\
     config.toml (127.0.0.1:7480 unless changed); players join with plaza --connect or\n\
     plaza-host bot. The same host alone:\n\
     \n    cargo run --release -p server-less --bin plaza-host -- run --init\n";

/// With no display: run the host without the world, as `plaza-host run
/// --init` does, until Ctrl-C (after [`HEADLESS_NOTE`] is shown).
#[cfg(feature = "embedded-host")]
pub fn headless(cli: &Options) -> anyhow::Result<()> {
    let dir = data_dir(cli)?.join("host");
    let embedded = Embedded::start(&dir, false)?;
    embedded.serve_until_interrupted(|| {
        tracing::info!(join = %embedded.join_addr(), home = %dir.display(), "players can join");
    })?;
    tracing::info!("asked to stop (Ctrl-C or SIGTERM): stopping");
    embedded.stop()?;
    Ok(())
}

/// With no display and no host in this build: nothing to run.
#[cfg(not(feature = "embedded-host"))]
pub fn headless(_cli: &Options) -> anyhow::Result<()> {
    bail!(
        "no display here (DISPLAY is not set), so the 3D world cannot open, and this build has \
         no embedded host to run instead (it was built without the `embedded-host` feature); \
         run a host with plaza-host"
    )
}
