//! The `plaza-host` binary's own command line: `init`, `run`, `status`,
//! `stake` and `unstake`, one process at a time. Everything that starts
//! hosts and players together is in `plaza-tests`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli;
