//! What an avatar may wear and a holder may put down on a parcel: the
//! slots on an avatar, which kinds of asset go in which, and whether a
//! player holds an asset now (owns it and has not rented it out, or rents
//! it and the rental has not ended). Every host checks an avatar's
//! appearance and a parcel's things with this against its latest final
//! state before showing them to anyone.

use std::fmt;

use assets::AssetKind;
use borsh::{BorshDeserialize, BorshSerialize};
use ledger::{Address, Asset, Timestamp};

use crate::error::MarketError;

/// A place on an avatar where a thing is worn.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub enum Slot {
    /// On the head: hats, crowns, glasses.
    Head,
    /// On the body: coats, capes.
    Body,
    /// In the hand: a lantern, a bouquet.
    Hand,
    /// On the back: backpacks, wings.
    Back,
    /// The figure itself: the avatar model the player appears as.
    Avatar,
}

impl Slot {
    /// Every slot, head first.
    pub const ALL: [Slot; 5] = [Slot::Head, Slot::Body, Slot::Hand, Slot::Back, Slot::Avatar];

    /// The slot's name.
    pub fn name(self) -> &'static str {
        match self {
            Slot::Head => "head",
            Slot::Body => "body",
            Slot::Hand => "hand",
            Slot::Back => "back",
            Slot::Avatar => "avatar",
        }
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The slots an asset of `kind` may be worn in, the one it goes in
/// unless the player chooses first: wearables on the head, body or back;
/// a lamp or a plant carried in the hand; an avatar model as the figure
/// itself; nothing else.
pub fn slots(kind: AssetKind) -> &'static [Slot] {
    match kind {
        AssetKind::Wearable => &[Slot::Head, Slot::Body, Slot::Back],
        AssetKind::Lighting | AssetKind::Plant => &[Slot::Hand],
        AssetKind::Avatar => &[Slot::Avatar],
        AssetKind::Furniture
        | AssetKind::Vehicle
        | AssetKind::Art
        | AssetKind::Decoration
        | AssetKind::Structure
        | AssetKind::Parcel => &[],
    }
}

/// Whether `who` may wear `asset` (of `kind`) in `slot` at `now`, by the
/// ledger's state: the asset's user (its renter during a rental that has
/// not ended, else its owner when it is not rented out) and a slot its
/// kind goes in.
pub fn may_wear(
    asset: &Asset,
    kind: AssetKind,
    who: &Address,
    slot: Slot,
    now: Timestamp,
) -> Result<(), MarketError> {
    if !slots(kind).contains(&slot) {
        return Err(MarketError::WrongSlot {
            asset: asset.id,
            kind,
            slot,
        });
    }
    holds(asset, who, now)
}

/// One holding of an asset: its owner's since the title last changed
/// hands (the asset's owner sequence), or one rental. What a holder does
/// with a parcel (its arrangement) belongs to one tenure, so it is void
/// once the parcel has changed hands, even back to the same account. An
/// owner's tenure does not change with a rental of the asset: hosts also
/// refuse an arrangement made before the parcel last came back to its
/// holder.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize,
)]
pub enum Tenure {
    /// The owner's, at this owner sequence, while not rented out.
    Owner(u64),
    /// A renter's, for this rental.
    Renter(ledger::RentalId),
}

/// Who holds `asset` now (its renter during a rental, else its owner),
/// and under which tenure.
pub fn holding(asset: &Asset) -> (Address, Tenure) {
    let tenure = match asset.rental {
        Some(rental) => Tenure::Renter(rental.id),
        None => Tenure::Owner(asset.owner_seq),
    };
    (asset.user(), tenure)
}

/// Whether `who` holds the parcel `deed` now, under `tenure`: the one
/// tenure an arrangement of it is good for.
pub fn holds_parcel(
    deed: &Asset,
    who: &Address,
    tenure: Tenure,
    now: Timestamp,
) -> Result<(), MarketError> {
    holds(deed, who, now)?;
    if holding(deed).1 != tenure {
        return Err(MarketError::OtherTenure { asset: deed.id });
    }
    Ok(())
}

/// Whether `who` may put `asset` (of `kind`) down on a parcel it holds
/// at `now`: anything it has the use of but land.
pub fn may_place(
    asset: &Asset,
    kind: AssetKind,
    who: &Address,
    now: Timestamp,
) -> Result<(), MarketError> {
    if kind == AssetKind::Parcel {
        return Err(MarketError::NotPlaceable { asset: asset.id });
    }
    holds(asset, who, now)
}

/// Whether `who` has the use of `asset` at `now`: its renter while the
/// rental runs, its owner while it is not rented out.
pub fn holds(asset: &Asset, who: &Address, now: Timestamp) -> Result<(), MarketError> {
    match asset.rental {
        Some(rental) if rental.renter == *who => {
            if now < rental.ends_at {
                Ok(())
            } else {
                Err(MarketError::RentalOver {
                    asset: asset.id,
                    ended: rental.ends_at,
                })
            }
        }
        Some(rental) if asset.owner == *who => Err(MarketError::RentedOut {
            asset: asset.id,
            until: rental.ends_at,
        }),
        None if asset.owner == *who => Ok(()),
        _ => Err(MarketError::NotHeld {
            asset: asset.id,
            who: *who,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::{ActiveRental, AssetId, RentalId};

    fn asset(owner: Address, rental: Option<ActiveRental>) -> Asset {
        Asset {
            id: AssetId(assets::ContentId::of(assets::Codec::Json, b"a hat")),
            creator: owner,
            owner,
            royalty_bps: 0,
            minted_at: 1,
            owner_seq: 0,
            listing: None,
            rental,
        }
    }

    #[test]
    fn the_user_of_an_asset_may_wear_it_in_a_slot_its_kind_goes_in() {
        let (owner, renter, stranger) = (
            Address::from_bytes([1; 32]),
            Address::from_bytes([2; 32]),
            Address::from_bytes([3; 32]),
        );
        let hat = asset(owner, None);
        assert_eq!(
            may_wear(&hat, AssetKind::Wearable, &owner, Slot::Head, 10),
            Ok(())
        );
        assert!(matches!(
            may_wear(&hat, AssetKind::Wearable, &owner, Slot::Hand, 10),
            Err(MarketError::WrongSlot {
                slot: Slot::Hand,
                ..
            })
        ));
        assert!(matches!(
            may_wear(&hat, AssetKind::Furniture, &owner, Slot::Head, 10),
            Err(MarketError::WrongSlot { .. })
        ));
        assert!(matches!(
            may_wear(&hat, AssetKind::Wearable, &stranger, Slot::Head, 10),
            Err(MarketError::NotHeld { .. })
        ));

        // Rented out: the renter wears it until the rental's end, the
        // owner not at all.
        let rented = asset(
            owner,
            Some(ActiveRental {
                id: RentalId(4),
                renter,
                ends_at: 100,
            }),
        );
        assert_eq!(
            may_wear(&rented, AssetKind::Wearable, &renter, Slot::Body, 99),
            Ok(())
        );
        assert!(matches!(
            may_wear(&rented, AssetKind::Wearable, &renter, Slot::Body, 100),
            Err(MarketError::RentalOver { ended: 100, .. })
        ));
        assert!(matches!(
            may_wear(&rented, AssetKind::Wearable, &owner, Slot::Head, 50),
            Err(MarketError::RentedOut { until: 100, .. })
        ));
        assert!(matches!(
            may_wear(&rented, AssetKind::Wearable, &stranger, Slot::Head, 50),
            Err(MarketError::NotHeld { .. })
        ));
        // A lantern is carried.
        assert_eq!(
            may_wear(&hat, AssetKind::Lighting, &owner, Slot::Hand, 10),
            Ok(())
        );
        assert_eq!(slots(AssetKind::Wearable)[0], Slot::Head);
        // An avatar model is the figure itself, and only an avatar is.
        assert_eq!(
            may_wear(&hat, AssetKind::Avatar, &owner, Slot::Avatar, 10),
            Ok(())
        );
        assert!(matches!(
            may_wear(&hat, AssetKind::Avatar, &owner, Slot::Head, 10),
            Err(MarketError::WrongSlot { .. })
        ));
        assert!(matches!(
            may_wear(&hat, AssetKind::Wearable, &owner, Slot::Avatar, 10),
            Err(MarketError::WrongSlot {
                slot: Slot::Avatar,
                ..
            })
        ));
        assert!(matches!(
            may_wear(&rented, AssetKind::Avatar, &renter, Slot::Avatar, 100),
            Err(MarketError::RentalOver { .. })
        ));
    }

    #[test]
    fn the_user_of_an_asset_may_put_it_down_unless_it_is_land() {
        let (owner, renter) = (Address::from_bytes([1; 32]), Address::from_bytes([2; 32]));
        let lamp = asset(
            owner,
            Some(ActiveRental {
                id: RentalId(4),
                renter,
                ends_at: 100,
            }),
        );
        assert_eq!(may_place(&lamp, AssetKind::Lighting, &renter, 99), Ok(()));
        assert!(matches!(
            may_place(&lamp, AssetKind::Lighting, &owner, 99),
            Err(MarketError::RentedOut { .. })
        ));
        assert!(matches!(
            may_place(&lamp, AssetKind::Lighting, &renter, 100),
            Err(MarketError::RentalOver { .. })
        ));
        let plot = asset(owner, None);
        assert!(matches!(
            may_place(&plot, AssetKind::Parcel, &owner, 10),
            Err(MarketError::NotPlaceable { .. })
        ));
        assert_eq!(may_place(&plot, AssetKind::Furniture, &owner, 10), Ok(()));
        // Its owner holds it under the tenure of its owner sequence, and
        // the renter under its rental's.
        assert_eq!(holds_parcel(&plot, &owner, Tenure::Owner(0), 10), Ok(()));
        assert!(matches!(
            holds_parcel(&plot, &owner, Tenure::Owner(1), 10),
            Err(MarketError::OtherTenure { .. })
        ));
        assert_eq!(
            holds_parcel(&lamp, &renter, Tenure::Renter(RentalId(4)), 50),
            Ok(())
        );
        assert!(holds_parcel(&lamp, &owner, Tenure::Owner(0), 50).is_err());
    }
}
