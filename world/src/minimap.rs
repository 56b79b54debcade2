//! The map in the corner: the world from above around the player (at
//! most [`REACH`] metres each way), north (the world's -z) up as the
//! letter N says, with the world's edge, its stalls and parcels (held
//! ones darker), the other players as dots, and the player as an arrow in
//! the middle pointing where it faces. Drawn from the scene the host
//! described and the avatars already in the world: a few shapes a frame.

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};

use crate::WorldScene;
use crate::avatar::LocalAvatar;
use crate::net::RemoteAvatar;

/// The map's side, in points.
pub const SIDE: f32 = 168.0;
/// How far the map reaches from the player each way, metres (less in a
/// smaller world).
pub const REACH: f32 = 48.0;

/// Draws the map.
pub struct MinimapPlugin;

impl Plugin for MinimapPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(EguiPrimaryContextPass, minimap);
    }
}

/// Where the world's point `at` (x, z) falls on a map centred on
/// `centre` reaching `reach` metres each way, drawn in `rect`: east (+x)
/// right, north (-z) up. A point beyond the reach falls outside `rect`.
pub fn map_point(at: Vec2, centre: Vec2, reach: f32, rect: egui::Rect) -> egui::Pos2 {
    let off = (at - centre) / reach.max(1.0);
    egui::pos2(
        rect.center().x + off.x * rect.width() / 2.0,
        rect.center().y + off.y * rect.height() / 2.0,
    )
}

/// The way an avatar facing `facing` (radians, as the protocol gives a
/// heading) points on the map: a unit vector, up being north.
pub fn map_heading(facing: f32) -> egui::Vec2 {
    egui::vec2(-facing.sin(), -facing.cos())
}

fn minimap(
    mut contexts: EguiContexts,
    scene: Res<WorldScene>,
    me: Query<(&Transform, &LocalAvatar)>,
    others: Query<&Transform, With<RemoteAvatar>>,
    marketplace: Option<Res<crate::marketplace::Marketplace>>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    let world = &scene.welcome.world;
    let half = world.half_size;
    let reach = REACH.min(half.max(1.0));
    let mine = me.single().ok();
    let centre = mine.map_or(Vec2::ZERO, |(transform, _)| transform.translation.xz());
    egui::Area::new(egui::Id::new("minimap"))
        .anchor(egui::Align2::RIGHT_BOTTOM, [-12.0, -12.0])
        .interactable(false)
        .show(ctx, |ui| {
            let (rect, _) = ui.allocate_exact_size(egui::vec2(SIDE, SIDE), egui::Sense::hover());
            let painter = ui.painter_at(rect);
            let point = |x: f32, z: f32| map_point(Vec2::new(x, z), centre, reach, rect);
            painter.rect_filled(
                rect,
                4.0,
                egui::Color32::from_rgba_unmultiplied(20, 20, 20, 190),
            );
            // The world's ground, and beyond its edge the dark.
            painter.rect_filled(
                egui::Rect::from_two_pos(point(-half, -half), point(half, half)),
                0.0,
                egui::Color32::from_rgba_unmultiplied(60, 70, 55, 220),
            );
            let me = marketplace.as_ref().map(|marketplace| marketplace.me);
            for parcel in &world.parcels {
                let area = egui::Rect::from_two_pos(
                    point(parcel.min[0], parcel.min[1]),
                    point(parcel.max[0], parcel.max[1]),
                );
                // The player's own land, someone else's, nobody's.
                let tone = match parcel.holder {
                    Some(holder) if Some(holder) == me => egui::Color32::from_rgb(70, 130, 170),
                    Some(_) => egui::Color32::from_rgb(120, 95, 60),
                    None => egui::Color32::from_rgb(80, 120, 70),
                };
                painter.rect_filled(area, 1.0, tone);
            }
            for stall in &world.stalls {
                let at = point(stall.position[0], stall.position[1]);
                painter.rect_filled(
                    egui::Rect::from_center_size(at, egui::vec2(7.0, 7.0)),
                    1.0,
                    egui::Color32::from_rgb(220, 170, 60),
                );
            }
            for transform in &others {
                let at = point(transform.translation.x, transform.translation.z);
                if rect.contains(at) {
                    painter.circle_filled(at, 2.5, egui::Color32::WHITE);
                }
            }
            if let Some((_, avatar)) = mine {
                let at = rect.center();
                let ahead = map_heading(avatar.facing);
                let side = egui::vec2(-ahead.y, ahead.x);
                painter.add(egui::Shape::convex_polygon(
                    vec![
                        at + ahead * 7.0,
                        at - ahead * 4.0 + side * 4.0,
                        at - ahead * 4.0 - side * 4.0,
                    ],
                    egui::Color32::from_rgb(70, 140, 255),
                    egui::Stroke::new(1.0, egui::Color32::WHITE),
                ));
            }
            painter.rect_stroke(
                rect,
                4.0,
                egui::Stroke::new(1.0, egui::Color32::from_gray(200)),
                egui::StrokeKind::Inside,
            );
            painter.text(
                egui::pos2(rect.center().x, rect.top() + 2.0),
                egui::Align2::CENTER_TOP,
                "N",
                egui::FontId::proportional(13.0),
                egui::Color32::WHITE,
            );
        });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square() -> egui::Rect {
        egui::Rect::from_min_size(egui::pos2(100.0, 50.0), egui::vec2(SIDE, SIDE))
    }

    #[test]
    fn the_map_is_centred_on_the_player_north_up_and_east_right() {
        let rect = square();
        let me = Vec2::new(10.0, -5.0);
        assert_eq!(map_point(me, me, REACH, rect), rect.center());
        // North-west of the player by the reach: top left; south-east:
        // bottom right.
        let reach = Vec2::splat(REACH);
        assert_eq!(map_point(me - reach, me, REACH, rect), rect.min);
        assert_eq!(map_point(me + reach, me, REACH, rect), rect.max);
        // Half the reach east: three quarters across.
        let east = map_point(me + Vec2::new(REACH / 2.0, 0.0), me, REACH, rect);
        assert!((east.x - (rect.min.x + 0.75 * SIDE)).abs() < 1e-3);
        // Beyond the reach: off the map.
        assert!(!rect.contains(map_point(me + Vec2::new(0.0, 2.0 * REACH), me, REACH, rect)));
    }

    #[test]
    fn the_arrow_points_where_the_avatar_faces() {
        // Facing 0 is towards -z, the protocol's heading for north.
        let north = plaza_client::protocol::heading_towards(0.0, -1.0);
        let east = plaza_client::protocol::heading_towards(1.0, 0.0);
        let close = |a: egui::Vec2, b: egui::Vec2| (a - b).length() < 1e-4;
        assert!(
            close(map_heading(north), egui::vec2(0.0, -1.0)),
            "north is up"
        );
        assert!(
            close(map_heading(east), egui::vec2(1.0, 0.0)),
            "east is right"
        );
    }
}
