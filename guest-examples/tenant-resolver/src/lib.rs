//! Tenant resolver policy in Rust (world `resolver-policy`), for
//! `server.setTenantResolver(policy)`.
//!
//! * A client id of the form `<tenant>/<device>` belongs to `<tenant>`.
//! * Otherwise, a username of the form `<user>.<tenant>` (the last `.`)
//!   belongs to `<tenant>`.
//! * Otherwise: none, and the server's next rule decides (`user@tenant`,
//!   then the fallback tenant).
//!
//! The resolver only names a tenant; whether the tenant exists is the
//! server's business (an unknown one is refused with a reason).

wit_bindgen::generate!({
    world: "resolver-policy",
    path: "../../wit/rmqtt-hooks-0.1.0",
});

use exports::rmqtt::hooks::tenant_resolver;
use rmqtt::hooks::host::{self, Level};
use rmqtt::hooks::types::ConnectRequest;

struct Resolver;

impl tenant_resolver::Guest for Resolver {
    fn resolve_tenant(req: ConnectRequest) -> Option<String> {
        let by_id = req.client_id.split_once('/').map(|(t, _)| t);
        let by_user = (req.username.as_deref())
            .and_then(|u| u.rsplit_once('.'))
            .map(|(_, t)| t);
        let tenant = (by_id.filter(|t| !t.is_empty()))
            .or(by_user.filter(|t| !t.is_empty()))
            .map(str::to_string);
        host::log(
            Level::Debug,
            &format!("client `{}` -> tenant {:?}", req.client_id, tenant),
        );
        tenant
    }
}

export!(Resolver);
