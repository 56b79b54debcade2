//! The world's plugins in a headless Bevy app (`MinimalPlugins`, updated
//! by hand): walking, collisions, and other players drawn from their
//! updates.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use ledger::ChainId;
use plaza_client::client::Welcome;
use plaza_client::protocol::{Gait, StallInfo, WorldInfo};
use world::WorldScene;
use world::avatar::{AvatarPlugin, LocalAvatar};
use world::camera::{CameraPlugin, CameraRig};
use world::interp::DELAY;
use world::motion::{AVATAR_RADIUS, WALK_SPEED};
use world::net::{RemoteAvatar, Remotes, draw_remotes};

fn scene() -> WorldScene {
    let welcome = Welcome {
        player: 0,
        chain_id: ChainId::new("plaza-test".to_owned()).unwrap(),
        height: 1,
        time: 0,
        world: WorldInfo {
            name: "Test Square".into(),
            half_size: 40.0,
            spawn: [0.0, 0.0, 0.0],
            stalls: vec![StallInfo {
                name: "Lamps".into(),
                kinds: vec!["lighting".into()],
                position: [0.0, -10.0],
            }],
            parcels: Vec::new(),
        },
        worlds: vec!["Test Square".into()],
        players: Vec::new(),
    };
    WorldScene::new(welcome, "plaza1test".into(), "test".into())
}

fn walking_app() -> App {
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(
            50,
        )))
        .init_resource::<ButtonInput<KeyCode>>()
        .insert_resource(scene())
        .add_plugins((CameraPlugin, AvatarPlugin));
    app.update();
    app
}

fn avatar(app: &mut App) -> (Vec3, Gait) {
    let world = app.world_mut();
    let mut query = world.query::<(&Transform, &LocalAvatar)>();
    let (transform, avatar) = query.single(world).unwrap();
    (transform.translation, avatar.gait)
}

#[test]
fn wasd_walks_the_avatar_where_the_camera_looks_until_a_stall_stops_it() {
    let mut app = walking_app();
    let (start, gait) = avatar(&mut app);
    assert_eq!(gait, Gait::Idle);

    app.world_mut()
        .resource_mut::<ButtonInput<KeyCode>>()
        .press(KeyCode::KeyW);
    for _ in 0..20 {
        app.update();
    }
    let (after, gait) = avatar(&mut app);
    assert_eq!(gait, Gait::Walk);
    // One second at walking pace, straight ahead (-z, the camera's way).
    let walked = start.z - after.z;
    assert!((walked - WALK_SPEED).abs() < 0.05, "walked {walked} m");
    assert!((after.x - start.x).abs() < 1e-3);

    // On towards the stall at z = -10: its front is at -9.
    for _ in 0..60 {
        app.update();
    }
    let (stopped, _) = avatar(&mut app);
    assert!(
        (stopped.z - (-9.0 + AVATAR_RADIUS)).abs() < 1e-3,
        "stopped at {stopped}"
    );

    // Turn the camera a quarter to the left: W now walks -x.
    app.world_mut().resource_mut::<CameraRig>().yaw = std::f32::consts::FRAC_PI_2;
    for _ in 0..20 {
        app.update();
    }
    let (turned, _) = avatar(&mut app);
    assert!(turned.x < stopped.x - 3.0, "{turned} after {stopped}");
    app.world_mut()
        .resource_mut::<ButtonInput<KeyCode>>()
        .release(KeyCode::KeyW);
    app.update();
    assert_eq!(avatar(&mut app).1, Gait::Idle);
}

#[test]
fn other_players_are_drawn_between_their_updates_and_removed_when_gone() {
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .insert_resource(Remotes::new(0, &[]))
        .add_systems(Update, draw_remotes);
    // Player 3 walks from x = 0 to x = 2 between a second ago and a
    // second from now (wide, so a slow machine still lands between).
    {
        let mut remotes = app.world_mut().resource_mut::<Remotes>();
        let now = remotes.seconds(std::time::Instant::now());
        let track = remotes.tracks.entry(3).or_default();
        track.push(now - 1.0, Vec3::new(0.0, 0.9, 0.0), 0.0);
        track.push(now + 1.0, Vec3::new(2.0, 0.9, 0.0), 0.0);
    }
    app.update();
    let drawn = |app: &mut App| {
        let world = app.world_mut();
        let mut query = world.query::<(&RemoteAvatar, &Transform)>();
        query
            .iter(world)
            .map(|(remote, transform)| (remote.0, transform.translation))
            .collect::<Vec<_>>()
    };
    let first = drawn(&mut app);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].0, 3);
    // Drawn DELAY in the past: between the updates, not at the newest.
    let x = first[0].1.x;
    assert!(x > 0.0 && x < 2.0, "drawn at x = {x} (delay {DELAY} s)");

    // As time passes it moves on towards the newest update.
    std::thread::sleep(Duration::from_millis(200));
    app.update();
    let later = drawn(&mut app);
    assert!(later[0].1.x > x, "{} then {}", x, later[0].1.x);
    assert!(later[0].1.x <= 2.0);

    // Out of view: gone.
    app.world_mut().resource_mut::<Remotes>().tracks.clear();
    app.update();
    app.update();
    assert!(drawn(&mut app).is_empty());
}
