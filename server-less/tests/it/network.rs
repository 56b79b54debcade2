//! Four validator processes and a follower made by `plaza-host testnet`,
//! each its own ledger, agreeing through consensus over loopback; players
//! connected to different hosts see the same chain, and an asset's files
//! reach the hosts that lack them.

use std::time::{Duration, Instant};

use ledger::{Operation, Transaction};
use plaza_client::client::Client;
use plaza_client::protocol::TxState;
use server_less::home::read_key;

use crate::cli::{plaza_host, start};

/// The host processes, killed when the test ends, however it ends.
struct Hosts(Vec<std::process::Child>);

impl Drop for Hosts {
    fn drop(&mut self) {
        for host in &mut self.0 {
            let _ = host.kill();
            let _ = host.wait();
        }
    }
}

#[test]
fn four_validator_processes_finalise_what_a_follower_gossips_and_a_killed_one_catches_up() {
    let wait = Duration::from_secs(30);
    let dir = tempfile::tempdir().unwrap();
    let base = server_less::bench::free_port_block().unwrap();
    let made = plaza_host(&dir.path().join("unused"))
        .args(["testnet", "--hosts", "4", "--followers", "1"])
        .args(["--chain-id", "plaza-four"])
        .arg("--dir")
        .arg(dir.path())
        .args(["--base-port", &base.to_string()])
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let home = |n: usize| dir.path().join(format!("host-{n}"));
    let join = |n: usize| std::net::SocketAddr::from(([127, 0, 0, 1], base + 10 * (n as u16 - 1)));
    let mut hosts = Hosts(Vec::new());
    for n in 1..=5 {
        hosts.0.push(start(&home(n), "players can join"));
    }
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
    hosts.0[3].kill().unwrap();
    hosts.0[3].wait().unwrap();
    let state = payer
        .submit_final(pay(&payer, account.nonce, 5), wait)
        .unwrap();
    assert!(matches!(state, TxState::Applied { .. }), "{state:?}");
    balance_at(2, before.balance + 5);

    // Back, it catches up from the others.
    hosts.0[3] = start(&home(4), "players can join");
    balance_at(4, before.balance + 5);
    drop(hosts);
}
