//! The host driven through its public interface: a real ledger on
//! RocksDB, the real blob store, the solo engine, and the `plaza-host`
//! binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli;
mod common;
mod consensus;
mod host;
mod network;
mod peers;
mod player;
mod world;
