//! The broker handle: start, stop, publish, swap hooks, tenants.
//!
//! Each running server owns a tokio runtime (its own worker threads) and its
//! own rmqtt `ServerContext`s (one default, one per tenant). rmqtt has no
//! shutdown API, so `stop` shuts the runtime down: listeners close and every
//! connection task ends, which disconnects the clients. A stopped broker can
//! be started again.

mod boot;
mod listeners;
mod publish;
mod release;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rmqtt::context::ServerContext;
use tokio::runtime::{Handle, Runtime};
use tokio::sync::oneshot;

pub use listeners::ListenerInfo;
pub use publish::OutgoingMessage;

use crate::config::{ServerConfig, ValidConfig};
use crate::error::BrokerError;
use crate::hooks::{HookBackend, HookSet, HookSlot, HookStats, Traffic};
use crate::tenants::resolve::ResolverSlot;
use crate::tenants::{Directory, Tenant, TenantStats};

/// How long `stop` lets connection tasks wind down before dropping them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Worker threads of each server's runtime.
const WORKER_THREADS: usize = 2;

/// A handle to one broker. Cheap to clone; all clones control the same server.
#[derive(Clone, Default)]
pub struct Broker {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Serializes start, stop and tenant changes.
    lifecycle: tokio::sync::Mutex<()>,
    running: Mutex<Option<Arc<RunningServer>>>,
    hooks: Arc<HookSlot>,
    stats: Arc<HookStats>,
    traffic: Arc<Traffic>,
    tenants: RwLock<BTreeMap<String, Arc<Tenant>>>,
    resolver: Arc<ResolverSlot>,
    /// What the default context's hooks (and the tenant resolver) read.
    data: Arc<crate::data::ContextData>,
}

struct RunningServer {
    runtime: Mutex<Option<Runtime>>,
    handle: Handle,
    cfg: ValidConfig,
    scx: ServerContext,
    tenant_scx: RwLock<HashMap<String, ServerContext>>,
    directory: Arc<Directory>,
    listeners: Vec<ListenerInfo>,
    /// The persistence backend's lock and the contexts' stores.
    persistence: Mutex<
        Option<(
            crate::persistence::StoreLock,
            Vec<Arc<crate::persistence::Store>>,
        )>,
    >,
}

impl Broker {
    /// A stopped broker. Installs the process logger (WARN/ERROR to stderr,
    /// or to the sink of [`crate::logging::set_sink`]) unless the embedder
    /// installed one of its own first.
    pub fn new() -> Broker {
        crate::logging::install();
        Broker::default()
    }

    /// Validates `cfg`, then starts the server on its own runtime. Resolves
    /// once every listener is bound; on any error nothing is left running.
    pub fn start(
        &self,
        cfg: ServerConfig,
    ) -> impl Future<Output = Result<Vec<ListenerInfo>, BrokerError>> + Send + 'static {
        let inner = self.inner.clone();
        async move {
            let valid = cfg.validate()?;
            let _guard = inner.lifecycle.lock().await;
            if inner.current().is_some() {
                return Err(BrokerError::AlreadyRunning);
            }
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(WORKER_THREADS)
                .thread_name("rmqtt-js-broker")
                .enable_all()
                .build()
                .map_err(|e| BrokerError::Internal(format!("cannot start a runtime: {e}")))?;
            let (tx, rx) = oneshot::channel();
            let default = boot::ContextParts {
                tenant: None,
                hooks: inner.hooks.clone(),
                stats: inner.stats.clone(),
                traffic: inner.traffic.clone(),
                certs: None,
                data: inner.data.clone(),
            };
            let tenants: Vec<Arc<Tenant>> = read(&inner.tenants).values().cloned().collect();
            let resolver = inner.resolver.clone();
            let boot_cfg = valid.clone();
            runtime.spawn(async move {
                let _ = tx.send(boot::boot_server(&boot_cfg, default, &tenants, resolver).await);
            });
            let booted = rx
                .await
                .unwrap_or_else(|_| Err(BrokerError::Internal("the server failed to boot".into())));
            match booted {
                Ok(b) => {
                    let listeners = b.listeners.clone();
                    let server = RunningServer {
                        handle: runtime.handle().clone(),
                        runtime: Mutex::new(Some(runtime)),
                        cfg: valid,
                        scx: b.default.scx,
                        tenant_scx: RwLock::new(b.tenants),
                        directory: b.directory,
                        listeners: b.listeners,
                        persistence: Mutex::new(b.persistence),
                    };
                    let server = Arc::new(server);
                    crate::memory::watch(
                        &server.handle,
                        Arc::downgrade(&server),
                        RunningServer::load,
                    );
                    *lock(&inner.running) = Some(server);
                    Ok(listeners)
                }
                Err(e) => {
                    shut_down(runtime).await;
                    Err(e)
                }
            }
        }
    }

    /// Closes the listeners and disconnects every client. Stopping a stopped
    /// broker does nothing.
    pub fn stop(&self) -> impl Future<Output = Result<(), BrokerError>> + Send + 'static {
        let inner = self.inner.clone();
        async move {
            let _guard = inner.lifecycle.lock().await;
            let Some(server) = lock(&inner.running).take() else {
                return Ok(());
            };
            let runtime = lock(&server.runtime).take();
            if let Some(runtime) = runtime {
                shut_down(runtime).await;
            }
            release::release(&server.scx).await;
            let tenants: Vec<ServerContext> = read(&server.tenant_scx).values().cloned().collect();
            for scx in &tenants {
                release::release(scx).await;
            }
            // Write what is buffered, then let the next server have the directory.
            let persistence = lock(&server.persistence).take();
            if let Some((dir_lock, stores)) = persistence {
                let _ = tokio::task::spawn_blocking(move || {
                    for s in &stores {
                        s.close();
                    }
                    drop(dir_lock);
                })
                .await;
            }
            crate::memory::trim_now().await;
            Ok(())
        }
    }

    /// Publishes a message as the broker itself, to the default (tenant-less)
    /// clients.
    pub fn publish(
        &self,
        topic: String,
        payload: Vec<u8>,
        qos: i64,
        retain: bool,
    ) -> impl Future<Output = Result<(), BrokerError>> + Send + 'static {
        self.publish_to(None, topic, payload, qos, retain)
    }

    /// Publishes a message as the broker itself to one tenant's clients
    /// (`None`: the default, tenant-less clients).
    pub fn publish_to(
        &self,
        tenant: Option<String>,
        topic: String,
        payload: Vec<u8>,
        qos: i64,
        retain: bool,
    ) -> impl Future<Output = Result<(), BrokerError>> + Send + 'static {
        let current = self.inner.current();
        async move {
            let server = current.ok_or(BrokerError::NotRunning)?;
            let msg = OutgoingMessage::new(topic, payload, qos, retain)?;
            let scx = match &tenant {
                None => server.scx.clone(),
                Some(t) => read(&server.tenant_scx)
                    .get(t)
                    .cloned()
                    .ok_or_else(|| BrokerError::UnknownTenant(t.clone()))?,
            };
            server
                .handle
                .spawn(async move { publish::publish(&scx, msg).await })
                .await
                .map_err(|_| BrokerError::NotRunning)?
        }
    }

    /// Replaces the whole hook set of the default context; takes effect for
    /// the next hook call.
    pub fn set_hooks(&self, set: HookSet) {
        self.inner.hooks.store(set);
    }

    /// The hook set in force.
    pub fn hooks(&self) -> Arc<HookSet> {
        self.inner.hooks.load()
    }

    pub fn is_running(&self) -> bool {
        self.inner.current().is_some()
    }

    /// The bound listeners, while running.
    pub fn listeners(&self) -> Vec<ListenerInfo> {
        self.inner
            .current()
            .map(|s| s.listeners.clone())
            .unwrap_or_default()
    }

    /// rmqtt's node id of the running server.
    pub fn node_id(&self) -> Option<u64> {
        self.inner.current().map(|s| s.scx.node.id())
    }

    /// Per-hook counters of the default context since this broker was created.
    pub fn stats(&self) -> &HookStats {
        &self.inner.stats
    }

    /// The key-value data the default context's hooks read (`server.data`);
    /// the tenant resolver reads it too. Kept across restarts.
    pub fn data(&self) -> &Arc<crate::data::ContextData> {
        &self.inner.data
    }

    /// Declares a tenant with its hooks. Allowed before start and while
    /// running (its context starts at once). `id` must follow
    /// [`crate::tenants::id::TENANT_ID_RULE`] (else `InvalidTenant`).
    pub fn add_tenant(
        &self,
        id: String,
        hooks: HookSet,
    ) -> impl Future<Output = Result<Arc<Tenant>, BrokerError>> + Send + 'static {
        let inner = self.inner.clone();
        async move {
            if !crate::tenants::id::is_valid_tenant_id(&id) {
                return Err(BrokerError::InvalidTenant(crate::tenants::id::shown(&id)));
            }
            let _guard = inner.lifecycle.lock().await;
            if read(&inner.tenants).contains_key(&id) {
                return Err(BrokerError::TenantExists(id));
            }
            let tenant = Arc::new(Tenant::new(id.clone(), hooks));
            if let Some(server) = inner.current() {
                let (cfg, directory, t) =
                    (server.cfg.clone(), server.directory.clone(), tenant.clone());
                let (scx, store) = server
                    .handle
                    .spawn(async move { boot::boot_tenant(&cfg, &t, &directory).await })
                    .await
                    .map_err(|_| BrokerError::NotRunning)??;
                write(&server.tenant_scx).insert(id.clone(), scx);
                if let Some((_, stores)) = lock(&server.persistence).as_mut() {
                    stores.extend(store);
                }
            }
            write(&inner.tenants).insert(id, tenant.clone());
            Ok(tenant)
        }
    }

    /// A declared tenant.
    pub fn tenant(&self, id: &str) -> Option<Arc<Tenant>> {
        read(&self.inner.tenants).get(id).cloned()
    }

    /// Every declared tenant's stats, by id.
    pub fn tenant_stats(&self) -> Vec<TenantStats> {
        read(&self.inner.tenants)
            .values()
            .map(|t| t.stats())
            .collect()
    }

    /// Sets (or clears) the hook that resolves a connecting client's tenant
    /// on gateway listeners (see [`crate::config::TenancyConfig`]).
    pub fn set_tenant_resolver(&self, resolver: Option<Arc<dyn HookBackend>>) {
        self.inner.resolver.store(resolver);
    }
}

impl RunningServer {
    /// Connected clients and handshakes of every context (for [`crate::memory`]).
    fn load(&self) -> crate::memory::Load {
        let tenants = read(&self.tenant_scx);
        crate::memory::Load::of(std::iter::once(&self.scx).chain(tenants.values()))
    }
}

impl Inner {
    fn current(&self) -> Option<Arc<RunningServer>> {
        lock(&self.running).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

/// Shuts a runtime down from a plain thread (a runtime cannot be dropped
/// inside async code) and waits for it without blocking the caller's runtime.
async fn shut_down(runtime: Runtime) {
    let (tx, rx) = oneshot::channel();
    std::thread::spawn(move || {
        runtime.shutdown_timeout(SHUTDOWN_GRACE);
        let _ = tx.send(());
    });
    let _ = rx.await;
}
