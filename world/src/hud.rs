//! The heads-up display: where you are, the host and its last block,
//! your account, the controls, and the latest chat.

use bevy::prelude::*;

use crate::WorldScene;
use crate::net::{NetStatus, Remotes, short};

/// The status text.
#[derive(Component, Debug)]
pub struct StatusText;

/// The status panel.
pub struct HudPlugin;

impl Plugin for HudPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Startup, spawn_hud)
            .add_systems(Update, update_hud);
    }
}

fn spawn_hud(mut commands: Commands) {
    commands.spawn((
        StatusText,
        Text::new(""),
        TextFont {
            font_size: FontSize::Px(15.0),
            ..default()
        },
        TextColor(Color::srgb(0.1, 0.1, 0.12)),
        BackgroundColor(Color::srgba(1.0, 1.0, 1.0, 0.7)),
        Node {
            position_type: PositionType::Absolute,
            left: Val::Px(12.0),
            top: Val::Px(12.0),
            padding: UiRect::all(Val::Px(8.0)),
            ..default()
        },
    ));
}

/// The panel's text.
pub fn status_line(scene: &WorldScene, status: &NetStatus, players: usize) -> String {
    let welcome = &scene.welcome;
    let mut text = format!(
        "{} | {} | host {} | block {}\nyou {} | {} other players in view\nWASD walk, shift run, drag to look, wheel to zoom",
        welcome.world.name,
        welcome.chain_id,
        scene.host,
        status.height.max(welcome.height),
        short(&scene.account),
        players,
    );
    if let Some(ended) = &status.ended {
        text.push_str(&format!("\nsession ended: {ended}"));
    }
    for line in &status.chat {
        text.push('\n');
        text.push_str(line);
    }
    text
}

fn update_hud(
    scene: Res<WorldScene>,
    status: Res<NetStatus>,
    remotes: Res<Remotes>,
    mut text: Query<&mut Text, With<StatusText>>,
) {
    if let Ok(mut text) = text.single_mut() {
        **text = status_line(&scene, &status, remotes.tracks.len());
    }
}
