//! Durability: what a client was promised survives `stop()`/`start()`, a new
//! server on the same directory, and a crash or `kill -9` of the process.
//!
//! Each broker context (the default one, and each tenant) has its own store
//! (`<dir>/default/`, `<dir>/tenants/<id>/`): an append-only log of
//! [`record::Record`]s with an in-memory [`index::Index`] of the live ones.
//! [`capture::Capture`] (rmqtt hooks) and [`retain::PersistentRetain`] (the
//! retainer) write to it; [`rebuild::restore_retained`] and
//! [`rebuild::rebuild_sessions`] put it back into a new context before its
//! listeners accept anyone. The guarantee: a QoS 1/2 message whose publisher
//! has seen its PUBACK/PUBREC is in the store of every persistent session it
//! was routed to; so is a retained message, a subscription once SUBACKed, and
//! a session once CONNACKed.
//!
//! `<dir>/rmqtt-js.lock` keeps a second server off the directory. With
//! `persistence: { redis }` the logs are Redis lists instead
//! ([`redis_device`]) and `<prefix>:lock` keeps a second server off the
//! prefix ([`redis_lock`]).

mod capture;
mod device;
mod error;
mod frame;
mod index;
mod lock;
mod rebuild;
mod record;
mod redis_device;
mod redis_lock;
mod retain;
mod store;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rmqtt::context::ServerContext;

pub use error::PersistenceError;
pub use lock::{lock_dir, DirLock};
pub use rebuild::Rebuilt;
pub use redis_device::url_without_password as redis_url_without_password;
pub use store::{Recovered, Store, StoreOptions, StoreStats};

use device::LogDevice;

/// Where a server keeps its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// `<dir>/default/store.log`, `<dir>/tenants/<id>/store.log`.
    Dir(PathBuf),
    /// Redis lists `<prefix>:default:log`, `<prefix>:tenants:<id>:log`.
    Redis { url: String, prefix: String },
}

/// Where and how a server keeps its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistenceConfig {
    pub backend: Backend,
    pub sync_interval: Duration,
}

/// What keeps a second server off the same state while a server runs.
#[derive(Debug)]
pub enum StoreLock {
    Dir(DirLock),
    Redis(redis_lock::RedisLock),
}

impl PersistenceConfig {
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            sync_interval: self.sync_interval,
            ..StoreOptions::default()
        }
    }

    /// Takes the backend's lock (checking that it can be used at all).
    pub fn lock(&self) -> Result<StoreLock, PersistenceError> {
        match &self.backend {
            Backend::Dir(dir) => lock_dir(dir).map(StoreLock::Dir),
            Backend::Redis { url, prefix } => {
                redis_lock::lock_prefix(&redis_client(url)?, prefix).map(StoreLock::Redis)
            }
        }
    }

    /// Opens the store of one context (`None`: the default broker). The
    /// caller holds the lock.
    pub fn open(&self, tenant: Option<&str>) -> Result<OpenedStore, PersistenceError> {
        let (store, recovered) = match &self.backend {
            Backend::Dir(dir) => Store::open(&context_dir(dir, tenant), self.store_options())?,
            Backend::Redis { url, prefix } => {
                let client = redis_client(url)?;
                let shown = redis_device::shown_url(&client);
                let key = match tenant {
                    None => format!("{prefix}:default:log"),
                    Some(t) => format!("{prefix}:tenants:{t}:log"),
                };
                let mut device = redis_device::RedisDevice::new(client, key);
                let data = device.read_all().map_err(|e| PersistenceError::Redis {
                    url: shown.clone(),
                    reason: e.to_string(),
                })?;
                let name = PathBuf::from(device.describe());
                Store::open_device(Box::new(device), data, self.store_options()).map_err(|e| {
                    e.into_persistence(name, |e| PersistenceError::Redis {
                        url: shown,
                        reason: e.to_string(),
                    })
                })?
            }
        };
        Ok(OpenedStore {
            store: Arc::new(store),
            recovered,
        })
    }
}

fn redis_client(url: &str) -> Result<redis::Client, PersistenceError> {
    redis::Client::open(url).map_err(|e| PersistenceError::Redis {
        url: redis_device::url_without_password(url),
        reason: e.to_string(),
    })
}

/// `<dir>/default` or `<dir>/tenants/<id>` (tenant ids are safe path parts).
pub fn context_dir(dir: &Path, tenant: Option<&str>) -> PathBuf {
    match tenant {
        None => dir.join("default"),
        Some(t) => dir.join("tenants").join(t),
    }
}

/// A store opened for a context, with what it held.
pub struct OpenedStore {
    pub store: Arc<Store>,
    pub recovered: Recovered,
}

impl OpenedStore {
    /// Hooks the store into a built context (retainer started, no listener
    /// running yet) and rebuilds what it held.
    pub async fn attach(self, scx: &ServerContext) -> Rebuilt {
        let Recovered {
            retained,
            sessions,
            last_alive,
            ..
        } = self.recovered;
        let retained = rebuild::restore_retained(scx, retained).await;
        retain::PersistentRetain::install(scx, self.store.clone()).await;
        let rebuilt = Rebuilt {
            retained,
            ..rebuild::rebuild_sessions(scx, &self.store, sessions, last_alive).await
        };
        capture::Capture::register(scx, self.store.clone()).await;
        rebuilt
    }
}

#[cfg(test)]
mod store_tests;
