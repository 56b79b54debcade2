//! The worlds a host serves: scenes with market stalls and parcels, all on
//! the same ledger, so an asset owned or rented is usable in each.

use std::collections::HashMap;
use std::sync::OnceLock;

use assets::{AssetKind, Codec, ContentId};
use market::catalogue::{Parcel, Stall, WorldLayout};

use plaza_client::protocol::{ParcelInfo, PathInfo, Prop, StallInfo, WorldInfo};

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

/// A world's own thing: the sample pack model it is (by slug), where it
/// stands (x, z), which way it faces (256ths of a turn), and the half
/// side of the square walkers keep out of.
type PropPlan = (&'static str, [f32; 2], u8, f32);

/// The sample pack models the worlds stand about, by slug.
const PROP_MODELS: [&str; 6] = [
    "olive-tree",
    "street-lamp",
    "park-bench",
    "fountain",
    "signpost",
    "barrel",
];

/// A prop's model: its name, content id and glTF bytes.
type PropFile = (String, ContentId, Vec<u8>);

/// The prop models, built once, by slug.
fn prop_models() -> &'static HashMap<&'static str, PropFile> {
    static MODELS: OnceLock<HashMap<&'static str, PropFile>> = OnceLock::new();
    MODELS.get_or_init(|| {
        PROP_MODELS
            .iter()
            .filter_map(|slug| {
                let model = assets::pack::sample_model(slug)?;
                let id = ContentId::of(Codec::Raw, &model.glb);
                Some((*slug, (model.name.to_owned(), id, model.glb)))
            })
            .collect()
    })
}

/// The files of the worlds' own things: a host keeps them in its blob
/// store, so that its players can fetch them by content id.
pub fn prop_files() -> Vec<&'static [u8]> {
    prop_models()
        .values()
        .map(|(_, _, glb)| glb.as_slice())
        .collect()
}

/// Everything a world is made of, besides its name and size.
struct Plan<'a> {
    spawn: [f32; 3],
    stalls: &'a [StallPlan],
    parcels: &'a [(&'a str, [f32; 2], [f32; 2])],
    /// Paths: from, to, width.
    paths: &'a [([f32; 2], [f32; 2], f32)],
    props: &'a [PropPlan],
}

fn world(name: &str, half_size: f32, plan: Plan<'_>) -> World {
    let Plan {
        spawn,
        stalls,
        parcels,
        paths,
        props,
    } = plan;
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
            paths: paths
                .iter()
                .map(|(from, to, width)| PathInfo {
                    from: *from,
                    to: *to,
                    width: *width,
                })
                .collect(),
            props: props
                .iter()
                .filter_map(|(slug, at, turn, blocks)| {
                    let (name, model, _) = prop_models().get(slug)?;
                    Some(Prop {
                        name: name.clone(),
                        model: model.to_bytes(),
                        at: *at,
                        turn: *turn,
                        blocks: *blocks,
                    })
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
/// asset, avenues with lamps, a fountain, olive trees and three lots; and
/// a harbour market with fewer, mixed stalls on a quay and more land.
pub fn builtin() -> Vec<World> {
    use AssetKind::*;
    vec![
        world(
            "Plaza Square",
            128.0,
            Plan {
                spawn: [0.0, 0.0, 0.0],
                stalls: &[
                    ("Wearables & Avatars", &[Wearable, Avatar], [-24.0, -12.0]),
                    ("Furniture", &[Furniture], [-8.0, -12.0]),
                    ("Wheels", &[Vehicle], [8.0, -12.0]),
                    ("Gallery", &[Art], [24.0, -12.0]),
                    ("Decor", &[Decoration], [-24.0, 12.0]),
                    ("Lamps", &[Lighting], [-8.0, 12.0]),
                    ("Garden", &[Plant], [8.0, 12.0]),
                    ("Landmarks", &[Structure, Parcel], [24.0, 12.0]),
                ],
                parcels: &[
                    ("North Lot", [-40.0, 40.0], [-10.0, 70.0]),
                    ("East Lot", [40.0, -15.0], [70.0, 15.0]),
                    ("South Lot", [-15.0, -70.0], [15.0, -40.0]),
                ],
                paths: &[
                    // The avenues: west to east between the stall rows, and
                    // south to north between the stalls.
                    ([-100.0, 0.0], [40.0, 0.0], 4.0),
                    ([0.0, -40.0], [0.0, 100.0], 4.0),
                    // To the North Lot.
                    ([0.0, 55.0], [-10.0, 55.0], 3.0),
                ],
                props: &[
                    ("fountain", [0.0, 30.0], 0, 1.4),
                    ("park-bench", [4.0, 30.0], 192, 0.0),
                    ("park-bench", [-4.0, 30.0], 64, 0.0),
                    ("street-lamp", [3.0, 20.0], 0, 0.2),
                    ("street-lamp", [-3.0, 45.0], 0, 0.2),
                    ("street-lamp", [3.0, 70.0], 0, 0.2),
                    ("street-lamp", [-3.0, -25.0], 0, 0.2),
                    ("street-lamp", [20.0, 3.0], 0, 0.2),
                    ("street-lamp", [-40.0, -3.0], 0, 0.2),
                    ("street-lamp", [-75.0, 3.0], 0, 0.2),
                    ("olive-tree", [-40.0, -25.0], 0, 0.5),
                    ("olive-tree", [30.0, 28.0], 40, 0.5),
                    ("olive-tree", [-60.0, 20.0], 80, 0.5),
                    ("olive-tree", [60.0, -40.0], 120, 0.5),
                    ("olive-tree", [-30.0, 85.0], 160, 0.5),
                    ("olive-tree", [30.0, 80.0], 200, 0.5),
                    ("olive-tree", [85.0, 55.0], 10, 0.5),
                    ("olive-tree", [-85.0, -55.0], 50, 0.5),
                    ("olive-tree", [-55.0, -80.0], 90, 0.5),
                    ("signpost", [-8.0, 58.0], 64, 0.15),
                    ("signpost", [37.0, 4.0], 192, 0.15),
                    ("signpost", [3.0, -37.0], 0, 0.15),
                ],
            },
        ),
        world(
            "Harbour Market",
            160.0,
            Plan {
                spawn: [0.0, 0.0, 30.0],
                stalls: &[
                    (
                        "Quay Stores",
                        &[Furniture, Decoration, Lighting],
                        [-20.0, 0.0],
                    ),
                    ("Boathouse", &[Vehicle, Structure, Parcel], [0.0, 0.0]),
                    ("Sailmaker", &[Wearable, Avatar, Art, Plant], [20.0, 0.0]),
                ],
                parcels: &[
                    ("Pier 1", [-60.0, -60.0], [-30.0, -30.0]),
                    ("Pier 2", [-15.0, -60.0], [15.0, -30.0]),
                    ("Pier 3", [30.0, -60.0], [60.0, -30.0]),
                    ("Warehouse Row", [-60.0, 50.0], [60.0, 80.0]),
                ],
                paths: &[
                    // The quay, and the way up to the warehouses.
                    ([-80.0, -20.0], [80.0, -20.0], 5.0),
                    ([10.0, -20.0], [10.0, 50.0], 4.0),
                    // Out to the piers.
                    ([-45.0, -20.0], [-45.0, -30.0], 3.0),
                    ([0.0, -20.0], [0.0, -30.0], 3.0),
                    ([45.0, -20.0], [45.0, -30.0], 3.0),
                ],
                props: &[
                    ("street-lamp", [-60.0, -16.5], 0, 0.2),
                    ("street-lamp", [-25.0, -16.5], 0, 0.2),
                    ("street-lamp", [25.0, -16.5], 0, 0.2),
                    ("street-lamp", [60.0, -16.5], 0, 0.2),
                    ("street-lamp", [13.0, 20.0], 0, 0.2),
                    ("street-lamp", [13.0, 40.0], 0, 0.2),
                    ("barrel", [-28.0, -25.0], 0, 0.4),
                    ("barrel", [-27.0, -26.2], 30, 0.4),
                    ("barrel", [28.0, -25.0], 70, 0.4),
                    ("park-bench", [-10.0, -23.5], 0, 0.0),
                    ("park-bench", [20.0, -23.5], 0, 0.0),
                    ("olive-tree", [-90.0, 20.0], 0, 0.5),
                    ("olive-tree", [90.0, 20.0], 60, 0.5),
                    ("olive-tree", [-70.0, 100.0], 120, 0.5),
                    ("olive-tree", [70.0, 100.0], 180, 0.5),
                    ("olive-tree", [40.0, 30.0], 220, 0.5),
                    ("olive-tree", [-40.0, 30.0], 20, 0.5),
                    ("signpost", [-48.0, -27.0], 0, 0.15),
                    ("signpost", [3.0, -27.0], 0, 0.15),
                    ("signpost", [48.0, -27.0], 0, 0.15),
                    ("signpost", [13.0, 48.0], 0, 0.15),
                ],
            },
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

    #[test]
    fn the_worlds_own_things_are_sample_models_on_the_world_clear_of_stalls_and_parcels() {
        let files: Vec<ContentId> = prop_files()
            .iter()
            .map(|glb| ContentId::of(Codec::Raw, glb))
            .collect();
        assert_eq!(files.len(), PROP_MODELS.len(), "a prop model is missing");
        for world in builtin() {
            let info = &world.info;
            // Every prop of the plan is there: none named a model that
            // is not one.
            let planned = match info.name.as_str() {
                "Plaza Square" => 22,
                _ => 21,
            };
            assert_eq!(info.props.len(), planned, "{}", info.name);
            let on_world = |at: [f32; 2]| at.iter().all(|c| c.abs() < info.half_size);
            for prop in &info.props {
                let model = ContentId::from_bytes(&prop.model).unwrap();
                assert!(files.contains(&model), "{} is no prop model", prop.name);
                assert!(on_world(prop.at), "{} is off {}", prop.name, info.name);
                for stall in &info.stalls {
                    let near =
                        (0..2).all(|axis| (prop.at[axis] - stall.position[axis]).abs() < 3.0);
                    assert!(!near, "{} stands in the stall {}", prop.name, stall.name);
                }
                assert!(
                    info.parcels.iter().all(|parcel| !parcel.contains(prop.at)),
                    "{} stands on a parcel of {}",
                    prop.name,
                    info.name
                );
            }
            for path in &info.paths {
                assert!(on_world(path.from) && on_world(path.to) && path.width > 0.0);
            }
            // The spawn point is clear of every thing that blocks.
            let spawn = [info.spawn[0], info.spawn[2]];
            assert!(info.props.iter().all(|prop| {
                (0..2).any(|axis| (prop.at[axis] - spawn[axis]).abs() > prop.blocks + 0.5)
            }));
        }
    }
}
