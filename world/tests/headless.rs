//! The world's plugins in a headless Bevy app (`MinimalPlugins`, updated
//! by hand): walking, collisions, other players drawn from their updates,
//! the scene the host describes, and picking things with the mouse.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bevy::camera::{CameraProjection, RenderTargetInfo};
use bevy::prelude::*;
use bevy::time::TimeUpdateStrategy;
use bevy::window::WindowResolution;
use ledger::ChainId;
use plaza_client::client::Welcome;
use plaza_client::protocol::{Gait, ParcelInfo, StallInfo, WorldInfo};
use world::WorldScene;
use world::avatar::{AvatarPlugin, LocalAvatar};
use world::camera::{CameraPlugin, CameraRig};
use world::interp::DELAY;
use world::motion::{AVATAR_RADIUS, WALK_SPEED};
use world::net::{RemoteAvatar, Remotes, draw_remotes};
use world::pick::{Clicked, PickPlugin, Pickable, Target, UiFocus};
use world::scene::ScenePlugin;

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
            paths: Vec::new(),
            props: Vec::new(),
        },
        at: [0.0, 0.0, 0.0],
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

#[test]
fn the_scene_builds_the_ground_walls_stalls_parcels_and_sun_the_host_described() {
    let mut scene = scene();
    scene.welcome.world.parcels = vec![
        ParcelInfo {
            name: "Corner Lot".into(),
            holder: Some(ledger::Address::from_bytes([7; 32])),
            min: [10.0, 10.0],
            max: [18.0, 14.0],
            deed: None,
            tenure: None,
        },
        ParcelInfo {
            name: "Empty Lot".into(),
            holder: None,
            min: [-18.0, 10.0],
            max: [-10.0, 14.0],
            deed: None,
            tenure: None,
        },
    ];
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, AssetPlugin::default()))
        .init_asset::<Mesh>()
        .init_asset::<StandardMaterial>()
        .insert_resource(scene)
        .add_plugins(ScenePlugin);
    app.update();

    let world = app.world_mut();
    let mut named = world.query::<(&Name, &Transform, &MeshMaterial3d<StandardMaterial>)>();
    let named: Vec<(String, Vec3, Handle<StandardMaterial>)> = named
        .iter(world)
        .map(|(name, at, material)| (name.to_string(), at.translation, material.0.clone()))
        .collect();
    let find = |wanted: &str| {
        named
            .iter()
            .find(|(name, _, _)| name == wanted)
            .unwrap_or_else(|| panic!("no {wanted} in the scene"))
            .clone()
    };
    // The stall's counter stands where the host put it.
    let (_, counter, _) = find("Lamps");
    assert_eq!(counter, Vec3::new(0.0, 0.5, -10.0));
    // Each parcel lies over its rectangle; a held one in a warmer tone.
    let (_, corner, held) = find("Corner Lot");
    let (_, empty, free) = find("Empty Lot");
    assert_eq!((corner.x, corner.z), (14.0, 12.0));
    assert_eq!((empty.x, empty.z), (-14.0, 12.0));
    let materials = world.resource::<Assets<StandardMaterial>>();
    let tone = |handle: &Handle<StandardMaterial>| materials.get(handle).unwrap().base_color;
    assert_ne!(tone(&held), tone(&free));

    // The sky's dome, paving and grass, four walls, a counter, four
    // posts and an awning for the stall, two parcels: one mesh each; and
    // one sun.
    let meshes = world.query::<&Mesh3d>().iter(world).count();
    assert_eq!(meshes, 1 + 2 + 4 + 6 + 2);
    assert_eq!(world.query::<&DirectionalLight>().iter(world).count(), 1);
    // The walls stand at the world's edge.
    let edge = scene_half_size(world);
    let mut at_edge = world.query::<&Transform>();
    let walls = at_edge
        .iter(world)
        .filter(|at| at.translation.y == 0.4)
        .filter(|at| at.translation.x.abs() == edge || at.translation.z.abs() == edge)
        .count();
    assert_eq!(walls, 4);
}

fn scene_half_size(world: &World) -> f32 {
    world.resource::<WorldScene>().half_size()
}

/// A pick test's app: a window with the cursor at its centre, a camera at
/// the origin looking down -z with its projection computed as the
/// renderer would, and the click picker.
fn picking_app() -> App {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, TransformPlugin))
        .init_resource::<ButtonInput<MouseButton>>()
        .add_plugins(PickPlugin);
    let mut window = Window {
        resolution: WindowResolution::new(800, 600),
        ..default()
    };
    window.set_cursor_position(Some(Vec2::new(400.0, 300.0)));
    app.world_mut().spawn(window);
    let projection = PerspectiveProjection {
        aspect_ratio: 800.0 / 600.0,
        ..default()
    };
    let mut camera = Camera::default();
    camera.computed.clip_from_view = projection.get_clip_from_view();
    camera.computed.target_info = Some(RenderTargetInfo {
        physical_size: UVec2::new(800, 600),
        scale_factor: 1.0,
    });
    app.world_mut()
        .spawn((camera, Camera3d::default(), Transform::default()));
    app.init_resource::<Picked>()
        .add_observer(|click: On<Clicked>, mut picked: ResMut<Picked>| picked.0.push(click.0));
    app.update();
    app
}

/// What the picker triggered, in order.
#[derive(Resource, Default)]
struct Picked(Vec<Target>);

/// Presses the left button, moves the cursor by `drag`, releases.
fn click(app: &mut App, drag: Vec2) {
    let press = |app: &mut App, down: bool| {
        let mut buttons = app.world_mut().resource_mut::<ButtonInput<MouseButton>>();
        buttons.clear();
        if down {
            buttons.press(MouseButton::Left);
        } else {
            buttons.release(MouseButton::Left);
        }
    };
    let mut windows = app.world_mut().query::<&mut Window>();
    press(app, true);
    app.update();
    let mut window = windows.single_mut(app.world_mut()).unwrap();
    let at = window.cursor_position().unwrap();
    window.set_cursor_position(Some(at + drag));
    press(app, false);
    app.update();
    let mut window = windows.single_mut(app.world_mut()).unwrap();
    window.set_cursor_position(Some(at));
}

#[test]
fn a_click_picks_the_nearest_thing_under_the_cursor_and_a_drag_or_a_panel_does_not() {
    let mut app = picking_app();
    let item = |index: usize, z: f32| {
        (
            Pickable {
                target: Target::Item(index),
                half: Vec3::splat(0.5),
                offset: Vec3::ZERO,
            },
            Transform::from_xyz(0.0, 0.0, z),
        )
    };
    app.world_mut().spawn(item(0, -12.0));
    app.world_mut().spawn(item(1, -6.0));
    // Off to the side: never under the cursor.
    app.world_mut()
        .spawn(item(2, -6.0))
        .insert(Transform::from_xyz(5.0, 0.0, -6.0));
    // Another player's avatar becomes clickable.
    let player = app
        .world_mut()
        .spawn((RemoteAvatar(4), Transform::from_xyz(0.0, 0.0, -9.0)))
        .id();
    app.update();
    assert_eq!(
        app.world().get::<Pickable>(player).map(|pick| pick.target),
        Some(Target::Player(4))
    );

    // The nearest of the three on the ray.
    click(&mut app, Vec2::ZERO);
    assert_eq!(app.world().resource::<Picked>().0, vec![Target::Item(1)]);

    // A drag turns the camera instead; nothing is picked.
    click(&mut app, Vec2::new(40.0, 0.0));
    assert_eq!(app.world().resource::<Picked>().0.len(), 1);

    // Over a panel, the world does not take the click.
    app.world_mut().resource_mut::<UiFocus>().pointer = true;
    click(&mut app, Vec2::ZERO);
    assert_eq!(app.world().resource::<Picked>().0.len(), 1);
    app.world_mut().resource_mut::<UiFocus>().pointer = false;

    // With the nearest gone, the player behind it.
    let first = app
        .world_mut()
        .query::<(Entity, &Pickable)>()
        .iter(app.world())
        .find(|(_, pick)| pick.target == Target::Item(1))
        .map(|(entity, _)| entity)
        .unwrap();
    app.world_mut().despawn(first);
    click(&mut app, Vec2::ZERO);
    assert_eq!(
        app.world().resource::<Picked>().0,
        vec![Target::Item(1), Target::Player(4)]
    );
}
