//! The operator's port of a real `plaza-host` process: Prometheus metrics,
//! the JSON figures, the status page loaded in a real headless browser
//! (Debian's `chromium`: it shows the live height and logs nothing to its
//! console), bad requests answered and nothing more; and SIGTERM, as a
//! service manager sends it, stops the host cleanly, telling its players
//! why their session ends.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use plaza_tests::processes::Network;

/// Sends `request` raw and reads the whole answer: status code and body.
fn http(addr: SocketAddr, request: &str) -> (u16, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    )
}

/// A metric's value in Prometheus text.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn the_operator_sees_live_figures_in_prometheus_json_and_a_browser_and_sigterm_stops_cleanly() {
    let _turn = plaza_tests::WHOLE_NETWORK.blocking_lock();
    let mut net = Network::make(1, 0, "plaza-operator");
    net.start(1);
    let operator = net.operator(1);

    let (status, metrics) = get(operator, "/metrics");
    assert_eq!(status, 200, "{metrics}");
    // Genesis and the four blocks init made, and consensus since.
    assert!(metric(&metrics, "plaza_height") >= 4.0, "{metrics}");
    assert_eq!(metric(&metrics, "plaza_validators"), 1.0);
    assert_eq!(metric(&metrics, "plaza_voting_power"), 100_000.0);
    // At the tip: a host under a loaded machine may count itself catching
    // up for a moment after it starts.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut current = metric(&metrics, "plaza_current");
    while current != 1.0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        current = metric(&get(operator, "/metrics").1, "plaza_current");
    }
    assert_eq!(current, 1.0, "the host never counted itself at the tip");
    assert!(metric(&metrics, "plaza_store_bytes") > 100_000.0);
    for name in [
        "plaza_seconds_since_block",
        "plaza_mempool_transactions",
        "plaza_players",
        "plaza_peers",
        "plaza_session_tick_max_seconds",
        "plaza_session_bytes_out_per_second",
        "plaza_session_bytes_in_per_second",
        "plaza_uptime_seconds",
        "plaza_finality_seconds",
    ] {
        metric(&metrics, name);
        assert!(metrics.contains(&format!("# TYPE {name} ")), "{name}");
    }

    let (status, json) = get(operator, "/status.json");
    assert_eq!(status, 200);
    let figures: serde_json::Value = serde_json::from_str(&json).unwrap();
    let height = figures["height"].as_u64().unwrap();
    assert_eq!(figures["chain"], "plaza-operator");
    assert_eq!(figures["genesis"], net.status(1)["genesis"]);
    assert_eq!(figures["validators"].as_array().unwrap().len(), 1);
    assert!(
        figures["worlds"]
            .as_array()
            .unwrap()
            .iter()
            .any(|world| world == "Plaza Square")
    );
    assert!(!figures["recent_blocks"].as_array().unwrap().is_empty());

    // What is not asked for properly is refused, and nothing else happens.
    assert_eq!(get(operator, "/nothing").0, 404);
    assert_eq!(
        http(
            operator,
            "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
        )
        .0,
        405
    );
    let huge = format!("GET / HTTP/1.1\r\nX-Pad: {}\r\n\r\n", "a".repeat(20_000));
    assert_eq!(http(operator, &huge).0, 431);

    // The page, in a real browser: its script fetches the figures and shows
    // the live height, and the console stays silent (no errors, no failed
    // loads).
    let browser = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=4000",
            "--dump-dom",
        ])
        .arg(format!("http://{operator}/"))
        .output()
        .expect("chromium (scripts/setup installs it) runs the status page test");
    let dom = String::from_utf8_lossy(&browser.stdout);
    let console: Vec<&str> = std::str::from_utf8(&browser.stderr)
        .unwrap_or_default()
        .lines()
        .filter(|line| line.contains("CONSOLE"))
        .collect();
    assert!(console.is_empty(), "the page logged: {console:#?}");
    let shown: u64 = dom
        .split("id=\"height\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or_else(|| panic!("no height on the page:\n{dom}"));
    assert!(
        shown >= height,
        "the page shows {shown}, the host was at {height}"
    );
    assert!(dom.contains("Plaza Square"), "{dom}");
    assert!(dom.contains(figures["host"].as_str().unwrap()));

    // SIGTERM: the host finishes what it writes, tells its players why
    // their session ends, and exits cleanly.
    let ada = server_less::home::read_key(&net.home(1).join("demo/ada.key")).unwrap();
    let mut player =
        plaza_client::client::Client::connect(net.join(1), &ada, Duration::from_secs(10)).unwrap();
    player
        .enter("Plaza Square", Duration::from_secs(10))
        .unwrap();
    // A payment made here shows how long it took to be final.
    let bo = server_less::home::read_key(&net.home(1).join("demo/bo.key")).unwrap();
    let (account, _) = player.account_now(Duration::from_secs(10)).unwrap();
    let pay = ledger::Transaction {
        chain_id: player.welcome().unwrap().chain_id.clone(),
        signer: ada.address(),
        nonce: account.nonce,
        valid_until: u64::MAX,
        op: ledger::Operation::Pay {
            to: bo.address(),
            amount: 1,
        },
    }
    .sign(&ada);
    player.submit_final(pay, Duration::from_secs(30)).unwrap();
    let finality = metric(&get(operator, "/metrics").1, "plaza_finality_seconds");
    assert!(finality > 0.0 && finality < 30.0, "{finality}");
    let listening = std::thread::spawn(move || {
        player.wait_for(
            "the host's goodbye",
            Duration::from_secs(30),
            |message| match message {
                plaza_client::protocol::ServerMessage::Error {
                    request: None,
                    code: plaza_client::protocol::ErrorCode::Unavailable,
                    message,
                } => Some(message.clone()),
                _ => None,
            },
        )
    });
    let exit = net.terminate(1);
    assert!(exit.success(), "{exit:?}\n{}", net.tail(1, 20));
    assert!(!net.lines_with(1, "host stopped").is_empty());
    let goodbye = listening.join().unwrap().unwrap();
    assert!(goodbye.contains("shutting down"), "{goodbye}");
}
