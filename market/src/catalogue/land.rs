//! Land: each parcel of a world is a ledger asset, its deed, so it is
//! held, sold, rented and traded like any asset. A deed is an asset of
//! kind parcel minted by the network's founder (the account a host's
//! configuration names) whose manifest names the world and the parcel
//! (the traits [`WORLD_TRAIT`] and [`PARCEL_TRAIT`]). Should the founder
//! mint two deeds for one parcel, the first minted is the deed (the lower
//! id within one block), so every host reading one ledger agrees.
//!
//! A parcel's holder is its deed's renter while a rental runs, else its
//! owner (`wear::holding`, with the tenure it holds it under): the
//! holder's listings are shown on the parcel, and it is the holder who
//! places things there. Holders change only with blocks (a rental begun,
//! settled or returned, a sale, a trade, a transfer).

use std::collections::BTreeMap;

use assets::{AssetKind, AttributeValue, Manifest};
use ledger::{Address, Asset, AssetId, Height};

use crate::wear::{Tenure, holding};

use super::world::Placer;
use super::{Catalogue, Manifests};

/// The manifest trait naming the world of a deed's parcel.
pub const WORLD_TRAIT: &str = "world";
/// The manifest trait naming a deed's parcel in its world.
pub const PARCEL_TRAIT: &str = "parcel";

/// A parcel whose deed, holder or tenure changed: see
/// [`Catalogue::take_changed_parcels`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParcelChange {
    /// The world's name.
    pub world: String,
    /// The parcel's index in the world's layout.
    pub parcel: u16,
    /// The parcel's deed, if it has one.
    pub deed: Option<AssetId>,
    /// Its holder now.
    pub holder: Option<Address>,
    /// Under which tenure it holds it.
    pub tenure: Option<Tenure>,
}

/// The world and parcel a manifest is the deed of, if it is one: an
/// asset of kind parcel naming both as text.
pub fn deed_of(manifest: &Manifest) -> Option<(&str, &str)> {
    if manifest.kind != AssetKind::Parcel {
        return None;
    }
    let text = |name: &str| {
        manifest
            .attributes
            .iter()
            .find(|attribute| attribute.trait_type == name)
            .and_then(|attribute| match &attribute.value {
                AttributeValue::Text(text) => Some(text.as_str()),
                AttributeValue::Number(_) => None,
            })
    };
    Some((text(WORLD_TRAIT)?, text(PARCEL_TRAIT)?))
}

/// One of the founder's deeds.
#[derive(Clone, Debug)]
struct Deed {
    minted_at: Height,
    world: String,
    parcel: String,
    /// Its holder now, and under which tenure.
    holding: (Address, Tenure),
}

/// The founder and its deeds: the first minted of each parcel (by world
/// and parcel name) and no other, so it holds one deed a name at most.
#[derive(Clone, Debug)]
pub(super) struct Land {
    founder: Address,
    deeds: BTreeMap<AssetId, Deed>,
    /// The deed of each parcel, by world and parcel name.
    first: BTreeMap<String, BTreeMap<String, AssetId>>,
}

impl Land {
    /// Takes `id` as the deed of its parcel unless an earlier one is.
    fn offer(&mut self, id: AssetId, deed: Deed) {
        let parcels = self.first.entry(deed.world.clone()).or_default();
        if let Some(held) = parcels.get(&deed.parcel).copied() {
            let earlier = self
                .deeds
                .get(&held)
                .is_some_and(|other| (other.minted_at, held) <= (deed.minted_at, id));
            if earlier {
                return;
            }
            self.deeds.remove(&held);
        }
        parcels.insert(deed.parcel.clone(), id);
        self.deeds.insert(id, deed);
    }

    /// The deed of `parcel` of `world`, and its holding.
    fn deed_of(&self, world: &str, parcel: &str) -> Option<(AssetId, (Address, Tenure))> {
        let id = *self.first.get(world)?.get(parcel)?;
        Some((id, self.deeds.get(&id)?.holding))
    }
}

impl Catalogue {
    /// Names the network's founder, whose deeds are the parcels of the
    /// worlds, and reads them from `assets` (every asset the ledger
    /// holds: only the founder's are looked at). The parcels' holders
    /// follow the deeds from then on, block by block.
    pub fn set_founder(&mut self, founder: Address, assets: &[Asset], manifests: &impl Manifests) {
        self.land = Some(Land {
            founder,
            deeds: BTreeMap::new(),
            first: BTreeMap::new(),
        });
        self.learn_deeds(assets, None, manifests);
        self.settle_land();
    }

    /// The parcels whose deed, holder or tenure changed since the last
    /// call, in world and parcel order; players in those worlds are told.
    pub fn take_changed_parcels(&mut self) -> Vec<ParcelChange> {
        let changed = std::mem::take(&mut self.changed_parcels);
        changed
            .into_iter()
            .filter_map(|(world, parcel)| {
                let layout = self.worlds.get(usize::from(world))?;
                let slot = layout.parcels.get(usize::from(parcel))?;
                Some(ParcelChange {
                    world: layout.name.clone(),
                    parcel,
                    deed: slot.deed,
                    holder: slot.holder,
                    tenure: slot.tenure,
                })
            })
            .collect()
    }

    /// Notes the founder's deeds among `assets`: each one's holding, and
    /// new ones (among those minted at `minted`, or among all).
    fn learn_deeds(
        &mut self,
        assets: &[Asset],
        minted: Option<Height>,
        manifests: &impl Manifests,
    ) {
        let Some(land) = self.land.as_mut() else {
            return;
        };
        for asset in assets {
            if asset.creator != land.founder {
                continue;
            }
            if let Some(deed) = land.deeds.get_mut(&asset.id) {
                deed.holding = holding(asset);
                continue;
            }
            if minted.is_some_and(|height| asset.minted_at != height) {
                continue;
            }
            // A deed's manifest came in the block that minted it, so it
            // is at hand; any other asset of the founder's is no deed.
            let Some(manifest) = manifests.manifest(&asset.id) else {
                continue;
            };
            if let Some((world, parcel)) = deed_of(&manifest) {
                let deed = Deed {
                    minted_at: asset.minted_at,
                    world: world.to_owned(),
                    parcel: parcel.to_owned(),
                    holding: holding(asset),
                };
                land.offer(asset.id, deed);
            }
        }
    }

    /// Brings every parcel's deed, holder and tenure in line with the
    /// deeds known, moving the listings of each account that gained or lost a
    /// parcel.
    pub(super) fn settle_land(&mut self) {
        let Some(land) = self.land.as_ref() else {
            return;
        };
        let mut movers: Vec<Address> = Vec::new();
        let mut touched: Vec<usize> = Vec::new();
        for (world, layout) in self.worlds.iter_mut().enumerate() {
            for (index, parcel) in layout.parcels.iter_mut().enumerate() {
                let now = land.deed_of(&layout.name, &parcel.name);
                let was = parcel.deed.zip(parcel.holder.zip(parcel.tenure));
                if now == was {
                    continue;
                }
                movers.extend(parcel.holder);
                movers.extend(now.map(|(_, (holder, _))| holder));
                parcel.deed = now.map(|(deed, _)| deed);
                parcel.holder = now.map(|(_, (holder, _))| holder);
                parcel.tenure = now.map(|(_, (_, tenure))| tenure);
                if let (Ok(world), Ok(index)) = (u16::try_from(world), u16::try_from(index)) {
                    self.changed_parcels.push((world, index));
                }
                touched.push(world);
            }
        }
        self.changed_parcels.sort_unstable();
        self.changed_parcels.dedup();
        touched.dedup();
        for world in touched {
            self.placers[world] = Placer::new(&self.worlds[world]);
        }
        if movers.is_empty() {
            return;
        }
        movers.sort_unstable();
        movers.dedup();
        self.replace_all(|record| movers.binary_search(&record.listing.lister).is_ok());
    }

    /// After a block (at `height`): the founder's assets it changed,
    /// deeds among them.
    pub(super) fn update_land(
        &mut self,
        assets: &[Asset],
        height: Option<Height>,
        manifests: &impl Manifests,
    ) {
        let Some(founder) = self.land.as_ref().map(|land| land.founder) else {
            return;
        };
        if !assets.iter().any(|asset| asset.creator == founder) {
            return;
        }
        self.learn_deeds(assets, height, manifests);
        self.settle_land();
    }
}
