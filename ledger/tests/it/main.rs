//! The ledger's integration tests, driven through its public API against
//! a real RocksDB store on disk. One binary, one module per topic.

// A test that cannot read what it wrote should fail on the spot.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod blocks;
mod crash;
mod operations;
mod proofs;
mod properties;
mod rentals;
mod security;
mod snapshot;
mod staking;
mod storage;
mod trades;
