//! The tenant resolver: a JS function `(request) => tenantId | null` (sync
//! or Promise-returning), or a wasm policy exporting `tenant-resolver`,
//! called for each CONNECT on a gateway listener (a listener without a
//! `tenant` of its own, when `tenancy` is configured).
//!
//! The host applies the order (resolver, then `user@tenant`, then the
//! fallback) and the timeout; a throw, a rejection, a wrong answer or a
//! timeout refuses the client.

use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use neon::prelude::*;
use rmqtt_js_host::hooks::model::ConnectRequest;
use rmqtt_js_host::hooks::{BackendKind, HookBackend, HookError};

use crate::errors::throw_code;
use crate::js_backend::in_flight::{InFlight, Lane};
use crate::js_backend::invoke::{self, Lookup};
use crate::policy::{PolicyBox, PolicyHandle, ERR_POLICY_CLOSED, ERR_POLICY_MISSING_EXPORT};
use crate::server::ServerBox;

/// One resolver function, in a slot that is emptied when it is replaced or
/// the server stops (the host may hold the backend longer).
#[derive(Default)]
struct FunctionSlot(Mutex<Option<Arc<Root<JsFunction>>>>);

impl FunctionSlot {
    fn new(f: Root<JsFunction>) -> FunctionSlot {
        FunctionSlot(Mutex::new(Some(Arc::new(f))))
    }

    fn get(&self) -> Option<Arc<Root<JsFunction>>> {
        self.lock().clone()
    }

    /// Empties the slot; the root is released here unless a call still uses it.
    fn empty(&self, cx: &mut Cx) {
        let taken = self.lock().take();
        if let Some(root) = taken.and_then(|r| Arc::try_unwrap(r).ok()) {
            root.drop(cx);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Arc<Root<JsFunction>>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The resolver function in force on one server, if any.
#[derive(Default)]
pub struct ResolverFunction(Mutex<Option<Arc<FunctionSlot>>>);

impl ResolverFunction {
    /// Puts `slot` in force (`None`: no resolver) and releases the previous one.
    fn replace(&self, cx: &mut Cx, slot: Option<Arc<FunctionSlot>>) {
        let previous = std::mem::replace(&mut *self.lock(), slot);
        if let Some(previous) = previous {
            previous.empty(cx);
        }
    }

    pub fn empty(&self, cx: &mut Cx) {
        self.replace(cx, None);
    }

    fn lock(&self) -> MutexGuard<'_, Option<Arc<FunctionSlot>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The host-side backend of a JS resolver.
struct JsResolver {
    slot: Arc<FunctionSlot>,
    /// An unref'd clone of the server's channel.
    channel: Channel,
    in_flight: InFlight,
}

#[async_trait]
impl HookBackend for JsResolver {
    fn kind(&self) -> BackendKind {
        BackendKind::Js
    }

    async fn resolve_tenant(&self, req: ConnectRequest) -> Result<Option<String>, HookError> {
        let place = self.in_flight.try_acquire(Lane::TenantResolver)?;
        let f = self
            .slot
            .get()
            .ok_or_else(|| HookError::Unavailable("the server was stopped".into()))?;
        let lookup: Lookup = Box::new(move |cx| Some(f.to_inner(cx)));
        invoke::decide(&self.channel, place, lookup, req, tenant_answer).await
    }
}

/// A resolver's answer: a tenant id, or `null`/`undefined`/`""` for none.
fn tenant_answer(cx: &mut Cx, v: Handle<JsValue>) -> Result<Option<String>, HookError> {
    if let Ok(s) = v.downcast::<JsString, _>(cx) {
        let id = s.value(cx);
        return Ok(Some(id).filter(|id| !id.is_empty()));
    }
    if v.is_a::<JsNull, _>(cx) || v.is_a::<JsUndefined, _>(cx) {
        return Ok(None);
    }
    Err(HookError::BadReturn(
        "a tenant resolver must return a tenant id (a string) or null".into(),
    ))
}

/// `serverSetTenantResolver(handle, fn | policyHandle | null)`: sets or
/// clears the resolver. A policy must be open (`ERR_POLICY_CLOSED`) and
/// export `tenant-resolver` (`ERR_POLICY_MISSING_EXPORT`).
pub fn server_set_tenant_resolver(mut cx: FunctionContext) -> JsResult<JsUndefined> {
    let server = cx.argument::<ServerBox>(0)?;
    let value = cx.argument::<JsValue>(1)?;
    let (backend, slot) = if let Ok(f) = value.downcast::<JsFunction, _>(&mut cx) {
        let slot = Arc::new(FunctionSlot::new(f.root(&mut cx)));
        let js = JsResolver {
            slot: slot.clone(),
            channel: server.channel().clone(),
            in_flight: server.in_flight().clone(),
        };
        (Some(Arc::new(js) as Arc<dyn HookBackend>), Some(slot))
    } else if let Ok(handle) = value.downcast::<PolicyBox, _>(&mut cx) {
        let Some(policy) = PolicyHandle::get(&handle) else {
            return throw_code(
                &mut cx,
                ERR_POLICY_CLOSED,
                "tenant resolver: the WasmPolicy was closed",
            );
        };
        if !policy.exports().tenant_resolver {
            let message = format!(
                "tenant resolver: policy `{}` does not export rmqtt:hooks/tenant-resolver",
                policy.name()
            );
            return throw_code(&mut cx, ERR_POLICY_MISSING_EXPORT, &message);
        }
        (Some(policy as Arc<dyn HookBackend>), None)
    } else {
        (None, None)
    };
    server.broker().set_tenant_resolver(backend);
    server.tenants().resolver.replace(&mut cx, slot);
    Ok(cx.undefined())
}
