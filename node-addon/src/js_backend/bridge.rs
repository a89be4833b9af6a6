//! The JS side of one hook set — its functions by hook and the Channel that
//! reaches them — kept in a slot that `stop()` empties on the JS thread.
//!
//! The host keeps hook sets alive as long as a server context exists (rmqtt
//! never frees one), so the backend must not own JS resources directly.

use std::sync::{Arc, Mutex, MutexGuard};

use neon::prelude::*;
use rmqtt_js_host::hooks::HookKind;

/// The callbacks of one `setHooks` call.
pub struct Bridge {
    /// An unref'd clone of the server's channel.
    pub channel: Channel,
    functions: [Option<Root<JsFunction>>; HookKind::ALL.len()],
}

impl Bridge {
    pub fn new(channel: Channel, functions: Vec<(HookKind, Root<JsFunction>)>) -> Bridge {
        let mut table: [Option<Root<JsFunction>>; HookKind::ALL.len()] =
            std::array::from_fn(|_| None);
        for (kind, f) in functions {
            table[kind.index()] = Some(f);
        }
        Bridge {
            channel,
            functions: table,
        }
    }

    /// The function registered for `kind`.
    pub fn function(&self, kind: HookKind) -> Option<&Root<JsFunction>> {
        self.functions[kind.index()].as_ref()
    }

    /// Releases the roots at once (must run on the JS thread).
    fn release(self, cx: &mut Cx) {
        for f in self.functions.into_iter().flatten() {
            f.drop(cx);
        }
    }
}

/// Where a backend finds its bridge; empty once the server is stopped.
pub struct BridgeSlot(Mutex<Option<Arc<Bridge>>>);

impl BridgeSlot {
    pub fn new(bridge: Bridge) -> BridgeSlot {
        BridgeSlot(Mutex::new(Some(Arc::new(bridge))))
    }

    /// The bridge, unless the slot was emptied.
    pub fn get(&self) -> Option<Arc<Bridge>> {
        self.lock().clone()
    }

    /// Empties the slot. Calls already in flight keep their bridge until they
    /// finish; otherwise the roots are released right here.
    pub fn empty(&self, cx: &mut Cx) {
        let taken = self.lock().take();
        if let Some(bridge) = taken.and_then(|b| Arc::try_unwrap(b).ok()) {
            bridge.release(cx);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Arc<Bridge>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
