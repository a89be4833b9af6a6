//! Tenants for Node: declare a tenant with its hooks, swap them, read its
//! stats, and set the tenant resolver. The host (`rmqtt_js_host::tenants`)
//! does the work; this module binds JS hooks objects to it and owns the JS
//! resources (function roots) that `stop` must release on the JS thread.

mod resolver;
mod stats;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use neon::prelude::*;
use rmqtt_js_host::hooks::HookSet;
use rmqtt_js_host::tenants::Tenant;
use rmqtt_js_host::{Broker, BrokerError};

use crate::errors;
use crate::hook_set::bind_hooks;
use crate::js_backend::bridge::BridgeSlot;
use crate::runtime;
use crate::server::ServerBox;

pub use resolver::server_set_tenant_resolver;
pub use stats::server_tenant_stats;

/// The JS side of one server's tenants: each tenant's bridge (its JS hook
/// functions) and the resolver function.
#[derive(Default)]
pub struct TenantBridges {
    bridges: Mutex<HashMap<String, Arc<BridgeSlot>>>,
    resolver: resolver::ResolverFunction,
}

impl TenantBridges {
    /// Once the server stopped: drops every tenant's hooks and the resolver,
    /// releasing their JS functions (`lib/` binds them again on `start`).
    pub fn release(&self, cx: &mut Cx, broker: &Broker) {
        let bridges: Vec<(String, Arc<BridgeSlot>)> = self.lock().drain().collect();
        for (id, slot) in bridges {
            if let Some(tenant) = broker.tenant(&id) {
                tenant.set_hooks(HookSet::new());
            }
            slot.empty(cx);
        }
        broker.set_tenant_resolver(None);
        self.resolver.empty(cx);
    }

    /// Keeps `slot` as the bridge of tenant `id`. The previous bridge stays
    /// usable by calls in flight and is released when the last one ends.
    fn keep(&self, id: &str, slot: Arc<BridgeSlot>) {
        self.lock().insert(id.to_string(), slot);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<BridgeSlot>>> {
        self.bridges.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `serverAddTenant(handle, id, hooks) -> Promise<void>`: declares a tenant
/// (before start, or while running: its context starts at once). Rejects
/// with `ERR_TENANT_EXISTS` for a duplicate id.
pub fn server_add_tenant(mut cx: FunctionContext) -> JsResult<JsPromise> {
    let server = cx.argument::<ServerBox>(0)?;
    let id = cx.argument::<JsString>(1)?.value(&mut cx);
    let hooks = cx.argument::<JsObject>(2)?;
    let bound = bind_hooks(&mut cx, hooks, server.channel(), &server.in_flight_of(&id))?;
    let work = server.broker().add_tenant(id.clone(), bound.set);
    let slot = bound.slot;
    let tenants = server.tenants().clone();
    runtime::promise(
        &mut cx,
        server.channel(),
        work,
        move |cx, added| match added {
            Ok(_) => {
                tenants.keep(&id, slot);
                Ok(cx.undefined().upcast::<JsValue>())
            }
            Err(e) => {
                slot.empty(cx);
                let err = errors::broker_error(cx, &e)?;
                cx.throw(err)
            }
        },
    )
}

/// `serverTenantSetHooks(handle, id, hooks)`: replaces the tenant's whole
/// hook set at once; calls in flight finish on the old set. Throws
/// `ERR_TENANT_UNKNOWN`, `ERR_INVALID_HOOK`.
pub fn server_tenant_set_hooks(mut cx: FunctionContext) -> JsResult<JsUndefined> {
    let server = cx.argument::<ServerBox>(0)?;
    let id = cx.argument::<JsString>(1)?.value(&mut cx);
    let hooks = cx.argument::<JsObject>(2)?;
    let tenant = declared(&mut cx, server.broker(), &id)?;
    let bound = bind_hooks(&mut cx, hooks, server.channel(), &server.in_flight_of(&id))?;
    tenant.set_hooks(bound.set);
    server.tenants().keep(&id, bound.slot);
    Ok(cx.undefined())
}

/// The tenant `id`, or a thrown `ERR_TENANT_UNKNOWN`.
fn declared<'a>(cx: &mut Cx<'a>, broker: &Broker, id: &str) -> NeonResult<Arc<Tenant>> {
    match broker.tenant(id) {
        Some(t) => Ok(t),
        None => {
            let err = errors::broker_error(cx, &BrokerError::UnknownTenant(id.to_string()))?;
            cx.throw(err)
        }
    }
}
