//! The operator's port: `/metrics` in Prometheus text format, the same
//! figures as JSON (`/status.json`), and a small status page (`/`) that
//! shows them live, with the validators, the worlds and the latest blocks.
//!
//! It is plain HTTP/1.1 on its own port (`[operator]` in config.toml,
//! loopback by default): one request a connection, a request head of at
//! most [`MAX_REQUEST_BYTES`], the whole answer within [`REQUEST_WAIT`], a
//! few connections at once, GET and HEAD only, and only for a `Host` that
//! is an IP address or `localhost` (a web page elsewhere cannot read it
//! through a name it points at this machine). Nothing on it changes the
//! host.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tracing::debug;

use crate::error::HostError;
use crate::node::HostHandle;

/// The longest request head read.
pub const MAX_REQUEST_BYTES: usize = 8 * 1024;
/// How long a request may take, from connection to the answer's end.
pub const REQUEST_WAIT: Duration = Duration::from_secs(10);
/// Requests served at once.
const AT_ONCE: usize = 16;
/// Recent blocks shown.
const RECENT_BLOCKS: u64 = 10;
/// How long a measured store size is reused.
const STORE_SIZE_EVERY: Duration = Duration::from_secs(10);

/// What the host's parts measure as they run, for the operator.
#[derive(Debug, Default)]
pub struct Meters {
    /// Players connected.
    pub players: AtomicU64,
    /// The slowest session tick of the last second, in microseconds.
    pub tick_max_us: AtomicU64,
    /// Bytes a second sent to players, all together, over the last second.
    pub session_bytes_out: AtomicU64,
    /// Bytes a second received from players, over the last second.
    pub session_bytes_in: AtomicU64,
    /// Peers of the peer network connected.
    pub peers: AtomicU64,
}

/// What the operator's port reads.
pub struct OperatorView {
    handle: HostHandle,
    meters: Arc<Meters>,
    home: PathBuf,
    genesis: Option<String>,
    worlds: Vec<String>,
    started: Instant,
    store_size: std::sync::Mutex<Option<(Instant, u64)>>,
}

impl OperatorView {
    /// The view of the host behind `handle`, at home `home`, whose network's
    /// genesis hash is `genesis`, serving `worlds`.
    pub fn new(
        handle: HostHandle,
        meters: Arc<Meters>,
        home: &Path,
        genesis: Option<String>,
        worlds: Vec<String>,
    ) -> Self {
        OperatorView {
            handle,
            meters,
            home: home.to_owned(),
            genesis,
            worlds,
            started: Instant::now(),
            store_size: std::sync::Mutex::new(None),
        }
    }

    /// Bytes the home takes on disk, measured at most every
    /// [`STORE_SIZE_EVERY`], off the async threads.
    async fn store_bytes(&self) -> u64 {
        let cached = *self
            .store_size
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((at, bytes)) = cached
            && at.elapsed() < STORE_SIZE_EVERY
        {
            return bytes;
        }
        let home = self.home.clone();
        let bytes = tokio::task::spawn_blocking(move || dir_bytes(&home, 0))
            .await
            .unwrap_or(0);
        *self
            .store_size
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((Instant::now(), bytes));
        bytes
    }

    /// Every figure, read now.
    async fn figures(&self) -> Result<Figures, HostError> {
        let status = self.handle.status().await?;
        let validators = self.handle.validators().await?;
        let now = self.handle.now();
        let mut recent = Vec::new();
        let lowest = status.height.saturating_sub(RECENT_BLOCKS - 1).max(1);
        for height in (lowest..=status.height).rev() {
            if let Ok(block) = self.handle.block(height).await {
                recent.push(serde_json::json!({
                    "height": height,
                    "time": block.header.time,
                    "txs": block.txs.len(),
                    "proposer": block.header.proposer.to_string(),
                    "hash": block.hash().to_string(),
                }));
            }
        }
        let load = |meter: &AtomicU64| meter.load(Ordering::Relaxed);
        Ok(Figures {
            chain: status.chain_id.to_string(),
            host: status.address.to_string(),
            height: status.height,
            block_time: status.time,
            since_block: now.saturating_sub(status.time),
            current: self.handle.is_current(),
            mempool: status.pending,
            listings: status.listings,
            validators: validators
                .iter()
                .map(|validator| (validator.address.to_string(), validator.power))
                .collect(),
            players: load(&self.meters.players),
            peers: load(&self.meters.peers),
            tick_max_us: load(&self.meters.tick_max_us),
            bytes_out: load(&self.meters.session_bytes_out),
            bytes_in: load(&self.meters.session_bytes_in),
            store_bytes: self.store_bytes().await,
            uptime: self.started.elapsed().as_secs(),
            finality: status.finality.map_or(0.0, |waited| waited.as_secs_f64()),
            recent,
        })
    }
}

/// One reading.
struct Figures {
    chain: String,
    host: String,
    height: u64,
    block_time: u64,
    since_block: u64,
    current: bool,
    mempool: usize,
    listings: usize,
    validators: Vec<(String, u64)>,
    players: u64,
    peers: u64,
    tick_max_us: u64,
    bytes_out: u64,
    bytes_in: u64,
    store_bytes: u64,
    uptime: u64,
    /// Seconds from arrival to commit, median of the last block's
    /// transactions that arrived here; 0 before any did.
    finality: f64,
    recent: Vec<serde_json::Value>,
}

impl Figures {
    /// Prometheus text format (version 0.0.4).
    fn metrics(&self) -> String {
        let power: u64 = self.validators.iter().map(|(_, power)| power).sum();
        let gauges: [(&str, &str, f64); 15] = [
            (
                "plaza_height",
                "The last committed block's height.",
                self.height as f64,
            ),
            (
                "plaza_block_time_seconds",
                "The last committed block's time (Unix seconds).",
                self.block_time as f64,
            ),
            (
                "plaza_seconds_since_block",
                "Seconds since the last committed block's time, by the host's clock.",
                self.since_block as f64,
            ),
            (
                "plaza_current",
                "1 when the host is at the network's tip, 0 while it catches up.",
                f64::from(u8::from(self.current)),
            ),
            (
                "plaza_mempool_transactions",
                "Transactions waiting for a block.",
                self.mempool as f64,
            ),
            (
                "plaza_listings",
                "Open listings in the catalogue.",
                self.listings as f64,
            ),
            (
                "plaza_validators",
                "Validators in the current set.",
                self.validators.len() as f64,
            ),
            (
                "plaza_voting_power",
                "The current validators' power, all together.",
                power as f64,
            ),
            (
                "plaza_players",
                "Players connected to this host's world sessions.",
                self.players as f64,
            ),
            (
                "plaza_peers",
                "Peers of the peer network connected.",
                self.peers as f64,
            ),
            (
                "plaza_session_tick_max_seconds",
                "The slowest world tick of the last second.",
                self.tick_max_us as f64 / 1e6,
            ),
            (
                "plaza_session_bytes_out_per_second",
                "Bytes a second sent to players, over the last second.",
                self.bytes_out as f64,
            ),
            (
                "plaza_session_bytes_in_per_second",
                "Bytes a second received from players, over the last second.",
                self.bytes_in as f64,
            ),
            (
                "plaza_store_bytes",
                "Bytes the host's home takes on disk (ledger, files, logs).",
                self.store_bytes as f64,
            ),
            (
                "plaza_finality_seconds",
                "From a transaction's arrival at this host to its block's commit: the median of the last block's (0 before any).",
                self.finality,
            ),
        ];
        let mut out = String::new();
        for (name, help, value) in gauges {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
            ));
        }
        out.push_str(&format!(
            "# HELP plaza_uptime_seconds Seconds since the host started.\n# TYPE plaza_uptime_seconds counter\nplaza_uptime_seconds {}\n",
            self.uptime
        ));
        out
    }

    fn json(&self, view: &OperatorView) -> serde_json::Value {
        serde_json::json!({
            "chain": self.chain,
            "genesis": view.genesis,
            "host": self.host,
            "height": self.height,
            "block_time": self.block_time,
            "seconds_since_block": self.since_block,
            "current": self.current,
            "mempool": self.mempool,
            "listings": self.listings,
            "players": self.players,
            "peers": self.peers,
            "tick_max_ms": self.tick_max_us as f64 / 1e3,
            "session_bytes_out_per_second": self.bytes_out,
            "session_bytes_in_per_second": self.bytes_in,
            "store_bytes": self.store_bytes,
            "uptime_seconds": self.uptime,
            "finality_seconds": self.finality,
            "validators": self.validators.iter().map(|(address, power)| {
                serde_json::json!({"address": address, "power": power})
            }).collect::<Vec<_>>(),
            "worlds": view.worlds,
            "recent_blocks": self.recent,
        })
    }
}

/// Bytes the files under `dir` take, at most 8 directories deep.
fn dir_bytes(dir: &Path, depth: usize) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() && depth < 8 => dir_bytes(&entry.path(), depth + 1),
            // What the file takes on disk, preallocated space included.
            Ok(meta) if meta.is_file() => meta.blocks().saturating_mul(512),
            _ => 0,
        })
        .sum()
}

/// Serves the operator's port on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, view: Arc<OperatorView>) {
    let permits = Arc::new(Semaphore::new(AT_ONCE));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                debug!(%err, "operator port: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            debug!(%peer, "operator port busy: connection closed");
            continue;
        };
        let view = view.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(REQUEST_WAIT, answer(stream, &view)).await {
                Ok(Err(err)) => debug!(%peer, %err, "operator request failed"),
                Err(_) => debug!(%peer, "operator request timed out"),
                Ok(Ok(())) => {}
            }
            drop(permit);
        });
    }
}

/// Reads one request and answers it.
async fn answer(mut stream: TcpStream, view: &OperatorView) -> std::io::Result<()> {
    let Some(head) = read_head(&mut stream).await? else {
        return respond(
            &mut stream,
            431,
            "text/plain",
            b"request head too large\n",
            false,
        )
        .await;
    };
    let line = head.lines().next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        return respond(&mut stream, 405, "text/plain", b"GET or HEAD only\n", false).await;
    }
    if !host_is_address(&head) {
        return respond(
            &mut stream,
            421,
            "text/plain",
            b"ask for this host by its address (or localhost)\n",
            head_only,
        )
        .await;
    }
    let path = target.split('?').next().unwrap_or("");
    match path {
        "/" => {
            respond(
                &mut stream,
                200,
                "text/html; charset=utf-8",
                PAGE.as_bytes(),
                head_only,
            )
            .await
        }
        "/metrics" | "/status.json" => match view.figures().await {
            Ok(figures) if path == "/metrics" => {
                let body = figures.metrics();
                respond(
                    &mut stream,
                    200,
                    "text/plain; version=0.0.4; charset=utf-8",
                    body.as_bytes(),
                    head_only,
                )
                .await
            }
            Ok(figures) => {
                let body = figures.json(view).to_string();
                respond(
                    &mut stream,
                    200,
                    "application/json",
                    body.as_bytes(),
                    head_only,
                )
                .await
            }
            Err(err) => {
                let body = format!("the host cannot answer: {err}\n");
                respond(&mut stream, 503, "text/plain", body.as_bytes(), head_only).await
            }
        },
        // Browsers ask; there is none.
        "/favicon.ico" => respond(&mut stream, 204, "text/plain", b"", true).await,
        _ => respond(&mut stream, 404, "text/plain", b"not found\n", head_only).await,
    }
}

/// Whether the request names its host as an IP address or `localhost`
/// (with or without a port), as a browser does for this port reached by
/// address; a name is what a page elsewhere would use to reach it.
fn host_is_address(head: &str) -> bool {
    let Some(host) = head.lines().skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("host")
            .then(|| value.trim())
    }) else {
        // HTTP/1.0 without one: no browser.
        return true;
    };
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split_once(']').map_or("", |(name, _)| name)
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok()
}

/// The request head (up to the blank line), or `None` past the bound.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<String>> {
    let mut head = Vec::with_capacity(1024);
    let mut buffer = [0u8; 1024];
    loop {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&buffer[..read]);
        if head.windows(4).any(|window| window == b"\r\n\r\n") {
            return Ok(Some(String::from_utf8_lossy(&head).into_owned()));
        }
        if head.len() > MAX_REQUEST_BYTES {
            return Ok(None);
        }
    }
}

async fn respond(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &[u8],
    head_only: bool,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        204 => "No Content",
        404 => "Not Found",
        405 => "Method Not Allowed",
        421 => "Misdirected Request",
        431 => "Request Header Fields Too Large",
        _ => "Service Unavailable",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    if !head_only {
        stream.write_all(body).await?;
    }
    stream.shutdown().await
}

/// Binds the operator's port at `addr`.
pub async fn bind(addr: std::net::SocketAddr) -> Result<TcpListener, HostError> {
    TcpListener::bind(addr)
        .await
        .map_err(|err| HostError::net(format!("binding the operator port {addr}"), err))
}

/// The status page: the figures of `/status.json`, refreshed every second.
const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>Plaza host</title>
<style>
body { font: 15px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
h1 { font-size: 1.4em; margin-bottom: 0.2em; }
.muted { color: #777; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(11em, 1fr)); gap: 0.6em; margin: 1em 0; }
.figure { background: #f3f5f8; border-radius: 6px; padding: 0.6em 0.8em; }
.figure b { display: block; font-size: 1.5em; }
table { border-collapse: collapse; width: 100%; margin-bottom: 1.5em; }
td, th { text-align: left; padding: 0.25em 0.6em; border-bottom: 1px solid #e4e4e4; font-variant-numeric: tabular-nums; }
code { font-size: 0.9em; }
#state.behind { color: #b45309; }
#state.down { color: #b91c1c; }
</style>
</head>
<body>
<h1>Plaza host <span id="state" class="muted">connecting…</span></h1>
<div class="muted">network <code id="chain">…</code> · genesis <code id="genesis">…</code></div>
<div class="muted">host <code id="host">…</code></div>
<div class="figures">
  <div class="figure">height<b id="height">…</b></div>
  <div class="figure">since last block<b id="since">…</b></div>
  <div class="figure">mempool<b id="mempool">…</b></div>
  <div class="figure">players<b id="players">…</b></div>
  <div class="figure">peers<b id="peers">…</b></div>
  <div class="figure">slowest tick<b id="tick">…</b></div>
  <div class="figure">to players<b id="out">…</b></div>
  <div class="figure">store<b id="store">…</b></div>
</div>
<h2>Validators</h2>
<table><thead><tr><th>address</th><th>power</th></tr></thead><tbody id="validators"></tbody></table>
<h2>Worlds</h2>
<ul id="worlds"></ul>
<h2>Recent blocks</h2>
<table><thead><tr><th>height</th><th>time</th><th>transactions</th><th>proposer</th></tr></thead><tbody id="blocks"></tbody></table>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
function cell(row, text) { const td = document.createElement("td"); td.textContent = text; row.appendChild(td); }
function rows(body, items, fields) {
  body.replaceChildren(...items.map((item) => { const tr = document.createElement("tr"); fields(item).forEach((f) => cell(tr, f)); return tr; }));
}
function bytes(n) { return n >= 1048576 ? (n / 1048576).toFixed(1) + " MB" : (n / 1024).toFixed(1) + " KB"; }
function short(text) { return text.length > 20 ? text.slice(0, 12) + "…" + text.slice(-6) : text; }
async function refresh() {
  try {
    const response = await fetch("/status.json", { cache: "no-store" });
    if (!response.ok) { $("state").textContent = "not answering (" + response.status + ")"; $("state").className = "down"; return; }
    const s = await response.json();
    $("state").textContent = s.current ? "current" : "catching up";
    $("state").className = s.current ? "muted" : "behind";
    $("chain").textContent = s.chain;
    $("genesis").textContent = s.genesis || "not kept";
    $("host").textContent = s.host;
    $("height").textContent = s.height;
    $("since").textContent = s.seconds_since_block + " s";
    $("mempool").textContent = s.mempool;
    $("players").textContent = s.players;
    $("peers").textContent = s.peers;
    $("tick").textContent = s.tick_max_ms.toFixed(2) + " ms";
    $("out").textContent = bytes(s.session_bytes_out_per_second) + "/s";
    $("store").textContent = bytes(s.store_bytes);
    rows($("validators"), s.validators, (v) => [v.address, v.power]);
    $("worlds").replaceChildren(...s.worlds.map((w) => { const li = document.createElement("li"); li.textContent = w; return li; }));
    rows($("blocks"), s.recent_blocks, (b) => [b.height, new Date(b.time * 1000).toLocaleTimeString(), b.txs, short(b.proposer)]);
  } catch (err) {
    $("state").textContent = "host unreachable";
    $("state").className = "down";
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_requests_for_an_address_or_localhost_are_answered() {
        let head = |host: &str| format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
        for host in [
            "127.0.0.1:7484",
            "localhost:7484",
            "[::1]:7484",
            "192.0.2.2",
            "LOCALHOST",
        ] {
            assert!(host_is_address(&head(host)), "{host}");
        }
        for host in ["evil.example:7484", "attacker.test", "[::1", ""] {
            assert!(!host_is_address(&head(host)), "{host}");
        }
        assert!(host_is_address("GET / HTTP/1.0\r\n\r\n"));
    }

    #[test]
    fn the_store_size_counts_what_files_take_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("inner")).unwrap();
        std::fs::write(dir.path().join("inner/a"), vec![1u8; 100_000]).unwrap();
        let bytes = dir_bytes(dir.path(), 0);
        assert!((100_000..200_000).contains(&bytes), "{bytes}");
    }
}
