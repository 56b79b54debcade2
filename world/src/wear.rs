//! Rented things in the world: while the player rents a wearable its
//! model sits on their avatar's head, and another rented thing can be put
//! down on a parcel, with a countdown over it. When the ledger ends the
//! rental (settled at its end, or returned) the inventory no longer lists
//! it and the model goes with it. Only this player sees them: the avatar
//! updates do not carry them.

use bevy::prelude::*;
use ledger::AssetId;

use assets::{AssetKind, Manifest};

use crate::AppSystems;
use crate::avatar::LocalAvatar;
use crate::marketplace::Marketplace;
use crate::motion::AVATAR_RADIUS;
use crate::stalls::model_scene;

/// The widest a worn model is drawn, metres.
const WORN_SIZE: f32 = 0.5;
/// The top of the avatar's head above its centre, metres.
const HEAD_TOP: f32 = 0.5 + AVATAR_RADIUS;

/// A model worn by the player's avatar.
#[derive(Component, Debug)]
pub struct Worn(pub AssetId);

/// The wearables the player rents now whose manifests are known: asset,
/// manifest.
pub fn rented_wearables(marketplace: &Marketplace) -> Vec<(AssetId, Manifest)> {
    let Some(held) = &marketplace.holdings else {
        return Vec::new();
    };
    held.renting
        .iter()
        .filter_map(|holding| {
            let manifest = marketplace.manifests.get(&holding.asset)?;
            (manifest.kind == AssetKind::Wearable).then(|| (holding.asset, manifest.clone()))
        })
        .collect()
}

/// Puts rented wearables on the avatar and takes them off when the
/// rental ends.
pub struct WearPlugin;

impl Plugin for WearPlugin {
    fn build(&self, app: &mut App) {
        crate::ordered(app);
        app.add_systems(Update, wear.in_set(AppSystems::Draw));
    }
}

fn wear(
    mut commands: Commands,
    mut marketplace: ResMut<Marketplace>,
    mut connection: crate::net::Connection,
    avatar: Query<Entity, With<LocalAvatar>>,
    worn: Query<(Entity, &Worn)>,
    assets: Option<Res<AssetServer>>,
) {
    let (Some(mut session), Ok(avatar)) = (connection.get(), avatar.single()) else {
        return;
    };
    let client = &mut session;
    let renting = marketplace.renting();
    for asset in &renting {
        marketplace.want_manifest(client, *asset);
    }
    let wanted = rented_wearables(&marketplace);
    for (entity, on) in &worn {
        if !wanted.iter().any(|(asset, _)| *asset == on.0) {
            commands.entity(entity).despawn();
        }
    }
    for (index, (asset, manifest)) in wanted.iter().enumerate() {
        if worn.iter().any(|(_, on)| on.0 == *asset) {
            continue;
        }
        let Some(file) = marketplace.model_file(client, &manifest.model) else {
            // Asked for; worn once it is cached.
            continue;
        };
        let size = manifest.bounds.size().map(|side| side * manifest.scale);
        let largest = size.iter().copied().fold(0.0_f32, f32::max).max(0.01);
        let fit = WORN_SIZE / largest;
        let bottom = manifest.bounds.min[1] * manifest.scale * fit;
        // A second wearable sits on the first.
        let lift = index as f32 * WORN_SIZE;
        let mut on = commands.spawn((
            Worn(*asset),
            Transform::from_xyz(0.0, HEAD_TOP + lift - bottom, 0.0).with_scale(Vec3::splat(fit)),
            Visibility::default(),
            ChildOf(avatar),
        ));
        if let Some(assets) = &assets {
            on.insert(model_scene(assets, file));
        }
        info!(%asset, name = %manifest.name, "wearing a rented wearable");
    }
}

/// Half the widest side a placed thing is drawn at, metres.
const PLACED_SIZE: f32 = 1.2;

/// Rented things the player put down, by asset: where.
#[derive(Resource, Debug, Default)]
pub struct Placements(pub std::collections::HashMap<AssetId, Vec3>);

/// A rented thing put down in the world.
#[derive(Component, Debug)]
pub struct Placed(pub AssetId);

/// The parcel of `scene` that `at` (x, z) stands in, by index.
pub fn parcel_at(scene: &crate::WorldScene, at: Vec2) -> Option<usize> {
    scene.welcome.world.parcels.iter().position(|parcel| {
        let (min, max) = (
            Vec2::from_array(parcel.min).min(Vec2::from_array(parcel.max)),
            Vec2::from_array(parcel.min).max(Vec2::from_array(parcel.max)),
        );
        at.cmpge(min).all() && at.cmple(max).all()
    })
}

/// Puts rented things down on a parcel and takes them away when the
/// rental ends or the player picks them up; each carries a countdown.
pub struct PlacePlugin;

impl Plugin for PlacePlugin {
    fn build(&self, app: &mut App) {
        crate::ordered(app);
        app.init_resource::<Placements>().add_systems(
            Update,
            (place, countdowns.after(crate::net::place_tags))
                .chain()
                .in_set(AppSystems::Draw),
        );
    }
}

fn place(
    mut commands: Commands,
    mut marketplace: ResMut<Marketplace>,
    mut connection: crate::net::Connection,
    mut placements: ResMut<Placements>,
    placed: Query<(Entity, &Placed)>,
    assets: Option<Res<AssetServer>>,
) {
    let Some(mut session) = connection.get() else {
        return;
    };
    let client = &mut session;
    let renting = marketplace.renting();
    // A rental that ended takes its thing back.
    if marketplace.holdings.is_some() {
        placements.0.retain(|asset, _| renting.contains(asset));
    }
    for (entity, on) in &placed {
        if !placements.0.contains_key(&on.0) {
            commands.entity(entity).despawn();
        }
    }
    for (asset, at) in &placements.0 {
        if placed.iter().any(|(_, on)| on.0 == *asset) {
            continue;
        }
        let Some(manifest) = marketplace.manifests.get(asset).cloned() else {
            marketplace.want_manifest(client, *asset);
            continue;
        };
        let Some(file) = marketplace.model_file(client, &manifest.model) else {
            continue;
        };
        let size = manifest.bounds.size().map(|side| side * manifest.scale);
        let largest = size.iter().copied().fold(0.0_f32, f32::max).max(0.01);
        let fit = if largest > 2.0 * PLACED_SIZE {
            2.0 * PLACED_SIZE / largest
        } else {
            1.0
        };
        let bottom = manifest.bounds.min[1] * manifest.scale * fit;
        let mut thing = commands.spawn((
            Placed(*asset),
            Transform::from_xyz(at.x, -bottom, at.z).with_scale(Vec3::splat(fit)),
            Visibility::default(),
        ));
        if let Some(assets) = &assets {
            thing.insert(model_scene(assets, file));
        }
        info!(%asset, name = %manifest.name, "placed a rented thing");
    }
}

/// A countdown over each placed thing: its name and when it goes back.
fn countdowns(
    marketplace: Res<Marketplace>,
    camera: Query<(&Camera, &Transform), With<Camera3d>>,
    placed: Query<(&Placed, &Transform), Without<Camera3d>>,
    mut spots: ResMut<crate::net::TagSpots>,
) {
    let Ok((camera, eye)) = camera.single() else {
        return;
    };
    let eye = &GlobalTransform::from(*eye);
    let now = marketplace.host_now();
    for (on, transform) in &placed {
        let ends = marketplace.holdings.as_ref().and_then(|held| {
            held.renting
                .iter()
                .find(|holding| holding.asset == on.0)
                .and_then(|holding| holding.rented.map(|rental| rental.ends_at))
        });
        let (Some(ends), Some(manifest)) = (ends, marketplace.manifests.get(&on.0)) else {
            continue;
        };
        let over = transform.translation + Vec3::Y * 2.2;
        if let Ok(spot) = camera.world_to_viewport(eye, over) {
            spots.0.push((
                format!(
                    "{}: goes back {}",
                    manifest.name,
                    crate::ui::until(ends, now)
                ),
                spot,
            ));
        }
    }
}
