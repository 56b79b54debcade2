//! Land: each parcel of a world is a ledger asset, its deed, so it is
//! held, sold, rented and traded like any asset. A deed is an asset of
//! kind parcel minted by the network's founder (the account a host's
//! configuration names) whose manifest names the world and the parcel
//! (the traits [`WORLD_TRAIT`] and [`PARCEL_TRAIT`]). Should the founder
//! mint two deeds for one parcel, the first minted is the deed (the lower
//! id within one block), so every host reading one ledger agrees.
//!
//! A parcel's holder is its deed's renter while a rental runs, else its
//! owner: the holder's listings are shown on the parcel, and it is the
//! holder who places things there. Holders change only with blocks (a
//! rental settled or returned, a sale, a trade, a transfer).

use std::collections::BTreeMap;

use assets::{AssetKind, AttributeValue, Manifest};
use ledger::{Address, Asset, AssetId, Height};

use super::{Catalogue, Manifests};
use crate::error::MarketError;

/// The manifest trait naming the world of a deed's parcel.
pub const WORLD_TRAIT: &str = "world";
/// The manifest trait naming a deed's parcel in its world.
pub const PARCEL_TRAIT: &str = "parcel";

/// A parcel whose deed or holder changed: see
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

/// Who holds an asset: its renter during a rental, else its owner.
pub fn holder_of(asset: &Asset) -> Address {
    asset
        .rental
        .map(|rental| rental.renter)
        .unwrap_or(asset.owner)
}

/// One of the founder's deeds.
#[derive(Clone, Debug)]
struct Deed {
    minted_at: Height,
    world: String,
    parcel: String,
    holder: Address,
}

/// The founder and every deed it minted.
#[derive(Clone, Debug)]
pub(super) struct Land {
    founder: Address,
    deeds: BTreeMap<AssetId, Deed>,
}

impl Catalogue {
    /// Names the network's founder, whose deeds are the parcels of the
    /// worlds, and reads them from `assets` (every asset the ledger
    /// holds: only the founder's are looked at). The parcels' holders
    /// follow the deeds from then on, block by block.
    pub fn set_founder(
        &mut self,
        founder: Address,
        assets: &[Asset],
        manifests: &impl Manifests,
    ) -> Result<(), MarketError> {
        self.land = Some(Land {
            founder,
            deeds: BTreeMap::new(),
        });
        self.learn_deeds(assets, manifests);
        self.settle_land()
    }

    /// The parcels whose deed or holder changed since the last call, in
    /// world and parcel order; players in those worlds are told.
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
                })
            })
            .collect()
    }

    /// Notes the founder's deeds among `assets`, new or changed.
    fn learn_deeds(&mut self, assets: &[Asset], manifests: &impl Manifests) {
        let Some(land) = self.land.as_mut() else {
            return;
        };
        for asset in assets {
            if asset.creator != land.founder {
                continue;
            }
            if let Some(deed) = land.deeds.get_mut(&asset.id) {
                deed.holder = holder_of(asset);
                continue;
            }
            // A deed's manifest came in the block that minted it, so it
            // is at hand; any other asset of the founder's is no deed.
            let Some(manifest) = manifests.manifest(&asset.id) else {
                continue;
            };
            if let Some((world, parcel)) = deed_of(&manifest) {
                land.deeds.insert(
                    asset.id,
                    Deed {
                        minted_at: asset.minted_at,
                        world: world.to_owned(),
                        parcel: parcel.to_owned(),
                        holder: holder_of(asset),
                    },
                );
            }
        }
    }

    /// Brings every parcel's deed and holder in line with the deeds
    /// known, moving listings whose lister gained or lost a parcel.
    pub(super) fn settle_land(&mut self) -> Result<(), MarketError> {
        let Some(land) = self.land.as_ref() else {
            return Ok(());
        };
        // The first deed minted of each parcel, by world and parcel name.
        let mut first: BTreeMap<(&str, &str), (Height, AssetId, Address)> = BTreeMap::new();
        for (id, deed) in &land.deeds {
            let candidate = (deed.minted_at, *id, deed.holder);
            first
                .entry((deed.world.as_str(), deed.parcel.as_str()))
                .and_modify(|best| {
                    if (candidate.0, candidate.1) < (best.0, best.1) {
                        *best = candidate;
                    }
                })
                .or_insert(candidate);
        }
        let mut changes = Vec::new();
        for (world_index, layout) in self.worlds.iter().enumerate() {
            for (parcel_index, parcel) in layout.parcels.iter().enumerate() {
                let now = first
                    .get(&(layout.name.as_str(), parcel.name.as_str()))
                    .map(|(_, id, holder)| (*id, *holder));
                if now != parcel.deed.zip(parcel.holder) {
                    changes.push((world_index, parcel_index, now));
                }
            }
        }
        for (world, parcel, now) in changes {
            let name = self.worlds[world].name.clone();
            let (Ok(world), Ok(parcel)) = (u16::try_from(world), u16::try_from(parcel)) else {
                continue;
            };
            self.worlds[usize::from(world)].parcels[usize::from(parcel)].deed =
                now.map(|(id, _)| id);
            if !self.changed_parcels.contains(&(world, parcel)) {
                self.changed_parcels.push((world, parcel));
            }
            self.changed_parcels.sort_unstable();
            self.set_parcel_holder(&name, parcel, now.map(|(_, holder)| holder))?;
        }
        Ok(())
    }

    /// After a block: the founder's assets it changed, deeds among them.
    pub(super) fn update_land(
        &mut self,
        assets: &[Asset],
        manifests: &impl Manifests,
    ) -> Result<(), MarketError> {
        let Some(founder) = self.land.as_ref().map(|land| land.founder) else {
            return Ok(());
        };
        if !assets.iter().any(|asset| asset.creator == founder) {
            return Ok(());
        }
        self.learn_deeds(assets, manifests);
        self.settle_land()
    }
}
