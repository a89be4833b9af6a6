//! Errors of the host's public API. Each variant has a stable `code()` that the
//! Node API exposes as `error.code`.

/// A configuration that cannot be started.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Malformed(String),
    /// A key no field takes (`context`: where, e.g. `listeners[0] ("tcp"): `;
    /// `kind`: whose key, e.g. `listener`), with the nearest known key when
    /// one is close, else the known keys.
    #[error("invalid configuration: {context}unknown {kind} key \"{key}\" {}", crate::strict::hint(*.suggestion, .known))]
    UnknownKey {
        context: String,
        kind: &'static str,
        key: String,
        suggestion: Option<&'static str>,
        known: &'static [&'static str],
    },
    /// A tenant id that breaks [`crate::tenants::id::TENANT_ID_RULE`]
    /// (`field`: where it was written; `id`: quoted).
    #[error("invalid configuration: {field} is {id}, not a valid tenant id: {rule}", rule = crate::tenants::id::TENANT_ID_RULE)]
    InvalidTenant { field: String, id: String },
    #[error("invalid configuration: at least one listener is required")]
    NoListeners,
    #[error("invalid configuration: listener `{listener}` has port {port}; use an integer from 1 to 65535 (0 lets the OS pick)")]
    Port { listener: String, port: String },
    #[error("invalid configuration: listener `{listener}` repeats port {port}")]
    DuplicatePort { listener: String, port: u16 },
    #[error(
        "invalid configuration: listener `{listener}` ({protocol}) needs both tlsCert and tlsKey"
    )]
    TlsMissing {
        listener: String,
        protocol: &'static str,
    },
    #[error("invalid configuration: listener `{listener}`: {path}: {problem}")]
    TlsFile {
        listener: String,
        path: String,
        problem: String,
    },
    #[error("invalid configuration: listener `{listener}` has address `{address}`, which is neither an IP address nor a host name that resolves")]
    Address { listener: String, address: String },
    #[error("invalid configuration: hookTimeoutMs {0} must be between 1 and 600000")]
    HookTimeout(f64),
    #[error("invalid configuration: listener `{listener}` ({protocol}) needs a `tenant`: only tcp and tls listeners resolve tenants at CONNECT")]
    TenantListener {
        listener: String,
        protocol: &'static str,
    },
    #[error("invalid configuration: listener `{listener}`: {problem}")]
    ClientCert { listener: String, problem: String },
    #[error("invalid configuration: {0}")]
    Persistence(String),
    #[error("invalid configuration: listener `{listener}` has {field} {value}; use an integer from {min} to {max}")]
    Limit {
        listener: String,
        field: &'static str,
        value: String,
        min: u64,
        max: u64,
    },
}

impl ConfigError {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            ConfigError::Malformed(_) | ConfigError::UnknownKey { .. } => "ERR_INVALID_CONFIG",
            ConfigError::InvalidTenant { .. } => "ERR_INVALID_TENANT",
            ConfigError::NoListeners => "ERR_CONFIG_NO_LISTENERS",
            ConfigError::Port { .. } => "ERR_CONFIG_PORT",
            ConfigError::DuplicatePort { .. } => "ERR_CONFIG_DUPLICATE_PORT",
            ConfigError::TlsMissing { .. } => "ERR_CONFIG_TLS_MISSING",
            ConfigError::TlsFile { .. } => "ERR_CONFIG_TLS_FILE",
            ConfigError::Address { .. } => "ERR_CONFIG_ADDRESS",
            ConfigError::HookTimeout(_) => "ERR_CONFIG_HOOK_TIMEOUT",
            ConfigError::TenantListener { .. } => "ERR_CONFIG_TENANT_LISTENER",
            ConfigError::Limit { .. } => "ERR_CONFIG_LIMIT",
            ConfigError::ClientCert { .. } => "ERR_CONFIG_CLIENT_CERT",
            ConfigError::Persistence(_) => "ERR_CONFIG_PERSISTENCE",
        }
    }
}

/// Anything the broker's public operations can fail with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BrokerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("the server is already running")]
    AlreadyRunning,
    #[error("the server is not running; call start() first")]
    NotRunning,
    #[error("listener `{listener}` could not bind {addr}: {reason}")]
    Bind {
        listener: String,
        addr: String,
        reason: String,
    },
    #[error("listener `{listener}`: TLS setup failed: {reason}")]
    Tls { listener: String, reason: String },
    #[error("invalid QoS {0}; use 0, 1 or 2")]
    InvalidQos(String),
    #[error("invalid topic `{topic}`: {reason}")]
    InvalidTopic { topic: String, reason: &'static str },
    #[error("unknown tenant `{0}`")]
    UnknownTenant(String),
    #[error("tenant `{0}` is already declared")]
    TenantExists(String),
    /// A config names a tenant that `add_tenant` did not declare (`field`:
    /// where, e.g. ``listener `x` tenant``).
    #[error(
        "{field} names tenant `{id}`, which is not declared; declare it (addTenant) before start"
    )]
    UndeclaredTenant { field: String, id: String },
    /// `id` (quoted) breaks [`crate::tenants::id::TENANT_ID_RULE`].
    #[error("invalid tenant id {0}: {rule}", rule = crate::tenants::id::TENANT_ID_RULE)]
    InvalidTenant(String),
    #[error(transparent)]
    Persistence(#[from] crate::persistence::PersistenceError),
    #[error("the broker failed: {0}")]
    Internal(String),
}

impl BrokerError {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            BrokerError::Config(e) => e.code(),
            BrokerError::AlreadyRunning => "ERR_ALREADY_RUNNING",
            BrokerError::NotRunning => "ERR_NOT_RUNNING",
            BrokerError::Bind { .. } => "ERR_BIND",
            BrokerError::Tls { .. } => "ERR_CONFIG_TLS_FILE",
            BrokerError::InvalidQos(_) => "ERR_INVALID_QOS",
            BrokerError::InvalidTopic { .. } => "ERR_INVALID_TOPIC",
            BrokerError::UnknownTenant(_) => "ERR_TENANT_UNKNOWN",
            BrokerError::TenantExists(_) => "ERR_TENANT_EXISTS",
            BrokerError::UndeclaredTenant { .. } => "ERR_TENANT_UNKNOWN",
            BrokerError::InvalidTenant(_) => "ERR_INVALID_TENANT",
            BrokerError::Persistence(e) => e.code(),
            BrokerError::Internal(_) => "ERR_INTERNAL",
        }
    }
}
