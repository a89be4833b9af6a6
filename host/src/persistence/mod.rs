//! Durability: what a client was promised survives `stop()`/`start()`, a new
//! server on the same directory, and a crash or `kill -9` of the process.
//!
//! Each broker context (the default one, and each tenant) has its own store
//! (`<dir>/default/`, `<dir>/tenants/<id>/`): an append-only log of
//! [`record::Record`]s with an in-memory [`index::Index`] of the live ones.
//! [`capture::Capture`] (rmqtt hooks) and [`retain::PersistentRetain`] (the
//! retainer) write to it; [`rebuild::rebuild`] puts it back into a new
//! context before its listeners accept anyone. The guarantee: a QoS 1/2
//! message whose publisher has seen its PUBACK/PUBREC is in the store of
//! every persistent session it was routed to; so is a retained message, a
//! subscription once SUBACKed, and a session once CONNACKed.
//!
//! `<dir>/rmqtt-js.lock` keeps a second server off the directory.

mod capture;
mod device;
mod error;
mod frame;
mod index;
mod lock;
mod rebuild;
mod record;
mod retain;
mod store;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rmqtt::context::ServerContext;

pub use error::PersistenceError;
pub use lock::{lock_dir, DirLock};
pub use rebuild::Rebuilt;
pub use store::{Recovered, Store, StoreOptions, StoreStats};

/// Where and how a server keeps its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistenceConfig {
    pub dir: PathBuf,
    pub sync_interval: Duration,
}

impl PersistenceConfig {
    /// The store directory of one context (`None`: the default broker).
    pub fn context_dir(&self, tenant: Option<&str>) -> PathBuf {
        context_dir(&self.dir, tenant)
    }

    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            sync_interval: self.sync_interval,
            ..StoreOptions::default()
        }
    }
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
    pub fn open(dir: &Path, opts: StoreOptions) -> Result<OpenedStore, PersistenceError> {
        let (store, recovered) = Store::open(dir, opts)?;
        Ok(OpenedStore {
            store: Arc::new(store),
            recovered,
        })
    }

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
