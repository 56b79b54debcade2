//! What the panels share: egui itself, which panels are open, whether a
//! panel has the pointer or keyboard (then the world leaves them alone),
//! and how amounts, times and accounts are written.

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPlugin, EguiPrimaryContextPass, egui};
use ledger::{Address, Timestamp};
use plaza_client::protocol::Card;

use crate::pick::UiFocus;

/// Which panels are open.
#[derive(Resource, Debug, Clone)]
pub struct Panels {
    /// The catalogue.
    pub catalogue: bool,
    /// The inventory.
    pub inventory: bool,
}

impl Default for Panels {
    fn default() -> Self {
        Panels {
            catalogue: true,
            inventory: false,
        }
    }
}

/// The card shown, if any: a catalogue hit the player opened.
#[derive(Resource, Debug, Clone, Default)]
pub struct CardFocus(pub Option<Card>);

/// The stall or parcel to point out.
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Highlight(pub Option<crate::stalls::Spot>);

/// egui, the shared panel state, and the focus the world reads.
pub struct UiPlugin;

impl Plugin for UiPlugin {
    fn build(&self, app: &mut App) {
        if !app.is_plugin_added::<EguiPlugin>() {
            app.add_plugins(EguiPlugin::default());
        }
        app.init_resource::<Panels>()
            .init_resource::<CardFocus>()
            .init_resource::<Highlight>()
            .add_systems(EguiPrimaryContextPass, note_focus);
    }
}

/// Records whether the panels want the pointer or the keyboard, for the
/// next frame's camera, avatar and clicks.
fn note_focus(mut contexts: EguiContexts, mut focus: ResMut<UiFocus>) -> Result {
    let ctx = contexts.ctx_mut()?;
    *focus = UiFocus {
        pointer: ctx.is_pointer_over_egui() || ctx.egui_wants_pointer_input(),
        keyboard: ctx.egui_wants_keyboard_input(),
    };
    Ok(())
}

/// An account written short: `plaza1abcd..wxyz`.
pub fn who(address: &Address) -> String {
    crate::net::short(&address.to_string())
}

/// A token amount with thousands separated.
pub fn tokens(amount: u64) -> String {
    let digits = amount.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A whole number the player typed (thousands may be separated by
/// commas), or what is wrong with it, naming `field`.
pub fn whole(field: &str, text: &str) -> Result<u64, String> {
    text.trim()
        .replace(',', "")
        .parse::<u64>()
        .map_err(|_| format!("{field}: {:?} is not a whole number", text.trim()))
}

/// A length of time: `45 s`, `12 min`, `3 h 05 min`, `2 d 4 h`.
pub fn span(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3_600 => format!("{} min", secs / 60),
        3_600..86_400 if secs % 3_600 < 60 => format!("{} h", secs / 3_600),
        3_600..86_400 => format!("{} h {:02} min", secs / 3_600, secs % 3_600 / 60),
        _ if secs % 86_400 < 3_600 => format!("{} d", secs / 86_400),
        _ => format!("{} d {} h", secs / 86_400, secs % 86_400 / 3_600),
    }
}

/// How long until `at`, from `now`: `in 3 h 05 min`, or `ended`.
pub fn until(at: Timestamp, now: Option<Timestamp>) -> String {
    match now {
        Some(now) if at > now => format!("in {}", span(at - now)),
        Some(_) => "ended".to_owned(),
        None => format!("at {at}"),
    }
}

/// A listing's terms in a line.
pub fn terms(terms: &ledger::ListingTerms) -> String {
    match terms {
        ledger::ListingTerms::Rent(rent) => format!(
            "rent {} per {} ({}-{} periods), deposit {}",
            tokens(rent.price_per_period),
            span(rent.period_secs),
            rent.min_periods,
            rent.max_periods,
            tokens(rent.deposit)
        ),
        ledger::ListingTerms::Sale { price } => format!("for sale at {}", tokens(*price)),
    }
}

/// A label in the panels' warning colour.
pub fn warning(ui: &mut egui::Ui, text: impl Into<String>) {
    ui.label(egui::RichText::new(text.into()).color(egui::Color32::from_rgb(200, 60, 40)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_times_read_as_people_write_them() {
        assert_eq!(tokens(0), "0");
        assert_eq!(tokens(999), "999");
        assert_eq!(tokens(1_000), "1,000");
        assert_eq!(tokens(12_345_678), "12,345,678");
        assert_eq!(span(45), "45 s");
        assert_eq!(span(720), "12 min");
        assert_eq!(span(3 * 3_600 + 300), "3 h 05 min");
        assert_eq!(span(2 * 86_400 + 4 * 3_600), "2 d 4 h");
        assert_eq!(span(3_600), "1 h");
        assert_eq!(span(86_400), "1 d");
        assert_eq!(until(100, Some(40)), "in 1 min");
        assert_eq!(until(100, Some(100)), "ended");
    }
}
