//! Whether a host is at the network's tip, so that a host that has just
//! started answers players "catching up" instead of from an old height
//! (a rental made meanwhile "does not exist", a nonce used meanwhile is
//! "stale").
//!
//! Only what has been verified counts: the time of the host's own last
//! committed block (certified by its validators), and whether decided
//! blocks are still arriving through value sync. A host is current when
//! its last block is recent (a live network makes a block at least every
//! second, so a recent head is within a few blocks of the tip), or when
//! nothing has come to sync for a while since it started (a network that
//! has stalled has its tip where it stands). Nothing a peer claims about
//! heights is believed, so no peer can hold a host in "catching up".

use std::time::{Duration, Instant};

/// A head at most this old, by the host's clock, is current.
pub(super) const FRESH_SECS: u64 = 3;
/// How long after a start a host waits for sync to begin before it takes
/// a quiet network as current.
const GRACE: Duration = Duration::from_secs(5);
/// How long without a synced block a host that is syncing waits before it
/// takes itself as current.
const QUIET: Duration = Duration::from_secs(2);

/// What a host knows of its own catching up.
#[derive(Debug)]
pub(super) struct CatchUp {
    started: Instant,
    last_synced: Option<Instant>,
}

impl CatchUp {
    /// Started at `now`.
    pub(super) fn new(now: Instant) -> Self {
        CatchUp {
            started: now,
            last_synced: None,
        }
    }

    /// A decided block came through value sync at `now`.
    pub(super) fn synced(&mut self, now: Instant) {
        self.last_synced = Some(now);
    }

    /// Whether the host is current, with its last block made at
    /// `head_time` and its clock showing `clock` (seconds), at `now`.
    pub(super) fn is_current(&self, head_time: u64, clock: u64, now: Instant) -> bool {
        if clock.saturating_sub(head_time) <= FRESH_SECS {
            return true;
        }
        match self.last_synced {
            Some(synced) => now.saturating_duration_since(synced) >= QUIET,
            None => now.saturating_duration_since(self.started) >= GRACE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recent_head_is_current_at_once() {
        let start = Instant::now();
        let catch_up = CatchUp::new(start);
        assert!(catch_up.is_current(1_000, 1_002, start));
    }

    #[test]
    fn an_old_head_waits_until_sync_has_been_quiet() {
        let start = Instant::now();
        let mut catch_up = CatchUp::new(start);
        // Just started with an old head: not yet.
        assert!(!catch_up.is_current(1_000, 1_060, start));
        // Blocks arriving through sync: still not.
        catch_up.synced(start + Duration::from_secs(1));
        assert!(!catch_up.is_current(1_000, 1_060, start + Duration::from_secs(2)));
        // Sync quiet for a while: the host has what there is.
        assert!(catch_up.is_current(1_000, 1_060, start + Duration::from_secs(4)));
        // A synced head that is recent is current however busy sync is.
        catch_up.synced(start + Duration::from_secs(5));
        assert!(catch_up.is_current(1_058, 1_060, start + Duration::from_secs(5)));
    }

    #[test]
    fn a_stalled_network_is_taken_as_it_stands_after_the_grace() {
        let start = Instant::now();
        let catch_up = CatchUp::new(start);
        assert!(!catch_up.is_current(1_000, 1_600, start + Duration::from_secs(4)));
        assert!(catch_up.is_current(1_000, 1_600, start + GRACE));
    }
}
