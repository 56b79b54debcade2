//! A stranger's host joins a running network from another machine (another
//! loopback address) with nothing but one host's join address and the
//! genesis hash: `plaza-host init --join`, then `run`. It starts from the
//! state snapshot the host offers (certified by the validators), follows
//! the chain, stakes and votes, and unstakes; a wrong genesis hash is
//! refused and leaves nothing behind; `--full-replay` starts from the
//! genesis instead.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use ledger::{Keypair, Operation, Transaction};
use plaza_client::client::Client;
use plaza_client::protocol::TxState;
use server_less::home::read_key;

use plaza_tests::processes::Network;

/// A player at the host joined at `join`, once it has caught up enough to
/// take players.
fn player_at(join: SocketAddr, key: &Keypair) -> Client {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let entered = Client::connect(join, key, Duration::from_secs(10)).and_then(|mut client| {
            client.enter("Plaza Square", Duration::from_secs(10))?;
            Ok(client)
        });
        match entered {
            Ok(client) => return client,
            Err(err) => assert!(
                Instant::now() < deadline,
                "no session at {join} in 90 s: {err}"
            ),
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// `key` pays `amount` to `to` at the host whose join endpoint is `join`,
/// final. (A client idle for long loses its session, so each payment
/// joins afresh.)
fn pay(join: SocketAddr, key: &Keypair, to: ledger::Address, amount: u64) {
    let wait = Duration::from_secs(60);
    let client = &mut player_at(join, key);
    let (account, _) = client.account_now(wait).unwrap();
    let tx = Transaction {
        chain_id: client.welcome().unwrap().chain_id.clone(),
        signer: key.address(),
        nonce: account.nonce,
        valid_until: u64::MAX,
        op: Operation::Pay { to, amount },
    }
    .sign(key);
    let state = client.submit_final(tx, wait).unwrap();
    assert!(matches!(state, TxState::Applied { .. }), "{state:?}");
}

/// Waits until `check` holds of host `n`'s status, asked of the running
/// host.
fn status_until(net: &Network, n: usize, what: &str, check: impl Fn(&serde_json::Value) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = net.status(n);
        if check(&status) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "host {n} never showed {what}: {status}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn power_of(status: &serde_json::Value, address: &str) -> u64 {
    status["validators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|validator| validator["address"] == address)
        .map_or(0, |validator| validator["power"].as_u64().unwrap())
}

#[test]
fn a_host_on_another_machine_joins_with_a_genesis_hash_follows_stakes_votes_and_unstakes() {
    let _turn = plaza_tests::WHOLE_NETWORK.blocking_lock();
    let mut net = Network::make(4, 0, "plaza-join");
    // Host 1 takes a snapshot every 3 blocks.
    let config = net.home(1).join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("snapshot_every = 1000"), "{text}");
    std::fs::write(
        &config,
        text.replace("snapshot_every = 1000", "snapshot_every = 3"),
    )
    .unwrap();
    for n in 1..=4 {
        net.start(n);
    }
    // The operator reads the genesis hash off a running host of the
    // network.
    let status = net.status(1);
    assert_eq!(status["running"], true, "{status}");
    let genesis = status["genesis"].as_str().unwrap().to_owned();
    assert_eq!(genesis.len(), 64);
    let trusted = genesis.clone();
    let elsewhere: IpAddr = [127, 0, 0, 5].into();

    // A wrong hash is refused, and nothing is left behind.
    let mut wrong = genesis.clone().into_bytes();
    wrong[0] = if wrong[0] == b'0' { b'1' } else { b'0' };
    let err = net
        .join_network(1, std::str::from_utf8(&wrong).unwrap(), elsewhere)
        .unwrap_err();
    assert!(
        err.contains("not ") && err.contains("the one you trust"),
        "{err}"
    );
    let left: Vec<_> = std::fs::read_dir(net.dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.') || name == "host-5")
        .collect();
    assert!(left.is_empty(), "a refused join left {left:?}");

    // Blocks are made until host 1 offers a snapshot.
    let home1 = net.home(1);
    let ada = read_key(&home1.join("demo/ada.key")).unwrap();
    let cy = read_key(&home1.join("demo/cy.key")).unwrap();
    let mut snapshot = None;
    for _ in 0..12 {
        pay(net.join(1), &ada, cy.address(), 1);
        if let Some(height) = net.status(1)["snapshot"].as_u64() {
            snapshot = Some(height);
            break;
        }
    }
    let snapshot = snapshot.expect("host 1 never offered a snapshot");
    assert_eq!(snapshot % 3, 0);

    // The right one makes a home that starts from the snapshot and follows
    // the chain.
    let (joined, said) = net.join_network_with(1, &genesis, elsewhere, &[]).unwrap();
    assert_eq!(joined, 5);
    assert!(said.contains("from a snapshot"), "{said}");
    let offline = net.status(joined);
    assert_eq!(offline["genesis"], genesis.as_str());
    let start = offline["height"].as_u64().unwrap();
    assert!(start >= snapshot, "{offline}");
    net.start(joined);
    let newcomer = read_key(&net.home(joined).join("host.key")).unwrap();
    pay(net.join(1), &ada, newcomer.address(), 100_000);
    // The new host's own account, seen at the new host, shows what was
    // paid at host 1.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut at_new = Client::connect(net.join(joined), &newcomer, Duration::from_secs(10)).unwrap();
    at_new
        .enter("Plaza Square", Duration::from_secs(10))
        .unwrap();
    loop {
        let (account, _) = at_new.account_now(Duration::from_secs(10)).unwrap();
        if account.balance == 100_000 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new host never showed the payment to it"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(at_new);

    // What the genesis minted (the sample pack, the deeds) has its files at
    // the new host too, fetched from the others: a player there loads a
    // sample model.
    let genesis =
        server_less::genesis::NetworkGenesis::load(&net.home(joined).join("genesis.plaza"))
            .unwrap();
    let manifest = genesis.minted()[0];
    let mut viewer = player_at(net.join(joined), &cy);
    let deadline = Instant::now() + Duration::from_secs(60);
    let model = loop {
        let fetched = viewer
            .fetch(&manifest, Duration::from_secs(10))
            .and_then(|bytes| {
                let model = assets::Manifest::from_json(&bytes).unwrap().model;
                viewer
                    .fetch(&model, Duration::from_secs(10))
                    .map(|glb| (model, glb))
            });
        match fetched {
            Ok(found) => break found,
            Err(err) => assert!(
                Instant::now() < deadline,
                "the new host never had the genesis's files: {err}"
            ),
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(model.0.matches(&model.1));
    drop(viewer);

    // It stakes and becomes a validator, as a testnet host does.
    let staked = net.command(joined, &["stake", "60000"]).unwrap();
    assert!(staked.contains("in force from block"), "{staked}");
    let me = newcomer.address().to_string();
    status_until(&net, 1, "the new validator", |status| {
        power_of(status, &me) == 60_000
    });
    // With one genesis validator gone, the three left hold 300,000 of
    // 460,000: under two thirds. A payment is final only with the new
    // host's votes.
    net.kill(4);
    pay(net.join(joined), &cy, ada.address(), 3);
    net.start(4);

    // It unstakes, and the set is as before.
    let unstaked = net.command(joined, &["unstake", "60000"]).unwrap();
    assert!(unstaked.contains("in force from block"), "{unstaked}");
    status_until(&net, 1, "the new host out of the set", |status| {
        power_of(status, &me) == 0 && status["validators"].as_array().unwrap().len() == 4
    });
    pay(net.join(1), &ada, cy.address(), 1);

    // A host joining now starts from a snapshot taken after the set
    // changed twice: it follows the validators through both changes, each
    // certified by the set before it.
    let changed = net.status(1)["height"].as_u64().unwrap();
    let mut later = None;
    for _ in 0..12 {
        if let Some(height) = net.status(1)["snapshot"].as_u64().filter(|h| *h > changed) {
            later = Some(height);
            break;
        }
        pay(net.join(1), &ada, cy.address(), 1);
    }
    let later = later.expect("host 1 never offered a snapshot after the set changed");
    let (second, said) = net
        .join_network_with(1, &trusted, [127, 0, 0, 7].into(), &[])
        .unwrap();
    assert!(said.contains("from a snapshot"), "{said}");
    assert!(net.status(second)["height"].as_u64().unwrap() >= later);

    // A host that wants to check everything replays from the genesis.
    let (replayed, said) = net
        .join_network_with(1, &trusted, [127, 0, 0, 6].into(), &["--full-replay"])
        .unwrap();
    assert!(!said.contains("from a snapshot"), "{said}");
    let genesis_blocks =
        server_less::genesis::NetworkGenesis::load(&net.home(replayed).join("genesis.plaza"))
            .unwrap()
            .blocks
            .len() as u64;
    assert_eq!(net.status(replayed)["height"], genesis_blocks);
}

/// A host bound to every interface tells each player the address it
/// reached the host at, so players on other machines play there: through
/// loopback, and through the machine's own network address as another
/// machine would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn players_play_at_a_host_bound_to_every_interface_through_any_of_its_addresses() {
    use server_less::clock::SystemClock;
    use server_less::home::{self, Home};

    let dir = tempfile::tempdir().unwrap();
    let home = Home::new(dir.path().join("host"));
    home::init(
        &home,
        Some("plaza-any"),
        server_less::clock::Clock::now(&SystemClock),
    )
    .unwrap();
    let (host, sessions) =
        server_less::sessions::serve(&home, std::sync::Arc::new(SystemClock), |settings| {
            settings.bind = IpAddr::from([0, 0, 0, 0]);
        })
        .await
        .unwrap();
    let port = sessions.join_addr().port();
    assert!(sessions.join_addr().ip().is_unspecified());
    // The machine's own addresses other than loopback stand for where
    // another machine reaches it (a machine with none has loopback only).
    let mut through: Vec<IpAddr> = vec![[127, 0, 0, 1].into()];
    through.extend(
        if_addrs::get_if_addrs()
            .unwrap()
            .into_iter()
            .map(|interface| interface.ip())
            .filter(|ip| ip.is_ipv4() && !ip.is_loopback())
            .take(1),
    );
    let ada = home.load_demo_key("ada").unwrap();
    tokio::task::spawn_blocking(move || {
        for ip in through {
            let join = SocketAddr::new(ip, port);
            let mut player = player_at(join, &ada);
            let (account, _) = player.account_now(Duration::from_secs(10)).unwrap();
            assert!(account.balance > 0, "through {ip}");
            player.disconnect();
        }
    })
    .await
    .unwrap();
    sessions.stop().await;
    host.stop().await.unwrap();
}
