//! Bindings of `rmqtt:hooks@0.2.0` (`wit/rmqtt-hooks-0.2.0/hooks.wit`).
//!
//! As for 0.1.0, the `host-view` world is the union of the export interfaces,
//! each looked up on its own. `crypto.verify-password` is an async host
//! function: password hashes cost milliseconds, which run on a blocking
//! thread rather than on a broker worker.

#![allow(
    dead_code,
    reason = "bindgen emits world-level helpers (HostView, HostViewPre) this host does not use"
)]

wasmtime::component::bindgen!({
    path: "../wit/rmqtt-hooks-0.2.0",
    world: "host-view",
    imports: {
        "rmqtt:hooks/crypto.verify-password": async,
    },
    exports: { default: async },
});

/// The WIT package and version these bindings speak.
pub(crate) const PACKAGE: &str = "rmqtt:hooks";
pub(crate) const VERSION: &str = "0.2.0";

/// Fully qualified names of the export interfaces.
pub(crate) const LIFECYCLE: &str = "rmqtt:hooks/lifecycle@0.2.0";
pub(crate) const AUTHENTICATE: &str = "rmqtt:hooks/authenticate@0.2.0";
pub(crate) const AUTHORIZE_SUBSCRIBE: &str = "rmqtt:hooks/authorize-subscribe@0.2.0";
pub(crate) const AUTHORIZE_PUBLISH: &str = "rmqtt:hooks/authorize-publish@0.2.0";
pub(crate) const EVENTS: &str = "rmqtt:hooks/events@0.2.0";
pub(crate) const TENANT_RESOLVER: &str = "rmqtt:hooks/tenant-resolver@0.2.0";

/// Interfaces of the package a policy may import.
pub(crate) const IMPORTABLE: [&str; 4] = [
    "rmqtt:hooks/host@0.2.0",
    "rmqtt:hooks/types@0.2.0",
    "rmqtt:hooks/data@0.2.0",
    "rmqtt:hooks/crypto@0.2.0",
];

pub(crate) use self::exports::rmqtt::hooks::{
    authenticate, authorize_publish, authorize_subscribe, events, lifecycle, tenant_resolver,
};
pub(crate) use self::rmqtt::hooks::{crypto, data, host, types};
