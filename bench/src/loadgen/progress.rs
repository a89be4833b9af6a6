//! Delivery counters shared by receivers and publishers: publishers keep at
//! most a window of messages undelivered, so no broker queue overflows and
//! the figure is the sustainable rate, not the rate of filling a buffer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// How long deliveries may stop before a run counts as stalled (lost messages).
pub const STALL: Duration = Duration::from_secs(5);

pub struct Progress {
    delivered: Vec<AtomicU64>,
    changed: Notify,
}

impl Progress {
    pub fn new(receivers: usize) -> Progress {
        Progress {
            delivered: (0..receivers).map(|_| AtomicU64::new(0)).collect(),
            changed: Notify::new(),
        }
    }

    /// Receiver `idx` got `n` more distinct messages.
    pub fn add(&self, idx: usize, n: u64) {
        self.delivered[idx].fetch_add(n, Ordering::Relaxed);
        self.changed.notify_waiters();
    }

    /// Deliveries of the receiver that is furthest behind.
    pub fn slowest(&self) -> u64 {
        self.delivered
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .min()
            .unwrap_or(0)
    }

    /// Deliveries of all receivers together.
    pub fn total(&self) -> u64 {
        self.delivered
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }

    /// Waits until `ready` holds; fails when nothing is delivered for [`STALL`].
    pub async fn wait_until(&self, mut ready: impl FnMut(&Progress) -> bool) -> Result<(), String> {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if ready(self) {
                return Ok(());
            }
            if tokio::time::timeout(STALL, changed).await.is_err() && !ready(self) {
                return Err(format!(
                    "stalled: no delivery for {} s ({} delivered in all)",
                    STALL.as_secs(),
                    self.total()
                ));
            }
        }
    }
}
