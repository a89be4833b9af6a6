//! Notifications never block the broker: the router pushes them into a bounded
//! queue; one dispatcher task per server hands them to their backends in order.
//! What does not fit is dropped and counted. Failures are WARNed, repeated
//! ones rate-limited.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc;

use super::stats::{HookStats, Outcome};
use super::{HookBackend, HookKind};
use crate::data::scope::serving;
use crate::data::ContextData;
use crate::hooks::model::Event;
use crate::logging::limit::WarnLimiter;

/// How many notifications may wait for their backend.
pub const QUEUE_CAPACITY: usize = 8192;

type Job = (Arc<dyn HookBackend>, HookKind, Event);

/// The sending side, cloned into the router.
#[derive(Clone)]
pub struct Notifier {
    tx: mpsc::Sender<Job>,
    stats: Arc<HookStats>,
}

impl Notifier {
    /// Starts the dispatcher on the current runtime; its calls read `data`.
    pub fn spawn(stats: Arc<HookStats>, data: Arc<ContextData>) -> Notifier {
        let (tx, mut rx) = mpsc::channel::<Job>(QUEUE_CAPACITY);
        let dispatcher_stats = stats.clone();
        let warn = WarnLimiter::new();
        tokio::spawn(async move {
            while let Some((backend, kind, event)) = rx.recv().await {
                let started = Instant::now();
                let outcome = match serving(data.clone(), backend.notify(event)).await {
                    Ok(()) => Outcome::Delivered,
                    Err(e) => {
                        warn.warn(
                            "rmqtt_js::hooks",
                            format!("{kind} notification failed: {e}"),
                        );
                        Outcome::of_error(&e)
                    }
                };
                dispatcher_stats.record(kind, backend.kind(), outcome, started.elapsed());
            }
        });
        Notifier { tx, stats }
    }

    /// Queues `event` for `backend`, or drops and counts it if the queue is full.
    pub fn send(&self, backend: Arc<dyn HookBackend>, event: Event) {
        let kind = HookKind::of_event(&event);
        if self.tx.try_send((backend, kind, event)).is_err() {
            self.stats.record_dropped(kind);
        }
    }
}
