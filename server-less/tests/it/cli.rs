//! The `plaza-host` binary, run as a user runs it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub(crate) fn plaza_host(home: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_plaza-host"));
    command.arg("--home").arg(home).env("RUST_LOG", "info");
    command
}

#[test]
fn init_run_kill_and_status_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("host");

    let init = plaza_host(&home)
        .args(["init", "--chain-id", "plaza-cli"])
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let said = String::from_utf8_lossy(&init.stdout);
    assert!(said.contains("network plaza-cli made"), "{said}");
    assert!(said.contains("demo account ada"), "{said}");

    // A second init refuses to touch the network.
    let again = plaza_host(&home).arg("init").output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a host"));

    use_free_ports(&home);
    // Run, then kill it without warning.
    let mut run = start(&home, "players can join");
    // While it runs, status asks it (the store is the running host's).
    let busy = plaza_host(&home).arg("status").output().unwrap();
    assert!(
        busy.status.success(),
        "{}",
        String::from_utf8_lossy(&busy.stderr)
    );
    let said = String::from_utf8_lossy(&busy.stdout);
    assert!(said.contains("chain      plaza-cli  (running)"), "{said}");
    assert!(said.contains("a network of one: not joinable"), "{said}");
    run.kill().unwrap();
    run.wait().unwrap();

    let status = plaza_host(&home).arg("status").output().unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let said = String::from_utf8_lossy(&status.stdout);
    assert!(said.contains("chain      plaza-cli"), "{said}");
    // Genesis, the sample pack minted and listed, the deeds minted and
    // dealt.
    assert!(said.contains("height     4"), "{said}");
    assert!(said.contains("balance 1000000"), "{said}");
    assert!(said.contains("founder    plaza1"), "{said}");

    // No home: a message that says what to do.
    let missing = plaza_host(&dir.path().join("nowhere"))
        .arg("run")
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("plaza-host init"));
}

#[test]
fn the_host_unstakes_and_stakes_from_the_command_line_and_status_shows_the_validators() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("host");
    let init = plaza_host(&home)
        .args(["init", "--chain-id", "plaza-stake"])
        .output()
        .unwrap();
    assert!(init.status.success());
    use_free_ports(&home);
    let mut run = start(&home, "players can join");

    // The host is the network's one validator, with the genesis stake.
    let unstake = plaza_host(&home)
        .args(["unstake", "1000"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&unstake.stdout);
    assert!(
        unstake.status.success(),
        "{}",
        String::from_utf8_lossy(&unstake.stderr)
    );
    assert!(said.contains("unstaked: transaction"), "{said}");
    assert!(said.contains("in force from block"), "{said}");
    // More than its account holds: refused, with the ledger's reason.
    let greedy = plaza_host(&home)
        .args(["stake", "5000000"])
        .output()
        .unwrap();
    assert!(!greedy.status.success());
    let reason = String::from_utf8_lossy(&greedy.stderr);
    assert!(
        reason.contains("stake refused") && reason.contains("insufficient funds"),
        "{reason}"
    );
    // The host makes the blocks that put the change in force by itself.
    std::thread::sleep(Duration::from_secs(2));
    run.kill().unwrap();
    run.wait().unwrap();

    let status = plaza_host(&home).arg("status").output().unwrap();
    let said = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success());
    assert!(said.contains("power 99000  (this host)"), "{said}");
    assert!(said.contains("staked     99000"), "{said}");
    // 1,000 left of its stake, and the fees of the sample pack's mints
    // and the 7 deeds, which the host proposed.
    let mints = assets::pack::sample_models().len() as u64 + 7;
    let balance = 1_000 + mints * ledger::MINT_FEE;
    assert_eq!(balance, 5_900);
    assert!(
        said.contains(&format!("host balance {balance}\n")),
        "{said}"
    );
}

/// Points the home's session endpoints at free loopback ports; the join
/// endpoint's address.
pub(crate) fn use_free_ports(home: &std::path::Path) -> std::net::SocketAddr {
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let (join, session) = (
        tcp.local_addr().unwrap().port(),
        udp.local_addr().unwrap().port(),
    );
    drop((tcp, udp));
    let path = home.join("config.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    let operator = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let operator = operator.local_addr().unwrap().port();
    let config = config
        .replace("join_port = 7480", &format!("join_port = {join}"))
        .replace("udp_port = 7481", &format!("udp_port = {session}"))
        .replace("127.0.0.1:7484", &format!("127.0.0.1:{operator}"));
    std::fs::write(&path, config).unwrap();
    std::net::SocketAddr::from(([127, 0, 0, 1], join))
}

/// Starts `plaza-host run` and waits until its log says `ready`.
pub(crate) fn start(home: &std::path::Path, ready: &str) -> std::process::Child {
    let mut run = plaza_host(home)
        .arg("run")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = run.stderr.take().unwrap();
    let (lines, log) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            // Once the test stops listening the rest is drained unread.
            let _ = lines.send(line);
        }
    });
    let said = std::iter::from_fn(|| log.recv_timeout(Duration::from_secs(60)).ok())
        .any(|line| line.contains(ready));
    assert!(said, "the host never said {ready:?}");
    run
}
