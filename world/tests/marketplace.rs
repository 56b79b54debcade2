//! The panels' logic against a real host: headless Bevy apps (the
//! session and marketplace plugins, updated by hand) joined over UDP on
//! 127.0.0.1 to an embedded host with its RocksDB ledger. What a panel
//! does on a click, the test does through the same marketplace methods and
//! form builders, and checks what the ledger made of it.

// They run the embedded host.
#![cfg(feature = "embedded-host")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use bevy::prelude::*;
use ledger::{ListingTerms, Operation};
use market::trade::Action;
use plaza_client::protocol::{Browse, QuoteAsk, Slot};
use world::WorldScene;
use world::avatar::{AvatarPlugin, LocalAvatar};
use world::camera::CameraPlugin;
use world::embedded::Embedded;
use world::figure::{Figure, FigurePlugin};
use world::inventory::ListForm;
use world::land::{LandPlugin, Placed};
use world::marketplace::{Marketplace, MarketplacePlugin, TxProgress};
use world::net::{HostSession, NetPlugin, NetStatus, RemoteAvatar};
use world::rental::rent_op;
use world::stalls::{Loader, StallItems, StallsPlugin};
use world::wear::{WearPlugin, Worn};

mod support;

use support::{WAIT, join_into, settle, update_until, with};

/// A host on a fresh network of demo accounts in a folder of its own, and
/// a model cache there (the folder goes when the first is dropped).
fn embedded_host() -> (tempfile::TempDir, Embedded, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let embedded = Embedded::start(&dir.path().join("host"), true).unwrap();
    let cache = dir.path().join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    (dir, embedded, cache)
}

fn player(embedded: &Embedded, name: &str, cache: &Path) -> App {
    let mut app = App::new();
    app.add_plugins(MinimalPlugins);
    join_into(&mut app, embedded, name, cache, |_, _| {});
    app.init_resource::<ButtonInput<KeyCode>>().add_plugins((
        NetPlugin,
        MarketplacePlugin,
        CameraPlugin,
        AvatarPlugin,
        (WearPlugin, FigurePlugin),
        LandPlugin,
    ));
    app.update();
    app
}

/// Updates the apps until `done` holds of the first one's marketplace.
fn until(apps: &mut [&mut App], what: &str, done: impl Fn(&Marketplace) -> bool) {
    update_until(apps, what, |app| {
        done(app.world().resource::<Marketplace>())
    });
}

/// Asks for a quote as a panel does, frame after frame, until it comes.
fn quoted(app: &mut App, ask: QuoteAsk) -> plaza_client::protocol::Quote {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(answer) = with(app, |marketplace, client| marketplace.quote(client, ask)) {
            return answer.unwrap();
        }
        assert!(Instant::now() < deadline, "no quote for {ask:?}");
        app.update();
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The parcel of the square `me` holds, by index, as `app`'s scene has it.
fn own_parcel(app: &App, me: ledger::Address) -> (u16, plaza_client::protocol::ParcelInfo) {
    let scene = app.world().resource::<WorldScene>();
    let (index, parcel) = scene
        .welcome
        .world
        .parcels
        .iter()
        .enumerate()
        .find(|(_, parcel)| parcel.holder == Some(me))
        .expect("the player holds a parcel of the square");
    (u16::try_from(index).unwrap(), parcel.clone())
}

fn last_done(marketplace: &Marketplace) -> Option<TxProgress> {
    marketplace.done.back().map(|action| action.stage.clone())
}

#[test]
fn the_panels_rent_list_refuse_and_trade_through_a_real_host() {
    let (_dir, embedded, cache) = embedded_host();
    let mut cy = player(&embedded, "cy", &cache);
    let mut bo = player(&embedded, "bo", &cache);

    // On entry the marketplace asks for the account and this world's catalogue.
    until(
        &mut [&mut cy],
        "the account and the first page",
        |marketplace| marketplace.holdings.is_some() && !marketplace.catalogue.hits.is_empty(),
    );
    let cy_address = cy.world().resource::<Marketplace>().me;
    let start_balance = cy
        .world()
        .resource::<Marketplace>()
        .holdings
        .as_ref()
        .unwrap()
        .account
        .balance;

    // The catalogue panel: rent listings only, a page of three, then the
    // next page and back.
    with(&mut cy, |marketplace, client| {
        marketplace.search(
            client,
            Browse {
                rent: Some(true),
                page_size: 3,
                ..Browse::default()
            },
        );
    });
    until(&mut [&mut cy], "a page of rent listings", |marketplace| {
        !marketplace.catalogue.waiting
    });
    let first_page: Vec<u64> = {
        let marketplace = cy.world().resource::<Marketplace>();
        assert_eq!(marketplace.catalogue.hits.len(), 3);
        assert!(marketplace.catalogue.next.is_some());
        assert!(
            marketplace
                .catalogue
                .hits
                .iter()
                .all(|hit| matches!(hit.listing.terms, ListingTerms::Rent(_)))
        );
        marketplace
            .catalogue
            .hits
            .iter()
            .map(|hit| hit.listing.id.0)
            .collect()
    };
    with(&mut cy, |marketplace, client| marketplace.next_page(client));
    until(&mut [&mut cy], "page two", |marketplace| {
        !marketplace.catalogue.waiting
    });
    let second_page: Vec<u64> = cy
        .world()
        .resource::<Marketplace>()
        .catalogue
        .hits
        .iter()
        .map(|hit| hit.listing.id.0)
        .collect();
    assert!(second_page.iter().all(|id| !first_page.contains(id)));
    assert_eq!(cy.world().resource::<Marketplace>().catalogue.page, 2);
    with(&mut cy, |marketplace, client| {
        marketplace.previous_page(client)
    });
    until(&mut [&mut cy], "page one again", |marketplace| {
        !marketplace.catalogue.waiting
    });
    let again: Vec<u64> = cy
        .world()
        .resource::<Marketplace>()
        .catalogue
        .hits
        .iter()
        .map(|hit| hit.listing.id.0)
        .collect();
    assert_eq!(again, first_page);

    // The card: two periods of the first hit that is not land, quoted,
    // then rented.
    let card = cy
        .world()
        .resource::<Marketplace>()
        .catalogue
        .hits
        .iter()
        .find(|hit| hit.kind.as_deref() != Some("parcel"))
        .expect("a rent listing of a thing")
        .clone();
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
    with(&mut cy, |marketplace, _| {
        marketplace.act("rent", op).unwrap()
    });
    until(&mut [&mut cy], "the rental to be final", |marketplace| {
        marketplace.actions.is_empty()
    });
    assert!(matches!(
        last_done(cy.world().resource::<Marketplace>()),
        Some(TxProgress::Applied { .. })
    ));
    until(
        &mut [&mut cy],
        "the inventory to show the rental",
        |marketplace| {
            marketplace
                .holdings
                .as_ref()
                .is_some_and(|held| held.renting.iter().any(|h| h.asset == card.listing.asset))
        },
    );
    let balance = cy
        .world()
        .resource::<Marketplace>()
        .holdings
        .as_ref()
        .unwrap()
        .account
        .balance;
    assert_eq!(balance, start_balance - quote.pay_now);

    // The return quote for that rental, from the inventory panel.
    let rental = cy
        .world()
        .resource::<Marketplace>()
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

    // Cy holds a parcel of the square: a rented thing put down there
    // stands there for everyone until it is taken up (or its rental ends).
    let (index, parcel) = own_parcel(&cy, cy_address);
    let spot = [
        (parcel.min[0] + parcel.max[0]) / 2.0,
        (parcel.min[1] + parcel.max[1]) / 2.0,
    ];
    assert_eq!(
        world::land::parcel_at(cy.world().resource::<WorldScene>(), Vec2::from_array(spot)),
        Some(usize::from(index))
    );
    assert_eq!(
        world::land::parcel_at(cy.world().resource::<WorldScene>(), Vec2::new(1e4, 1e4)),
        None
    );
    let item = plaza_client::land::PlacedItem::new(card.listing.asset, spot, 0);
    with(&mut cy, |marketplace, client| {
        marketplace.arrange(client, index, vec![item])
    })
    .unwrap();
    let placed = |app: &mut App| {
        let world = app.world_mut();
        world
            .query::<(&Placed, &Transform)>()
            .iter(world)
            .map(|(placed, at)| (placed.item.asset, at.translation.x, at.translation.z))
            .collect::<Vec<_>>()
    };
    // Bo, in the same world, sees it as Cy does.
    settle(&mut cy, "the rented thing to be placed", |app| {
        !placed(app).is_empty()
    });
    assert_eq!(
        placed(&mut cy),
        vec![(card.listing.asset, spot[0], spot[1])]
    );
    settle(&mut bo, "cy's thing on her parcel", |app| {
        !placed(app).is_empty()
    });
    assert_eq!(
        placed(&mut bo),
        vec![(card.listing.asset, spot[0], spot[1])]
    );
    // Bo holds no parcel here: the marketplace refuses before asking.
    let refused = with(&mut bo, |marketplace, client| {
        marketplace.arrange(client, index, Vec::new())
    });
    assert!(refused.unwrap_err().0.contains("do not hold"));
    with(&mut cy, |marketplace, client| {
        marketplace.arrange(client, index, Vec::new())
    })
    .unwrap();
    settle(&mut cy, "the rented thing taken up", |app| {
        placed(app).is_empty()
    });
    settle(&mut bo, "cy's thing gone", |app| placed(app).is_empty());

    // A rented wearable sits on the avatar while the rental lasts, and
    // goes when it ends (here: returned early).
    with(&mut cy, |marketplace, client| {
        marketplace.search(
            client,
            Browse {
                kind: Some("wearable".into()),
                rent: Some(true),
                page_size: 20,
                ..Browse::default()
            },
        );
    });
    until(&mut [&mut cy], "the wearables for rent", |marketplace| {
        !marketplace.catalogue.waiting
    });
    let hat = cy
        .world()
        .resource::<Marketplace>()
        .catalogue
        .hits
        .first()
        .cloned()
        .expect("a wearable for rent");
    with(&mut cy, |marketplace, _| {
        marketplace
            .act("rent a hat", rent_op(&hat, 1).unwrap())
            .unwrap()
    });
    until(&mut [&mut cy], "the hat rental", |marketplace| {
        marketplace.actions.is_empty()
    });
    assert!(matches!(
        last_done(cy.world().resource::<Marketplace>()),
        Some(TxProgress::Applied { .. })
    ));
    let avatar = local_avatar(&mut cy);
    let worn = |app: &mut App| {
        let world = app.world_mut();
        world
            .query::<(&Worn, &ChildOf)>()
            .iter(world)
            .map(|(worn, parent)| (worn.player, worn.asset, parent.parent()))
            .collect::<Vec<_>>()
    };
    // Cy's client asks the host to put the hat on; the host checks the
    // rental on the ledger and tells everyone: cy's avatar wears it in
    // cy's view and in bo's.
    let cy_player = cy.world().resource::<WorldScene>().welcome.player;
    update_until(&mut [&mut cy, &mut bo], "the hat to go on", |app| {
        !worn(app).is_empty()
    });
    assert_eq!(worn(&mut cy), vec![(cy_player, hat.listing.asset, avatar)]);
    update_until(&mut [&mut bo, &mut cy], "bo to see cy's hat", |app| {
        !worn(app).is_empty()
    });
    let seen = worn(&mut bo);
    let cy_in_bo = remote_avatar(&mut bo, cy_player).expect("cy's avatar in bo's world");
    assert_eq!(seen, vec![(cy_player, hat.listing.asset, cy_in_bo)]);
    let hat_rental = cy
        .world()
        .resource::<Marketplace>()
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
    with(&mut cy, |marketplace, _| {
        marketplace
            .act(
                "return the hat",
                Operation::ReturnRental { rental: hat_rental },
            )
            .unwrap();
    });
    until(&mut [&mut cy], "the hat's return", |marketplace| {
        marketplace.actions.is_empty()
    });
    assert!(matches!(
        last_done(cy.world().resource::<Marketplace>()),
        Some(TxProgress::Applied { .. })
    ));
    update_until(
        &mut [&mut cy, &mut bo],
        "the hat to come off when its rental ended",
        |app| worn(app).is_empty(),
    );
    update_until(
        &mut [&mut bo, &mut cy],
        "the hat to leave bo's view of cy",
        |app| worn(app).is_empty(),
    );

    // The listing form: one of cy's assets for rent, checked and signed.
    let (to_list, to_trade) = {
        let held = cy
            .world()
            .resource::<Marketplace>()
            .holdings
            .clone()
            .unwrap();
        let free: Vec<_> = held
            .owned
            .iter()
            .filter(|h| h.listing.is_none() && h.rented.is_none())
            .map(|h| h.asset)
            .collect();
        assert!(free.len() >= 2, "cy holds {} free assets", free.len());
        (free[0], free[1])
    };
    let now = cy.world().resource::<Marketplace>().host_now().unwrap();
    let form = ListForm {
        price: "40".into(),
        max_periods: "10".into(),
        deposit: "15".into(),
        ..ListForm::default()
    };
    let op = form.op(to_list, &cy_address, now).unwrap();
    with(&mut cy, |marketplace, _| {
        marketplace.act("list", op).unwrap()
    });
    until(&mut [&mut cy], "the listing to be final", |marketplace| {
        marketplace.actions.is_empty()
    });
    assert!(matches!(
        last_done(cy.world().resource::<Marketplace>()),
        Some(TxProgress::Applied { .. })
    ));
    until(
        &mut [&mut cy],
        "the inventory to show the listing",
        |marketplace| {
            marketplace.holdings.as_ref().is_some_and(|held| {
                held.owned
                    .iter()
                    .any(|h| h.asset == to_list && h.listing.is_some())
            })
        },
    );

    // A rule broken: cancelling someone else's listing is refused with the
    // ledger's reason, and the next action still goes through.
    let not_mine = card.listing.id;
    with(&mut cy, |marketplace, _| {
        marketplace
            .act("cancel", Operation::CancelListing { listing: not_mine })
            .unwrap();
    });
    until(&mut [&mut cy], "the refusal", |marketplace| {
        marketplace.actions.is_empty()
    });
    match last_done(cy.world().resource::<Marketplace>()) {
        Some(TxProgress::Rejected(reason)) => assert!(reason.contains("list"), "{reason}"),
        other => panic!("expected a rejection, got {other:?}"),
    }

    // The trade window: cy invites bo, bo accepts; cy offers an asset,
    // bo 1,000 tokens; a change after a confirmation clears both; both
    // confirm and sign, and cy's marketplace submits the swap.
    let bo_player = bo
        .world()
        .resource::<HostSession>()
        .0
        .welcome()
        .unwrap()
        .player;
    until(&mut [&mut bo], "bo's account", |marketplace| {
        marketplace.holdings.is_some()
    });
    let bo_balance = bo
        .world()
        .resource::<Marketplace>()
        .holdings
        .as_ref()
        .unwrap()
        .account
        .balance;
    let cy_balance = cy
        .world()
        .resource::<Marketplace>()
        .holdings
        .as_ref()
        .unwrap()
        .account
        .balance;
    with(&mut cy, |marketplace, client| {
        marketplace.trade_invite(client, bo_player).unwrap()
    });
    until(&mut [&mut bo, &mut cy], "bo's invitation", |marketplace| {
        marketplace.trade.invitation.is_some()
    });
    with(&mut bo, |marketplace, client| {
        marketplace.trade_answer(client, true).unwrap()
    });
    until(
        &mut [&mut cy, &mut bo],
        "the window to open",
        |marketplace| {
            marketplace
                .trade
                .view
                .as_ref()
                .is_some_and(|view| view.stage == market::trade::Stage::Open)
        },
    );
    let revision = cy
        .world()
        .resource::<Marketplace>()
        .trade
        .view
        .as_ref()
        .unwrap()
        .revision;
    with(&mut cy, |marketplace, client| {
        marketplace
            .trade_act(
                client,
                Action::AddAsset {
                    asset: to_trade,
                    revision,
                },
            )
            .unwrap();
    });
    until(
        &mut [&mut bo, &mut cy],
        "bo to see the asset",
        |marketplace| {
            marketplace
                .trade
                .view
                .as_ref()
                .is_some_and(|view| view.offers[0].assets == vec![to_trade])
        },
    );
    let revision = bo
        .world()
        .resource::<Marketplace>()
        .trade
        .view
        .as_ref()
        .unwrap()
        .revision;
    with(&mut bo, |marketplace, client| {
        let view = marketplace.trade.view.clone().unwrap();
        let tokens = world::trade::set_tokens(&view, "1,000").unwrap();
        marketplace.trade_act(client, tokens).unwrap();
    });
    until(
        &mut [&mut cy, &mut bo],
        "cy to see the tokens",
        |marketplace| {
            marketplace
                .trade
                .view
                .as_ref()
                .is_some_and(|view| view.offers[1].tokens == 1_000)
        },
    );
    let revision = {
        let view = cy
            .world()
            .resource::<Marketplace>()
            .trade
            .view
            .clone()
            .unwrap();
        assert!(view.revision > revision);
        view.revision
    };
    with(&mut cy, |marketplace, client| {
        marketplace
            .trade_act(client, Action::Confirm { revision })
            .unwrap()
    });
    until(
        &mut [&mut bo, &mut cy],
        "bo to see cy's confirmation",
        |marketplace| {
            marketplace
                .trade
                .view
                .as_ref()
                .is_some_and(|view| view.confirmed[0])
        },
    );
    // Bo changes the tokens: both confirmations are cleared.
    with(&mut bo, |marketplace, client| {
        let view = marketplace.trade.view.clone().unwrap();
        marketplace
            .trade_act(client, world::trade::set_tokens(&view, "900").unwrap())
            .unwrap();
    });
    until(
        &mut [&mut cy, &mut bo],
        "the change to clear cy's confirmation",
        |marketplace| {
            marketplace.trade.view.as_ref().is_some_and(|view| {
                view.offers[1].tokens == 900 && view.confirmed == [false, false]
            })
        },
    );
    let revision = cy
        .world()
        .resource::<Marketplace>()
        .trade
        .view
        .as_ref()
        .unwrap()
        .revision;
    with(&mut cy, |marketplace, client| {
        marketplace
            .trade_act(client, Action::Confirm { revision })
            .unwrap()
    });
    until(
        &mut [&mut bo, &mut cy],
        "bo to see the confirmation",
        |marketplace| {
            marketplace
                .trade
                .view
                .as_ref()
                .is_some_and(|view| view.confirmed[0] && view.revision == revision)
        },
    );
    with(&mut bo, |marketplace, client| {
        marketplace
            .trade_act(client, Action::Confirm { revision })
            .unwrap()
    });
    until(
        &mut [&mut cy, &mut bo],
        "the signing stage",
        |marketplace| {
            marketplace
                .trade
                .view
                .as_ref()
                .is_some_and(|view| view.stage == market::trade::Stage::Signing)
        },
    );
    until(
        &mut [&mut bo, &mut cy],
        "bo's signing stage",
        |marketplace| {
            marketplace
                .trade
                .view
                .as_ref()
                .is_some_and(|view| view.stage == market::trade::Stage::Signing)
        },
    );
    with(&mut bo, |marketplace, client| {
        marketplace.trade_sign(client).unwrap()
    });
    with(&mut cy, |marketplace, client| {
        marketplace.trade_sign(client).unwrap()
    });
    until(
        &mut [&mut cy, &mut bo],
        "the swap to be final",
        |marketplace| {
            marketplace
                .done
                .iter()
                .any(|action| action.label.starts_with("trade") && action.stage.is_final())
        },
    );
    let outcome = cy
        .world()
        .resource::<Marketplace>()
        .done
        .iter()
        .find(|a| a.label.starts_with("trade"))
        .unwrap()
        .stage
        .clone();
    assert!(matches!(outcome, TxProgress::Applied { .. }), "{outcome:?}");
    until(
        &mut [&mut bo, &mut cy],
        "bo to own the asset",
        |marketplace| {
            marketplace.holdings.as_ref().is_some_and(|held| {
                held.owned.iter().any(|h| h.asset == to_trade)
                    && held.account.balance == bo_balance - 900
            })
        },
    );
    until(&mut [&mut cy, &mut bo], "cy to be paid", |marketplace| {
        marketplace.holdings.as_ref().is_some_and(|held| {
            !held.owned.iter().any(|h| h.asset == to_trade)
                && held.account.balance == cy_balance + 900
        })
    });

    drop(cy);
    drop(bo);
    embedded.stop().unwrap();
}

#[test]
fn a_line_said_to_one_player_lands_in_its_chat_until_it_blocks_the_speaker() {
    let (_dir, embedded, cache) = embedded_host();
    let mut cy = player(&embedded, "cy", &cache);
    let mut bo = player(&embedded, "bo", &cache);
    let bo_player = bo
        .world()
        .resource::<HostSession>()
        .0
        .welcome()
        .unwrap()
        .player;
    let cy_address = cy.world().resource::<Marketplace>().me;

    // Cy says a line to bo alone: it lands in bo's chat as said to him.
    with(&mut cy, |marketplace, client| {
        marketplace
            .tell(client, bo_player, "  over here  ")
            .unwrap()
    });
    until(
        &mut [&mut cy, &mut bo],
        "the line delivered",
        |marketplace| marketplace.people.told == Some(Ok(bo_player)),
    );
    update_until(&mut [&mut bo, &mut cy], "the line in bo's chat", |app| {
        app.world()
            .resource::<NetStatus>()
            .chat
            .iter()
            .any(|line| line.ends_with("(to you): over here"))
    });
    // An empty line is refused before it is sent.
    assert!(
        with(&mut cy, |marketplace, client| marketplace
            .tell(client, bo_player, "  "))
        .is_err()
    );

    // Bo blocks cy: the host says so, and cy's next line is refused.
    with(&mut bo, |marketplace, client| {
        marketplace.block(client, cy_address, true)
    });
    until(&mut [&mut bo, &mut cy], "cy blocked", |marketplace| {
        marketplace.people.blocked.contains(&cy_address)
    });
    std::thread::sleep(Duration::from_millis(1_100));
    with(&mut cy, |marketplace, client| {
        marketplace.tell(client, bo_player, "hello?").unwrap()
    });
    until(&mut [&mut cy, &mut bo], "the refusal", |marketplace| {
        matches!(marketplace.people.told, Some(Err(_)))
    });
    // Unblocked, the host's list is empty again.
    with(&mut bo, |marketplace, client| {
        marketplace.block(client, cy_address, false)
    });
    until(&mut [&mut bo, &mut cy], "cy unblocked", |marketplace| {
        marketplace.people.blocked.is_empty()
    });

    drop(cy);
    drop(bo);
    embedded.stop().unwrap();
}

/// The entity of the player's own avatar in `app`.
fn local_avatar(app: &mut App) -> Entity {
    let world = app.world_mut();
    world
        .query_filtered::<Entity, With<LocalAvatar>>()
        .single(world)
        .unwrap()
}

/// The entity of `player`'s avatar as `app` draws it, if it does.
fn remote_avatar(app: &mut App, player: u16) -> Option<Entity> {
    let world = app.world_mut();
    world
        .query::<(Entity, &RemoteAvatar)>()
        .iter(world)
        .find(|(_, remote)| remote.0 == player)
        .map(|(entity, _)| entity)
}

/// An asset of `kind` that the player of `app` owns and has not rented
/// out, once its manifest is fetched (as the inventory panel fetches each
/// held asset's).
fn owned_of_kind(app: &mut App, kind: assets::AssetKind) -> ledger::AssetId {
    until(&mut [&mut *app], "the account", |marketplace| {
        marketplace.holdings.is_some()
    });
    let owned: Vec<ledger::AssetId> = app
        .world()
        .resource::<Marketplace>()
        .holdings
        .as_ref()
        .unwrap()
        .owned
        .iter()
        .filter(|holding| holding.rented.is_none())
        .map(|holding| holding.asset)
        .collect();
    update_until(&mut [&mut *app], "the manifests", |app| {
        with(app, |marketplace, client| {
            for asset in &owned {
                marketplace.want_manifest(client, *asset);
            }
            owned
                .iter()
                .all(|asset| marketplace.manifests.contains_key(asset))
        })
    });
    let marketplace = app.world().resource::<Marketplace>();
    owned
        .into_iter()
        .find(|asset| marketplace.manifests[asset].kind == kind)
        .unwrap_or_else(|| panic!("the player owns no {kind}"))
}

/// What the host says the player of `app` wears.
fn own_worn(app: &App) -> plaza_client::protocol::Worn {
    let session = &app.world().resource::<HostSession>().0;
    let me = session.welcome().unwrap().player;
    session.appearances().get(&me).cloned().unwrap_or_default()
}

#[test]
fn an_owned_wearable_goes_on_and_comes_off_as_the_inventory_asks() {
    let (_dir, embedded, cache) = embedded_host();
    let mut cy = player(&embedded, "cy", &cache);
    let hat = owned_of_kind(&mut cy, assets::AssetKind::Wearable);
    let slot = market::wear::slots(assets::AssetKind::Wearable)[0];
    with(&mut cy, |marketplace, client| {
        marketplace.wear(client, slot, hat)
    });
    update_until(&mut [&mut cy], "the wearable to go on", |app| {
        own_worn(app) == vec![(slot, hat)]
    });
    with(&mut cy, |marketplace, client| {
        marketplace.take_off(client, slot)
    });
    update_until(&mut [&mut cy], "the wearable to come off", |app| {
        own_worn(app).is_empty()
    });
    drop(cy);
    embedded.stop().unwrap();
}

/// The figure each avatar entity of `app` is drawn with: (avatar entity,
/// avatar asset shown, model file).
fn figures(app: &mut App) -> Vec<(Entity, Option<ledger::AssetId>, String)> {
    let world = app.world_mut();
    world
        .query::<&Figure>()
        .iter(world)
        .map(|figure| (figure.avatar, figure.asset, figure.file.clone()))
        .collect()
}

#[test]
fn a_player_appears_as_the_avatar_it_owns_to_everyone_and_plain_once_it_takes_it_off() {
    let (_dir, embedded, cache) = embedded_host();
    let mut bo = player(&embedded, "bo", &cache);
    // Cy's client has a cache of its own: it fetches the owl itself.
    let cy_cache = cache.join("cy");
    std::fs::create_dir_all(&cy_cache).unwrap();
    let mut cy = player(&embedded, "cy", &cy_cache);
    let owl = owned_of_kind(&mut bo, assets::AssetKind::Avatar);
    let bo_avatar = local_avatar(&mut bo);
    // Until it chooses, bo is drawn as the plain figure, whose model the
    // client wrote into its cache.
    let own = |app: &mut App| {
        figures(app)
            .into_iter()
            .filter(|(avatar, ..)| *avatar == bo_avatar)
            .collect::<Vec<_>>()
    };
    update_until(&mut [&mut bo, &mut cy], "bo's plain figure", |app| {
        !own(app).is_empty()
    });
    let plain = own(&mut bo);
    assert_eq!(plain.len(), 1);
    assert_eq!(plain[0].1, None);
    assert!(cache.join(&plain[0].2).exists());

    // A wearable is no avatar: the host refuses it in the avatar slot.
    let hat = owned_of_kind(&mut bo, assets::AssetKind::Wearable);
    with(&mut bo, |marketplace, client| {
        marketplace.wear(client, Slot::Avatar, hat)
    });
    update_until(&mut [&mut bo], "the hat to be refused", |app| {
        app.world().resource::<Marketplace>().refused_to_wear(&hat)
    });
    assert!(own_worn(&bo).is_empty());

    // "Appear as": the host checks the ledger and tells everyone; bo's
    // client and cy's fetch the model and draw bo as it.
    with(&mut bo, |marketplace, client| {
        marketplace.wear(client, Slot::Avatar, owl)
    });
    update_until(&mut [&mut bo, &mut cy], "bo to appear as the owl", |app| {
        figures(app)
            .iter()
            .any(|(avatar, asset, _)| *avatar == bo_avatar && *asset == Some(owl))
    });
    let bo_player = bo.world().resource::<WorldScene>().welcome.player;
    update_until(&mut [&mut cy, &mut bo], "cy to see bo as the owl", |app| {
        let Some(seen) = remote_avatar(app, bo_player) else {
            return false;
        };
        figures(app).iter().any(|(avatar, asset, file)| {
            *avatar == seen && *asset == Some(owl) && cy_cache.join(file).exists()
        })
    });
    // One figure per avatar: the plain one was replaced.
    assert_eq!(own(&mut bo).len(), 1);

    // Taken off: plain again, in both views.
    with(&mut bo, |marketplace, client| {
        marketplace.take_off(client, Slot::Avatar)
    });
    update_until(&mut [&mut bo, &mut cy], "bo to be plain again", |app| {
        let all = figures(app);
        !all.is_empty() && all.iter().all(|(_, asset, _)| asset.is_none())
    });
    update_until(&mut [&mut cy, &mut bo], "cy to see bo plain again", |app| {
        let all = figures(app);
        all.len() == 2 && all.iter().all(|(_, asset, _)| asset.is_none())
    });
    drop((bo, cy));
    embedded.stop().unwrap();
}

#[test]
fn the_stalls_are_restocked_when_a_listing_they_show_is_cancelled() {
    let (_dir, embedded, cache) = embedded_host();
    let mut ada = player(&embedded, "ada", &cache);
    ada.add_plugins(StallsPlugin);
    // The stalls load as the client's launch loads them.
    let loader = with(&mut ada, |_, client| {
        Loader::start(client, "Plaza Square", &cache)
    })
    .unwrap();
    ada.insert_resource(loader);
    let shown = |app: &App| -> Vec<(ledger::ListingId, ledger::Address)> {
        app.world()
            .resource::<StallItems>()
            .0
            .iter()
            .map(|item| (item.card.listing.id, item.card.listing.lister))
            .collect()
    };
    update_until(&mut [&mut ada], "the stalls to load", |app| {
        !shown(app).is_empty()
    });
    // A listing a stall shows is cancelled by its lister, another player
    // of the world.
    let (listing, key) = shown(&ada)
        .into_iter()
        .find_map(|(listing, lister)| {
            server_less::home::DEMO_ACCOUNTS
                .iter()
                .map(|name| embedded.home().load_demo_key(name).unwrap())
                .find(|key| key.address() == lister)
                .map(|key| (listing, key))
        })
        .expect("a demo account lists what the stalls show");
    let mut other = plaza_client::Client::connect(embedded.join_addr(), &key, WAIT).unwrap();
    other.enter("Plaza Square", WAIT).unwrap();
    let cancelling = std::thread::spawn(move || {
        other
            .act(Operation::CancelListing { listing }, WAIT)
            .map(|(_, state)| state)
    });
    while !cancelling.is_finished() {
        ada.update();
        std::thread::sleep(Duration::from_millis(5));
    }
    let state = cancelling.join().unwrap().unwrap();
    assert!(
        matches!(state, plaza_client::protocol::TxState::Applied { .. }),
        "{state:?}"
    );
    // The host says the block changed what the square's stalls show: they
    // are read again, and the cancelled listing is gone from them while
    // the others stay.
    let before = shown(&ada);
    update_until(&mut [&mut ada], "the stalls to be restocked", |app| {
        let now = shown(app);
        !now.is_empty() && now.iter().all(|(id, _)| *id != listing)
    });
    let after = shown(&ada);
    assert!(
        before
            .iter()
            .filter(|(id, _)| *id != listing)
            .all(|item| after.contains(item)),
        "{before:?} -> {after:?}"
    );
    drop(ada);
    embedded.stop().unwrap();
}

#[test]
fn blocks_and_mutes_outlive_the_client_and_a_muted_players_lines_are_not_shown() {
    let (dir, embedded, cache) = embedded_host();
    let kept = dir.path().join("people").join("bo.txt");
    let bo_with_file = |embedded: &Embedded| {
        let mut bo = player(embedded, "bo", &cache);
        let me = bo.world().resource::<Marketplace>().me;
        bo.insert_resource(
            Marketplace::new(me)
                .with_cache(cache.clone())
                .with_people(kept.clone()),
        );
        bo
    };
    let mut bo = bo_with_file(&embedded);
    let mut cy = player(&embedded, "cy", &cache);
    let mut ada = player(&embedded, "ada", &cache);
    let cy_address = cy.world().resource::<Marketplace>().me;
    let dee_address = embedded.home().load_demo_key("dee").unwrap().address();

    // Bo mutes cy and blocks dee: both are kept in bo's file.
    with(&mut bo, |marketplace, client| {
        marketplace.mute(cy_address, true);
        marketplace.block(client, dee_address, true);
    });
    until(
        &mut [&mut bo, &mut cy, &mut ada],
        "dee blocked",
        |marketplace| marketplace.people.blocked.contains(&dee_address),
    );
    let text = std::fs::read_to_string(&kept).unwrap();
    assert!(text.contains(&format!("block {dee_address}")), "{text}");
    assert!(text.contains(&format!("mute {cy_address}")), "{text}");

    // Cy speaks, then ada: bo's chat shows ada's line and not cy's.
    let say = |app: &mut App, text: &str| {
        with(app, |_, client| {
            client
                .send(&plaza_client::protocol::ClientMessage::Chat { text: text.into() })
                .unwrap()
        });
    };
    say(&mut cy, "psst, bo");
    update_until(&mut [&mut cy, &mut bo, &mut ada], "cy's line said", |_| {
        true
    });
    say(&mut ada, "hello, bo");
    let chat = |app: &App| app.world().resource::<NetStatus>().chat.clone();
    update_until(
        &mut [&mut bo, &mut cy, &mut ada],
        "ada's line at bo",
        |app| chat(app).iter().any(|line| line.ends_with("hello, bo")),
    );
    assert!(
        !chat(&bo).iter().any(|line| line.contains("psst")),
        "{:?}",
        chat(&bo)
    );
    // Cy's line did reach the others.
    update_until(
        &mut [&mut ada, &mut cy, &mut bo],
        "cy's line at ada",
        |app| chat(app).iter().any(|line| line.ends_with("psst, bo")),
    );

    // Bo's client stops; the next run reads the file, asks the new
    // session's host to block dee again, and still mutes cy.
    drop(bo);
    let mut bo = bo_with_file(&embedded);
    assert!(!bo.world().resource::<Marketplace>().hears(&cy_address));
    let bo_player = bo
        .world()
        .resource::<HostSession>()
        .0
        .welcome()
        .unwrap()
        .player;
    // Dee's lines to bo are delivered until bo's new session has blocked
    // dee again; then the host refuses them.
    let dee_key = embedded.home().load_demo_key("dee").unwrap();
    let mut dee = plaza_client::Client::connect(embedded.join_addr(), &dee_key, WAIT).unwrap();
    dee.enter("Plaza Square", WAIT).unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        for _ in 0..20 {
            bo.update();
            std::thread::sleep(Duration::from_millis(10));
        }
        let told = dee.request("dee's line to bo", WAIT, |request| {
            plaza_client::protocol::ClientMessage::Tell {
                request,
                player: bo_player,
                text: "it's dee".into(),
            }
        });
        match told {
            Err(plaza_client::ClientError::Protocol(err))
                if err.code == plaza_client::protocol::ErrorCode::Refused =>
            {
                break;
            }
            Err(err) if !err.to_string().contains("a second") => panic!("{err}"),
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "bo's kept block never reached the host"
        );
        // A line a second.
        std::thread::sleep(Duration::from_millis(1_100));
    }

    drop((bo, cy, ada, dee));
    embedded.stop().unwrap();
}

#[test]
fn what_a_holder_put_down_outlives_its_host_restarting() {
    let dir = tempfile::tempdir().unwrap();
    let (home, cache) = (dir.path().join("host"), dir.path().join("cache"));
    std::fs::create_dir_all(&cache).unwrap();
    let land = dir.path().join("land").join("cy.txt");
    let embedded = Embedded::start(&home, true).unwrap();
    let mut cy = player(&embedded, "cy", &cache);
    let me = cy.world().resource::<Marketplace>().me;
    cy.insert_resource(
        Marketplace::new(me)
            .with_cache(cache.clone())
            .with_land(land.clone()),
    );
    let (index, parcel) = own_parcel(&cy, me);
    with(&mut cy, |marketplace, client| marketplace.refresh(client));
    until(&mut [&mut cy], "cy's holdings", |marketplace| {
        marketplace.holdings.is_some()
    });
    let thing = cy
        .world()
        .resource::<Marketplace>()
        .holdings
        .as_ref()
        .unwrap()
        .owned
        .iter()
        .map(|holding| holding.asset)
        .find(|asset| Some(*asset) != parcel.deed)
        .expect("cy owns a thing");
    let item = plaza_client::land::PlacedItem::new(thing, parcel.centre(), 32);
    with(&mut cy, |marketplace, client| {
        marketplace.arrange(client, index, vec![item])
    })
    .unwrap();
    let placed = |app: &mut App| {
        let world = app.world_mut();
        world
            .query::<&Placed>()
            .iter(world)
            .map(|placed| placed.item)
            .collect::<Vec<_>>()
    };
    settle(&mut cy, "cy's thing on her parcel", |app| {
        !placed(app).is_empty()
    });
    until(&mut [&mut cy], "the arrangement kept", |marketplace| {
        !marketplace.land.waiting
    });
    assert!(std::fs::read_to_string(&land).unwrap().lines().count() == 1);

    // The host stops and starts again, knowing nothing of it: cy's client
    // gives it again, and it stands there once more.
    drop(cy);
    embedded.stop().unwrap();
    let embedded = Embedded::start(&home, true).unwrap();
    let mut cy = player(&embedded, "cy", &cache);
    cy.insert_resource(
        Marketplace::new(me)
            .with_cache(cache.clone())
            .with_land(land),
    );
    settle(&mut cy, "cy's thing put back", |app| {
        placed(app) == vec![item]
    });
}
