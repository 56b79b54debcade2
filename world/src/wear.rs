//! What avatars wear, and rented things put down in the world. While the
//! player rents a wearable the client asks the host to put it on (in the
//! first free slot its kind goes in); the host checks it against the
//! ledger and tells everyone in the world, and every avatar (this
//! player's and the others') is drawn with what the host says it wears.
//! When the ledger ends the rental (settled at its end, or returned) the
//! host takes it off for everyone. A worn thing rides on the socket of
//! its slot on the avatar's figure (`slot.head`, `slot.body`, ...: see
//! [`crate::figure`]) once the figure's model has loaded, so it moves
//! with the head or hand as the figure walks. (Things are put down on
//! parcels in `land`.)

use std::collections::{HashMap, HashSet};

use bevy::prelude::*;
use ledger::AssetId;
use plaza_client::protocol::Slot;

use assets::{AssetKind, Manifest};

use crate::AppSystems;
use crate::avatar::LocalAvatar;
use crate::figure::{Figure, Rig};
use crate::marketplace::Marketplace;
use crate::motion::AVATAR_RADIUS;
use crate::net::RemoteAvatar;
use crate::stalls::model_scene;

/// The widest a worn model is drawn, metres.
const WORN_SIZE: f32 = 0.5;
/// The top of the avatar's head above its centre, metres.
const HEAD_TOP: f32 = 0.5 + AVATAR_RADIUS;

/// A model worn by an avatar (this player's or another's).
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Worn {
    /// The wearer's player number.
    pub player: u16,
    /// The wearer's avatar entity.
    pub avatar: Entity,
    /// Where on the avatar.
    pub slot: Slot,
    /// What.
    pub asset: AssetId,
}

/// The wearables and avatars the player rents now whose manifests are
/// known: asset, manifest. (A rented lamp or plant is put down on a
/// parcel instead.)
pub fn rented_wearables(marketplace: &Marketplace) -> Vec<(AssetId, Manifest)> {
    let Some(held) = &marketplace.holdings else {
        return Vec::new();
    };
    held.renting
        .iter()
        .filter_map(|holding| {
            let manifest = marketplace.manifests.get(&holding.asset)?;
            matches!(manifest.kind, AssetKind::Wearable | AssetKind::Avatar)
                .then(|| (holding.asset, manifest.clone()))
        })
        .collect()
}

/// The scale that draws a model of `manifest` at most `widest` metres
/// wide, deep or tall.
fn fit(manifest: &Manifest, widest: f32) -> f32 {
    let size = manifest.bounds.size().map(|side| side * manifest.scale);
    let largest = size.iter().copied().fold(0.0_f32, f32::max).max(0.01);
    widest / largest
}

/// Where a model worn in `slot` sits on an avatar (from its centre) and
/// how it is scaled, for a model of `manifest`'s bounds.
pub fn worn_at(slot: Slot, manifest: &Manifest) -> Transform {
    let fit = fit(manifest, WORN_SIZE);
    let bottom = manifest.bounds.min[1] * manifest.scale * fit;
    let centre_y = (manifest.bounds.min[1] + manifest.bounds.max[1]) / 2.0 * manifest.scale * fit;
    let at = match slot {
        // Standing on the head.
        Slot::Head => Vec3::new(0.0, HEAD_TOP - bottom, 0.0),
        // Round the chest.
        Slot::Body => Vec3::new(0.0, 0.2 - centre_y, 0.0),
        // At the right hand.
        Slot::Hand => Vec3::new(-(AVATAR_RADIUS + 0.15), -0.1 - centre_y, 0.0),
        // On the back (the avatar faces -z).
        Slot::Back => Vec3::new(0.0, 0.3 - centre_y, AVATAR_RADIUS + 0.12),
        // The figure itself, drawn by `figure`.
        Slot::Avatar => Vec3::ZERO,
    };
    Transform::from_translation(at).with_scale(Vec3::splat(fit))
}

/// The widest a thing worn in `slot` is drawn on a figure's socket,
/// metres.
fn socket_size(slot: Slot) -> f32 {
    match slot {
        Slot::Head => 0.3,
        Slot::Hand => 0.3,
        Slot::Body | Slot::Back | Slot::Avatar => 0.45,
    }
}

/// Where a model worn in `slot` sits on its socket, for a model of
/// `manifest`'s bounds: standing on the head's socket, centred on the
/// others. (Sockets are in the figure's own frame, which faces +z as
/// models do.)
pub fn on_socket(slot: Slot, manifest: &Manifest) -> Transform {
    let fit = fit(manifest, socket_size(slot));
    let scaled = |value: f32| value * manifest.scale * fit;
    let [min, max] = [manifest.bounds.min, manifest.bounds.max];
    let centre = |axis: usize| -scaled((min[axis] + max[axis]) / 2.0);
    let at = match slot {
        Slot::Head => Vec3::new(centre(0), -scaled(min[1]), centre(2)),
        _ => Vec3::new(centre(0), centre(1), centre(2)),
    };
    Transform::from_translation(at).with_scale(Vec3::splat(fit))
}

/// A worn thing now riding on its figure's socket.
#[derive(Component, Clone, Copy, Debug)]
pub struct Seated;

/// Puts rented wearables on (through the host) and draws what every
/// avatar wears.
pub struct WearPlugin;

impl Plugin for WearPlugin {
    fn build(&self, app: &mut App) {
        crate::ordered(app);
        app.add_systems(Update, dress.in_set(AppSystems::React))
            .add_systems(
                Update,
                (draw_worn, seat_worn)
                    .chain()
                    .in_set(AppSystems::Draw)
                    .after(crate::figure::FigureSystems),
            );
    }
}

/// Asks the host to put on each rented wearable the player does not wear
/// yet, in the first free slot its kind goes in.
fn dress(mut marketplace: ResMut<Marketplace>, mut connection: crate::net::Connection) {
    let Some(mut session) = connection.get() else {
        return;
    };
    let client = &mut session;
    for asset in marketplace.renting() {
        marketplace.want_manifest(client, asset);
    }
    let Some(me) = client.welcome().map(|welcome| welcome.player) else {
        return;
    };
    let worn = client.appearances().get(&me).cloned().unwrap_or_default();
    for (asset, manifest) in rented_wearables(&marketplace) {
        if worn.iter().any(|(_, on)| *on == asset) {
            continue;
        }
        let free = market::wear::slots(manifest.kind)
            .iter()
            .find(|slot| !worn.iter().any(|(taken, _)| taken == *slot));
        if let Some(slot) = free {
            marketplace.wear(client, *slot, asset);
        }
    }
}

/// Draws on each avatar in view what the host says it wears, and takes
/// off what it no longer does.
fn draw_worn(
    mut commands: Commands,
    mut marketplace: ResMut<Marketplace>,
    mut connection: crate::net::Connection,
    local: Query<Entity, With<LocalAvatar>>,
    remotes: Query<(Entity, &RemoteAvatar)>,
    drawn: Query<(Entity, &Worn)>,
    assets: Option<Res<AssetServer>>,
) {
    let Some(mut session) = connection.get() else {
        return;
    };
    let client = &mut session;
    let Some(me) = client.welcome().map(|welcome| welcome.player) else {
        return;
    };
    // Each avatar drawn, by player, with what the host says it wears.
    let avatars = crate::net::avatars_by_player(Some(me), &local, &remotes);
    let wearing: Vec<(u16, Entity, plaza_client::protocol::Worn)> = avatars
        .iter()
        .filter_map(|(player, avatar)| {
            let worn = client.appearances().get(player)?;
            (!worn.is_empty()).then(|| (*player, *avatar, worn.clone()))
        })
        .collect();
    // What is drawn already, on which avatar.
    let mut shown: HashSet<(Entity, Slot, AssetId)> = HashSet::new();
    for (entity, worn) in &drawn {
        let still = avatars.get(&worn.player) == Some(&worn.avatar)
            && client
                .appearances()
                .get(&worn.player)
                .is_some_and(|on| on.contains(&(worn.slot, worn.asset)));
        if still {
            shown.insert((worn.avatar, worn.slot, worn.asset));
        } else {
            commands.entity(entity).despawn();
        }
    }
    for (player, avatar, worn) in wearing {
        for (slot, asset) in worn {
            // The avatar model is the figure itself.
            if slot == Slot::Avatar || shown.contains(&(avatar, slot, asset)) {
                continue;
            }
            let Some(manifest) = marketplace.manifests.get(&asset).cloned() else {
                marketplace.want_manifest(client, asset);
                continue;
            };
            let Some(file) = marketplace.model_file(client, &manifest.model) else {
                // Asked for; drawn once it is cached.
                continue;
            };
            let mut on = commands.spawn((
                Worn {
                    player,
                    avatar,
                    slot,
                    asset,
                },
                worn_at(slot, &manifest),
                Visibility::default(),
                ChildOf(avatar),
            ));
            if let Some(assets) = &assets {
                on.insert(model_scene(assets, file));
            }
            debug!(player, %asset, %slot, name = %manifest.name, "drawing what an avatar wears");
        }
    }
}

/// Moves each worn thing not yet on a socket onto its slot's socket on
/// the wearer's figure, once the figure's model is spawned. For a model
/// without that socket it stays where [`worn_at`] puts it.
fn seat_worn(
    mut commands: Commands,
    marketplace: Res<Marketplace>,
    unseated: Query<(Entity, &Worn), Without<Seated>>,
    figures: Query<(&Figure, &Rig)>,
) {
    if unseated.is_empty() {
        return;
    }
    let sockets: HashMap<Entity, &Rig> = figures
        .iter()
        .map(|(figure, rig)| (figure.avatar, rig))
        .collect();
    for (entity, worn) in &unseated {
        let Some(socket) = sockets
            .get(&worn.avatar)
            .and_then(|rig| rig.sockets.get(&worn.slot))
        else {
            continue;
        };
        let Some(manifest) = marketplace.manifests.get(&worn.asset) else {
            continue;
        };
        commands
            .entity(entity)
            .insert((Seated, on_socket(worn.slot, manifest), ChildOf(*socket)));
    }
}
