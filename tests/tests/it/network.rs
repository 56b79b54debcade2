//! Four validator processes and a follower made by `plaza-host testnet`,
//! each its own ledger, agreeing through consensus over loopback; players
//! connected to different hosts see the same chain, and an asset's files
//! reach the hosts that lack them. Players on two hosts of one world meet
//! and trade.

use std::time::{Duration, Instant};

use ledger::{Operation, Transaction};
use market::trade::{Action, Stage};
use plaza_client::client::{Client, HOST_GONE_AFTER};
use plaza_client::protocol::{
    AvatarState, Browse, ClientMessage, Gait, ServerMessage, Slot, TxState,
};
use server_less::home::read_key;

use plaza_tests::processes::Network;

#[test]
fn four_validator_processes_finalise_what_a_follower_gossips_and_a_killed_one_catches_up() {
    let _turn = plaza_tests::WHOLE_NETWORK.blocking_lock();
    let wait = Duration::from_secs(30);
    let mut net = Network::make(4, 1, "plaza-four");
    for n in 1..=5 {
        net.start(n);
    }
    let homes: Vec<std::path::PathBuf> = (1..=5).map(|n| net.home(n)).collect();
    let joins: Vec<std::net::SocketAddr> = (1..=5).map(|n| net.join(n)).collect();
    let home = |n: usize| homes[n - 1].clone();
    let join = |n: usize| joins[n - 1];
    let bo = read_key(&home(1).join("demo/bo.key")).unwrap();
    let cy = read_key(&home(1).join("demo/cy.key")).unwrap();
    // Bo plays at the follower, which votes on nothing: the payment is
    // final only because the follower gossips it to the validators.
    let mut payer = Client::connect(join(5), &bo, wait).unwrap();
    payer.enter("Plaza Square", wait).unwrap();
    let (account, _, _) = payer.inventory(wait).unwrap();
    let pay = |payer: &Client, nonce: u64, amount: u64| {
        Transaction {
            chain_id: payer.welcome().unwrap().chain_id.clone(),
            signer: bo.address(),
            nonce,
            valid_until: u64::MAX,
            op: Operation::Pay {
                to: cy.address(),
                amount,
            },
        }
        .sign(&bo)
    };
    let state = payer
        .submit_final(pay(&payer, account.nonce, 7), wait)
        .unwrap();
    assert!(matches!(state, TxState::Applied { .. }), "{state:?}");

    // Cy, playing at host 4, sees the payment made at host 1.
    let balance_at = |n: usize, expected: u64| {
        let mut watcher = Client::connect(join(n), &cy, wait).unwrap();
        watcher.enter("Plaza Square", wait).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (account, _) = watcher.account_now(wait).unwrap();
            if account.balance == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "host {n} shows cy {} instead of {expected}",
                account.balance
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let mut watcher = Client::connect(join(1), &cy, wait).unwrap();
    watcher.enter("Plaza Square", wait).unwrap();
    let (before, _) = watcher.account_now(wait).unwrap();
    drop(watcher);
    balance_at(4, before.balance);

    // An asset bo mints at the follower has its files at host 3 too:
    // host 3 finds the follower offering them and fetches them.
    let model = assets::pack::sample_models().swap_remove(0);
    let mut request = model.request(&bo.address().to_string());
    request.name = "traveller's lamp".into();
    let prepared = assets::prepare(&model.glb, &request, &assets::ImportLimits::default()).unwrap();
    payer.upload(assets::Codec::Raw, &model.glb, wait).unwrap();
    payer
        .upload(assets::Codec::Raw, &prepared.preview, wait)
        .unwrap();
    let minted = ledger::ManifestBytes(prepared.manifest_json.clone());
    let manifest = minted.asset_id().content_id();
    let (_, state) = payer
        .act(
            Operation::Mint {
                manifest: minted,
                royalty_bps: 100,
            },
            wait,
        )
        .unwrap();
    assert!(matches!(state, TxState::Applied { .. }), "{state:?}");
    let mut viewer = Client::connect(join(3), &cy, wait).unwrap();
    viewer.enter("Plaza Square", wait).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match viewer.fetch(&manifest, wait) {
            Ok(bytes) => {
                assert_eq!(bytes, prepared.manifest_json);
                break;
            }
            Err(err) => assert!(
                Instant::now() < deadline,
                "host 3 never got the manifest minted at host 5: {err}"
            ),
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    drop(viewer);
    let account = payer.inventory(wait).unwrap().0;

    // SIGKILL host 4: the other three keep finalising.
    net.kill(4);
    let state = payer
        .submit_final(pay(&payer, account.nonce, 5), wait)
        .unwrap();
    assert!(matches!(state, TxState::Applied { .. }), "{state:?}");
    balance_at(2, before.balance + 5);

    // Back, it catches up from the others.
    net.start(4);
    balance_at(4, before.balance + 5);
}

/// A network of a validator (host 1) and a follower (host 2) taking
/// players, with cy in the square at host `cy_at` and bo at the other.
struct TwoHosts {
    net: Network,
    cy_key: ledger::Keypair,
    bo_key: ledger::Keypair,
    cy: Client,
    bo: Client,
    /// The square's spawn point.
    spawn: [f32; 3],
}

fn two_hosts(chain: &str, cy_at: usize) -> TwoHosts {
    let wait = Duration::from_secs(30);
    let mut net = Network::make(1, 1, chain);
    net.start(1);
    net.start(2);
    let cy_key = read_key(&net.home(1).join("demo/cy.key")).unwrap();
    let bo_key = read_key(&net.home(1).join("demo/bo.key")).unwrap();
    let mut cy = Client::connect(net.join(cy_at), &cy_key, wait).unwrap();
    let spawn = cy.enter("Plaza Square", wait).unwrap().world.spawn;
    let mut bo = Client::connect(net.join(3 - cy_at), &bo_key, wait).unwrap();
    bo.enter("Plaza Square", wait).unwrap();
    TwoHosts {
        net,
        cy_key,
        bo_key,
        cy,
        bo,
        spawn,
    }
}

/// Waits until `watcher` has `account`, `other`'s player, in its world,
/// pumping both; the player's number at `watcher`'s host.
fn meet(watcher: &mut Client, other: &mut Client, account: &ledger::Address) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        watcher.pump().unwrap();
        other.pump().unwrap();
        if let Some(player) = watcher.player_of(account) {
            return player;
        }
        assert!(
            Instant::now() < deadline,
            "{account} never showed up in the world at the other host"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Walks `client`'s avatar from `from` to `to` at walking pace.
fn walk(client: &mut Client, from: [f32; 3], to: [f32; 3]) {
    let steps = 20;
    for step in 1..=steps {
        let t = step as f32 / steps as f32;
        let at = [0, 1, 2].map(|axis| from[axis] + (to[axis] - from[axis]) * t);
        client
            .send_move(AvatarState::new(at, 0.0, Gait::Walk))
            .unwrap();
        client.pump().unwrap();
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn players_on_two_hosts_of_one_world_meet_walk_talk_and_see_what_they_wear() {
    let _turn = plaza_tests::WHOLE_NETWORK.blocking_lock();
    let wait = Duration::from_secs(30);
    // Cy plays at the validator, bo at the follower.
    let TwoHosts {
        mut net,
        cy_key,
        bo_key,
        mut cy,
        mut bo,
        spawn,
    } = two_hosts("plaza-two", 1);

    // Each host shows the other's player as one of its world (in the
    // welcome, or as joining after it, whichever came first).
    let bo_at_cy = meet(&mut cy, &mut bo, &bo_key.address());
    let cy_at_bo = meet(&mut bo, &mut cy, &cy_key.address());

    // The world list counts both hosts' players in the square.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let square = cy
            .worlds()
            .iter()
            .find(|entry| entry.name == "Plaza Square")
            .map(|entry| (entry.players, entry.here));
        if square == Some((2, true)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "cy's world list never counted both players: {:?}",
            cy.worlds()
        );
        cy.pump().unwrap();
        bo.pump().unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }

    // Bo walks a few metres; cy sees bo arrive there, and bo sees cy.
    let to = [spawn[0] + 4.0, spawn[1], spawn[2] + 2.0];
    walk(&mut bo, spawn, to);
    let deadline = Instant::now() + wait;
    loop {
        cy.pump().unwrap();
        bo.pump().unwrap();
        let seen = cy
            .avatars()
            .get(&bo_at_cy)
            .map(|(state, _)| state.position());
        if seen.is_some_and(|at| (at[0] - to[0]).abs() < 0.05 && (at[2] - to[2]).abs() < 0.05) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "cy never saw bo walk to {to:?} (last seen {seen:?})"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(bo.avatars().contains_key(&cy_at_bo));

    // Bo puts on something of its own; its host checks it, and cy's host
    // checks it again before cy sees it on bo.
    let (_, owned, _) = bo.inventory(wait).unwrap();
    let worn = owned
        .iter()
        .filter(|holding| holding.rented.is_none())
        .find_map(|holding| {
            bo.wear(Slot::Head, Some(holding.asset), wait)
                .ok()
                .map(|_| holding.asset)
        })
        .expect("bo owns something worn on the head");
    let shown = cy
        .wait_for(
            "bo's appearance at cy's host",
            wait,
            |message| match message {
                ServerMessage::Appearance { player, worn, .. } if *player == bo_at_cy => {
                    Some(worn.clone())
                }
                _ => None,
            },
        )
        .unwrap();
    assert_eq!(shown, vec![(Slot::Head, worn)]);
    assert_eq!(cy.appearances()[&bo_at_cy], vec![(Slot::Head, worn)]);

    // What cy says at one host, bo hears at the other.
    cy.send(&ClientMessage::Chat {
        text: "hello from the other host".into(),
    })
    .unwrap();
    cy.pump().unwrap();
    let heard = bo
        .wait_for("cy's line at bo's host", wait, |message| match message {
            ServerMessage::Chat { account, text, .. } if *account == cy_key.address() => {
                Some(text.clone())
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(heard, "hello from the other host");

    // A line to bo alone crosses through bo's host; once bo blocks cy,
    // bo's host refuses cy's lines.
    std::thread::sleep(Duration::from_millis(1_100));
    let tell = |text: &str| {
        let text = text.to_owned();
        move |request| ClientMessage::Tell {
            request,
            player: bo_at_cy,
            text,
        }
    };
    let answer = cy.request("a line to bo", wait, tell("just you")).unwrap();
    assert!(
        matches!(answer, ServerMessage::Delivered { .. }),
        "{answer:?}"
    );
    let told = bo
        .wait_for("cy's line to bo", wait, |message| match message {
            ServerMessage::Told { account, text, .. } if *account == cy_key.address() => {
                Some(text.clone())
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(told, "just you");
    bo.request("blocking cy", wait, |request| ClientMessage::Block {
        request,
        account: cy_key.address(),
        blocked: true,
    })
    .unwrap();
    std::thread::sleep(Duration::from_millis(1_100));
    let refused = cy.request("a line to bo", wait, tell("still there?"));
    assert!(
        matches!(&refused, Err(plaza_client::ClientError::Protocol(err)) if err.code == plaza_client::protocol::ErrorCode::Refused),
        "{refused:?}"
    );

    // Bo leaves: cy's host tells cy.
    drop(bo);
    cy.wait_for("bo leaving", wait, |message| {
        (*message == ServerMessage::PlayerLeft { player: bo_at_cy }).then_some(())
    })
    .unwrap();
    net.kill(2);
    net.kill(1);
}

#[test]
fn players_on_two_hosts_of_one_world_trade_face_to_face_and_the_ledger_swaps_atomically() {
    let _turn = plaza_tests::WHOLE_NETWORK.blocking_lock();
    let wait = Duration::from_secs(30);
    // Cy plays at the validator, bo at the follower.
    let TwoHosts {
        mut net,
        cy_key,
        bo_key,
        mut cy,
        mut bo,
        ..
    } = two_hosts("plaza-trade", 1);
    let bo_at_cy = meet(&mut cy, &mut bo, &bo_key.address());
    let (_, owned, _) = bo.inventory(wait).unwrap();
    let bo_asset = owned
        .iter()
        .find(|holding| holding.listing.is_none() && holding.rented.is_none())
        .expect("bo holds an asset not listed or rented")
        .asset;
    let (cy_before, _) = cy.account_now(wait).unwrap();
    let (bo_before, _) = bo.account_now(wait).unwrap();

    // Cy invites bo: the window opens at cy's host, and bo sees it at
    // bo's, under a number of its own.
    let opened = cy.trade_invite(bo_at_cy, wait).unwrap();
    let at_cy = opened.trade;
    let invited = bo
        .wait_trade(wait, |view| view.stage == Stage::Invited)
        .unwrap();
    assert_eq!(invited.inviter, cy_key.address());
    let at_bo = invited.trade;
    let view = bo.trade_act(at_bo, Action::Accept, wait).unwrap();
    assert_eq!(view.stage, Stage::Open);

    // Bo puts in an asset, cy 5,000 tokens; each sees the other's offer.
    let revision = bo
        .trade_act(
            at_bo,
            Action::AddAsset {
                asset: bo_asset,
                revision: view.revision,
            },
            wait,
        )
        .unwrap()
        .revision;
    cy.wait_trade(wait, |view| view.revision == revision)
        .unwrap();
    let revision = cy
        .trade_act(
            at_cy,
            Action::SetTokens {
                amount: 5_000,
                revision,
            },
            wait,
        )
        .unwrap()
        .revision;
    let seen = bo
        .wait_trade(wait, |view| view.revision == revision)
        .unwrap();
    assert_eq!(seen.offers[0].tokens, 5_000);
    assert_eq!(seen.offers[1].assets, vec![bo_asset]);

    // Both confirm and sign, each in its own client.
    cy.trade_act(at_cy, Action::Confirm { revision }, wait)
        .unwrap();
    let view = bo
        .trade_act(at_bo, Action::Confirm { revision }, wait)
        .unwrap();
    assert_eq!(view.stage, Stage::Signing);
    let terms = view.terms.clone().unwrap();
    let chain_id = bo.welcome().unwrap().chain_id.clone();
    bo.trade_act(at_bo, Action::Sign(terms.sign(&chain_id, bo.key())), wait)
        .unwrap();
    cy.wait_trade(wait, |view| view.signed[1]).unwrap();
    let view = cy
        .trade_act(at_cy, Action::Sign(terms.sign(&chain_id, cy.key())), wait)
        .unwrap();
    assert_eq!(view.stage, Stage::Signed);
    let closed = bo
        .wait_trade(wait, |view| view.stage == Stage::Signed)
        .unwrap();
    assert_eq!(closed.trade, at_bo);

    // Cy submits the trade; the ledger swaps both sides at once.
    let [a_signature, b_signature] = view.signatures.unwrap();
    let (_, now) = cy.account_now(wait).unwrap();
    let tx = crate::world::signed(
        &cy,
        terms.a_nonce,
        now,
        Operation::Trade(Box::new(ledger::Trade {
            terms,
            a_signature,
            b_signature,
        })),
    );
    let state = cy.submit_final(tx, wait).unwrap();
    assert!(matches!(state, TxState::Applied { .. }), "{state:?}");
    let (_, owned, _) = cy.inventory(wait).unwrap();
    assert!(owned.iter().any(|holding| holding.asset == bo_asset));
    assert_eq!(
        cy.account_now(wait).unwrap().0.balance,
        cy_before.balance - 5_000
    );
    // Bo's host applies the same block.
    let deadline = Instant::now() + Duration::from_secs(60);
    while bo.account_now(wait).unwrap().0.balance != bo_before.balance + 5_000 {
        assert!(
            Instant::now() < deadline,
            "bo's host never showed the trade"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    net.kill(2);
    net.kill(1);
}

#[test]
fn a_wearable_rented_at_one_host_is_seen_at_the_other_until_the_rental_ends() {
    let _turn = plaza_tests::WHOLE_NETWORK.blocking_lock();
    let wait = Duration::from_secs(30);
    // Cy plays at the validator, bo at the follower.
    let TwoHosts {
        mut net,
        cy_key,
        bo_key,
        mut cy,
        mut bo,
        ..
    } = two_hosts("plaza-rent", 1);
    let cy_at_bo = meet(&mut bo, &mut cy, &cy_key.address());
    meet(&mut cy, &mut bo, &bo_key.address());

    // Cy rents someone else's wearable and puts it on.
    let (hits, _) = cy
        .browse(
            Browse {
                kind: Some("wearable".into()),
                rent: Some(true),
                page_size: 20,
                ..Browse::default()
            },
            wait,
        )
        .unwrap();
    let card = hits
        .into_iter()
        .find(|card| card.listing.lister != cy_key.address() && card.rented_until.is_none())
        .expect("a wearable of another's for rent");
    let asset = card.listing.asset;
    let (_, state) = cy
        .act(
            Operation::Rent {
                listing: card.listing.id,
                periods: 1,
            },
            wait,
        )
        .unwrap();
    assert!(matches!(state, TxState::Applied { .. }), "{state:?}");
    let slot = Slot::ALL
        .into_iter()
        .find(|slot| cy.wear(*slot, Some(asset), wait).is_ok())
        .expect("the wearable goes on some slot");

    // Bo's host checks it against its own ledger and shows it on cy.
    let deadline = Instant::now() + Duration::from_secs(60);
    while bo.appearances().get(&cy_at_bo) != Some(&vec![(slot, asset)]) {
        assert!(
            Instant::now() < deadline,
            "bo never saw cy's rented wearable"
        );
        bo.pump().unwrap();
        cy.pump().unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }

    // Cy returns it early: the block that settles the rental takes it off
    // cy at both hosts.
    let (_, _, renting) = cy.inventory(wait).unwrap();
    let rental = renting
        .iter()
        .find(|holding| holding.asset == asset)
        .and_then(|holding| holding.rented.as_ref())
        .expect("cy rents it")
        .id;
    let (_, state) = cy.act(Operation::ReturnRental { rental }, wait).unwrap();
    let TxState::Applied { height } = state else {
        panic!("the return was not applied: {state:?}");
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while bo
        .appearances()
        .get(&cy_at_bo)
        .is_some_and(|worn| worn.iter().any(|(_, worn)| *worn == asset))
    {
        assert!(
            Instant::now() < deadline,
            "bo still sees the wearable on cy after the rental ended at block {height}"
        );
        bo.pump().unwrap();
        cy.pump().unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
    let me = cy.welcome().unwrap().player;
    cy.pump().unwrap();
    assert!(
        !cy.appearances()[&me].iter().any(|(_, worn)| *worn == asset),
        "cy's own host still shows it"
    );
    net.kill(2);
    net.kill(1);
}

#[test]
fn a_player_whose_host_dies_is_back_in_the_world_at_another_host_within_five_seconds() {
    let _turn = plaza_tests::WHOLE_NETWORK.blocking_lock();
    let wait = Duration::from_secs(30);
    // Cy plays at the follower, bo at the validator.
    let TwoHosts {
        mut net,
        cy_key,
        mut cy,
        mut bo,
        spawn,
        ..
    } = two_hosts("plaza-failover", 2);

    // Cy's host tells it of the world's other host.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cy.other_hosts().contains(&net.join(1)) {
        assert!(
            Instant::now() < deadline,
            "cy never heard of the other host"
        );
        cy.pump().unwrap();
        bo.pump().unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
    // Cy wears something of its own and walks off a little.
    let (_, owned, _) = cy.inventory(wait).unwrap();
    let hat = owned
        .iter()
        .filter(|holding| holding.rented.is_none())
        .find_map(|holding| {
            cy.wear(Slot::Head, Some(holding.asset), wait)
                .ok()
                .map(|_| holding.asset)
        })
        .expect("cy owns something worn on the head");
    let to = [spawn[0] + 3.0, spawn[1], spawn[2]];
    walk(&mut cy, spawn, to);
    bo.pump().unwrap();
    bo.drain();

    // Cy's host dies; cy notices the silence and joins the other host.
    let died = Instant::now();
    net.kill(2);
    loop {
        if cy.pump().is_err() || cy.silent_for() > HOST_GONE_AFTER {
            break;
        }
        assert!(
            died.elapsed() < Duration::from_secs(10),
            "cy never noticed its host had gone"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut cy = cy.join_another(wait).unwrap();
    let took = died.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "back in the world after {took:?}"
    );
    let me = cy.welcome().unwrap().player;
    assert_eq!(cy.appearances()[&me], vec![(Slot::Head, hat)]);
    // It goes on where it was, as the dead host last showed it to the
    // new one, not from the spawn point.
    let at = cy.welcome().unwrap().at;
    let off = ((at[0] - to[0]).powi(2) + (at[2] - to[2]).powi(2)).sqrt();
    assert!(off < 1.0, "cy went on at {at:?}, {off} m from where it was");

    // Bo, at that host, sees cy arrive with the hat back on (as a player
    // of bo's host now: the other host's cy is gone first).
    let cy_at_bo = bo
        .wait_for("cy at bo's host", wait, |message| match message {
            ServerMessage::PlayerJoined(info) if info.account == cy_key.address() => {
                Some(info.player)
            }
            _ => None,
        })
        .unwrap();
    let deadline = Instant::now() + wait;
    while bo.appearances().get(&cy_at_bo) != Some(&vec![(Slot::Head, hat)]) {
        assert!(Instant::now() < deadline, "bo never saw cy's hat");
        bo.pump().unwrap();
        cy.pump().unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
    net.kill(1);
}
