//! Plaza's 3D world client: a Bevy app over the host's world protocol.
//!
//! One plugin per feature, each thin over the protocol and the pure cores
//! ([`motion`], [`interp`], the [`marketplace`]): the scene of the world the host
//! describes, the player's avatar and its camera, the session (moves out
//! at the host's tick, other players in, drawn smoothly with name tags),
//! clicking things, and the panels (status and wallet, catalogue, asset
//! card and renting, inventory and listing, trading). The rules live in
//! `market` and `ledger`.

pub mod avatar;
pub mod camera;
pub mod catalogue;
#[cfg(feature = "embedded-host")]
pub mod embedded;
pub mod hud;
pub mod interp;
pub mod inventory;
pub mod marketplace;
pub mod motion;
pub mod net;
pub mod pick;
pub mod rental;
pub mod scene;
pub mod shot;
pub mod stalls;
pub mod trade;
pub mod ui;
pub mod wallet;
pub mod wear;

use bevy::prelude::*;
use plaza_client::client::Welcome;

use crate::motion::Obstacle;

/// The world the player is in, as the host described it on entry.
#[derive(Resource, Clone, Debug)]
pub struct WorldScene {
    /// The host's welcome: the world, the players, the network.
    pub welcome: Welcome,
    /// The player's account, as text.
    pub account: String,
    /// Where the host is: "embedded" or its join address.
    pub host: String,
    /// What avatars walk around.
    pub obstacles: Vec<Obstacle>,
}

impl WorldScene {
    /// The scene of `welcome` for `account`, served by `host`.
    pub fn new(welcome: Welcome, account: String, host: String) -> Self {
        let obstacles = welcome
            .world
            .stalls
            .iter()
            .map(|stall| {
                let centre = Vec2::new(stall.position[0], stall.position[1]);
                Obstacle {
                    min: centre - scene::STALL_HALF,
                    max: centre + scene::STALL_HALF,
                }
            })
            .collect();
        WorldScene {
            welcome,
            account,
            host,
            obstacles,
        }
    }

    /// Half the side of the square world, metres.
    pub fn half_size(&self) -> f32 {
        self.welcome.world.half_size
    }
}
