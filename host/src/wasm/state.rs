//! What each wasmtime `Store` of a policy holds: the policy's identity (for
//! log tags), an inert WASI context, the resource limiter, the running
//! call's deadline and what the policy reads (its config, the call's data).

use std::sync::Arc;
use std::time::Instant;

use wasmtime::ResourceLimiter;

use crate::data::Snapshot;
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxView, WasiView};

/// A policy's name and tenant, and the log target derived from them.
#[derive(Debug)]
pub(crate) struct PolicyIdent {
    pub(crate) name: String,
    pub(crate) tenant: Option<String>,
    /// `rmqtt_js::wasm[name]` or `rmqtt_js::wasm[name@tenant]`: prefix-filterable
    /// as `rmqtt_js::wasm`, and names the policy and tenant.
    pub(crate) log_target: String,
}

impl PolicyIdent {
    pub(crate) fn new(name: String, tenant: Option<String>) -> PolicyIdent {
        let log_target = match &tenant {
            Some(t) => format!("rmqtt_js::wasm[{name}@{t}]"),
            None => format!("rmqtt_js::wasm[{name}]"),
        };
        PolicyIdent {
            name,
            tenant,
            log_target,
        }
    }
}

/// The memory cap was hit: the guest tried to grow a linear memory past
/// `LoadOptions::max_memory_bytes`. Returned from the limiter, so the guest
/// traps with this as its error.
#[derive(Debug, thiserror::Error)]
#[error("memory limit of {limit} bytes exceeded (the guest asked for {desired} bytes)")]
pub(crate) struct MemoryCapExceeded {
    pub(crate) limit: usize,
    pub(crate) desired: usize,
}

/// Per-store resource limits. Growth past a limit traps (rather than making
/// `memory.grow` return -1), so a breach is seen and the store discarded.
pub(crate) struct GuestLimits {
    pub(crate) max_memory_bytes: usize,
    /// Sum of the current sizes of the store's linear memories.
    pub(crate) memory_bytes: usize,
}

/// Table elements one table may grow to (tables hold function references).
const MAX_TABLE_ELEMENTS: usize = 1_000_000;
/// Core instances, tables and memories one store may create (a component
/// instantiates a handful of each).
const MAX_STORE_OBJECTS: usize = 100;

impl ResourceLimiter for GuestLimits {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory_bytes {
            return Err(MemoryCapExceeded {
                limit: self.max_memory_bytes,
                desired,
            }
            .into());
        }
        self.memory_bytes = self.memory_bytes.saturating_sub(current) + desired;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            wasmtime::bail!("table limit of {MAX_TABLE_ELEMENTS} elements exceeded");
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        MAX_STORE_OBJECTS
    }

    fn tables(&self) -> usize {
        MAX_STORE_OBJECTS
    }

    fn memories(&self) -> usize {
        MAX_STORE_OBJECTS
    }
}

/// The data of one policy instance's `Store`.
pub(crate) struct StoreState {
    pub(crate) ident: Arc<PolicyIdent>,
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limits: GuestLimits,
    /// When the running call started and must end (read by the epoch callback).
    pub(crate) call_started: Instant,
    pub(crate) call_deadline: Instant,
    /// `host.config()` (0.2.0): the string given at load.
    pub(crate) config: Option<Arc<str>>,
    /// `data.get` (0.2.0): the data of the context the running call serves,
    /// taken when the call starts (`None` outside a context).
    pub(crate) data: Option<Arc<Snapshot>>,
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
