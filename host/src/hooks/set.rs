//! A complete binding of hooks to backends, swapped as one value, and the
//! slot a running context reads it from.

use std::sync::{Arc, RwLock};

use super::{HookBackend, HookKind};

/// For each of the 17 hooks, the backend that serves it (or none: rmqtt's default).
///
/// A running server holds one `Arc<HookSet>` and replaces it whole, so every
/// decision sees either the old set or the new one, never a mix.
#[derive(Clone, Default)]
pub struct HookSet {
    bindings: [Option<Arc<dyn HookBackend>>; 17],
}

impl HookSet {
    /// An empty set: every hook falls back to rmqtt's default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds `kind` to `backend`, replacing any earlier binding.
    pub fn bind(&mut self, kind: HookKind, backend: Arc<dyn HookBackend>) -> &mut Self {
        self.bindings[kind.index()] = Some(backend);
        self
    }

    /// The backend bound to `kind`.
    pub fn get(&self, kind: HookKind) -> Option<&Arc<dyn HookBackend>> {
        self.bindings[kind.index()].as_ref()
    }

    /// Whether `kind` has a backend.
    pub fn is_bound(&self, kind: HookKind) -> bool {
        self.get(kind).is_some()
    }

    /// The hooks that have a backend.
    pub fn bound(&self) -> impl Iterator<Item = HookKind> + '_ {
        HookKind::ALL.into_iter().filter(|k| self.is_bound(*k))
    }
}

impl std::fmt::Debug for HookSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.bound()
                    .map(|k| (k.js_name(), self.get(k).map(|b| b.kind().as_str()))),
            )
            .finish()
    }
}

/// The hook set of a context, replaced whole by `set_hooks`.
#[derive(Default)]
pub struct HookSlot(RwLock<Arc<HookSet>>);

impl HookSlot {
    pub fn load(&self) -> Arc<HookSet> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn store(&self, set: HookSet) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
    }
}
