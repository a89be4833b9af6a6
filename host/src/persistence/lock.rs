//! One running server per persistence directory: an exclusive lock on
//! `<dir>/rmqtt-js.lock`, held for as long as the server runs (the OS drops
//! it when the process dies, so a crash never leaves a stale lock).

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use super::PersistenceError;

pub const LOCK_FILE: &str = "rmqtt-js.lock";

/// Held while a server uses the directory.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
    pub dir: PathBuf,
}

/// Checks that `dir` is a writable directory (creating it when missing) and
/// takes its lock.
pub fn lock_dir(dir: &Path) -> Result<DirLock, PersistenceError> {
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => {
            return Err(PersistenceError::NotADirectory {
                path: dir.to_path_buf(),
            })
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(|e| not_writable(dir, &e))?
        }
        Err(e) => return Err(not_writable(dir, &e)),
    }
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| not_writable(dir, &e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(PersistenceError::Locked {
                path: dir.to_path_buf(),
            })
        }
        Err(TryLockError::Error(e)) => return Err(not_writable(dir, &e)),
    }
    Ok(DirLock {
        _file: file,
        dir: dir.to_path_buf(),
    })
}

fn not_writable(dir: &Path, e: &std::io::Error) -> PersistenceError {
    PersistenceError::NotWritable {
        path: dir.to_path_buf(),
        reason: e.to_string(),
    }
}
