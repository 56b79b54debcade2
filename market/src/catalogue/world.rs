//! Worlds as the catalogue sees them: stalls that show listings of some
//! kinds, and parcels whose holder shows their own listings there.
//!
//! Where a listing is shown is a pure function of the world's layout and
//! the listing, so every host serving a world shows the same thing in the
//! same place without agreeing on anything beyond the ledger.

use std::fmt;

use assets::AssetKind;
use ledger::{Address, AssetId, ListingId};

use crate::error::MarketError;

/// Most worlds one catalogue places listings in.
pub const MAX_WORLDS: usize = 64;
/// Most stalls, and most parcels, in one world.
pub const MAX_PLACES: usize = 1024;
/// Longest world, stall or parcel name, in bytes.
const MAX_NAME_BYTES: usize = 64;

/// A world's stalls and parcels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorldLayout {
    /// The world's name, unique in a catalogue.
    pub name: String,
    /// Market stalls, each showing the listings of some kinds.
    pub stalls: Vec<Stall>,
    /// Parcels of land; a held parcel shows its holder's listings.
    pub parcels: Vec<Parcel>,
}

/// A market stall.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stall {
    /// What the stall's sign says.
    pub name: String,
    /// The kinds of asset it shows. When several stalls show a kind, its
    /// listings are spread over them by listing id.
    pub kinds: Vec<AssetKind>,
}

/// A parcel of land.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parcel {
    /// The parcel's name.
    pub name: String,
    /// Who holds it, if anyone. A holder's listings are shown on their
    /// parcel instead of on the stalls.
    pub holder: Option<Address>,
    /// The ledger asset that is the parcel (see the catalogue's `land`),
    /// once its deed is known.
    pub deed: Option<AssetId>,
    /// The tenure its holder holds the deed under, with a deed.
    pub tenure: Option<crate::wear::Tenure>,
}

/// A place in a world where listings are shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Place {
    /// The stall at this index of the layout.
    Stall(u16),
    /// The parcel at this index of the layout.
    Parcel(u16),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Stall(index) => write!(f, "stall {index}"),
            Place::Parcel(index) => write!(f, "parcel {index}"),
        }
    }
}

impl WorldLayout {
    /// Checks names, counts and duplicates.
    pub fn validate(&self) -> Result<(), MarketError> {
        let bad = |reason: String| {
            Err(MarketError::BadWorld {
                world: self.name.clone(),
                reason,
            })
        };
        for (what, name) in std::iter::once(("world", &self.name))
            .chain(self.stalls.iter().map(|stall| ("stall", &stall.name)))
            .chain(self.parcels.iter().map(|parcel| ("parcel", &parcel.name)))
        {
            if name.trim().is_empty() || name.len() > MAX_NAME_BYTES {
                return bad(format!(
                    "a {what} name must be 1 to {MAX_NAME_BYTES} bytes, not {:?}",
                    name
                ));
            }
        }
        if self.stalls.len() > MAX_PLACES || self.parcels.len() > MAX_PLACES {
            return bad(format!(
                "{} stalls and {} parcels: at most {MAX_PLACES} of each",
                self.stalls.len(),
                self.parcels.len()
            ));
        }
        if let Some(stall) = self.stalls.iter().find(|stall| stall.kinds.is_empty()) {
            return bad(format!("stall {:?} shows no kind of asset", stall.name));
        }
        Ok(())
    }

    /// Whether `place` exists in this layout.
    pub fn has(&self, place: Place) -> bool {
        match place {
            Place::Stall(index) => usize::from(index) < self.stalls.len(),
            Place::Parcel(index) => usize::from(index) < self.parcels.len(),
        }
    }

    /// Where this world shows a listing by `lister` of an asset of `kind`
    /// (unknown until its manifest is known): on the lister's parcel if
    /// they hold one, else on a stall that shows the kind, else nowhere.
    pub fn place_of(
        &self,
        listing: ListingId,
        lister: &Address,
        kind: Option<AssetKind>,
    ) -> Option<Place> {
        if let Some(index) = self
            .parcels
            .iter()
            .position(|parcel| parcel.holder.as_ref() == Some(lister))
        {
            return u16::try_from(index).ok().map(Place::Parcel);
        }
        let kind = kind?;
        let showing = self
            .stalls
            .iter()
            .filter(|stall| stall.kinds.contains(&kind))
            .count();
        let count = u64::try_from(showing).ok().filter(|count| *count > 0)?;
        let mut pick = listing.0 % count;
        for (index, stall) in self.stalls.iter().enumerate() {
            if stall.kinds.contains(&kind) {
                if pick == 0 {
                    return u16::try_from(index).ok().map(Place::Stall);
                }
                pick -= 1;
            }
        }
        None
    }
}

/// A layout's placement rule made quick to apply: parcel holders by
/// address, stalls by kind. Places exactly as [`WorldLayout::place_of`].
#[derive(Clone, Debug, Default)]
pub(crate) struct Placer {
    holders: foldhash::HashMap<Address, u16>,
    stalls_by_kind: Vec<Vec<u16>>,
}

impl Placer {
    pub(crate) fn new(layout: &WorldLayout) -> Self {
        let mut holders = foldhash::HashMap::default();
        for (index, parcel) in layout.parcels.iter().enumerate() {
            if let (Some(holder), Ok(index)) = (parcel.holder, u16::try_from(index)) {
                holders.entry(holder).or_insert(index);
            }
        }
        let stalls_by_kind = AssetKind::ALL
            .iter()
            .map(|kind| {
                layout
                    .stalls
                    .iter()
                    .enumerate()
                    .filter(|(_, stall)| stall.kinds.contains(kind))
                    .filter_map(|(index, _)| u16::try_from(index).ok())
                    .collect()
            })
            .collect();
        Placer {
            holders,
            stalls_by_kind,
        }
    }

    /// Where the layout shows a listing: see [`WorldLayout::place_of`].
    /// `kind` is the kind's index in [`AssetKind::ALL`].
    pub(crate) fn place(
        &self,
        listing: ListingId,
        lister: &Address,
        kind: Option<usize>,
    ) -> Option<Place> {
        if let Some(index) = self.holders.get(lister) {
            return Some(Place::Parcel(*index));
        }
        let stalls = self.stalls_by_kind.get(kind?)?;
        let count = u64::try_from(stalls.len())
            .ok()
            .filter(|count| *count > 0)?;
        let pick = usize::try_from(listing.0 % count).ok()?;
        stalls.get(pick).copied().map(Place::Stall)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> WorldLayout {
        WorldLayout {
            name: "harbour".into(),
            stalls: vec![
                Stall {
                    name: "Lamps".into(),
                    kinds: vec![AssetKind::Lighting],
                },
                Stall {
                    name: "Seats".into(),
                    kinds: vec![AssetKind::Furniture],
                },
                Stall {
                    name: "More seats and lamps".into(),
                    kinds: vec![AssetKind::Furniture, AssetKind::Lighting],
                },
            ],
            parcels: vec![Parcel {
                name: "Pier".into(),
                holder: Some(Address::from_bytes([7; 32])),
                deed: None,
                tenure: None,
            }],
        }
    }

    #[test]
    fn listings_go_to_their_holders_parcel_or_spread_over_the_stalls_of_their_kind() {
        let world = layout();
        world.validate().unwrap();
        let someone = Address::from_bytes([1; 32]);
        let holder = Address::from_bytes([7; 32]);
        let seat = Some(AssetKind::Furniture);
        assert_eq!(
            world.place_of(ListingId(4), &someone, seat),
            Some(Place::Stall(1))
        );
        assert_eq!(
            world.place_of(ListingId(5), &someone, seat),
            Some(Place::Stall(2))
        );
        assert_eq!(
            world.place_of(ListingId(5), &holder, seat),
            Some(Place::Parcel(0))
        );
        assert_eq!(
            world.place_of(ListingId(5), &someone, Some(AssetKind::Plant)),
            None
        );
        assert_eq!(world.place_of(ListingId(5), &someone, None), None);
    }

    #[test]
    fn bad_layouts_are_refused() {
        let mut world = layout();
        world.stalls[0].kinds.clear();
        assert!(matches!(
            world.validate(),
            Err(MarketError::BadWorld { .. })
        ));
        let mut world = layout();
        world.name = " ".into();
        assert!(world.validate().is_err());
    }
}
