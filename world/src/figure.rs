//! Every avatar's figure: the avatar model its player uses (an asset of
//! kind avatar worn in the avatar slot, which the host checked against
//! the ledger like anything worn) or, until it has one, Plaza's plain
//! figure. The figure plays its model's `idle` or `walk` animation as
//! the avatar stands, walks or runs, and worn things ride on its sockets
//! (see [`crate::wear`]).

use std::collections::{HashMap, HashSet};

use assets::{Codec, ContentId, Manifest};
use bevy::animation::graph::{AnimationGraph, AnimationGraphHandle, AnimationNodeIndex};
use bevy::animation::{AnimationClip, AnimationPlayer};
use bevy::gltf::Gltf;
use bevy::prelude::*;
use bevy::world_serialization::WorldInstanceReady;
use ledger::AssetId;
use plaza_client::protocol::{Gait, Slot};

use crate::AppSystems;
use crate::avatar::LocalAvatar;
use crate::marketplace::Marketplace;
use crate::net::{RemoteAvatar, Remotes};
use crate::stalls::model_scene;

/// How far below an avatar's centre its feet are, metres.
pub const FEET: f32 = 0.9;
/// How much faster the walk plays when running.
const RUN_PACE: f32 = 1.8;
/// The shortest and tallest a figure is drawn, metres.
pub const SHORTEST: f32 = 1.2;
/// See [`SHORTEST`].
pub const TALLEST: f32 = 2.5;
/// Avatar models that failed to load remembered, at most.
const MAX_BROKEN: usize = 64;

/// The figure drawn for an avatar: a child of the avatar's entity.
#[derive(Component, Clone, Debug, PartialEq, Eq)]
pub struct Figure {
    /// The avatar entity it belongs to.
    pub avatar: Entity,
    /// The avatar asset it shows; `None` for the plain figure.
    pub asset: Option<AssetId>,
    /// Its model file in the cache.
    pub file: String,
    /// The model's file as loaded, kept for its animations (none where
    /// nothing is drawn).
    pub gltf: Option<Handle<Gltf>>,
}

/// What a figure's model offers, once its scene is spawned: the socket
/// of each slot it has, and its animation player.
#[derive(Component, Clone, Debug, Default)]
pub struct Rig {
    /// Where a thing worn in each slot goes.
    pub sockets: HashMap<Slot, Entity>,
    /// The model's animation player, if it is animated.
    player: Option<Entity>,
}

/// A figure's animations, once its model has loaded: the graph's nodes
/// for standing and walking (none for a model without them).
#[derive(Component, Clone, Debug)]
pub struct Moves {
    idle: Option<AnimationNodeIndex>,
    walk: Option<AnimationNodeIndex>,
    /// The gait it plays now.
    playing: Option<Gait>,
}

/// The plain figure's model file in the cache, written at start.
#[derive(Resource, Clone, Debug, Default)]
pub struct PlainFigure(pub Option<String>);

/// The figure systems, which run before worn things are seated on them.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FigureSystems;

/// Draws each avatar's figure, and animates it.
pub struct FigurePlugin;

impl Plugin for FigurePlugin {
    fn build(&self, app: &mut App) {
        crate::ordered(app);
        app.init_resource::<PlainFigure>()
            .add_systems(Startup, write_plain_figure)
            .add_observer(rig_ready)
            .add_systems(
                Update,
                (draw_figures, find_moves, animate)
                    .chain()
                    .in_set(AppSystems::Draw)
                    .in_set(FigureSystems),
            );
    }
}

/// Writes the plain figure's model into the model cache (named by its
/// content id, as every cached model is).
fn write_plain_figure(marketplace: Res<Marketplace>, mut plain: ResMut<PlainFigure>) {
    let Some(cache) = &marketplace.cache else {
        return;
    };
    let glb = assets::pack::plain_figure();
    let file = format!("{}.glb", ContentId::of(Codec::Raw, &glb));
    if !cache.join(&file).exists()
        && let Err(err) = crate::stalls::write_whole(cache, &file, &glb)
    {
        warn!(%err, "the plain figure could not be written to the model cache");
        return;
    }
    plain.0 = Some(file);
}

/// The avatar asset `player` uses, by what the host says it wears.
pub fn chosen(
    appearances: &HashMap<u16, plaza_client::protocol::Worn>,
    player: u16,
) -> Option<AssetId> {
    appearances
        .get(&player)?
        .iter()
        .find(|(slot, _)| *slot == Slot::Avatar)
        .map(|(_, asset)| *asset)
}

/// How a figure of `manifest`'s bounds (the plain figure's where none)
/// stands on the ground under its avatar's centre, facing the way the
/// avatar does: scaled as its manifest says, and then to a person's
/// height between [`SHORTEST`] and [`TALLEST`] (a model made in
/// centimetres, or a giant, is drawn the size of a person).
pub fn figure_at(manifest: Option<&Manifest>) -> Transform {
    let (scale, bottom) = match manifest {
        Some(manifest) => {
            let height = (manifest.bounds.max[1] - manifest.bounds.min[1]) * manifest.scale;
            let fit = if height > 0.0 {
                height.clamp(SHORTEST, TALLEST) / height
            } else {
                1.0
            };
            let scale = manifest.scale * fit;
            (scale, manifest.bounds.min[1] * scale)
        }
        None => (1.0, 0.0),
    };
    // glTF models face +z, avatars -z.
    Transform::from_xyz(0.0, -FEET - bottom, 0.0)
        .with_rotation(Quat::from_rotation_y(std::f32::consts::PI))
        .with_scale(Vec3::splat(scale))
}

/// Gives each avatar the figure it should show: its chosen avatar model
/// once that is in the cache (the one it had until then), else the plain
/// figure. A model the engine cannot load is not tried again: its player
/// is drawn plain.
#[allow(clippy::too_many_arguments)]
fn draw_figures(
    mut commands: Commands,
    mut marketplace: ResMut<Marketplace>,
    mut connection: crate::net::Connection,
    plain: Res<PlainFigure>,
    local: Query<Entity, With<LocalAvatar>>,
    remotes: Query<(Entity, &RemoteAvatar)>,
    figures: Query<(Entity, &Figure)>,
    assets: Option<Res<AssetServer>>,
    gltfs: Option<Res<Assets<Gltf>>>,
    mut broken: Local<HashSet<AssetId>>,
) {
    let gltf_loads = gltfs.is_some();
    let Some(mut session) = connection.get() else {
        return;
    };
    let client = &mut session;
    let me = client.welcome().map(|welcome| welcome.player);
    let avatars = crate::net::avatars_by_player(me, &local, &remotes);
    let mut shown: HashMap<Entity, (Entity, &Figure)> = HashMap::new();
    for (entity, figure) in &figures {
        let failed = match (&assets, &figure.gltf) {
            (Some(assets), Some(gltf)) => assets.load_state(gltf).is_failed(),
            _ => false,
        };
        match figure.asset {
            Some(asset) if failed => {
                warn!(%asset, file = %figure.file, "an avatar model could not be loaded: drawn plain");
                if broken.len() >= MAX_BROKEN {
                    broken.clear();
                }
                broken.insert(asset);
                commands.entity(entity).despawn();
            }
            _ => {
                shown.insert(figure.avatar, (entity, figure));
            }
        }
    }
    for (player, avatar) in avatars {
        let wanted = chosen(client.appearances(), player).filter(|asset| !broken.contains(asset));
        let current = shown.get(&avatar);
        if current.is_some_and(|(_, figure)| figure.asset == wanted) {
            continue;
        }
        // The chosen model's file, once its manifest and model are here.
        let model = match wanted {
            Some(asset) => match marketplace.manifests.get(&asset).cloned() {
                Some(manifest) => marketplace
                    .model_file(client, &manifest.model)
                    .map(|file| (file, Some(manifest))),
                None => {
                    marketplace.want_manifest(client, asset);
                    None
                }
            },
            None => plain.0.clone().map(|file| (file, None)),
        };
        let (asset, file, manifest) = match model {
            Some((file, manifest)) => (wanted, file, manifest),
            // Until the chosen one is here: what it shows, else the plain
            // figure.
            None if current.is_some() => continue,
            None => match plain.0.clone() {
                Some(file) => (None, file, None),
                None => continue,
            },
        };
        // The old figure goes, with what was seated on it (drawn again
        // on the new one).
        if let Some((old, _)) = current {
            commands.entity(*old).despawn();
        }
        // Where glTF files load at all (not in an app without the glTF
        // plugin).
        let gltf = assets
            .as_ref()
            .filter(|_| gltf_loads)
            .map(|assets| assets.load::<Gltf>(file.clone()));
        let mut figure = commands.spawn((
            Figure {
                avatar,
                asset,
                file: file.clone(),
                gltf,
            },
            figure_at(manifest.as_ref()),
            Visibility::default(),
            ChildOf(avatar),
        ));
        if let Some(assets) = &assets {
            figure.insert(model_scene(assets, file));
        }
        debug!(player, ?asset, "drawing an avatar's figure");
    }
}

/// Once a figure's model is spawned: finds its sockets and its own
/// animation player (the top of its animated nodes).
fn rig_ready(
    ready: On<WorldInstanceReady>,
    mut commands: Commands,
    figures: Query<(), With<Figure>>,
    children: Query<&Children>,
    names: Query<&Name>,
    players: Query<(), With<AnimationPlayer>>,
) {
    let figure = ready.entity;
    if !figures.contains(figure) {
        return;
    }
    let mut rig = Rig::default();
    for node in children.iter_descendants(figure) {
        if rig.player.is_none() && players.contains(node) {
            rig.player = Some(node);
        }
        let Ok(name) = names.get(node) else {
            continue;
        };
        if let Some(slot) = Slot::ALL
            .into_iter()
            .find(|slot| name.as_str().strip_prefix("slot.") == Some(slot.name()))
        {
            rig.sockets.entry(slot).or_insert(node);
        }
    }
    commands.entity(figure).insert(rig);
}

/// Makes a rigged figure's animation player a graph of its model's
/// `idle` and `walk` clips, once the model's file is loaded (a model
/// without them, or one that failed to load, is drawn still).
fn find_moves(
    mut commands: Commands,
    figures: Query<(Entity, &Figure, &Rig), Without<Moves>>,
    assets: Option<Res<AssetServer>>,
    gltfs: Option<Res<Assets<Gltf>>>,
    graphs: Option<ResMut<Assets<AnimationGraph>>>,
) {
    let (Some(assets), Some(gltfs), Some(mut graphs)) = (assets, gltfs, graphs) else {
        return;
    };
    for (entity, figure, rig) in &figures {
        let still = Moves {
            idle: None,
            walk: None,
            playing: None,
        };
        let (Some(player), Some(handle)) = (rig.player, &figure.gltf) else {
            commands.entity(entity).insert(still);
            continue;
        };
        let Some(gltf) = gltfs.get(handle) else {
            if assets.load_state(handle).is_failed() {
                commands.entity(entity).insert(still);
            }
            continue;
        };
        let mut graph = AnimationGraph::new();
        let root = graph.root;
        let mut clip = |name: &str| {
            let clip: Handle<AnimationClip> = gltf.named_animations.get(name)?.clone();
            Some(graph.add_clip(clip, 1.0, root))
        };
        let (idle, walk) = (clip("idle"), clip("walk"));
        debug!(
            file = %figure.file,
            idle = idle.is_some(),
            walk = walk.is_some(),
            "a figure's animations are ready"
        );
        commands
            .entity(player)
            .insert(AnimationGraphHandle(graphs.add(graph)));
        commands.entity(entity).insert(Moves {
            idle,
            walk,
            playing: None,
        });
    }
}

/// Plays each figure's animation for its avatar's gait: idle standing,
/// walk walking, the walk faster running.
fn animate(
    remotes: Res<Remotes>,
    local: Query<&LocalAvatar>,
    remote: Query<&RemoteAvatar>,
    mut figures: Query<(&Figure, &Rig, &mut Moves)>,
    mut players: Query<&mut AnimationPlayer>,
) {
    for (figure, rig, mut moves) in &mut figures {
        let gait = match (local.get(figure.avatar), remote.get(figure.avatar)) {
            (Ok(avatar), _) => avatar.gait,
            (_, Ok(remote)) => remotes.gait(remote.0),
            _ => continue,
        };
        if moves.playing == Some(gait) {
            continue;
        }
        let Some(Ok(mut player)) = rig.player.map(|player| players.get_mut(player)) else {
            continue;
        };
        player.stop_all();
        let (node, speed) = match gait {
            Gait::Idle => (moves.idle, 1.0),
            Gait::Walk => (moves.walk, 1.0),
            Gait::Run => (moves.walk, RUN_PACE),
        };
        if let Some(node) = node {
            player.play(node).repeat().set_speed(speed);
        }
        moves.playing = Some(gait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use assets::{AssetKind, Bounds};

    fn manifest(min_y: f32, height: f32, scale: f32) -> Manifest {
        let id = ContentId::of(Codec::Raw, b"a model");
        Manifest {
            name: "someone".into(),
            description: String::new(),
            kind: AssetKind::Avatar,
            model: id,
            preview: id,
            bounds: Bounds {
                min: [-0.3, min_y, -0.2],
                max: [0.3, min_y + height, 0.2],
            },
            scale,
            creator: "plaza1creator".into(),
            attributes: Vec::new(),
            external_url: None,
        }
    }

    /// The ground under the avatar's centre, in the figure's model space
    /// drawn by `at`: where a model point at height `y` lands.
    fn drawn_height(at: &Transform, y: f32) -> f32 {
        at.transform_point(Vec3::new(0.0, y, 0.0)).y + FEET
    }

    #[test]
    fn a_figure_stands_on_the_ground_at_a_persons_height_facing_the_avatars_way() {
        // A person-sized model drawn as it is, feet on the ground.
        let at = figure_at(Some(&manifest(0.0, 1.8, 1.0)));
        assert!((at.scale.x - 1.0).abs() < 1e-6);
        assert!(drawn_height(&at, 0.0).abs() < 1e-6);
        // Made in centimetres (170 units tall), standing below its
        // origin: the tallest a figure is drawn, on the ground.
        let at = figure_at(Some(&manifest(-20.0, 170.0, 1.0)));
        assert!(drawn_height(&at, -20.0).abs() < 1e-4);
        assert!((drawn_height(&at, 150.0) - TALLEST).abs() < 1e-3);
        // A doll is drawn the shortest; the manifest's own scale counts
        // first.
        let at = figure_at(Some(&manifest(0.0, 0.3, 1.0)));
        assert!((drawn_height(&at, 0.3) - SHORTEST).abs() < 1e-4);
        let at = figure_at(Some(&manifest(0.0, 3.6, 0.5)));
        assert!((drawn_height(&at, 3.6) - 1.8).abs() < 1e-4);
        // glTF's front (+z) turned to the avatar's (-z).
        let front = figure_at(None).rotation * Vec3::Z;
        assert!((front - Vec3::NEG_Z).length() < 1e-6);
    }
}
