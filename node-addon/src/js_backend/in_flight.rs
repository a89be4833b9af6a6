//! The bound on JS hook calls in flight: per hook, per broker context.
//!
//! The Channel's queue is unbounded, so the bridge counts calls itself. Each
//! hook has its own [`Lane`] with its own cap, so a hung authentication hook
//! cannot starve the publish or subscribe ACL (or the reverse), and each
//! broker context (the server's own hooks, each tenant's) has its own
//! [`InFlight`], so one tenant's flood never reaches another's clients.
//!
//! A call past its lane's cap is refused at once with
//! [`HookError::Overloaded`] (the router denies it and counts an error)
//! rather than queued: the calls that get a place are called at once, so a
//! well-behaved client's authentication never waits behind hung ones.
//!
//! A place is held until the caller stops waiting (an answer, or the router's
//! hook timeout) *and* the call's closure has left the JS thread's queue, so
//! both the calls waited on and the closures queued are bounded.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rmqtt_js_host::hooks::backend::MAX_DECISIONS_IN_FLIGHT;
use rmqtt_js_host::hooks::{HookError, HookKind};

/// Notifications of one hook queued for the JS thread at once, per context.
/// A notification holds its place only until its callback has been called.
pub const MAX_NOTIFICATIONS_IN_FLIGHT: usize = 10_000;

/// What a call is counted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// One of the 17 hooks.
    Hook(HookKind),
    /// The tenant resolver (server context only).
    TenantResolver,
}

const LANES: usize = HookKind::ALL.len() + 1;

impl Lane {
    fn index(self) -> usize {
        match self {
            Lane::Hook(kind) => kind.index(),
            Lane::TenantResolver => HookKind::ALL.len(),
        }
    }

    /// Calls of this lane allowed in flight at once.
    pub fn cap(self) -> usize {
        match self {
            Lane::Hook(kind) if !kind.is_decision() => MAX_NOTIFICATIONS_IN_FLIGHT,
            _ => MAX_DECISIONS_IN_FLIGHT,
        }
    }
}

impl From<HookKind> for Lane {
    fn from(kind: HookKind) -> Lane {
        Lane::Hook(kind)
    }
}

/// The lanes of one broker context (clones share them).
#[derive(Clone, Default)]
pub struct InFlight(Arc<[AtomicUsize; LANES]>);

/// One call's place in its lane, given back when dropped.
pub struct Permit {
    lanes: Arc<[AtomicUsize; LANES]>,
    lane: usize,
}

impl InFlight {
    /// A place in `lane`, or `Overloaded` when the lane is full.
    pub fn try_acquire(&self, lane: impl Into<Lane>) -> Result<Permit, HookError> {
        let lane = lane.into();
        let count = &self.0[lane.index()];
        if count.fetch_add(1, Ordering::AcqRel) >= lane.cap() {
            count.fetch_sub(1, Ordering::AcqRel);
            return Err(HookError::Overloaded);
        }
        Ok(Permit {
            lanes: self.0.clone(),
            lane: lane.index(),
        })
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.lanes[self.lane].fetch_sub(1, Ordering::AcqRel);
    }
}
