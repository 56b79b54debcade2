//! Parcels in the client. Each parcel's holder is as the host says (the
//! ledger's: its deed's renter during a rental, else its owner): its
//! floor is tinted for the player's own land, someone else's, or nobody's,
//! and a tag over it names it and its holder. What stands on every parcel
//! is drawn for everyone, as the host checked it against the ledger; the
//! player puts things it holds down on a parcel it holds, and takes them
//! up, from the inventory (`marketplace::Marketplace::arrange`). A thing
//! the player rents carries a countdown to the rental's end.

use std::collections::HashSet;

use bevy::prelude::*;
use ledger::{Address, AssetId};
use plaza_client::land::PlacedItem;

use crate::AppSystems;
use crate::marketplace::Marketplace;
use crate::stalls::model_scene;

/// Half the widest side a thing on a parcel is drawn at, metres.
const PLACED_SIZE: f32 = 1.2;
/// Parcels farther than this from the camera carry no tag, metres.
const TAG_DISTANCE: f32 = 60.0;

/// A parcel's floor, by the parcel's index in the world.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParcelFloor(pub usize);

/// A thing standing on a parcel.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Placed {
    /// The parcel, by its index in the world.
    pub parcel: u16,
    /// The thing and where it stands.
    pub item: PlacedItem,
}

/// A parcel floor's colour: the player's own land, someone else's, or
/// nobody's.
pub fn floor_colour(holder: Option<&Address>, me: Option<&Address>) -> Color {
    match holder {
        Some(holder) if Some(holder) == me => Color::srgb(0.55, 0.7, 0.5),
        Some(_) => Color::srgb(0.72, 0.6, 0.45),
        None => Color::srgb(0.66, 0.68, 0.64),
    }
}

/// The parcel of `scene` that `at` (x, z) stands in, by index.
pub fn parcel_at(scene: &crate::WorldScene, at: Vec2) -> Option<usize> {
    scene
        .welcome
        .world
        .parcels
        .iter()
        .position(|parcel| parcel.contains(at.to_array()))
}

/// Draws the parcels as the host says they are and what stands on them.
pub struct LandPlugin;

impl Plugin for LandPlugin {
    fn build(&self, app: &mut App) {
        crate::ordered(app);
        app.add_systems(
            Update,
            (
                follow_holders,
                restore,
                draw_placed,
                tags.after(crate::net::place_tags),
            )
                .chain()
                .in_set(AppSystems::Draw),
        );
    }
}

/// Takes the parcels' holders and deeds from the session into the scene
/// (a block let, sold or took back a parcel), and tints their floors.
fn follow_holders(
    mut connection: crate::net::Connection,
    scene: Option<ResMut<crate::WorldScene>>,
    marketplace: Option<Res<Marketplace>>,
    floors: Query<(&ParcelFloor, &MeshMaterial3d<StandardMaterial>)>,
    mut materials: Option<ResMut<Assets<StandardMaterial>>>,
) {
    let (Some(session), Some(mut scene)) = (connection.get(), scene) else {
        return;
    };
    let Some(welcome) = session.welcome() else {
        return;
    };
    if welcome.world.name != scene.welcome.world.name {
        return;
    }
    let changed: Vec<usize> = welcome
        .world
        .parcels
        .iter()
        .zip(&scene.welcome.world.parcels)
        .enumerate()
        .filter(|(_, (now, shown))| {
            (now.holder, now.deed, now.tenure) != (shown.holder, shown.deed, shown.tenure)
        })
        .map(|(index, _)| index)
        .collect();
    if changed.is_empty() {
        return;
    }
    let me = marketplace.map(|marketplace| marketplace.me);
    let welcome = welcome.clone();
    for index in changed {
        let now = &welcome.world.parcels[index];
        info!(parcel = %now.name, holder = ?now.holder, "a parcel changed hands");
        // Changed in place: the scene is not built again for it.
        let shown = &mut scene.bypass_change_detection().welcome.world.parcels[index];
        shown.holder = now.holder;
        shown.deed = now.deed;
        shown.tenure = now.tenure;
        let Some(materials) = materials.as_mut() else {
            continue;
        };
        for (floor, material) in &floors {
            if floor.0 == index
                && let Some(mut material) = materials.get_mut(&material.0)
            {
                material.base_color = floor_colour(now.holder.as_ref(), me.as_ref());
            }
        }
    }
}

/// Gives the host again what the player put down on its parcels, where
/// the host shows nothing (`Marketplace::restore_land`).
fn restore(marketplace: Option<ResMut<Marketplace>>, mut connection: crate::net::Connection) {
    if let (Some(mut marketplace), Some(mut session)) = (marketplace, connection.get()) {
        marketplace.restore_land(&mut session);
    }
}

/// Draws on each parcel what the host says stands there, and takes away
/// what no longer does.
fn draw_placed(
    mut commands: Commands,
    mut marketplace: ResMut<Marketplace>,
    mut connection: crate::net::Connection,
    drawn: Query<(Entity, &Placed)>,
    assets: Option<Res<AssetServer>>,
) {
    let Some(mut session) = connection.get() else {
        return;
    };
    let client = &mut session;
    let wanted: HashSet<Placed> = client
        .placed()
        .iter()
        .flat_map(|(parcel, items)| {
            items.iter().map(|item| Placed {
                parcel: *parcel,
                item: *item,
            })
        })
        .collect();
    let mut shown = HashSet::new();
    for (entity, placed) in &drawn {
        if wanted.contains(placed) {
            shown.insert(*placed);
        } else {
            commands.entity(entity).despawn();
        }
    }
    for placed in wanted {
        if shown.contains(&placed) {
            continue;
        }
        let asset = placed.item.asset;
        let Some(manifest) = marketplace.manifests.get(&asset).cloned() else {
            marketplace.want_manifest(client, asset);
            continue;
        };
        let Some(file) = marketplace.model_file(client, &manifest.model) else {
            // Asked for; drawn once it is cached.
            continue;
        };
        let size = manifest.bounds.size().map(|side| side * manifest.scale);
        let fit = crate::stalls::fit(size, 2.0 * PLACED_SIZE);
        let bottom = manifest.bounds.min[1] * manifest.scale * fit;
        let [x, z] = placed.item.at();
        let turn = f32::from(placed.item.turn) / 256.0 * std::f32::consts::TAU;
        let mut thing = commands.spawn((
            placed,
            Transform::from_xyz(x, -bottom, z)
                .with_rotation(Quat::from_rotation_y(turn))
                .with_scale(Vec3::splat(fit)),
            Visibility::default(),
            Name::new(manifest.name.clone()),
        ));
        if let Some(assets) = &assets {
            thing.insert(model_scene(assets, file));
        }
        let parcel = placed.parcel;
        debug!(%asset, name = %manifest.name, parcel, "drawing a thing on a parcel");
    }
}

/// Tags over the parcels near the camera (name and holder) and over each
/// thing the player rents on one (when it goes back).
fn tags(
    scene: Option<Res<crate::WorldScene>>,
    marketplace: Res<Marketplace>,
    camera: Query<(&Camera, &Transform), With<Camera3d>>,
    placed: Query<(&Placed, &Transform), Without<Camera3d>>,
    mut spots: ResMut<crate::net::TagSpots>,
) {
    let Ok((camera, eye)) = camera.single() else {
        return;
    };
    let eye_at = eye.translation;
    let eye = &GlobalTransform::from(*eye);
    if let Some(scene) = &scene {
        for parcel in &scene.welcome.world.parcels {
            let [x, z] = parcel.centre();
            let centre = Vec3::new(x, 0.8, z);
            if centre.distance(eye_at) > TAG_DISTANCE {
                continue;
            }
            let holder = match parcel.holder {
                Some(holder) if holder == marketplace.me => "yours".to_owned(),
                Some(holder) => format!("held by {}", crate::ui::who(&holder)),
                None => "nobody's".to_owned(),
            };
            if let Ok(spot) = camera.world_to_viewport(eye, centre) {
                spots.0.push((format!("{}: {holder}", parcel.name), spot));
            }
        }
    }
    let now = marketplace.host_now();
    for (on, transform) in &placed {
        let ends = rental_end(&marketplace, &on.item.asset);
        let (Some(ends), Some(manifest)) = (ends, marketplace.manifests.get(&on.item.asset)) else {
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

/// When the player's rental of `asset` ends, if it rents it.
fn rental_end(marketplace: &Marketplace, asset: &AssetId) -> Option<ledger::Timestamp> {
    marketplace.holdings.as_ref().and_then(|held| {
        held.renting
            .iter()
            .find(|holding| holding.asset == *asset)
            .and_then(|holding| holding.rented.map(|rental| rental.ends_at))
    })
}
