//! `world-bench`: the world client's per-frame update, headless (no
//! window, no rendering), with remote avatars moving as the host sends
//! them and the stalls stocked with asset entities.
//!
//! The app runs the client's own plugins (camera, avatar, the session's
//! drawing of other players with their name tags, clicking, the stalls'
//! stock and transform propagation) at 60 frames a second; avatar
//! updates arrive at the host's 20 Hz, and every two seconds some
//! players leave view and others come back. Each `App::update` is timed.
//!
//! Last line: `{"avatars": 200, "assets": 2000, "update_mean_ms": …,
//! "update_p99_ms": …}`; the floor is p99 ≤ 4 ms.

// A benchmark reports on its standard output.
#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use clap::Parser;
use ledger::{Address, ChainId};
use plaza_client::client::Welcome;
use plaza_client::protocol::{AvatarState, Gait, PlayerInfo, StallInfo, WorldInfo};
use world::WorldScene;
use world::avatar::AvatarPlugin;
use world::camera::CameraPlugin;
use world::net::{NetPlugin, Remotes};
use world::pick::{PickPlugin, Pickable, Target};

/// Time the world client's frame update.
#[derive(Parser, Debug)]
#[command(name = "world-bench")]
struct Cli {
    /// Other players in view, moving.
    #[arg(long, default_value_t = 200)]
    avatars: u16,
    /// Asset entities on the stalls.
    #[arg(long, default_value_t = 2000)]
    assets: usize,
    /// Seconds measured (at 60 frames a second), after two of warm-up.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

/// The avatars "the network" brought, as the client holds them.
#[derive(Resource, Default)]
struct Feed(HashMap<u16, (AvatarState, Instant)>);

/// Frames counted, for the feed's rhythm.
#[derive(Resource, Default)]
struct Frame(u64);

fn world_scene(stalls: usize, players: u16) -> WorldScene {
    let side = (stalls as f32).sqrt().ceil() as usize;
    let welcome = Welcome {
        player: 0,
        chain_id: ChainId::new("plaza-bench".to_owned()).unwrap_or_else(|_| unreachable!()),
        height: 1,
        time: 0,
        world: WorldInfo {
            name: "Bench Square".into(),
            half_size: 60.0,
            spawn: [0.0, 0.0, 0.0],
            stalls: (0..stalls)
                .map(|index| StallInfo {
                    name: format!("stall {index}"),
                    kinds: vec!["decoration".into()],
                    position: [
                        (index % side) as f32 * 9.0 - 45.0,
                        (index / side) as f32 * 9.0 - 45.0,
                    ],
                })
                .collect(),
            parcels: Vec::new(),
        },
        worlds: vec!["Bench Square".into()],
        players: (1..=players)
            .map(|player| PlayerInfo {
                player,
                account: Address::from_bytes([(player % 251) as u8; 32]),
                worn: Vec::new(),
            })
            .collect(),
    };
    WorldScene::new(welcome, "plaza1bench".into(), "bench".into())
}

/// Where avatar `player` is at `t` seconds: walking its own circle.
fn walker(player: u16, t: f32) -> AvatarState {
    let phase = f32::from(player) * 0.37;
    let radius = 5.0 + f32::from(player % 40);
    let angle = phase + t * 3.5 / radius;
    AvatarState::new(
        [radius * angle.cos(), 0.0, radius * angle.sin()],
        angle + std::f32::consts::FRAC_PI_2,
        Gait::Walk,
    )
}

/// The network's part of a frame: at the host's 20 Hz every avatar in
/// view moves; every two seconds a tenth leave and come back.
fn feed(
    mut frame: ResMut<Frame>,
    mut feed: ResMut<Feed>,
    mut remotes: ResMut<Remotes>,
    avatars: Res<Avatars>,
) {
    frame.0 += 1;
    let now = Instant::now();
    let t = frame.0 as f32 / 60.0;
    if frame.0.is_multiple_of(3) {
        let away = (frame.0 / 120) % 10;
        for player in 1..=avatars.0 {
            if frame.0 % 120 < 60 && u64::from(player) % 10 == away {
                feed.0.remove(&player);
            } else {
                feed.0.insert(player, (walker(player, t), now));
            }
        }
    }
    remotes.heard(&feed.0);
}

#[derive(Resource)]
struct Avatars(u16);

fn main() {
    let cli = Cli::parse();
    let stalls = cli.assets.div_ceil(12).max(1);
    let scene = world_scene(stalls, cli.avatars);
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, TransformPlugin))
        .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_micros(
            16_667,
        )))
        .init_resource::<ButtonInput<KeyCode>>()
        .init_resource::<Feed>()
        .init_resource::<Frame>()
        .insert_resource(Avatars(cli.avatars))
        .insert_resource(Remotes::new(0, &scene.welcome.players))
        .insert_resource(scene.clone())
        .add_plugins((CameraPlugin, AvatarPlugin, NetPlugin, PickPlugin))
        .add_systems(PreUpdate, feed);
    // The stock: assets on the stalls' counters, each a clickable
    // entity with a transform.
    for index in 0..cli.assets {
        let stall = &scene.welcome.world.stalls[index / 12];
        let slot = (index % 12) as f32;
        app.world_mut().spawn((
            Transform::from_xyz(
                stall.position[0] - 3.0 + (slot % 6.0),
                1.2 + (slot / 6.0).floor() * 0.6,
                stall.position[1],
            ),
            Visibility::default(),
            Name::new(format!("asset {index}")),
            Pickable {
                target: Target::Item(index),
                half: Vec3::splat(0.3),
                offset: Vec3::ZERO,
            },
        ));
    }

    let frame_time = Duration::from_micros(16_667);
    let warm_up = 120;
    let measured = cli.seconds * 60;
    let mut times = Vec::with_capacity(measured as usize);
    let mut next = Instant::now();
    for frame in 0..warm_up + measured {
        next += frame_time;
        let started = Instant::now();
        app.update();
        let took = started.elapsed();
        if frame >= warm_up {
            times.push(took);
        }
        if let Some(rest) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(rest);
        }
    }
    let drawn = {
        let world = app.world_mut();
        let mut query = world.query::<&world::net::RemoteAvatar>();
        query.iter(world).count()
    };
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mean = times.iter().map(|t| ms(*t)).sum::<f64>() / times.len().max(1) as f64;
    let p = |q: f64| ms(times[((times.len() as f64 * q) as usize).min(times.len() - 1)]);
    let (p50, p99, slowest) = (
        p(0.50),
        p(0.99),
        ms(*times.last().unwrap_or(&Duration::ZERO)),
    );
    println!(
        "world update: {} avatars ({drawn} drawn at the end), {} asset entities, {} frames at 60 Hz: mean {mean:.3} ms, p50 {p50:.3} ms, p99 {p99:.3} ms, slowest {slowest:.3} ms (floor: p99 4 ms)",
        cli.avatars,
        cli.assets,
        times.len()
    );
    println!(
        "{{\"avatars\": {}, \"assets\": {}, \"update_mean_ms\": {mean:.3}, \"update_p99_ms\": {p99:.3}}}",
        cli.avatars, cli.assets
    );
}
