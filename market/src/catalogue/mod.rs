//! The catalogue: every open listing with its asset's manifest fields,
//! built from ledger state and kept current from each block's changes.
//!
//! Listings live in slots. What a query filters and sorts on is kept in
//! columns, one array per field, so a scan touches only the fields it
//! asks about; sets of slots by kind, creator, owner, word and place let a
//! selective query visit only its candidates.

mod land;
mod query;
mod slots;
mod text;
mod world;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use assets::{AssetKind, AttributeValue, Manifest};
use foldhash::HashMap;
use ledger::{
    Address, Amount, Asset, AssetId, CommittedBlock, Height, Listing, ListingId, ListingStatus,
    ListingTerms, Timestamp,
};

use crate::error::MarketError;

pub use land::{PARCEL_TRAIT, ParcelChange, WORLD_TRAIT, deed_of};
pub use query::{
    Availability, Cursor, Hit, MAX_PAGE, MAX_PREFIX_WORDS, Page, PriceBasis, PriceRange, Query,
    Range, Side, Sort,
};
pub use text::MAX_QUERY_WORDS;
use world::Placer;
pub use world::{MAX_PLACES, MAX_WORLDS, Parcel, Place, Stall, WorldLayout};

/// Where the catalogue finds an asset's manifest.
///
/// A source must only return the manifest whose content id is the asset's
/// id: one read from the blob store, which checks every byte against its
/// content id, is such a source. A manifest from elsewhere goes through
/// [`Catalogue::set_manifest`], which checks it.
pub trait Manifests {
    /// The manifest of `asset`, if it is at hand.
    fn manifest(&self, asset: &AssetId) -> Option<Arc<Manifest>>;
}

impl<S: std::hash::BuildHasher> Manifests for std::collections::HashMap<AssetId, Arc<Manifest>, S> {
    fn manifest(&self, asset: &AssetId) -> Option<Arc<Manifest>> {
        self.get(asset).cloned()
    }
}

/// No manifests at hand: listings are indexed without their names and
/// kinds until [`Catalogue::set_manifest`] brings them.
pub struct NoManifests;

impl Manifests for NoManifests {
    fn manifest(&self, _: &AssetId) -> Option<Arc<Manifest>> {
        None
    }
}

/// What one block changed, as the catalogue needs it.
#[derive(Clone, Copy, Debug)]
pub struct Changes<'a> {
    /// The block's time.
    pub time: Timestamp,
    /// Listings made or changed, as they are after the block.
    pub listings: &'a [Listing],
    /// Assets changed, as they are after the block. Every asset of a
    /// listing in `listings` that the catalogue does not hold yet must be
    /// here; the ledger changes an asset whenever it lists it.
    pub assets: &'a [Asset],
    /// The block's height: only assets minted at it can be new deeds
    /// (`None`: any of `assets`, as when a catalogue is built).
    pub height: Option<Height>,
}

impl<'a> From<&'a CommittedBlock> for Changes<'a> {
    fn from(block: &'a CommittedBlock) -> Self {
        Changes {
            time: block.time,
            listings: &block.listings,
            assets: &block.assets,
            height: Some(block.height),
        }
    }
}

use slots::SlotSet as Slots;

/// Bits of a slot's flags column.
mod flag {
    /// The slot holds a listing.
    pub(super) const LIVE: u8 = 0x80;
    /// The listing is reserved for one renter.
    pub(super) const RESERVED: u8 = 0x40;
    /// A rent listing (else a sale).
    pub(super) const RENT: u8 = 0x20;
    /// The low bits: the asset's kind, 0 while unknown, else its index in
    /// `AssetKind::ALL` plus one.
    pub(super) const KIND: u8 = 0x0f;
}

fn kind_code(kind: Option<AssetKind>) -> u8 {
    kind.and_then(|kind| AssetKind::ALL.iter().position(|k| *k == kind))
        .and_then(|index| u8::try_from(index + 1).ok())
        .unwrap_or(0)
}

/// Index into the kind-and-side sets.
fn kind_set(rent: bool, code: u8) -> usize {
    usize::from(rent) * 16 + usize::from(code & flag::KIND)
}

/// The fields queries filter and sort on, one array per field, indexed by
/// slot.
#[derive(Default)]
struct Columns {
    flags: Vec<u8>,
    /// Price of one period, or the sale price.
    price: Vec<Amount>,
    /// The least a renter pays into escrow (rent for the fewest periods
    /// and the deposit), or the sale price.
    total: Vec<Amount>,
    /// Length of a period; 0 for a sale.
    period: Vec<u64>,
    created: Vec<Timestamp>,
    expires: Vec<Timestamp>,
    /// When the asset's current rental ends; 0 when it is not rented.
    free_at: Vec<Timestamp>,
    /// Bit `i` set when world `i` shows the listing.
    worlds: Vec<u64>,
    creator: Vec<u32>,
    owner: Vec<u32>,
    /// The address the listing is reserved for; 0 when it is not.
    reserved: Vec<u32>,
    listing: Vec<u64>,
}

impl Columns {
    fn push_empty(&mut self) {
        self.flags.push(0);
        self.price.push(0);
        self.total.push(0);
        self.period.push(0);
        self.created.push(0);
        self.expires.push(0);
        self.free_at.push(0);
        self.worlds.push(0);
        self.creator.push(0);
        self.owner.push(0);
        self.reserved.push(0);
        self.listing.push(0);
    }
}

/// What the catalogue keeps of a listing beyond its columns.
#[derive(Clone, Debug)]
struct Record {
    listing: Listing,
    creator: Address,
    rented_until: Option<Timestamp>,
    manifest: Option<Arc<Manifest>>,
    /// The words it is found by, and their numbers in the dictionary.
    words: Arc<str>,
    word_ids: Vec<u32>,
    /// (world index, place) for every world that shows it.
    places: Vec<(u16, Place)>,
}

/// Addresses by small number, so that columns hold 4 bytes, not 32.
#[derive(Default)]
struct Interned {
    ids: HashMap<Address, u32>,
    addresses: Vec<Address>,
}

impl Interned {
    /// The number of `address`, made if new. Numbers start at 1; 0 means
    /// "no address".
    fn id(&mut self, address: Address) -> u32 {
        if let Some(id) = self.ids.get(&address) {
            return *id;
        }
        self.addresses.push(address);
        let id = u32::try_from(self.addresses.len()).unwrap_or(u32::MAX);
        self.ids.insert(address, id);
        id
    }

    /// The number of `address` if it has one.
    fn find(&self, address: &Address) -> Option<u32> {
        self.ids.get(address).copied()
    }
}

/// The words listings are found by, numbered, with the slots of each.
#[derive(Default)]
struct Words {
    ids: HashMap<Box<str>, u32>,
    /// Numbers by value: names such as "no. 4521" give nearly every
    /// listing a word of its own, and a table of integers, with no string
    /// to make or free, is far cheaper to keep up through that churn than
    /// one of strings.
    numbers: HashMap<u64, u32>,
    /// The words that match by prefix, in order.
    sorted: BTreeMap<Box<str>, u32>,
    slots: Vec<Slots>,
    /// What each number stands for, to forget it when no listing has it.
    names: Vec<Word>,
    free: Vec<u32>,
}

/// A word as the dictionary keeps it.
#[derive(Clone, Debug, Default)]
enum Word {
    /// A number no longer in use, free for the next new word.
    #[default]
    Unused,
    Text(Box<str>),
    Number(u64),
}

impl Words {
    /// The number of `word`, if any listing has it.
    fn id(&self, word: &str) -> Option<u32> {
        match text::number(word) {
            Some(number) => self.numbers.get(&number).copied(),
            None => self.ids.get(word).copied(),
        }
    }

    /// Adds `slot` under `word`; the word's number.
    fn add(&mut self, word: &str, slot: u32) -> u32 {
        let number = text::number(word);
        let known = match number {
            Some(number) => self.numbers.get(&number).copied(),
            None => self.ids.get(word).copied(),
        };
        let id = match known {
            Some(id) => id,
            None => {
                let name = match number {
                    Some(number) => Word::Number(number),
                    None => Word::Text(word.into()),
                };
                let id = match self.free.pop() {
                    Some(id) => {
                        self.names[id as usize] = name.clone();
                        id
                    }
                    None => {
                        self.names.push(name.clone());
                        self.slots.push(Slots::default());
                        u32::try_from(self.names.len() - 1).unwrap_or(u32::MAX)
                    }
                };
                match name {
                    Word::Number(number) => {
                        self.numbers.insert(number, id);
                    }
                    Word::Text(name) => {
                        if !text::matches_whole(&name) {
                            self.sorted.insert(name.clone(), id);
                        }
                        self.ids.insert(name, id);
                    }
                    Word::Unused => {}
                }
                id
            }
        };
        self.slots[id as usize].insert(slot);
        id
    }

    /// Takes `slot` from word `id`; a word no listing has is forgotten.
    fn remove(&mut self, id: u32, slot: u32) {
        let Some(slots) = self.slots.get_mut(id as usize) else {
            return;
        };
        slots.remove(slot);
        if slots.is_empty() {
            match std::mem::take(&mut self.names[id as usize]) {
                Word::Number(number) => {
                    self.numbers.remove(&number);
                }
                Word::Text(name) => {
                    self.ids.remove(&name);
                    self.sorted.remove(&name);
                }
                Word::Unused => return,
            }
            self.free.push(id);
        }
    }
}

/// The searchable index of open listings.
pub struct Catalogue {
    columns: Columns,
    records: Vec<Option<Record>>,
    free: Vec<u32>,
    by_listing: HashMap<ListingId, u32>,
    by_asset: HashMap<AssetId, u32>,
    /// Slots by side and kind: see [`kind_set`].
    kinds: Vec<Slots>,
    creators: HashMap<u32, Slots>,
    owners: HashMap<u32, Slots>,
    words: Words,
    places: HashMap<(u16, Place), Slots>,
    expiry: BTreeSet<(Timestamp, u32)>,
    addresses: Interned,
    worlds: Vec<WorldLayout>,
    /// Each world's placement rule, ready to apply.
    placers: Vec<Placer>,
    /// The worlds (one bit each, by index) whose stalls or parcels
    /// gained, lost or changed a listing since they were last taken.
    changed_worlds: u64,
    /// The founder and its deeds, once named.
    land: Option<land::Land>,
    /// Parcels (world, parcel) whose deed or holder changed since they
    /// were last taken.
    changed_parcels: Vec<(u16, u16)>,
    /// Scratch space for [`Catalogue::apply`]: the block's assets by id.
    changed_assets: HashMap<AssetId, usize>,
    scratch: Scratch,
    time: Timestamp,
}

impl Default for Catalogue {
    fn default() -> Self {
        Catalogue::new()
    }
}

impl Catalogue {
    /// An empty catalogue.
    pub fn new() -> Self {
        Catalogue {
            columns: Columns::default(),
            records: Vec::new(),
            free: Vec::new(),
            by_listing: HashMap::default(),
            by_asset: HashMap::default(),
            kinds: vec![Slots::default(); 32],
            creators: HashMap::default(),
            owners: HashMap::default(),
            words: Words::default(),
            places: HashMap::default(),
            expiry: BTreeSet::new(),
            addresses: Interned::default(),
            worlds: Vec::new(),
            placers: Vec::new(),
            changed_worlds: 0,
            land: None,
            changed_parcels: Vec::new(),
            changed_assets: HashMap::default(),
            scratch: Scratch::default(),
            time: 0,
        }
    }

    /// A catalogue of the open listings among `listings`, at `time`;
    /// `assets` must hold the asset of every open listing.
    pub fn build(
        listings: &[Listing],
        assets: &[Asset],
        time: Timestamp,
        manifests: &impl Manifests,
    ) -> Result<Self, MarketError> {
        let mut catalogue = Catalogue::new();
        catalogue.apply(
            Changes {
                time,
                listings,
                assets,
                height: None,
            },
            manifests,
        )?;
        Ok(catalogue)
    }

    /// Listings indexed.
    pub fn len(&self) -> usize {
        self.by_listing.len()
    }

    /// Whether no listing is indexed.
    pub fn is_empty(&self) -> bool {
        self.by_listing.is_empty()
    }

    /// The time of the last block applied.
    pub fn time(&self) -> Timestamp {
        self.time
    }

    /// Brings the catalogue up to date with one block's changes: listings
    /// opened, changed or closed, assets rented, returned or handed over,
    /// and listings that expired by the block's time. Nothing is changed
    /// when an error is returned.
    pub fn apply(
        &mut self,
        changes: Changes<'_>,
        manifests: &impl Manifests,
    ) -> Result<(), MarketError> {
        let mut assets = std::mem::take(&mut self.changed_assets);
        assets.clear();
        assets.extend(
            changes
                .assets
                .iter()
                .enumerate()
                .map(|(index, asset)| (asset.id, index)),
        );
        let result = self.apply_with(changes, &assets, manifests);
        self.changed_assets = assets;
        result
    }

    fn apply_with(
        &mut self,
        changes: Changes<'_>,
        assets: &HashMap<AssetId, usize>,
        manifests: &impl Manifests,
    ) -> Result<(), MarketError> {
        let time = changes.time.max(self.time);
        // Check first, so that a bad batch leaves the catalogue as it was.
        for listing in changes.listings {
            if Self::shown(listing, time)
                && !assets.contains_key(&listing.asset)
                && !self.by_asset.contains_key(&listing.asset)
            {
                return Err(MarketError::MissingAsset {
                    listing: listing.id,
                    asset: listing.asset,
                });
            }
        }
        self.time = time;
        // Open listings go first: one that replaces a listing of the same
        // asset closed in this block (a new price) then takes over the
        // words already made for the asset; closed listings are removed
        // after.
        for listing in changes.listings {
            if !Self::shown(listing, time) {
                continue;
            }
            match assets
                .get(&listing.asset)
                .map(|index| &changes.assets[*index])
            {
                Some(asset) if Self::current(listing, asset) => {
                    let rented_until = asset.rental.map(|rental| rental.ends_at);
                    self.update_listing(listing, asset.creator, rented_until, manifests);
                }
                Some(_) => self.remove_listing(listing.id),
                None => {
                    // The asset did not change: it is the one indexed.
                    if let Some(record) = self.record_of_asset(&listing.asset)
                        && record.listing.id == listing.id
                    {
                        let (creator, rented_until) = (record.creator, record.rented_until);
                        self.update_listing(listing, creator, rented_until, manifests);
                    } else {
                        self.remove_listing(listing.id);
                    }
                }
            }
        }
        for listing in changes.listings {
            if !Self::shown(listing, time) {
                self.remove_listing(listing.id);
            }
        }
        for asset in changes.assets {
            let Some(&slot) = self.by_asset.get(&asset.id) else {
                continue;
            };
            let Some((current, id)) = self
                .record(slot)
                .map(|record| (Self::current(&record.listing, asset), record.listing.id))
            else {
                continue;
            };
            if current {
                self.set_rented(slot, asset.rental.map(|rental| rental.ends_at));
            } else {
                self.remove_listing(id);
            }
        }
        self.purge_expired();
        self.update_land(changes.assets, changes.height, manifests);
        Ok(())
    }

    /// Whether a listing belongs in the catalogue at `time`.
    fn shown(listing: &Listing, time: Timestamp) -> bool {
        listing.status == ListingStatus::Open && time < listing.expires_at
    }

    /// Whether `listing` is the one `asset` is listed under now.
    fn current(listing: &Listing, asset: &Asset) -> bool {
        asset.listing == Some(listing.id)
            && asset.owner_seq == listing.owner_seq
            && asset.owner == listing.lister
    }

    fn record(&self, slot: u32) -> Option<&Record> {
        self.records
            .get(slot as usize)
            .and_then(|record| record.as_ref())
    }

    fn record_of_asset(&self, asset: &AssetId) -> Option<&Record> {
        self.by_asset.get(asset).and_then(|slot| self.record(*slot))
    }

    /// Indexes `listing` afresh, replacing what was indexed for it or for
    /// its asset.
    fn update_listing(
        &mut self,
        listing: &Listing,
        creator: Address,
        rented_until: Option<Timestamp>,
        manifests: &impl Manifests,
    ) {
        // A listing of an asset already indexed keeps its manifest and
        // words: the same asset has the same manifest.
        let indexed = self.record_of_asset(&listing.asset);
        let kept = indexed
            .filter(|record| record.manifest.is_some())
            .map(|record| (record.manifest.clone(), record.words.clone()));
        if let Some(id) = indexed.map(|record| record.listing.id) {
            self.remove_listing(id);
        }
        self.remove_listing(listing.id);
        let (manifest, words) = kept.unwrap_or_else(|| {
            let manifest = manifests.manifest(&listing.asset);
            let words = index_words(manifest.as_deref(), &mut self.scratch);
            (manifest, words)
        });
        let record = Record {
            listing: listing.clone(),
            creator,
            rented_until,
            words,
            word_ids: Vec::new(),
            manifest,
            places: Vec::new(),
        };
        self.insert(record);
    }

    fn insert(&mut self, mut record: Record) {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.columns.push_empty();
                self.records.push(None);
                u32::try_from(self.records.len() - 1).unwrap_or(u32::MAX)
            }
        };
        let listing = &record.listing;
        let creator = self.addresses.id(record.creator);
        let owner = self.addresses.id(listing.lister);
        let kind = kind_code(record.manifest.as_ref().map(|manifest| manifest.kind));
        let (rent, price, total, period, reserved) = match &listing.terms {
            ListingTerms::Rent(terms) => (
                true,
                terms.price_per_period,
                terms
                    .price_per_period
                    .saturating_mul(u64::from(terms.min_periods))
                    .saturating_add(terms.deposit),
                terms.period_secs,
                terms.reserved_for.map_or(0, |to| self.addresses.id(to)),
            ),
            ListingTerms::Sale { price } => (false, *price, *price, 0, 0),
        };
        let mut flags = flag::LIVE | kind;
        if rent {
            flags |= flag::RENT;
        }
        if reserved != 0 {
            flags |= flag::RESERVED;
        }
        let at = slot as usize;
        let columns = &mut self.columns;
        columns.flags[at] = flags;
        columns.price[at] = price;
        columns.total[at] = total;
        columns.period[at] = period;
        columns.created[at] = listing.created_at;
        columns.expires[at] = listing.expires_at;
        columns.free_at[at] = record.rented_until.unwrap_or(0);
        columns.creator[at] = creator;
        columns.owner[at] = owner;
        columns.reserved[at] = reserved;
        columns.listing[at] = listing.id.0;
        columns.worlds[at] = 0;

        // Twice the room the tables need: under steady churn a full hash
        // table stops now and then to clear its deleted entries, and the
        // more room it has, the rarer that is.
        if self.by_listing.capacity() < 2 * self.by_listing.len() + 64 {
            self.by_listing.reserve(self.by_listing.len() + 64);
            self.by_asset.reserve(self.by_asset.len() + 64);
        }
        self.by_listing.insert(listing.id, slot);
        self.by_asset.insert(listing.asset, slot);
        self.kinds[kind_set(rent, kind)].insert(slot);
        self.creators.entry(creator).or_default().insert(slot);
        self.owners.entry(owner).or_default().insert(slot);
        record.word_ids = text::split(&record.words)
            .map(|word| self.words.add(word, slot))
            .collect();
        self.expiry.insert((listing.expires_at, slot));
        record.places = self.places_of(&record, kind);
        for (world, place) in &record.places {
            self.columns.worlds[at] |= 1u64 << world;
            self.places
                .entry((*world, *place))
                .or_default()
                .insert(slot);
        }
        self.changed_worlds |= self.columns.worlds[at];
        self.records[at] = Some(record);
    }

    fn places_of(&self, record: &Record, kind: u8) -> Vec<(u16, Place)> {
        let kind = (kind != 0).then(|| usize::from(kind - 1));
        self.placers
            .iter()
            .enumerate()
            .filter_map(|(index, placer)| {
                let place = placer.place(record.listing.id, &record.listing.lister, kind)?;
                Some((u16::try_from(index).ok()?, place))
            })
            .collect()
    }

    fn remove_listing(&mut self, id: ListingId) {
        let Some(slot) = self.by_listing.remove(&id) else {
            return;
        };
        let at = slot as usize;
        let Some(record) = self.records.get_mut(at).and_then(Option::take) else {
            return;
        };
        if self.by_asset.get(&record.listing.asset) == Some(&slot) {
            self.by_asset.remove(&record.listing.asset);
        }
        let columns = &mut self.columns;
        let flags = columns.flags[at];
        self.kinds[kind_set(flags & flag::RENT != 0, flags)].remove(slot);
        remove_from(&mut self.creators, &columns.creator[at], slot);
        remove_from(&mut self.owners, &columns.owner[at], slot);
        for id in &record.word_ids {
            self.words.remove(*id, slot);
        }
        for key in &record.places {
            remove_from(&mut self.places, key, slot);
        }
        self.expiry.remove(&(columns.expires[at], slot));
        self.changed_worlds |= columns.worlds[at];
        columns.flags[at] = 0;
        columns.worlds[at] = 0;
        self.free.push(slot);
    }

    fn set_rented(&mut self, slot: u32, until: Option<Timestamp>) {
        if let Some(Some(record)) = self.records.get_mut(slot as usize)
            && record.rented_until != until
        {
            record.rented_until = until;
            self.columns.free_at[slot as usize] = until.unwrap_or(0);
            self.changed_worlds |= self.columns.worlds[slot as usize];
        }
    }

    fn purge_expired(&mut self) {
        while let Some(&(expires, slot)) = self.expiry.first() {
            if expires > self.time {
                break;
            }
            match self.record(slot).map(|record| record.listing.id) {
                Some(id) => self.remove_listing(id),
                None => {
                    self.expiry.pop_first();
                }
            }
        }
    }

    /// Gives the asset its manifest, fetched from a peer: refused unless
    /// its content id is the asset's id. Returns whether a listed asset
    /// took it.
    pub fn set_manifest(
        &mut self,
        asset: AssetId,
        manifest: Manifest,
    ) -> Result<bool, MarketError> {
        let id = manifest
            .content_id()
            .map_err(|err| MarketError::BadManifest(err.to_string()))?;
        if id != asset.content_id() {
            return Err(MarketError::ManifestMismatch { asset, got: id });
        }
        let Some(record) = self.record_of_asset(&asset).cloned() else {
            return Ok(false);
        };
        self.remove_listing(record.listing.id);
        let manifest = Some(Arc::new(manifest));
        let words = index_words(manifest.as_deref(), &mut self.scratch);
        self.insert(Record {
            words,
            word_ids: Vec::new(),
            manifest,
            places: Vec::new(),
            ..record
        });
        Ok(true)
    }

    /// Listed assets whose manifest the catalogue lacks.
    pub fn missing_manifests(&self) -> Vec<AssetId> {
        let mut missing: Vec<AssetId> = self
            .records
            .iter()
            .flatten()
            .filter(|record| record.manifest.is_none())
            .map(|record| record.listing.asset)
            .collect();
        missing.sort_unstable();
        missing
    }

    /// Adds a world: its stalls and parcels show listings from now on.
    pub fn add_world(&mut self, layout: WorldLayout) -> Result<(), MarketError> {
        layout.validate()?;
        if self.worlds.iter().any(|world| world.name == layout.name) {
            return Err(MarketError::BadWorld {
                world: layout.name,
                reason: "a world of that name is already in the catalogue".into(),
            });
        }
        if self.worlds.len() == MAX_WORLDS {
            return Err(MarketError::BadWorld {
                world: layout.name,
                reason: format!("a catalogue places listings in at most {MAX_WORLDS} worlds"),
            });
        }
        self.placers.push(Placer::new(&layout));
        self.worlds.push(layout);
        self.replace_all(|_| true);
        self.settle_land();
        Ok(())
    }

    /// The worlds, in the order they were added.
    pub fn worlds(&self) -> &[WorldLayout] {
        &self.worlds
    }

    /// The names of the worlds whose stalls or parcels gained, lost or
    /// changed a listing (one opened, closed, expired, rented out or
    /// back, or placed elsewhere) since the last call, in the order they
    /// were added; a world's players restock what they show from them.
    pub fn take_changed_worlds(&mut self) -> Vec<String> {
        let changed = std::mem::take(&mut self.changed_worlds);
        self.worlds
            .iter()
            .enumerate()
            .filter(|(index, _)| changed & (1u64 << index) != 0)
            .map(|(_, world)| world.name.clone())
            .collect()
    }

    /// Gives a parcel with no deed to `holder` (or to nobody): the
    /// listings of its old and new holder move accordingly. A parcel with
    /// a deed is its deed's holder's (see [`Catalogue::set_founder`]).
    pub fn set_parcel_holder(
        &mut self,
        world: &str,
        parcel: u16,
        holder: Option<Address>,
    ) -> Result<(), MarketError> {
        let index = self.world_index(world)?;
        let layout = &mut self.worlds[usize::from(index)];
        let Some(slot) = layout.parcels.get_mut(usize::from(parcel)) else {
            return Err(MarketError::UnknownPlace {
                world: world.to_string(),
                place: Place::Parcel(parcel),
            });
        };
        if slot.deed.is_some() {
            return Err(MarketError::BadWorld {
                world: world.to_string(),
                reason: format!(
                    "{} has a deed on the ledger: its holder is the deed's",
                    slot.name
                ),
            });
        }
        let old = std::mem::replace(&mut slot.holder, holder);
        self.placers[usize::from(index)] = Placer::new(layout);
        let movers: Vec<Address> = old.into_iter().chain(holder).collect();
        self.replace_all(|record| movers.contains(&record.listing.lister));
        Ok(())
    }

    fn world_index(&self, name: &str) -> Result<u16, MarketError> {
        self.worlds
            .iter()
            .position(|world| world.name == name)
            .and_then(|index| u16::try_from(index).ok())
            .ok_or_else(|| MarketError::UnknownWorld(name.to_string()))
    }

    /// Places again every listing that `which` selects.
    fn replace_all(&mut self, which: impl Fn(&Record) -> bool) {
        let slots: Vec<u32> = self
            .records
            .iter()
            .enumerate()
            .filter(|(_, record)| record.as_ref().is_some_and(&which))
            .filter_map(|(slot, _)| u32::try_from(slot).ok())
            .collect();
        for slot in slots {
            let at = slot as usize;
            let Some(record) = self.records[at].as_ref() else {
                continue;
            };
            let kind = self.columns.flags[at] & flag::KIND;
            let places = self.places_of(record, kind);
            let old = record.places.clone();
            for key in &old {
                remove_from(&mut self.places, key, slot);
            }
            self.changed_worlds |= self.columns.worlds[at];
            self.columns.worlds[at] = 0;
            for (world, place) in &places {
                self.columns.worlds[at] |= 1u64 << world;
                self.places
                    .entry((*world, *place))
                    .or_default()
                    .insert(slot);
            }
            self.changed_worlds |= self.columns.worlds[at];
            if let Some(record) = self.records[at].as_mut() {
                record.places = places;
            }
        }
    }
}

fn remove_from<K: Eq + std::hash::Hash>(sets: &mut HashMap<K, Slots>, key: &K, slot: u32) {
    if let Some(slots) = sets.get_mut(key) {
        slots.remove(slot);
        if slots.is_empty() {
            sets.remove(key);
        }
    }
}

/// The words a listing is found by: its name, description, kind and
/// attribute values.
fn index_words(manifest: Option<&Manifest>, scratch: &mut Scratch) -> Arc<str> {
    use std::fmt::Write as _;
    let Some(manifest) = manifest else {
        return Arc::from("");
    };
    let numbers = &mut scratch.numbers;
    numbers.clear();
    for attribute in &manifest.attributes {
        if let AttributeValue::Number(number) = &attribute.value {
            // Writing to a String cannot fail.
            let _ = write!(numbers, "{number} ");
        }
    }
    let texts = [
        manifest.name.as_str(),
        manifest.description.as_str(),
        manifest.kind.as_str(),
    ]
    .into_iter()
    .chain(
        manifest
            .attributes
            .iter()
            .filter_map(|attribute| match &attribute.value {
                AttributeValue::Text(text) => Some(text.as_str()),
                AttributeValue::Number(_) => None,
            }),
    )
    .chain([numbers.as_str()]);
    Arc::from(scratch.joiner.join(texts, text::MAX_WORDS_PER_LISTING))
}

/// Buffers indexing reuses from one listing to the next.
#[derive(Default)]
struct Scratch {
    joiner: text::Joiner,
    numbers: String,
}
