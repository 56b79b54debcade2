//! What the tests that join a real embedded host share.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy_renet::RenetClient;
use plaza_client::client::Session;
use world::marketplace::Marketplace;
use world::net::HostSession;

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
