//! Breaks the reference cycles of a stopped rmqtt context so its memory is
//! freed: rmqtt's shared state, router and plugins each hold a clone of the
//! `ServerContext` they live in, so without this every start/stop cycle
//! leaks the whole context (about 170 KiB, measured by the `restart_rss`
//! example).

use rmqtt::context::ServerContext;
use rmqtt::plugin::DynPluginResult;
use rmqtt::router::DefaultRouter;
use rmqtt::shared::DefaultShared;

/// The plugins `boot` starts in every context.
const PLUGINS: [&str; 2] = ["rmqtt-retainer", "rmqtt-shared-subscription"];

/// Releases what a context holds of itself. Call after its runtime is shut
/// down (no task uses it any more).
pub async fn release(scx: &ServerContext) {
    *scx.extends.shared_mut().await = Box::new(DefaultShared::new(None));
    *scx.extends.router_mut().await = Box::new(DefaultRouter::new(None));
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

fn anyhow_free_error() -> rmqtt::Error {
    rmqtt::Error::msg("released with its stopped server")
}
