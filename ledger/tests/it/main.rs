//! The ledger's integration tests, driven through its public API against
//! a real RocksDB store on disk. One binary, one module per topic.

mod common;

mod blocks;
mod crash;
mod operations;
mod proofs;
mod properties;
mod rentals;
mod security;
mod storage;
mod trades;
