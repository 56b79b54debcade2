//! The seam between the host and whatever orders its blocks.
//!
//! An engine decides when a block is made and which block is final; the
//! host builds proposals from its mempool, checks blocks and commits them,
//! all through [`HostHandle`]. [`Solo`] is the engine of a network of one
//! validator: it makes a block whenever transactions wait (at most one per
//! interval), whenever a rental's end falls due and while stake changes
//! wait to take effect, so settlement is on time with no traffic at all. A BFT engine drives the same three calls:
//! propose when it is this host's turn, check what others propose, commit
//! what is decided.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::error::HostError;
use crate::node::HostHandle;

/// A running engine's future.
pub type EngineRun = Pin<Box<dyn Future<Output = Result<(), HostError>> + Send>>;

/// Orders the host's blocks.
pub trait Engine: Send + 'static {
    /// Orders blocks through `host` until `stop` turns true.
    fn run(self: Box<Self>, host: HostHandle, stop: watch::Receiver<bool>) -> EngineRun;
}

/// The engine of a network of one validator.
#[derive(Clone, Copy, Debug)]
pub struct Solo {
    /// Least time between two blocks.
    pub min_interval: Duration,
}

impl Default for Solo {
    fn default() -> Self {
        Solo {
            min_interval: Duration::from_millis(100),
        }
    }
}

impl Engine for Solo {
    fn run(self: Box<Self>, host: HostHandle, mut stop: watch::Receiver<bool>) -> EngineRun {
        Box::pin(async move {
            let mut work = host.backlog();
            let mut last = Instant::now()
                .checked_sub(self.min_interval)
                .unwrap_or_else(Instant::now);
            loop {
                if *stop.borrow() {
                    return Ok(());
                }
                let now = host.now();
                let state = *work.borrow_and_update();
                let due = state.next_due.is_some_and(|due| due <= now);
                if state.pending > 0 || due || state.stake_changes {
                    let ready = last + self.min_interval;
                    if Instant::now() < ready {
                        tokio::select! {
                            _ = tokio::time::sleep_until(ready) => {}
                            _ = stop.changed() => {}
                        }
                        continue;
                    }
                    last = Instant::now();
                    let block = host.propose(now.max(state.time)).await?;
                    let txs = block.txs.len();
                    match host.commit(block).await {
                        Ok(height) => debug!(height, txs, "block made"),
                        // A block the ledger refuses (a host fault such as
                        // a full disk) is not retried in a tight loop.
                        Err(HostError::Stopped) => return Err(HostError::Stopped),
                        Err(err) => warn!(%err, "block refused"),
                    }
                    continue;
                }
                // Nothing to do: wait for a transaction, a rental's end
                // (looked at every interval, since the clock may be moved
                // by hand) or the stop.
                tokio::select! {
                    changed = work.changed() => {
                        if changed.is_err() {
                            return Err(HostError::Stopped);
                        }
                    }
                    _ = tokio::time::sleep(self.min_interval) => {}
                    _ = stop.changed() => {}
                }
            }
        })
    }
}
