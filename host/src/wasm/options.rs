//! What to load and how: the policy source and its limits.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where a policy component comes from.
#[derive(Debug, Clone)]
pub enum PolicySource {
    /// A `.wasm` component file.
    Path(PathBuf),
    /// The component's bytes.
    Bytes(Arc<[u8]>),
}

impl From<PathBuf> for PolicySource {
    fn from(p: PathBuf) -> Self {
        PolicySource::Path(p)
    }
}

impl From<&std::path::Path> for PolicySource {
    fn from(p: &std::path::Path) -> Self {
        PolicySource::Path(p.to_path_buf())
    }
}

impl From<Vec<u8>> for PolicySource {
    fn from(b: Vec<u8>) -> Self {
        PolicySource::Bytes(b.into())
    }
}

impl From<&[u8]> for PolicySource {
    fn from(b: &[u8]) -> Self {
        PolicySource::Bytes(b.into())
    }
}

impl From<Arc<[u8]>> for PolicySource {
    fn from(b: Arc<[u8]>) -> Self {
        PolicySource::Bytes(b)
    }
}

/// Default per-call deadline.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(50);
/// Default cap on each linear memory of an instance.
pub const DEFAULT_MAX_MEMORY_BYTES: usize = 64 << 20;
/// Default cap on live instances (= concurrent calls) of one policy.
pub const DEFAULT_MAX_INSTANCES: usize = 16;

/// How a policy is loaded and limited.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Names the policy in logs and errors.
    pub name: String,
    /// The tenant the policy serves, for log tags.
    pub tenant: Option<String>,
    /// Per-call deadline: past it the guest is interrupted
    /// (`HookError::DeadlineExceeded`).
    pub timeout: Duration,
    /// Cap on each linear memory of an instance; growing past it traps.
    pub max_memory_bytes: usize,
    /// Cap on live instances, i.e. calls running at once.
    pub max_instances: usize,
    /// How long a call waits for a free instance when `max_instances` are
    /// busy before failing with `HookError::Overloaded` (zero: fail at once).
    /// `None`: as long as [`LoadOptions::timeout`] (see [`LoadOptions::effective_max_wait`]).
    pub max_wait: Option<Duration>,
    /// Directory of the compiled-artifact cache; `None`: [`default_cache_dir`].
    pub cache_dir: Option<PathBuf>,
    /// Whether to read and write the on-disk cache at all.
    pub disk_cache: bool,
    /// What the policy reads with `host.config()` (0.2.0): any string, JSON
    /// by convention. At most [`MAX_CONFIG_BYTES`].
    pub config: Option<Arc<str>>,
}

/// Longest config string a policy may be given.
pub const MAX_CONFIG_BYTES: usize = 1 << 20;

impl LoadOptions {
    /// Defaults for a policy called `name`.
    pub fn new(name: impl Into<String>) -> LoadOptions {
        LoadOptions {
            name: name.into(),
            ..LoadOptions::default()
        }
    }

    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn max_memory_bytes(mut self, bytes: usize) -> Self {
        self.max_memory_bytes = bytes;
        self
    }

    pub fn max_instances(mut self, n: usize) -> Self {
        self.max_instances = n;
        self
    }

    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.max_wait = Some(wait);
        self
    }

    /// The wait for a free instance in force: `max_wait`, else the timeout.
    pub fn effective_max_wait(&self) -> Duration {
        self.max_wait.unwrap_or(self.timeout)
    }

    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    pub fn disk_cache(mut self, enabled: bool) -> Self {
        self.disk_cache = enabled;
        self
    }

    pub fn config(mut self, config: impl Into<Arc<str>>) -> Self {
        self.config = Some(config.into());
        self
    }
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            name: "policy".into(),
            tenant: None,
            timeout: DEFAULT_TIMEOUT,
            max_memory_bytes: DEFAULT_MAX_MEMORY_BYTES,
            max_instances: DEFAULT_MAX_INSTANCES,
            max_wait: None,
            cache_dir: None,
            disk_cache: true,
            config: None,
        }
    }
}

/// Environment variable naming the cache directory.
pub const CACHE_DIR_ENV: &str = "RMQTT_JS_CACHE_DIR";

/// `$RMQTT_JS_CACHE_DIR`, else the OS cache directory + `rmqtt-js`
/// (`$XDG_CACHE_HOME`, `~/.cache`, `~/Library/Caches`, `%LOCALAPPDATA%`),
/// else `rmqtt-js-cache` in the temp directory.
pub fn default_cache_dir() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = env(CACHE_DIR_ENV) {
        return dir;
    }
    let os_cache = if cfg!(windows) {
        env("LOCALAPPDATA")
    } else if cfg!(target_os = "macos") {
        env("HOME").map(|h| h.join("Library/Caches"))
    } else {
        env("XDG_CACHE_HOME").or_else(|| env("HOME").map(|h| h.join(".cache")))
    };
    match os_cache {
        Some(dir) => dir.join("rmqtt-js"),
        None => std::env::temp_dir().join("rmqtt-js-cache"),
    }
}
