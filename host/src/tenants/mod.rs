//! Tenants: one broker, many customers, each in a sandbox of its own.
//!
//! Each tenant runs in its own rmqtt `ServerContext` inside the server's
//! runtime, so sessions, client ids, subscriptions, retained messages, wills
//! and shared subscriptions never cross tenants, and each tenant has its own
//! hook set (its own wasm `Store`s when its hooks are policies).
//!
//! A client reaches its tenant either through a listener that names the
//! tenant, or through a *gateway* listener that reads the CONNECT, resolves the
//! tenant ([`resolve`]) and hands the connection to the tenant's context over
//! loopback with a PROXY-protocol header (so the client's address is kept).

pub(crate) mod cert_handoff;
pub(crate) mod connect_peek;
pub(crate) mod connect_username;
pub(crate) mod gateway;
pub mod id;
pub(crate) mod resolve;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, RwLock};

use crate::data::ContextData;
use crate::hooks::{HookSet, HookSlot, HookStats, HookStatsRow, Traffic};

/// A declared tenant: its id, its hooks and its counters. Outlives restarts.
pub struct Tenant {
    id: String,
    pub(crate) hooks: Arc<HookSlot>,
    pub(crate) stats: Arc<HookStats>,
    pub(crate) traffic: Arc<Traffic>,
    /// What its hooks read (`tenant.data`); kept across restarts.
    pub(crate) data: Arc<ContextData>,
}

/// A snapshot of one tenant's activity.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantStats {
    pub id: String,
    /// Clients connected now.
    pub connections: i64,
    pub messages_in: u64,
    pub messages_out: u64,
    /// Per hook and backend: calls, denies, timeouts, traps, latency.
    pub hooks: Vec<HookStatsRow>,
}

impl Tenant {
    pub(crate) fn new(id: String, hooks: HookSet) -> Tenant {
        let slot = HookSlot::default();
        slot.store(hooks);
        Tenant {
            id,
            hooks: Arc::new(slot),
            stats: Arc::default(),
            traffic: Arc::default(),
            data: Arc::default(),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Replaces the tenant's hooks. Calls in flight finish on the old set;
    /// the next call uses the new one. No client is disconnected.
    pub fn set_hooks(&self, hooks: HookSet) {
        self.hooks.store(hooks);
    }

    /// The hooks in force.
    pub fn hooks(&self) -> Arc<HookSet> {
        self.hooks.load()
    }

    /// The key-value data the tenant's hooks read (`tenant.data`).
    pub fn data(&self) -> &Arc<ContextData> {
        &self.data
    }

    pub fn stats(&self) -> TenantStats {
        TenantStats {
            id: self.id.clone(),
            connections: self.traffic.connections.load(Relaxed).max(0),
            messages_in: self.traffic.messages_in.load(Relaxed),
            messages_out: self.traffic.messages_out.load(Relaxed),
            hooks: self.stats.snapshot(),
        }
    }
}

/// Where gateways find each tenant's context while the server runs: for each
/// tenant, one loopback address per gateway listener; and the client
/// certificates in transit to them.
#[derive(Default)]
pub(crate) struct Directory(
    RwLock<HashMap<String, Vec<SocketAddr>>>,
    Arc<cert_handoff::CertHandoff>,
);

impl Directory {
    /// Where gateways leave verified client certificates for the tenants.
    pub fn certs(&self) -> Arc<cert_handoff::CertHandoff> {
        self.1.clone()
    }

    pub fn insert(&self, tenant: &str, internal: Vec<SocketAddr>) {
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(tenant.to_string(), internal);
    }

    /// The loopback address of `tenant` for gateway number `gateway`.
    pub fn lookup(&self, tenant: &str, gateway: usize) -> Option<SocketAddr> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(tenant)
            .and_then(|addrs| addrs.get(gateway).copied())
    }
}
