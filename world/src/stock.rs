//! Assets on the stalls as their real 3D models: the catalogue's listings
//! a world shows on its stalls, each model fetched from the host by
//! content id (checked against it), kept in a cache, and drawn on its
//! stall's counter.

use std::path::{Path, PathBuf};
use std::time::Duration;

use assets::Manifest;
use bevy::prelude::*;
use bevy::world_serialization::WorldAssetRoot;
use server_less::HostError;

use server_less::client::Client;
use server_less::protocol::{Browse, Card, MAX_PAGE_HITS};

use crate::WorldScene;
use crate::pick::{Pickable, Target};

/// Models shown on one stall's counter at most.
pub const PER_STALL: usize = 3;
/// The counters' height, metres.
const COUNTER_TOP: f32 = 1.0;
/// Catalogue pages read to find them.
const PAGES: usize = 8;

/// One model on a stall.
#[derive(Clone, Debug, PartialEq)]
pub struct StallItem {
    /// The stall's index in the world.
    pub stall: u16,
    /// Its place on the counter, 0 to [`PER_STALL`] - 1.
    pub slot: usize,
    /// The model's file, relative to the cache.
    pub file: String,
    /// The model's size (x, y, z), metres, as its manifest gives it.
    pub size: [f32; 3],
    /// The lowest point of the model, metres.
    pub bottom: f32,
    /// The asset's name.
    pub name: String,
    /// Its catalogue card.
    pub card: Card,
    /// Its manifest.
    pub manifest: Manifest,
}

/// The stalls' stock, for the scene.
#[derive(Resource, Clone, Debug, Default)]
pub struct Stock(pub Vec<StallItem>);

/// Which listings go where: the first [`PER_STALL`] cards each stall of
/// `world` shows, in the catalogue's order, as (stall, slot, card).
pub fn place<'a>(world: &str, cards: &'a [Card]) -> Vec<(u16, usize, &'a Card)> {
    let mut filled: std::collections::HashMap<u16, usize> = std::collections::HashMap::new();
    let mut placed = Vec::new();
    for card in cards {
        for shown in &card.shown {
            if shown.world != world || !shown.stall {
                continue;
            }
            let slot = filled.entry(shown.index).or_default();
            if *slot < PER_STALL {
                placed.push((shown.index, *slot, card));
                *slot += 1;
            }
        }
    }
    placed
}

/// Reads the catalogue for `world`, fetches the manifests and models of
/// what its stalls show into `cache` (models already there are kept), and
/// says what goes where.
pub fn fetch(client: &mut Client, world: &str, cache: &Path) -> anyhow::Result<Stock> {
    let wait = Duration::from_secs(20);
    let mut cards = Vec::new();
    let mut after = None;
    for _ in 0..PAGES {
        let (hits, next) = client.browse(
            Browse {
                world: Some(world.to_owned()),
                page_size: MAX_PAGE_HITS,
                after,
                ..Browse::default()
            },
            wait,
        )?;
        cards.extend(hits);
        match next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    std::fs::create_dir_all(cache).map_err(|err| HostError::io(cache, err))?;
    let mut items = Vec::new();
    for (stall, slot, card) in place(world, &cards) {
        let manifest = match client.fetch(&card.listing.asset.0, wait) {
            Ok(manifest) => manifest,
            Err(err) => {
                warn!(asset = %card.listing.asset, %err, "no manifest: not shown");
                continue;
            }
        };
        let Ok(manifest) = Manifest::from_json(&manifest) else {
            warn!(asset = %card.listing.asset, "a manifest that does not read: not shown");
            continue;
        };
        let file = format!("{}.glb", manifest.model);
        let path: PathBuf = cache.join(&file);
        if !path.exists() {
            let model = match client.fetch(&manifest.model, wait) {
                Ok(model) => model,
                Err(err) => {
                    warn!(model = %manifest.model, %err, "no model: not shown");
                    continue;
                }
            };
            // Written whole, then renamed: a half-written model is never
            // read as one.
            let partial = cache.join(format!("{file}.part"));
            std::fs::write(&partial, &model).map_err(|err| HostError::io(&partial, err))?;
            std::fs::rename(&partial, &path).map_err(|err| HostError::io(&path, err))?;
        }
        let size = manifest.bounds.size();
        items.push(StallItem {
            stall,
            slot,
            file,
            size: size.map(|side| side * manifest.scale),
            bottom: manifest.bounds.min[1] * manifest.scale,
            name: manifest.name.clone(),
            card: card.clone(),
            manifest,
        });
    }
    info!(models = items.len(), "stall stock fetched");
    Ok(Stock(items))
}

/// Draws the stalls' stock.
pub struct StockPlugin;

impl Plugin for StockPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Stock>()
            .add_systems(Startup, show_stock);
    }
}

/// Where item `slot` stands on a counter, along it, metres.
fn along(slot: usize) -> f32 {
    (slot as f32 - (PER_STALL as f32 - 1.0) / 2.0) * 1.25
}

fn show_stock(
    mut commands: Commands,
    stock: Res<Stock>,
    scene: Res<WorldScene>,
    assets: Res<AssetServer>,
) {
    for (index, item) in stock.0.iter().enumerate() {
        let Some(stall) = scene.welcome.world.stalls.get(usize::from(item.stall)) else {
            continue;
        };
        // Big things are shrunk to fit a 1.2 m slot; small ones stay.
        let largest = item.size.iter().copied().fold(0.0_f32, f32::max);
        let fit = if largest > 1.2 { 1.2 / largest } else { 1.0 };
        let at = Vec3::new(
            stall.position[0] + along(item.slot),
            COUNTER_TOP - item.bottom * fit,
            stall.position[1],
        );
        commands.spawn((
            WorldAssetRoot(
                assets.load(bevy::gltf::GltfAssetLabel::Scene(0).from_asset(item.file.clone())),
            ),
            Transform::from_translation(at).with_scale(Vec3::splat(fit)),
            Name::new(item.name.clone()),
            pickable(index, item, fit, at.y),
        ));
    }
}

/// The clickable box of item `index`, drawn at scale `fit` with its
/// origin at height `origin_y`: the model's bounds standing on the
/// counter, at least a hand's width each way.
fn pickable(index: usize, item: &StallItem, fit: f32, origin_y: f32) -> Pickable {
    let size = Vec3::from_array(item.size) * fit;
    let half = (size / 2.0).max(Vec3::splat(0.15));
    Pickable {
        target: Target::Item(index),
        half,
        offset: Vec3::new(0.0, COUNTER_TOP + half.y - origin_y, 0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::{AssetId, Listing, ListingId, ListingStatus, ListingTerms};
    use server_less::protocol::Shown;

    fn card(id: u64, shown: Vec<Shown>) -> Card {
        let asset = AssetId(assets::ContentId::of(
            assets::Codec::Json,
            &id.to_le_bytes(),
        ));
        Card {
            listing: Listing {
                id: ListingId(id),
                asset,
                lister: ledger::Address::from_bytes([1; 32]),
                owner_seq: 0,
                terms: ListingTerms::Sale { price: 1 },
                expires_at: 10,
                created_at: 0,
                status: ListingStatus::Open,
            },
            creator: ledger::Address::from_bytes([2; 32]),
            rented_until: None,
            name: None,
            kind: None,
            preview: None,
            shown,
        }
    }

    #[test]
    fn each_stall_shows_its_first_listings_and_no_more() {
        let at = |world: &str, stall: bool, index: u16| Shown {
            world: world.into(),
            stall,
            index,
        };
        let cards: Vec<Card> = (0..6)
            .map(|id| {
                card(
                    id,
                    vec![at("Plaza Square", true, 0), at("Harbour Market", true, 1)],
                )
            })
            .chain([card(9, vec![at("Plaza Square", false, 0)])])
            .collect();
        let placed = place("Plaza Square", &cards);
        let seen: Vec<(u16, usize, u64)> = placed
            .iter()
            .map(|(stall, slot, card)| (*stall, *slot, card.listing.id.0))
            .collect();
        assert_eq!(seen, vec![(0, 0, 0), (0, 1, 1), (0, 2, 2)]);
        assert!((along(0) + along(2)).abs() < 1e-6);
    }
}
