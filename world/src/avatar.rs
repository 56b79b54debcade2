//! The player's own avatar: WASD or the arrows to walk, shift to run,
//! moved by [`crate::motion`] where the camera looks.

use bevy::prelude::*;
use plaza_client::protocol::Gait;

use crate::AppSystems;
use crate::WorldScene;
use crate::camera::CameraRig;
use crate::figure::FEET;
use crate::motion::{self, Intent};
use crate::pick::UiFocus;

/// The player's avatar.
#[derive(Component, Debug)]
pub struct LocalAvatar {
    /// The way it faces, radians.
    pub facing: f32,
    /// How it moves now.
    pub gait: Gait,
}

/// Puts the avatar where the host says the player enters (the world's
/// spawn point, or where another host of the world last showed it) and
/// moves it each frame.
pub struct AvatarPlugin;

impl Plugin for AvatarPlugin {
    fn build(&self, app: &mut App) {
        crate::ordered(app);
        app.add_systems(Startup, spawn_avatar)
            .add_systems(
                Update,
                // After the session's messages (a welcome elsewhere).
                to_entry
                    .run_if(resource_changed::<WorldScene>)
                    .in_set(AppSystems::Input),
            )
            .add_systems(Update, walk.in_set(AppSystems::Move));
    }
}

fn spawn_avatar(mut commands: Commands, scene: Res<WorldScene>) {
    let at = scene.welcome.at;
    // Drawn as its figure (see `figure`).
    commands.spawn((
        LocalAvatar {
            facing: 0.0,
            gait: Gait::Idle,
        },
        Transform::from_xyz(at[0], FEET, at[2]),
        Visibility::default(),
    ));
}

/// Puts the avatar where the player entered the world it is in (when it
/// starts, travels, or goes on at another host).
fn to_entry(scene: Res<WorldScene>, mut avatar: Query<&mut Transform, With<LocalAvatar>>) {
    let at = scene.welcome.at;
    for mut transform in &mut avatar {
        transform.translation = Vec3::new(at[0], FEET, at[2]);
    }
}

/// What the keys held ask for.
pub fn intent(keys: &ButtonInput<KeyCode>) -> Intent {
    let held = |codes: [KeyCode; 2]| codes.iter().any(|code| keys.pressed(*code));
    let axis = |plus, minus| f32::from(u8::from(plus)) - f32::from(u8::from(minus));
    Intent {
        forward: axis(
            held([KeyCode::KeyW, KeyCode::ArrowUp]),
            held([KeyCode::KeyS, KeyCode::ArrowDown]),
        ),
        right: axis(
            held([KeyCode::KeyD, KeyCode::ArrowRight]),
            held([KeyCode::KeyA, KeyCode::ArrowLeft]),
        ),
        run: held([KeyCode::ShiftLeft, KeyCode::ShiftRight]),
    }
}

/// Moves the avatar by the keys held, where the camera looks.
pub fn walk(
    keys: Res<ButtonInput<KeyCode>>,
    time: Res<Time>,
    scene: Res<WorldScene>,
    rig: Res<CameraRig>,
    focus: Option<Res<UiFocus>>,
    mut avatar: Query<(&mut Transform, &mut LocalAvatar)>,
) {
    let Ok((mut transform, mut avatar)) = avatar.single_mut() else {
        return;
    };
    let here = Vec2::new(transform.translation.x, transform.translation.z);
    let moved = motion::step(
        here,
        avatar.facing,
        // Keys typed into a panel's text field do not walk.
        if focus.is_some_and(|focus| focus.keyboard) {
            Intent::default()
        } else {
            intent(&keys)
        },
        rig.yaw,
        time.delta_secs(),
        scene.half_size(),
        &scene.obstacles,
    );
    transform.translation.x = moved.position.x;
    transform.translation.z = moved.position.y;
    transform.rotation = Quat::from_rotation_y(moved.facing);
    avatar.facing = moved.facing;
    avatar.gait = moved.gait;
}
