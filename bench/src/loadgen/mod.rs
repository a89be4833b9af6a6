//! The load generator: raw MQTT 3.1.1 clients on tokio, written so that the
//! generator is never the bottleneck (its ceiling is measured against the
//! trivial forwarder in `brokers::sink`).

pub mod codec;
pub mod conn;
pub mod progress;
pub mod publisher;
pub mod receiver;

use std::sync::OnceLock;
use std::time::Instant;

use tokio::task::JoinHandle;

/// Nanoseconds since the first call in this process: the clock of the
/// stamps, shared by publishers and receivers (they run in one process).
pub fn now_ns() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    BASE.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// Aborts a spawned task when dropped (a run that fails leaves nothing behind).
pub struct AbortOnDrop<T>(pub JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
