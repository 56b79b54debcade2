//! The one reading of the wall clock that netcode tokens, upload records
//! and a client's deadlines share.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The machine's clock as time since the Unix epoch (zero for a clock set
/// before it).
pub fn unix_time() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}
