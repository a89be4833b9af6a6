//! Builds one server inside its own runtime: context, plugins, hook router,
//! listeners. Nothing here calls rmqtt's `MqttServer::start()`, which exits the
//! process on a listener error.

use std::sync::Arc;

use rmqtt::context::ServerContext;
use rmqtt::server::MqttServer;

use super::listeners::{self, ListenerInfo};
use crate::config::ValidConfig;
use crate::error::BrokerError;
use crate::hooks::notify::Notifier;
use crate::hooks::router::{HookRouter, HookSlot, ListenerRules};
use crate::hooks::HookStats;

/// Retained messages live in RAM (the `rmqtt-retainer` plugin).
const RETAINER_CONFIG: &str = "[storage]\ntype = \"ram\"\n";
/// `$share/group/topic` subscriptions, one member per message, in turn.
const SHARED_SUBSCRIPTION_CONFIG: &str = "strategy = \"round_robin\"\n";

/// Builds and starts the server; resolves once every listener is bound.
pub async fn boot(
    cfg: ValidConfig,
    hooks: Arc<HookSlot>,
    stats: Arc<HookStats>,
) -> Result<(ServerContext, Vec<ListenerInfo>), BrokerError> {
    let mut builder = ServerContext::new()
        // By default rmqtt refuses CONNECTs while the machine is busy.
        .busy_check_enable(false)
        .plugins_config_map_add("rmqtt-retainer", RETAINER_CONFIG)
        .plugins_config_map_add("rmqtt-shared-subscription", SHARED_SUBSCRIPTION_CONFIG);
    if let Some(dir) = &cfg.plugins_config_dir {
        builder = builder.plugins_config_dir(dir.clone());
    }
    let scx = builder.build().await;
    let plugin_err = |e: rmqtt::Error| BrokerError::Internal(format!("plugin start failed: {e:#}"));
    rmqtt_retainer::register(&scx, true, false)
        .await
        .map_err(plugin_err)?;
    rmqtt_shared_subscription::register(&scx, true, false)
        .await
        .map_err(plugin_err)?;

    // Listener ids are 1-based positions in the config.
    let rules = std::iter::once(ListenerRules {
        allow_anonymous: true,
    })
    .chain(cfg.listeners.iter().map(|l| ListenerRules {
        allow_anonymous: l.allow_anonymous,
    }))
    .collect();
    let notifier = Notifier::spawn(stats.clone());
    Arc::new(HookRouter::new(
        hooks,
        rules,
        cfg.hook_timeout,
        notifier,
        stats,
    ))
    .register(&scx)
    .await;

    let mut server = MqttServer::new(scx.clone());
    let mut infos = Vec::with_capacity(cfg.listeners.len());
    for (i, l) in cfg.listeners.iter().enumerate() {
        let (listener, info) = listeners::bind(l)?;
        let id =
            u16::try_from(i + 1).map_err(|_| BrokerError::Internal("too many listeners".into()))?;
        server = server.listener_by_id(listener, id);
        infos.push(info);
    }
    let server = server.build();
    tokio::spawn(async move {
        if let Err(e) = server.run().await {
            log::error!(target: "rmqtt_js::broker", "server stopped with an error: {e:#}");
        }
    });
    Ok((scx, infos))
}
