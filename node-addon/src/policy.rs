//! Wasm policies for Node: `policyLoad` compiles a component off the JS thread
//! and settles a promise with a `JsBox` handle; `policyClose` lets go of it.
//!
//! The handle holds the policy in a slot that `close` empties: servers whose
//! hook sets already use the policy keep their own `Arc` (they keep working
//! until their hooks are replaced or they stop), but the handle can no longer
//! be bound (`ERR_POLICY_CLOSED`). The policy's memory goes back when the last
//! hook set using it is gone.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use neon::prelude::*;
use neon::types::buffer::TypedArray;
use rmqtt_js_host::wasm::{CacheSource, LoadError, LoadOptions, PolicySource, WasmPolicy};

use crate::errors::{error_with_code, throw_code};
use crate::runtime;

/// Code of a closed policy given to `setHooks`.
pub const ERR_POLICY_CLOSED: &str = "ERR_POLICY_CLOSED";
/// Code of a policy bound to a hook it does not export.
pub const ERR_POLICY_MISSING_EXPORT: &str = "ERR_POLICY_MISSING_EXPORT";
/// Code of load options of the wrong type or range.
const ERR_POLICY_OPTIONS: &str = "ERR_POLICY_OPTIONS";

/// The native half of one JS `WasmPolicy`.
pub struct PolicyHandle {
    policy: Mutex<Option<Arc<WasmPolicy>>>,
}

impl Finalize for PolicyHandle {}

pub type PolicyBox = JsBox<PolicyHandle>;

impl PolicyHandle {
    /// The policy, unless the handle was closed.
    pub fn get(&self) -> Option<Arc<WasmPolicy>> {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, Option<Arc<WasmPolicy>>> {
        self.policy.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `policyLoad(source: string | Uint8Array, options: { name?, timeoutMs?,
/// maxMemoryBytes?, maxInstances?, config? }) -> Promise<{ handle, name, hooks,
/// digest, cacheSource, loadMs, timeoutMs }>`. Rejects with an `Error` whose
/// `code` is the `LoadError`'s (`ERR_POLICY_*`).
pub fn policy_load(mut cx: FunctionContext) -> JsResult<JsPromise> {
    let source = cx.argument::<JsValue>(0)?;
    let options = cx.argument::<JsObject>(1)?;
    let source = if let Ok(path) = source.downcast::<JsString, _>(&mut cx) {
        PolicySource::Path(PathBuf::from(path.value(&mut cx)))
    } else if let Ok(bytes) = source.downcast::<JsTypedArray<u8>, _>(&mut cx) {
        PolicySource::Bytes(bytes.as_slice(&cx).into())
    } else {
        return throw_code(
            &mut cx,
            ERR_POLICY_OPTIONS,
            "a policy source must be a file path or a Uint8Array",
        );
    };
    let load_options = read_options(&mut cx, options, &source)?;
    let mut channel = Channel::new(&mut cx);
    channel.unref(&mut cx);
    let work = WasmPolicy::load(source, load_options);
    runtime::promise(&mut cx, &channel, work, |cx, loaded| match loaded {
        Ok(policy) => loaded_to_js(cx, policy),
        Err(e) => {
            let err = load_error(cx, &e)?;
            cx.throw(err)
        }
    })
}

/// `policyClose(handle)`: the handle can no longer be bound. Idempotent.
pub fn policy_close(mut cx: FunctionContext) -> JsResult<JsUndefined> {
    let handle = cx.argument::<PolicyBox>(0)?;
    let taken = handle.lock().take();
    drop(taken);
    Ok(cx.undefined())
}

fn load_error<'a>(cx: &mut Cx<'a>, e: &LoadError) -> JsResult<'a, JsError> {
    error_with_code(cx, e.code(), &e.to_string())
}

/// The load options; absent fields keep the host's defaults. The host checks
/// the ranges (`ERR_POLICY_OPTIONS`); here only the types.
fn read_options(
    cx: &mut FunctionContext,
    options: Handle<JsObject>,
    source: &PolicySource,
) -> NeonResult<LoadOptions> {
    let default_name = match source {
        PolicySource::Path(p) => p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "policy".into()),
        PolicySource::Bytes(_) => "policy".into(),
    };
    let name = options
        .get_opt::<JsString, _, _>(cx, "name")?
        .map(|s| s.value(cx))
        .unwrap_or(default_name);
    let mut o = LoadOptions::new(name);
    if let Some(ms) = number(cx, options, "timeoutMs")? {
        // The host derives the wait for a free instance from it.
        o = o.timeout(Duration::from_secs_f64(ms / 1000.0));
    }
    if let Some(bytes) = number(cx, options, "maxMemoryBytes")? {
        o = o.max_memory_bytes(bytes as usize);
    }
    if let Some(n) = number(cx, options, "maxInstances")? {
        o = o.max_instances(n as usize);
    }
    if let Some(config) = options.get_opt::<JsString, _, _>(cx, "config")? {
        o = o.config(config.value(cx));
    }
    Ok(o)
}

/// A non-negative finite number option, if present.
fn number(
    cx: &mut FunctionContext,
    options: Handle<JsObject>,
    key: &str,
) -> NeonResult<Option<f64>> {
    let Some(v) = options.get_opt::<JsNumber, _, _>(cx, key)? else {
        return Ok(None);
    };
    let v = v.value(cx);
    if !v.is_finite() || v < 0.0 {
        return throw_code(
            cx,
            ERR_POLICY_OPTIONS,
            &format!("`{key}` must be a non-negative finite number, got {v}"),
        );
    }
    Ok(Some(v))
}

fn cache_source(s: CacheSource) -> &'static str {
    match s {
        CacheSource::Compiled => "compiled",
        CacheSource::Disk => "disk",
        CacheSource::Memory => "memory",
    }
}

fn loaded_to_js<'a>(cx: &mut Cx<'a>, policy: WasmPolicy) -> JsResult<'a, JsValue> {
    let hooks = cx.empty_array();
    for (i, kind) in policy.hooks().into_iter().enumerate() {
        hooks.prop(cx, i as u32).set(kind.js_name())?;
    }
    let info = policy.load_info().clone();
    let obj = cx.empty_object();
    obj.prop(cx, "name")
        .set(policy.name())?
        .prop("hooks")
        .set(hooks)?
        .prop("digest")
        .set(info.digest.as_str())?
        .prop("cacheSource")
        .set(cache_source(info.source))?
        .prop("loadMs")
        .set(info.load_time.as_secs_f64() * 1000.0)?
        .prop("timeoutMs")
        .set(policy.timeout().as_secs_f64() * 1000.0)?;
    let handle = cx.boxed(PolicyHandle {
        policy: Mutex::new(Some(Arc::new(policy))),
    });
    obj.prop(cx, "handle").set(handle)?;
    Ok(obj.upcast())
}
