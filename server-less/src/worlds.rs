//! The worlds a host serves: scenes with market stalls and parcels, all on
//! the same ledger, so an asset owned or rented is usable in each.

use assets::AssetKind;
use market::catalogue::{Parcel, Stall, WorldLayout};

use plaza_client::protocol::{ParcelInfo, StallInfo, WorldInfo};

/// One world: what the catalogue needs (its layout) and what a client
/// draws (its scene).
#[derive(Clone, Debug, PartialEq)]
pub struct World {
    /// Stalls and parcels as the catalogue places listings on them.
    pub layout: WorldLayout,
    /// The scene, stall for stall and parcel for parcel.
    pub info: WorldInfo,
}

/// A stall's name, the kinds it shows, and where it stands.
type StallPlan = (&'static str, &'static [AssetKind], [f32; 2]);

fn world(
    name: &str,
    half_size: f32,
    spawn: [f32; 3],
    stalls: &[StallPlan],
    parcels: &[(&str, [f32; 2], [f32; 2])],
) -> World {
    World {
        layout: WorldLayout {
            name: name.to_owned(),
            stalls: stalls
                .iter()
                .map(|(name, kinds, _)| Stall {
                    name: (*name).to_owned(),
                    kinds: kinds.to_vec(),
                })
                .collect(),
            parcels: parcels
                .iter()
                .map(|(name, _, _)| Parcel {
                    name: (*name).to_owned(),
                    holder: None,
                    deed: None,
                    tenure: None,
                })
                .collect(),
        },
        info: WorldInfo {
            name: name.to_owned(),
            half_size,
            spawn,
            stalls: stalls
                .iter()
                .map(|(name, kinds, position)| StallInfo {
                    name: (*name).to_owned(),
                    kinds: kinds.iter().map(|kind| kind.as_str().to_owned()).collect(),
                    position: *position,
                })
                .collect(),
            parcels: parcels
                .iter()
                .map(|(name, min, max)| ParcelInfo {
                    name: (*name).to_owned(),
                    holder: None,
                    min: *min,
                    max: *max,
                    deed: None,
                    tenure: None,
                })
                .collect(),
        },
    }
}

/// `world` with its parcels' deeds, holders and tenures as `lands` (the
/// catalogue's layouts, by world name) has them, for its players.
pub fn with_lands(mut world: World, lands: &[WorldLayout]) -> World {
    let Some(layout) = lands.iter().find(|layout| layout.name == world.info.name) else {
        return world;
    };
    for (info, parcel) in world.info.parcels.iter_mut().zip(&layout.parcels) {
        info.deed = parcel.deed;
        info.holder = parcel.holder;
        info.tenure = parcel.tenure;
    }
    world
}

/// The worlds every host serves: a town square with a stall per kind of
/// asset, and a harbour market with fewer, mixed stalls and more land.
pub fn builtin() -> Vec<World> {
    use AssetKind::*;
    vec![
        world(
            "Plaza Square",
            128.0,
            [0.0, 0.0, 0.0],
            &[
                ("Hats & Wearables", &[Wearable], [-24.0, -12.0]),
                ("Furniture", &[Furniture], [-8.0, -12.0]),
                ("Wheels", &[Vehicle], [8.0, -12.0]),
                ("Gallery", &[Art], [24.0, -12.0]),
                ("Decor", &[Decoration], [-24.0, 12.0]),
                ("Lamps", &[Lighting], [-8.0, 12.0]),
                ("Garden", &[Plant], [8.0, 12.0]),
                ("Landmarks", &[Structure, Parcel], [24.0, 12.0]),
            ],
            &[
                ("North Lot", [-40.0, 40.0], [-10.0, 70.0]),
                ("East Lot", [40.0, -15.0], [70.0, 15.0]),
                ("South Lot", [-15.0, -70.0], [15.0, -40.0]),
            ],
        ),
        world(
            "Harbour Market",
            160.0,
            [0.0, 0.0, 30.0],
            &[
                (
                    "Quay Stores",
                    &[Furniture, Decoration, Lighting],
                    [-20.0, 0.0],
                ),
                ("Boathouse", &[Vehicle, Structure, Parcel], [0.0, 0.0]),
                ("Sailmaker", &[Wearable, Art, Plant], [20.0, 0.0]),
            ],
            &[
                ("Pier 1", [-60.0, -60.0], [-30.0, -30.0]),
                ("Pier 2", [-15.0, -60.0], [15.0, -30.0]),
                ("Pier 3", [30.0, -60.0], [60.0, -30.0]),
                ("Warehouse Row", [-60.0, 50.0], [60.0, 80.0]),
            ],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_worlds_are_valid_and_show_every_kind() {
        let worlds = builtin();
        assert!(worlds.len() >= 2);
        for world in &worlds {
            assert!(world.layout.validate().is_ok(), "{}", world.info.name);
            assert_eq!(world.layout.stalls.len(), world.info.stalls.len());
            for kind in AssetKind::ALL {
                assert!(
                    world.layout.stalls.iter().any(|s| s.kinds.contains(&kind)),
                    "{} shows no {kind}",
                    world.info.name
                );
            }
            for stall in &world.info.stalls {
                assert!(
                    stall
                        .position
                        .iter()
                        .all(|c| c.abs() < world.info.half_size)
                );
            }
        }
    }
}
