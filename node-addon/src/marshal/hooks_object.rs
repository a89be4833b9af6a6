//! The object given to `setHooks` → what answers each hook.
//!
//! A value is either a JS function (answered by the JS backend) or the
//! native handle of a loaded `WasmPolicy` (`crate::policy`), which answers
//! the hook itself. `lib/src/hooks.ts` turns a `WasmPolicy` into its handle.

use std::sync::Arc;

use neon::prelude::*;
use rmqtt_js_host::hooks::HookKind;
use rmqtt_js_host::wasm::WasmPolicy;

use crate::errors::{throw_code, ERR_INVALID_HOOK};
use crate::policy::{PolicyBox, PolicyHandle, ERR_POLICY_CLOSED, ERR_POLICY_MISSING_EXPORT};

/// What answers one hook.
pub enum HookSource {
    /// A JS callback.
    Js(Root<JsFunction>),
    /// A wasm policy that exports the hook's interface.
    Wasm(Arc<WasmPolicy>),
}

/// Reads every own property of `hooks`. Undefined values are skipped; unknown
/// names and values of another kind throw `ERR_INVALID_HOOK`; a closed policy
/// throws `ERR_POLICY_CLOSED`, a policy that does not export the hook's
/// interface `ERR_POLICY_MISSING_EXPORT`.
pub fn read_hooks<'a>(
    cx: &mut Cx<'a>,
    hooks: Handle<'a, JsObject>,
) -> NeonResult<Vec<(HookKind, HookSource)>> {
    let names = hooks.get_own_property_names(cx)?.to_vec(cx)?;
    let mut sources = Vec::with_capacity(names.len());
    for key in names {
        let Ok(name) = key.downcast::<JsString, _>(cx) else {
            continue;
        };
        let name = name.value(cx);
        let Ok(kind) = name.parse::<HookKind>() else {
            return throw_code(cx, ERR_INVALID_HOOK, &format!("unknown hook `{name}`"));
        };
        let value = hooks.prop(cx, name.as_str()).get::<Handle<JsValue>>()?;
        if value.is_a::<JsUndefined, _>(cx) {
            continue;
        }
        if let Ok(f) = value.downcast::<JsFunction, _>(cx) {
            sources.push((kind, HookSource::Js(f.root(cx))));
        } else if let Ok(handle) = value.downcast::<PolicyBox, _>(cx) {
            let policy = wasm_source(cx, kind, &handle)?;
            sources.push((kind, HookSource::Wasm(policy)));
        } else {
            return throw_code(
                cx,
                ERR_INVALID_HOOK,
                &format!("hook `{name}` must be a function or a WasmPolicy"),
            );
        }
    }
    Ok(sources)
}

/// The policy behind `handle`, if it is open and serves `kind`.
fn wasm_source(cx: &mut Cx, kind: HookKind, handle: &PolicyBox) -> NeonResult<Arc<WasmPolicy>> {
    let Some(policy) = PolicyHandle::get(handle) else {
        return throw_code(
            cx,
            ERR_POLICY_CLOSED,
            &format!("hook `{kind}`: the WasmPolicy was closed"),
        );
    };
    if !policy.exports().serves(kind) {
        let serves: Vec<&str> = policy.hooks().iter().map(|k| k.js_name()).collect();
        return throw_code(
            cx,
            ERR_POLICY_MISSING_EXPORT,
            &format!(
                "hook `{kind}`: policy `{}` does not export rmqtt:hooks/{} (it serves: {})",
                policy.name(),
                interface_of(kind),
                serves.join(", ")
            ),
        );
    }
    Ok(policy)
}

/// The WIT interface that answers `kind`.
fn interface_of(kind: HookKind) -> &'static str {
    match kind {
        HookKind::ClientAuthenticate => "authenticate",
        HookKind::ClientSubscribeAuthorize => "authorize-subscribe",
        HookKind::ClientPublishAuthorize => "authorize-publish",
        _ => "events",
    }
}
