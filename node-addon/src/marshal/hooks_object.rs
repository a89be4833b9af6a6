//! The object given to `setHooks` → what answers each hook.
//!
//! Today every value is a JS function, answered by the JS backend.
//! Seam for the wasm policies (issue 5): a value that is the `JsBox` of a
//! loaded policy becomes a `HookSource::Wasm(..)` variant here, and
//! `server::server_set_hooks` binds it to that policy's `HookBackend` instead
//! of the JS one. `lib/src/hooks.ts` has the matching seam.

use neon::prelude::*;
use rmqtt_js_host::hooks::HookKind;

use crate::errors::{throw_code, ERR_INVALID_HOOK};

/// What answers one hook.
pub enum HookSource {
    /// A JS callback.
    Js(Root<JsFunction>),
}

/// Reads every own property of `hooks`. Undefined values are skipped; unknown
/// names and values of another kind throw `ERR_INVALID_HOOK`.
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
        match value.downcast::<JsFunction, _>(cx) {
            Ok(f) => sources.push((kind, HookSource::Js(f.root(cx)))),
            Err(_) => {
                return throw_code(
                    cx,
                    ERR_INVALID_HOOK,
                    &format!("hook `{name}` must be a function"),
                )
            }
        }
    }
    Ok(sources)
}
