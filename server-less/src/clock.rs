//! Where the host reads the time for the blocks it makes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ledger::Timestamp;

/// A source of block time, in whole seconds since the Unix epoch.
pub trait Clock: Send + Sync + 'static {
    /// The time now.
    fn now(&self) -> Timestamp;
}

/// The machine's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        unix_time().as_secs()
    }
}

pub(crate) use plaza_client::time::unix_time;

/// A clock that moves only when told to: for tests and simulations that
/// need days of rentals to pass in a moment.
#[derive(Clone, Debug, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock showing `time`.
    pub fn new(time: Timestamp) -> Self {
        ManualClock(Arc::new(AtomicU64::new(time)))
    }

    /// Moves the clock `seconds` forward.
    pub fn advance(&self, seconds: u64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }

    /// Sets the clock to `time`, if that is later than it shows.
    pub fn set(&self, time: Timestamp) {
        self.0.fetch_max(time, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        self.0.load(Ordering::SeqCst)
    }
}
