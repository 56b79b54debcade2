//! Four validator processes and a follower made by `plaza-host testnet`,
//! each its own ledger, agreeing through consensus over loopback; players
//! connected to different hosts see the same chain, and an asset's files
//! reach the hosts that lack them.

use std::time::{Duration, Instant};

use ledger::{Operation, Transaction};
use plaza_client::client::Client;
use plaza_client::protocol::TxState;
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
