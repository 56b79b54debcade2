//! Rented wearables on the avatar: while the player rents a wearable its
//! model sits on their avatar's head; when the ledger ends the rental
//! (settled at its end, or returned) the inventory no longer lists it and
//! the model goes with it.

use bevy::prelude::*;
use bevy::world_serialization::WorldAssetRoot;
use ledger::AssetId;

use assets::{AssetKind, Manifest};

use crate::avatar::LocalAvatar;
use crate::desk::Desk;
use crate::motion::AVATAR_RADIUS;
use crate::net::Session;

/// The widest a worn model is drawn, metres.
const WORN_SIZE: f32 = 0.5;
/// The top of the avatar's head above its centre, metres.
const HEAD_TOP: f32 = 0.5 + AVATAR_RADIUS;

/// A model worn by the player's avatar.
#[derive(Component, Debug)]
pub struct Worn(pub AssetId);

/// The wearables the player rents now whose manifests are known: asset,
/// manifest.
pub fn rented_wearables(desk: &Desk) -> Vec<(AssetId, Manifest)> {
    let Some(held) = &desk.holdings else {
        return Vec::new();
    };
    held.renting
        .iter()
        .filter_map(|holding| {
            let manifest = desk.manifests.get(&holding.asset)?;
            (manifest.kind == AssetKind::Wearable).then(|| (holding.asset, manifest.clone()))
        })
        .collect()
}

/// Puts rented wearables on the avatar and takes them off when the
/// rental ends.
pub struct WearPlugin;

impl Plugin for WearPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Update, wear);
    }
}

fn wear(
    mut commands: Commands,
    mut desk: ResMut<Desk>,
    session: Option<NonSendMut<Session>>,
    avatar: Query<Entity, With<LocalAvatar>>,
    worn: Query<(Entity, &Worn)>,
    assets: Option<Res<AssetServer>>,
) {
    let (Some(mut session), Ok(avatar)) = (session, avatar.single()) else {
        return;
    };
    let client = &mut session.0;
    let renting: Vec<AssetId> = desk
        .holdings
        .as_ref()
        .map(|held| held.renting.iter().map(|holding| holding.asset).collect())
        .unwrap_or_default();
    for asset in &renting {
        desk.want_manifest(client, *asset);
    }
    let wanted = rented_wearables(&desk);
    for (entity, on) in &worn {
        if !wanted.iter().any(|(asset, _)| *asset == on.0) {
            commands.entity(entity).despawn();
        }
    }
    for (index, (asset, manifest)) in wanted.iter().enumerate() {
        if worn.iter().any(|(_, on)| on.0 == *asset) {
            continue;
        }
        let Some(file) = desk.model_file(client, &manifest.model) else {
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
            on.insert(WorldAssetRoot(
                assets.load(bevy::gltf::GltfAssetLabel::Scene(0).from_asset(file)),
            ));
        }
        info!(%asset, name = %manifest.name, "wearing a rented wearable");
    }
}
