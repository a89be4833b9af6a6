//! Which tenant a connecting client belongs to, in this order: the resolver
//! hook (when one is set), the username form `user@tenant`, the fallback
//! tenant. A client no rule resolves is refused with a reason, and so is one
//! whose tenant id (from the resolver or the username) breaks the id rule.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::connect_peek::PeekedConnect;
use super::id::{is_valid_tenant_id, shown, TENANT_ID_RULE};
use crate::config::TenancyConfig;
use crate::hooks::model::{ClientCert, ConnectRequest};
use crate::hooks::HookBackend;

/// The resolver hook of a server, replaceable while running.
#[derive(Default)]
pub struct ResolverSlot(RwLock<Option<Arc<dyn HookBackend>>>);

impl ResolverSlot {
    pub fn load(&self) -> Option<Arc<dyn HookBackend>> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn store(&self, backend: Option<Arc<dyn HookBackend>>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = backend;
    }
}

/// The tenant rules of one server.
pub struct Rules {
    pub tenancy: TenancyConfig,
    pub resolver: Arc<ResolverSlot>,
    pub timeout: Duration,
    /// What the resolver reads: the default context's data.
    pub data: Arc<crate::data::ContextData>,
}

impl Rules {
    /// The tenant of `c` (from `remote`, with the client certificate a tls
    /// gateway verified), or the reason it has none.
    pub async fn resolve(
        &self,
        c: &PeekedConnect,
        remote: SocketAddr,
        cert: Option<&ClientCert>,
    ) -> Result<String, String> {
        if let Some(resolver) = self.resolver.load() {
            let req = ConnectRequest {
                client_id: c.client_id.clone(),
                username: c.username.clone(),
                password: c.password.clone(),
                protocol_version: c.protocol_version,
                remote_addr: Some(remote.to_string()),
                keep_alive: c.keep_alive,
                clean_start: c.clean_start,
                tenant: None,
                client_cert: cert.cloned(),
                user_properties: c.user_properties.clone(),
            };
            match tokio::time::timeout(
                self.timeout,
                crate::data::scope::serving(self.data.clone(), resolver.resolve_tenant(req)),
            )
            .await
            {
                Ok(Ok(Some(t))) if is_valid_tenant_id(&t) => return Ok(t),
                Ok(Ok(Some(t))) => {
                    log::warn!(
                        target: "rmqtt_js::tenants",
                        "tenant resolver returned {} for client `{}`, refusing: {TENANT_ID_RULE}",
                        shown(&t),
                        c.client_id
                    );
                    return Err("tenant resolver returned an invalid tenant id".into());
                }
                Ok(Ok(None)) => {}
                Ok(Err(e)) => {
                    log::warn!(target: "rmqtt_js::tenants", "tenant resolver failed, refusing: {e}");
                    return Err("tenant resolver failed".into());
                }
                Err(_) => {
                    log::warn!(target: "rmqtt_js::tenants", "tenant resolver timed out, refusing");
                    return Err("tenant resolver timed out".into());
                }
            }
        }
        if let (Some(sep), Some(user)) = (&self.tenancy.username_separator, &c.username) {
            if let Some((_, tenant)) = user
                .rsplit_once(sep.as_str())
                .filter(|(_, t)| !t.is_empty())
            {
                // The client chose this id: refused like an unknown tenant
                // (an INFO line), not worth a WARN.
                if !is_valid_tenant_id(tenant) {
                    return Err(format!(
                        "invalid tenant {} in the username: {TENANT_ID_RULE}",
                        shown(tenant)
                    ));
                }
                return Ok(tenant.to_string());
            }
        }
        self.tenancy
            .fallback_tenant
            .clone()
            .ok_or_else(|| "no tenant: use a username of the form user@tenant".to_string())
    }
}
