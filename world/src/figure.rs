//! Every avatar's figure: the avatar model its player uses (an asset of
//! kind avatar worn in the avatar slot, which the host checked against
//! the ledger like anything worn) or, until it has one, Plaza's plain
//! figure. The figure plays its model's `idle` or `walk` animation as
//! the avatar stands, walks or runs, and worn things ride on its sockets
//! (see [`crate::wear`]).

use std::collections::HashMap;

use assets::{Codec, ContentId};
use bevy::animation::graph::{AnimationGraph, AnimationGraphHandle, AnimationNodeIndex};
use bevy::animation::{AnimationClip, AnimationPlayer};
use bevy::gltf::Gltf;
use bevy::prelude::*;
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

/// The figure drawn for an avatar: a child of the avatar's entity.
#[derive(Component, Clone, Debug, PartialEq, Eq)]
pub struct Figure {
    /// The avatar entity it belongs to.
    pub avatar: Entity,
    /// The avatar asset it shows; `None` for the plain figure.
    pub asset: Option<AssetId>,
    /// Its model file in the cache.
    pub file: String,
}

/// A figure's animations, once its model has loaded: the animation
/// player's entity and the graph's nodes for standing and walking.
#[derive(Component, Clone, Debug)]
pub struct Moves {
    player: Entity,
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

/// Gives each avatar the figure it should show: its chosen avatar model
/// once that is in the cache (the one it had until then), else the plain
/// figure.
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
) {
    let Some(mut session) = connection.get() else {
        return;
    };
    let client = &mut session;
    let me = client.welcome().map(|welcome| welcome.player);
    let mut avatars: Vec<(u16, Entity)> = remotes
        .iter()
        .map(|(entity, remote)| (remote.0, entity))
        .collect();
    if let (Some(me), Ok(entity)) = (me, local.single()) {
        avatars.push((me, entity));
    }
    let shown: HashMap<Entity, (Entity, &Figure)> = figures
        .iter()
        .map(|(entity, figure)| (figure.avatar, (entity, figure)))
        .collect();
    for (player, avatar) in avatars {
        let wanted = chosen(client.appearances(), player);
        let current = shown.get(&avatar);
        if current.is_some_and(|(_, figure)| figure.asset == wanted) {
            continue;
        }
        // The chosen model's file, once its manifest and model are here.
        let file = match wanted {
            Some(asset) => match marketplace.manifests.get(&asset).cloned() {
                Some(manifest) => marketplace.model_file(client, &manifest.model),
                None => {
                    marketplace.want_manifest(client, asset);
                    None
                }
            },
            None => plain.0.clone(),
        };
        let (asset, file) = match file {
            Some(file) => (wanted, file),
            // Until the chosen one is here: what it shows, else the plain
            // figure.
            None if current.is_some() => continue,
            None => match plain.0.clone() {
                Some(file) => (None, file),
                None => continue,
            },
        };
        if let Some((old, _)) = current {
            commands.entity(*old).despawn();
        }
        let mut figure = commands.spawn((
            Figure {
                avatar,
                asset,
                file: file.clone(),
            },
            // Feet on the ground; glTF models face +z, avatars -z.
            Transform::from_xyz(0.0, -FEET, 0.0)
                .with_rotation(Quat::from_rotation_y(std::f32::consts::PI)),
            Visibility::default(),
            ChildOf(avatar),
        ));
        if let Some(assets) = &assets {
            figure.insert(model_scene(assets, file));
        }
        debug!(player, ?asset, "drawing an avatar's figure");
    }
}

/// Finds a newly drawn figure's animation player and makes it a graph of
/// the model's `idle` and `walk` clips.
fn find_moves(
    mut commands: Commands,
    players: Query<Entity, Added<AnimationPlayer>>,
    parents: Query<&ChildOf>,
    figures: Query<&Figure>,
    assets: Option<Res<AssetServer>>,
    gltfs: Option<Res<Assets<Gltf>>>,
    graphs: Option<ResMut<Assets<AnimationGraph>>>,
) {
    let (Some(assets), Some(gltfs), Some(mut graphs)) = (assets, gltfs, graphs) else {
        return;
    };
    for player in &players {
        let Some((figure_entity, figure)) = parents
            .iter_ancestors(player)
            .find_map(|entity| figures.get(entity).ok().map(|figure| (entity, figure)))
        else {
            continue;
        };
        // The scene has spawned, so its file has loaded.
        let Some(gltf) = gltfs.get(&assets.load::<Gltf>(figure.file.clone())) else {
            warn!(file = %figure.file, "an avatar model's animations are not loaded");
            continue;
        };
        let clip = |name: &str| -> Option<Handle<AnimationClip>> {
            gltf.named_animations.get(name).cloned()
        };
        let mut graph = AnimationGraph::new();
        let root = graph.root;
        let idle = clip("idle").map(|clip| graph.add_clip(clip, 1.0, root));
        let walk = clip("walk").map(|clip| graph.add_clip(clip, 1.0, root));
        commands
            .entity(player)
            .insert(AnimationGraphHandle(graphs.add(graph)));
        commands.entity(figure_entity).insert(Moves {
            player,
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
    mut figures: Query<(&Figure, &mut Moves)>,
    mut players: Query<&mut AnimationPlayer>,
) {
    for (figure, mut moves) in &mut figures {
        let gait = match (local.get(figure.avatar), remote.get(figure.avatar)) {
            (Ok(avatar), _) => avatar.gait,
            (_, Ok(remote)) => remotes.gait(remote.0),
            _ => continue,
        };
        if moves.playing == Some(gait) {
            continue;
        }
        let Ok(mut player) = players.get_mut(moves.player) else {
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
