//! Plaza's end-to-end, adversarial and fault suites: hosts, players and
//! attackers driven through their real interfaces (real hosts on RocksDB,
//! real sockets on 127.0.0.1), byzantine validators among them.
//!
//! The library holds what the suites share: a test network ([`net`]),
//! validators one of which may be byzantine ([`testnet`]), host processes
//! to kill, pause and restart ([`processes`]), the fuzzer of every
//! decoder a player or peer can reach ([`fuzz`], run by `plaza-fuzz`), and
//! a measure of the process's memory. The attacker that speaks the session protocol's bytes by hand
//! is the host's own (`server_less::hostile`), which the hostile
//! benchmark uses too.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod fuzz;
pub mod net;
pub mod processes;
pub mod testnet;

/// Tests that run a whole network of hosts (in this process or as
/// processes) take turns: two at once on a small machine starve each
/// other's round timers. Async tests `lock().await` it, others
/// `blocking_lock()` it.
pub static WHOLE_NETWORK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// This process's resident memory, in bytes (Linux).
pub fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .unwrap_or(0);
    pages * 4096
}
