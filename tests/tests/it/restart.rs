//! A host process killed (`kill -9`) in the middle of players' activity
//! comes back with every block, and its players reconnect.

use std::time::Duration;

use ledger::{Operation, Transaction};
use plaza_client::client::Client;
use plaza_client::protocol::TxState;
use plaza_tests::processes::{HostProcess, plaza_host, use_free_ports};

#[test]
fn a_host_killed_mid_activity_comes_back_with_every_block_and_players_reconnect() {
    let wait = Duration::from_secs(10);
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("host");
    let init = plaza_host(&home)
        .args(["init", "--chain-id", "plaza-kill"])
        .output()
        .unwrap();
    assert!(init.status.success());
    let join = use_free_ports(&home);
    let key = server_less::home::read_key(&home.join("demo/bo.key")).unwrap();
    let to = server_less::home::read_key(&home.join("demo/cy.key"))
        .unwrap()
        .address();
    let pay = |client: &Client, nonce: u64| {
        Transaction {
            chain_id: client.welcome().unwrap().chain_id.clone(),
            signer: key.address(),
            nonce,
            valid_until: u64::MAX,
            op: Operation::Pay { to, amount: 1 },
        }
        .sign(&key)
    };

    let run = HostProcess::start(&home, "players can join");
    let mut client = Client::connect(join, &key, wait).unwrap();
    client.enter("Plaza Square", wait).unwrap();
    let (account, _, _) = client.inventory(wait).unwrap();
    let mut applied = Vec::new();
    for nonce in account.nonce..account.nonce + 5 {
        let tx = pay(&client, nonce);
        let id = tx.id();
        let state = client.submit_final(tx, wait).unwrap();
        assert!(matches!(state, TxState::Applied { .. }), "{state:?}");
        applied.push((id, state));
    }
    // Three more in flight when the host dies.
    let mut in_flight = Vec::new();
    for nonce in account.nonce + 5..account.nonce + 8 {
        let tx = pay(&client, nonce);
        in_flight.push(tx.id());
        client.submit(tx, wait).unwrap();
    }
    run.kill();
    drop(client);

    let run = HostProcess::start(&home, "players can join");
    let mut client = Client::connect(join, &key, wait).unwrap();
    client.enter("Harbour Market", wait).unwrap();
    for (id, state) in &applied {
        assert_eq!(&client.tx_status(*id, wait).unwrap(), state, "{id}");
    }
    // What was in flight is either in a block or gone, never half.
    let mut landed = 0;
    for id in in_flight {
        match client.tx_status(id, wait).unwrap() {
            TxState::Applied { .. } => landed += 1,
            TxState::Unknown => {}
            other => panic!("{id} came back as {other:?}"),
        }
    }
    let (after, _, _) = client.inventory(wait).unwrap();
    assert_eq!(after.nonce, account.nonce + 5 + landed);
    assert_eq!(after.balance, account.balance - 5 - landed);

    // `status` asks the running host, a network of one, which says so.
    let status = plaza_tests::processes::status(&home);
    assert_eq!(status["running"], true);
    assert_eq!(status["joinable"], false);
    assert_eq!(status["chain"], "plaza-kill");
    assert!(status["height"].as_u64().unwrap() >= 5);
    // A host cannot join through it, and is told why; nothing is made.
    let genesis = status["genesis"].as_str().unwrap();
    let joiner = dir.path().join("joiner");
    let refused = plaza_host(&joiner)
        .args(["init", "--join", &join.to_string(), "--genesis", genesis])
        .args(["--bind", "127.0.0.1", "--port", "1"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("network of one"), "{said}");
    assert!(!joiner.exists());
    run.kill();
}
