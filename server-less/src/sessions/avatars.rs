//! Avatars: movement checked against the world's speed and bounds, and
//! each client's view of the avatars near it.

use std::collections::HashMap;

use renet::ClientId;
use tracing::error;

use super::server::{Occupant, Server};
use plaza_client::protocol::{
    self, Avatars, CHANNEL_AVATAR, ErrorCode, MAX_AVATARS_PER_UPDATE, Move, ProtocolError,
    SessionState, TICK_HZ,
};

/// Fastest an avatar may move, metres per second.
pub(super) const MAX_SPEED: f32 = 15.0;

/// What a player may cover beyond [`MAX_SPEED`] each second, for clocks
/// and networks that are not exact.
pub(super) const STRIDE_SLACK: f32 = 1.0;

/// The most a player may cover at once after standing still, metres: a
/// quarter second at the fastest.
pub(super) const STRIDE_BURST: f32 = (MAX_SPEED + STRIDE_SLACK) / 4.0;

/// How far above or below the ground an avatar may be, metres.
pub(super) const MAX_HEIGHT: f32 = 8.0;

/// Every avatar in view is sent at least this often, in ticks.
pub(super) const KEYFRAME_TICKS: u32 = TICK_HZ;

/// The distance between two positions, metres.
pub(super) fn distance(a: [f32; 3], b: [f32; 3]) -> f32 {
    let (dx, dy, dz) = (a[0] - b[0], a[1] - b[1], a[2] - b[2]);
    (dx * dx + dy * dy + dz * dz).sqrt()
}

pub(super) fn distance2(a: [f32; 3], b: [f32; 3]) -> f32 {
    let (dx, dz) = (a[0] - b[0], a[2] - b[2]);
    dx * dx + dz * dz
}

impl Server {
    pub(super) fn moved(&mut self, client: ClientId, update: Move) {
        let Some(session) = self.sessions.get_mut(&client) else {
            return;
        };
        if session.state != SessionState::InWorld {
            return;
        }
        // Late or repeated updates are stale; sequence numbers wrap.
        if session.avatar.is_some() && update.seq.wrapping_sub(session.last_seq) as i32 <= 0 {
            return;
        }
        let Some(world) = self.worlds.get(session.world) else {
            return;
        };
        let half = world.world.info.half_size;
        let position = update.state.position();
        if position[0].abs() > half || position[2].abs() > half || position[1].abs() > MAX_HEIGHT {
            let err = ProtocolError::new(
                ErrorCode::Invalid,
                format!(
                    "a move to ({:.1}, {:.1}, {:.1}) leaves the world",
                    position[0], position[1], position[2]
                ),
            );
            self.breach(client, None, &err);
            return;
        }
        let mut state = update.state;
        if let Some(old) = session.avatar {
            // However the moves come (one at a time, twenty at once, after
            // standing still), the distance covered is what the time since
            // allows: the stride bucket holds a quarter second's running
            // at most. A move beyond it is cut short where the bucket runs
            // out: the client's own view catches up as it slows down.
            let from = old.position();
            let wanted = distance(from, position);
            let allowed = session.stride.take_up_to(wanted);
            if allowed < wanted {
                let part = if wanted > 0.0 { allowed / wanted } else { 0.0 };
                let at = [0, 1, 2].map(|axis| from[axis] + (position[axis] - from[axis]) * part);
                state = protocol::AvatarState::new(at, update.state.yaw(), update.state.gait);
                if wanted - allowed > STRIDE_BURST {
                    let err = ProtocolError::new(
                        ErrorCode::Invalid,
                        format!("a move of {wanted:.1} m is faster than running: it was cut short"),
                    );
                    self.breach(client, None, &err);
                }
            }
        }
        let Some(session) = self.sessions.get_mut(&client) else {
            return;
        };
        session.changed |= session.avatar != Some(state);
        session.avatar = Some(state);
        session.last_seq = update.seq;
    }

    /// Sends each player the avatars within its view radius that moved,
    /// and all of them once a second; nearest first, at most
    /// [`MAX_AVATARS_PER_UPDATE`].
    pub(super) fn send_avatars(&mut self) {
        let radius = self.settings.view_radius;
        let cell = radius.max(1.0);
        for world in 0..self.worlds.len() {
            // Every avatar in the world, this host's players' and other
            // hosts': (client if this host's, number, state, moved).
            let members: Vec<(Option<ClientId>, u16, protocol::AvatarState, bool)> = self.worlds
                [world]
                .slots
                .iter()
                .flatten()
                .filter_map(|occupant| match occupant {
                    Occupant::Local(client) => {
                        let session = self.sessions.get(client)?;
                        Some((
                            Some(*client),
                            session.player,
                            session.avatar?,
                            session.changed,
                        ))
                    }
                    Occupant::Remote(key) => {
                        let remote = self.worlds[world].remotes.get(key)?;
                        Some((None, remote.player, remote.state, remote.changed))
                    }
                })
                .collect();
            if members.is_empty() {
                continue;
            }
            let key = |position: [f32; 3]| {
                (
                    (position[0] / cell).floor() as i32,
                    (position[2] / cell).floor() as i32,
                )
            };
            let mut grid: HashMap<(i32, i32), Vec<usize>> = HashMap::new();
            for (index, member) in members.iter().enumerate() {
                grid.entry(key(member.2.position()))
                    .or_default()
                    .push(index);
            }
            let mut near: Vec<(f32, usize)> = Vec::new();
            for (viewer, &(client, player, state, _)) in members.iter().enumerate() {
                // Other hosts send their own players' views.
                let Some(client) = client else {
                    continue;
                };
                let here = state.position();
                let (cx, cz) = key(here);
                let keyframe = (self.tick.wrapping_add(u32::from(player))) % KEYFRAME_TICKS == 0;
                near.clear();
                for dx in -1..=1 {
                    for dz in -1..=1 {
                        for &other in grid.get(&(cx + dx, cz + dz)).into_iter().flatten() {
                            if other == viewer {
                                continue;
                            }
                            let d2 = distance2(here, members[other].2.position());
                            if d2 <= radius * radius {
                                near.push((d2, other));
                            }
                        }
                    }
                }
                if near.len() > MAX_AVATARS_PER_UPDATE {
                    near.select_nth_unstable_by(MAX_AVATARS_PER_UPDATE, |a, b| a.0.total_cmp(&b.0));
                    near.truncate(MAX_AVATARS_PER_UPDATE);
                }
                near.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
                let avatars: Vec<(u16, protocol::AvatarState)> = near
                    .iter()
                    .filter(|(_, other)| keyframe || members[*other].3)
                    .map(|(_, other)| (members[*other].1, members[*other].2))
                    .collect();
                if avatars.is_empty() {
                    continue;
                }
                let update = Avatars {
                    tick: self.tick,
                    avatars,
                };
                match protocol::encode(&update) {
                    Ok(bytes) => self.renet.send_message(client, CHANNEL_AVATAR, bytes),
                    Err(err) => error!(client, %err, "an avatar update could not be encoded"),
                }
            }
            for (client, ..) in members {
                if let Some(session) = client.and_then(|client| self.sessions.get_mut(&client)) {
                    session.changed = false;
                }
            }
            for remote in self.worlds[world].remotes.values_mut() {
                remote.changed = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_are_metres_and_interest_is_on_the_ground() {
        assert_eq!(distance([0.0, 0.0, 0.0], [3.0, 0.0, 4.0]), 5.0);
        assert_eq!(distance([0.0, 2.0, 0.0], [0.0, 0.0, 0.0]), 2.0);
        // Interest ignores height: squared metres across the ground.
        assert_eq!(distance2([0.0, 9.0, 0.0], [3.0, 0.0, 4.0]), 25.0);
    }
}
