//! The bound on one server's JS hook calls queued or running: the Channel's
//! queue is unbounded, so the bridge counts calls itself.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Calls allowed in flight per server; more are refused as `Overloaded`.
pub const MAX_IN_FLIGHT: usize = 10_000;

/// The counter of one server (clones share it).
#[derive(Clone, Default)]
pub struct InFlight(Arc<AtomicUsize>);

/// One call's place in flight, given back when dropped.
pub struct Permit(Arc<AtomicUsize>);

impl InFlight {
    /// A permit, or `None` when [`MAX_IN_FLIGHT`] calls are in flight.
    pub fn try_acquire(&self) -> Option<Permit> {
        if self.0.fetch_add(1, Ordering::AcqRel) >= MAX_IN_FLIGHT {
            self.0.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Permit(self.0.clone()))
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
