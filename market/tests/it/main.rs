//! The market's tests, against a real ledger on RocksDB.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod build;
mod catalogue;
mod common;
mod land;
mod quotes;
mod trade;
