//! The inventory panel: what the player owns (and which of it is listed
//! or rented out, until when), what they rent from others (with a
//! countdown, and returning early with the refund quote), listing an
//! asset for rent or sale with the ledger's checks before signing,
//! cancelling a listing, and, standing on a parcel the player holds,
//! putting things down on it and taking them up.

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use ledger::{Address, AssetId, ChainParams, ListingId, Operation, RentTerms, RentalId, Timestamp};
use plaza_client::land::{MAX_PLACED, PlacedItem};
use plaza_client::protocol::{Holding, QuoteAsk, Slot};

use crate::WorldScene;
use crate::avatar::LocalAvatar;
use crate::marketplace::{Marketplace, with_item, without_item};
use crate::rental::show_quote;
use crate::ui::{self, Panels};

/// A period's unit in the form.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Unit {
    /// Minutes.
    Minutes,
    /// Hours.
    #[default]
    Hours,
    /// Days.
    Days,
}

impl Unit {
    fn secs(self) -> u64 {
        match self {
            Unit::Minutes => 60,
            Unit::Hours => 3_600,
            Unit::Days => 86_400,
        }
    }
}

/// The listing form as the player filled it in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListForm {
    /// For rent (else for sale).
    pub rent: bool,
    /// Price per period, or the sale price.
    pub price: String,
    /// A period's length, in `unit`s.
    pub period: String,
    /// Its unit.
    pub unit: Unit,
    /// Fewest periods.
    pub min_periods: String,
    /// Most periods.
    pub max_periods: String,
    /// Deposit.
    pub deposit: String,
    /// How many days the listing stays open.
    pub open_days: String,
    /// Only this account may rent, if set.
    pub reserved_for: String,
}

impl Default for ListForm {
    fn default() -> Self {
        ListForm {
            rent: true,
            price: "100".into(),
            period: "1".into(),
            unit: Unit::Hours,
            min_periods: "1".into(),
            max_periods: "24".into(),
            deposit: "0".into(),
            open_days: "7".into(),
            reserved_for: String::new(),
        }
    }
}

impl ListForm {
    /// What listing `asset` on these terms signs, checked by the ledger's
    /// own rules for `lister` at the host's time `now`.
    pub fn op(
        &self,
        asset: AssetId,
        lister: &Address,
        now: Timestamp,
    ) -> Result<Operation, String> {
        let price = ui::whole("price", &self.price)?;
        let open_days = ui::whole("open for (days)", &self.open_days)?;
        if open_days == 0 {
            return Err("open for (days): at least 1".to_owned());
        }
        let expires_at = open_days
            .checked_mul(86_400)
            .and_then(|secs| now.checked_add(secs))
            .ok_or("open for (days): too long")?;
        if !self.rent {
            if price == 0 {
                return Err("price: above zero".to_owned());
            }
            return Ok(Operation::ListForSale {
                asset,
                price,
                expires_at,
            });
        }
        let periods = |field: &str, text: &str| {
            u32::try_from(ui::whole(field, text)?).map_err(|_| format!("{field}: too many"))
        };
        let reserved_for = match self.reserved_for.trim() {
            "" => None,
            text => Some(
                text.parse::<Address>()
                    .map_err(|err| format!("reserved for: {err}"))?,
            ),
        };
        let terms = RentTerms {
            price_per_period: price,
            period_secs: ui::whole("period", &self.period)?
                .checked_mul(self.unit.secs())
                .ok_or("period: too long")?,
            min_periods: periods("min periods", &self.min_periods)?,
            max_periods: periods("max periods", &self.max_periods)?,
            deposit: ui::whole("deposit", &self.deposit)?,
            reserved_for,
        };
        terms
            .check(lister, ChainParams::default().max_rental_periods, now)
            .map_err(|err| err.to_string())?;
        Ok(Operation::ListForRent {
            asset,
            terms,
            expires_at,
        })
    }
}

/// What the inventory panel keeps between frames.
#[derive(Resource, Debug, Default)]
pub struct InventoryState {
    /// The asset whose listing form is open, and the form.
    pub listing: Option<(AssetId, ListForm)>,
    /// The rental whose early return is being quoted.
    pub returning: Option<RentalId>,
    /// Why the last action was refused before signing.
    pub problem: Option<String>,
}

/// The inventory panel.
pub struct InventoryPlugin;

impl Plugin for InventoryPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<InventoryState>()
            .add_systems(EguiPrimaryContextPass, inventory_panel);
    }
}

#[allow(clippy::too_many_arguments)]
fn inventory_panel(
    mut contexts: EguiContexts,
    mut panels: ResMut<Panels>,
    mut marketplace: ResMut<Marketplace>,
    mut connection: crate::net::Connection,
    mut state: ResMut<InventoryState>,
    scene: Res<WorldScene>,
    avatar: Query<(&Transform, &LocalAvatar)>,
) -> Result {
    let Some(mut session) = connection.get() else {
        return Ok(());
    };
    if !panels.inventory {
        return Ok(());
    }
    let client = &mut session;
    let ctx = contexts.ctx_mut()?;
    let Some(held) = marketplace.holdings.clone() else {
        marketplace.refresh(client);
        return Ok(());
    };
    for holding in held.owned.iter().chain(&held.renting) {
        marketplace.want_manifest(client, holding.asset);
    }
    let now = marketplace.host_now();
    let mut open = true;
    let mut act: Option<(String, Result<Operation, String>)> = None;
    // What the player wears now, as the host checked it; and a change
    // asked for in this frame.
    let worn = client
        .welcome()
        .and_then(|welcome| client.appearances().get(&welcome.player))
        .cloned()
        .unwrap_or_default();
    let mut dressing: Option<(Slot, Option<AssetId>)> = None;
    // The parcel in front of the player, if it holds it: where things go
    // down, and what stands there.
    let here = avatar.single().ok().and_then(|(at, me)| {
        let spot = at.translation + Quat::from_rotation_y(me.facing) * Vec3::NEG_Z * 1.5;
        let index = crate::land::parcel_at(&scene, Vec2::new(spot.x, spot.z))?;
        let held = scene.welcome.world.parcels[index].holder == Some(marketplace.me);
        let turn = (me.facing / std::f32::consts::TAU).rem_euclid(1.0) * 256.0;
        held.then(|| (u16::try_from(index).ok(), [spot.x, spot.z], turn as u8))
    });
    let here = here.and_then(|(index, spot, turn)| Some((index?, spot, turn)));
    let placed_here: Vec<PlacedItem> = here
        .and_then(|(parcel, ..)| client.placed().get(&parcel).cloned())
        .unwrap_or_default();
    // Things standing on any parcel of the world: not put down twice.
    let standing: Vec<AssetId> = client
        .placed()
        .values()
        .flatten()
        .map(|item| item.asset)
        .collect();
    let waiting = marketplace.land.waiting;
    let mut arranging: Option<(u16, Vec<PlacedItem>)> = None;
    let put_down = |ui: &mut egui::Ui,
                    marketplace: &Marketplace,
                    asset: AssetId,
                    arranging: &mut Option<(u16, Vec<PlacedItem>)>| {
        let Some((parcel, spot, turn)) = here else {
            return;
        };
        let land = marketplace
            .manifests
            .get(&asset)
            .is_none_or(|manifest| manifest.kind == assets::AssetKind::Parcel);
        if land || standing.contains(&asset) {
            return;
        }
        let button = ui.add_enabled(!waiting, egui::Button::new("Put down here").small());
        if button.clicked() {
            let item = PlacedItem::new(asset, spot, turn);
            *arranging = Some((parcel, with_item(&placed_here, item)));
        }
    };
    egui::Window::new("Inventory")
        .open(&mut open)
        .default_pos([12.0, 250.0])
        .default_width(380.0)
        .show(ctx, |ui| {
            ui.label(format!("balance {}", ui::tokens(held.account.balance)));
            ui.separator();
            if let Some((parcel, ..)) = here {
                let name = &scene.welcome.world.parcels[usize::from(parcel)].name;
                ui.strong(format!(
                    "Your parcel {name}: {} of {MAX_PLACED} things",
                    placed_here.len()
                ));
                for item in &placed_here {
                    ui.horizontal(|ui| {
                        ui.label(marketplace.asset_name(&item.asset));
                        let button = ui.add_enabled(!waiting, egui::Button::new("Take up").small());
                        if button.clicked() {
                            arranging = Some((parcel, without_item(&placed_here, &item.asset)));
                        }
                    });
                }
                if waiting {
                    ui.small("the host is checking it...");
                }
                if let Some(why) = &marketplace.land.problem {
                    ui::warning(ui, why.clone());
                }
                ui.separator();
            }
            let (rented_out, free): (Vec<&Holding>, Vec<&Holding>) = held
                .owned
                .iter()
                .partition(|holding| holding.rented.is_some());
            ui.strong(format!("Owned ({})", free.len()));
            egui::ScrollArea::vertical()
                .id_salt("owned")
                .max_height(220.0)
                .show(ui, |ui| {
                    for holding in free {
                        let name = marketplace.asset_name(&holding.asset);
                        ui.horizontal(|ui| {
                            ui.label(&name);
                            match holding.listing {
                                Some(listing) => {
                                    ui.small(format!("listed #{listing}"));
                                    if ui.small_button("Cancel listing").clicked() {
                                        act = Some((
                                            format!("cancel listing of {name}"),
                                            Ok(Operation::CancelListing {
                                                listing: ListingId(listing),
                                            }),
                                        ));
                                    }
                                }
                                None => {
                                    if ui.small_button("List...").clicked() {
                                        state.listing = Some((holding.asset, ListForm::default()));
                                        state.problem = None;
                                    }
                                }
                            }
                            let slots = marketplace
                                .manifests
                                .get(&holding.asset)
                                .map_or(&[][..], |manifest| market::wear::slots(manifest.kind));
                            match worn.iter().find(|(_, on)| *on == holding.asset) {
                                Some((slot, _)) => {
                                    if ui.small_button("Take off").clicked() {
                                        dressing = Some((*slot, None));
                                    }
                                }
                                None => {
                                    // The first free slot it goes in, else
                                    // in place of what the first holds.
                                    let slot = slots
                                        .iter()
                                        .find(|slot| !worn.iter().any(|(taken, _)| taken == *slot))
                                        .or(slots.first());
                                    let label = match slot {
                                        Some(Slot::Avatar) => "Appear as".to_owned(),
                                        Some(slot) => format!("Wear ({})", slot.name()),
                                        None => String::new(),
                                    };
                                    if let Some(slot) = slot
                                        && ui.small_button(label).clicked()
                                    {
                                        dressing = Some((*slot, Some(holding.asset)));
                                    }
                                }
                            }
                            put_down(ui, &marketplace, holding.asset, &mut arranging);
                        });
                    }
                });
            ui.separator();
            ui.strong(format!("Rented out ({})", rented_out.len()));
            for holding in rented_out {
                if let Some(rental) = &holding.rented {
                    ui.label(format!(
                        "{} to {}, back {}",
                        marketplace.asset_name(&holding.asset),
                        ui::who(&rental.renter),
                        ui::until(rental.ends_at, now)
                    ));
                }
            }
            ui.separator();
            ui.strong(format!("Renting ({})", held.renting.len()));
            for holding in &held.renting {
                let Some(rental) = &holding.rented else {
                    continue;
                };
                let name = marketplace.asset_name(&holding.asset);
                ui.horizontal(|ui| {
                    ui.label(format!(
                        "{name} from {}, ends {}",
                        ui::who(&holding.owner),
                        ui::until(rental.ends_at, now)
                    ));
                    if ui.small_button("Return early...").clicked() {
                        state.returning = Some(rental.id);
                        state.problem = None;
                    }
                    put_down(ui, &marketplace, holding.asset, &mut arranging);
                });
                if state.returning == Some(rental.id) {
                    let ask = QuoteAsk::Return { rental: rental.id };
                    match marketplace.quote(client, ask) {
                        Some(Ok(quote)) => {
                            show_quote(ui, &quote, now);
                            ui.horizontal(|ui| {
                                if ui
                                    .button(format!(
                                        "Return, get {} back",
                                        ui::tokens(quote.to_renter)
                                    ))
                                    .clicked()
                                {
                                    act = Some((
                                        format!("return {name}"),
                                        Ok(Operation::ReturnRental { rental: rental.id }),
                                    ));
                                    state.returning = None;
                                }
                                if ui.button("Keep it").clicked() {
                                    state.returning = None;
                                }
                            });
                        }
                        Some(Err(why)) => ui::warning(ui, why),
                        None => {
                            ui.label("asking for the refund...");
                        }
                    }
                }
            }
            if let Some(why) = &state.problem {
                ui::warning(ui, why.clone());
            }
        });
    if !open {
        panels.inventory = false;
    }
    if let Some((asset, mut form)) = state.listing.take() {
        let name = marketplace.asset_name(&asset);
        let mut keep = true;
        egui::Window::new(format!("List {name}"))
            .id(egui::Id::new("list form"))
            .default_pos([420.0, 250.0])
            .show(ctx, |ui| {
                ui.horizontal(|ui| {
                    ui.selectable_value(&mut form.rent, true, "for rent");
                    ui.selectable_value(&mut form.rent, false, "for sale");
                });
                egui::Grid::new("list fields")
                    .num_columns(2)
                    .show(ui, |ui| {
                        let field = |ui: &mut egui::Ui, label: &str, value: &mut String| {
                            ui.label(label);
                            ui.add(egui::TextEdit::singleline(value).desired_width(120.0));
                            ui.end_row();
                        };
                        if form.rent {
                            field(ui, "price per period", &mut form.price);
                            ui.label("period");
                            ui.horizontal(|ui| {
                                ui.add(
                                    egui::TextEdit::singleline(&mut form.period)
                                        .desired_width(40.0),
                                );
                                ui.selectable_value(&mut form.unit, Unit::Minutes, "min");
                                ui.selectable_value(&mut form.unit, Unit::Hours, "h");
                                ui.selectable_value(&mut form.unit, Unit::Days, "d");
                            });
                            ui.end_row();
                            field(ui, "min periods", &mut form.min_periods);
                            field(ui, "max periods", &mut form.max_periods);
                            field(ui, "deposit", &mut form.deposit);
                            field(ui, "reserved for (optional)", &mut form.reserved_for);
                        } else {
                            field(ui, "price", &mut form.price);
                        }
                        field(ui, "open for (days)", &mut form.open_days);
                    });
                ui.horizontal(|ui| {
                    if ui.button("Sign and list").clicked() {
                        let op = match now {
                            Some(now) => form.op(asset, &marketplace.me, now),
                            None => Err("the host's time is not known yet".to_owned()),
                        };
                        if op.is_ok() {
                            keep = false;
                        }
                        act = Some((format!("list {name}"), op));
                    }
                    if ui.button("Close").clicked() {
                        keep = false;
                    }
                });
                if let Some(why) = &state.problem {
                    ui::warning(ui, why.clone());
                }
            });
        if keep {
            state.listing = Some((asset, form));
        }
    }
    if let Some((label, op)) = act {
        state.problem = op
            .and_then(|op| marketplace.act(label, op).map_err(|refusal| refusal.0))
            .err();
    }
    if let Some((parcel, items)) = arranging
        && let Err(refusal) = marketplace.arrange(client, parcel, items)
    {
        marketplace.land.problem = Some(refusal.0);
    }
    match dressing {
        Some((slot, Some(asset))) => marketplace.wear(client, slot, asset),
        Some((slot, None)) => marketplace.take_off(client, slot),
        None => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asset() -> AssetId {
        AssetId(assets::ContentId::of(assets::Codec::Json, b"lamp"))
    }

    #[test]
    fn a_filled_form_becomes_the_listing_the_ledger_would_take() {
        let me = Address::from_bytes([3; 32]);
        let form = ListForm {
            price: "1,200".into(),
            period: "2".into(),
            unit: Unit::Hours,
            min_periods: "1".into(),
            max_periods: "12".into(),
            deposit: "500".into(),
            open_days: "3".into(),
            ..ListForm::default()
        };
        let op = form.op(asset(), &me, 1_000).unwrap();
        assert_eq!(
            op,
            Operation::ListForRent {
                asset: asset(),
                terms: RentTerms {
                    price_per_period: 1_200,
                    period_secs: 7_200,
                    min_periods: 1,
                    max_periods: 12,
                    deposit: 500,
                    reserved_for: None,
                },
                expires_at: 1_000 + 3 * 86_400,
            }
        );
        let sale = ListForm {
            rent: false,
            price: "900".into(),
            ..ListForm::default()
        };
        assert!(matches!(
            sale.op(asset(), &me, 0).unwrap(),
            Operation::ListForSale { price: 900, .. }
        ));
    }

    #[test]
    fn the_ledger_rules_refuse_a_bad_form_before_signing() {
        let me = Address::from_bytes([3; 32]);
        let with = |change: fn(&mut ListForm)| {
            let mut form = ListForm::default();
            change(&mut form);
            form.op(asset(), &me, 1_000).unwrap_err()
        };
        assert!(with(|f| f.price = "0".into()).contains("price per period"));
        assert!(with(|f| f.price = "ten".into()).contains("not a whole number"));
        assert!(
            with(|f| {
                f.min_periods = "30".into();
                f.max_periods = "2".into();
            })
            .contains("above the maximum")
        );
        assert!(with(|f| f.max_periods = "1000000".into()).contains("network's limit"));
        assert!(with(|f| f.period = "0".into()).contains("at least one second"));
        assert!(with(|f| f.open_days = "0".into()).contains("at least 1"));
        assert!(with(|f| f.reserved_for = "nobody".into()).contains("reserved for"));
        let form = ListForm {
            reserved_for: me.to_string(),
            ..ListForm::default()
        };
        assert!(
            form.op(asset(), &me, 1_000)
                .unwrap_err()
                .contains("reserve")
        );
        let sale = ListForm {
            rent: false,
            price: "0".into(),
            ..ListForm::default()
        };
        assert!(
            sale.op(asset(), &me, 1_000)
                .unwrap_err()
                .contains("above zero")
        );
    }
}
