//! Breaks the reference cycles of a stopped rmqtt context so its memory is
//! freed: rmqtt's shared state, router and plugins each hold a clone of the
//! `ServerContext` they live in, so without this every start/stop cycle
//! leaks the whole context (about 170 KiB, measured by the `restart_rss`
//! example).
//!
//! A context that a task of the stopped server still holds is left as it is
//! (leaked, with a WARN) rather than waited for: such a task sits on a worker
//! thread that `shutdown_timeout` gave up on (one blocked on a lock), it
//! never ends, and waiting for its lock guards made `stop`/`close` hang.

use rmqtt::context::ServerContext;
use rmqtt::plugin::DynPluginResult;
use rmqtt::router::{DefaultRouter, Router};
use rmqtt::shared::{DefaultShared, Shared};
use tokio::sync::RwLockWriteGuard;

/// The plugins `boot` starts in every context.
const PLUGINS: [&str; 2] = ["rmqtt-retainer", "rmqtt-shared-subscription"];

/// Releases what a context holds of itself. Call after its runtime is shut
/// down (no task uses it any more). Releases nothing when a task that
/// outlived the runtime still holds the context.
pub async fn release(scx: &ServerContext) {
    let Some((mut shared, mut router)) = unused_parts(scx) else {
        log::warn!(
            target: "rmqtt_js::broker",
            "a task of the stopped server did not end (a worker thread is blocked); its context is not freed"
        );
        return;
    };
    *shared = Box::new(DefaultShared::new(None));
    *router = Box::new(DefaultRouter::new(None));
    drop((shared, router));
    for name in PLUGINS {
        // Re-registering a name stops and drops the running plugin; the
        // placeholder factory captures nothing.
        let _ = scx
            .plugins
            .register(name, false, false, || -> DynPluginResult {
                Box::pin(async { Err(anyhow_free_error()) })
            })
            .await;
    }
}

type Parts<'a> = (
    RwLockWriteGuard<'a, Box<dyn Shared>>,
    RwLockWriteGuard<'a, Box<dyn Router>>,
);

/// The shared state and router, if no task holds them any more.
fn unused_parts(scx: &ServerContext) -> Option<Parts<'_>> {
    let shared = scx.extends.shared.try_write().ok()?;
    let router = scx.extends.router.try_write().ok()?;
    Some((shared, router))
}

fn anyhow_free_error() -> rmqtt::Error {
    rmqtt::Error::msg("released with its stopped server")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A guard held forever by a task on a blocked worker thread (the fuzz
    /// storm's wedge): `release` must return rather than wait for it.
    #[tokio::test]
    async fn release_does_not_wait_for_a_task_that_outlived_the_runtime() {
        let scx = ServerContext::new().build().await;
        let stuck = scx.extends.shared().await;
        tokio::time::timeout(Duration::from_secs(10), release(&scx))
            .await
            .expect("release returned while a task still held the shared state");
        drop(stuck);
        // Nothing holds it now: released for real.
        tokio::time::timeout(Duration::from_secs(10), release(&scx))
            .await
            .expect("release of an unused context");
        assert!(scx.extends.shared.try_write().is_ok());
    }
}
