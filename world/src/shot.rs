//! `--screenshot PATH`: once the world has loaded and drawn for a while,
//! save a picture of the window and leave.

use std::path::PathBuf;

use bevy::prelude::*;
use bevy::render::view::window::screenshot::{Screenshot, save_to_disk};

use crate::stalls::Loader;

/// Where to save the picture, and after how many frames.
#[derive(Resource, Clone, Debug)]
pub struct ShotPlan {
    /// The file (PNG).
    pub path: PathBuf,
    /// Frames drawn first.
    pub after_frames: u32,
}

/// Takes the picture, then exits once it is on disk.
pub struct ShotPlugin(pub ShotPlan);

impl Plugin for ShotPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(self.0.clone())
            .add_systems(Update, take);
    }
}

fn take(
    mut commands: Commands,
    plan: Res<ShotPlan>,
    loader: Option<Res<Loader>>,
    mut frames: Local<u32>,
    mut exit: MessageWriter<AppExit>,
) {
    // Frames count once the stalls' items is in.
    if loader.is_some_and(|loader| !loader.done) {
        return;
    }
    *frames += 1;
    if *frames == plan.after_frames {
        let _ = std::fs::remove_file(&plan.path);
        commands
            .spawn(Screenshot::primary_window())
            .observe(save_to_disk(plan.path.clone()));
    }
    if *frames > plan.after_frames && plan.path.exists() {
        info!("screenshot saved to {}", plan.path.display());
        exit.write(AppExit::Success);
    }
    if *frames > plan.after_frames + 600 {
        error!("the screenshot never arrived");
        exit.write(AppExit::from_code(3));
    }
}
