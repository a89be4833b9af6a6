//! What opening or writing a persistent store can fail with. Each variant has
//! a stable `code()` (`ERR_PERSISTENCE_*`), which the Node API exposes as
//! `error.code`.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PersistenceError {
    #[error("persistence.dir {path:?} is not a directory")]
    NotADirectory { path: PathBuf },
    #[error("persistence.dir {path:?} is not writable: {reason}")]
    NotWritable { path: PathBuf, reason: String },
    #[error(
        "persistence.dir {path:?} is in use by another running server (its lock file is held)"
    )]
    Locked { path: PathBuf },
    #[error("the store {path:?} is damaged at byte {offset}: {reason}; move it away to start empty, or restore a backup")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("the store {path:?} could not be read or written: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("persistence.redis {url:?}: {reason}")]
    Redis { url: String, reason: String },
    #[error("persistence.redis {url:?} key {key:?} is held by {holder}, which is running or died less than 30 s ago (its lock expires 30 s after its last refresh); use another keyPrefix for a second server")]
    RedisLocked {
        url: String,
        key: String,
        holder: String,
    },
}

impl PersistenceError {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            PersistenceError::NotADirectory { .. } => "ERR_PERSISTENCE_NOT_A_DIRECTORY",
            PersistenceError::NotWritable { .. } => "ERR_PERSISTENCE_NOT_WRITABLE",
            PersistenceError::Locked { .. } => "ERR_PERSISTENCE_LOCKED",
            PersistenceError::Corrupt { .. } => "ERR_PERSISTENCE_CORRUPT",
            PersistenceError::Io { .. } => "ERR_PERSISTENCE_IO",
            PersistenceError::Redis { .. } => "ERR_PERSISTENCE_REDIS",
            PersistenceError::RedisLocked { .. } => "ERR_PERSISTENCE_LOCKED",
        }
    }

    pub(crate) fn io(path: &std::path::Path, e: &std::io::Error) -> PersistenceError {
        PersistenceError::Io {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }
    }
}
