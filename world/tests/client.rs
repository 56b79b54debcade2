//! The whole client without a renderer: `WorldPlugin` (every feature
//! plugin, egui's panels included) in a `MinimalPlugins` app, joined over
//! UDP on 127.0.0.1 to a real embedded host. The test reads what the
//! panels drew (the text of egui's shapes each frame), clicks in the world
//! through the input messages a window would send, and checks what the
//! stalls, the picker, the card, the inventory and the trade panels did,
//! and a journey to another world.

// They run the embedded host.
#![cfg(feature = "embedded-host")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;

use bevy::camera::RenderTargetInfo;
use bevy::input::ButtonState;
use bevy::input::mouse::MouseButtonInput;
use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use bevy_egui::{EguiFullOutput, EguiPostUpdateSet, egui};
use world::catalogue::Beacon;
use world::embedded::Embedded;
use world::marketplace::Marketplace;
use world::net::{RemoteAvatar, Remotes};
use world::pick::{Pickable, Target};
use world::props::PropModel;
use world::scene::SceneEntity;
use world::stalls::{Loader, Spot, StallItems, StallModel};
use world::trade::TradeState;
use world::ui::{CardFocus, Highlight, Panels};
use world::{WorldPlugin, WorldScene};

mod support;

use support::{join_into, update_until, windowless, with};

const WIDTH: u32 = 1280;
const HEIGHT: u32 = 720;

/// Every line of text egui has drawn since the test last cleared it.
#[derive(Resource, Debug, Default)]
struct Drawn(BTreeSet<String>);

impl Drawn {
    fn has(&self, wanted: &str) -> bool {
        self.0.iter().any(|text| text.contains(wanted))
    }
}

fn texts(shape: &egui::Shape, out: &mut BTreeSet<String>) {
    match shape {
        egui::Shape::Text(text) => {
            out.insert(text.galley.text().to_owned());
        }
        egui::Shape::Vec(shapes) => shapes.iter().for_each(|shape| texts(shape, out)),
        _ => {}
    }
}

/// Reads the frame's shapes after egui's pass and before they are
/// tessellated.
fn read_drawn(outputs: Query<&EguiFullOutput>, mut drawn: ResMut<Drawn>) {
    for output in &outputs {
        if let Some(full) = &output.0 {
            for clipped in &full.shapes {
                texts(&clipped.shape, &mut drawn.0);
            }
        }
    }
}

/// The client as `plaza` builds it, with a window that is never opened,
/// an asset server on the model cache, and no renderer.
fn client(embedded: &Embedded, name: &str, cache: &Path) -> App {
    let mut app = windowless(cache, WIDTH, HEIGHT);
    // The stalls' items start loading as the client enters, as `plaza`'s
    // launch does.
    join_into(&mut app, embedded, name, cache, |app, client| {
        let world = client.welcome().unwrap().world.name.clone();
        let loader = Loader::start(&mut client.session(), &world, cache).unwrap();
        app.insert_resource(loader);
    });
    app.add_plugins(WorldPlugin)
        .init_resource::<Drawn>()
        .add_systems(
            PostUpdate,
            read_drawn
                .after(EguiPostUpdateSet::EndPass)
                .before(EguiPostUpdateSet::ProcessOutput),
        );
    app.update();
    // What the renderer would work out for the camera: its projection
    // onto the window.
    let world = app.world_mut();
    let mut cameras = world.query::<(&mut Camera, &mut Projection)>();
    let (mut camera, mut projection) = cameras.single_mut(world).unwrap();
    if let Projection::Perspective(perspective) = &mut *projection {
        perspective.aspect_ratio = WIDTH as f32 / HEIGHT as f32;
    }
    camera.computed.clip_from_view = projection.get_clip_from_view();
    camera.computed.target_info = Some(RenderTargetInfo {
        physical_size: UVec2::new(WIDTH, HEIGHT),
        scale_factor: 1.0,
    });
    app
}

/// Where `point` is on the window, if the camera sees it.
fn on_screen(app: &mut App, point: Vec3) -> Option<Vec2> {
    let world = app.world_mut();
    let mut cameras = world.query::<(&Camera, &GlobalTransform)>();
    let (camera, eye) = cameras.single(world).unwrap();
    camera
        .world_to_viewport(eye, point)
        .ok()
        .filter(|at| at.x > 0.0 && at.y > 0.0 && at.x < WIDTH as f32 && at.y < HEIGHT as f32)
}

/// Clicks the left button with the pointer at `at`, as a window would.
fn click_at(app: &mut App, at: Vec2) {
    let world = app.world_mut();
    let mut windows = world.query_filtered::<(Entity, &mut Window), With<PrimaryWindow>>();
    let (window, mut state) = windows.single_mut(world).unwrap();
    state.set_cursor_position(Some(at));
    for state in [ButtonState::Pressed, ButtonState::Released] {
        app.world_mut().write_message(MouseButtonInput {
            button: MouseButton::Left,
            state,
            window,
        });
        app.update();
    }
}

/// The centre of each clickable thing, and what it is.
fn pickables(app: &mut App) -> Vec<(Target, Vec3)> {
    let world = app.world_mut();
    let mut query = world.query::<(&Pickable, &GlobalTransform)>();
    query
        .iter(world)
        .map(|(pick, at)| (pick.target, at.translation() + pick.offset))
        .collect()
}

#[test]
fn the_whole_client_loads_the_stalls_opens_what_is_clicked_and_offers_a_trade() {
    let dir = tempfile::tempdir().unwrap();
    let embedded = Embedded::start(&dir.path().join("host"), true).unwrap();
    let cache = dir.path().join("cache");
    let mut cy = client(&embedded, "cy", &cache);

    // The loading screen, then the stalls' models on their counters.
    update_until(&mut [&mut cy], "the stalls' items", |app| {
        app.world().resource::<Loader>().done
    });
    assert!(cy.world().resource::<Drawn>().has("Entering Plaza Square"));
    let items = cy.world().resource::<StallItems>().0.clone();
    assert!(!items.is_empty(), "no stall shows anything");
    cy.update();
    let scene = cy.world().resource::<WorldScene>().clone();
    // The founder's deeds for rent and sale stand on the parcel it holds.
    assert!(
        items.iter().any(|item| matches!(item.spot, Spot::Parcel(_))
            && item.card.kind.as_deref() == Some("parcel")),
        "no parcel shows its holder's listings"
    );
    let world = cy.world_mut();
    let mut models = world.query_filtered::<(&Pickable, &Transform, &Name), With<StallModel>>();
    let models: Vec<(Target, Vec3, String)> = models
        .iter(world)
        .map(|(pick, at, name)| (pick.target, at.translation, name.to_string()))
        .collect();
    assert_eq!(models.len(), items.len());
    for (target, at, name) in &models {
        let Target::Item(index) = *target else {
            panic!("a stall model that is not an item: {target:?}");
        };
        let item = &items[index];
        assert_eq!(*name, item.name);
        let [x, z] = item.spot.position(&scene).unwrap();
        assert_eq!(at.z, z, "{name} is not on its stall or parcel");
        let reach = match item.spot {
            Spot::Stall(_) => 1.3,
            Spot::Parcel(_) => 4.1,
        };
        assert!(
            (at.x - x).abs() <= reach,
            "{name} is off its counter or its parcel's row"
        );
    }

    // The world's own things (trees, lamps, a fountain) stand where the
    // host's layout puts them, drawn from the models it serves.
    let props = scene.welcome.world.props.clone();
    assert!(!props.is_empty(), "the square has no trees or lamps");
    update_until(&mut [&mut cy], "the world's own things", |app| {
        let world = app.world_mut();
        world.query::<&PropModel>().iter(world).count() == props.len()
    });
    let world = cy.world_mut();
    for (prop, at) in world.query::<(&PropModel, &Transform)>().iter(world) {
        let [x, z] = props[prop.0].at;
        assert_eq!((at.translation.x, at.translation.z), (x, z));
    }

    // The status panel and the catalogue, with what the host answered.
    update_until(&mut [&mut cy], "the balance and the catalogue", |app| {
        let marketplace = app.world().resource::<Marketplace>();
        marketplace.holdings.is_some() && !marketplace.catalogue.hits.is_empty()
    });
    cy.world_mut().resource_mut::<Drawn>().0.clear();
    for _ in 0..3 {
        cy.update();
    }
    let first_hit = cy.world().resource::<Marketplace>().catalogue.hits[0].clone();
    {
        let drawn = cy.world().resource::<Drawn>();
        assert!(drawn.has("Plaza Square"), "{drawn:?}");
        assert!(drawn.has("host embedded"), "{drawn:?}");
        assert!(drawn.has("balance "), "{drawn:?}");
        assert!(drawn.has("Catalogue"), "{drawn:?}");
        // The map in the corner, north marked.
        assert!(drawn.0.contains("N"), "{drawn:?}");
        assert!(drawn.has(first_hit.name.as_deref().unwrap()), "{drawn:?}");
        assert!(
            !drawn.has("Entering Plaza Square"),
            "still loading: {drawn:?}"
        );
    }

    // A click on the nearest stall item the camera sees opens its card
    // and points out its stall.
    let mut seen: Vec<(f32, usize, Vec2)> = Vec::new();
    let eye = {
        let world = cy.world_mut();
        let mut cameras = world.query_filtered::<&GlobalTransform, With<Camera>>();
        cameras.single(world).unwrap().translation()
    };
    for (target, centre) in pickables(&mut cy) {
        if let (Target::Item(index), Some(at)) = (target, on_screen(&mut cy, centre)) {
            seen.push((eye.distance(centre), index, at));
        }
    }
    seen.sort_by(|a, b| a.0.total_cmp(&b.0));
    let &(_, index, at) = seen.first().expect("the camera sees no stall item");
    assert!(cy.world().resource::<CardFocus>().0.is_none());
    click_at(&mut cy, at);
    let item = &items[index];
    let card = cy
        .world()
        .resource::<CardFocus>()
        .0
        .clone()
        .expect("no card opened");
    assert_eq!(card.listing.id, item.card.listing.id);
    assert_eq!(cy.world().resource::<Highlight>().0, Some(item.spot));
    cy.world_mut().resource_mut::<Drawn>().0.clear();
    for _ in 0..3 {
        cy.update();
    }
    assert!(
        cy.world()
            .resource::<Drawn>()
            .has(&format!("Asset: {}", item.name))
    );
    let world = cy.world_mut();
    assert_eq!(world.query::<&Beacon>().iter(world).count(), 1);

    // The inventory opens with the account's holdings.
    cy.world_mut().resource_mut::<Panels>().inventory = true;
    cy.world_mut().resource_mut::<Drawn>().0.clear();
    for _ in 0..3 {
        cy.update();
    }
    // Only the inventory window says what the player owns.
    assert!(cy.world().resource::<Drawn>().has("Owned ("));

    // Another player comes: cy sees bo's avatar, clicks it and is offered
    // a trade; the invitation reaches bo's panels.
    let mut bo = client(&embedded, "bo", &cache);
    let bo_number = bo.world().resource::<WorldScene>().welcome.player;
    update_until(
        &mut [&mut cy, &mut bo],
        "bo's avatar in cy's world",
        |app| {
            let world = app.world_mut();
            world
                .query::<(&RemoteAvatar, &Pickable)>()
                .iter(world)
                .any(|(remote, _)| remote.0 == bo_number)
        },
    );
    let bo_at = pickables(&mut cy)
        .into_iter()
        .find(|(target, _)| *target == Target::Player(bo_number))
        .map(|(_, at)| at)
        .unwrap();
    let at = on_screen(&mut cy, bo_at).expect("cy's camera does not see bo");
    // Before the click no window offers a trade.
    cy.world_mut().resource_mut::<Drawn>().0.clear();
    for _ in 0..3 {
        cy.update();
    }
    assert!(!cy.world().resource::<Drawn>().0.contains("Trade"));
    click_at(&mut cy, at);
    assert_eq!(cy.world().resource::<TradeState>().player, Some(bo_number));
    cy.world_mut().resource_mut::<Drawn>().0.clear();
    for _ in 0..3 {
        cy.update();
    }
    // The window named after bo, with its Trade button.
    assert!(cy.world().resource::<Drawn>().0.contains("Trade"));
    with(&mut cy, |marketplace, client| {
        marketplace.trade_invite(client, bo_number)
    })
    .unwrap();
    update_until(&mut [&mut bo, &mut cy], "bo's invitation", |app| {
        app.world().resource::<Drawn>().has("Trade invitation")
    });

    // Cy travels to the harbour without leaving the client: its scene,
    // its stalls and its spawn point; bo, in the square, sees cy go.
    let harbour = server_less::worlds::builtin()
        .into_iter()
        .find(|world| world.info.name == "Harbour Market")
        .expect("the harbour");
    let stall_names = |app: &mut App| {
        let world = app.world_mut();
        world
            .query_filtered::<&Name, With<SceneEntity>>()
            .iter(world)
            .map(|name| name.to_string())
            .collect::<Vec<_>>()
    };
    // The square's stalls and parcels (its trees and lamps are the
    // harbour's kind too).
    let square = cy.world().resource::<WorldScene>().welcome.world.clone();
    let square_stalls: Vec<String> = stall_names(&mut cy)
        .into_iter()
        .filter(|name| {
            square.stalls.iter().any(|stall| stall.name == *name)
                || square.parcels.iter().any(|parcel| parcel.name == *name)
        })
        .collect();
    assert!(!square_stalls.is_empty());
    assert!(!bo.world().resource::<Remotes>().names.is_empty());
    with(&mut cy, |_, client| {
        world::net::travel(client, "Harbour Market")
    })
    .unwrap();
    update_until(
        &mut [&mut cy, &mut bo],
        "cy's arrival in the harbour",
        |app| {
            app.world().resource::<WorldScene>().welcome.world.name == "Harbour Market"
                && app.world().resource::<Loader>().done
        },
    );
    let here = stall_names(&mut cy);
    assert!(
        harbour
            .info
            .stalls
            .iter()
            .all(|stall| here.contains(&stall.name)),
        "{here:?}"
    );
    assert!(
        square_stalls.iter().all(|name| !here.contains(name)),
        "the square's stalls are still there: {here:?}"
    );
    let spawn = harbour.info.spawn;
    let world = cy.world_mut();
    let at = world
        .query_filtered::<&Transform, With<world::avatar::LocalAvatar>>()
        .single(world)
        .unwrap()
        .translation;
    assert!(
        (at.x - spawn[0]).abs() < 1.0 && (at.z - spawn[2]).abs() < 1.0,
        "{at}"
    );
    update_until(&mut [&mut bo, &mut cy], "bo to see cy go", |app| {
        app.world().resource::<Remotes>().names.is_empty()
    });

    drop((cy, bo));
    embedded.stop().unwrap();
}
