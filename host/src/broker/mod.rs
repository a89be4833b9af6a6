//! The broker handle: start, stop, publish, swap hooks.
//!
//! Each running server owns a tokio runtime (its own worker threads) and its
//! own rmqtt `ServerContext`. rmqtt has no shutdown API, so `stop` shuts the
//! runtime down: listeners close and every connection task ends, which
//! disconnects the clients. A stopped broker can be started again.

mod boot;
mod listeners;
mod publish;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmqtt::context::ServerContext;
use tokio::runtime::{Handle, Runtime};
use tokio::sync::oneshot;

pub use listeners::ListenerInfo;
pub use publish::OutgoingMessage;

use crate::config::ServerConfig;
use crate::error::BrokerError;
use crate::hooks::router::HookSlot;
use crate::hooks::{HookSet, HookStats};

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
    /// Serializes start and stop.
    lifecycle: tokio::sync::Mutex<()>,
    running: Mutex<Option<Arc<RunningServer>>>,
    hooks: Arc<HookSlot>,
    stats: Arc<HookStats>,
}

struct RunningServer {
    runtime: Mutex<Option<Runtime>>,
    handle: Handle,
    scx: ServerContext,
    listeners: Vec<ListenerInfo>,
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
            let (hooks, stats) = (inner.hooks.clone(), inner.stats.clone());
            runtime.spawn(async move {
                let _ = tx.send(boot::boot(valid, hooks, stats).await);
            });
            let booted = rx
                .await
                .unwrap_or_else(|_| Err(BrokerError::Internal("the server failed to boot".into())));
            match booted {
                Ok((scx, listeners)) => {
                    let server = RunningServer {
                        handle: runtime.handle().clone(),
                        runtime: Mutex::new(Some(runtime)),
                        scx,
                        listeners: listeners.clone(),
                    };
                    *lock(&inner.running) = Some(Arc::new(server));
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
            Ok(())
        }
    }

    /// Publishes a message as the broker itself.
    pub fn publish(
        &self,
        topic: String,
        payload: Vec<u8>,
        qos: i64,
        retain: bool,
    ) -> impl Future<Output = Result<(), BrokerError>> + Send + 'static {
        let current = self.inner.current();
        async move {
            let server = current.ok_or(BrokerError::NotRunning)?;
            let msg = OutgoingMessage::new(topic, payload, qos, retain)?;
            let scx = server.scx.clone();
            server
                .handle
                .spawn(async move { publish::publish(&scx, msg).await })
                .await
                .map_err(|_| BrokerError::NotRunning)?
        }
    }

    /// Replaces the whole hook set; takes effect for the next hook call.
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

    /// Per-hook counters since this broker was created.
    pub fn stats(&self) -> &HookStats {
        &self.inner.stats
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
