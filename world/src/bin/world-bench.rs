//! `world-bench`: the world client's per-frame update, headless (no
//! window, no rendering), with remote avatars moving as the host sends
//! them and the stalls stocked with asset entities.
//!
//! The app runs the client's own plugins (camera, avatar, the session's
//! drawing of other players with their name tags, clicking, the stalls'
//! stock and transform propagation) at 60 frames a second; avatar
//! updates arrive at the host's 20 Hz, and every two seconds some
//! players leave view and others come back. With `--worn N` every
//! player wears N things, which the host tells the client of as it does
//! (a session over renet, in memory) and the client draws on each avatar
//! it shows (the models' files in a cache; no renderer loads them). Each
//! `App::update` is timed.
//!
//! Last line: `{"avatars": 200, "assets": 2000, "worn": 0,
//! "update_mean_ms": …, "update_p99_ms": …}`; the floor is p99 ≤ 4 ms.

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
use world::wear::WearPlugin;

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
    /// Things each other player wears (at most one a slot: 0 to 4).
    #[arg(long, default_value_t = 0)]
    worn: usize,
}

/// The host's end of the in-memory session that tells the client what
/// each player wears.
struct Host(bevy_renet::renet::RenetServer);

/// The host's client id for the one player.
const ME: u64 = 1;

/// A session with a host in memory: the player's welcome, then each other
/// player joining in what it wears (`worn` things of its own from a set
/// of wearables whose manifests and model files the client has).
fn wearing_session(app: &mut App, scene: &WorldScene, avatars: u16, worn: usize) -> Host {
    use plaza_client::protocol::{self, End, ServerMessage, Slot};
    let cache = std::env::temp_dir().join(format!("world-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&cache);
    let mut marketplace = world::marketplace::Marketplace::new(Address::from_bytes([0; 32]))
        .with_cache(cache.clone());
    // Eight wearables to go round.
    let wearables: Vec<ledger::AssetId> = (0..8u8)
        .map(|index| {
            let model = assets::ContentId::of(assets::Codec::Raw, &[index; 8]);
            let _ = std::fs::write(cache.join(format!("{model}.glb")), [index; 8]);
            let manifest = assets::Manifest {
                name: format!("wearable {index}"),
                description: String::new(),
                kind: assets::AssetKind::Wearable,
                model,
                preview: model,
                bounds: assets::Bounds {
                    min: [-0.2, 0.0, -0.2],
                    max: [0.2, 0.3, 0.2],
                },
                scale: 1.0,
                creator: "plaza1bench".into(),
                attributes: Vec::new(),
                external_url: None,
            };
            let asset = ledger::AssetId(assets::ContentId::of(assets::Codec::Json, &[index; 4]));
            marketplace.manifests.insert(asset, manifest);
            asset
        })
        .collect();
    let mut host = bevy_renet::renet::RenetServer::new(protocol::connection_config(End::Host));
    host.add_connection(ME);
    let mut client = bevy_renet::renet::RenetClient::new(protocol::connection_config(End::Client));
    client.set_connected();
    let welcome = &scene.welcome;
    let send = |host: &mut bevy_renet::renet::RenetServer, message: &ServerMessage| {
        if let Ok(bytes) = protocol::encode(message) {
            host.send_message(ME, protocol::CHANNEL_RELIABLE, bytes);
        }
    };
    send(
        &mut host,
        &ServerMessage::Welcome {
            version: protocol::VERSION,
            player: welcome.player,
            account: Address::from_bytes([0; 32]),
            chain_id: welcome.chain_id.as_str().to_owned(),
            height: welcome.height,
            time: welcome.time,
            world: welcome.world.clone(),
            at: welcome.at,
            worlds: welcome.worlds.clone(),
            players: Vec::new(),
        },
    );
    for player in 1..=avatars {
        let worn = Slot::ALL
            .iter()
            .take(worn)
            .enumerate()
            .map(|(index, slot)| {
                (
                    *slot,
                    wearables[(usize::from(player) + index) % wearables.len()],
                )
            })
            .collect();
        send(
            &mut host,
            &ServerMessage::PlayerJoined(PlayerInfo {
                player,
                account: Address::from_bytes([(player % 251) as u8; 32]),
                worn,
            }),
        );
    }
    let key = ledger::Keypair::from_seed([7; 32]);
    app.insert_resource(bevy_renet::RenetClient(client))
        .insert_resource(world::net::HostSession(
            plaza_client::client::SessionState::new(&key),
        ))
        .insert_resource(marketplace);
    Host(host)
}

/// The host's part of frame `frame`: avatar updates for those in view
/// (as many a message as the host puts in one), then what the host and
/// the client have for each other, carried as the transport would.
fn carry(app: &mut App, host: &mut Host, frame: u64, avatars: u16, elapsed: Duration) {
    use plaza_client::protocol::{self, MAX_AVATARS_PER_UPDATE};
    if let Some((seen, _)) = host_says(frame, avatars) {
        for part in seen.chunks(MAX_AVATARS_PER_UPDATE) {
            let update = protocol::Avatars {
                tick: frame as u32,
                avatars: part.to_vec(),
            };
            if let Ok(bytes) = protocol::encode(&update) {
                host.0.send_message(ME, protocol::CHANNEL_AVATAR, bytes);
            }
        }
    }
    host.0.update(elapsed);
    let mut client = app.world_mut().resource_mut::<bevy_renet::RenetClient>();
    if let Ok(packets) = host.0.get_packets_to_send(ME) {
        for packet in packets {
            client.0.process_packet(&packet);
        }
    }
    for packet in client.0.get_packets_to_send() {
        let _ = host.0.process_packet_from(&packet, ME);
    }
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
            paths: Vec::new(),
            props: Vec::new(),
        },
        at: [0.0, 0.0, 0.0],
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

/// Who is in view and where, and who is not.
type HostSays = (Vec<(u16, AvatarState)>, Vec<u16>);

/// The host's word at frame `frame` (60 a second), if it speaks then:
/// at its 20 Hz every avatar in view moves; every two seconds a tenth of
/// them are out of view for a second. Who is in view and where, and who
/// is not.
fn host_says(frame: u64, avatars: u16) -> Option<HostSays> {
    if !frame.is_multiple_of(3) {
        return None;
    }
    let t = frame as f32 / 60.0;
    let away = (frame / 120) % 10;
    let (out, seen): (Vec<u16>, Vec<u16>) =
        (1..=avatars).partition(|player| frame % 120 < 60 && u64::from(*player) % 10 == away);
    Some((
        seen.into_iter()
            .map(|player| (player, walker(player, t)))
            .collect(),
        out,
    ))
}

/// The network's part of a frame, straight into what the client keeps of
/// the avatars in view.
fn feed(
    mut frame: ResMut<Frame>,
    mut feed: ResMut<Feed>,
    mut remotes: ResMut<Remotes>,
    avatars: Res<Avatars>,
) {
    frame.0 += 1;
    let now = Instant::now();
    if let Some((seen, out)) = host_says(frame.0, avatars.0) {
        for player in out {
            feed.0.remove(&player);
        }
        for (player, state) in seen {
            feed.0.insert(player, (state, now));
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
        .add_plugins((CameraPlugin, AvatarPlugin, NetPlugin, PickPlugin));
    // With things worn, the avatars come through a session as the host
    // sends them; without, straight into the client's view of them.
    let mut host = (cli.worn > 0).then(|| {
        app.add_plugins(WearPlugin);
        wearing_session(&mut app, &scene, cli.avatars, cli.worn.min(4))
    });
    if host.is_none() {
        app.add_systems(PreUpdate, feed);
    }
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
        if let Some(host) = &mut host {
            carry(&mut app, host, frame + 1, cli.avatars, frame_time);
        }
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
    let (drawn, worn_drawn) = {
        let world = app.world_mut();
        let mut query = world.query::<&world::net::RemoteAvatar>();
        let drawn = query.iter(world).count();
        let mut worn = world.query::<&world::wear::Worn>();
        (drawn, worn.iter(world).count())
    };
    if let Some(ended) = &app.world().resource::<world::net::NetStatus>().ended {
        println!("the session ended: {ended}");
    }
    if host.is_some() {
        let _ = std::fs::remove_dir_all(
            std::env::temp_dir().join(format!("world-bench-{}", std::process::id())),
        );
    }
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
        "world update: {} avatars ({drawn} drawn at the end, wearing {worn_drawn} things), {} asset entities, {} frames at 60 Hz: mean {mean:.3} ms, p50 {p50:.3} ms, p99 {p99:.3} ms, slowest {slowest:.3} ms (floor: p99 4 ms)",
        cli.avatars,
        cli.assets,
        times.len()
    );
    println!(
        "{{\"avatars\": {}, \"assets\": {}, \"worn\": {}, \"update_mean_ms\": {mean:.3}, \"update_p99_ms\": {p99:.3}}}",
        cli.avatars, cli.assets, cli.worn
    );
}
