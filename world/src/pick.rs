//! Pointing at things: the ray under the cursor against the boxes of
//! what can be clicked (assets on stalls, other players), nearest first.
//! A click is a press and release with the pointer nearly still (a drag
//! turns the camera instead) and not over a panel.

use bevy::prelude::*;

use crate::AppSystems;
use crate::net::RemoteAvatar;

/// What a click can hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The asset shown at this index of the stalls' items.
    Item(usize),
    /// Another player, by number.
    Player(u16),
}

/// A clickable box, in world space, around an entity's translation.
#[derive(Component, Clone, Copy, Debug)]
pub struct Pickable {
    /// What it is.
    pub target: Target,
    /// Half its size along each axis, metres.
    pub half: Vec3,
    /// Its centre's offset from the entity's translation.
    pub offset: Vec3,
}

/// A click on something in the world, triggered once per click; the
/// panel that shows that kind of thing observes it.
#[derive(Event, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clicked(pub Target);

/// Whether the panels have the pointer or the keyboard this frame (then
/// the world does not take them).
#[derive(Resource, Clone, Copy, Debug, Default)]
pub struct UiFocus {
    /// The pointer is over a panel.
    pub pointer: bool,
    /// A text field has the keyboard.
    pub keyboard: bool,
}

/// Where along `ray` it enters the box `min..max`, if it does (slab test).
pub fn enters(origin: Vec3, direction: Vec3, min: Vec3, max: Vec3) -> Option<f32> {
    let mut near = 0.0_f32;
    let mut far = f32::INFINITY;
    for axis in 0..3 {
        let (o, d) = (origin[axis], direction[axis]);
        if d.abs() < 1e-9 {
            if o < min[axis] || o > max[axis] {
                return None;
            }
            continue;
        }
        let (a, b) = ((min[axis] - o) / d, (max[axis] - o) / d);
        near = near.max(a.min(b));
        far = far.min(a.max(b));
        if near > far {
            return None;
        }
    }
    Some(near)
}

/// The nearest of `boxes` (target, min, max) that the ray hits.
pub fn nearest(
    origin: Vec3,
    direction: Vec3,
    boxes: impl IntoIterator<Item = (Target, Vec3, Vec3)>,
) -> Option<Target> {
    boxes
        .into_iter()
        .filter_map(|(target, min, max)| {
            enters(origin, direction, min, max).map(|distance| (distance, target))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, target)| target)
}

/// Picks what is under the cursor on a click.
pub struct PickPlugin;

impl Plugin for PickPlugin {
    fn build(&self, app: &mut App) {
        crate::ordered(app);
        app.init_resource::<UiFocus>()
            .add_systems(Update, (mark_players, click).in_set(AppSystems::Input));
    }
}

/// Gives other players' avatars a clickable box.
fn mark_players(
    mut commands: Commands,
    unmarked: Query<(Entity, &RemoteAvatar), Without<Pickable>>,
) {
    for (entity, remote) in &unmarked {
        commands.entity(entity).insert(Pickable {
            target: Target::Player(remote.0),
            half: Vec3::new(0.45, 0.95, 0.45),
            offset: Vec3::ZERO,
        });
    }
}

fn click(
    mut commands: Commands,
    buttons: Option<Res<ButtonInput<MouseButton>>>,
    focus: Res<UiFocus>,
    windows: Query<&Window>,
    camera: Query<(&Camera, &GlobalTransform), With<Camera3d>>,
    pickable: Query<(&Pickable, &GlobalTransform)>,
    mut pressed_at: Local<Option<Vec2>>,
) {
    let (Some(buttons), Ok(window)) = (buttons, windows.single()) else {
        return;
    };
    let cursor = window.cursor_position();
    if buttons.just_pressed(MouseButton::Left) {
        *pressed_at = if focus.pointer { None } else { cursor };
    }
    if !buttons.just_released(MouseButton::Left) {
        return;
    }
    let (Some(from), Some(cursor)) = (pressed_at.take(), cursor) else {
        return;
    };
    if from.distance(cursor) > 6.0 || focus.pointer {
        return;
    }
    let Ok((camera, eye)) = camera.single() else {
        return;
    };
    let Ok(ray) = camera.viewport_to_world(eye, cursor) else {
        return;
    };
    let boxes = pickable.iter().map(|(pick, at)| {
        let centre = at.translation() + pick.offset;
        (pick.target, centre - pick.half, centre + pick.half)
    });
    if let Some(target) = nearest(ray.origin, *ray.direction, boxes) {
        commands.trigger(Clicked(target));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_box_on_the_ray_is_picked() {
        let boxes = [
            (
                Target::Item(0),
                Vec3::new(-1.0, -1.0, -11.0),
                Vec3::new(1.0, 1.0, -9.0),
            ),
            (
                Target::Player(7),
                Vec3::new(-1.0, -1.0, -6.0),
                Vec3::new(1.0, 1.0, -4.0),
            ),
            (
                Target::Item(1),
                Vec3::new(5.0, -1.0, -6.0),
                Vec3::new(7.0, 1.0, -4.0),
            ),
        ];
        let ahead = Vec3::NEG_Z;
        assert_eq!(nearest(Vec3::ZERO, ahead, boxes), Some(Target::Player(7)));
        // Behind the eye does not count; off to the side misses.
        assert_eq!(nearest(Vec3::ZERO, Vec3::Z, boxes), None);
        let aside = Vec3::new(6.0, 0.0, -5.0).normalize();
        assert_eq!(nearest(Vec3::ZERO, aside, boxes), Some(Target::Item(1)));
        assert_eq!(nearest(Vec3::ZERO, Vec3::Y, boxes), None);
        // From inside a box, that box.
        assert_eq!(
            nearest(Vec3::new(0.0, 0.0, -10.0), Vec3::X, boxes),
            Some(Target::Item(0))
        );
    }
}
