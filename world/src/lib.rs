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
pub mod failover;
pub mod figure;
pub mod hud;
pub mod interp;
pub mod inventory;
pub mod land;
pub mod launch;
pub mod marketplace;
pub mod minimap;
pub mod motion;
pub mod net;
pub mod pick;
pub mod props;
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

/// The order of a frame's work in `Update`, for every feature's systems:
/// what the host sent is read first, then the player's input, the
/// avatar's movement, what clicks and answers open, and last what is
/// drawn. The panels run in egui's own pass.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppSystems {
    /// Reading the session: the host's messages and events.
    Session,
    /// The player's keys, mouse and clicks.
    Input,
    /// The avatar's movement, and the move sent to the host.
    Move,
    /// What a click or an answer opens.
    React,
    /// The camera, other players, what avatars wear and what stalls show.
    Draw,
}

/// The world client, one plugin per feature. It needs the session and
/// the scene's resources ([`WorldScene`], the session's (`net::insert_session`),
/// `net::Remotes`, `marketplace::Marketplace`, `stalls::Loader`), which
/// [`launch`] provides.
pub struct WorldPlugin;

/// Orders the [`AppSystems`] sets; every feature plugin that puts systems
/// in them adds it (once), so that a test app made of a few features runs
/// them in the same order as the whole client.
pub struct AppSystemsPlugin;

impl Plugin for AppSystemsPlugin {
    fn build(&self, app: &mut App) {
        app.configure_sets(
            Update,
            (
                AppSystems::Session,
                AppSystems::Input,
                AppSystems::Move,
                AppSystems::React,
                AppSystems::Draw,
            )
                .chain(),
        );
    }
}

/// Adds [`AppSystemsPlugin`] unless it is there.
pub(crate) fn ordered(app: &mut App) -> &mut App {
    if !app.is_plugin_added::<AppSystemsPlugin>() {
        app.add_plugins(AppSystemsPlugin);
    }
    app
}

impl Plugin for WorldPlugin {
    fn build(&self, app: &mut App) {
        ordered(app).add_plugins((
            scene::ScenePlugin,
            camera::CameraPlugin,
            avatar::AvatarPlugin,
            (net::NetPlugin, failover::FailoverPlugin),
            stalls::StallsPlugin,
            pick::PickPlugin,
            ui::UiPlugin,
            marketplace::MarketplacePlugin,
            (hud::HudPlugin, minimap::MinimapPlugin),
            catalogue::CataloguePlugin,
            rental::RentalPlugin,
            inventory::InventoryPlugin,
            trade::TradePlugin,
            (wear::WearPlugin, figure::FigurePlugin),
            (land::LandPlugin, props::PropsPlugin),
        ));
    }
}

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
        let stalls = welcome.world.stalls.iter().map(|stall| {
            let centre = Vec2::new(stall.position[0], stall.position[1]);
            Obstacle {
                min: centre - scene::STALL_HALF,
                max: centre + scene::STALL_HALF,
            }
        });
        // The world's trees, lamps and fountain stand in the way too.
        let props = welcome
            .world
            .props
            .iter()
            .filter(|prop| prop.blocks > 0.0 && prop.blocks.is_finite())
            .map(|prop| {
                let centre = Vec2::from_array(prop.at);
                Obstacle {
                    min: centre - Vec2::splat(prop.blocks),
                    max: centre + Vec2::splat(prop.blocks),
                }
            });
        let obstacles = stalls.chain(props).collect();
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
