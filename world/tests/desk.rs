//! The panels' logic against a real host: headless Bevy apps (the
//! session and desk plugins, updated by hand) joined over UDP on
//! 127.0.0.1 to an embedded host with its RocksDB ledger. What a panel
//! does on a click, the test does through the same desk methods and
//! form builders, and checks what the ledger made of it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use ledger::{ListingTerms, Operation};
use market::trade::Action;
use plaza_client::client::Client;
use plaza_client::protocol::{Browse, QuoteAsk};
use world::WorldScene;
use world::avatar::{AvatarPlugin, LocalAvatar};
use world::camera::CameraPlugin;
use world::desk::{Desk, DeskPlugin, TxProgress};
use world::embedded::Embedded;
use world::inventory::ListForm;
use world::net::{NetPlugin, Remotes, Session};
use world::rental::rent_op;
use world::wear::{PlacePlugin, Placed, Placements, WearPlugin, Worn};

const WAIT: Duration = Duration::from_secs(30);

fn player(embedded: &Embedded, name: &str, cache: &Path) -> App {
    let key = embedded.home().load_demo_key(name).unwrap();
    let mut client = Client::connect(embedded.join_addr(), &key, WAIT).unwrap();
    let welcome = client.enter("Plaza Square", WAIT).unwrap().clone();
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .insert_resource(WorldScene::new(
            welcome.clone(),
            key.address().to_string(),
            "embedded".into(),
        ))
        .insert_resource(Remotes::new(welcome.player, &welcome.players))
        .insert_resource(Desk::new(key.address()).with_cache(cache.to_owned()))
        .insert_non_send(Session(client))
        .init_resource::<ButtonInput<KeyCode>>()
        .add_plugins((
            NetPlugin,
            DeskPlugin,
            CameraPlugin,
            AvatarPlugin,
            WearPlugin,
            PlacePlugin,
        ));
    app.update();
    app
}

/// Calls `f` with the app's desk and client, as a panel would.
fn with<T>(app: &mut App, f: impl FnOnce(&mut Desk, &mut Client) -> T) -> T {
    app.world_mut()
        .resource_scope(|world, mut desk: Mut<Desk>| {
            let mut session = world.non_send_mut::<Session>();
            f(&mut desk, &mut session.0)
        })
}

/// Updates the apps until `done` holds of the first one's desk.
fn until(apps: &mut [&mut App], what: &str, done: impl Fn(&Desk) -> bool) {
    let deadline = Instant::now() + WAIT;
    loop {
        for app in apps.iter_mut() {
            app.update();
        }
        if done(apps[0].world().resource::<Desk>()) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Updates `app` until `done` holds of it.
fn settle(app: &mut App, what: &str, mut done: impl FnMut(&mut App) -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done(app) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        app.update();
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Asks for a quote as a panel does, frame after frame, until it comes.
fn quoted(app: &mut App, ask: QuoteAsk) -> plaza_client::protocol::Quote {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(answer) = with(app, |desk, client| desk.quote(client, ask)) {
            return answer.unwrap();
        }
        assert!(Instant::now() < deadline, "no quote for {ask:?}");
        app.update();
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn last_done(desk: &Desk) -> Option<TxProgress> {
    desk.done.back().map(|action| action.stage.clone())
}

#[test]
fn the_panels_rent_list_refuse_and_trade_through_a_real_host() {
    let dir = tempfile::tempdir().unwrap();
    let embedded = Embedded::start(&dir.path().join("host"), true).unwrap();
    let cache = dir.path().join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    let mut cy = player(&embedded, "cy", &cache);
    let mut bo = player(&embedded, "bo", &cache);

    // On entry the desk asks for the account and this world's catalogue.
    until(&mut [&mut cy], "the account and the first page", |desk| {
        desk.holdings.is_some() && !desk.catalogue.hits.is_empty()
    });
    let cy_address = cy.world().resource::<Desk>().me;
    let start_balance = cy
        .world()
        .resource::<Desk>()
        .holdings
        .as_ref()
        .unwrap()
        .account
        .balance;

    // The catalogue panel: rent listings only, a page of three, then the
    // next page and back.
    with(&mut cy, |desk, client| {
        desk.search(
            client,
            Browse {
                rent: Some(true),
                page_size: 3,
                ..Browse::default()
            },
        );
    });
    until(&mut [&mut cy], "a page of rent listings", |desk| {
        !desk.catalogue.waiting
    });
    let first_page: Vec<u64> = {
        let desk = cy.world().resource::<Desk>();
        assert_eq!(desk.catalogue.hits.len(), 3);
        assert!(desk.catalogue.next.is_some());
        assert!(
            desk.catalogue
                .hits
                .iter()
                .all(|hit| matches!(hit.listing.terms, ListingTerms::Rent(_)))
        );
        desk.catalogue
            .hits
            .iter()
            .map(|hit| hit.listing.id.0)
            .collect()
    };
    with(&mut cy, |desk, client| desk.next_page(client));
    until(&mut [&mut cy], "page two", |desk| !desk.catalogue.waiting);
    let second_page: Vec<u64> = cy
        .world()
        .resource::<Desk>()
        .catalogue
        .hits
        .iter()
        .map(|hit| hit.listing.id.0)
        .collect();
    assert!(second_page.iter().all(|id| !first_page.contains(id)));
    assert_eq!(cy.world().resource::<Desk>().catalogue.page, 2);
    with(&mut cy, |desk, client| desk.previous_page(client));
    until(&mut [&mut cy], "page one again", |desk| {
        !desk.catalogue.waiting
    });
    let again: Vec<u64> = cy
        .world()
        .resource::<Desk>()
        .catalogue
        .hits
        .iter()
        .map(|hit| hit.listing.id.0)
        .collect();
    assert_eq!(again, first_page);

    // The card: two periods of the first hit, quoted, then rented.
    let card = cy.world().resource::<Desk>().catalogue.hits[0].clone();
    let ask = QuoteAsk::Rent {
        listing: card.listing.id,
        periods: 2,
    };
    let quote = quoted(&mut cy, ask);
    let ListingTerms::Rent(terms) = card.listing.terms else {
        unreachable!()
    };
    assert_eq!(quote.amount, 2 * terms.price_per_period);
    assert_eq!(quote.pay_now, quote.amount + terms.deposit);
    let op = rent_op(&card, 2).unwrap();
    with(&mut cy, |desk, _| desk.act("rent", op).unwrap());
    until(&mut [&mut cy], "the rental to be final", |desk| {
        desk.actions.is_empty()
    });
    assert!(matches!(
        last_done(cy.world().resource::<Desk>()),
        Some(TxProgress::Applied { .. })
    ));
    until(&mut [&mut cy], "the inventory to show the rental", |desk| {
        desk.holdings
            .as_ref()
            .is_some_and(|held| held.renting.iter().any(|h| h.asset == card.listing.asset))
    });
    let balance = cy
        .world()
        .resource::<Desk>()
        .holdings
        .as_ref()
        .unwrap()
        .account
        .balance;
    assert_eq!(balance, start_balance - quote.pay_now);

    // The return quote for that rental, from the inventory panel.
    let rental = cy
        .world()
        .resource::<Desk>()
        .holdings
        .as_ref()
        .unwrap()
        .renting
        .iter()
        .find(|h| h.asset == card.listing.asset)
        .unwrap()
        .rented
        .unwrap()
        .id;
    let refund = quoted(&mut cy, QuoteAsk::Return { rental });
    // Returned in its first period: the other period and the deposit back.
    assert_eq!(refund.to_renter, terms.price_per_period + terms.deposit);

    // A rented thing put down on a parcel stands there until it is picked
    // up (or its rental ends).
    let parcel = cy.world().resource::<WorldScene>().welcome.world.parcels[0].clone();
    let spot = Vec3::new(
        (parcel.min[0] + parcel.max[0]) / 2.0,
        0.0,
        (parcel.min[1] + parcel.max[1]) / 2.0,
    );
    assert_eq!(
        world::wear::parcel_at(
            cy.world().resource::<WorldScene>(),
            Vec2::new(spot.x, spot.z)
        ),
        Some(0)
    );
    assert_eq!(
        world::wear::parcel_at(cy.world().resource::<WorldScene>(), Vec2::new(1e4, 1e4)),
        None
    );
    cy.world_mut()
        .resource_mut::<Placements>()
        .0
        .insert(card.listing.asset, spot);
    let placed = |app: &mut App| {
        let world = app.world_mut();
        world
            .query::<(&Placed, &Transform)>()
            .iter(world)
            .map(|(placed, at)| (placed.0, at.translation.x, at.translation.z))
            .collect::<Vec<_>>()
    };
    settle(&mut cy, "the rented thing to be placed", |app| {
        !placed(app).is_empty()
    });
    assert_eq!(placed(&mut cy), vec![(card.listing.asset, spot.x, spot.z)]);
    cy.world_mut().resource_mut::<Placements>().0.clear();
    cy.update();
    cy.update();
    assert!(placed(&mut cy).is_empty());

    // A rented wearable sits on the avatar while the rental lasts, and
    // goes when it ends (here: returned early).
    with(&mut cy, |desk, client| {
        desk.search(
            client,
            Browse {
                kind: Some("wearable".into()),
                rent: Some(true),
                page_size: 20,
                ..Browse::default()
            },
        );
    });
    until(&mut [&mut cy], "the wearables for rent", |desk| {
        !desk.catalogue.waiting
    });
    let hat = cy
        .world()
        .resource::<Desk>()
        .catalogue
        .hits
        .first()
        .cloned()
        .expect("a wearable for rent");
    with(&mut cy, |desk, _| {
        desk.act("rent a hat", rent_op(&hat, 1).unwrap()).unwrap()
    });
    until(&mut [&mut cy], "the hat rental", |desk| {
        desk.actions.is_empty()
    });
    assert!(matches!(
        last_done(cy.world().resource::<Desk>()),
        Some(TxProgress::Applied { .. })
    ));
    let avatar = {
        let world = cy.world_mut();
        world
            .query_filtered::<Entity, With<LocalAvatar>>()
            .single(world)
            .unwrap()
    };
    let worn = |app: &mut App| {
        let world = app.world_mut();
        world
            .query::<(&Worn, &ChildOf)>()
            .iter(world)
            .map(|(worn, parent)| (worn.0, parent.parent()))
            .collect::<Vec<_>>()
    };
    settle(&mut cy, "the hat to go on", |app| !worn(app).is_empty());
    assert_eq!(worn(&mut cy), vec![(hat.listing.asset, avatar)]);
    let hat_rental = cy
        .world()
        .resource::<Desk>()
        .holdings
        .as_ref()
        .unwrap()
        .renting
        .iter()
        .find(|h| h.asset == hat.listing.asset)
        .unwrap()
        .rented
        .unwrap()
        .id;
    with(&mut cy, |desk, _| {
        desk.act(
            "return the hat",
            Operation::ReturnRental { rental: hat_rental },
        )
        .unwrap();
    });
    until(&mut [&mut cy], "the hat's return", |desk| {
        desk.actions.is_empty()
    });
    assert!(matches!(
        last_done(cy.world().resource::<Desk>()),
        Some(TxProgress::Applied { .. })
    ));
    settle(
        &mut cy,
        "the hat to come off when its rental ended",
        |app| worn(app).is_empty(),
    );

    // The listing form: one of cy's assets for rent, checked and signed.
    let (to_list, to_trade) = {
        let held = cy.world().resource::<Desk>().holdings.clone().unwrap();
        let free: Vec<_> = held
            .owned
            .iter()
            .filter(|h| h.listing.is_none() && h.rented.is_none())
            .map(|h| h.asset)
            .collect();
        assert!(free.len() >= 2, "cy holds {} free assets", free.len());
        (free[0], free[1])
    };
    let now = cy.world().resource::<Desk>().host_now().unwrap();
    let form = ListForm {
        price: "40".into(),
        max_periods: "10".into(),
        deposit: "15".into(),
        ..ListForm::default()
    };
    let op = form.op(to_list, &cy_address, now).unwrap();
    with(&mut cy, |desk, _| desk.act("list", op).unwrap());
    until(&mut [&mut cy], "the listing to be final", |desk| {
        desk.actions.is_empty()
    });
    assert!(matches!(
        last_done(cy.world().resource::<Desk>()),
        Some(TxProgress::Applied { .. })
    ));
    until(
        &mut [&mut cy],
        "the inventory to show the listing",
        |desk| {
            desk.holdings.as_ref().is_some_and(|held| {
                held.owned
                    .iter()
                    .any(|h| h.asset == to_list && h.listing.is_some())
            })
        },
    );

    // A rule broken: cancelling someone else's listing is refused with the
    // ledger's reason, and the next action still goes through.
    let not_mine = card.listing.id;
    with(&mut cy, |desk, _| {
        desk.act("cancel", Operation::CancelListing { listing: not_mine })
            .unwrap();
    });
    until(&mut [&mut cy], "the refusal", |desk| {
        desk.actions.is_empty()
    });
    match last_done(cy.world().resource::<Desk>()) {
        Some(TxProgress::Rejected(reason)) => assert!(reason.contains("list"), "{reason}"),
        other => panic!("expected a rejection, got {other:?}"),
    }

    // The trade window: cy invites bo, bo accepts; cy offers an asset,
    // bo 1,000 tokens; a change after a confirmation clears both; both
    // confirm and sign, and cy's desk submits the swap.
    let bo_player = bo.world().non_send::<Session>().0.welcome().unwrap().player;
    until(&mut [&mut bo], "bo's account", |desk| {
        desk.holdings.is_some()
    });
    let bo_balance = bo
        .world()
        .resource::<Desk>()
        .holdings
        .as_ref()
        .unwrap()
        .account
        .balance;
    let cy_balance = cy
        .world()
        .resource::<Desk>()
        .holdings
        .as_ref()
        .unwrap()
        .account
        .balance;
    with(&mut cy, |desk, client| {
        desk.trade_invite(client, bo_player).unwrap()
    });
    until(&mut [&mut bo, &mut cy], "bo's invitation", |desk| {
        desk.trade.invitation.is_some()
    });
    with(&mut bo, |desk, client| {
        desk.trade_answer(client, true).unwrap()
    });
    until(&mut [&mut cy, &mut bo], "the window to open", |desk| {
        desk.trade
            .view
            .as_ref()
            .is_some_and(|view| view.stage == market::trade::Stage::Open)
    });
    let revision = cy
        .world()
        .resource::<Desk>()
        .trade
        .view
        .as_ref()
        .unwrap()
        .revision;
    with(&mut cy, |desk, client| {
        desk.trade_act(
            client,
            Action::AddAsset {
                asset: to_trade,
                revision,
            },
        )
        .unwrap();
    });
    until(&mut [&mut bo, &mut cy], "bo to see the asset", |desk| {
        desk.trade
            .view
            .as_ref()
            .is_some_and(|view| view.offers[0].assets == vec![to_trade])
    });
    let revision = bo
        .world()
        .resource::<Desk>()
        .trade
        .view
        .as_ref()
        .unwrap()
        .revision;
    with(&mut bo, |desk, client| {
        let view = desk.trade.view.clone().unwrap();
        let tokens = world::trade::set_tokens(&view, "1,000").unwrap();
        desk.trade_act(client, tokens).unwrap();
    });
    until(&mut [&mut cy, &mut bo], "cy to see the tokens", |desk| {
        desk.trade
            .view
            .as_ref()
            .is_some_and(|view| view.offers[1].tokens == 1_000)
    });
    let revision = {
        let view = cy.world().resource::<Desk>().trade.view.clone().unwrap();
        assert!(view.revision > revision);
        view.revision
    };
    with(&mut cy, |desk, client| {
        desk.trade_act(client, Action::Confirm { revision })
            .unwrap()
    });
    until(
        &mut [&mut bo, &mut cy],
        "bo to see cy's confirmation",
        |desk| {
            desk.trade
                .view
                .as_ref()
                .is_some_and(|view| view.confirmed[0])
        },
    );
    // Bo changes the tokens: both confirmations are cleared.
    with(&mut bo, |desk, client| {
        let view = desk.trade.view.clone().unwrap();
        desk.trade_act(client, world::trade::set_tokens(&view, "900").unwrap())
            .unwrap();
    });
    until(
        &mut [&mut cy, &mut bo],
        "the change to clear cy's confirmation",
        |desk| {
            desk.trade.view.as_ref().is_some_and(|view| {
                view.offers[1].tokens == 900 && view.confirmed == [false, false]
            })
        },
    );
    let revision = cy
        .world()
        .resource::<Desk>()
        .trade
        .view
        .as_ref()
        .unwrap()
        .revision;
    with(&mut cy, |desk, client| {
        desk.trade_act(client, Action::Confirm { revision })
            .unwrap()
    });
    until(
        &mut [&mut bo, &mut cy],
        "bo to see the confirmation",
        |desk| {
            desk.trade
                .view
                .as_ref()
                .is_some_and(|view| view.confirmed[0] && view.revision == revision)
        },
    );
    with(&mut bo, |desk, client| {
        desk.trade_act(client, Action::Confirm { revision })
            .unwrap()
    });
    until(&mut [&mut cy, &mut bo], "the signing stage", |desk| {
        desk.trade
            .view
            .as_ref()
            .is_some_and(|view| view.stage == market::trade::Stage::Signing)
    });
    until(&mut [&mut bo, &mut cy], "bo's signing stage", |desk| {
        desk.trade
            .view
            .as_ref()
            .is_some_and(|view| view.stage == market::trade::Stage::Signing)
    });
    with(&mut bo, |desk, client| desk.trade_sign(client).unwrap());
    with(&mut cy, |desk, client| desk.trade_sign(client).unwrap());
    until(&mut [&mut cy, &mut bo], "the swap to be final", |desk| {
        desk.done
            .iter()
            .any(|action| action.label.starts_with("trade") && action.stage.is_final())
    });
    let outcome = cy
        .world()
        .resource::<Desk>()
        .done
        .iter()
        .find(|a| a.label.starts_with("trade"))
        .unwrap()
        .stage
        .clone();
    assert!(matches!(outcome, TxProgress::Applied { .. }), "{outcome:?}");
    until(&mut [&mut bo, &mut cy], "bo to own the asset", |desk| {
        desk.holdings.as_ref().is_some_and(|held| {
            held.owned.iter().any(|h| h.asset == to_trade)
                && held.account.balance == bo_balance - 900
        })
    });
    until(&mut [&mut cy, &mut bo], "cy to be paid", |desk| {
        desk.holdings.as_ref().is_some_and(|held| {
            !held.owned.iter().any(|h| h.asset == to_trade)
                && held.account.balance == cy_balance + 900
        })
    });

    drop(cy);
    drop(bo);
    embedded.stop().unwrap();
}
