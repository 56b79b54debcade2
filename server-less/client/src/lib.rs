//! What a Plaza player and a Plaza host both need to speak to each other.
//!
//! - [`protocol`]: the messages of a session, their channels and checks.
//! - [`land`]: what a parcel's holder puts down on it, signed by the
//!   holder.
//! - [`join`]: the handshake that proves an account to a host and brings
//!   back a sealed netcode connect token.
//! - [`transport`]: netcode over UDP with bundled datagrams, both ends.
//! - [`client`]: a headless client (used by bots, benchmarks, the command
//!   line and tests); [`bot`] walks one around a world.
//! - [`wallet`]: the passphrase-sealed key file a player keeps.
//!
//! Nothing here links the host's insides (libp2p, consensus, RocksDB): a
//! world client depends on this crate alone to talk to any host.

pub mod bot;
pub mod client;
mod error;
pub mod join;
pub mod land;
pub mod network;
pub mod protocol;
pub mod text;
pub mod time;
pub mod transport;
pub mod wallet;

pub use crate::client::{Client, Welcome};
pub use crate::error::ClientError;

use std::path::PathBuf;

/// Plaza's directory in the platform's data directory:
/// `$XDG_DATA_HOME/plaza` when that is an absolute path, else
/// `$HOME/.local/share/plaza`; `None` when neither is known.
pub fn data_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|path| path.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share")))
        .map(|data| data.join("plaza"))
}
