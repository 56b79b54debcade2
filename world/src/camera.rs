//! A third-person camera: it follows the avatar; dragging with a mouse
//! button turns it, the wheel zooms.

use bevy::core_pipeline::tonemapping::Tonemapping;
use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll};
use bevy::prelude::*;

use crate::AppSystems;
use crate::avatar::LocalAvatar;
use crate::pick::UiFocus;

/// Where the camera is, around the avatar.
#[derive(Resource, Clone, Copy, Debug, PartialEq)]
pub struct CameraRig {
    /// Turned about the vertical, radians (0 looks along -z).
    pub yaw: f32,
    /// Tilted down, radians.
    pub pitch: f32,
    /// From the avatar, metres.
    pub distance: f32,
}

impl Default for CameraRig {
    fn default() -> Self {
        CameraRig {
            yaw: 0.0,
            pitch: 0.32,
            distance: 11.0,
        }
    }
}

/// The camera and its controls.
pub struct CameraPlugin;

impl Plugin for CameraPlugin {
    fn build(&self, app: &mut App) {
        crate::ordered(app);
        app.init_resource::<CameraRig>()
            .add_systems(Startup, spawn_camera)
            .add_systems(Update, steer.in_set(AppSystems::Input))
            .add_systems(Update, follow.in_set(AppSystems::Draw));
    }
}

fn spawn_camera(mut commands: Commands) {
    commands.spawn((
        Camera3d::default(),
        // A filmic curve that needs no lookup tables (they would pull in
        // the KTX2 and zstd decoders).
        Tonemapping::AcesFitted,
        Transform::from_xyz(0.0, 6.0, 12.0),
    ));
}

/// Turns and zooms the camera by the mouse.
pub fn steer(
    buttons: Option<Res<ButtonInput<MouseButton>>>,
    motion: Option<Res<AccumulatedMouseMotion>>,
    scroll: Option<Res<AccumulatedMouseScroll>>,
    focus: Option<Res<UiFocus>>,
    mut rig: ResMut<CameraRig>,
) {
    // The panels have the pointer: a drag or the wheel there is theirs.
    if focus.is_some_and(|focus| focus.pointer) {
        return;
    }
    let dragging = buttons.is_some_and(|buttons| {
        buttons.pressed(MouseButton::Left) || buttons.pressed(MouseButton::Right)
    });
    if dragging && let Some(motion) = motion {
        rig.yaw -= motion.delta.x * 0.005;
        rig.pitch = (rig.pitch + motion.delta.y * 0.004).clamp(0.05, 1.3);
    }
    if let Some(scroll) = scroll {
        rig.distance = (rig.distance - scroll.delta.y * 0.8).clamp(3.0, 30.0);
    }
}

/// Where the camera sits for `rig` around a target at `target`.
pub fn eye(rig: &CameraRig, target: Vec3) -> Vec3 {
    let back = Quat::from_rotation_y(rig.yaw) * Quat::from_rotation_x(-rig.pitch) * Vec3::Z;
    target + back * rig.distance
}

fn follow(
    rig: Res<CameraRig>,
    avatar: Query<&Transform, (With<LocalAvatar>, Without<Camera3d>)>,
    mut camera: Query<&mut Transform, With<Camera3d>>,
) {
    let (Ok(avatar), Ok(mut camera)) = (avatar.single(), camera.single_mut()) else {
        return;
    };
    let target = avatar.translation + Vec3::Y * 1.2;
    *camera = Transform::from_translation(eye(&rig, target)).looking_at(target, Vec3::Y);
}
