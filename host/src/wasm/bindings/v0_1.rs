//! Bindings of `rmqtt:hooks@0.1.0` (`wit/rmqtt-hooks-0.1.0/hooks.wit`).
//!
//! The `host-view` world is used only as the union of the five export
//! interfaces: a policy may export any subset, so each interface is looked up
//! on its own with its `GuestIndices` (see `wasm::instance`).

#![allow(
    dead_code,
    reason = "bindgen emits world-level helpers (HostView, HostViewPre) this host does not use"
)]

wasmtime::component::bindgen!({
    path: "../wit/rmqtt-hooks-0.1.0",
    world: "host-view",
    exports: { default: async },
});

/// The WIT package and version these bindings speak.
pub(crate) const PACKAGE: &str = "rmqtt:hooks";
pub(crate) const VERSION: &str = "0.1.0";

/// Fully qualified names of the export interfaces.
pub(crate) const AUTHENTICATE: &str = "rmqtt:hooks/authenticate@0.1.0";
pub(crate) const AUTHORIZE_SUBSCRIBE: &str = "rmqtt:hooks/authorize-subscribe@0.1.0";
pub(crate) const AUTHORIZE_PUBLISH: &str = "rmqtt:hooks/authorize-publish@0.1.0";
pub(crate) const EVENTS: &str = "rmqtt:hooks/events@0.1.0";
pub(crate) const TENANT_RESOLVER: &str = "rmqtt:hooks/tenant-resolver@0.1.0";

/// Interfaces of the package a policy may import.
pub(crate) const IMPORTABLE: [&str; 2] = ["rmqtt:hooks/host@0.1.0", "rmqtt:hooks/types@0.1.0"];

pub(crate) use self::exports::rmqtt::hooks::{
    authenticate, authorize_publish, authorize_subscribe, events, tenant_resolver,
};
pub(crate) use self::rmqtt::hooks::{host, types};
