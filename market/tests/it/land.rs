//! Land: parcels are the founder's deeds on the ledger, and a parcel's
//! holder (the deed's renter during a rental, else its owner) follows the
//! ledger block by block, with the holder's listings shown on the parcel.

use assets::{AssetKind, Attribute, AttributeValue, Manifest};
use ledger::{Address, AssetId, Operation};
use market::Catalogue;
use market::catalogue::{PARCEL_TRAIT, ParcelChange, Place, Query, WORLD_TRAIT, WorldLayout};
use market::wear::Tenure;

use crate::common::{Net, hourly, manifest};

fn harbour() -> WorldLayout {
    WorldLayout {
        name: "harbour".into(),
        stalls: vec![market::catalogue::Stall {
            name: "Lamps".into(),
            kinds: vec![AssetKind::Lighting],
        }],
        parcels: ["Pier", "Lighthouse"]
            .map(|name| market::catalogue::Parcel {
                name: name.into(),
                holder: None,
                deed: None,
                tenure: None,
            })
            .to_vec(),
    }
}

/// The manifest of a deed to `parcel` of `world`.
fn deed(world: &str, parcel: &str, colour: &str) -> Manifest {
    let mut deed = manifest(parcel, AssetKind::Parcel, "a plot by the water", colour);
    for (name, value) in [(WORLD_TRAIT, world), (PARCEL_TRAIT, parcel)] {
        deed.attributes.push(Attribute {
            trait_type: name.into(),
            value: AttributeValue::Text(value.into()),
        });
    }
    deed
}

/// The pier's change: its deed `deed` held by `holder` under `tenure`.
fn pier_is(deed: AssetId, holder: Address, tenure: Tenure) -> Vec<ParcelChange> {
    vec![ParcelChange {
        world: "harbour".into(),
        parcel: 0,
        deed: Some(deed),
        holder: Some(holder),
        tenure: Some(tenure),
    }]
}

/// The tenure the ledger holds `asset` under now.
fn tenure(net: &Net, asset: &AssetId) -> Tenure {
    market::wear::holding(&net.ledger.asset(asset).unwrap().unwrap()).1
}

/// A deed of `founder`'s to `parcel` of the harbour whose id is lower
/// than `than`.
fn lower_deed(founder: &ledger::Keypair, parcel: &str, than: AssetId) -> Manifest {
    (0..64)
        .map(|n| {
            let mut manifest = deed("harbour", parcel, &format!("shade {n}"));
            manifest.creator = founder.address().to_string();
            manifest
        })
        .find(|manifest| {
            let bytes = manifest.to_json().unwrap();
            AssetId(assets::ContentId::of(assets::Codec::Json, &bytes)) < than
        })
        .expect("one of 64 ids is lower")
}

fn holders(catalogue: &Catalogue) -> Vec<(Option<AssetId>, Option<Address>)> {
    catalogue.worlds()[0]
        .parcels
        .iter()
        .map(|parcel| (parcel.deed, parcel.holder))
        .collect()
}

fn shown_at(net: &Net, place: Place) -> Vec<u64> {
    let query = Query {
        world: Some("harbour".into()),
        place: Some(place),
        ..Query::default()
    };
    net.catalogue
        .search(&query, net.time)
        .unwrap()
        .hits
        .iter()
        .map(|hit| hit.listing.id.0)
        .collect()
}

#[test]
fn a_parcel_is_held_by_its_deeds_holder_and_shows_the_holders_listings() {
    let mut net = Net::new(100);
    net.catalogue.add_world(harbour()).unwrap();
    let (founder, bob, alice) = (
        net.players[0].clone(),
        net.players[4].clone(),
        net.players[3].clone(),
    );
    net.catalogue.set_founder(
        founder.address(),
        &net.ledger.assets().unwrap(),
        &net.manifests,
    );
    assert_eq!(holders(&net.catalogue), [(None, None), (None, None)]);

    // Somebody else's deed to the lighthouse is no deed; the founder's to
    // the pier is.
    net.mint(&alice, deed("harbour", "Lighthouse", "white"));
    assert!(net.catalogue.take_changed_parcels().is_empty());
    let pier = net.mint(&founder, deed("harbour", "Pier", "grey"));
    assert_eq!(
        net.catalogue.take_changed_parcels(),
        pier_is(pier, founder.address(), Tenure::Owner(0))
    );
    // Any other asset of the founder's is no deed.
    net.mint(
        &founder,
        manifest("Brass lamp", AssetKind::Lighting, "", "red"),
    );
    assert!(net.catalogue.take_changed_parcels().is_empty());
    // A second deed to the same parcel, minted later, changes nothing,
    // though its id is the lower.
    let second = lower_deed(&founder, "Pier", pier);
    let second = net.mint(&founder, second);
    assert!(second < pier);
    assert!(net.catalogue.take_changed_parcels().is_empty());
    assert_eq!(
        holders(&net.catalogue),
        [(Some(pier), Some(founder.address())), (None, None)]
    );

    // Alice lists a lamp: it is on the stall, until she holds the pier.
    let lamp = net.mint(
        &alice,
        manifest("Brass lamp", AssetKind::Lighting, "", "gold"),
    );
    let lamp_listing = net.list_for_sale(&alice, lamp, 30, net.time + 50_000);
    assert_eq!(shown_at(&net, Place::Stall(0)), [lamp_listing.0]);

    // The founder gives the pier to Bob, who lets it for an hour.
    net.run(
        &founder,
        Operation::TransferAsset {
            asset: pier,
            to: bob.address(),
        },
    )
    .unwrap();
    assert_eq!(
        holders(&net.catalogue)[0],
        (Some(pier), Some(bob.address()))
    );
    let to_let = net.list_for_rent(&bob, pier, hourly(7), net.time + 50_000);
    // The deed's listing is shown on Bob's parcel, as all his are: the
    // pier itself.
    assert_eq!(shown_at(&net, Place::Parcel(0)), [to_let.0]);
    net.catalogue.take_changed_parcels();
    net.catalogue.take_changed_worlds();
    net.run(
        &alice,
        Operation::Rent {
            listing: to_let,
            periods: 1,
        },
    )
    .unwrap();
    let rented = tenure(&net, &pier);
    assert!(matches!(rented, Tenure::Renter(_)), "{rented:?}");
    assert_eq!(
        net.catalogue.take_changed_parcels(),
        pier_is(pier, alice.address(), rented)
    );
    // Alice's lamp is on her parcel now, and off the stall.
    assert_eq!(shown_at(&net, Place::Parcel(0)), [lamp_listing.0]);
    assert!(shown_at(&net, Place::Stall(0)).is_empty());
    assert_eq!(net.catalogue.take_changed_worlds(), ["harbour"]);

    // A catalogue built afresh from the ledger agrees.
    let mut fresh = Catalogue::build(
        &net.ledger.listings().unwrap(),
        &net.ledger.assets().unwrap(),
        net.time,
        &net.manifests,
    )
    .unwrap();
    fresh.set_founder(
        founder.address(),
        &net.ledger.assets().unwrap(),
        &net.manifests,
    );
    fresh.add_world(harbour()).unwrap();
    assert_eq!(holders(&fresh), holders(&net.catalogue));

    // The hour is up: the block that settles the rental gives the pier
    // back to Bob, and the lamp goes back to the stall.
    let ends = net
        .ledger
        .asset(&pier)
        .unwrap()
        .unwrap()
        .rental
        .unwrap()
        .ends_at;
    net.commit_at(ends, Vec::new());
    assert!(net.ledger.asset(&pier).unwrap().unwrap().rental.is_none());
    let back = tenure(&net, &pier);
    assert!(matches!(back, Tenure::Owner(_)), "{back:?}");
    assert_eq!(
        net.catalogue.take_changed_parcels(),
        pier_is(pier, bob.address(), back)
    );
    // A holder is the deed's: it is not given by hand.
    assert!(
        net.catalogue
            .set_parcel_holder("harbour", 0, Some(alice.address()))
            .is_err()
    );
    assert_eq!(shown_at(&net, Place::Stall(0)), [lamp_listing.0]);
}

#[test]
fn of_two_deeds_to_one_parcel_the_first_minted_counts_and_a_world_added_later_finds_its_own() {
    let mut net = Net::new(100);
    let founder = net.players[0].clone();
    // The founder is named before any world is known.
    net.catalogue.set_founder(
        founder.address(),
        &net.ledger.assets().unwrap(),
        &net.manifests,
    );
    // Two deeds to the lighthouse in one block: the lower id counts.
    let mut txs = Vec::new();
    let mut ids = Vec::new();
    for colour in ["white", "black"] {
        let mut manifest = deed("harbour", "Lighthouse", colour);
        manifest.creator = founder.address().to_string();
        let bytes = manifest.to_json().unwrap();
        let id = AssetId(assets::ContentId::of(assets::Codec::Json, &bytes));
        net.manifests.insert(id, std::sync::Arc::new(manifest));
        let nonce = net.ledger.account(&founder.address()).unwrap().nonce + ids.len() as u64;
        txs.push(
            ledger::Transaction {
                chain_id: ledger::testkit::chain_id(),
                signer: founder.address(),
                nonce,
                valid_until: u64::MAX,
                op: Operation::Mint {
                    manifest: ledger::ManifestBytes(bytes),
                    royalty_bps: 0,
                },
            }
            .sign(&founder),
        );
        ids.push(id);
    }
    let block = net.commit_at(net.time + 1, txs);
    assert!(block.results.iter().all(|result| result.outcome.is_ok()));
    let first = *ids.iter().min().unwrap();
    // The world comes later, and finds its deed.
    net.catalogue.add_world(harbour()).unwrap();
    assert_eq!(
        holders(&net.catalogue),
        [(None, None), (Some(first), Some(founder.address()))]
    );
    // A third deed minted later changes nothing, though its id is the
    // lower.
    let third = lower_deed(&founder, "Lighthouse", first);
    assert!(net.mint(&founder, third) < first);
    assert_eq!(
        holders(&net.catalogue)[1],
        (Some(first), Some(founder.address()))
    );
}
