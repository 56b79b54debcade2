//! The status and wallet panel: the world, the host, its last block and
//! when it came, the players here; the player's address (copyable) and
//! balance; the transactions in flight and just finished; chat; and the
//! buttons that open the other panels.

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use plaza_client::protocol::{ClientMessage, MAX_CHAT_BYTES, WorldEntry};

use crate::WorldScene;
use crate::marketplace::Marketplace;
use crate::net::{NetStatus, Remotes, TagSpots, short};
use crate::ui::{self, Panels};

/// The status panel.
pub struct HudPlugin;

impl Plugin for HudPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(EguiPrimaryContextPass, (name_tags, status_panel));
    }
}

/// The status lines: world and network, host and block, players.
pub fn status_line(scene: &WorldScene, status: &NetStatus, players: usize) -> String {
    let welcome = &scene.welcome;
    let mut text = format!(
        "{} | {} | host {} | block {}\n{}",
        welcome.world.name,
        welcome.chain_id,
        scene.host,
        status.height.max(welcome.height),
        match players {
            0 => "no one else here".to_owned(),
            1 => "1 other player here".to_owned(),
            n => format!("{n} other players here"),
        },
    );
    if let Some(ended) = &status.ended {
        text.push_str(&format!("\nsession ended: {ended}"));
    }
    text
}

/// Other players' names over their heads, beneath the panels.
fn name_tags(mut contexts: EguiContexts, spots: Res<TagSpots>) -> Result {
    let ctx = contexts.ctx_mut()?;
    let painter = ctx.layer_painter(egui::LayerId::background());
    for (name, spot) in &spots.0 {
        let at = egui::pos2(spot.x, spot.y);
        let font = egui::FontId::monospace(14.0);
        let text = painter.layout_no_wrap(name.clone(), font, egui::Color32::WHITE);
        let rect = egui::Rect::from_center_size(at, text.size() + egui::vec2(8.0, 4.0));
        painter.rect_filled(rect, 3.0, egui::Color32::from_black_alpha(110));
        painter.galley(rect.min + egui::vec2(4.0, 2.0), text, egui::Color32::WHITE);
    }
    Ok(())
}

/// The chat line to send for what the player typed, if any.
pub fn chat_message(typed: &str) -> Option<ClientMessage> {
    let mut text = typed.trim().to_owned();
    if text.is_empty() {
        return None;
    }
    while text.len() > MAX_CHAT_BYTES {
        text.pop();
    }
    Some(ClientMessage::Chat { text })
}

/// What the status panel keeps between frames.
#[derive(Default)]
struct HudState {
    chat: String,
    clipboard: Option<arboard::Clipboard>,
    copied: Option<String>,
}

#[allow(clippy::too_many_arguments)]
fn status_panel(
    mut contexts: EguiContexts,
    scene: Res<WorldScene>,
    status: Res<NetStatus>,
    remotes: Res<Remotes>,
    marketplace: Res<Marketplace>,
    mut panels: ResMut<Panels>,
    mut connection: crate::net::Connection,
    mut state: Local<HudState>,
    mut failover: Option<ResMut<crate::failover::Failover>>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    let mut say = None;
    let mut go = None;
    let listed: Vec<WorldEntry> = connection
        .get()
        .map(|session| session.state.worlds().to_vec())
        .unwrap_or_default();
    egui::Window::new("Plaza")
        .default_pos([12.0, 12.0])
        .default_width(360.0)
        .resizable(false)
        .show(ctx, |ui| {
            ui.label(status_line(&scene, &status, remotes.names.len()));
            if let Some(note) = failover.as_ref().and_then(|failover| failover.note.clone()) {
                ui::warning(ui, note);
            }
            if let Some((_, at)) = marketplace.block_time {
                ui.small(format!(
                    "last block {} ago",
                    ui::span(at.elapsed().as_secs())
                ));
            }
            ui.separator();
            ui.horizontal(|ui| {
                ui.label("you");
                ui.monospace(short(&scene.account));
                if ui.small_button("Copy address").clicked() {
                    state.copied = Some(copy(&mut state.clipboard, &scene.account));
                }
            });
            if let Some(note) = &state.copied {
                ui.small(note.clone());
            }
            match &marketplace.holdings {
                Some(held) => ui.label(format!(
                    "balance {} | {} owned | {} rented",
                    ui::tokens(held.account.balance),
                    held.owned.len(),
                    held.renting.len()
                )),
                None => ui.label("balance: asking the host..."),
            };
            if let Some(held) = &marketplace.holdings {
                let now = marketplace.host_now();
                for holding in &held.renting {
                    let (Some(rental), Some(manifest)) =
                        (&holding.rented, marketplace.manifests.get(&holding.asset))
                    else {
                        continue;
                    };
                    ui.small(format!(
                        "renting {}: goes back {}",
                        manifest.name,
                        ui::until(rental.ends_at, now)
                    ));
                }
            }
            ui.horizontal(|ui| {
                ui.toggle_value(&mut panels.catalogue, "Catalogue");
                ui.toggle_value(&mut panels.inventory, "Inventory");
            });
            // The other worlds this host serves, one click away.
            for (world, players, here) in world_rows(&scene, &listed) {
                ui.horizontal(|ui| {
                    ui.label(format!("{world}: {}", players_text(players)));
                    if world == scene.welcome.world.name {
                        ui.small("(you are here)");
                    } else if ui
                        .button(if here {
                            format!("Go to {world}")
                        } else {
                            format!("Go to {world} (another host)")
                        })
                        .clicked()
                    {
                        go = Some((world.clone(), here));
                    }
                });
            }
            if !marketplace.actions.is_empty() || !marketplace.done.is_empty() {
                ui.separator();
                for action in marketplace.done.iter().chain(marketplace.actions.iter()) {
                    let line = format!("{}: {}", action.label, action.stage.describe());
                    if matches!(action.stage, crate::marketplace::TxProgress::Rejected(_)) {
                        ui::warning(ui, line);
                    } else {
                        ui.small(line);
                    }
                }
            }
            ui.separator();
            for line in &status.chat {
                ui.small(line.clone());
            }
            let field = ui.add(
                egui::TextEdit::singleline(&mut state.chat)
                    .hint_text("say something (Enter)")
                    .desired_width(300.0),
            );
            if field.lost_focus() && ui.input(|input| input.key_pressed(egui::Key::Enter)) {
                say = chat_message(&state.chat);
                state.chat.clear();
            }
            ui.small(
                "WASD walk, shift run, drag to look, wheel to zoom, click a thing or a player",
            );
        });
    if let (Some(message), Some(mut session)) = (say, connection.get()) {
        session.send(&message)?;
    }
    match (go, connection.get()) {
        (Some((world, true)), Some(mut session)) => crate::net::travel(&mut session, &world)?,
        (Some((world, false)), Some(session)) => {
            if let (Some(rejoin), Some(failover)) =
                (session.state.elsewhere(&world), failover.as_mut())
                && let Err(err) = failover.start(rejoin, format!("joining a host of {world}…"))
            {
                warn!(%err, %world, "cannot go there");
            }
        }
        _ => {}
    }
    Ok(())
}

/// The worlds to list: each name, how many players are in it (not known
/// before the host's first list) and whether this host serves it.
fn world_rows(scene: &WorldScene, listed: &[WorldEntry]) -> Vec<(String, Option<u32>, bool)> {
    if listed.is_empty() {
        return scene
            .welcome
            .worlds
            .iter()
            .map(|world| (world.clone(), None, true))
            .collect();
    }
    listed
        .iter()
        .map(|entry| (entry.name.clone(), Some(entry.players), entry.here))
        .collect()
}

/// "3 players", "1 player", "nobody", or "…" while not known.
fn players_text(players: Option<u32>) -> String {
    match players {
        None => "…".to_owned(),
        Some(0) => "nobody".to_owned(),
        Some(1) => "1 player".to_owned(),
        Some(n) => format!("{n} players"),
    }
}

/// Puts `text` on the system clipboard; says what happened.
fn copy(clipboard: &mut Option<arboard::Clipboard>, text: &str) -> String {
    if clipboard.is_none() {
        match arboard::Clipboard::new() {
            Ok(opened) => *clipboard = Some(opened),
            Err(err) => return format!("no clipboard here: {err}"),
        }
    }
    match clipboard
        .as_mut()
        .map(|clipboard| clipboard.set_text(text.to_owned()))
    {
        Some(Ok(())) => "address copied".to_owned(),
        Some(Err(err)) => format!("could not copy: {err}"),
        None => "no clipboard here".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_sends_what_was_typed_within_the_limit() {
        assert_eq!(chat_message("   "), None);
        assert_eq!(
            chat_message(" hello "),
            Some(ClientMessage::Chat {
                text: "hello".into()
            })
        );
        let long = "x".repeat(MAX_CHAT_BYTES + 50);
        match chat_message(&long) {
            Some(ClientMessage::Chat { text }) => assert_eq!(text.len(), MAX_CHAT_BYTES),
            other => panic!("{other:?}"),
        }
    }
}
