//! The real `plaza` binary: under Xvfb with Mesa's software Vulkan it
//! starts its embedded host, enters the plaza, draws it, and saves a
//! picture that must be a rendered scene; with no display it says so and
//! serves the host alone.

// They run the embedded host.
#![cfg(feature = "embedded-host")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn the_world_opens_with_an_embedded_host_and_draws_the_plaza() {
    let dir = tempfile::tempdir().unwrap();
    let shot = dir.path().join("plaza.png");
    let xvfb = Command::new("which").arg("xvfb-run").output().unwrap();
    assert!(
        xvfb.status.success(),
        "xvfb-run is missing: scripts/setup installs it (Debian xvfb, mesa-vulkan-drivers)"
    );
    // A hang before the first frame fails the test rather than CI.
    let output = Command::new("timeout")
        .args(["300", "xvfb-run", "-a", "-s", "-screen 0 1280x720x24"])
        .arg(env!("CARGO_BIN_EXE_plaza"))
        .arg("--data")
        .arg(dir.path())
        .arg("--screenshot")
        .arg(&shot)
        .env("RUST_LOG", "info,wgpu=error,naga=warn")
        .env("PLAZA_PASSPHRASE", "a passphrase for the test")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "plaza failed:\n{log}");
    assert!(log.contains("entered"), "{log}");
    // The first start made the player's wallet, sealed, and gave it its
    // first tokens; the player entered with it.
    let sealed = plaza_client::wallet::Wallet::read(&dir.path().join("wallets/player.wallet"))
        .expect("the player's wallet");
    assert!(log.contains("made your wallet"), "{log}");
    assert!(
        log.contains("your wallet was given its first tokens"),
        "{log}"
    );
    assert!(log.contains(&sealed.address().to_string()), "{log}");

    let file = std::fs::File::open(&shot).expect("no screenshot");
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((frame.width, frame.height), (1280, 720));
    let channels = frame.line_size / frame.width as usize;
    let mut colours: HashMap<&[u8], usize> = HashMap::new();
    for pixel in pixels[..frame.buffer_size()].chunks(channels) {
        *colours.entry(&pixel[..3]).or_default() += 1;
    }
    let total = (frame.width * frame.height) as usize;
    let commonest = colours.values().copied().max().unwrap();
    // A lit scene: sky, paving, grass, stalls, shading: many colours, none
    // covering most of the picture.
    assert!(colours.len() > 200, "{} colours", colours.len());
    assert!(
        commonest * 2 < total,
        "one colour covers {commonest} of {total} pixels"
    );
    if let Ok(keep) = std::env::var("PLAZA_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
}

#[test]
fn with_no_display_it_says_so_and_serves_the_host_until_interrupted() {
    let dir = tempfile::tempdir().unwrap();
    // A network made beforehand, on free ports (the defaults may be taken).
    let home = server_less::home::Home::new(dir.path().join("host"));
    server_less::home::init(&home, Some("plaza-headless"), 1_800_000_000).unwrap();
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let (join, session) = (
        tcp.local_addr().unwrap().port(),
        udp.local_addr().unwrap().port(),
    );
    drop((tcp, udp));
    let config = std::fs::read_to_string(home.config()).unwrap();
    let config = config
        .replace("join_port = 7480", &format!("join_port = {join}"))
        .replace("udp_port = 7481", &format!("udp_port = {session}"));
    std::fs::write(home.config(), config).unwrap();

    let mut plaza = Running(
        Command::new(env!("CARGO_BIN_EXE_plaza"))
            .arg("--data")
            .arg(dir.path())
            .env_remove("DISPLAY")
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = plaza.0.stderr.take().unwrap();
    let (lines, log) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let mut said = Vec::new();
    while let Ok(line) = log.recv_timeout(Duration::from_secs(60)) {
        let ready = line.contains("players can join");
        said.push(line);
        if ready {
            break;
        }
    }
    let said = said.join("\n");
    assert!(said.contains("no display here"), "{said}");
    assert!(said.contains("plaza-host -- run --init"), "{said}");
    assert!(said.contains("players can join"), "{said}");
    // It serves: a player can join.
    let key = home.load_demo_key("bo").unwrap();
    let mut client = plaza_client::client::Client::connect(
        std::net::SocketAddr::from(([127, 0, 0, 1], join)),
        &key,
        Duration::from_secs(10),
    )
    .unwrap();
    client
        .enter("Plaza Square", Duration::from_secs(10))
        .unwrap();
    client.disconnect();

    let interrupted = Command::new("kill")
        .args(["-INT", &plaza.0.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let status = plaza.0.wait().unwrap();
    assert!(status.success(), "{status}");
}

/// A child process killed when the test ends however it ends.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_new_wallet_needs_a_passphrase_and_without_one_nothing_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_plaza"))
        .arg("--data")
        .arg(dir.path())
        // A display is named, so plaza goes as far as the wallet.
        .env("DISPLAY", ":97")
        .env_remove("PLAZA_PASSPHRASE")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{log}");
    assert!(
        log.contains("needs its passphrase and there is no terminal"),
        "{log}"
    );
    assert!(!dir.path().join("wallets/player.wallet").exists());
}
