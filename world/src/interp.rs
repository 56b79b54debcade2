//! Other players' avatars drawn smoothly: each is shown a little in the
//! past, between the two updates around that moment.

use std::collections::VecDeque;

use bevy::math::Vec3;

/// How far behind the newest update avatars are drawn: two host ticks, so
/// one lost update does not make an avatar stop.
pub const DELAY: f64 = 0.1;
/// Updates kept per avatar.
const KEPT: usize = 16;

/// The updates heard of one avatar.
#[derive(Clone, Debug, Default)]
pub struct Track {
    samples: VecDeque<(f64, Vec3, f32)>,
}

impl Track {
    /// Records that at `time` (seconds) the avatar was at `position`
    /// facing `yaw`. Updates older than the newest are ignored.
    pub fn push(&mut self, time: f64, position: Vec3, yaw: f32) {
        if self.samples.back().is_some_and(|(last, ..)| *last >= time) {
            return;
        }
        if self.samples.len() == KEPT {
            self.samples.pop_front();
        }
        self.samples.push_back((time, position, yaw));
    }

    /// Where to draw the avatar at `now`: `DELAY` in the past, between
    /// the updates around that moment; the oldest or newest one outside
    /// them (never guessed ahead).
    pub fn sample(&self, now: f64) -> Option<(Vec3, f32)> {
        let at = now - DELAY;
        let after = self.samples.iter().position(|(time, ..)| *time >= at);
        match after {
            None => self.samples.back().map(|(_, p, y)| (*p, *y)),
            Some(0) => self.samples.front().map(|(_, p, y)| (*p, *y)),
            Some(index) => {
                let (t0, p0, y0) = self.samples[index - 1];
                let (t1, p1, y1) = self.samples[index];
                let span = (t1 - t0).max(1e-6);
                let f = ((at - t0) / span).clamp(0.0, 1.0) as f32;
                Some((p0.lerp(p1, f), lerp_angle(y0, y1, f)))
            }
        }
    }
}

/// The angle `f` of the way from `a` to `b`, the short way round.
fn lerp_angle(a: f32, b: f32, f: f32) -> f32 {
    use std::f32::consts::{PI, TAU};
    let mut delta = (b - a) % TAU;
    if delta > PI {
        delta -= TAU;
    } else if delta < -PI {
        delta += TAU;
    }
    a + delta * f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawn_between_updates_a_little_in_the_past() {
        let mut track = Track::default();
        assert_eq!(track.sample(1.0), None);
        track.push(1.00, Vec3::ZERO, 0.0);
        track.push(1.05, Vec3::new(1.0, 0.0, 0.0), 0.0);
        track.push(1.10, Vec3::new(2.0, 0.0, 0.0), 0.0);
        // At 1.175 the avatar is drawn as at 1.075: between 1.05 and 1.10.
        let (position, _) = track.sample(1.175).unwrap();
        assert!((position.x - 1.5).abs() < 1e-4, "{position}");
        // Before the first update: the first; long after: the last.
        assert_eq!(track.sample(0.5).unwrap().0, Vec3::ZERO);
        assert_eq!(track.sample(9.0).unwrap().0, Vec3::new(2.0, 0.0, 0.0));
        // A late update does not pull it back.
        track.push(1.02, Vec3::new(-5.0, 0.0, 0.0), 0.0);
        assert_eq!(track.sample(9.0).unwrap().0, Vec3::new(2.0, 0.0, 0.0));
    }

    #[test]
    fn turns_the_short_way_round() {
        let turned = lerp_angle(3.0, -3.0, 0.5);
        // From just under π to just over -π is a small turn across π.
        assert!(
            (turned.abs() - std::f32::consts::PI).abs() < 0.01,
            "{turned}"
        );
    }
}
