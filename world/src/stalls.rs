//! Assets on the stalls as their real 3D models: the catalogue's listings
//! a world shows on its stalls, each model fetched from the host by
//! content id (checked against it), kept in a cache, and drawn on its
//! stall's counter. They load while the world is on screen, under a
//! loading screen that shows what has arrived; when the host says a block
//! changed what the world's stalls show, they are read again quietly and
//! the new stock replaces the old once it has loaded.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assets::Manifest;
use bevy::prelude::*;
use bevy::world_serialization::WorldAssetRoot;
use plaza_client::ClientError;

use assets::ContentId;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use plaza_client::client::Session;
use plaza_client::protocol::{Browse, Card, ClientMessage, MAX_PAGE_HITS, ServerMessage};

use crate::AppSystems;
use crate::WorldScene;
use crate::pick::{Pickable, Target};

/// Models shown on one stall's counter at most.
pub const PER_STALL: usize = 3;
/// Models shown in a row on one parcel at most (its holder's listings).
pub const PER_PARCEL: usize = 6;
/// The counters' height, metres.
const COUNTER_TOP: f32 = 1.0;
/// Catalogue pages read to find them.
const PAGES: usize = 8;
/// The stalls are read again at most this often, however often blocks
/// change them.
pub const RESTOCK_EVERY: Duration = Duration::from_secs(5);

/// Where a listing is shown in the world: on a stall's counter, or in
/// a row on the parcel of its lister (who holds that parcel).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Spot {
    /// The stall at this index of the world's stalls.
    Stall(u16),
    /// The parcel at this index of the world's parcels.
    Parcel(u16),
}

impl Spot {
    /// Where it is (x, z): a stall's middle, a parcel's centre.
    pub fn position(self, scene: &WorldScene) -> Option<[f32; 2]> {
        let world = &scene.welcome.world;
        match self {
            Spot::Stall(index) => world.stalls.get(usize::from(index)).map(|s| s.position),
            Spot::Parcel(index) => world.parcels.get(usize::from(index)).map(|p| p.centre()),
        }
    }

    /// Models it shows at most.
    pub fn room(self) -> usize {
        match self {
            Spot::Stall(_) => PER_STALL,
            Spot::Parcel(_) => PER_PARCEL,
        }
    }
}

/// One model on a stall, or on a parcel.
#[derive(Clone, Debug, PartialEq)]
pub struct StallItem {
    /// The stall or parcel.
    pub spot: Spot,
    /// Its place there, 0 to the spot's [`Spot::room`] - 1.
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

/// The stalls' items, for the scene.
#[derive(Resource, Clone, Debug, Default)]
pub struct StallItems(pub Vec<StallItem>);

/// Which listings go where: the first [`PER_STALL`] cards each stall of
/// `world` shows and the first [`PER_PARCEL`] each parcel does, in the
/// catalogue's order, as (spot, slot, card).
pub fn place<'a>(world: &str, cards: &'a [Card]) -> Vec<(Spot, usize, &'a Card)> {
    let mut filled: std::collections::HashMap<Spot, usize> = std::collections::HashMap::new();
    let mut placed = Vec::new();
    for card in cards {
        for shown in &card.shown {
            if shown.world != world {
                continue;
            }
            let spot = if shown.stall {
                Spot::Stall(shown.index)
            } else {
                Spot::Parcel(shown.index)
            };
            let slot = filled.entry(spot).or_default();
            if *slot < spot.room() {
                placed.push((spot, *slot, card));
                *slot += 1;
            }
        }
    }
    placed
}

/// What a loader's request was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    /// A catalogue page.
    Page,
    /// The manifest of placed item `n`.
    Manifest(usize),
    /// The model of placed item `n`.
    Model(usize),
}

/// One placed listing on its way to the counter.
#[derive(Clone, Debug)]
struct Placing {
    spot: Spot,
    slot: usize,
    card: Card,
    manifest: Option<Manifest>,
    /// Still waiting for a file.
    waiting: bool,
}

/// Loads the stalls' items while the world is already on screen: reads
/// the catalogue's pages for the world, places the listings, fetches
/// each one's manifest and (unless cached) model, and then hands over the
/// [`StallItems`]. Its progress is what the loading screen shows.
#[derive(Resource, Debug)]
pub struct Loader {
    world: String,
    cache: PathBuf,
    asked: HashMap<u32, Want>,
    cards: Vec<Card>,
    pages: usize,
    placing: Vec<Placing>,
    /// Files (manifests and models) wanted and arrived so far.
    pub files: (usize, usize),
    /// The stall items, once every placed item has its files or has failed.
    pub finished: Option<StallItems>,
    /// Whether the items were handed over.
    pub done: bool,
    /// Reading the stalls again while the world is played: no loading
    /// screen.
    pub quiet: bool,
}

impl Loader {
    /// Starts loading what `world`'s stalls show into `cache`.
    pub fn start(client: &mut Session<'_>, world: &str, cache: &Path) -> anyhow::Result<Loader> {
        std::fs::create_dir_all(cache).map_err(|err| ClientError::io(cache, err))?;
        let mut loader = Loader {
            world: world.to_owned(),
            cache: cache.to_owned(),
            asked: HashMap::new(),
            cards: Vec::new(),
            pages: 0,
            placing: Vec::new(),
            files: (0, 0),
            finished: None,
            done: false,
            quiet: false,
        };
        loader.page(client, None);
        Ok(loader)
    }

    /// Starts reading `world`'s stalls again, with no loading screen:
    /// what they show stays until the new stock has loaded.
    pub fn restock(client: &mut Session<'_>, world: &str, cache: &Path) -> anyhow::Result<Loader> {
        let mut loader = Loader::start(client, world, cache)?;
        loader.quiet = true;
        Ok(loader)
    }

    /// What the loading screen says.
    pub fn progress(&self) -> (String, f32) {
        if self.placing.is_empty() && self.finished.is_none() {
            return (format!("reading the catalogue (page {})", self.pages), 0.05);
        }
        let (wanted, arrived) = self.files;
        (
            format!("models and manifests: {arrived} of {wanted}"),
            0.1 + 0.9 * arrived as f32 / wanted.max(1) as f32,
        )
    }

    fn page(&mut self, client: &mut Session<'_>, after: Option<String>) {
        self.pages += 1;
        let query = Browse {
            world: Some(self.world.clone()),
            page_size: MAX_PAGE_HITS,
            after,
            ..Browse::default()
        };
        let id = client.ask(|request| ClientMessage::Browse { request, query });
        self.asked.insert(id, Want::Page);
    }

    fn fetch(&mut self, client: &mut Session<'_>, id: &ContentId, want: Want) {
        let bytes = id.to_bytes();
        let request = client.ask(|request| ClientMessage::Fetch { request, id: bytes });
        self.asked.insert(request, want);
        self.files.0 += 1;
    }

    /// Takes in an answer to one of the loader's requests; returns any
    /// other message.
    pub fn take(
        &mut self,
        client: &mut Session<'_>,
        message: ServerMessage,
    ) -> Option<ServerMessage> {
        let Some(want) = message
            .request()
            .and_then(|request| self.asked.remove(&request))
        else {
            return Some(message);
        };
        match (want, message) {
            (Want::Page, ServerMessage::Page { hits, next, .. }) => {
                self.cards.extend(hits);
                match next {
                    Some(next) if self.pages < PAGES => self.page(client, Some(next)),
                    _ => self.place_all(client),
                }
            }
            (Want::Page, ServerMessage::Error { message, .. }) => {
                self.page_failed(client, &message);
            }
            (Want::Manifest(n), ServerMessage::Chunk { bytes, .. }) => {
                self.files.1 += 1;
                let asset = self.placing[n].card.listing.asset;
                match Manifest::from_json(&bytes) {
                    Ok(manifest) if asset.0.matches(&bytes) => {
                        let file = self.cache.join(format!("{}.glb", manifest.model));
                        if file.exists() {
                            self.placing[n].waiting = false;
                        } else {
                            let model = manifest.model;
                            self.fetch(client, &model, Want::Model(n));
                        }
                        self.placing[n].manifest = Some(manifest);
                    }
                    _ => {
                        warn!(%asset, "a manifest that does not read: not shown");
                        self.placing[n].waiting = false;
                    }
                }
            }
            (Want::Model(n), ServerMessage::Chunk { bytes, .. }) => {
                self.files.1 += 1;
                self.placing[n].waiting = false;
                if let Some(manifest) = &self.placing[n].manifest {
                    if manifest.model.matches(&bytes) {
                        let file = format!("{}.glb", manifest.model);
                        if let Err(err) = write_whole(&self.cache, &file, &bytes) {
                            warn!(%err, "the model could not be cached: not shown");
                            self.placing[n].manifest = None;
                        }
                    } else {
                        warn!(model = %manifest.model, "the host sent other bytes: not shown");
                        self.placing[n].manifest = None;
                    }
                }
            }
            (Want::Manifest(n) | Want::Model(n), ServerMessage::Error { message, .. }) => {
                self.file_failed(n, &message);
            }
            // An answer of another kind: as if refused, and handed on.
            (want, other) => {
                let why = "an answer of another kind";
                match want {
                    Want::Page => self.page_failed(client, why),
                    Want::Manifest(n) | Want::Model(n) => self.file_failed(n, why),
                }
                self.finish();
                return Some(other);
            }
        }
        self.finish();
        None
    }

    /// The catalogue did not answer a page (`why`): a first loading shows
    /// what it has (nothing, perhaps); a restock keeps what the stalls
    /// show until a later block.
    fn page_failed(&mut self, client: &mut Session<'_>, why: &str) {
        if self.quiet {
            warn!(%why, "the catalogue did not answer: the stalls stay as they are");
            self.asked.clear();
            self.done = true;
        } else {
            warn!(%why, "the catalogue did not answer: the stalls show what came");
            self.place_all(client);
        }
    }

    /// Item `n`'s file did not come (`why`): it is not shown.
    fn file_failed(&mut self, n: usize, why: &str) {
        self.files.1 += 1;
        warn!(asset = %self.placing[n].card.listing.asset, %why, "a file did not come: not shown");
        self.placing[n].waiting = false;
        self.placing[n].manifest = None;
    }

    fn place_all(&mut self, client: &mut Session<'_>) {
        let placed: Vec<(Spot, usize, Card)> = place(&self.world, &self.cards)
            .into_iter()
            .map(|(spot, slot, card)| (spot, slot, card.clone()))
            .collect();
        self.cards.clear();
        for (n, (spot, slot, card)) in placed.into_iter().enumerate() {
            let asset = card.listing.asset;
            self.placing.push(Placing {
                spot,
                slot,
                card,
                manifest: None,
                waiting: true,
            });
            self.fetch(client, &asset.0, Want::Manifest(n));
        }
        self.finish();
    }

    fn finish(&mut self) {
        if self.done
            || self.finished.is_some()
            || !self.asked.is_empty()
            || self.placing.iter().any(|item| item.waiting)
        {
            return;
        }
        let items: Vec<StallItem> = self
            .placing
            .drain(..)
            .filter_map(|placing| {
                let manifest = placing.manifest?;
                let size = manifest.bounds.size();
                Some(StallItem {
                    spot: placing.spot,
                    slot: placing.slot,
                    file: format!("{}.glb", manifest.model),
                    size: size.map(|side| side * manifest.scale),
                    bottom: manifest.bounds.min[1] * manifest.scale,
                    name: manifest.name.clone(),
                    card: placing.card,
                    manifest,
                })
            })
            .collect();
        info!(models = items.len(), "stall items loaded");
        self.finished = Some(StallItems(items));
    }
}

/// When to read the stalls again: once the host says a block changed
/// them, at most every [`RESTOCK_EVERY`].
#[derive(Debug, Default)]
pub struct Restock {
    /// A block changed the stalls since they were last read.
    pub wanted: bool,
    /// When they were last read again.
    last: Option<Instant>,
}

impl Restock {
    /// Whether to read them again `now` (and if so, it is done).
    pub fn due(&mut self, now: Instant) -> bool {
        let waited = self
            .last
            .is_none_or(|last| now.saturating_duration_since(last) >= RESTOCK_EVERY);
        if !self.wanted || !waited {
            return false;
        }
        self.wanted = false;
        self.last = Some(now);
        true
    }
}

/// Writes `bytes` to `dir/name` whole, then renames: a half-written model
/// is never read as one.
pub(crate) fn write_whole(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let partial = dir.join(format!("{name}.part"));
    let path = dir.join(name);
    std::fs::write(&partial, bytes).map_err(|err| ClientError::io(&partial, err))?;
    std::fs::rename(&partial, &path).map_err(|err| ClientError::io(&path, err))?;
    Ok(())
}

/// Draws the stalls' items.
pub struct StallsPlugin;

impl Plugin for StallsPlugin {
    fn build(&self, app: &mut App) {
        crate::ordered(app);
        app.init_resource::<StallItems>()
            .add_systems(
                Update,
                (hand_over, show_items.run_if(resource_changed::<StallItems>))
                    .chain()
                    .in_set(AppSystems::Draw),
            )
            .add_systems(EguiPrimaryContextPass, loading_screen);
    }
}

/// A model on a counter.
#[derive(Component, Debug)]
pub struct StallModel;

fn hand_over(loader: Option<ResMut<Loader>>, mut stock: ResMut<StallItems>) {
    if let Some(mut loader) = loader
        && let Some(loaded) = loader.finished.take()
    {
        *stock = loaded;
        loader.done = true;
    }
}

/// While the stall items load: the world, and over it what is arriving.
fn loading_screen(
    mut contexts: EguiContexts,
    loader: Option<Res<Loader>>,
    scene: Res<WorldScene>,
    status: Res<crate::net::NetStatus>,
) -> Result {
    let Some(loader) = loader.filter(|loader| !loader.done && !loader.quiet) else {
        return Ok(());
    };
    let ctx = contexts.ctx_mut()?;
    let (what, done) = loader.progress();
    egui::Window::new("Loading")
        .title_bar(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
        .show(ctx, |ui| {
            ui.heading(format!("Entering {}", scene.welcome.world.name));
            ui.label(what);
            ui.add(
                egui::ProgressBar::new(done)
                    .desired_width(320.0)
                    .show_percentage(),
            );
            if let Some(ended) = &status.ended {
                crate::ui::warning(ui, format!("the session ended: {ended}"));
            }
        });
    Ok(())
}

/// The scale a model of `size` (metres) is drawn at to be no wider than
/// `widest`: big things are shrunk, small ones stay.
pub fn fit(size: [f32; 3], widest: f32) -> f32 {
    let largest = size.iter().copied().fold(0.0_f32, f32::max);
    if largest > widest {
        widest / largest
    } else {
        1.0
    }
}

/// Where item `slot` stands on a counter, along it, metres.
fn along(slot: usize) -> f32 {
    (slot as f32 - (PER_STALL as f32 - 1.0) / 2.0) * 1.25
}

/// Where item `slot` stands in a parcel's row (x from its centre),
/// metres.
fn along_parcel(slot: usize) -> f32 {
    (slot as f32 - (PER_PARCEL as f32 - 1.0) / 2.0) * 1.6
}

fn show_items(
    mut commands: Commands,
    stock: Res<StallItems>,
    scene: Res<WorldScene>,
    assets: Option<Res<AssetServer>>,
    shown: Query<Entity, With<StallModel>>,
) {
    for entity in &shown {
        commands.entity(entity).despawn();
    }
    for (index, item) in stock.0.iter().enumerate() {
        let Some([x, z]) = item.spot.position(&scene) else {
            continue;
        };
        // Big things are shrunk to fit a 1.2 m slot; small ones stay.
        let fit = fit(item.size, 1.2);
        // On a stall's counter, or in a row across a parcel's middle.
        let at = match item.spot {
            Spot::Stall(_) => Vec3::new(x + along(item.slot), COUNTER_TOP - item.bottom * fit, z),
            Spot::Parcel(_) => Vec3::new(x + along_parcel(item.slot), -item.bottom * fit, z),
        };
        let mut model = commands.spawn((
            StallModel,
            Transform::from_translation(at).with_scale(Vec3::splat(fit)),
            Visibility::default(),
            Name::new(item.name.clone()),
            pickable(index, item, fit, at.y),
        ));
        if let Some(assets) = &assets {
            model.insert(model_scene(assets, item.file.clone()));
        }
    }
}

/// The scene of a cached model file (its first glTF scene), to draw it.
pub fn model_scene(assets: &AssetServer, file: String) -> WorldAssetRoot {
    WorldAssetRoot(assets.load(bevy::gltf::GltfAssetLabel::Scene(0).from_asset(file)))
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
    use plaza_client::protocol::Shown;

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
        let seen: Vec<(Spot, usize, u64)> = placed
            .iter()
            .map(|(spot, slot, card)| (*spot, *slot, card.listing.id.0))
            .collect();
        // The stall's first three; the parcel's holder's one, in its row.
        assert_eq!(
            seen,
            vec![
                (Spot::Stall(0), 0, 0),
                (Spot::Stall(0), 1, 1),
                (Spot::Stall(0), 2, 2),
                (Spot::Parcel(0), 0, 9)
            ]
        );
        assert!((along(0) + along(2)).abs() < 1e-6);
        assert!((along_parcel(0) + along_parcel(PER_PARCEL - 1)).abs() < 1e-6);
    }
}
