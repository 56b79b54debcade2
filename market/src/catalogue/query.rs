//! Queries over the catalogue: filters, text, sort orders and pages with
//! cursors that stay put while listings come and go.

use std::collections::BinaryHeap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use assets::{AssetKind, Manifest};
use ledger::{Address, AssetId, Listing, ListingId, Timestamp};

use super::slots;
use super::text::{self, MAX_QUERY_WORDS};
use super::{Catalogue, Place, Slots, flag, kind_code, kind_set};
use crate::error::MarketError;

/// Most hits on one page.
pub const MAX_PAGE: usize = 100;

/// Rent or sale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// Listings for rent.
    Rent,
    /// Listings for sale.
    Sale,
}

/// Which price a price range or a price sort looks at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PriceBasis {
    /// The price of one period (a sale's price for a sale).
    #[default]
    PerPeriod,
    /// The least a renter pays now: rent for the fewest periods and the
    /// deposit (a sale's price for a sale).
    Total,
}

/// An inclusive range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// Smallest value let through.
    pub min: u64,
    /// Largest value let through.
    pub max: u64,
}

impl Range {
    fn contains(&self, value: u64) -> bool {
        self.min <= value && value <= self.max
    }
}

/// A price range and the price it looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PriceRange {
    /// The prices let through.
    pub range: Range,
    /// Per period or total.
    pub basis: PriceBasis,
}

/// When the asset must be free to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Availability {
    /// Any open listing, even of an asset rented out now.
    #[default]
    Any,
    /// Only listings that can be filled now: the asset is not rented out.
    Now,
    /// Only listings that will still be open at this time, of an asset
    /// whose current rental (if any) ends by then.
    At(Timestamp),
}

/// The order of hits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Sort {
    /// Most recently listed first.
    #[default]
    Newest,
    /// Cheapest first, on the query's price basis.
    PriceLow,
    /// Dearest first, on the query's price basis.
    PriceHigh,
    /// Listings that expire soonest first.
    EndingSoon,
}

/// What a user is looking for. The default finds every open listing,
/// newest first, twenty to a page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// Only this kind of asset.
    pub kind: Option<AssetKind>,
    /// Only rent or only sale listings.
    pub side: Option<Side>,
    /// Only prices in this range.
    pub price: Option<PriceRange>,
    /// Only rent listings whose period length, in seconds, is in range.
    pub period_secs: Option<Range>,
    /// When the asset must be free.
    pub available: Availability,
    /// Only assets made by this creator.
    pub creator: Option<Address>,
    /// Only listings by this owner.
    pub owner: Option<Address>,
    /// Only listings shown in this world.
    pub world: Option<String>,
    /// Only listings shown at this place of `world`.
    pub place: Option<Place>,
    /// Words that must each begin a word of the asset's name, description,
    /// kind or attribute values (a number, or a word of one letter, must
    /// be the whole word).
    pub text: String,
    /// Who is looking: listings reserved for someone else are hidden.
    pub viewer: Option<Address>,
    /// The order of hits.
    pub sort: Sort,
    /// The price a price sort looks at.
    pub sort_basis: PriceBasis,
    /// Hits per page, 1 to [`MAX_PAGE`].
    pub page_size: usize,
    /// Continue after this hit, from the `next` of an earlier page.
    pub after: Option<Cursor>,
}

impl Default for Query {
    fn default() -> Self {
        Query {
            kind: None,
            side: None,
            price: None,
            period_secs: None,
            available: Availability::Any,
            creator: None,
            owner: None,
            world: None,
            place: None,
            text: String::new(),
            viewer: None,
            sort: Sort::Newest,
            sort_basis: PriceBasis::PerPeriod,
            page_size: 20,
            after: None,
        }
    }
}

/// Where a page ended: the sort key and id of its last hit. The next page
/// begins strictly after it, so a listing that stays open through the
/// paging is shown exactly once, however many come and go meanwhile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    sort: Sort,
    basis: PriceBasis,
    key: (u64, u64),
}

fn sort_code(sort: Sort, basis: PriceBasis) -> char {
    match (sort, basis) {
        (Sort::Newest, _) => 'n',
        (Sort::EndingSoon, _) => 'e',
        (Sort::PriceLow, PriceBasis::PerPeriod) => 'l',
        (Sort::PriceLow, PriceBasis::Total) => 'L',
        (Sort::PriceHigh, PriceBasis::PerPeriod) => 'h',
        (Sort::PriceHigh, PriceBasis::Total) => 'H',
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{:x}.{:x}",
            sort_code(self.sort, self.basis),
            self.key.0,
            self.key.1
        )
    }
}

impl FromStr for Cursor {
    type Err = MarketError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || MarketError::BadCursor(text.chars().take(64).collect());
        let mut chars = text.chars();
        let code = chars.next().ok_or_else(bad)?;
        let (sort, basis) = match code {
            'n' => (Sort::Newest, PriceBasis::PerPeriod),
            'e' => (Sort::EndingSoon, PriceBasis::PerPeriod),
            'l' => (Sort::PriceLow, PriceBasis::PerPeriod),
            'L' => (Sort::PriceLow, PriceBasis::Total),
            'h' => (Sort::PriceHigh, PriceBasis::PerPeriod),
            'H' => (Sort::PriceHigh, PriceBasis::Total),
            _ => return Err(bad()),
        };
        let (rank, tie) = chars.as_str().split_once('.').ok_or_else(bad)?;
        let hex = |part: &str| {
            if part.is_empty() || part.len() > 16 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            u64::from_str_radix(part, 16).map_err(|_| bad())
        };
        Ok(Cursor {
            sort,
            basis,
            key: (hex(rank)?, hex(tie)?),
        })
    }
}

/// One listing found, with what a card about it shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    /// The listing, as the ledger holds it.
    pub listing: Listing,
    /// The asset's creator.
    pub creator: Address,
    /// When the asset's current rental ends, if it is rented out.
    pub rented_until: Option<Timestamp>,
    /// The asset's manifest, if the catalogue has it.
    pub manifest: Option<Arc<Manifest>>,
    /// The worlds that show it and where: (world name, place).
    pub places: Vec<(String, Place)>,
}

impl Hit {
    /// The asset.
    pub fn asset(&self) -> AssetId {
        self.listing.asset
    }
}

/// A page of hits.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    /// The hits, in the query's order.
    pub hits: Vec<Hit>,
    /// Where the next page begins, if there are more hits.
    pub next: Option<Cursor>,
}

/// A query compiled against the catalogue's columns.
struct Filter {
    flags_mask: u8,
    flags_want: u8,
    viewer: u32,
    open_after: Timestamp,
    free_by: Option<Timestamp>,
    price: Option<(Range, PriceBasis)>,
    period: Option<Range>,
    creator: Option<u32>,
    owner: Option<u32>,
    world_bit: u64,
    place: Option<(u16, Place)>,
}

/// Most dictionary words one query word may begin.
pub const MAX_PREFIX_WORDS: usize = 4096;

/// Where the slots a query visits come from.
enum Candidates<'a> {
    /// Every slot, in order.
    All,
    /// The slots of these disjoint sets.
    Sets(Vec<&'a Slots>),
    /// The slots whose bit is set in the text match.
    Text,
}

/// Whether bit `slot` is set.
fn has_bit(bits: &[u64], slot: u32) -> bool {
    bits.get(slot as usize / 64)
        .is_some_and(|word| word & (1 << (slot % 64)) != 0)
}

impl Catalogue {
    /// The page of open listings at `now` that `query` asks for.
    pub fn search(&self, query: &Query, now: Timestamp) -> Result<Page, MarketError> {
        if query.page_size == 0 || query.page_size > MAX_PAGE {
            return Err(MarketError::BadQuery(format!(
                "a page holds 1 to {MAX_PAGE} hits, not {}",
                query.page_size
            )));
        }
        if let Some(after) = &query.after
            && (after.sort != query.sort
                || (matches!(query.sort, Sort::PriceLow | Sort::PriceHigh)
                    && after.basis != query.sort_basis))
        {
            return Err(MarketError::CursorMismatch);
        }
        for range in [query.price.map(|price| price.range), query.period_secs]
            .into_iter()
            .flatten()
        {
            if range.min > range.max {
                return Err(MarketError::BadQuery(format!(
                    "a range from {} down to {} holds nothing",
                    range.min, range.max
                )));
            }
        }
        let words = text::words([query.text.as_str()], MAX_QUERY_WORDS + 1);
        if words.len() > MAX_QUERY_WORDS {
            return Err(MarketError::BadQuery(format!(
                "at most {MAX_QUERY_WORDS} words are searched for"
            )));
        }
        let world = match &query.world {
            Some(name) => Some(self.world_index(name)?),
            None => None,
        };
        let place = match (query.place, world) {
            (Some(place), Some(index)) => {
                if !self.worlds[usize::from(index)].has(place) {
                    return Err(MarketError::UnknownPlace {
                        world: query.world.clone().unwrap_or_default(),
                        place,
                    });
                }
                Some((index, place))
            }
            (Some(_), None) => {
                return Err(MarketError::BadQuery(
                    "a place is asked for without its world".into(),
                ));
            }
            (None, _) => None,
        };

        // An address the catalogue has never seen matches nothing.
        let creator = query
            .creator
            .map(|address| self.addresses.find(&address).unwrap_or(u32::MAX));
        let owner = query
            .owner
            .map(|address| self.addresses.find(&address).unwrap_or(u32::MAX));
        let mut filter = self.compile(query, now, creator, owner, world);
        filter.place = place;

        let text = self.text_bits(&words)?;
        let candidates = self.candidates(query, text.as_deref(), creator, owner, place);
        let mut best = TopK::new(query.page_size + 1, query.after.map(|after| after.key));
        let keys = SortKeys::new(self, query.sort, query.sort_basis);
        // The sort key first: once a page is full, most slots fall behind
        // its last hit, and are passed over after one or two reads.
        let consider = |best: &mut TopK, slot: u32| {
            let key = keys.key(slot);
            if best.wants(key)
                && text.as_deref().is_none_or(|bits| has_bit(bits, slot))
                && filter.matches(self, slot)
            {
                best.push(key, slot);
            }
        };
        // Slots fill in the order listings are made, so newer listings
        // tend to sit in higher slots: walking them against the sort
        // (oldest first for "newest") would put nearly every slot through
        // the page before it falls out. Newest is walked from the top.
        let descending = query.sort == Sort::Newest;
        match candidates {
            Candidates::All => {
                // A scan of every slot reads the rank column alone until a
                // slot could make the page: a tight loop over one array.
                let column = keys.column;
                let flip = if keys.invert { u64::MAX } else { 0 };
                let mut floor = query.after.map_or(0, |after| after.key.0);
                let mut ceiling = u64::MAX;
                // A price range on the price being sorted by narrows the
                // ranks worth a look.
                if let Some(price) = query.price
                    && price.basis == query.sort_basis
                {
                    match query.sort {
                        Sort::PriceLow => {
                            floor = floor.max(price.range.min);
                            ceiling = price.range.max;
                        }
                        Sort::PriceHigh => {
                            floor = floor.max(!price.range.max);
                            ceiling = !price.range.min;
                        }
                        Sort::Newest | Sort::EndingSoon => {}
                    }
                }
                let mut bound = best.bound().min(ceiling);
                let mut each = |at: usize| {
                    let rank = column[at] ^ flip;
                    if rank >= floor && rank <= bound {
                        consider(&mut best, at as u32);
                        bound = best.bound().min(ceiling);
                    }
                };
                if descending {
                    (0..column.len()).rev().for_each(&mut each);
                } else {
                    (0..column.len()).for_each(&mut each);
                }
            }
            Candidates::Sets(sets) => {
                for set in sets {
                    set.visit(descending, &mut |slot| consider(&mut best, slot));
                }
            }
            Candidates::Text => {
                slots::visit_bits(
                    text.as_deref().unwrap_or_default(),
                    descending,
                    &mut |slot| consider(&mut best, slot),
                );
            }
        }
        let mut found = best.into_sorted();
        let next = if found.len() > query.page_size {
            found.truncate(query.page_size);
            found.last().map(|(key, _)| Cursor {
                sort: query.sort,
                basis: query.sort_basis,
                key: *key,
            })
        } else {
            None
        };
        let hits = found
            .into_iter()
            .filter_map(|(_, slot)| self.hit(slot))
            .collect();
        Ok(Page { hits, next })
    }

    /// The hit for one listing, if it is in the catalogue.
    pub fn get(&self, listing: ListingId) -> Option<Hit> {
        self.by_listing
            .get(&listing)
            .and_then(|slot| self.hit(*slot))
    }

    fn hit(&self, slot: u32) -> Option<Hit> {
        let record = self.record(slot)?;
        Some(Hit {
            listing: record.listing.clone(),
            creator: record.creator,
            rented_until: record.rented_until,
            manifest: record.manifest.clone(),
            places: record
                .places
                .iter()
                .map(|(world, place)| (self.worlds[usize::from(*world)].name.clone(), *place))
                .collect(),
        })
    }

    fn compile(
        &self,
        query: &Query,
        now: Timestamp,
        creator: Option<u32>,
        owner: Option<u32>,
        world: Option<u16>,
    ) -> Filter {
        let mut flags_mask = flag::LIVE;
        let mut flags_want = flag::LIVE;
        if let Some(kind) = query.kind {
            flags_mask |= flag::KIND;
            flags_want |= kind_code(Some(kind));
        }
        // A period length is only asked of rentals: a sale has none.
        let side = match (query.side, query.period_secs) {
            (Some(Side::Sale), Some(_)) => {
                flags_want = 0;
                None
            }
            (None, Some(_)) => Some(true),
            (side, _) => side.map(|side| side == Side::Rent),
        };
        if let Some(rent) = side {
            flags_mask |= flag::RENT;
            if rent {
                flags_want |= flag::RENT;
            }
        }
        let (open_after, free_by) = match query.available {
            Availability::Any => (now, None),
            Availability::Now => (now, Some(now)),
            Availability::At(at) => (now.max(at), Some(at)),
        };
        Filter {
            flags_mask,
            flags_want,
            viewer: query
                .viewer
                .and_then(|viewer| self.addresses.find(&viewer))
                .unwrap_or(0),
            open_after,
            free_by,
            price: query.price.map(|price| (price.range, price.basis)),
            period: query.period_secs,
            creator,
            owner,
            world_bit: world.map_or(0, |index| 1u64 << index),
            place: None,
        }
    }

    fn candidates<'a>(
        &'a self,
        query: &Query,
        text: Option<&[u64]>,
        creator: Option<u32>,
        owner: Option<u32>,
        place: Option<(u16, Place)>,
    ) -> Candidates<'a> {
        let none = || Candidates::Sets(Vec::new());
        let mut options: Vec<Vec<&Slots>> = Vec::new();
        for (id, sets) in [(creator, &self.creators), (owner, &self.owners)] {
            if let Some(id) = id {
                match sets.get(&id) {
                    Some(slots) => options.push(vec![slots]),
                    None => return none(),
                }
            }
        }
        if let Some(key) = place {
            match self.places.get(&key) {
                Some(slots) => options.push(vec![slots]),
                None => return none(),
            }
        }
        if let Some(kind) = query.kind {
            let code = kind_code(Some(kind));
            let sides: &[bool] = match query.side {
                Some(Side::Rent) => &[true],
                Some(Side::Sale) => &[false],
                None => &[true, false],
            };
            options.push(
                sides
                    .iter()
                    .map(|rent| &self.kinds[kind_set(*rent, code)])
                    .collect(),
            );
        }
        let size = |sets: &Vec<&Slots>| sets.iter().map(|set| set.len()).sum::<usize>();
        let text_size = text.map(|bits| {
            bits.iter()
                .map(|word| word.count_ones() as usize)
                .sum::<usize>()
        });
        let smallest = options.into_iter().min_by_key(size);
        // Walking a set costs a random column read per slot, a scan reads
        // the columns in order: a set is walked only if it is small.
        let small = self.records.len() / 8;
        match (smallest, text_size) {
            (Some(sets), Some(text)) if size(&sets) < text => Candidates::Sets(sets),
            (_, Some(text)) if text <= small => Candidates::Text,
            (Some(sets), _) if size(&sets) <= small => Candidates::Sets(sets),
            _ => Candidates::All,
        }
    }

    /// The slots whose listing has every query word, as a bitmap, or
    /// `None` when there are no words.
    fn text_bits(&self, words: &[Box<str>]) -> Result<Option<Vec<u64>>, MarketError> {
        let mut all: Option<Vec<u64>> = None;
        for word in words {
            let mut bits = vec![0u64; self.records.len().div_ceil(64)];
            let ids: Vec<u32> = if text::matches_whole(word) {
                self.words.id(word).into_iter().collect()
            } else {
                self.words
                    .sorted
                    .range::<str, _>((
                        std::ops::Bound::Included(&**word),
                        std::ops::Bound::Unbounded,
                    ))
                    .take_while(|(indexed, _)| indexed.starts_with(&**word))
                    .take(MAX_PREFIX_WORDS + 1)
                    .map(|(_, id)| *id)
                    .collect()
            };
            if ids.len() > MAX_PREFIX_WORDS {
                return Err(MarketError::BadQuery(format!(
                    "{word:?} begins more than {MAX_PREFIX_WORDS} different words: type more of it"
                )));
            }
            for id in ids {
                if let Some(slots) = self.words.slots.get(id as usize) {
                    slots.or_into(&mut bits);
                }
            }
            all = Some(match all {
                None => bits,
                Some(mut so_far) => {
                    for (have, more) in so_far.iter_mut().zip(&bits) {
                        *have &= *more;
                    }
                    so_far
                }
            });
        }
        Ok(all)
    }
}

impl Filter {
    fn matches(&self, catalogue: &Catalogue, slot: u32) -> bool {
        let at = slot as usize;
        let columns = &catalogue.columns;
        let flags = columns.flags[at];
        if flags & self.flags_mask != self.flags_want {
            return false;
        }
        if let Some((range, basis)) = &self.price {
            let price = match basis {
                PriceBasis::PerPeriod => columns.price[at],
                PriceBasis::Total => columns.total[at],
            };
            if !range.contains(price) {
                return false;
            }
        }
        if flags & flag::RESERVED != 0 && columns.reserved[at] != self.viewer {
            return false;
        }
        if columns.expires[at] <= self.open_after {
            return false;
        }
        if let Some(by) = self.free_by
            && columns.free_at[at] > by
        {
            return false;
        }
        if self.world_bit != 0 && columns.worlds[at] & self.world_bit == 0 {
            return false;
        }
        if let Some(id) = self.creator
            && columns.creator[at] != id
        {
            return false;
        }
        if let Some(id) = self.owner
            && columns.owner[at] != id
        {
            return false;
        }
        if let Some(range) = &self.period
            && !range.contains(columns.period[at])
        {
            return false;
        }
        if let Some(key) = &self.place {
            return catalogue
                .places
                .get(key)
                .is_some_and(|slots| slots.contains(slot));
        }
        true
    }
}

/// How hits are ranked: ascending (rank, tie).
struct SortKeys<'a> {
    column: &'a [u64],
    invert: bool,
    ties: &'a [u64],
    invert_ties: bool,
}

impl<'a> SortKeys<'a> {
    fn new(catalogue: &'a Catalogue, sort: Sort, basis: PriceBasis) -> Self {
        let columns = &catalogue.columns;
        let price = match basis {
            PriceBasis::PerPeriod => &columns.price,
            PriceBasis::Total => &columns.total,
        };
        let (column, invert, invert_ties) = match sort {
            // Newest first; within one block, the later listing first.
            Sort::Newest => (&columns.created, true, true),
            Sort::PriceLow => (price, false, false),
            Sort::PriceHigh => (price, true, false),
            Sort::EndingSoon => (&columns.expires, false, false),
        };
        SortKeys {
            column,
            invert,
            ties: &columns.listing,
            invert_ties,
        }
    }

    fn key(&self, slot: u32) -> (u64, u64) {
        let at = slot as usize;
        let rank = if self.invert {
            !self.column[at]
        } else {
            self.column[at]
        };
        let tie = if self.invert_ties {
            !self.ties[at]
        } else {
            self.ties[at]
        };
        (rank, tie)
    }
}

/// The `k` smallest keys strictly after a cursor.
struct TopK {
    k: usize,
    after: Option<(u64, u64)>,
    heap: BinaryHeap<((u64, u64), u32)>,
}

impl TopK {
    fn new(k: usize, after: Option<(u64, u64)>) -> Self {
        TopK {
            k,
            after,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    /// Whether a hit with `key` would make the cut now.
    fn wants(&self, key: (u64, u64)) -> bool {
        if self.after.is_some_and(|after| key <= after) {
            return false;
        }
        self.heap.len() < self.k || self.heap.peek().is_some_and(|top| key < top.0)
    }

    /// The largest rank that could still make the cut.
    fn bound(&self) -> u64 {
        if self.heap.len() < self.k {
            u64::MAX
        } else {
            self.heap.peek().map_or(u64::MAX, |top| top.0.0)
        }
    }

    /// Takes a hit that [`TopK::wants`].
    fn push(&mut self, key: (u64, u64), slot: u32) {
        if self.heap.len() == self.k {
            self.heap.pop();
        }
        self.heap.push((key, slot));
    }

    #[cfg(test)]
    fn offer(&mut self, key: (u64, u64), slot: u32) {
        if self.wants(key) {
            self.push(key, slot);
        }
    }

    fn into_sorted(self) -> Vec<((u64, u64), u32)> {
        self.heap.into_sorted_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back_and_refuse_junk() {
        let cursor = Cursor {
            sort: Sort::PriceHigh,
            basis: PriceBasis::Total,
            key: (u64::MAX, 7),
        };
        assert_eq!(cursor.to_string().parse::<Cursor>().unwrap(), cursor);
        for junk in [
            "",
            "x1.2",
            "n1",
            "n.2",
            "n1.",
            "n12345678901234567.1",
            "n1.-2",
        ] {
            assert!(
                matches!(junk.parse::<Cursor>(), Err(MarketError::BadCursor(_))),
                "{junk:?}"
            );
        }
    }

    #[test]
    fn top_k_keeps_the_smallest_after_the_cursor() {
        let mut best = TopK::new(3, Some((5, 0)));
        for (i, key) in [9, 1, 7, 5, 6, 8, 10, 6].into_iter().enumerate() {
            best.offer((key, i as u64), i as u32);
        }
        let keys: Vec<(u64, u64)> = best.into_sorted().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, [(5, 3), (6, 4), (6, 7)]);
    }
}
