//! The host's benchmarks, behind the `tools` feature: `finality` (how
//! long a rent takes from a player's client to final, under a steady load,
//! on a solo host), `world` (the host's tick under a crowd of walking
//! bots), `network` (validators finalising a steady load), `hostile`
//! (honest players while every attack a host must withstand runs in turn)
//! and `sync` (a new host's start from a snapshot against a full replay).

mod finality;
mod hostile;
mod network;
mod sync;
mod world;

pub use self::finality::{FinalityOptions, FinalityReport, finality};
pub use self::hostile::{AttackReport, HostileOptions, HostileReport, hostile};
pub use self::network::{NetworkOptions, NetworkReport, network};
pub use self::sync::{SyncOptions, SyncReport, sync};
pub use self::world::{WorldOptions, WorldReport, world};

use std::time::Duration;

use crate::error::HostError;

/// The `p`th fraction of `sorted` (zero when it is empty).
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// The first of 50 loopback ports, TCP and UDP, that are free now, below
/// the range the system hands out for outgoing connections (so that hosts
/// started one after another cannot take a later host's ports with their
/// own connections): the `--base-port` of a local testnet.
pub fn free_port_block() -> Result<u16, HostError> {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.subsec_nanos());
    (0..400u32)
        .map(|attempt| 20_000 + ((seed / 7 + attempt * 577) % 1_200) as u16 * 10)
        .find(|base| {
            (0..50).all(|offset| {
                std::net::TcpListener::bind(("127.0.0.1", base + offset)).is_ok()
                    && std::net::UdpSocket::bind(("127.0.0.1", base + offset)).is_ok()
            })
        })
        .ok_or_else(|| HostError::Consensus("no 50 free loopback ports below 32000".into()))
}
