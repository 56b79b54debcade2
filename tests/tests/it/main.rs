//! Plaza end to end, in one test binary with a module per topic: attacks
//! on a host (`hostile`), operators' bad days (`faults`: host processes
//! killed, paused, their files damaged), and every decoder fuzzed
//! (`fuzz`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod faults;
mod fuzz;
mod hostile;
