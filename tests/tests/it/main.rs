//! Plaza end to end, in one test binary with a module per topic: hosts,
//! players and the command line driven through their real interfaces
//! (real ledgers on RocksDB, real sockets on 127.0.0.1, real `plaza-host`
//! processes), attacks on a host (`hostile`), an operator's bad days
//! (`faults`), every decoder fuzzed (`fuzz`), and the crate graph's
//! promises (`crates`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod consensus;
mod crates;
mod faults;
mod fuzz;
mod host;
mod hostile;
mod joining;
mod network;
mod operator;
mod peers;
mod player;
mod restart;
mod world;
