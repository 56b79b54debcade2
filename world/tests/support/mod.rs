//! What the tests that join a real embedded host share.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use std::path::Path;

use bevy::prelude::*;
use bevy_renet::RenetClient;
use plaza_client::client::{Client, Session};
use world::WorldScene;
use world::embedded::Embedded;
use world::marketplace::Marketplace;
use world::net::{HostSession, Remotes, insert_session};

/// How long a test waits for the host.
pub(crate) const WAIT: Duration = Duration::from_secs(30);

/// Calls `f` with the app's marketplace and client, as a panel would.
pub(crate) fn with<T>(app: &mut App, f: impl FnOnce(&mut Marketplace, &mut Session<'_>) -> T) -> T {
    app.world_mut()
        .resource_scope(|world, mut marketplace: Mut<Marketplace>| {
            world.resource_scope(|world, mut renet: Mut<RenetClient>| {
                let mut state = world.resource_mut::<HostSession>();
                let mut session = Session {
                    renet: &mut renet.0,
                    state: &mut state.0,
                };
                f(&mut marketplace, &mut session)
            })
        })
}

/// Updates `app` until `done` holds of it.
pub(crate) fn settle(app: &mut App, what: &str, mut done: impl FnMut(&mut App) -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done(app) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        app.update();
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Updates the apps in turn until `done` holds of the first one.
pub(crate) fn update_until(
    apps: &mut [&mut App],
    what: &str,
    mut done: impl FnMut(&mut App) -> bool,
) {
    let deadline = Instant::now() + WAIT;
    loop {
        for app in apps.iter_mut() {
            app.update();
        }
        if done(apps[0]) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Demo account `name` joins `embedded` and enters the square; its
/// session and what the client keeps of it (the scene, the players, the
/// marketplace caching models in `cache`) go into `app`, before `ready`
/// adds what else the app needs (given the session first).
pub(crate) fn join_into(
    app: &mut App,
    embedded: &Embedded,
    name: &str,
    cache: &Path,
    ready: impl FnOnce(&mut App, &mut Client),
) {
    let key = embedded.home().load_demo_key(name).unwrap();
    let mut client = Client::connect(embedded.join_addr(), &key, WAIT).unwrap();
    client.enter("Plaza Square", WAIT).unwrap();
    ready(app, &mut client);
    session_into(app, client, "embedded", cache);
}

/// `client`'s session, in a world already, and what the client keeps of
/// it (the scene, served by `host`; the players; the marketplace caching
/// models in `cache`) go into `app`.
pub(crate) fn session_into(app: &mut App, client: Client, host: &str, cache: &Path) {
    let welcome = client.welcome().unwrap().clone();
    let account = client.key().address();
    app.insert_resource(WorldScene::new(
        welcome.clone(),
        account.to_string(),
        host.into(),
    ))
    .insert_resource(Remotes::new(welcome.player, &welcome.players))
    .insert_resource(Marketplace::new(account).with_cache(cache.to_owned()));
    insert_session(app, client);
}

/// An app as `plaza` builds one, with a window that is never opened, an
/// asset server on the model cache `cache`, and no renderer; no session
/// yet, and none of the client's plugins.
pub(crate) fn windowless(cache: &Path, width: u32, height: u32) -> App {
    use bevy::input::InputPlugin;
    use bevy::window::{ExitCondition, WindowResolution};
    let mut app = App::new();
    app.add_plugins((
        MinimalPlugins,
        TransformPlugin,
        InputPlugin,
        WindowPlugin {
            primary_window: Some(Window {
                resolution: WindowResolution::new(width, height),
                ..default()
            }),
            exit_condition: ExitCondition::DontExit,
            close_when_requested: false,
            ..default()
        },
        AssetPlugin {
            file_path: cache.to_string_lossy().into_owned(),
            ..default()
        },
    ))
    .init_asset::<Mesh>()
    .init_asset::<StandardMaterial>()
    .init_asset::<Image>()
    .init_asset::<bevy::world_serialization::WorldAsset>()
    .init_asset::<bevy::shader::Shader>();
    app
}
