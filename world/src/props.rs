//! The world's own things: trees, lamps, benches, a fountain and signs
//! from the sample pack, standing where the world's layout puts them
//! (`WorldInfo::props`). Each is drawn from its model, fetched from the
//! host by content id like any other and checked against it, once it is
//! in the cache; until then the place is empty. They are part of the
//! scene: a new world's scene replaces them.

use assets::ContentId;
use bevy::prelude::*;

use crate::AppSystems;
use crate::WorldScene;
use crate::marketplace::Marketplace;
use crate::stalls::model_scene;

/// One of the world's own things, by its index in the layout's props.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub struct PropModel(pub usize);

/// Draws the world's own things.
pub struct PropsPlugin;

impl Plugin for PropsPlugin {
    fn build(&self, app: &mut App) {
        crate::ordered(app);
        app.add_systems(Update, draw_props.in_set(AppSystems::Draw));
    }
}

/// Spawns each prop of the scene whose model is cached (asking for the
/// others), and takes away those of a world the player left.
fn draw_props(
    mut commands: Commands,
    scene: Option<Res<WorldScene>>,
    mut marketplace: Option<ResMut<Marketplace>>,
    mut connection: crate::net::Connection,
    drawn: Query<(Entity, &PropModel)>,
    assets: Option<Res<AssetServer>>,
) {
    let Some(scene) = scene else {
        return;
    };
    let props = &scene.welcome.world.props;
    let mut shown = vec![false; props.len()];
    for (entity, prop) in &drawn {
        match shown.get_mut(prop.0) {
            Some(drawn) if !*drawn => *drawn = true,
            _ => commands.entity(entity).despawn(),
        }
    }
    if shown.iter().all(|drawn| *drawn) {
        return;
    }
    let (Some(marketplace), Some(mut session)) = (marketplace.as_mut(), connection.get()) else {
        return;
    };
    for (index, prop) in props.iter().enumerate() {
        if shown[index] {
            continue;
        }
        let Ok(model) = ContentId::from_bytes(&prop.model) else {
            continue;
        };
        let Some(file) = marketplace.model_file(&mut session, &model) else {
            // Asked for; drawn once it is cached.
            continue;
        };
        let [x, z] = prop.at;
        let turn = f32::from(prop.turn) / 256.0 * std::f32::consts::TAU;
        let mut thing = commands.spawn((
            PropModel(index),
            crate::scene::SceneEntity,
            Name::new(prop.name.clone()),
            Transform::from_xyz(x, 0.0, z).with_rotation(Quat::from_rotation_y(turn)),
            Visibility::default(),
        ));
        if let Some(assets) = &assets {
            thing.insert(model_scene(assets, file));
        }
    }
}
