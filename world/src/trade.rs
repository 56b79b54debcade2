//! Trading face to face: click another player and Trade; they accept; the
//! window shows both offers (assets and tokens), the revision and both
//! confirmations; any change clears them; both confirm, both sign the
//! final terms, and the inviter's client submits the swap, which is final
//! for both at once. Either side can cancel until then. The rules are
//! the market crate's trade window, run by the host.

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use ledger::{Address, AssetId};
use market::trade::{Action, Stage};
use plaza_client::protocol::TradeView;

use crate::marketplace::Marketplace;
use crate::net::Remotes;
use crate::pick::{Clicked, Target};
use crate::ui;

/// Which side of `view` the player `me` is: 0 the inviter, 1 the invitee.
pub fn side_of(view: &TradeView, me: &Address) -> Option<usize> {
    if view.inviter == *me {
        Some(0)
    } else if view.invitee == *me {
        Some(1)
    } else {
        None
    }
}

/// The action that sets this side's tokens to `text`, at the view's
/// revision.
pub fn set_tokens(view: &TradeView, text: &str) -> Result<Action, String> {
    Ok(Action::SetTokens {
        amount: ui::whole("tokens", text)?,
        revision: view.revision,
    })
}

/// The trade panels' state between frames.
#[derive(Resource, Debug, Default)]
pub struct TradeState {
    /// The player clicked, offered a Trade button.
    pub player: Option<u16>,
    /// The tokens field.
    pub tokens: String,
    /// The line to say to the clicked player alone.
    pub line: String,
    /// Why the last action was refused before it was sent.
    pub problem: Option<String>,
}

/// The trade window and its invitations.
pub struct TradePlugin;

impl Plugin for TradePlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<TradeState>()
            .add_observer(clicked_player)
            .add_systems(EguiPrimaryContextPass, trade_panels);
    }
}

/// A trade window's stage in words.
pub fn stage_words(stage: &Stage) -> String {
    match stage {
        Stage::Cancelled { by } => format!("cancelled by {by}"),
        other => other.name().to_owned(),
    }
}

/// Offers a Trade button for a clicked player.
fn clicked_player(click: On<Clicked>, mut state: ResMut<TradeState>) {
    if let Target::Player(player) = click.0 {
        state.player = Some(player);
    }
}

fn trade_panels(
    mut contexts: EguiContexts,
    mut marketplace: ResMut<Marketplace>,
    mut connection: crate::net::Connection,
    remotes: Res<Remotes>,
    mut state: ResMut<TradeState>,
) -> Result {
    let Some(mut session) = connection.get() else {
        return Ok(());
    };
    let client = &mut session;
    let ctx = contexts.ctx_mut()?;
    let mut act: Option<Result<Action, String>> = None;

    if let Some(player) = state.player {
        let mut open = true;
        egui::Window::new(remotes.name(player))
            .id(egui::Id::new("player"))
            .open(&mut open)
            .default_pos([500.0, 300.0])
            .collapsible(false)
            .show(ctx, |ui| {
                let account = client.state.players().get(&player).copied();
                ui.horizontal(|ui| {
                    if ui.button("Trade").clicked() {
                        match marketplace.trade_invite(client, player) {
                            Ok(()) => state.player = None,
                            Err(refusal) => state.problem = Some(refusal.0),
                        }
                    }
                    if let Some(account) = account {
                        let blocked = marketplace.people.blocked.contains(&account);
                        if ui
                            .button(if blocked { "Unblock" } else { "Block" })
                            .clicked()
                        {
                            marketplace.block(client, account, !blocked);
                        }
                        let muted = !marketplace.hears(&account);
                        if ui.button(if muted { "Unmute" } else { "Mute" }).clicked() {
                            marketplace.mute(account, !muted);
                        }
                        if blocked {
                            ui.small("blocked: you hear nothing from them");
                        } else if muted {
                            ui.small("muted: their lines are not shown");
                        }
                    }
                });
                ui.horizontal(|ui| {
                    let field = ui.add(
                        egui::TextEdit::singleline(&mut state.line)
                            .hint_text("say to them alone")
                            .desired_width(200.0),
                    );
                    let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                    if (ui.button("Send").clicked() || enter) && !state.line.trim().is_empty() {
                        match marketplace.tell(client, player, &state.line) {
                            Ok(()) => state.line.clear(),
                            Err(refusal) => state.problem = Some(refusal.0),
                        }
                    }
                });
                match &marketplace.people.told {
                    Some(Ok(to)) if *to == player => {
                        ui.small("delivered");
                    }
                    Some(Err(why)) => ui::warning(ui, why.clone()),
                    _ => {}
                }
                if let Some(why) = &state.problem {
                    ui::warning(ui, why.clone());
                }
            });
        if !open {
            state.player = None;
            state.problem = None;
        }
    }

    let mut answer = None;
    if let Some(invited) = marketplace.trade.invitation.clone() {
        egui::Window::new("Trade invitation")
            .collapsible(false)
            .default_pos([500.0, 200.0])
            .show(ctx, |ui| {
                ui.label(format!("{} asks you to trade.", ui::who(&invited.inviter)));
                ui.horizontal(|ui| {
                    if ui.button("Accept").clicked() {
                        answer = Some(true);
                    }
                    if ui.button("Decline").clicked() {
                        answer = Some(false);
                    }
                });
            });
    }

    let owned: Vec<AssetId> = marketplace
        .holdings
        .as_ref()
        .map(|held| {
            held.owned
                .iter()
                .filter(|holding| holding.rented.is_none())
                .map(|holding| holding.asset)
                .collect()
        })
        .unwrap_or_default();
    if let Some(view) = marketplace.trade.view.clone() {
        // Names for what can be offered and what is.
        for asset in owned
            .iter()
            .chain(view.offers.iter().flat_map(|offer| &offer.assets))
        {
            marketplace.want_manifest(client, *asset);
        }
        let me = marketplace.me;
        let mine = side_of(&view, &me).unwrap_or(0);
        let theirs = 1 - mine;
        let name = |asset: &AssetId| marketplace.asset_name(asset);
        let other = if mine == 0 {
            view.invitee
        } else {
            view.inviter
        };
        let mut dismiss = false;
        let mut sign = false;
        egui::Window::new(format!("Trade with {}", ui::who(&other)))
            .id(egui::Id::new("trade window"))
            .default_pos([380.0, 160.0])
            .default_width(520.0)
            .collapsible(false)
            .show(ctx, |ui| {
                ui.horizontal(|ui| {
                    ui.label(format!("stage: {}", stage_words(&view.stage)));
                    ui.separator();
                    ui.label(format!("revision {}", view.revision));
                });
                ui.separator();
                ui.columns(2, |columns| {
                    for (column, side, title) in [(0, mine, "You give"), (1, theirs, "They give")] {
                        let ui = &mut columns[column];
                        ui.strong(title);
                        let offer = &view.offers[side];
                        for asset in &offer.assets {
                            ui.horizontal(|ui| {
                                ui.label(name(asset));
                                if side == mine
                                    && view.stage == Stage::Open
                                    && ui.small_button("remove").clicked()
                                {
                                    act = Some(Ok(Action::RemoveAsset {
                                        asset: *asset,
                                        revision: view.revision,
                                    }));
                                }
                            });
                        }
                        ui.label(format!("{} tokens", ui::tokens(offer.tokens)));
                        let tick = if view.confirmed[side] {
                            "confirmed"
                        } else {
                            "not confirmed"
                        };
                        let signed = if view.signed[side] { ", signed" } else { "" };
                        ui.small(format!("{tick}{signed}"));
                    }
                });
                ui.separator();
                if view.stage == Stage::Open {
                    ui.horizontal(|ui| {
                        egui::ComboBox::from_id_salt("add asset")
                            .selected_text("add an asset")
                            .show_ui(ui, |ui| {
                                for asset in owned
                                    .iter()
                                    .filter(|a| !view.offers[mine].assets.contains(a))
                                {
                                    if ui.selectable_label(false, name(asset)).clicked() {
                                        act = Some(Ok(Action::AddAsset {
                                            asset: *asset,
                                            revision: view.revision,
                                        }));
                                    }
                                }
                            });
                        ui.add(
                            egui::TextEdit::singleline(&mut state.tokens)
                                .hint_text("tokens")
                                .desired_width(90.0),
                        );
                        if ui.button("Set tokens").clicked() {
                            act = Some(set_tokens(&view, &state.tokens));
                        }
                    });
                    ui.horizontal(|ui| {
                        if view.confirmed[mine] {
                            if ui.button("Unconfirm").clicked() {
                                act = Some(Ok(Action::Unconfirm));
                            }
                        } else if ui
                            .button(format!("Confirm revision {}", view.revision))
                            .clicked()
                        {
                            act = Some(Ok(Action::Confirm {
                                revision: view.revision,
                            }));
                        }
                    });
                }
                if view.stage == Stage::Signing {
                    if let Some(terms) = &view.terms {
                        ui.label(format!(
                            "Final terms, revision {}: valid until block time {}.",
                            terms.revision, terms.expires_at
                        ));
                    }
                    if view.signed[mine] {
                        ui.label("You signed; waiting for the other side.");
                    } else if ui.button("Sign the trade").clicked() {
                        sign = true;
                    }
                }
                if view.stage == Stage::Signed {
                    let outcome = marketplace
                        .done
                        .iter()
                        .rev()
                        .chain(marketplace.actions.iter())
                        .find(|action| action.label == format!("trade {}", view.trade))
                        .map(|action| action.stage.describe());
                    ui.label(match outcome {
                        Some(outcome) => format!("Both signed: the swap is {outcome}."),
                        None => "Both signed: the inviter submits the swap.".to_owned(),
                    });
                }
                if let Some(why) = marketplace.trade.error.as_ref().or(state.problem.as_ref()) {
                    ui::warning(ui, why.clone());
                }
                ui.horizontal(|ui| {
                    if !view.stage.is_closed() && ui.button("Cancel trade").clicked() {
                        act = Some(Ok(Action::Cancel));
                    }
                    // A finished window, or one the host would not act in.
                    if (view.stage.is_closed() || marketplace.trade.error.is_some())
                        && ui.button("Close").clicked()
                    {
                        dismiss = true;
                    }
                });
            });
        if sign {
            state.problem = marketplace
                .trade_sign(client)
                .err()
                .map(|refusal| refusal.0);
        }
        if dismiss {
            marketplace.trade_dismiss();
            state.problem = None;
        }
    }

    if let Some(accept) = answer {
        state.problem = marketplace
            .trade_answer(client, accept)
            .err()
            .map(|refusal| refusal.0);
    }
    if let Some(action) = act {
        state.problem = action
            .and_then(|action| {
                marketplace
                    .trade_act(client, action)
                    .map_err(|refusal| refusal.0)
            })
            .err();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::TradeSide;

    fn view() -> TradeView {
        TradeView {
            trade: 3,
            inviter: Address::from_bytes([1; 32]),
            invitee: Address::from_bytes([2; 32]),
            stage: Stage::Open,
            revision: 7,
            offers: [TradeSide::default(), TradeSide::default()],
            confirmed: [false, false],
            signed: [false, false],
            terms: None,
            signatures: None,
        }
    }

    #[test]
    fn tokens_are_offered_at_the_revision_seen() {
        let view = view();
        assert_eq!(
            set_tokens(&view, " 5,000 "),
            Ok(Action::SetTokens {
                amount: 5_000,
                revision: 7
            })
        );
        assert!(
            set_tokens(&view, "lots")
                .unwrap_err()
                .contains("whole number")
        );
        assert_eq!(side_of(&view, &Address::from_bytes([1; 32])), Some(0));
        assert_eq!(side_of(&view, &Address::from_bytes([2; 32])), Some(1));
        assert_eq!(side_of(&view, &Address::from_bytes([9; 32])), None);
        let by = Address::from_bytes([1; 32]);
        assert_eq!(
            stage_words(&Stage::Cancelled { by }),
            format!("cancelled by {by}")
        );
        assert_eq!(stage_words(&Stage::TimedOut), "timed out");
    }
}
