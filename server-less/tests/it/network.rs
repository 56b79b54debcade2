//! Four `plaza-host` processes made by `plaza-host testnet`, each its own
//! ledger, agreeing through consensus over loopback; players connected to
//! different hosts see the same chain.

use std::time::{Duration, Instant};

use ledger::{Operation, Transaction};
use server_less::client::Client;
use server_less::home::read_key;
use server_less::protocol::TxState;

use crate::cli::{plaza_host, start};

/// The first of 40 ports that are free now.
fn free_ports() -> u16 {
    loop {
        let base = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if base < 65_000 {
            return base;
        }
    }
}

#[test]
fn four_host_processes_finalise_together_and_a_killed_one_catches_up() {
    let wait = Duration::from_secs(30);
    let dir = tempfile::tempdir().unwrap();
    let base = free_ports();
    let made = plaza_host(&dir.path().join("unused"))
        .args(["testnet", "--hosts", "4", "--chain-id", "plaza-four"])
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
    let mut hosts: Vec<_> = (1..=4)
        .map(|n| start(&home(n), "players can join"))
        .collect();

    let bo = read_key(&home(1).join("demo/bo.key")).unwrap();
    let cy = read_key(&home(1).join("demo/cy.key")).unwrap();
    let mut payer = Client::connect(join(1), &bo, wait).unwrap();
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

    // SIGKILL host 4: the other three keep finalising.
    hosts[3].kill().unwrap();
    hosts[3].wait().unwrap();
    let state = payer
        .submit_final(pay(&payer, account.nonce + 1, 5), wait)
        .unwrap();
    assert!(matches!(state, TxState::Applied { .. }), "{state:?}");
    balance_at(2, before.balance + 5);

    // Back, it catches up from the others.
    hosts[3] = start(&home(4), "players can join");
    balance_at(4, before.balance + 5);
    for host in &mut hosts {
        host.kill().unwrap();
        host.wait().unwrap();
    }
}
