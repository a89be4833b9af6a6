//! Hooks: the data model, the backend contract, and the router that wires
//! rmqtt's hook points to a backend per hook.
//!
//! Flow: rmqtt hook point → [`router`] picks the backend bound to that hook in
//! the current [`HookSet`] (none → rmqtt default) → decision or notification.

pub mod backend;
pub(crate) mod convert;
pub mod kind;
pub mod model;
pub(crate) mod mutation;
pub(crate) mod notify;
pub(crate) mod router;
mod set;
pub mod stats;
mod superusers;

pub use backend::{BackendKind, HookBackend, HookError};
pub use kind::{HookKind, UnknownHook};
pub use set::HookSet;
pub use stats::{HookStats, HookStatsRow};
