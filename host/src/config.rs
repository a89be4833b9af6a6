//! Server configuration: the shape users write (the seed's `ServerConfig`),
//! and its validation, which runs before anything is started.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

use crate::error::ConfigError;

/// The default time a decision hook may take before the client is denied.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(5);

/// Transport of a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Tls,
    Ws,
    Wss,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Tls => "tls",
            Protocol::Ws => "ws",
            Protocol::Wss => "wss",
        }
    }

    /// Whether this transport needs a certificate and key.
    pub fn is_tls(self) -> bool {
        matches!(self, Protocol::Tls | Protocol::Wss)
    }
}

/// One listener, as written by the user (before validation).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListenerConfig {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default = "default_address")]
    pub address: String,
    /// Kept raw so that `1.5`, `-1`, `"1883"` or `null` (NaN in JS) get a
    /// port error, not a parse error.
    pub port: serde_json::Value,
    pub protocol: Protocol,
    #[serde(default)]
    pub tls_cert: Option<String>,
    #[serde(default)]
    pub tls_key: Option<String>,
    #[serde(default)]
    pub allow_anonymous: Option<bool>,
    /// Every client of this listener belongs to this tenant.
    #[serde(default)]
    pub tenant: Option<String>,
}

fn default_address() -> String {
    "0.0.0.0".to_string()
}

/// The whole server configuration, as written by the user.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerConfig {
    pub listeners: Vec<ListenerConfig>,
    /// Directory of rmqtt plugin config files (`<plugin>.toml`), as in the seed.
    #[serde(default)]
    pub plugins_config_dir: Option<String>,
    /// Accepted for compatibility with the seed; rmqtt-js starts its own plugins.
    #[serde(default)]
    pub plugins_default_startups: Option<Vec<String>>,
    /// How long a decision hook may take (default 5000 ms).
    #[serde(default)]
    pub hook_timeout_ms: Option<f64>,
    /// How clients of listeners without a `tenant` find their tenant. Without
    /// it, such listeners serve the default (tenant-less) broker.
    #[serde(default)]
    pub tenancy: Option<TenancyConfig>,
}

/// Tenant resolution for listeners that carry no `tenant` of their own.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenancyConfig {
    /// Usernames of the form `user<separator>tenant` name their tenant
    /// (default `@`; `null` turns this off).
    #[serde(default = "default_separator")]
    pub username_separator: Option<String>,
    /// The tenant of clients that no rule resolves (default: refuse them).
    #[serde(default)]
    pub fallback_tenant: Option<String>,
}

fn default_separator() -> Option<String> {
    Some("@".to_string())
}

/// A listener after validation: everything needed to bind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidListener {
    pub name: String,
    pub protocol: Protocol,
    pub addr: SocketAddr,
    pub tls: Option<TlsFiles>,
    pub allow_anonymous: bool,
    /// The tenant every client of this listener belongs to.
    pub tenant: Option<String>,
    /// Whether this listener resolves each client's tenant at CONNECT.
    pub gateway: bool,
}

/// Paths of a certificate chain and its key, both checked to parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: String,
    pub key: String,
}

/// A configuration that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidConfig {
    pub listeners: Vec<ValidListener>,
    pub plugins_config_dir: Option<String>,
    pub hook_timeout: Duration,
    pub tenancy: Option<TenancyConfig>,
}

impl ValidConfig {
    /// The listeners of one broker context (`None`: the default context).
    pub fn listeners_of<'a>(
        &'a self,
        tenant: Option<&'a str>,
    ) -> impl Iterator<Item = &'a ValidListener> {
        self.listeners
            .iter()
            .filter(move |l| !l.gateway && l.tenant.as_deref() == tenant)
    }

    /// The listeners that resolve tenants at CONNECT.
    pub fn gateways(&self) -> impl Iterator<Item = &ValidListener> {
        self.listeners.iter().filter(|l| l.gateway)
    }
}

impl ServerConfig {
    /// Parses the JSON form of the configuration (what the Node API sends).
    pub fn from_json(json: &str) -> Result<ServerConfig, ConfigError> {
        serde_json::from_str(json).map_err(|e| {
            // serde's position ("at line 1 column 58") means nothing to a JS caller.
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            ConfigError::Malformed(msg)
        })
    }

    /// A single TCP listener.
    pub fn basic(port: u16) -> ServerConfig {
        ServerConfig {
            listeners: vec![ListenerConfig {
                name: Some("tcp".into()),
                address: default_address(),
                port: serde_json::Value::from(port),
                protocol: Protocol::Tcp,
                tls_cert: None,
                tls_key: None,
                allow_anonymous: None,
                tenant: None,
            }],
            plugins_config_dir: None,
            plugins_default_startups: None,
            hook_timeout_ms: None,
            tenancy: None,
        }
    }

    /// Checks everything that can be checked before binding: listeners present,
    /// ports in range and distinct, addresses parse, TLS files exist and parse.
    pub fn validate(&self) -> Result<ValidConfig, ConfigError> {
        if self.listeners.is_empty() {
            return Err(ConfigError::NoListeners);
        }
        let mut ports = HashSet::new();
        let mut listeners = Vec::with_capacity(self.listeners.len());
        for (i, l) in self.listeners.iter().enumerate() {
            let name = l
                .name
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| format!("{}-{i}", l.protocol.as_str()));
            let port = validate_port(&name, &l.port)?;
            let ip = resolve_address(&l.address).ok_or_else(|| ConfigError::Address {
                listener: name.clone(),
                address: l.address.clone(),
            })?;
            if port != 0 && !ports.insert((ip, port)) {
                return Err(ConfigError::DuplicatePort {
                    listener: name,
                    port,
                });
            }
            let tls = if l.protocol.is_tls() {
                Some(validate_tls(&name, l)?)
            } else {
                None
            };
            let tenant = l.tenant.clone().filter(|t| !t.is_empty());
            let gateway = tenant.is_none() && self.tenancy.is_some();
            if gateway && matches!(l.protocol, Protocol::Ws | Protocol::Wss) {
                return Err(ConfigError::TenantListener {
                    listener: name,
                    protocol: l.protocol.as_str(),
                });
            }
            listeners.push(ValidListener {
                name,
                protocol: l.protocol,
                addr: SocketAddr::new(ip, port),
                tls,
                allow_anonymous: l.allow_anonymous.unwrap_or(true),
                tenant,
                gateway,
            });
        }
        let hook_timeout = match self.hook_timeout_ms {
            None => DEFAULT_HOOK_TIMEOUT,
            Some(ms) if ms.is_finite() && (1.0..=600_000.0).contains(&ms) => {
                Duration::from_millis(ms as u64)
            }
            Some(ms) => return Err(ConfigError::HookTimeout(ms)),
        };
        Ok(ValidConfig {
            listeners,
            plugins_config_dir: self.plugins_config_dir.clone(),
            hook_timeout,
            tenancy: self.tenancy.clone(),
        })
    }
}

fn validate_port(listener: &str, port: &serde_json::Value) -> Result<u16, ConfigError> {
    match port.as_f64() {
        Some(p) if p.fract() == 0.0 && (0.0..=65535.0).contains(&p) => Ok(p as u16),
        _ => Err(ConfigError::Port {
            listener: listener.to_string(),
            port: port.to_string(),
        }),
    }
}

/// An IP address, or a host name that resolves to one (e.g. `localhost`).
fn resolve_address(address: &str) -> Option<IpAddr> {
    use std::net::ToSocketAddrs;
    if let Ok(ip) = address.parse() {
        return Some(ip);
    }
    if address.is_empty() {
        return None;
    }
    (address, 0).to_socket_addrs().ok()?.next().map(|a| a.ip())
}

fn validate_tls(listener: &str, l: &ListenerConfig) -> Result<TlsFiles, ConfigError> {
    let (Some(cert), Some(key)) = (
        l.tls_cert.as_ref().filter(|s| !s.is_empty()),
        l.tls_key.as_ref().filter(|s| !s.is_empty()),
    ) else {
        return Err(ConfigError::TlsMissing {
            listener: listener.to_string(),
            protocol: l.protocol.as_str(),
        });
    };
    let tls_file_err = |path: &str, problem: String| ConfigError::TlsFile {
        listener: listener.to_string(),
        path: path.to_string(),
        problem,
    };
    for path in [cert, key] {
        if !Path::new(path).is_file() {
            return Err(tls_file_err(path, "file not found".into()));
        }
    }
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|e| tls_file_err(cert, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_file_err(cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(tls_file_err(cert, "no PEM certificate in file".into()));
    }
    PrivateKeyDer::from_pem_file(key).map_err(|e| tls_file_err(key, e.to_string()))?;
    Ok(TlsFiles {
        cert: cert.clone(),
        key: key.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> Result<ValidConfig, ConfigError> {
        ServerConfig::from_json(json)?.validate()
    }

    #[test]
    fn each_config_mistake_has_its_own_error() {
        let cases = [
            (r#"{"listeners":[]}"#, "ERR_CONFIG_NO_LISTENERS"),
            (
                r#"{"listeners":[{"port":70000,"protocol":"tcp"}]}"#,
                "ERR_CONFIG_PORT",
            ),
            (
                r#"{"listeners":[{"port":-1,"protocol":"tcp"}]}"#,
                "ERR_CONFIG_PORT",
            ),
            (
                r#"{"listeners":[{"port":1.5,"protocol":"tcp"}]}"#,
                "ERR_CONFIG_PORT",
            ),
            (
                r#"{"listeners":[{"port":1883,"protocol":"tcp"},{"port":1883,"protocol":"ws"}]}"#,
                "ERR_CONFIG_DUPLICATE_PORT",
            ),
            (
                r#"{"listeners":[{"port":8883,"protocol":"tls"}]}"#,
                "ERR_CONFIG_TLS_MISSING",
            ),
            (
                r#"{"listeners":[{"port":8883,"protocol":"wss","tlsCert":"/nope.pem","tlsKey":"/nope.key"}]}"#,
                "ERR_CONFIG_TLS_FILE",
            ),
            (
                r#"{"listeners":[{"port":1883,"protocol":"tcp","address":"no such host.invalid"}]}"#,
                "ERR_CONFIG_ADDRESS",
            ),
            (
                r#"{"listeners":[{"port":1883,"protocol":"quic"}]}"#,
                "ERR_INVALID_CONFIG",
            ),
            (
                r#"{"listeners":[{"port":1883,"protocol":"tcp"}],"hookTimeoutMs":0}"#,
                "ERR_CONFIG_HOOK_TIMEOUT",
            ),
            (
                r#"{"listeners":[{"port":8080,"protocol":"ws"}],"tenancy":{}}"#,
                "ERR_CONFIG_TENANT_LISTENER",
            ),
        ];
        for (json, code) in cases {
            let err = config(json).expect_err(json);
            assert_eq!(err.code(), code, "{json}: {err}");
        }
    }

    #[test]
    fn localhost_resolves_to_a_loopback_address() {
        let c = config(r#"{"listeners":[{"port":0,"protocol":"tcp","address":"localhost"}]}"#)
            .expect("valid");
        assert!(c.listeners[0].addr.ip().is_loopback());
    }

    #[test]
    fn port_zero_is_accepted_and_may_repeat() {
        let c = config(r#"{"listeners":[{"port":0,"protocol":"tcp"},{"port":0,"protocol":"ws"}]}"#)
            .expect("valid");
        assert_eq!(c.listeners.len(), 2);
        assert!(c.listeners[0].allow_anonymous);
        assert_eq!(c.hook_timeout, DEFAULT_HOOK_TIMEOUT);
    }

    #[test]
    fn an_unparsable_certificate_is_reported_with_its_path() {
        let dir = std::env::temp_dir().join(format!("rmqtt-js-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&cert, "not a certificate").expect("write");
        std::fs::write(&key, "not a key").expect("write");
        let json = serde_json::json!({"listeners":[{"port":8883,"protocol":"tls",
            "tlsCert": cert, "tlsKey": key}]})
        .to_string();
        let err = config(&json).expect_err("garbage cert");
        assert_eq!(err.code(), "ERR_CONFIG_TLS_FILE");
        assert!(err.to_string().contains("cert.pem"), "{err}");
    }
}
