//! A player whose host dies goes on at another host of its world: the
//! whole client (every feature plugin, without a renderer) plays at the
//! follower of a two-host network running in this process; the
//! follower's session server is stopped dead, as a killed host's; the
//! client notices the silence, joins the validator's host, enters the
//! same world with its hat back on, and its scene says the new host.

#![cfg(feature = "embedded-host")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use plaza_client::client::Client;
use plaza_client::protocol::{Browse, Slot};
use server_less::clock::{Clock, SystemClock};
use server_less::home;
use server_less::sessions;
use world::failover::Failover;
use world::marketplace::Marketplace;
use world::net::{HostSession, NetStatus};
use world::{WorldPlugin, WorldScene};

mod support;

use support::{WAIT, session_into, settle, windowless, with};

#[test]
fn the_client_goes_on_at_another_host_of_its_world_within_five_seconds_of_its_host_dying() {
    let dir = tempfile::tempdir().unwrap();
    let homes = home::testnet(dir.path(), 1, 1, Some("plaza-failover"), SystemClock.now()).unwrap();
    home::connect_testnet(&homes, 1, server_less::bench::free_port_block().unwrap()).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut served = Vec::new();
    for home in &homes {
        served.push(
            runtime
                .block_on(sessions::serve(home, Arc::new(SystemClock), |_| {}))
                .unwrap(),
        );
    }
    let (validator, follower) = (served[0].1.join_addr(), served[1].1.join_addr());

    // Cy plays at the follower, a hat of its own on.
    let key = homes[1].load_demo_key("cy").unwrap();
    let mut cy = Client::connect(follower, &key, WAIT).unwrap();
    cy.enter("Plaza Square", WAIT).unwrap();
    let (_, owned, _) = cy.inventory(WAIT).unwrap();
    let hat = owned
        .iter()
        .filter(|holding| holding.rented.is_none())
        .find_map(|holding| {
            cy.wear(Slot::Head, Some(holding.asset), WAIT)
                .ok()
                .map(|_| holding.asset)
        })
        .expect("cy owns something worn on the head");
    let cache = dir.path().join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    let mut app = windowless(&cache, 1280, 720);
    session_into(&mut app, cy, &follower.to_string(), &cache);
    app.add_plugins(WorldPlugin);

    // The follower tells cy of the world's other host.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !app
        .world()
        .resource::<HostSession>()
        .0
        .other_hosts()
        .contains(&validator)
    {
        assert!(
            Instant::now() < deadline,
            "cy never heard of the other host"
        );
        app.update();
        std::thread::sleep(Duration::from_millis(5));
    }

    // The follower dies; the client goes on at the validator's host.
    served[1].1.halt();
    let died = Instant::now();
    loop {
        app.update();
        let world = app.world();
        let session = &world.resource::<HostSession>().0;
        let moved = world.resource::<WorldScene>().host == validator.to_string();
        let dressed = session
            .welcome()
            .and_then(|welcome| session.appearances().get(&welcome.player))
            .is_some_and(|worn| worn == &vec![(Slot::Head, hat)]);
        if moved && dressed && world.resource::<NetStatus>().ended.is_none() {
            break;
        }
        assert!(
            died.elapsed() < Duration::from_secs(20),
            "the client never went on at the other host ({:?}, {:?})",
            world.resource::<NetStatus>().ended,
            world.resource::<Failover>().note
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = died.elapsed();
    assert!(took < Duration::from_secs(5), "back after {took:?}");
    let world = app.world();
    assert_eq!(
        world.resource::<WorldScene>().welcome.world.name,
        "Plaza Square"
    );
    assert!(world.resource::<Failover>().took.is_some());
    assert!(world.resource::<Failover>().note.is_none());
    assert_eq!(
        world.resource::<HostSession>().0.key().address(),
        key.address()
    );
    // It goes on playing there: the new host answers what it asks.
    app.world_mut()
        .resource_mut::<Marketplace>()
        .catalogue
        .hits
        .clear();
    with(&mut app, |marketplace, session| {
        marketplace.search(
            session,
            Browse {
                world: Some("Plaza Square".into()),
                page_size: 10,
                ..Browse::default()
            },
        );
    });
    settle(&mut app, "the new host's catalogue", |app| {
        !app.world()
            .resource::<Marketplace>()
            .catalogue
            .hits
            .is_empty()
    });

    drop(app);
    for (host, sessions) in served {
        runtime.block_on(async {
            sessions.stop().await;
            host.stop().await.unwrap();
        });
    }
}
