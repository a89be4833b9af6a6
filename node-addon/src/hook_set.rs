//! A `setHooks`-style JS object → the host `HookSet` that answers its hooks.
//!
//! Shared by the server's own hooks (`server::server_set_hooks`) and each
//! tenant's (`tenants::tenant_set_hooks`), so every way of giving hooks
//! accepts the same values. Each [`HookSource`] kind is bound here.

use std::sync::Arc;

use neon::prelude::*;
use rmqtt_js_host::hooks::{HookBackend, HookSet};

use crate::js_backend::bridge::{Bridge, BridgeSlot};
use crate::js_backend::in_flight::InFlight;
use crate::js_backend::JsBackend;
use crate::marshal::hooks_object::{read_hooks, HookSource};

/// A hooks object, bound.
pub struct BoundHooks {
    /// What the host calls.
    pub set: HookSet,
    /// The JS functions of the set, to be emptied on the JS thread when the
    /// set is dropped for good (`stop`), since the host may outlive them.
    pub slot: Arc<BridgeSlot>,
}

/// Binds every hook of `hooks`: JS functions to one JS backend calling them
/// through `channel` (an unref'd channel) within the `in_flight` bound, wasm
/// policies to the policy itself. Throws `ERR_INVALID_HOOK` (or a policy's
/// `ERR_POLICY_*`) for an unusable object.
pub fn bind_hooks<'a>(
    cx: &mut Cx<'a>,
    hooks: Handle<'a, JsObject>,
    channel: &Channel,
    in_flight: &InFlight,
) -> NeonResult<BoundHooks> {
    let sources = read_hooks(cx, hooks)?;

    let mut set = HookSet::new();
    let mut js_functions = Vec::new();
    for (kind, source) in sources {
        match source {
            HookSource::Js(f) => js_functions.push((kind, f)),
            HookSource::Wasm(policy) => {
                set.bind(kind, policy as Arc<dyn HookBackend>);
            }
        }
    }
    let kinds: Vec<_> = js_functions.iter().map(|(kind, _)| *kind).collect();
    let slot = Arc::new(BridgeSlot::new(Bridge::new(channel.clone(), js_functions)));
    let js: Arc<dyn HookBackend> = Arc::new(JsBackend::new(slot.clone(), in_flight.clone()));
    for kind in kinds {
        set.bind(kind, js.clone());
    }
    Ok(BoundHooks { set, slot })
}
