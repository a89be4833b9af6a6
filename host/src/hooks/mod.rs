//! Hooks: the data model, the backend contract, and the router that wires
//! rmqtt's hook points to a backend per hook.
//!
//! Flow: rmqtt hook point → [`router`] picks the backend bound to that hook in
//! the current [`HookSet`] (none → rmqtt default) → decision (a publish ACL's
//! applied by `publish_acl`) or notification (`events` → [`notify`]).

pub mod backend;
pub(crate) mod convert;
mod events;
pub mod kind;
pub(crate) mod listener_rules;
pub mod model;
pub(crate) mod mutation;
pub(crate) mod notify;
mod packet_size;
mod publish_acl;
pub(crate) mod router;
mod set;
pub mod stats;
mod superusers;
mod traffic;

pub use backend::{BackendKind, HookBackend, HookError};
pub use kind::{HookKind, UnknownHook};
pub use set::HookSet;
pub(crate) use set::HookSlot;
pub use stats::{HookStats, HookStatsRow};
pub use traffic::Traffic;
