//! The `plaza-host` binary, run as a user runs it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn plaza_host(home: &std::path::Path) -> Command {
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

    // Run, then kill it without warning.
    let mut run = plaza_host(&home)
        .arg("run")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = run.stderr.take().unwrap();
    let (lines, log) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let started = std::iter::from_fn(|| log.recv_timeout(Duration::from_secs(60)).ok())
        .any(|line| line.contains("host started"));
    assert!(started, "the host never said it started");
    // While it runs, status says so rather than failing obscurely.
    let busy = plaza_host(&home).arg("status").output().unwrap();
    assert!(!busy.status.success());
    assert!(
        String::from_utf8_lossy(&busy.stderr).contains("a host is running"),
        "{}",
        String::from_utf8_lossy(&busy.stderr)
    );
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
    assert!(said.contains("height     2"), "{said}");
    assert!(said.contains("balance 1000000"), "{said}");

    // No home: a message that says what to do.
    let missing = plaza_host(&dir.path().join("nowhere"))
        .arg("run")
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("plaza-host init"));
}
