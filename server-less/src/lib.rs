//! Plaza's peer host.
//!
//! A host keeps the ledger (RocksDB) and the blob store, checks incoming
//! transactions into a bounded mempool, has its blocks made by an
//! [`Engine`](engine::Engine) (the [`Solo`](engine::Solo) engine for a
//! network of one), and keeps the market's catalogue current from every
//! committed block. One thread owns the ledger; everything else talks to
//! it through a [`HostHandle`](node::HostHandle).

#[cfg(feature = "tools")]
pub mod bench;
pub mod calls;
pub mod clock;
pub mod config;
pub mod consensus;
pub mod engine;
mod error;
pub mod genesis;
pub mod home;
mod host;
#[cfg(feature = "tools")]
pub mod hostile;
pub mod joining;
pub mod link;
pub mod mempool;
pub mod node;
pub mod operator;
pub mod peers;
pub mod presence;
mod rate;
mod room;
pub mod sessions;
pub mod snapshots;
pub mod uploads;
pub mod worlds;

pub use crate::error::HostError;
pub use crate::host::Host;
