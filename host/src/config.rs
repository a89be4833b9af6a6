//! Server configuration: the shape users write (the seed's `ServerConfig`),
//! and its validation, which runs before anything is started.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU16;
use std::path::Path;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

use crate::error::ConfigError;
use crate::persistence::{Backend, PersistenceConfig};
use crate::strict;
use crate::tenants::id::{self as tenant_id, is_valid_tenant_id};

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

/// One listener, as written by the user (before validation). An unknown key
/// is an error.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
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
    /// The limits below are kept raw (present: `Some`, even `null`) so that
    /// `1.5`, `-1`, `"10"` or `null` (NaN in JS) get a limit error.
    ///
    /// Messages queued per session (rmqtt `max_mqueue_len`).
    #[serde(default, deserialize_with = "present")]
    pub max_queued_messages: Option<serde_json::Value>,
    /// Unacknowledged QoS 1/2 messages per session (rmqtt `max_inflight`).
    #[serde(default, deserialize_with = "present")]
    pub max_inflight: Option<serde_json::Value>,
    /// Largest packet a client may send, in bytes (rmqtt `max_packet_size`).
    #[serde(default, deserialize_with = "present")]
    pub max_packet_size: Option<serde_json::Value>,
    /// How long an MQTT 3 persistent session outlives its connection.
    #[serde(default, deserialize_with = "present")]
    pub session_expiry_interval_secs: Option<serde_json::Value>,
    /// Upper bound of any session's expiry interval (MQTT 5 clients ask for theirs).
    #[serde(default, deserialize_with = "present")]
    pub max_session_expiry_interval_secs: Option<serde_json::Value>,
    /// Seconds a new connection has to send a complete CONNECT (default 10).
    #[serde(default, deserialize_with = "present")]
    pub connect_timeout_secs: Option<serde_json::Value>,
    /// Longest client identifier accepted, in bytes (default 256).
    #[serde(default, deserialize_with = "present")]
    pub max_client_id_len: Option<serde_json::Value>,
    /// Topic aliases an MQTT 5 client may use (advertised in CONNACK; default 10).
    #[serde(default, deserialize_with = "present")]
    pub max_topic_aliases: Option<serde_json::Value>,
    /// PEM bundle of the CAs that sign client certificates (tls/wss).
    #[serde(default)]
    pub tls_client_ca: Option<String>,
    /// Refuse TLS clients without a certificate signed by `tlsClientCa`.
    #[serde(default)]
    pub require_client_cert: Option<bool>,
    /// A client that sends no username gets its certificate's common name.
    #[serde(default)]
    pub cert_identity_as_username: Option<bool>,
}

/// A field that is present is `Some`, even when it is `null`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(d).map(Some)
}

fn default_address() -> String {
    "0.0.0.0".to_string()
}

/// The whole server configuration, as written by the user. An unknown key is
/// an error ([`ServerConfig::from_json`] names the nearest known one).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerConfig {
    pub listeners: Vec<ListenerConfig>,
    /// Directory of rmqtt plugin config files (`<plugin>.toml`), as in the seed.
    #[serde(default)]
    pub plugins_config_dir: Option<String>,
    /// A key of the original (seed) rmqtt-js API, accepted and ignored:
    /// rmqtt-js starts the plugins it needs itself.
    #[serde(default)]
    pub plugins_default_startups: Option<Vec<String>>,
    /// How long a decision hook may take (default 5000 ms).
    #[serde(default)]
    pub hook_timeout_ms: Option<f64>,
    /// How clients of listeners without a `tenant` find their tenant. Without
    /// it, such listeners serve the default (tenant-less) broker.
    #[serde(default)]
    pub tenancy: Option<TenancyConfig>,
    /// Where retained messages, persistent sessions and their messages are
    /// kept across restarts (absent: in memory only).
    #[serde(default)]
    pub persistence: Option<PersistenceJson>,
}

/// `persistence` as written by the user. An unknown key is an error.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PersistenceJson {
    /// The directory of the stores (created when missing).
    #[serde(default)]
    pub dir: Option<String>,
    /// A Redis URL (`redis://[user:password@]host:port[/db]` or
    /// `unix:///path/to/redis.sock`), instead of `dir`.
    #[serde(default)]
    pub redis: Option<String>,
    /// The prefix of the Redis keys (default `rmqtt-js`).
    #[serde(default)]
    pub key_prefix: Option<String>,
    /// How often written state is `fdatasync`ed, for power loss (default
    /// 1000 ms; a crash of the process loses nothing either way).
    #[serde(default)]
    pub sync_interval_ms: Option<f64>,
}

/// Tenant resolution for listeners that carry no `tenant` of their own. An
/// unknown key is an error.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenancyConfig {
    /// Usernames of the form `user<separator>tenant` name their tenant
    /// (default `@`; `null` turns this off).
    #[serde(default = "default_separator")]
    pub username_separator: Option<String>,
    /// The tenant of clients that no rule resolves (default: refuse them).
    /// It follows the tenant id rule, and must be declared when the server
    /// starts (`BrokerError::UndeclaredTenant` otherwise).
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
    /// Session and packet limits of the listener's clients.
    pub limits: ListenerLimits,
}

/// Per-listener session and packet limits, as rmqtt's listener builder takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerLimits {
    /// Messages queued per session (connected or not) beyond the in-flight
    /// window; further messages are dropped.
    pub max_queued_messages: usize,
    /// Unacknowledged QoS 1/2 messages per session, each direction; MQTT 5
    /// clients lower the outgoing window with their Receive Maximum.
    pub max_inflight: NonZeroU16,
    /// Largest packet (remaining length) a client may send; larger ones
    /// disconnect the client. Advertised to MQTT 5 clients in CONNACK.
    pub max_packet_size: u32,
    /// How long an MQTT 3 persistent session (clean session false) outlives
    /// its connection.
    pub session_expiry_interval: Duration,
    /// Upper bound of every session's expiry interval; zero: no bound.
    pub max_session_expiry_interval: Duration,
    /// Time a new connection has to send a complete CONNECT; then it is closed.
    pub connect_timeout: Duration,
    /// Longest client identifier accepted, in bytes.
    pub max_client_id_len: usize,
    /// Topic aliases an MQTT 5 client may use (Topic Alias Maximum in CONNACK).
    pub max_topic_aliases: u16,
}

/// rmqtt's own listener defaults (`rmqtt::net::Builder::new()`), but for the
/// three safety limits below.
impl Default for ListenerLimits {
    fn default() -> Self {
        ListenerLimits {
            max_queued_messages: 1000,
            max_inflight: NonZeroU16::new(16).expect("non-zero"),
            max_packet_size: 1024 * 1024,
            session_expiry_interval: Duration::from_secs(2 * 60 * 60),
            max_session_expiry_interval: Duration::ZERO,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_client_id_len: DEFAULT_MAX_CLIENT_ID_LEN,
            max_topic_aliases: DEFAULT_MAX_TOPIC_ALIASES,
        }
    }
}

/// rmqtt-js's safe defaults where rmqtt's own are unsafe or absent (rmqtt: a
/// 30 s CONNECT timeout that does not cover the first bytes, 65535-byte
/// client ids, no topic aliases).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_MAX_CLIENT_ID_LEN: usize = 256;
pub const DEFAULT_MAX_TOPIC_ALIASES: u16 = 10;

/// Allowed ranges of the limits (inclusive).
pub const MAX_QUEUED_MESSAGES: (u64, u64) = (1, 1_000_000);
pub const MAX_INFLIGHT: (u64, u64) = (1, 65_535);
/// 128 bytes up to MQTT's largest remaining length (256 MiB - 1).
pub const MAX_PACKET_SIZE: (u64, u64) = (128, 268_435_455);
/// 0 ends an MQTT 3 persistent session with its connection.
pub const SESSION_EXPIRY_INTERVAL_SECS: (u64, u64) = (0, u32::MAX as u64);
pub const MAX_SESSION_EXPIRY_INTERVAL_SECS: (u64, u64) = (1, u32::MAX as u64);
pub const CONNECT_TIMEOUT_SECS: (u64, u64) = (1, 3600);
pub const MAX_CLIENT_ID_LEN: (u64, u64) = (23, 65_535);
pub const MAX_TOPIC_ALIASES: (u64, u64) = (0, 65_535);

/// Paths of a certificate chain and its key, both checked to parse, and the
/// listener's client-certificate rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: String,
    pub key: String,
    /// Client certificates: `None` asks clients for none.
    pub client_auth: Option<ClientAuth>,
}

/// How a TLS listener checks client certificates (mTLS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAuth {
    /// PEM bundle of the CAs a client certificate must chain to (checked to parse).
    pub ca: String,
    /// Refuse, at the TLS layer, a client that presents no certificate. A
    /// presented certificate is always verified against `ca`.
    pub required: bool,
    /// A client that sends no username gets its certificate's common name.
    pub identity_as_username: bool,
}

/// A configuration that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidConfig {
    pub listeners: Vec<ValidListener>,
    pub plugins_config_dir: Option<String>,
    pub hook_timeout: Duration,
    pub tenancy: Option<TenancyConfig>,
    pub persistence: Option<PersistenceConfig>,
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
    /// An unknown key, at the top, in a listener or in `tenancy`, is
    /// [`ConfigError::UnknownKey`], naming the listener and the nearest known key.
    pub fn from_json(json: &str) -> Result<ServerConfig, ConfigError> {
        let malformed = |e: serde_json::Error| {
            // serde's position ("at line 1 column 58") means nothing to a JS caller.
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            ConfigError::Malformed(msg)
        };
        let value: serde_json::Value = serde_json::from_str(json).map_err(malformed)?;
        check_keys(&value)?;
        serde_json::from_value(value).map_err(malformed)
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
                max_queued_messages: None,
                max_inflight: None,
                max_packet_size: None,
                session_expiry_interval_secs: None,
                max_session_expiry_interval_secs: None,
                connect_timeout_secs: None,
                max_client_id_len: None,
                max_topic_aliases: None,
                tls_client_ca: None,
                require_client_cert: None,
                cert_identity_as_username: None,
            }],
            plugins_config_dir: None,
            plugins_default_startups: None,
            hook_timeout_ms: None,
            tenancy: None,
            persistence: None,
        }
    }

    /// Checks everything that can be checked before binding: listeners present,
    /// ports in range and distinct, addresses parse, TLS files exist and parse,
    /// tenant ids follow [`crate::tenants::id::TENANT_ID_RULE`]. Whether those
    /// tenants are declared is checked when the server boots.
    pub fn validate(&self) -> Result<ValidConfig, ConfigError> {
        if self.listeners.is_empty() {
            return Err(ConfigError::NoListeners);
        }
        if let Some(tenancy) = &self.tenancy {
            check_tenant_id(
                || "tenancy.fallbackTenant".to_string(),
                tenancy.fallback_tenant.as_deref(),
            )?;
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
                if l.tls_client_ca.is_some()
                    || l.require_client_cert.is_some()
                    || l.cert_identity_as_username.is_some()
                {
                    return Err(ConfigError::ClientCert {
                        listener: name,
                        problem: format!(
                            "tlsClientCa, requireClientCert and certIdentityAsUsername apply to tls and wss listeners, not {}",
                            l.protocol.as_str()
                        ),
                    });
                }
                None
            };
            let tenant = l.tenant.clone().filter(|t| !t.is_empty());
            check_tenant_id(|| format!("listener `{name}` tenant"), tenant.as_deref())?;
            let gateway = tenant.is_none() && self.tenancy.is_some();
            if gateway && matches!(l.protocol, Protocol::Ws | Protocol::Wss) {
                return Err(ConfigError::TenantListener {
                    listener: name,
                    protocol: l.protocol.as_str(),
                });
            }
            let limits = validate_limits(&name, l)?;
            listeners.push(ValidListener {
                name,
                protocol: l.protocol,
                addr: SocketAddr::new(ip, port),
                tls,
                allow_anonymous: l.allow_anonymous.unwrap_or(true),
                tenant,
                gateway,
                limits,
            });
        }
        let hook_timeout = match self.hook_timeout_ms {
            None => DEFAULT_HOOK_TIMEOUT,
            Some(ms) if ms.is_finite() && (1.0..=600_000.0).contains(&ms) => {
                Duration::from_millis(ms as u64)
            }
            Some(ms) => return Err(ConfigError::HookTimeout(ms)),
        };
        let persistence = match &self.persistence {
            None => None,
            Some(p) => Some(validate_persistence(p)?),
        };
        Ok(ValidConfig {
            listeners,
            plugins_config_dir: self.plugins_config_dir.clone(),
            hook_timeout,
            tenancy: self.tenancy.clone(),
            persistence,
        })
    }
}

/// Refuses the first unknown key of the config, its listeners or `tenancy`
/// (what `deny_unknown_fields` would refuse, but with where and a suggestion).
/// Values of the wrong shape are left to serde.
fn check_keys(config: &serde_json::Value) -> Result<(), ConfigError> {
    let unknown = |object: &serde_json::Value,
                   known: &'static [&'static str],
                   kind: &'static str,
                   context: String| {
        let Some(object) = object.as_object() else {
            return Ok(());
        };
        match strict::unknown_key(object, known) {
            None => Ok(()),
            Some((key, suggestion)) => Err(ConfigError::UnknownKey {
                context,
                kind,
                key,
                suggestion,
                known,
            }),
        }
    };
    unknown(
        config,
        strict::field_names::<ServerConfig>(),
        "config",
        String::new(),
    )?;
    if let Some(listeners) = config.get("listeners").and_then(|l| l.as_array()) {
        for (i, l) in listeners.iter().enumerate() {
            let context = match l.get("name").and_then(|n| n.as_str()) {
                Some(name) if !name.is_empty() => format!("listener `{name}` (listeners[{i}]): "),
                _ => format!("listeners[{i}]: "),
            };
            unknown(
                l,
                strict::field_names::<ListenerConfig>(),
                "listener",
                context,
            )?;
        }
    }
    if let Some(tenancy) = config.get("tenancy") {
        unknown(
            tenancy,
            strict::field_names::<TenancyConfig>(),
            "tenancy",
            String::new(),
        )?;
    }
    if let Some(persistence) = config.get("persistence") {
        unknown(
            persistence,
            strict::field_names::<PersistenceJson>(),
            "persistence",
            "persistence: ".to_string(),
        )?;
    }
    Ok(())
}

fn validate_persistence(p: &PersistenceJson) -> Result<PersistenceConfig, ConfigError> {
    let err = |m: String| Err(ConfigError::Persistence(m));
    let backend = match (&p.dir, &p.redis) {
        (Some(_), Some(_)) => {
            return err(
                "persistence takes either dir (a directory) or redis (a Redis URL), not both"
                    .into(),
            )
        }
        (None, None) => {
            return err("persistence needs dir (a directory) or redis (a Redis URL)".into())
        }
        (Some(dir), None) => {
            if dir.trim().is_empty() {
                return err("persistence.dir must name a directory".into());
            }
            if p.key_prefix.is_some() {
                return err("persistence.keyPrefix goes with persistence.redis, not dir".into());
            }
            Backend::Dir(std::path::PathBuf::from(dir))
        }
        (None, Some(url)) => {
            let scheme_ok = ["redis://", "unix://", "redis+unix://"]
                .iter()
                .any(|s| url.starts_with(s));
            if !scheme_ok {
                return err(format!(
                    "persistence.redis must be a redis:// or unix:// URL (rediss:// is not supported), not {:?}",
                    crate::persistence::redis_url_without_password(url)
                ));
            }
            if let Err(e) = redis::Client::open(url.as_str()) {
                return err(format!(
                    "persistence.redis {:?} is not a valid Redis URL: {e}",
                    crate::persistence::redis_url_without_password(url)
                ));
            }
            let prefix = p.key_prefix.clone().unwrap_or_else(|| "rmqtt-js".into());
            if prefix.is_empty()
                || prefix.len() > 128
                || prefix.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return err(format!(
                    "persistence.keyPrefix {prefix:?} must be 1 to 128 characters without spaces"
                ));
            }
            Backend::Redis {
                url: url.clone(),
                prefix,
            }
        }
    };
    let sync_interval = match p.sync_interval_ms {
        None => Duration::from_secs(1),
        Some(ms) if ms.is_finite() && (1.0..=3_600_000.0).contains(&ms) => {
            Duration::from_millis(ms as u64)
        }
        Some(ms) => {
            return err(format!(
                "persistence.syncIntervalMs {ms} must be between 1 and 3600000"
            ))
        }
    };
    Ok(PersistenceConfig {
        backend,
        sync_interval,
    })
}

/// A tenant id written in the config (`None`: absent), checked against the rule.
fn check_tenant_id(field: impl FnOnce() -> String, id: Option<&str>) -> Result<(), ConfigError> {
    match id {
        Some(id) if !is_valid_tenant_id(id) => Err(ConfigError::InvalidTenant {
            field: field(),
            id: tenant_id::shown(id),
        }),
        _ => Ok(()),
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

fn validate_limits(listener: &str, l: &ListenerConfig) -> Result<ListenerLimits, ConfigError> {
    let d = ListenerLimits::default();
    let limit = |field: &'static str,
                 value: &Option<serde_json::Value>,
                 (min, max): (u64, u64)|
     -> Result<Option<u64>, ConfigError> {
        let Some(value) = value else {
            return Ok(None);
        };
        match value.as_f64() {
            Some(v) if v.fract() == 0.0 && (min as f64..=max as f64).contains(&v) => {
                Ok(Some(v as u64))
            }
            _ => Err(ConfigError::Limit {
                listener: listener.to_string(),
                field,
                value: value.to_string(),
                min,
                max,
            }),
        }
    };
    let secs = Duration::from_secs;
    Ok(ListenerLimits {
        max_queued_messages: limit(
            "maxQueuedMessages",
            &l.max_queued_messages,
            MAX_QUEUED_MESSAGES,
        )?
        .map_or(d.max_queued_messages, |v| v as usize),
        max_inflight: limit("maxInflight", &l.max_inflight, MAX_INFLIGHT)?
            .and_then(|v| NonZeroU16::new(v as u16))
            .unwrap_or(d.max_inflight),
        max_packet_size: limit("maxPacketSize", &l.max_packet_size, MAX_PACKET_SIZE)?
            .map_or(d.max_packet_size, |v| v as u32),
        session_expiry_interval: limit(
            "sessionExpiryIntervalSecs",
            &l.session_expiry_interval_secs,
            SESSION_EXPIRY_INTERVAL_SECS,
        )?
        .map_or(d.session_expiry_interval, secs),
        max_session_expiry_interval: limit(
            "maxSessionExpiryIntervalSecs",
            &l.max_session_expiry_interval_secs,
            MAX_SESSION_EXPIRY_INTERVAL_SECS,
        )?
        .map_or(d.max_session_expiry_interval, secs),
        connect_timeout: limit(
            "connectTimeoutSecs",
            &l.connect_timeout_secs,
            CONNECT_TIMEOUT_SECS,
        )?
        .map_or(d.connect_timeout, secs),
        max_client_id_len: limit("maxClientIdLen", &l.max_client_id_len, MAX_CLIENT_ID_LEN)?
            .map_or(d.max_client_id_len, |v| v as usize),
        max_topic_aliases: limit("maxTopicAliases", &l.max_topic_aliases, MAX_TOPIC_ALIASES)?
            .map_or(d.max_topic_aliases, |v| v as u16),
    })
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
        client_auth: validate_client_auth(listener, l)?,
    })
}

/// The mTLS options of a tls/wss listener; `tlsClientCa` is what turns them on.
fn validate_client_auth(
    listener: &str,
    l: &ListenerConfig,
) -> Result<Option<ClientAuth>, ConfigError> {
    let client_err = |problem: &str| ConfigError::ClientCert {
        listener: listener.to_string(),
        problem: problem.to_string(),
    };
    let Some(ca) = l.tls_client_ca.as_ref().filter(|s| !s.is_empty()) else {
        if l.require_client_cert == Some(true) {
            return Err(client_err(
                "requireClientCert needs tlsClientCa (the CAs that sign client certificates)",
            ));
        }
        if l.cert_identity_as_username == Some(true) {
            return Err(client_err(
                "certIdentityAsUsername needs tlsClientCa (the CAs that sign client certificates)",
            ));
        }
        return Ok(None);
    };
    let ca_err = |problem: String| ConfigError::TlsFile {
        listener: listener.to_string(),
        path: ca.clone(),
        problem,
    };
    if !Path::new(ca).is_file() {
        return Err(ca_err("file not found".into()));
    }
    let cas = CertificateDer::pem_file_iter(ca)
        .map_err(|e| ca_err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ca_err(e.to_string()))?;
    if cas.is_empty() {
        return Err(ca_err("no PEM certificate in file".into()));
    }
    Ok(Some(ClientAuth {
        ca: ca.clone(),
        required: l.require_client_cert.unwrap_or(false),
        identity_as_username: l.cert_identity_as_username.unwrap_or(false),
    }))
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
            (
                r#"{"listeners":[{"port":1883,"protocol":"tcp","maxInflight":0}]}"#,
                "ERR_CONFIG_LIMIT",
            ),
        ];
        for (json, code) in cases {
            let err = config(json).expect_err(json);
            assert_eq!(err.code(), code, "{json}: {err}");
        }
    }

    #[test]
    fn an_unknown_key_names_where_it_is_and_the_nearest_known_key() {
        let cases = [
            (
                r#"{"listeners":[{"name":"tcp","port":0,"protocol":"tcp","allowAnonymus":false}]}"#,
                r#"invalid configuration: listener `tcp` (listeners[0]): unknown listener key "allowAnonymus" (did you mean "allowAnonymous"?)"#,
            ),
            (
                r#"{"listeners":[{"port":0,"protocol":"tcp"},{"port":0,"protocol":"tcp","maxClientIDLen":30}]}"#,
                r#"invalid configuration: listeners[1]: unknown listener key "maxClientIDLen" (did you mean "maxClientIdLen"?)"#,
            ),
            (
                r#"{"listeners":[{"port":0,"protocol":"tcp"}],"hookTimeout":5}"#,
                r#"invalid configuration: unknown config key "hookTimeout" (did you mean "hookTimeoutMs"?)"#,
            ),
            (
                r#"{"listeners":[{"port":0,"protocol":"tcp"}],"tenancy":{"fallback":"a"}}"#,
                r#"invalid configuration: unknown tenancy key "fallback" (known keys: usernameSeparator, fallbackTenant)"#,
            ),
        ];
        for (json, message) in cases {
            let err = ServerConfig::from_json(json).expect_err(json);
            assert_eq!(err.code(), "ERR_INVALID_CONFIG");
            assert_eq!(err.to_string(), message);
            assert!(matches!(err, ConfigError::UnknownKey { .. }), "{err:?}");
        }
    }

    #[test]
    fn serde_itself_denies_unknown_fields() {
        let json = r#"{"listeners":[{"port":0,"protocol":"tcp","allowAnonymus":false}]}"#;
        let err = serde_json::from_str::<ServerConfig>(json).expect_err("unknown field");
        assert!(
            err.to_string().contains("unknown field `allowAnonymus`"),
            "{err}"
        );
        let json = r#"{"usernameSeparator":"@","fallbackTenant":"a","x":1}"#;
        assert!(serde_json::from_str::<TenancyConfig>(json).is_err());
    }

    #[test]
    fn every_documented_key_is_known_and_the_seed_keys_are_accepted() {
        let listener = strict::field_names::<ListenerConfig>();
        for key in [
            "name",
            "address",
            "port",
            "protocol",
            "tlsCert",
            "tlsKey",
            "allowAnonymous",
            "tenant",
            "connectTimeoutSecs",
            "maxClientIdLen",
            "maxTopicAliases",
            "tlsClientCa",
            "requireClientCert",
            "certIdentityAsUsername",
        ] {
            assert!(listener.contains(&key), "{key}");
        }
        config(
            r#"{"listeners":[{"name":"tcp","address":"127.0.0.1","port":0,"protocol":"tcp",
            "allowAnonymous":true}],"pluginsConfigDir":null,"pluginsDefaultStartups":["rmqtt-acl"]}"#,
        )
        .expect("the seed's keys are accepted");
    }

    #[test]
    fn tenant_ids_in_the_config_follow_the_rule() {
        for id in ["#", "+", "a/b", ".", "..", "$SYS", r"a\u0000b", "a@b"] {
            let json = format!(
                r#"{{"listeners":[{{"name":"t","port":0,"protocol":"tcp","tenant":"{id}"}}]}}"#
            );
            let err = config(&json).expect_err(&json);
            assert_eq!(err.code(), "ERR_INVALID_TENANT", "{json}: {err}");
            assert!(err.to_string().contains("listener `t` tenant"), "{err}");
            let json = format!(
                r#"{{"listeners":[{{"port":0,"protocol":"tcp"}}],"tenancy":{{"fallbackTenant":"{id}"}}}}"#
            );
            let err = config(&json).expect_err(&json);
            assert_eq!(err.code(), "ERR_INVALID_TENANT", "{json}: {err}");
            assert!(
                err.to_string().contains("tenancy.fallbackTenant")
                    && err.to_string().contains(tenant_id::TENANT_ID_RULE),
                "{err}"
            );
        }
        let long = "x".repeat(300);
        let json = format!(r#"{{"listeners":[{{"port":0,"protocol":"tcp","tenant":"{long}"}}]}}"#);
        assert_eq!(
            config(&json).expect_err("long").code(),
            "ERR_INVALID_TENANT"
        );
        let c = config(
            r#"{"listeners":[{"port":0,"protocol":"tcp","tenant":"A-b_c.9"},
            {"port":0,"protocol":"tcp","tenant":""}],"tenancy":{"fallbackTenant":"acme"}}"#,
        )
        .expect("valid ids; an empty tenant is none");
        assert_eq!(c.listeners[0].tenant.as_deref(), Some("A-b_c.9"));
        assert!(c.listeners[1].gateway);
    }

    #[test]
    fn default_limits_are_rmqtt_defaults() {
        let b = rmqtt::net::Builder::new();
        let d = ListenerLimits::default();
        assert_eq!(d.max_queued_messages, b.max_mqueue_len);
        assert_eq!(d.max_inflight, b.max_inflight);
        assert_eq!(d.max_packet_size, b.max_packet_size);
        assert_eq!(d.session_expiry_interval, b.session_expiry_interval);
        assert_eq!(d.max_session_expiry_interval, b.max_session_expiry_interval);
        // The safety limits are stricter than rmqtt's.
        assert!(d.connect_timeout < b.handshake_timeout);
        assert!(d.max_client_id_len < b.max_clientid_len);
        let c = config(r#"{"listeners":[{"port":0,"protocol":"tcp"}]}"#).expect("valid");
        assert_eq!(c.listeners[0].limits, d);
    }

    #[test]
    fn limits_are_read() {
        let c = config(
            r#"{"listeners":[{"port":0,"protocol":"tcp","maxQueuedMessages":5000,
            "maxInflight":65535,"maxPacketSize":128,"sessionExpiryIntervalSecs":0,
            "maxSessionExpiryIntervalSecs":4294967295}]}"#,
        )
        .expect("valid");
        let l = c.listeners[0].limits;
        assert_eq!(l.max_queued_messages, 5000);
        assert_eq!(l.max_inflight.get(), 65535);
        assert_eq!(l.max_packet_size, 128);
        assert_eq!(l.session_expiry_interval, Duration::ZERO);
        assert_eq!(
            l.max_session_expiry_interval,
            Duration::from_secs(u32::MAX as u64)
        );
    }

    #[test]
    fn a_limit_out_of_range_names_listener_field_and_range() {
        let cases = [
            ("maxQueuedMessages", "0", "from 1 to 1000000"),
            ("maxQueuedMessages", "1000001", "from 1 to 1000000"),
            ("maxQueuedMessages", "2.5", "from 1 to 1000000"),
            ("maxQueuedMessages", "\"10\"", "from 1 to 1000000"),
            ("maxQueuedMessages", "null", "from 1 to 1000000"),
            ("maxInflight", "0", "from 1 to 65535"),
            ("maxInflight", "65536", "from 1 to 65535"),
            ("maxInflight", "-1", "from 1 to 65535"),
            ("maxPacketSize", "127", "from 128 to 268435455"),
            ("maxPacketSize", "268435456", "from 128 to 268435455"),
            ("sessionExpiryIntervalSecs", "-1", "from 0 to 4294967295"),
            (
                "sessionExpiryIntervalSecs",
                "4294967296",
                "from 0 to 4294967295",
            ),
            ("maxSessionExpiryIntervalSecs", "0", "from 1 to 4294967295"),
        ];
        for (field, value, range) in cases {
            let json = format!(
                r#"{{"listeners":[{{"name":"edge","port":0,"protocol":"tcp","{field}":{value}}}]}}"#
            );
            let err = config(&json).expect_err(&json);
            assert_eq!(err.code(), "ERR_CONFIG_LIMIT", "{json}: {err}");
            let msg = err.to_string();
            assert!(
                msg.contains("`edge`") && msg.contains(field) && msg.contains(range),
                "{msg}"
            );
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

    #[test]
    fn persistence_takes_a_dir_or_a_redis_url() {
        let with = |p: &str| {
            config(&format!(
                r#"{{"listeners":[{{"port":1883,"protocol":"tcp"}}],"persistence":{p}}}"#
            ))
        };
        let redis = with(r#"{"redis":"redis://:secret@127.0.0.1:6390/2","keyPrefix":"app1"}"#)
            .unwrap()
            .persistence
            .unwrap();
        assert_eq!(
            redis.backend,
            Backend::Redis {
                url: "redis://:secret@127.0.0.1:6390/2".into(),
                prefix: "app1".into()
            }
        );
        let default_prefix = with(r#"{"redis":"redis://127.0.0.1"}"#).unwrap();
        assert!(matches!(
            default_prefix.persistence.unwrap().backend,
            Backend::Redis { prefix, .. } if prefix == "rmqtt-js"
        ));
        for (p, needle) in [
            (r#"{"dir":"/tmp/x","redis":"redis://h"}"#, "not both"),
            (r#"{}"#, "needs dir"),
            (r#"{"redis":"http://h"}"#, "redis:// or unix://"),
            (r#"{"redis":"rediss://h"}"#, "rediss:// is not supported"),
            (
                r#"{"redis":"redis://:pw@h:notaport"}"#,
                "not a valid Redis URL",
            ),
            (r#"{"redis":"redis://h","keyPrefix":"a b"}"#, "keyPrefix"),
            (r#"{"redis":"redis://h","keyPrefix":""}"#, "keyPrefix"),
            (
                r#"{"dir":"/tmp/x","keyPrefix":"p"}"#,
                "goes with persistence.redis",
            ),
        ] {
            let e = with(p).expect_err(p);
            assert_eq!(e.code(), "ERR_CONFIG_PERSISTENCE", "{p}: {e}");
            assert!(e.to_string().contains(needle), "{p}: {e}");
            assert!(
                !e.to_string().contains("pw"),
                "{p}: the password shows: {e}"
            );
        }
    }
}
