//! The persistence directory of one broker launch: a fresh directory under
//! the system temp dir, removed when the broker is done with it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

pub struct StoreDir {
    path: PathBuf,
}

impl StoreDir {
    /// Creates a new, empty directory (never one left by an earlier launch).
    pub fn fresh() -> Result<StoreDir, String> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let base = std::env::temp_dir();
        for _ in 0..100 {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = base.join(format!("rmqtt-js-bench-store-{}-{n}", std::process::id()));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(StoreDir { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(format!("cannot create {}: {e}", path.display())),
            }
        }
        Err("no fresh store directory after 100 tries".into())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes of the default broker's store log (`<dir>/default/store.log`).
    pub fn log_bytes(&self) -> Result<u64, String> {
        let log = self.path.join("default/store.log");
        std::fs::metadata(&log)
            .map(|m| m.len())
            .map_err(|e| format!("cannot read {}: {e}", log.display()))
    }
}

impl Drop for StoreDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_store_dir_is_new_and_goes_away_when_dropped() {
        let a = StoreDir::fresh().expect("a dir");
        let b = StoreDir::fresh().expect("another dir");
        assert_ne!(a.path(), b.path());
        std::fs::create_dir(a.path().join("default")).unwrap();
        std::fs::write(a.path().join("default/store.log"), [0u8; 10]).unwrap();
        assert_eq!(a.log_bytes(), Ok(10));
        assert!(b.log_bytes().is_err());
        let path = a.path().to_path_buf();
        drop(a);
        assert!(!path.exists());
    }
}
