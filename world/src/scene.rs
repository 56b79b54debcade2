//! The scene: ground, the world's edge, paths, stalls, parcels, sun and
//! sky, built from the world the host describes (its own things, trees
//! and lamps, are drawn by `props`).

use bevy::light::NotShadowCaster;
use bevy::mesh::VertexAttributeValues;
use bevy::prelude::*;

use crate::WorldScene;

/// The sky dome's radius, metres: beyond every world, inside the
/// camera's far plane.
const SKY_RADIUS: f32 = 600.0;

/// Half a stall's footprint (x, z), metres.
pub const STALL_HALF: Vec2 = Vec2::new(2.0, 1.0);

/// Builds the scene once the world is known, and again for each world
/// the player travels to.
pub struct ScenePlugin;

/// A part of the scene of the world the player is in (ground, walls,
/// stalls, parcels, sun): replaced when the player travels.
#[derive(Component, Debug)]
pub struct SceneEntity;

impl Plugin for ScenePlugin {
    fn build(&self, app: &mut App) {
        crate::ordered(app);
        app.insert_resource(ClearColor(Color::srgb(0.55, 0.74, 0.92)))
            .insert_resource(GlobalAmbientLight {
                color: Color::srgb(0.85, 0.9, 1.0),
                brightness: 160.0,
                ..default()
            })
            .add_systems(Startup, spawn_sky)
            .add_systems(
                Update,
                // After the session's messages (a welcome elsewhere).
                build_scene
                    .run_if(resource_changed::<WorldScene>)
                    .in_set(crate::AppSystems::Input),
            );
    }
}

/// The sky's colour `up` of the way from the horizon to the zenith (0
/// to 1; below the horizon, the haze of the horizon).
pub fn sky_colour(up: f32) -> [f32; 4] {
    let horizon = Vec3::new(0.86, 0.91, 0.96);
    let zenith = Vec3::new(0.27, 0.5, 0.86);
    // Most of the change near the horizon, as a clear sky has it.
    let t = up.clamp(0.0, 1.0).sqrt();
    let colour = horizon.lerp(zenith, t);
    [colour.x, colour.y, colour.z, 1.0]
}

/// A dome round the world, shaded from a pale horizon to a deep blue
/// overhead (unlit: it is the sky, not a thing the sun shines on).
fn spawn_sky(
    mut commands: Commands,
    meshes: Option<ResMut<Assets<Mesh>>>,
    materials: Option<ResMut<Assets<StandardMaterial>>>,
) {
    let (Some(mut meshes), Some(mut materials)) = (meshes, materials) else {
        return;
    };
    let mut dome = Sphere::new(SKY_RADIUS).mesh().uv(48, 24);
    let colours: Vec<[f32; 4]> = match dome.attribute(Mesh::ATTRIBUTE_POSITION) {
        Some(VertexAttributeValues::Float32x3(positions)) => positions
            .iter()
            .map(|p| sky_colour(p[1] / SKY_RADIUS))
            .collect(),
        _ => return,
    };
    dome.insert_attribute(Mesh::ATTRIBUTE_COLOR, colours);
    commands.spawn((
        Mesh3d(meshes.add(dome)),
        MeshMaterial3d(materials.add(StandardMaterial {
            base_color: Color::WHITE,
            unlit: true,
            cull_mode: None,
            fog_enabled: false,
            ..default()
        })),
        Transform::default(),
        NotShadowCaster,
    ));
}

fn build_scene(
    mut commands: Commands,
    scene: Res<WorldScene>,
    old: Query<Entity, With<SceneEntity>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
) {
    for entity in &old {
        commands.entity(entity).despawn();
    }
    let world = &scene.welcome.world;
    let side = world.half_size * 2.0;
    let matte = |color: Color| StandardMaterial {
        base_color: color,
        perceptual_roughness: 0.9,
        ..default()
    };

    // Paving, and grass beyond it.
    commands.spawn((
        Mesh3d(meshes.add(Plane3d::default().mesh().size(side, side))),
        MeshMaterial3d(materials.add(matte(Color::srgb(0.58, 0.54, 0.48)))),
        Transform::default(),
        SceneEntity,
    ));
    commands.spawn((
        Mesh3d(meshes.add(Plane3d::default().mesh().size(side * 4.0, side * 4.0))),
        MeshMaterial3d(materials.add(matte(Color::srgb(0.36, 0.55, 0.3)))),
        Transform::from_xyz(0.0, -0.02, 0.0),
        SceneEntity,
    ));
    // A low wall round the edge.
    let wall = materials.add(matte(Color::srgb(0.62, 0.56, 0.5)));
    for (x, z, w, d) in [
        (0.0, -world.half_size, side, 0.4),
        (0.0, world.half_size, side, 0.4),
        (-world.half_size, 0.0, 0.4, side),
        (world.half_size, 0.0, 0.4, side),
    ] {
        commands.spawn((
            Mesh3d(meshes.add(Cuboid::new(w, 0.8, d))),
            MeshMaterial3d(wall.clone()),
            Transform::from_xyz(x, 0.4, z),
            SceneEntity,
        ));
    }

    // Paved paths, a shade lighter than the square.
    let paving = materials.add(matte(Color::srgb(0.7, 0.66, 0.58)));
    for path in &world.paths {
        let (from, to) = (Vec2::from_array(path.from), Vec2::from_array(path.to));
        let along = to - from;
        let length = along.length();
        if !(length.is_finite() && length > 0.0 && path.width.is_finite() && path.width > 0.0) {
            continue;
        }
        let middle = from + along / 2.0;
        commands.spawn((
            Mesh3d(meshes.add(Cuboid::new(path.width, 0.02, length + path.width))),
            MeshMaterial3d(paving.clone()),
            Transform::from_xyz(middle.x, 0.01, middle.y)
                .with_rotation(Quat::from_rotation_y(along.x.atan2(along.y))),
            Name::new("path"),
            SceneEntity,
        ));
    }

    // Stalls: a counter, four posts, an awning in the stall's colour.
    let counter = meshes.add(Cuboid::new(STALL_HALF.x * 2.0, 1.0, STALL_HALF.y * 2.0));
    let post = meshes.add(Cuboid::new(0.12, 2.6, 0.12));
    let awning = meshes.add(Cuboid::new(STALL_HALF.x * 2.3, 0.12, STALL_HALF.y * 2.6));
    let wood = materials.add(matte(Color::srgb(0.55, 0.38, 0.24)));
    for (index, stall) in world.stalls.iter().enumerate() {
        let hue = (index as f32 * 47.0) % 360.0;
        let cloth = materials.add(matte(Color::hsl(hue, 0.55, 0.55)));
        let at = Vec3::new(stall.position[0], 0.0, stall.position[1]);
        commands.spawn((
            Mesh3d(counter.clone()),
            MeshMaterial3d(wood.clone()),
            Transform::from_translation(at + Vec3::Y * 0.5),
            Name::new(stall.name.clone()),
            SceneEntity,
        ));
        for (dx, dz) in [(-1.0, -1.0), (1.0, -1.0), (-1.0, 1.0), (1.0, 1.0)] {
            commands.spawn((
                Mesh3d(post.clone()),
                MeshMaterial3d(wood.clone()),
                Transform::from_translation(
                    at + Vec3::new(dx * STALL_HALF.x, 1.3, dz * STALL_HALF.y),
                ),
                SceneEntity,
            ));
        }
        commands.spawn((
            Mesh3d(awning.clone()),
            MeshMaterial3d(cloth),
            Transform::from_translation(at + Vec3::Y * 2.66),
            SceneEntity,
        ));
    }

    // Parcels: a low platform each, tinted by who holds it (the player,
    // someone else, nobody).
    let me = scene.account.parse::<ledger::Address>().ok();
    for (index, parcel) in world.parcels.iter().enumerate() {
        let size = (Vec2::from(parcel.max) - Vec2::from(parcel.min)).abs();
        let centre = Vec2::from(parcel.centre());
        let tone = crate::land::floor_colour(parcel.holder.as_ref(), me.as_ref());
        commands.spawn((
            Mesh3d(meshes.add(Cuboid::new(size.x, 0.06, size.y))),
            MeshMaterial3d(materials.add(matte(tone))),
            Transform::from_xyz(centre.x, 0.03, centre.y),
            Name::new(parcel.name.clone()),
            crate::land::ParcelFloor(index),
            SceneEntity,
        ));
    }

    commands.spawn((
        DirectionalLight {
            illuminance: 6_000.0,
            shadow_maps_enabled: true,
            ..default()
        },
        Transform::from_xyz(30.0, 50.0, 20.0).looking_at(Vec3::ZERO, Vec3::Y),
        SceneEntity,
    ));
}
