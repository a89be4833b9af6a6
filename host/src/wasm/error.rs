//! Why a policy could not be loaded.

use std::path::PathBuf;

/// A policy load failure, with a stable [`LoadError::code`] per variant
/// (the JS API's error `code`).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The policy file could not be read.
    #[error("cannot read policy {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not a WebAssembly component (not wasm at all, or a core
    /// module).
    #[error("not a WebAssembly component: {0}")]
    Invalid(String),
    /// The component speaks another version of `rmqtt:hooks` (or another
    /// package), mixes versions, or an export's signature differs from the
    /// contract of its version.
    #[error(
        "policy was built against `{found}`, this host speaks rmqtt:hooks@{expected}: {detail}"
    )]
    WitVersion {
        found: String,
        expected: &'static str,
        detail: String,
    },
    /// The component exports none of the hook interfaces.
    #[error(
        "policy exports none of rmqtt:hooks/{{authenticate, authorize-subscribe, \
         authorize-publish, events, tenant-resolver}}@{{0.2.0, 0.1.0}} (it exports: [{}])",
        exports.join(", ")
    )]
    NoExports { exports: Vec<String> },
    /// The component imports something the host does not provide.
    #[error(
        "policy imports `{import}`, which the host does not provide{}",
        detail_suffix(detail)
    )]
    UnsatisfiedImport { import: String, detail: String },
    /// The component failed validation or compilation.
    #[error("policy failed to compile: {0}")]
    Compile(String),
    /// The first instance could not be created (its start code trapped, or it
    /// needs more than the limits allow).
    #[error("policy failed to instantiate: {0}")]
    Instantiate(String),
    /// The load options are out of range.
    #[error("invalid policy options: {0}")]
    Options(String),
    /// The policy's `lifecycle.init` (0.2.0) returned an error.
    #[error("policy init failed: {0}")]
    Init(String),
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    }
}

impl LoadError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            LoadError::Io { .. } => "ERR_POLICY_IO",
            LoadError::Invalid(_) => "ERR_POLICY_INVALID",
            LoadError::WitVersion { .. } => "ERR_POLICY_WIT_VERSION",
            LoadError::NoExports { .. } => "ERR_POLICY_NO_EXPORTS",
            LoadError::UnsatisfiedImport { .. } => "ERR_POLICY_UNSATISFIED_IMPORT",
            LoadError::Compile(_) => "ERR_POLICY_COMPILE",
            LoadError::Instantiate(_) => "ERR_POLICY_INSTANTIATE",
            LoadError::Options(_) => "ERR_POLICY_OPTIONS",
            LoadError::Init(_) => "ERR_POLICY_INIT",
        }
    }
}
