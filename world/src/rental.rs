//! An asset's card and renting or buying it: clicking an asset on a stall
//! (or opening a catalogue hit) shows its name, description, preview,
//! creator, owner, terms and rental status; the player picks the periods,
//! sees the host's quote (rent, deposit, royalty, fee, total, end) and
//! confirms, and the marketplace signs and follows the transaction.

use std::collections::HashMap;

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use ledger::{ListingStatus, ListingTerms, Operation};
use plaza_client::protocol::{Card, Quote, QuoteAsk};

use crate::marketplace::Marketplace;
use crate::pick::{Clicked, Target};
use crate::stalls::StallItems;
use crate::ui::{self, CardFocus};

/// What renting `card` for `periods` signs, if its terms allow it.
pub fn rent_op(card: &Card, periods: u32) -> Result<Operation, String> {
    let ListingTerms::Rent(terms) = &card.listing.terms else {
        return Err("this listing is for sale, not for rent".to_owned());
    };
    if card.listing.status != ListingStatus::Open {
        return Err("this listing is closed".to_owned());
    }
    if !(terms.min_periods..=terms.max_periods).contains(&periods) {
        return Err(format!(
            "choose {} to {} periods",
            terms.min_periods, terms.max_periods
        ));
    }
    Ok(Operation::Rent {
        listing: card.listing.id,
        periods,
    })
}

/// The question whose quote the card shows for `periods`.
pub fn quote_ask(card: &Card, periods: u32) -> QuoteAsk {
    match card.listing.terms {
        ListingTerms::Rent(_) => QuoteAsk::Rent {
            listing: card.listing.id,
            periods,
        },
        ListingTerms::Sale { .. } => QuoteAsk::Buy {
            listing: card.listing.id,
        },
    }
}

/// Cards: open on a click, the card window, and the preview pictures.
pub struct RentalPlugin;

impl Plugin for RentalPlugin {
    fn build(&self, app: &mut App) {
        app.add_observer(open_clicked)
            .add_systems(EguiPrimaryContextPass, card_window);
    }
}

/// Opens the card of a clicked stall item.
fn open_clicked(
    click: On<Clicked>,
    stock: Option<Res<StallItems>>,
    mut card: ResMut<CardFocus>,
    mut marketplace: ResMut<Marketplace>,
    mut highlight: ResMut<ui::Highlight>,
) {
    let Target::Item(index) = click.0 else {
        return;
    };
    let Some(item) = stock.as_ref().and_then(|stock| stock.0.get(index)) else {
        return;
    };
    marketplace
        .manifests
        .insert(item.card.listing.asset, item.manifest.clone());
    highlight.0 = Some(item.spot);
    card.0 = Some(item.card.clone());
}

/// What the card window keeps between frames.
#[derive(Default)]
struct CardState {
    /// The listing shown and the periods chosen.
    periods: Option<(ledger::ListingId, u32)>,
    /// Decoded previews.
    textures: HashMap<assets::ContentId, egui::TextureHandle>,
    /// Why the last confirm was refused.
    problem: Option<String>,
}

#[allow(clippy::too_many_arguments)]
fn card_window(
    mut contexts: EguiContexts,
    mut focus: ResMut<CardFocus>,
    mut marketplace: ResMut<Marketplace>,
    mut connection: crate::net::Connection,
    mut highlight: ResMut<ui::Highlight>,
    mut state: Local<CardState>,
) -> Result {
    let (Some(mut session), Some(card)) = (connection.get(), focus.0.clone()) else {
        return Ok(());
    };
    let client = &mut session;
    let ctx = contexts.ctx_mut()?;
    let listing = &card.listing;
    let manifest = marketplace.manifests.get(&listing.asset).cloned();
    if manifest.is_none() {
        marketplace.want_manifest(client, listing.asset);
    }
    let preview = manifest
        .as_ref()
        .map(|manifest| manifest.preview)
        .or_else(|| {
            card.preview
                .as_deref()
                .and_then(|id| assets::ContentId::from_bytes(id).ok())
        });
    if let Some(preview) = preview
        && !state.textures.contains_key(&preview)
    {
        match marketplace.previews.get(&preview) {
            Some(bytes) => {
                if let Some(image) = decode_png(bytes) {
                    let texture =
                        ctx.load_texture(preview.to_string(), image, egui::TextureOptions::LINEAR);
                    if state.textures.len() > 32 {
                        state.textures.clear();
                    }
                    state.textures.insert(preview, texture);
                }
            }
            None => marketplace.want_preview(client, preview),
        }
    }
    let name = manifest
        .as_ref()
        .map(|m| m.name.clone())
        .or_else(|| card.name.clone())
        .unwrap_or_else(|| listing.asset.to_string());
    let periods = match (state.periods, &listing.terms) {
        (Some((id, periods)), _) if id == listing.id => periods,
        (_, ListingTerms::Rent(terms)) => terms.min_periods,
        _ => 1,
    };
    let mut chosen = periods;
    let quote = if listing.lister == marketplace.me {
        None
    } else {
        marketplace.quote(client, quote_ask(&card, chosen))
    };
    let now = marketplace.host_now();
    let mut open = true;
    let mut confirm = None;
    egui::Window::new(format!("Asset: {name}"))
        .id(egui::Id::new("card"))
        .open(&mut open)
        .default_pos([420.0, 120.0])
        .default_width(340.0)
        .show(ctx, |ui| {
            ui.horizontal(|ui| {
                if let Some(texture) = preview.and_then(|p| state.textures.get(&p)) {
                    ui.add(egui::Image::new(texture).max_size(egui::vec2(128.0, 128.0)));
                }
                ui.vertical(|ui| {
                    ui.heading(&name);
                    if let Some(manifest) = &manifest {
                        ui.label(format!(
                            "{} by {}",
                            manifest.kind.as_str(),
                            manifest.creator
                        ));
                        ui.label(&manifest.description);
                    }
                });
            });
            egui::Grid::new("card facts").num_columns(2).show(ui, |ui| {
                ui.label("creator");
                ui.monospace(ui::who(&card.creator));
                ui.end_row();
                ui.label("owner");
                ui.monospace(if listing.lister == marketplace.me {
                    "you".to_owned()
                } else {
                    ui::who(&listing.lister)
                });
                ui.end_row();
                ui.label("terms");
                ui.label(ui::terms(&listing.terms));
                ui.end_row();
                ui.label("listing closes");
                ui.label(ui::until(listing.expires_at, now));
                ui.end_row();
                ui.label("status");
                ui.label(match card.rented_until {
                    Some(until) => format!("rented out, back {}", ui::until(until, now)),
                    None => "available".to_owned(),
                });
                ui.end_row();
            });
            ui.separator();
            // What became of the last thing the player did here.
            let last = marketplace.last_on(listing.id);
            if let Some(action) = last {
                ui.label(format!("{}: {}", action.label, action.stage.describe()));
            }
            let closed_by_you = last.is_some_and(|action| {
                matches!(
                    action.op,
                    Operation::Buy { .. } | Operation::CancelListing { .. }
                ) && !matches!(action.stage, crate::marketplace::TxProgress::Rejected(_))
            });
            if closed_by_you {
                return;
            }
            if listing.lister == marketplace.me {
                ui.label("This is your listing.");
                if ui.button("Cancel listing").clicked() {
                    confirm = Some(Ok(Operation::CancelListing {
                        listing: listing.id,
                    }));
                }
                return;
            }
            if let ListingTerms::Rent(terms) = &listing.terms {
                ui.horizontal(|ui| {
                    ui.label("periods");
                    ui.add(egui::Slider::new(
                        &mut chosen,
                        terms.min_periods
                            ..=terms.max_periods.min(terms.min_periods.saturating_add(999)),
                    ));
                });
            }
            match &quote {
                Some(Ok(figures)) => show_quote(ui, figures, now),
                Some(Err(why)) => ui::warning(ui, why.clone()),
                None => {
                    ui.label("asking for a quote...");
                }
            }
            let label = match (&listing.terms, &quote) {
                (ListingTerms::Rent(_), Some(Ok(q))) => {
                    format!("Rent {chosen} periods, pay {}", ui::tokens(q.pay_now))
                }
                (ListingTerms::Rent(_), _) => format!("Rent {chosen} periods"),
                (ListingTerms::Sale { price }, _) => format!("Buy for {}", ui::tokens(*price)),
            };
            if ui.button(label).clicked() {
                confirm = Some(match listing.terms {
                    ListingTerms::Rent(_) => rent_op(&card, chosen),
                    ListingTerms::Sale { .. } => Ok(Operation::Buy {
                        listing: listing.id,
                    }),
                });
            }
            if let Some(why) = &state.problem {
                ui::warning(ui, why.clone());
            }
        });
    state.periods = Some((listing.id, chosen));
    if let Some(confirm) = confirm {
        state.problem = confirm
            .and_then(|op| {
                let what = format!("{} {name}", op.name());
                marketplace.act(what, op).map_err(|refusal| refusal.0)
            })
            .err();
    }
    if !open {
        focus.0 = None;
        highlight.0 = None;
        state.problem = None;
    }
    Ok(())
}

/// The quote's figures.
pub fn show_quote(ui: &mut egui::Ui, quote: &Quote, now: Option<ledger::Timestamp>) {
    egui::Grid::new("quote").num_columns(2).show(ui, |ui| {
        let mut row = |label: &str, value: String| {
            ui.label(label);
            ui.monospace(value);
            ui.end_row();
        };
        row("rent or price", ui::tokens(quote.amount));
        if quote.deposit > 0 {
            row("deposit (returned)", ui::tokens(quote.deposit));
        }
        row("royalty to creator", ui::tokens(quote.royalty));
        row("network fee", ui::tokens(quote.fee));
        if quote.pay_now > 0 {
            row("total to pay now", ui::tokens(quote.pay_now));
        }
        if quote.to_renter > 0 {
            row("back to you", ui::tokens(quote.to_renter));
        }
        row("to the owner", ui::tokens(quote.to_lessor));
        if let Some(ends) = quote.ends_at {
            row("ends", ui::until(ends, now));
        }
    });
}

/// A PNG's pixels as an egui image (RGB, RGBA, grey or grey-alpha).
pub fn decode_png(bytes: &[u8]) -> Option<egui::ColorImage> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().ok()?;
    let mut pixels = vec![0; reader.output_buffer_size()?];
    let frame = reader.next_frame(&mut pixels).ok()?;
    let (width, height) = (frame.width as usize, frame.height as usize);
    if width == 0 || height == 0 || width > 1024 || height > 1024 {
        return None;
    }
    let channels = frame.line_size / width;
    let mut rgba = Vec::with_capacity(width * height * 4);
    for pixel in pixels[..frame.buffer_size()].chunks(channels) {
        match *pixel {
            [r, g, b, a] => rgba.extend_from_slice(&[r, g, b, a]),
            [r, g, b] => rgba.extend_from_slice(&[r, g, b, 255]),
            [v, a] => rgba.extend_from_slice(&[v, v, v, a]),
            [v] => rgba.extend_from_slice(&[v, v, v, 255]),
            _ => return None,
        }
    }
    Some(egui::ColorImage::from_rgba_unmultiplied(
        [width, height],
        &rgba,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::{AssetId, Listing, ListingId, RentTerms};

    fn card(terms: ListingTerms) -> Card {
        Card {
            listing: Listing {
                id: ListingId(4),
                asset: AssetId(assets::ContentId::of(assets::Codec::Json, b"lamp")),
                lister: ledger::Address::from_bytes([1; 32]),
                owner_seq: 0,
                terms,
                expires_at: 10_000,
                created_at: 0,
                status: ListingStatus::Open,
            },
            creator: ledger::Address::from_bytes([2; 32]),
            rented_until: None,
            name: Some("Lamp".into()),
            kind: None,
            preview: None,
            shown: Vec::new(),
        }
    }

    #[test]
    fn renting_takes_the_periods_the_terms_allow() {
        let rent = card(ListingTerms::Rent(RentTerms {
            price_per_period: 10,
            period_secs: 3_600,
            min_periods: 2,
            max_periods: 5,
            deposit: 50,
            reserved_for: None,
        }));
        assert_eq!(
            rent_op(&rent, 3),
            Ok(Operation::Rent {
                listing: ListingId(4),
                periods: 3
            })
        );
        assert!(rent_op(&rent, 1).unwrap_err().contains("2 to 5"));
        assert!(rent_op(&rent, 6).is_err());
        assert_eq!(
            quote_ask(&rent, 3),
            QuoteAsk::Rent {
                listing: ListingId(4),
                periods: 3
            }
        );
        let sale = card(ListingTerms::Sale { price: 900 });
        assert!(rent_op(&sale, 1).unwrap_err().contains("for sale"));
        assert_eq!(
            quote_ask(&sale, 1),
            QuoteAsk::Buy {
                listing: ListingId(4)
            }
        );
    }

    #[test]
    fn previews_decode_to_pixels_and_garbage_does_not() {
        let mut bytes = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut bytes, 2, 1);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            let mut writer = encoder.write_header().unwrap();
            writer.write_image_data(&[255, 0, 0, 0, 0, 255]).unwrap();
        }
        let image = decode_png(&bytes).unwrap();
        assert_eq!(image.size, [2, 1]);
        assert_eq!(image.pixels[0], egui::Color32::from_rgb(255, 0, 0));
        assert_eq!(image.pixels[1], egui::Color32::from_rgb(0, 0, 255));
        assert!(decode_png(b"not a png").is_none());
    }
}
