//! The catalogue panel: the market crate's search (words, kind, rent or
//! sale, highest price, cheapest or newest first, this world or all) a
//! page at a time. Opening a hit shows its card and points out the stall
//! that shows it.

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use plaza_client::protocol::{Browse, Card};

use crate::AppSystems;
use crate::WorldScene;
use crate::marketplace::Marketplace;
use crate::stalls::Spot;
use crate::ui::{self, CardFocus, Highlight, Panels};

/// Hits per page.
pub const PAGE: u16 = 10;

/// Rent, sale, or both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Side {
    /// Both.
    #[default]
    Any,
    /// Rent listings only.
    Rent,
    /// Sale listings only.
    Sale,
}

/// The search form as the player filled it in.
#[derive(Resource, Clone, Debug, Default)]
pub struct SearchForm {
    /// Words.
    pub text: String,
    /// A kind, or empty for any.
    pub kind: String,
    /// Rent, sale or both.
    pub side: Side,
    /// Highest price (per period for rent), or empty.
    pub max_price: String,
    /// Cheapest first (else newest first).
    pub cheapest: bool,
    /// Every world, not only this one.
    pub all_worlds: bool,
}

impl SearchForm {
    /// The catalogue question this form asks in `world`.
    pub fn query(&self, world: &str) -> Result<Browse, String> {
        let max_price = match self.max_price.trim() {
            "" => None,
            text => Some(ui::whole("highest price", text)?),
        };
        Ok(Browse {
            text: self.text.trim().to_owned(),
            kind: Some(self.kind.trim().to_owned()).filter(|kind| !kind.is_empty()),
            rent: match self.side {
                Side::Any => None,
                Side::Rent => Some(true),
                Side::Sale => Some(false),
            },
            max_price,
            owner: None,
            world: (!self.all_worlds).then(|| world.to_owned()),
            cheapest_first: self.cheapest,
            page_size: PAGE,
            after: None,
        })
    }
}

/// The stall or parcel of `world` that shows `card`, if one does.
pub fn spot_of(card: &Card, world: &str) -> Option<Spot> {
    card.shown
        .iter()
        .find(|shown| shown.world == world)
        .map(|shown| {
            if shown.stall {
                Spot::Stall(shown.index)
            } else {
                Spot::Parcel(shown.index)
            }
        })
}

/// The catalogue panel and the beacon over the stall it points out.
pub struct CataloguePlugin;

impl Plugin for CataloguePlugin {
    fn build(&self, app: &mut App) {
        crate::ordered(app);
        app.init_resource::<SearchForm>()
            .add_systems(EguiPrimaryContextPass, catalogue_panel)
            .add_systems(Update, beacon.in_set(AppSystems::React));
    }
}

#[allow(clippy::too_many_arguments)]
fn catalogue_panel(
    mut contexts: EguiContexts,
    mut panels: ResMut<Panels>,
    mut form: ResMut<SearchForm>,
    mut marketplace: ResMut<Marketplace>,
    mut connection: crate::net::Connection,
    scene: Res<WorldScene>,
    mut card: ResMut<CardFocus>,
    mut highlight: ResMut<Highlight>,
    mut problem: Local<Option<String>>,
) -> Result {
    let Some(mut session) = connection.get() else {
        return Ok(());
    };
    let client = &mut session;
    let ctx = contexts.ctx_mut()?;
    let world = scene.welcome.world.name.clone();
    let mut open = panels.catalogue;
    egui::Window::new("Catalogue")
        .open(&mut open)
        .default_pos([930.0, 12.0])
        .default_width(330.0)
        .show(ctx, |ui| {
            let mut search = false;
            ui.horizontal(|ui| {
                let words = ui.add(
                    egui::TextEdit::singleline(&mut form.text)
                        .hint_text("words: lamp, oak...")
                        .desired_width(200.0),
                );
                search |= words.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                search |= ui.button("Search").clicked();
            });
            ui.horizontal(|ui| {
                egui::ComboBox::from_id_salt("kind")
                    .selected_text(if form.kind.is_empty() {
                        "any kind"
                    } else {
                        form.kind.as_str()
                    })
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut form.kind, String::new(), "any kind");
                        for kind in kinds(&scene) {
                            ui.selectable_value(&mut form.kind, kind.clone(), kind);
                        }
                    });
                ui.selectable_value(&mut form.side, Side::Any, "all");
                ui.selectable_value(&mut form.side, Side::Rent, "rent");
                ui.selectable_value(&mut form.side, Side::Sale, "sale");
            });
            ui.horizontal(|ui| {
                ui.label("max price");
                ui.add(egui::TextEdit::singleline(&mut form.max_price).desired_width(70.0));
                ui.checkbox(&mut form.cheapest, "cheapest first");
            });
            ui.checkbox(&mut form.all_worlds, "all worlds");
            if search {
                match form.query(&world) {
                    Ok(query) => {
                        *problem = None;
                        marketplace.search(client, query);
                    }
                    Err(why) => *problem = Some(why),
                }
            }
            if let Some(why) = problem.as_ref() {
                ui::warning(ui, why.clone());
            }
            ui.separator();
            let now = marketplace.host_now();
            let catalogue = &marketplace.catalogue;
            if let Some(error) = &catalogue.error {
                ui::warning(ui, error.clone());
            }
            if catalogue.hits.is_empty() && !catalogue.waiting {
                ui.label("Nothing matches.");
            }
            let mut opened = None;
            egui::ScrollArea::vertical()
                .max_height(360.0)
                .show(ui, |ui| {
                    for hit in &catalogue.hits {
                        ui.horizontal(|ui| {
                            let name = hit
                                .name
                                .clone()
                                .unwrap_or_else(|| hit.listing.asset.to_string());
                            if ui.button("Open").clicked() {
                                opened = Some(hit.clone());
                            }
                            ui.vertical(|ui| {
                                ui.strong(name);
                                ui.small(ui::terms(&hit.listing.terms));
                                if let Some(until) = hit.rented_until {
                                    ui.small(format!("rented out, back {}", ui::until(until, now)));
                                }
                            });
                        });
                    }
                });
            let (has_previous, has_next, page) =
                (catalogue.page > 1, catalogue.next.is_some(), catalogue.page);
            ui.horizontal(|ui| {
                if ui
                    .add_enabled(has_previous, egui::Button::new("< Previous"))
                    .clicked()
                {
                    marketplace.previous_page(client);
                }
                ui.label(format!("page {page}"));
                if ui
                    .add_enabled(has_next, egui::Button::new("Next >"))
                    .clicked()
                {
                    marketplace.next_page(client);
                }
            });
            if let Some(hit) = opened {
                highlight.0 = spot_of(&hit, &world);
                marketplace.want_manifest(client, hit.listing.asset);
                card.0 = Some(hit);
            }
        });
    panels.catalogue = open;
    Ok(())
}

/// The kinds this world's stalls show.
fn kinds(scene: &WorldScene) -> Vec<String> {
    let mut kinds: Vec<String> = scene
        .welcome
        .world
        .stalls
        .iter()
        .flat_map(|stall| stall.kinds.iter().cloned())
        .collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

/// The beacon over a pointed-out stall.
#[derive(Component, Debug)]
pub struct Beacon;

fn beacon(
    mut commands: Commands,
    highlight: Res<Highlight>,
    scene: Res<WorldScene>,
    mut beacons: Query<(Entity, &mut Transform), With<Beacon>>,
    meshes: Option<ResMut<Assets<Mesh>>>,
    materials: Option<ResMut<Assets<StandardMaterial>>>,
) {
    if !highlight.is_changed() {
        return;
    }
    let Some([x, z]) = highlight.0.and_then(|spot| spot.position(&scene)) else {
        for (entity, _) in &beacons {
            commands.entity(entity).despawn();
        }
        return;
    };
    let at = Vec3::new(x, 6.0, z);
    if let Ok((_, mut transform)) = beacons.single_mut() {
        transform.translation = at;
        return;
    }
    let mut spawned = commands.spawn((
        Beacon,
        Transform::from_translation(at),
        Visibility::default(),
    ));
    if let (Some(mut meshes), Some(mut materials)) = (meshes, materials) {
        spawned.insert((
            Mesh3d(meshes.add(Cylinder::new(0.25, 8.0))),
            MeshMaterial3d(materials.add(StandardMaterial {
                base_color: Color::srgba(1.0, 0.85, 0.2, 0.45),
                emissive: LinearRgba::rgb(3.0, 2.2, 0.4),
                alpha_mode: AlphaMode::Blend,
                unlit: true,
                ..default()
            })),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_asks_the_catalogue_what_the_player_filled_in() {
        let form = SearchForm {
            text: "  brass lamp ".into(),
            kind: "lighting".into(),
            side: Side::Rent,
            max_price: "1,500".into(),
            cheapest: true,
            all_worlds: false,
        };
        let query = form.query("Plaza Square").unwrap();
        assert_eq!(query.text, "brass lamp");
        assert_eq!(query.kind.as_deref(), Some("lighting"));
        assert_eq!(query.rent, Some(true));
        assert_eq!(query.max_price, Some(1_500));
        assert_eq!(query.world.as_deref(), Some("Plaza Square"));
        assert!(query.cheapest_first);
        assert_eq!(query.page_size, PAGE);

        let any = SearchForm {
            all_worlds: true,
            ..SearchForm::default()
        };
        let query = any.query("Plaza Square").unwrap();
        assert_eq!((query.kind, query.rent, query.world), (None, None, None));

        let bad = SearchForm {
            max_price: "cheap".into(),
            ..SearchForm::default()
        };
        assert!(bad.query("x").unwrap_err().contains("not a whole number"));
    }
}
