//! How an avatar moves: walking and running on the ground, turned by the
//! camera, kept out of stalls and inside the world. Pure: input, time and
//! obstacles in, a new position out.

use bevy::math::Vec2;
use plaza_client::protocol::Gait;

/// Walking speed, metres per second.
pub const WALK_SPEED: f32 = 3.5;
/// Running speed, metres per second (the host refuses over 15).
pub const RUN_SPEED: f32 = 7.0;
/// An avatar's radius on the ground, metres.
pub const AVATAR_RADIUS: f32 = 0.4;
/// The longest stride taken at once, metres (under the avatar's radius).
const MAX_STRIDE: f32 = 0.3;

/// What the player asks for this frame.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Intent {
    /// Forward (+1) or back (-1), relative to the camera.
    pub forward: f32,
    /// Right (+1) or left (-1), relative to the camera.
    pub right: f32,
    /// Shift held.
    pub run: bool,
}

/// A box on the ground an avatar cannot enter, in x and z.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Obstacle {
    /// The corner with the smallest x and z.
    pub min: Vec2,
    /// The opposite corner.
    pub max: Vec2,
}

/// Where a step leaves the avatar.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Step {
    /// Its position on the ground (x, z).
    pub position: Vec2,
    /// The way it faces, radians (as the camera's yaw: 0 looks along -z).
    pub facing: f32,
    /// Standing, walking or running.
    pub gait: Gait,
}

/// Moves an avatar at `position` facing `facing` by `intent` for `dt`
/// seconds, with the camera turned to `camera_yaw`; it stays `half_size`
/// from the centre at most and never inside an obstacle.
pub fn step(
    position: Vec2,
    facing: f32,
    intent: Intent,
    camera_yaw: f32,
    dt: f32,
    half_size: f32,
    obstacles: &[Obstacle],
) -> Step {
    let wish = Vec2::new(intent.right, -intent.forward);
    if wish.length_squared() < 1e-6 || dt <= 0.0 {
        return Step {
            position,
            facing,
            gait: Gait::Idle,
        };
    }
    // The wish is in the camera's frame: rotate it by the camera's yaw.
    let (sin, cos) = camera_yaw.sin_cos();
    let wish = wish.normalize();
    let direction = Vec2::new(wish.x * cos + wish.y * sin, -wish.x * sin + wish.y * cos);
    let speed = if intent.run { RUN_SPEED } else { WALK_SPEED };
    // In strides of at most MAX_STRIDE, so that a slow frame cannot carry
    // the avatar through a stall.
    let travel = speed * dt;
    let strides = (travel / MAX_STRIDE).ceil().max(1.0);
    let stride = direction * (travel / strides);
    let edge = (half_size - AVATAR_RADIUS).max(0.0);
    let mut next = position;
    for _ in 0..strides as u32 {
        next += stride;
        for obstacle in obstacles {
            next = push_out(next, obstacle);
        }
        next = next.clamp(Vec2::splat(-edge), Vec2::splat(edge));
    }
    Step {
        position: next,
        facing: plaza_client::protocol::heading_towards(direction.x, direction.y),
        gait: if intent.run { Gait::Run } else { Gait::Walk },
    }
}

/// `position` moved the shortest way out of `obstacle`, grown by the
/// avatar's radius.
fn push_out(position: Vec2, obstacle: &Obstacle) -> Vec2 {
    let closest = position.clamp(obstacle.min, obstacle.max);
    let away = position - closest;
    let distance = away.length();
    if distance >= AVATAR_RADIUS {
        return position;
    }
    if distance > 1e-5 {
        return closest + away / distance * AVATAR_RADIUS;
    }
    // Inside the box: out through the nearest side.
    let exits = [
        (
            position.x - obstacle.min.x,
            Vec2::new(obstacle.min.x - AVATAR_RADIUS, position.y),
        ),
        (
            obstacle.max.x - position.x,
            Vec2::new(obstacle.max.x + AVATAR_RADIUS, position.y),
        ),
        (
            position.y - obstacle.min.y,
            Vec2::new(position.x, obstacle.min.y - AVATAR_RADIUS),
        ),
        (
            obstacle.max.y - position.y,
            Vec2::new(position.x, obstacle.max.y + AVATAR_RADIUS),
        ),
    ];
    exits
        .into_iter()
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map_or(position, |(_, exit)| exit)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORWARD: Intent = Intent {
        forward: 1.0,
        right: 0.0,
        run: false,
    };

    #[test]
    fn walks_where_the_camera_looks_and_runs_faster() {
        let walked = step(Vec2::ZERO, 0.0, FORWARD, 0.0, 1.0, 100.0, &[]);
        assert!((walked.position - Vec2::new(0.0, -WALK_SPEED)).length() < 1e-4);
        assert_eq!(walked.gait, Gait::Walk);
        assert!(walked.facing.abs() < 1e-4);
        // Camera turned a quarter to the left: forward is -x.
        let turned = step(
            Vec2::ZERO,
            0.0,
            FORWARD,
            std::f32::consts::FRAC_PI_2,
            1.0,
            100.0,
            &[],
        );
        assert!((turned.position - Vec2::new(-WALK_SPEED, 0.0)).length() < 1e-4);
        let ran = step(
            Vec2::ZERO,
            0.0,
            Intent {
                run: true,
                ..FORWARD
            },
            0.0,
            1.0,
            100.0,
            &[],
        );
        assert!((ran.position.length() - RUN_SPEED).abs() < 1e-4);
        assert_eq!(ran.gait, Gait::Run);
        let idle = step(Vec2::ONE, 1.0, Intent::default(), 0.0, 1.0, 100.0, &[]);
        assert_eq!(
            (idle.position, idle.facing, idle.gait),
            (Vec2::ONE, 1.0, Gait::Idle)
        );
    }

    #[test]
    fn stalls_and_the_world_edge_stop_an_avatar() {
        let stall = Obstacle {
            min: Vec2::new(-2.0, -3.0),
            max: Vec2::new(2.0, -2.0),
        };
        // Walking north into the stall's south face.
        let mut position = Vec2::ZERO;
        for _ in 0..100 {
            position = step(position, 0.0, FORWARD, 0.0, 0.05, 100.0, &[stall]).position;
        }
        assert!(
            (position.y - (-2.0 + AVATAR_RADIUS)).abs() < 1e-3,
            "{position}"
        );
        // The edge of a 10 m world.
        let mut position = Vec2::ZERO;
        for _ in 0..100 {
            position = step(position, 0.0, FORWARD, 0.0, 0.1, 5.0, &[]).position;
        }
        assert!(
            (position.y + (5.0 - AVATAR_RADIUS)).abs() < 1e-4,
            "{position}"
        );
        // A slow frame (half a second of running) still stops at the stall.
        let slow = step(
            Vec2::new(0.0, -1.0),
            0.0,
            Intent {
                run: true,
                ..FORWARD
            },
            0.0,
            0.5,
            100.0,
            &[stall],
        );
        assert!(
            (slow.position.y - (-2.0 + AVATAR_RADIUS)).abs() < 1e-3,
            "{}",
            slow.position
        );
        // Dropped inside a box: out by the nearest side.
        let out = push_out(Vec2::new(1.9, -2.5), &stall);
        assert!(
            (out - Vec2::new(2.0 + AVATAR_RADIUS, -2.5)).length() < 1e-4,
            "{out}"
        );
    }
}
