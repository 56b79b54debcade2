//! Measures the catalogue on this machine: builds it with 100,000 open
//! listings, runs a mix of 10,000 queries (filters, text, sorts, places,
//! later pages through cursors), then applies 100 blocks of 5,000 listing
//! changes each.
//!
//! `cargo run --release -p market --bin market-bench`
//!
//! The last line is JSON: `{"query_p50_us": …, "query_p99_us": …,
//! "block_update_ms": …}`, the block figure being the slowest block.

// A benchmark reports on the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use foldhash::{HashMap, HashMapExt};
use std::sync::Arc;
use std::time::{Duration, Instant};

use assets::{AssetKind, Attribute, AttributeValue, Bounds, Codec, ContentId, Manifest};
use ledger::{
    ActiveRental, Address, Asset, AssetId, Listing, ListingId, ListingStatus, ListingTerms,
    RentTerms, RentalId,
};
use market::catalogue::{
    Availability, Changes, Parcel, Place, PriceBasis, PriceRange, Query, Range, Side, Sort, Stall,
    WorldLayout,
};
use market::{Catalogue, MarketError};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const LISTINGS: usize = 100_000;
const QUERIES: usize = 10_000;
const BLOCKS: usize = 100;
const CHANGES_PER_BLOCK: usize = 5_000;
const PEOPLE: u64 = 5_000;
/// More than the assets and listings the run makes.
const RECORDS: usize = LISTINGS + BLOCKS * CHANGES_PER_BLOCK;
const T0: u64 = 1_700_000_000;

const QUERY_P99_FLOOR_US: f64 = 1_000.0;
const BLOCK_FLOOR_MS: f64 = 20.0;

const ADJECTIVES: [&str; 24] = [
    "brass", "oak", "velvet", "golden", "rustic", "tiny", "grand", "silver", "painted", "woven",
    "copper", "marble", "glass", "paper", "iron", "cedar", "amber", "scarlet", "azure", "ivory",
    "ancient", "modern", "cosy", "royal",
];
const NOUNS: [(&str, AssetKind); 27] = [
    ("hat", AssetKind::Wearable),
    ("scarf", AssetKind::Wearable),
    ("backpack", AssetKind::Wearable),
    ("chair", AssetKind::Furniture),
    ("table", AssetKind::Furniture),
    ("bookshelf", AssetKind::Furniture),
    ("bicycle", AssetKind::Vehicle),
    ("skateboard", AssetKind::Vehicle),
    ("scooter", AssetKind::Vehicle),
    ("painting", AssetKind::Art),
    ("sculpture", AssetKind::Art),
    ("tapestry", AssetKind::Art),
    ("vase", AssetKind::Decoration),
    ("rug", AssetKind::Decoration),
    ("trophy", AssetKind::Decoration),
    ("lamp", AssetKind::Lighting),
    ("lantern", AssetKind::Lighting),
    ("chandelier", AssetKind::Lighting),
    ("fern", AssetKind::Plant),
    ("cactus", AssetKind::Plant),
    ("olive tree", AssetKind::Plant),
    ("fountain", AssetKind::Structure),
    ("market stall", AssetKind::Structure),
    ("signpost", AssetKind::Structure),
    ("garden plot", AssetKind::Parcel),
    ("harbour plot", AssetKind::Parcel),
    ("hill plot", AssetKind::Parcel),
];
const PLACES: [&str; 8] = [
    "the harbour",
    "the old town",
    "the hills",
    "the market",
    "the coast",
    "the north",
    "the square",
    "the gardens",
];

/// A small, fast, seeded generator: the same run every time.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn person(i: u64) -> Address {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&i.to_le_bytes());
    bytes[8] = 0xa5;
    Address::from_bytes(bytes)
}

fn asset_id(i: u64) -> AssetId {
    AssetId(ContentId::of(Codec::Json, &i.to_le_bytes()))
}

fn manifest(rng: &mut Rng, i: u64) -> Manifest {
    let adjective = ADJECTIVES[rng.index(ADJECTIVES.len())];
    let (noun, kind) = NOUNS[rng.index(NOUNS.len())];
    let from = PLACES[rng.index(PLACES.len())];
    Manifest {
        name: format!("{adjective} {noun} no. {i}"),
        description: format!("A {adjective} {noun} made in {from}, signed by its maker."),
        kind,
        model: ContentId::of(Codec::Raw, &i.to_be_bytes()),
        preview: ContentId::of(Codec::Raw, &(!i).to_be_bytes()),
        bounds: Bounds {
            min: [-0.5, 0.0, -0.5],
            max: [0.5, 1.0, 0.5],
        },
        scale: 1.0,
        creator: format!("plaza1creator{}", i % PEOPLE),
        attributes: vec![
            Attribute {
                trait_type: "colour".into(),
                value: AttributeValue::Text(ADJECTIVES[rng.index(ADJECTIVES.len())].into()),
            },
            Attribute {
                trait_type: "edition".into(),
                value: AttributeValue::Number(rng.below(100) as f64),
            },
        ],
        external_url: None,
    }
}

/// The ledger's records, made up: assets, their open listings, rentals.
struct World {
    rng: Rng,
    time: u64,
    next_asset: u64,
    next_listing: u64,
    next_rental: u64,
    assets: HashMap<AssetId, Asset>,
    listings: HashMap<ListingId, Listing>,
    /// Open listings, to pick from.
    open: Vec<ListingId>,
    manifests: HashMap<AssetId, Arc<Manifest>>,
}

impl World {
    fn new() -> Self {
        World {
            rng: Rng(42),
            time: T0,
            next_asset: 0,
            next_listing: 0,
            next_rental: 0,
            // Room for every record the run makes, so that the generator's
            // tables never grow (and free their old memory) mid-run.
            assets: HashMap::with_capacity(RECORDS),
            listings: HashMap::with_capacity(RECORDS),
            open: Vec::with_capacity(RECORDS),
            manifests: HashMap::with_capacity(RECORDS),
        }
    }

    fn terms(&mut self) -> ListingTerms {
        if self.rng.chance(65) {
            let min = 1 + self.rng.below(3) as u32;
            ListingTerms::Rent(RentTerms {
                price_per_period: 1 + self.rng.below(500),
                period_secs: [900, 3_600, 86_400, 604_800][self.rng.index(4)],
                min_periods: min,
                max_periods: min + self.rng.below(30) as u32,
                deposit: self.rng.below(1_000),
                reserved_for: self.rng.chance(2).then(|| person(self.rng.below(PEOPLE))),
            })
        } else {
            ListingTerms::Sale {
                price: 10 + self.rng.below(100_000),
            }
        }
    }

    /// Mints a new asset and lists it.
    fn new_listing(&mut self, created_at: u64) -> (Listing, Asset) {
        let index = self.next_asset;
        self.next_asset += 1;
        let id = asset_id(index);
        let made = manifest(&mut self.rng, index);
        self.manifests.insert(id, Arc::new(made));
        let owner = person(self.rng.below(PEOPLE));
        let asset = Asset {
            id,
            creator: person(self.rng.below(PEOPLE / 10)),
            owner,
            royalty_bps: 250,
            minted_at: 1,
            owner_seq: 0,
            listing: None,
            rental: None,
        };
        self.list(asset, created_at)
    }

    fn list(&mut self, mut asset: Asset, created_at: u64) -> (Listing, Asset) {
        let listing = Listing {
            id: ListingId(self.next_listing),
            asset: asset.id,
            lister: asset.owner,
            owner_seq: asset.owner_seq,
            terms: self.terms(),
            expires_at: self.time + 3_600 + self.rng.below(30 * 86_400),
            created_at,
            status: ListingStatus::Open,
        };
        self.next_listing += 1;
        asset.listing = Some(listing.id);
        self.assets.insert(asset.id, asset.clone());
        self.listings.insert(listing.id, listing.clone());
        self.open.push(listing.id);
        (listing, asset)
    }

    /// Rents `asset` out from `now` for 15 minutes to a day.
    fn rent_out(&mut self, asset: &mut Asset, now: u64) {
        asset.rental = Some(ActiveRental {
            id: RentalId(self.next_rental),
            renter: person(self.rng.below(PEOPLE)),
            ends_at: now + 900 * (1 + self.rng.below(96)),
        });
        self.next_rental += 1;
        self.assets.insert(asset.id, asset.clone());
    }

    fn take_open(&mut self) -> Option<(Listing, Asset)> {
        if self.open.is_empty() {
            return None;
        }
        let at = self.rng.index(self.open.len());
        let id = self.open.swap_remove(at);
        let listing = self.listings.remove(&id)?;
        let asset = self.assets.get(&listing.asset)?.clone();
        Some((listing, asset))
    }

    fn pick_open(&mut self) -> Option<(Listing, Asset)> {
        if self.open.is_empty() {
            return None;
        }
        let id = self.open[self.rng.index(self.open.len())];
        let listing = self.listings.get(&id)?.clone();
        let asset = self.assets.get(&listing.asset)?.clone();
        Some((listing, asset))
    }

    /// One block's worth of changes: new listings, cancels, sales,
    /// rentals beginning and ending, price changes.
    fn block(&mut self, changes: usize, listings: &mut Vec<Listing>, assets: &mut Vec<Asset>) {
        self.time += 5;
        let time = self.time;
        listings.clear();
        assets.clear();
        while listings.len() + assets.len() < changes {
            match self.rng.below(100) {
                0..30 => {
                    let (listing, asset) = self.new_listing(time);
                    listings.push(listing);
                    assets.push(asset);
                }
                30..50 => {
                    if let Some((mut listing, mut asset)) = self.take_open() {
                        listing.status = ListingStatus::Cancelled { at: time };
                        asset.listing = None;
                        self.assets.insert(asset.id, asset.clone());
                        listings.push(listing);
                        assets.push(asset);
                    }
                }
                50..70 => {
                    if let Some((_, mut asset)) = self.pick_open()
                        && asset.rental.is_none()
                    {
                        self.rent_out(&mut asset, time);
                        assets.push(asset);
                    }
                }
                70..85 => {
                    if let Some((_, mut asset)) = self.pick_open()
                        && asset.rental.is_some()
                    {
                        asset.rental = None;
                        self.assets.insert(asset.id, asset.clone());
                        assets.push(asset);
                    }
                }
                85..95 => {
                    if let Some((mut listing, mut asset)) = self.take_open() {
                        let buyer = person(self.rng.below(PEOPLE));
                        listing.status = ListingStatus::Sold { buyer, at: time };
                        asset.owner = buyer;
                        asset.owner_seq += 1;
                        asset.listing = None;
                        asset.rental = None;
                        self.assets.insert(asset.id, asset.clone());
                        listings.push(listing);
                        assets.push(asset);
                    }
                }
                _ => {
                    // A new price: the old listing is cancelled and the
                    // asset listed again.
                    if let Some((mut old, mut asset)) = self.take_open() {
                        old.status = ListingStatus::Cancelled { at: time };
                        listings.push(old);
                        asset.rental = None;
                        let (listing, asset) = self.list(asset, time);
                        listings.push(listing);
                        assets.push(asset);
                    }
                }
            }
        }
    }
}

fn plaza() -> WorldLayout {
    WorldLayout {
        name: "plaza".into(),
        stalls: AssetKind::ALL
            .iter()
            .flat_map(|kind| {
                (0..3).map(move |i| Stall {
                    name: format!("{kind} stall {i}"),
                    kinds: vec![*kind],
                })
            })
            .collect(),
        parcels: (0..200)
            .map(|i| Parcel {
                name: format!("parcel {i}"),
                holder: Some(person(i * 7)),
                deed: None,
                tenure: None,
            })
            .collect(),
    }
}

/// A query a user might make, and how many pages they read.
fn random_query(rng: &mut Rng, now: u64) -> (Query, usize) {
    let mut query = Query::default();
    let sorts = [
        Sort::Newest,
        Sort::PriceLow,
        Sort::PriceHigh,
        Sort::EndingSoon,
    ];
    query.sort = sorts[rng.index(sorts.len())];
    query.page_size = [12, 20, 24, 50][rng.index(4)];
    query.viewer = Some(person(rng.below(PEOPLE)));
    match rng.below(10) {
        0 => {}
        1 | 2 => {
            query.kind = Some(AssetKind::ALL[rng.index(AssetKind::ALL.len())]);
            query.side = Some(if rng.chance(50) {
                Side::Rent
            } else {
                Side::Sale
            });
        }
        3 | 4 => {
            let words = [
                "lamp",
                "brass",
                "oak chair",
                "velvet hat",
                "gold",
                "lan",
                "harbour",
                "fountain",
                "royal painting",
                "cactus",
                "ma",
                "sculpture marble",
            ];
            query.text = words[rng.index(words.len())].into();
            if rng.chance(30) {
                query.side = Some(Side::Rent);
            }
        }
        5 => {
            let low = rng.below(300);
            query.side = Some(Side::Rent);
            query.price = Some(PriceRange {
                range: Range {
                    min: low,
                    max: low + 1 + rng.below(100),
                },
                basis: if rng.chance(50) {
                    PriceBasis::PerPeriod
                } else {
                    PriceBasis::Total
                },
            });
            query.sort_basis = query.price.map(|p| p.basis).unwrap_or_default();
        }
        6 => query.creator = Some(person(rng.below(PEOPLE / 10))),
        7 => query.owner = Some(person(rng.below(PEOPLE))),
        8 => {
            query.world = Some("plaza".into());
            query.place = Some(if rng.chance(50) {
                Place::Stall(rng.below(27) as u16)
            } else {
                Place::Parcel(rng.below(200) as u16)
            });
        }
        _ => {
            query.available = if rng.chance(50) {
                Availability::Now
            } else {
                Availability::At(now + rng.below(86_400))
            };
            query.period_secs = Some(Range {
                min: 3_600,
                max: 86_400,
            });
            query.kind = Some(AssetKind::ALL[rng.index(AssetKind::ALL.len())]);
        }
    }
    let pages = if rng.chance(25) { 3 } else { 1 };
    (query, pages)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() -> Result<(), MarketError> {
    eprintln!("making {LISTINGS} listings");
    let mut world = World::new();
    let mut listings = Vec::with_capacity(LISTINGS);
    let mut assets = Vec::with_capacity(LISTINGS);
    for i in 0..LISTINGS {
        let created = T0 - (LISTINGS - i) as u64 * 20;
        let (listing, mut asset) = world.new_listing(created);
        if world.rng.chance(20) {
            world.rent_out(&mut asset, T0);
        }
        listings.push(listing);
        assets.push(asset);
    }
    let started = Instant::now();
    let mut catalogue = Catalogue::build(&listings, &assets, T0, &world.manifests)?;
    catalogue.add_world(plaza())?;
    let build = started.elapsed();
    drop((listings, assets));
    eprintln!(
        "built: {} listings in {:.0} ms",
        catalogue.len(),
        build.as_secs_f64() * 1e3
    );

    let mut rng = Rng(7);
    let mut times = Vec::with_capacity(QUERIES);
    let mut hits = 0usize;
    let now = T0;
    while times.len() < QUERIES {
        let (mut query, pages) = random_query(&mut rng, now);
        for _ in 0..pages {
            if times.len() == QUERIES {
                break;
            }
            let started = Instant::now();
            let page = catalogue.search(&query, now)?;
            times.push(started.elapsed());
            hits += page.hits.len();
            match page.next {
                Some(next) => query.after = Some(next),
                None => break,
            }
        }
    }
    times.sort_unstable();
    let (p50, p99) = (percentile(&times, 0.50), percentile(&times, 0.99));
    eprintln!(
        "queries: {QUERIES} ({} hits), p50 {:.0} µs, p99 {:.0} µs (floor {QUERY_P99_FLOOR_US:.0} µs), slowest {:.0} µs",
        hits,
        micros(p50),
        micros(p99),
        micros(times[times.len() - 1]),
    );

    let mut block_times = Vec::with_capacity(BLOCKS);
    let (mut listings, mut assets) = (Vec::new(), Vec::new());
    for _ in 0..BLOCKS {
        world.block(CHANGES_PER_BLOCK, &mut listings, &mut assets);
        let changes = Changes {
            time: world.time,
            listings: &listings,
            assets: &assets,
            height: None,
        };
        let started = Instant::now();
        catalogue.apply(changes, &world.manifests)?;
        block_times.push(started.elapsed());
    }
    let mean = block_times.iter().sum::<Duration>() / BLOCKS as u32;
    block_times.sort_unstable();
    let slowest = block_times[BLOCKS - 1];
    let over = block_times
        .iter()
        .filter(|time| time.as_secs_f64() * 1e3 > BLOCK_FLOOR_MS)
        .count();
    eprintln!(
        "blocks: {BLOCKS} of {CHANGES_PER_BLOCK} changes, mean {:.2} ms, median {:.2} ms, slowest {:.2} ms (floor {BLOCK_FLOOR_MS:.0} ms, {over} over it); {} listings after",
        mean.as_secs_f64() * 1e3,
        block_times[BLOCKS / 2].as_secs_f64() * 1e3,
        slowest.as_secs_f64() * 1e3,
        catalogue.len()
    );
    println!(
        "{{\"query_p50_us\": {:.1}, \"query_p99_us\": {:.1}, \"block_update_ms\": {:.2}}}",
        micros(p50),
        micros(p99),
        slowest.as_secs_f64() * 1e3
    );
    Ok(())
}
