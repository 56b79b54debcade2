//! Avatars on the wire: a player's state quantised to 8 bytes, the moves
//! a client sends and the updates a host sends, at [`super::TICK_HZ`].

use super::{MAX_AVATARS_PER_UPDATE, ProtocolError, decode};
use borsh::{BorshDeserialize, BorshSerialize};

/// Metres per unit of a quantised coordinate.
pub(super) const POSITION_STEP: f32 = 1.0 / 64.0;

/// The quantised value of coordinate 0.
pub(super) const POSITION_ZERO: f32 = 32_768.0;

/// How a player moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, BorshSerialize, BorshDeserialize)]
pub enum Gait {
    /// Standing.
    Idle,
    /// Walking.
    Walk,
    /// Running.
    Run,
}

/// An avatar's position, heading and gait in 8 bytes: coordinates in
/// 1/64 m over ±512 m, heading in 1/256 of a turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, BorshSerialize, BorshDeserialize)]
pub struct AvatarState {
    /// East-west.
    pub x: u16,
    /// Height.
    pub y: u16,
    /// North-south.
    pub z: u16,
    /// Heading.
    pub yaw: u8,
    /// Gait.
    pub gait: Gait,
}

pub(super) fn quantise(metres: f32) -> u16 {
    let value = (metres / POSITION_STEP + POSITION_ZERO).round();
    // Saturating: a position out of range lands on the edge.
    value.clamp(0.0, f32::from(u16::MAX)) as u16
}

impl AvatarState {
    /// The state of an avatar at `position` (metres) facing `yaw`
    /// (radians).
    pub fn new(position: [f32; 3], yaw: f32, gait: Gait) -> Self {
        let turn = yaw.rem_euclid(std::f32::consts::TAU) / std::f32::consts::TAU;
        AvatarState {
            x: quantise(position[0]),
            y: quantise(position[1]),
            z: quantise(position[2]),
            yaw: ((turn * 256.0).round() as u32 % 256) as u8,
            gait,
        }
    }

    /// The position in metres.
    pub fn position(&self) -> [f32; 3] {
        let metres = |value: u16| (f32::from(value) - POSITION_ZERO) * POSITION_STEP;
        [metres(self.x), metres(self.y), metres(self.z)]
    }

    /// The heading in radians about the vertical: 0 faces -z, and it grows
    /// turning towards -x (counter-clockwise seen from above), as a
    /// rotation about +y does. [`heading_towards`] gives it for a direction.
    pub fn yaw(&self) -> f32 {
        f32::from(self.yaw) / 256.0 * std::f32::consts::TAU
    }
}

/// The heading ([`AvatarState::yaw`]) of an avatar moving by `dx`, `dz`.
pub fn heading_towards(dx: f32, dz: f32) -> f32 {
    (-dx).atan2(-dz)
}

/// A client's avatar update (unreliable channel).
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Move {
    /// Counts up with every update; older ones arriving late are ignored.
    pub seq: u32,
    /// Where the avatar is.
    pub state: AvatarState,
}

/// The host's avatar update for one client (unreliable channel): the
/// avatars in its view that moved, and all of them once a second.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Avatars {
    /// The host's tick.
    pub tick: u32,
    /// (player, state), nearest first.
    pub avatars: Vec<(u16, AvatarState)>,
}

impl Move {
    /// Decodes an avatar update; its size is fixed.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        decode(bytes, 16)
    }
}

impl Avatars {
    /// Decodes an avatar update from the host.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let avatars: Avatars = decode(bytes, 8 + 10 * MAX_AVATARS_PER_UPDATE)?;
        Ok(avatars)
    }
}
