//! Builds a server inside its own runtime: one rmqtt context for the default
//! (tenant-less) broker and one per tenant, each with plugins, a hook router
//! and listeners; then the tenant gateways. Nothing here calls rmqtt's
//! `MqttServer::start()`, which exits the process on a listener error.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use rmqtt::context::ServerContext;
use rmqtt::server::MqttServer;

use super::listeners::{self, ListenerInfo};
use crate::config::{Protocol, ValidConfig, ValidListener};
use crate::data::ContextData;
use crate::error::BrokerError;
use crate::hooks::listener_rules::{ListenerRules, ListenerTable};
use crate::hooks::notify::Notifier;
use crate::hooks::router::HookRouter;
use crate::hooks::{HookSlot, HookStats, Traffic};
use crate::persistence::{OpenedStore, PersistenceConfig, Rebuilt, Store, StoreLock};
use crate::tenants::cert_handoff::CertHandoff;
use crate::tenants::gateway::{tls_acceptor, Gateway};
use crate::tenants::resolve::{ResolverSlot, Rules};
use crate::tenants::{Directory, Tenant};

/// Retained messages live in RAM (the `rmqtt-retainer` plugin).
const RETAINER_CONFIG: &str = "[storage]\ntype = \"ram\"\n";
/// `$share/group/topic` subscriptions, one member per message, in turn.
const SHARED_SUBSCRIPTION_CONFIG: &str = "strategy = \"round_robin\"\n";

/// The hooks and counters of one context.
#[derive(Clone)]
pub struct ContextParts {
    pub tenant: Option<String>,
    pub hooks: Arc<HookSlot>,
    pub stats: Arc<HookStats>,
    pub traffic: Arc<Traffic>,
    /// Tenant contexts: where the gateways leave verified client certificates.
    pub certs: Option<Arc<CertHandoff>>,
    /// The data its hooks read (`server.data`, `tenant.data`).
    pub data: Arc<ContextData>,
}

impl ContextParts {
    pub fn of_tenant(t: &Tenant, directory: &Directory) -> ContextParts {
        ContextParts {
            tenant: Some(t.id().to_string()),
            hooks: t.hooks.clone(),
            stats: t.stats.clone(),
            traffic: t.traffic.clone(),
            certs: Some(directory.certs()),
            data: t.data.clone(),
        }
    }
}

/// A context that is up.
pub struct BootedContext {
    pub scx: ServerContext,
    /// Its store, when the server persists.
    pub store: Option<Arc<Store>>,
    pub listeners: Vec<ListenerInfo>,
    /// One loopback PROXY listener per gateway (tenant contexts only).
    pub internal: Vec<SocketAddr>,
}

/// The whole server, once booted.
pub struct BootedServer {
    pub default: BootedContext,
    pub tenants: HashMap<String, ServerContext>,
    pub listeners: Vec<ListenerInfo>,
    pub directory: Arc<Directory>,
    /// The persistence backend's lock and every context's store.
    pub persistence: Option<(StoreLock, Vec<Arc<Store>>)>,
}

/// The backend's lock, the default context's store and each tenant's.
type OpenedStores = (StoreLock, Option<OpenedStore>, HashMap<String, OpenedStore>);

/// Locks the persistence backend and opens every context's store, before
/// anything is bound: a store that cannot be used fails the start cleanly.
fn open_stores(
    p: &PersistenceConfig,
    tenants: &[Arc<Tenant>],
) -> Result<OpenedStores, BrokerError> {
    let lock = p.lock()?;
    let default = p.open(None)?;
    let mut by_tenant = HashMap::new();
    for t in tenants {
        let opened = p.open(Some(t.id()))?;
        by_tenant.insert(t.id().to_string(), opened);
    }
    Ok((lock, Some(default), by_tenant))
}

/// Boots the default context, every tenant's, then the gateways. Resolves
/// once every listener is bound.
pub async fn boot_server(
    cfg: &ValidConfig,
    default: ContextParts,
    tenants: &[Arc<Tenant>],
    resolver: Arc<ResolverSlot>,
) -> Result<BootedServer, BrokerError> {
    let default_data = default.data.clone();
    let declared = |id: &str| tenants.iter().any(|d| d.id() == id);
    for l in &cfg.listeners {
        if let Some(t) = l.tenant.as_ref().filter(|t| !declared(t)) {
            return Err(BrokerError::UndeclaredTenant {
                field: format!("listener `{}` tenant", l.name),
                id: t.clone(),
            });
        }
    }
    let fallback = cfg
        .tenancy
        .as_ref()
        .and_then(|t| t.fallback_tenant.as_ref());
    if let Some(t) = fallback.filter(|t| !declared(t)) {
        return Err(BrokerError::UndeclaredTenant {
            field: "tenancy.fallbackTenant".into(),
            id: t.clone(),
        });
    }
    let (lock, default_store, mut tenant_stores) = match &cfg.persistence {
        Some(p) => {
            let (lock, d, t) = open_stores(p, tenants)?;
            (Some(lock), d, t)
        }
        None => (None, None, HashMap::new()),
    };
    let default_public: Vec<&ValidListener> = cfg.listeners_of(None).collect();
    let default = boot_context(cfg, default, &default_public, default_store).await?;
    let mut stores: Vec<Arc<Store>> = default.store.iter().cloned().collect();
    let mut infos: HashMap<String, ListenerInfo> = default
        .listeners
        .iter()
        .map(|i| (i.name.clone(), i.clone()))
        .collect();

    let directory = Arc::new(Directory::default());
    let mut tenant_scx = HashMap::new();
    for t in tenants {
        let public: Vec<&ValidListener> = cfg.listeners_of(Some(t.id())).collect();
        let store = tenant_stores.remove(t.id());
        let booted =
            boot_context(cfg, ContextParts::of_tenant(t, &directory), &public, store).await?;
        stores.extend(booted.store.clone());
        directory.insert(t.id(), booted.internal.clone());
        infos.extend(booted.listeners.iter().map(|i| (i.name.clone(), i.clone())));
        tenant_scx.insert(t.id().to_string(), booted.scx);
    }

    if let Some(tenancy) = &cfg.tenancy {
        let rules = Arc::new(Rules {
            tenancy: tenancy.clone(),
            resolver,
            timeout: cfg.hook_timeout,
            data: default_data,
        });
        for (index, l) in cfg.gateways().enumerate() {
            let info = start_gateway(index, l, rules.clone(), directory.clone()).await?;
            infos.insert(info.name.clone(), info);
        }
    }
    let listeners = cfg
        .listeners
        .iter()
        .filter_map(|l| infos.remove(&l.name))
        .collect();
    Ok(BootedServer {
        default,
        tenants: tenant_scx,
        listeners,
        directory,
        persistence: lock.map(|l| (l, stores)),
    })
}

/// Boots one tenant's context on a running server (a tenant added late),
/// with its store when the server persists.
pub async fn boot_tenant(
    cfg: &ValidConfig,
    tenant: &Tenant,
    directory: &Directory,
) -> Result<(ServerContext, Option<Arc<Store>>), BrokerError> {
    let store = match &cfg.persistence {
        Some(p) => Some(p.open(Some(tenant.id()))?),
        None => None,
    };
    let public: Vec<&ValidListener> = cfg.listeners_of(Some(tenant.id())).collect();
    let booted = boot_context(
        cfg,
        ContextParts::of_tenant(tenant, directory),
        &public,
        store,
    )
    .await?;
    directory.insert(tenant.id(), booted.internal);
    Ok((booted.scx, booted.store))
}

async fn start_gateway(
    index: usize,
    l: &ValidListener,
    rules: Arc<Rules>,
    directory: Arc<Directory>,
) -> Result<ListenerInfo, BrokerError> {
    let bind_err = |reason: String| BrokerError::Bind {
        listener: l.name.clone(),
        addr: l.addr.to_string(),
        reason,
    };
    let tls = match &l.tls {
        Some(files) => Some(tls_acceptor(files).map_err(|reason| BrokerError::Tls {
            listener: l.name.clone(),
            reason,
        })?),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(l.addr)
        .await
        .map_err(|e| bind_err(e.to_string()))?;
    let local = listener.local_addr().map_err(|e| bind_err(e.to_string()))?;
    let gateway = Arc::new(Gateway {
        index,
        name: l.name.clone(),
        tls,
        rules,
        directory,
        connect_timeout: l.limits.connect_timeout,
    });
    tokio::spawn(gateway.serve(listener));
    Ok(ListenerInfo {
        name: l.name.clone(),
        protocol: l.protocol,
        address: local.ip().to_string(),
        port: local.port(),
    })
}

/// The node id of every context: a broker is one node (no cluster), and 1 is
/// what rmqtt's own standalone config and the seed API's `node` field use.
const NODE_ID: u64 = 1;

/// Builds one rmqtt context with its plugins, router and listeners.
async fn boot_context(
    cfg: &ValidConfig,
    parts: ContextParts,
    public: &[&ValidListener],
    opened: Option<OpenedStore>,
) -> Result<BootedContext, BrokerError> {
    let mut builder = ServerContext::new()
        .node_id(NODE_ID)
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

    // Tenant contexts get one loopback listener per gateway, after the public ones.
    let internal: Vec<ValidListener> = match &parts.tenant {
        Some(tenant) => cfg
            .gateways()
            .map(|g| ValidListener {
                name: format!("{}@{tenant}", g.name),
                protocol: Protocol::Tcp,
                addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                tls: None,
                allow_anonymous: g.allow_anonymous,
                tenant: Some(tenant.clone()),
                gateway: false,
                // The gateway's clients get the gateway listener's limits.
                limits: g.limits,
            })
            .collect(),
        None => Vec::new(),
    };
    let all: Vec<(&ValidListener, bool)> = public
        .iter()
        .map(|l| (*l, false))
        .chain(internal.iter().map(|l| (l, true)))
        .collect();

    // rmqtt listener ids are 1-based positions in `all`.
    let rules = ListenerTable::new(all.iter().map(|(l, _)| ListenerRules {
        allow_anonymous: l.allow_anonymous,
        max_packet_size: l.limits.max_packet_size,
    }));
    let notifier = Notifier::spawn(parts.stats.clone(), parts.data.clone());
    Arc::new(
        HookRouter::new(
            parts.tenant.clone(),
            parts.traffic,
            parts.hooks,
            rules,
            cfg.hook_timeout,
            notifier,
            parts.stats,
            parts.data,
        )
        .with_cert_handoff(parts.certs),
    )
    .register(&scx)
    .await;

    let mut server = MqttServer::new(scx.clone());
    let mut infos = Vec::with_capacity(public.len());
    let mut internal_addrs = Vec::with_capacity(internal.len());
    for (i, (l, proxied)) in all.iter().enumerate() {
        let (listener, info) = listeners::bind(l, *proxied)?;
        let id =
            u16::try_from(i + 1).map_err(|_| BrokerError::Internal("too many listeners".into()))?;
        server = server.listener_by_id(listener, id);
        if *proxied {
            internal_addrs.push(SocketAddr::from((Ipv4Addr::LOCALHOST, info.port)));
        } else {
            infos.push(info);
        }
    }
    // The listener configs are known now (the sessions need them) and nothing
    // accepts yet: put back what the store held.
    let store = match opened {
        Some(opened) => {
            let store = opened.store.clone();
            let started = std::time::Instant::now();
            let Rebuilt {
                retained,
                sessions,
                messages,
                expired,
            } = opened.attach(&scx).await;
            if retained + sessions + expired > 0 {
                log::info!(
                    target: "rmqtt_js::persistence",
                    "{}: restored {retained} retained messages, {sessions} sessions with {messages} messages ({expired} expired) in {:?}",
                    parts.tenant.as_deref().map_or("default broker".to_string(), |t| format!("tenant `{t}`")),
                    started.elapsed()
                );
            }
            Some(store)
        }
        None => None,
    };
    if !all.is_empty() {
        let server = server.build();
        tokio::spawn(async move {
            if let Err(e) = server.run().await {
                log::error!(target: "rmqtt_js::broker", "server stopped with an error: {e:#}");
            }
        });
    }
    Ok(BootedContext {
        scx,
        store,
        listeners: infos,
        internal: internal_addrs,
    })
}
