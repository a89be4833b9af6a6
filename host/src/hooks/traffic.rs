//! Traffic counters of one broker context, counted by the router whether or
//! not hooks are bound (the hook counters are in [`super::stats`]).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use super::HookKind;

/// Traffic of one broker context.
#[derive(Debug, Default)]
pub struct Traffic {
    /// Clients connected now.
    pub connections: AtomicI64,
    /// Client publishes accepted.
    pub messages_in: AtomicU64,
    /// Messages delivered to subscribers.
    pub messages_out: AtomicU64,
}

impl Traffic {
    /// Counts what a notification hook point says happened (connections
    /// opened and closed, deliveries); other points count nothing.
    pub(crate) fn count(&self, kind: HookKind) {
        match kind {
            HookKind::ClientConnected => {
                self.connections.fetch_add(1, Relaxed);
            }
            HookKind::ClientDisconnected => {
                self.connections.fetch_sub(1, Relaxed);
            }
            HookKind::MessageDelivered => {
                self.messages_out.fetch_add(1, Relaxed);
            }
            _ => {}
        }
    }

    /// Counts one accepted client publish.
    pub(crate) fn count_publish(&self) {
        self.messages_in.fetch_add(1, Relaxed);
    }
}
