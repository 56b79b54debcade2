//! The catalogue against the real ledger: kept current block by block, it
//! answers every query exactly as a plain filter-and-sort over the
//! ledger's state does, and as a catalogue rebuilt from scratch does.

use std::collections::HashSet;

use assets::AssetKind;
use ledger::{Address, AssetId, ListingStatus, ListingTerms, Operation, RentTerms};
use market::catalogue::{
    Availability, Cursor, Parcel, Place, PriceBasis, PriceRange, Query, Range, Side, Sort, Stall,
    WorldLayout,
};
use market::{Catalogue, MarketError};
use proptest::prelude::*;

use crate::common::{Net, hourly, manifest};

const GOODS: [(&str, AssetKind, &str); 8] = [
    (
        "Brass lamp",
        AssetKind::Lighting,
        "A warm brass lamp for a desk",
    ),
    ("Oak chair", AssetKind::Furniture, "A sturdy chair of oak"),
    (
        "Straw hat",
        AssetKind::Wearable,
        "A wide hat for sunny plazas",
    ),
    (
        "Red bicycle",
        AssetKind::Vehicle,
        "A red bicycle with a basket",
    ),
    (
        "Stone fountain",
        AssetKind::Structure,
        "A fountain of grey stone",
    ),
    ("Tall fern", AssetKind::Plant, "A fern in a clay pot"),
    ("Small vase", AssetKind::Decoration, "A small blue vase"),
    ("Marble bust", AssetKind::Art, "A bust carved in marble"),
];
const COLOURS: [&str; 4] = ["red", "green", "gold", "blue"];

fn harbour() -> WorldLayout {
    WorldLayout {
        name: "harbour".into(),
        stalls: vec![
            Stall {
                name: "Lights and decorations".into(),
                kinds: vec![AssetKind::Lighting, AssetKind::Decoration],
            },
            Stall {
                name: "Furniture".into(),
                kinds: vec![AssetKind::Furniture],
            },
            Stall {
                name: "More furniture and hats".into(),
                kinds: vec![AssetKind::Furniture, AssetKind::Wearable],
            },
        ],
        parcels: vec![
            Parcel {
                name: "Pier".into(),
                holder: None,
                deed: None,
                tenure: None,
            },
            Parcel {
                name: "Lighthouse".into(),
                holder: None,
                deed: None,
                tenure: None,
            },
        ],
    }
}

/// The listings `query` should find at `now`, in order: a plain filter
/// and sort over the ledger's own records.
fn reference(net: &Net, world: &WorldLayout, query: &Query, now: u64) -> Vec<u64> {
    let stop = [
        "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "in", "is", "it",
        "its", "of", "on", "or", "that", "the", "this", "to", "was", "with",
    ];
    let words = |text: &str| -> Vec<String> {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .filter(|w| !stop.contains(&w.as_str()))
            .collect()
    };
    let wanted = words(&query.text);
    let mut found: Vec<((u64, u64), u64)> = Vec::new();
    for listing in net.ledger.listings().unwrap() {
        let asset = net.ledger.asset(&listing.asset).unwrap().unwrap();
        let manifest = &net.manifests[&listing.asset];
        if listing.status != ListingStatus::Open
            || asset.listing != Some(listing.id)
            || asset.owner_seq != listing.owner_seq
            || asset.owner != listing.lister
        {
            continue;
        }
        let free_at = asset.rental.map_or(0, |rental| rental.ends_at);
        let ok_time = match query.available {
            Availability::Any => listing.expires_at > now,
            Availability::Now => listing.expires_at > now && free_at <= now,
            Availability::At(at) => listing.expires_at > now.max(at) && free_at <= at,
        };
        let (rent, price, total, period, reserved) = match listing.terms {
            ListingTerms::Rent(terms) => (
                true,
                terms.price_per_period,
                terms.price_per_period * u64::from(terms.min_periods) + terms.deposit,
                Some(terms.period_secs),
                terms.reserved_for,
            ),
            ListingTerms::Sale { price } => (false, price, price, None, None),
        };
        let basis_price = |basis: PriceBasis| match basis {
            PriceBasis::PerPeriod => price,
            PriceBasis::Total => total,
        };
        let place = world.place_of(listing.id, &listing.lister, Some(manifest.kind));
        let mut listing_words = words(&manifest.name);
        listing_words.extend(words(&manifest.description));
        listing_words.push(manifest.kind.as_str().to_string());
        for attribute in &manifest.attributes {
            if let assets::AttributeValue::Text(text) = &attribute.value {
                listing_words.extend(words(text));
            }
        }
        let matches = ok_time
            && query.kind.is_none_or(|kind| kind == manifest.kind)
            && query.side.is_none_or(|side| (side == Side::Rent) == rent)
            && query.price.is_none_or(|p| {
                p.range.min <= basis_price(p.basis) && basis_price(p.basis) <= p.range.max
            })
            && query
                .period_secs
                .is_none_or(|r| period.is_some_and(|s| r.min <= s && s <= r.max))
            && query.creator.is_none_or(|c| c == asset.creator)
            && query.owner.is_none_or(|o| o == listing.lister)
            && (query.world.is_none() || place.is_some())
            && query.place.is_none_or(|p| place == Some(p))
            && reserved.is_none_or(|to| query.viewer == Some(to))
            && wanted.iter().all(|w| {
                listing_words.iter().any(|lw| {
                    if w.chars().count() < 2 || w.bytes().all(|b| b.is_ascii_digit()) {
                        lw == w
                    } else {
                        lw.starts_with(w.as_str())
                    }
                })
            });
        if !matches {
            continue;
        }
        let id = listing.id.0;
        let key = match query.sort {
            Sort::Newest => (!listing.created_at, !id),
            Sort::PriceLow => (basis_price(query.sort_basis), id),
            Sort::PriceHigh => (!basis_price(query.sort_basis), id),
            Sort::EndingSoon => (listing.expires_at, id),
        };
        found.push((key, id));
    }
    found.sort_unstable();
    found.into_iter().map(|(_, id)| id).collect()
}

/// Every listing `query` finds, page after page.
fn all_pages(catalogue: &Catalogue, query: &Query, now: u64) -> Vec<u64> {
    let mut query = query.clone();
    let mut ids = Vec::new();
    loop {
        let page = catalogue.search(&query, now).unwrap();
        assert!(page.hits.len() <= query.page_size);
        ids.extend(page.hits.iter().map(|hit| hit.listing.id.0));
        match page.next {
            Some(next) => {
                assert_eq!(page.hits.len(), query.page_size);
                query.after = Some(next.to_string().parse().unwrap());
            }
            None => return ids,
        }
    }
}

#[derive(Clone, Debug)]
enum Action {
    Mint {
        creator: usize,
        good: usize,
        colour: usize,
    },
    ListRent {
        asset: usize,
        price: u64,
        hours: u64,
        min: u32,
        extra: u32,
        deposit: u64,
        expires_in: u64,
        reserved: Option<usize>,
    },
    ListSale {
        asset: usize,
        price: u64,
        expires_in: u64,
    },
    Cancel {
        asset: usize,
    },
    Rent {
        who: usize,
        asset: usize,
        periods: u32,
    },
    Buy {
        who: usize,
        asset: usize,
    },
    Give {
        asset: usize,
        to: usize,
    },
    Return {
        asset: usize,
    },
    Wait {
        secs: u64,
    },
    Parcel {
        parcel: u16,
        holder: Option<usize>,
    },
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => (0..6usize, 0..GOODS.len(), 0..COLOURS.len())
            .prop_map(|(creator, good, colour)| Action::Mint { creator, good, colour }),
        4 => (0..64usize, 1..50u64, 1..4u64, 1..3u32, 0..5u32, 0..20u64, 1_000..40_000u64, prop::option::weighted(0.2, 0..6usize))
            .prop_map(|(asset, price, hours, min, extra, deposit, expires_in, reserved)| Action::ListRent {
                asset, price, hours, min, extra, deposit, expires_in, reserved,
            }),
        2 => (0..64usize, 1..500u64, 1_000..40_000u64)
            .prop_map(|(asset, price, expires_in)| Action::ListSale { asset, price, expires_in }),
        1 => (0..64usize).prop_map(|asset| Action::Cancel { asset }),
        2 => (0..6usize, 0..64usize, 1..4u32)
            .prop_map(|(who, asset, periods)| Action::Rent { who, asset, periods }),
        1 => (0..6usize, 0..64usize).prop_map(|(who, asset)| Action::Buy { who, asset }),
        1 => (0..64usize, 0..6usize).prop_map(|(asset, to)| Action::Give { asset, to }),
        1 => (0..64usize).prop_map(|asset| Action::Return { asset }),
        2 => (1..9_000u64).prop_map(|secs| Action::Wait { secs }),
        1 => (0..2u16, prop::option::of(0..6usize)).prop_map(|(parcel, holder)| Action::Parcel { parcel, holder }),
    ]
}

fn query(players: Vec<Address>) -> impl Strategy<Value = (Query, u64)> {
    let who = move || prop::option::weighted(0.2, prop::sample::select(players.clone()));
    let words = prop::sample::select(vec![
        "",
        "lamp",
        "la",
        "oak chair",
        "hat",
        "r",
        "red",
        "gold",
        "stone",
        "vase blue",
        "furniture",
        "b",
        "marble",
        "zebra",
        "3",
        "12",
        "lamp 1",
    ]);
    let sorts = prop::sample::select(vec![
        Sort::Newest,
        Sort::PriceLow,
        Sort::PriceHigh,
        Sort::EndingSoon,
    ]);
    let bases = prop::sample::select(vec![PriceBasis::PerPeriod, PriceBasis::Total]);
    (
        (
            prop::option::weighted(0.3, prop::sample::select(AssetKind::ALL.to_vec())),
            prop::option::weighted(0.4, prop::sample::select(vec![Side::Rent, Side::Sale])),
            prop::option::weighted(0.2, (0..200u64, 0..200u64, bases.clone())),
            prop::option::weighted(0.1, (0..8_000u64, 3_000..20_000u64)),
            prop::sample::select(vec![0u8, 1, 2]),
            0..20_000u64,
        ),
        (who(), who(), who()),
        (
            prop::option::weighted(
                0.3,
                prop::option::weighted(
                    0.5,
                    prop::sample::select(vec![
                        Place::Stall(0),
                        Place::Stall(1),
                        Place::Stall(2),
                        Place::Parcel(0),
                        Place::Parcel(1),
                    ]),
                ),
            ),
            words,
            sorts,
            bases,
            1..7usize,
        ),
    )
        .prop_map(
            |(
                (kind, side, price, period, available, later),
                (creator, owner, viewer),
                (world, text, sort, sort_basis, page_size),
            )| {
                let query = Query {
                    kind,
                    side,
                    price: price.map(|(a, b, basis)| PriceRange {
                        range: Range {
                            min: a.min(b),
                            max: a.max(b),
                        },
                        basis,
                    }),
                    period_secs: period.map(|(a, b)| Range {
                        min: a.min(b),
                        max: a.max(b),
                    }),
                    available: match available {
                        0 => Availability::Any,
                        1 => Availability::Now,
                        _ => Availability::At(later),
                    },
                    creator,
                    owner,
                    world: world.map(|_| "harbour".to_string()),
                    place: world.flatten(),
                    text: text.to_string(),
                    viewer,
                    sort,
                    sort_basis,
                    page_size,
                    after: None,
                };
                (query, later)
            },
        )
}

fn step(net: &mut Net, assets: &mut Vec<AssetId>, action: &Action) {
    let owner_of = |net: &Net, asset: &AssetId| {
        let owner = net.ledger.asset(asset).unwrap().unwrap().owner;
        net.players
            .iter()
            .find(|p| p.address() == owner)
            .unwrap()
            .clone()
    };
    let pick =
        |assets: &Vec<AssetId>, i: usize| (!assets.is_empty()).then(|| assets[i % assets.len()]);
    let now = net.time;
    match *action {
        Action::Mint {
            creator,
            good,
            colour,
        } => {
            let (name, kind, description) = GOODS[good];
            let made = manifest(
                &format!("{name} {}", assets.len()),
                kind,
                description,
                COLOURS[colour],
            );
            let creator = net.players[creator].clone();
            assets.push(net.mint(&creator, made));
        }
        Action::ListRent {
            asset,
            price,
            hours,
            min,
            extra,
            deposit,
            expires_in,
            reserved,
        } => {
            let Some(asset) = pick(assets, asset) else {
                return;
            };
            let owner = owner_of(net, &asset);
            let terms = RentTerms {
                price_per_period: price,
                period_secs: hours * 3_600,
                min_periods: min,
                max_periods: min + extra,
                deposit,
                reserved_for: reserved.map(|i| net.players[i].address()),
            };
            let _ = net.run(
                &owner,
                Operation::ListForRent {
                    asset,
                    terms,
                    expires_at: now + expires_in,
                },
            );
        }
        Action::ListSale {
            asset,
            price,
            expires_in,
        } => {
            let Some(asset) = pick(assets, asset) else {
                return;
            };
            let owner = owner_of(net, &asset);
            let _ = net.run(
                &owner,
                Operation::ListForSale {
                    asset,
                    price,
                    expires_at: now + expires_in,
                },
            );
        }
        Action::Cancel { asset } => {
            let Some(asset) = pick(assets, asset) else {
                return;
            };
            let record = net.ledger.asset(&asset).unwrap().unwrap();
            if let Some(listing) = record.listing {
                let owner = owner_of(net, &asset);
                let _ = net.run(&owner, Operation::CancelListing { listing });
            }
        }
        Action::Rent {
            who,
            asset,
            periods,
        } => {
            let Some(asset) = pick(assets, asset) else {
                return;
            };
            if let Some(listing) = net.ledger.asset(&asset).unwrap().unwrap().listing {
                let who = net.players[who].clone();
                let _ = net.run(&who, Operation::Rent { listing, periods });
            }
        }
        Action::Buy { who, asset } => {
            let Some(asset) = pick(assets, asset) else {
                return;
            };
            if let Some(listing) = net.ledger.asset(&asset).unwrap().unwrap().listing {
                let who = net.players[who].clone();
                let _ = net.run(&who, Operation::Buy { listing });
            }
        }
        Action::Give { asset, to } => {
            let Some(asset) = pick(assets, asset) else {
                return;
            };
            let owner = owner_of(net, &asset);
            let to = net.players[to].address();
            let _ = net.run(&owner, Operation::TransferAsset { asset, to });
        }
        Action::Return { asset } => {
            let Some(asset) = pick(assets, asset) else {
                return;
            };
            if let Some(rental) = net.ledger.asset(&asset).unwrap().unwrap().rental {
                let renter = net
                    .players
                    .iter()
                    .find(|p| p.address() == rental.renter)
                    .unwrap()
                    .clone();
                let _ = net.run(&renter, Operation::ReturnRental { rental: rental.id });
            }
        }
        Action::Wait { secs } => {
            net.commit_at(now + secs, Vec::new());
        }
        Action::Parcel { parcel, holder } => {
            let holder = holder.map(|i| net.players[i].address());
            net.catalogue
                .set_parcel_holder("harbour", parcel, holder)
                .unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn the_catalogue_answers_as_the_ledger_state_does_block_after_block(
        actions in prop::collection::vec(action(), 10..60),
        queries in prop::collection::vec(query((0..6).map(|i| ledger::testkit::keypair(3, i).address()).collect()), 60),
    ) {
        let mut net = Net::new(100);
        net.catalogue.add_world(harbour()).unwrap();
        let mut assets = Vec::new();
        for (i, action) in actions.iter().enumerate() {
            step(&mut net, &mut assets, action);
            let (query, later) = &queries[i % queries.len()];
            let world = net.catalogue.worlds()[0].clone();
            for now in [net.time, net.time + later] {
                let want = reference(&net, &world, query, now);
                prop_assert_eq!(&all_pages(&net.catalogue, query, now), &want, "{:?} at {}", query, now);
                // A catalogue built afresh from the ledger answers the same.
                let mut fresh = Catalogue::build(
                    &net.ledger.listings().unwrap(),
                    &net.ledger.assets().unwrap(),
                    net.time,
                    &net.manifests,
                ).unwrap();
                fresh.add_world(world.clone()).unwrap();
                prop_assert_eq!(&all_pages(&fresh, query, now), &want);
            }
        }
    }
}

/// A catalogue with `count` sale listings of lamps by the owner.
fn lamps(count: usize) -> (Net, Vec<AssetId>) {
    let mut net = Net::new(100);
    let owner = net.owner();
    let mut assets = Vec::new();
    for i in 0..count {
        let asset = net.mint(
            &owner,
            manifest(&format!("Lamp {i}"), AssetKind::Lighting, "A lamp", "gold"),
        );
        net.list_for_sale(&owner, asset, 100 + (i as u64 % 7) * 10, net.time + 100_000);
        assets.push(asset);
    }
    (net, assets)
}

#[test]
fn paging_is_stable_while_listings_come_and_go() {
    let (mut net, assets) = lamps(30);
    let owner = net.owner();
    let query = Query {
        sort: Sort::PriceLow,
        page_size: 4,
        ..Query::default()
    };
    let before: HashSet<u64> = all_pages(&net.catalogue, &query, net.time)
        .into_iter()
        .collect();
    assert_eq!(before.len(), 30);
    let mut seen = Vec::new();
    let mut cancelled = HashSet::new();
    let mut query = query;
    let mut round = 0;
    loop {
        let page = net.catalogue.search(&query, net.time).unwrap();
        seen.extend(
            page.hits
                .iter()
                .map(|hit| (hit.listing.id.0, hit.listing.terms)),
        );
        let Some(next) = page.next else { break };
        query.after = Some(next);
        // Between pages, one listing is cancelled and a cheap one added.
        round += 1;
        let gone = assets[(round * 7) % assets.len()];
        let listing = net.listing_of(&gone);
        if net
            .run(&owner, Operation::CancelListing { listing })
            .is_ok()
        {
            cancelled.insert(listing.0);
        }
        let extra = net.mint(
            &owner,
            manifest(
                &format!("New lamp {round}"),
                AssetKind::Lighting,
                "A lamp",
                "red",
            ),
        );
        net.list_for_sale(&owner, extra, 1, net.time + 100_000);
    }
    let ids: Vec<u64> = seen.iter().map(|(id, _)| *id).collect();
    let distinct: HashSet<u64> = ids.iter().copied().collect();
    assert_eq!(distinct.len(), ids.len(), "a listing was shown twice");
    // Every listing open from the first page to the last was shown.
    for id in before.difference(&cancelled) {
        assert!(distinct.contains(id), "listing #{id} was skipped");
    }
    // And in price order.
    let prices: Vec<u64> = seen
        .iter()
        .map(|(_, terms)| match terms {
            ListingTerms::Sale { price } => *price,
            ListingTerms::Rent(_) => unreachable!(),
        })
        .collect();
    assert!(prices.windows(2).all(|pair| pair[0] <= pair[1]));
}

#[test]
fn a_world_is_named_changed_when_what_its_stalls_and_parcels_show_changes() {
    let mut net = Net::new(100);
    net.catalogue.add_world(harbour()).unwrap();
    net.catalogue.take_changed_worlds();
    let (alice, bob, carol) = (
        net.players[3].clone(),
        net.players[4].clone(),
        net.players[5].clone(),
    );
    let lamp = net.mint(
        &alice,
        manifest("Brass lamp", AssetKind::Lighting, "", "gold"),
    );
    let fern = net.mint(&bob, manifest("Tall fern", AssetKind::Plant, "", "green"));
    assert!(
        net.catalogue.take_changed_worlds().is_empty(),
        "mints list nothing"
    );
    // A lamp listed: the harbour's lighting stall shows it.
    let lamp_listing = net.list_for_rent(&alice, lamp, hourly(5), net.time + 50_000);
    assert_eq!(net.catalogue.take_changed_worlds(), ["harbour"]);
    assert!(net.catalogue.take_changed_worlds().is_empty(), "taken once");
    // A fern listed: no stall of the harbour shows plants.
    net.list_for_sale(&bob, fern, 9, net.time + 50_000);
    assert!(net.catalogue.take_changed_worlds().is_empty());
    // The lamp rented out, then its listing cancelled once it is back.
    net.run(
        &carol,
        Operation::Rent {
            listing: lamp_listing,
            periods: 1,
        },
    )
    .unwrap();
    assert_eq!(net.catalogue.take_changed_worlds(), ["harbour"]);
    // Transferring money changes nothing shown.
    net.run(
        &carol,
        Operation::Pay {
            to: alice.address(),
            amount: 1,
        },
    )
    .unwrap();
    assert!(net.catalogue.take_changed_worlds().is_empty());
    let back = net.time + 3_600 + 1;
    net.commit_at(back, Vec::new());
    assert_eq!(net.catalogue.take_changed_worlds(), ["harbour"], "returned");
    net.run(
        &alice,
        Operation::CancelListing {
            listing: lamp_listing,
        },
    )
    .unwrap();
    assert_eq!(
        net.catalogue.take_changed_worlds(),
        ["harbour"],
        "cancelled"
    );
    // Bob takes the pier: his fern is shown there now.
    net.catalogue
        .set_parcel_holder("harbour", 0, Some(bob.address()))
        .unwrap();
    assert_eq!(net.catalogue.take_changed_worlds(), ["harbour"]);
}

#[test]
fn stalls_and_parcels_show_the_listings_placed_there() {
    let mut net = Net::new(100);
    net.catalogue.add_world(harbour()).unwrap();
    let (alice, bob) = (net.players[3].clone(), net.players[4].clone());
    let lamp = net.mint(
        &alice,
        manifest("Brass lamp", AssetKind::Lighting, "", "gold"),
    );
    let chair = net.mint(
        &alice,
        manifest("Oak chair", AssetKind::Furniture, "", "brown"),
    );
    let fern = net.mint(&bob, manifest("Tall fern", AssetKind::Plant, "", "green"));
    let lamp_listing = net.list_for_rent(&alice, lamp, hourly(5), net.time + 50_000);
    let chair_listing = net.list_for_sale(&alice, chair, 40, net.time + 50_000);
    let fern_listing = net.list_for_sale(&bob, fern, 9, net.time + 50_000);
    let at = |net: &Net, place: Place| -> Vec<u64> {
        let query = Query {
            world: Some("harbour".into()),
            place: Some(place),
            ..Query::default()
        };
        all_pages(&net.catalogue, &query, net.time)
    };
    assert_eq!(at(&net, Place::Stall(0)), [lamp_listing.0]);
    let chair_stall = if chair_listing.0.is_multiple_of(2) {
        1
    } else {
        2
    };
    assert_eq!(at(&net, Place::Stall(chair_stall)), [chair_listing.0]);
    // No stall shows plants: the fern is not in this world.
    let in_world = Query {
        world: Some("harbour".into()),
        ..Query::default()
    };
    let shown = all_pages(&net.catalogue, &in_world, net.time);
    assert!(!shown.contains(&fern_listing.0));
    assert_eq!(
        net.catalogue.get(fern_listing).unwrap().places,
        Vec::<(String, Place)>::new()
    );
    // Bob takes the pier: his fern is shown there. Alice takes the
    // lighthouse: both her listings leave the stalls for it.
    net.catalogue
        .set_parcel_holder("harbour", 0, Some(bob.address()))
        .unwrap();
    net.catalogue
        .set_parcel_holder("harbour", 1, Some(alice.address()))
        .unwrap();
    assert_eq!(at(&net, Place::Parcel(0)), [fern_listing.0]);
    assert_eq!(
        at(&net, Place::Parcel(1)),
        [chair_listing.0, lamp_listing.0],
        "newest first"
    );
    assert!(at(&net, Place::Stall(0)).is_empty());
    assert_eq!(
        net.catalogue.get(lamp_listing).unwrap().places,
        [("harbour".to_string(), Place::Parcel(1))]
    );
    // A place that is not there is an error, not an empty page.
    let nowhere = Query {
        world: Some("harbour".into()),
        place: Some(Place::Stall(9)),
        ..Query::default()
    };
    assert!(matches!(
        net.catalogue.search(&nowhere, net.time),
        Err(MarketError::UnknownPlace { .. })
    ));
    let elsewhere = Query {
        world: Some("moon".into()),
        ..Query::default()
    };
    assert_eq!(
        net.catalogue.search(&elsewhere, net.time),
        Err(MarketError::UnknownWorld("moon".into()))
    );
    assert!(matches!(
        net.catalogue.add_world(harbour()),
        Err(MarketError::BadWorld { .. })
    ));
}

#[test]
fn a_listing_without_its_manifest_is_kept_until_a_true_one_arrives() {
    let mut net = Net::new(100);
    let owner = net.owner();
    let mut made = manifest("Brass lamp", AssetKind::Lighting, "Warm light", "gold");
    made.creator = owner.address().to_string();
    let lamp = net.mint(&owner, made.clone());
    let other = manifest("Oak chair", AssetKind::Furniture, "", "brown");
    // This host has not fetched the lamp's manifest yet.
    net.manifests.clear();
    let listing = net.list_for_sale(&owner, lamp, 30, net.time + 10_000);
    assert_eq!(net.catalogue.missing_manifests(), [lamp]);
    let by_text = Query {
        text: "brass".into(),
        ..Query::default()
    };
    assert!(all_pages(&net.catalogue, &by_text, net.time).is_empty());
    assert_eq!(
        all_pages(&net.catalogue, &Query::default(), net.time),
        [listing.0]
    );
    // A peer sends the wrong manifest: refused, nothing changes.
    assert!(matches!(
        net.catalogue.set_manifest(lamp, other),
        Err(MarketError::ManifestMismatch { .. })
    ));
    assert_eq!(net.catalogue.missing_manifests(), [lamp]);
    assert!(net.catalogue.set_manifest(lamp, made).unwrap());
    assert!(net.catalogue.missing_manifests().is_empty());
    assert_eq!(all_pages(&net.catalogue, &by_text, net.time), [listing.0]);
    let hit = net.catalogue.get(listing).unwrap();
    assert_eq!(hit.manifest.unwrap().name, "Brass lamp");
    assert_eq!(hit.creator, owner.address());
}

#[test]
fn reserved_listings_show_only_to_their_renter() {
    let mut net = Net::new(100);
    let owner = net.owner();
    let friend = net.renter();
    let lamp = net.mint(
        &owner,
        manifest("Brass lamp", AssetKind::Lighting, "", "gold"),
    );
    let terms = RentTerms {
        reserved_for: Some(friend.address()),
        ..hourly(4)
    };
    let listing = net.list_for_rent(&owner, lamp, terms, net.time + 10_000);
    let as_viewer = |viewer: Option<Address>| Query {
        viewer,
        ..Query::default()
    };
    assert!(all_pages(&net.catalogue, &as_viewer(None), net.time).is_empty());
    assert!(
        all_pages(
            &net.catalogue,
            &as_viewer(Some(net.creator().address())),
            net.time
        )
        .is_empty()
    );
    assert_eq!(
        all_pages(&net.catalogue, &as_viewer(Some(friend.address())), net.time),
        [listing.0]
    );
}

#[test]
fn listings_leave_when_they_close_expire_or_their_asset_changes_hands() {
    let (mut net, assets) = lamps(4);
    let owner = net.owner();
    let buyer = net.renter();
    assert_eq!(net.catalogue.len(), 4);
    let sold = net.listing_of(&assets[0]);
    net.run(&buyer, Operation::Buy { listing: sold }).unwrap();
    assert!(net.catalogue.get(sold).is_none());
    let given = net.listing_of(&assets[1]);
    let to = net.players[5].address();
    net.run(
        &owner,
        Operation::TransferAsset {
            asset: assets[1],
            to,
        },
    )
    .unwrap();
    assert!(net.catalogue.get(given).is_none());
    let cancelled = net.listing_of(&assets[2]);
    net.run(&owner, Operation::CancelListing { listing: cancelled })
        .unwrap();
    assert!(net.catalogue.get(cancelled).is_none());
    assert_eq!(net.catalogue.len(), 1);
    // The last one expires: a block past its end drops it.
    let last = net.catalogue.get(net.listing_of(&assets[3])).unwrap();
    net.commit_at(last.listing.expires_at, Vec::new());
    assert!(net.catalogue.is_empty());
}

#[test]
fn bad_queries_say_what_is_wrong() {
    let (net, _) = lamps(3);
    let search = |query: Query| net.catalogue.search(&query, net.time);
    assert!(matches!(
        search(Query {
            page_size: 0,
            ..Query::default()
        }),
        Err(MarketError::BadQuery(_))
    ));
    assert!(matches!(
        search(Query {
            page_size: 101,
            ..Query::default()
        }),
        Err(MarketError::BadQuery(_))
    ));
    assert!(matches!(
        search(Query {
            price: Some(PriceRange {
                range: Range { min: 9, max: 1 },
                basis: PriceBasis::Total
            }),
            ..Query::default()
        }),
        Err(MarketError::BadQuery(_))
    ));
    assert!(matches!(
        search(Query {
            text: "b c d e f g h i j".into(),
            ..Query::default()
        }),
        Err(MarketError::BadQuery(_))
    ));
    let first = search(Query {
        page_size: 1,
        ..Query::default()
    })
    .unwrap();
    let cursor: Cursor = first.next.unwrap();
    assert_eq!(
        search(Query {
            sort: Sort::PriceLow,
            after: Some(cursor),
            ..Query::default()
        }),
        Err(MarketError::CursorMismatch)
    );
    assert!(matches!(
        "z0.0".parse::<Cursor>(),
        Err(MarketError::BadCursor(_))
    ));
}
