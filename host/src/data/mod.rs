//! The key-value data of a broker context (`server.data`, `tenant.data`)
//! that policies read with `rmqtt:hooks/data.get` and JS hooks read directly.
//!
//! Writers (Node) build a new version of the map and swap it in; readers take
//! the current version with one `Arc` clone under a read lock held for
//! nanoseconds, so a decision never waits for a writer, and one call sees
//! one consistent snapshot. The map is persistent ([`imbl::HashMap`]): a
//! version shares its structure with the previous one, so `set` is
//! O(log n) and a snapshot is O(1) however large the data is.
//!
//! Every context has its own [`ContextData`]; a call finds the one it serves
//! through [`scope::serving`] (set by the hook router around each call).

pub mod scope;

use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;

/// Default cap on a context's data: keys plus values, in bytes.
pub const DEFAULT_MAX_DATA_BYTES: u64 = 64 << 20;
/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// Why an update was refused. The data is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    /// The update would take the data past its cap.
    #[error("the data would hold {would_be} bytes, over its cap of {limit} bytes (maxDataBytes)")]
    TooLarge { limit: u64, would_be: u64 },
    /// A key is empty or too long.
    #[error("invalid key {key:?}: a key is 1 to {MAX_KEY_BYTES} bytes")]
    BadKey { key: String },
}

/// One version of the data.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    map: imbl::HashMap<Arc<str>, Bytes>,
    bytes: u64,
}

impl Snapshot {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Bytes> {
        self.map.get(key)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Bytes of keys plus values.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Every key and value, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Bytes)> {
        self.map.iter().map(|(k, v)| (&**k, v))
    }
}

fn entry_bytes(key: &str, value: &[u8]) -> u64 {
    (key.len() + value.len()) as u64
}

fn check_key(key: &str) -> Result<(), DataError> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(DataError::BadKey {
            key: key.chars().take(64).collect(),
        });
    }
    Ok(())
}

/// Lets go of a snapshot a call read. When it is the last holder of an old
/// version (a `replace` happened meanwhile), the version is freed on a
/// thread of its own: freeing 10,000 entries takes milliseconds, which must
/// not land on a decision.
pub fn release(snapshot: Arc<Snapshot>) {
    if Arc::strong_count(&snapshot) > 1 {
        return; // others hold it: this is a decrement
    }
    static RECLAIM: std::sync::OnceLock<Option<std::sync::mpsc::Sender<Arc<Snapshot>>>> =
        std::sync::OnceLock::new();
    let tx = RECLAIM.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Arc<Snapshot>>();
        std::thread::Builder::new()
            .name("rmqtt-js-data-reclaim".into())
            .spawn(move || rx.into_iter().for_each(drop))
            .ok()
            .map(|_| tx)
    });
    if let Some(tx) = tx {
        let _ = tx.send(snapshot);
    }
}

/// The data of one broker context.
#[derive(Debug)]
pub struct ContextData {
    current: RwLock<Arc<Snapshot>>,
    /// Serializes writers (readers never take it).
    write: Mutex<()>,
    max_bytes: std::sync::atomic::AtomicU64,
}

impl Default for ContextData {
    fn default() -> Self {
        ContextData::new(DEFAULT_MAX_DATA_BYTES)
    }
}

impl ContextData {
    pub fn new(max_bytes: u64) -> ContextData {
        ContextData {
            current: RwLock::new(Arc::default()),
            write: Mutex::new(()),
            max_bytes: max_bytes.into(),
        }
    }

    /// The current version (what the next call reads).
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn get(&self, key: &str) -> Option<Bytes> {
        self.snapshot().get(key).cloned()
    }

    pub fn len(&self) -> usize {
        self.snapshot().len()
    }

    pub fn is_empty(&self) -> bool {
        self.snapshot().is_empty()
    }

    pub fn bytes(&self) -> u64 {
        self.snapshot().bytes()
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Changes the cap; refused (nothing changes) when the data already
    /// holds more.
    pub fn set_max_bytes(&self, max: u64) -> Result<(), DataError> {
        let _w = self.writer();
        let bytes = self.snapshot().bytes;
        if bytes > max {
            return Err(DataError::TooLarge {
                limit: max,
                would_be: bytes,
            });
        }
        self.max_bytes
            .store(max, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, ()> {
        self.write.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, next: Snapshot) {
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        let old = std::mem::replace(&mut *current, Arc::new(next));
        drop(current);
        // Freeing a large map takes milliseconds: never under the lock that
        // readers take, nor on the writer's (Node's) thread.
        release(old);
    }

    /// Sets `key` to `value`.
    pub fn set(&self, key: &str, value: Bytes) -> Result<(), DataError> {
        check_key(key)?;
        let _w = self.writer();
        let mut next = (*self.snapshot()).clone();
        let old = next.map.get(key).map_or(0, |v| entry_bytes(key, v));
        let bytes = next.bytes - old + entry_bytes(key, &value);
        if bytes > self.max_bytes() {
            return Err(DataError::TooLarge {
                limit: self.max_bytes(),
                would_be: bytes,
            });
        }
        next.map.insert(Arc::from(key), value);
        next.bytes = bytes;
        self.publish(next);
        Ok(())
    }

    /// Removes `key`; whether it was set.
    pub fn delete(&self, key: &str) -> bool {
        let _w = self.writer();
        let mut next = (*self.snapshot()).clone();
        match next.map.remove(key) {
            Some(v) => {
                next.bytes -= entry_bytes(key, &v);
                self.publish(next);
                true
            }
            None => false,
        }
    }

    /// Replaces the whole data with `entries` at once: a call sees either
    /// the old set or the new one, never a mix. A key given twice keeps its
    /// last value.
    pub fn replace(&self, entries: Vec<(String, Bytes)>) -> Result<(), DataError> {
        let mut map = imbl::HashMap::new();
        let mut bytes = 0u64;
        for (key, value) in entries {
            check_key(&key)?;
            bytes += entry_bytes(&key, &value);
            if let Some(old) = map.insert(Arc::<str>::from(key.as_str()), value) {
                bytes -= entry_bytes(&key, &old);
            }
        }
        let _w = self.writer();
        if bytes > self.max_bytes() {
            return Err(DataError::TooLarge {
                limit: self.max_bytes(),
                would_be: bytes,
            });
        }
        self.publish(Snapshot { map, bytes });
        Ok(())
    }

    /// Removes every key.
    pub fn clear(&self) {
        let _w = self.writer();
        self.publish(Snapshot::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_delete_and_byte_counts() {
        let d = ContextData::new(1000);
        d.set("alice", Bytes::from_static(b"hash-1")).unwrap();
        d.set("bob", Bytes::from_static(b"h2")).unwrap();
        assert_eq!(d.get("alice").as_deref(), Some(&b"hash-1"[..]));
        assert_eq!((d.len(), d.bytes()), (2, 5 + 6 + 3 + 2));
        d.set("alice", Bytes::from_static(b"x")).unwrap();
        assert_eq!(d.bytes(), 5 + 1 + 3 + 2);
        assert!(d.delete("alice"));
        assert!(!d.delete("alice"));
        assert_eq!((d.len(), d.bytes()), (1, 5));
    }

    #[test]
    fn a_snapshot_does_not_change_under_updates() {
        let d = ContextData::default();
        d.set("k", Bytes::from_static(b"v1")).unwrap();
        let seen = d.snapshot();
        d.set("k", Bytes::from_static(b"v2")).unwrap();
        d.replace(vec![("other".into(), Bytes::new())]).unwrap();
        assert_eq!(seen.get("k").map(|b| &b[..]), Some(&b"v1"[..]));
        assert_eq!(d.get("k"), None);
        assert_eq!(d.get("other").as_deref(), Some(&b""[..]));
    }

    #[test]
    fn the_cap_refuses_and_changes_nothing() {
        let d = ContextData::new(10);
        d.set("a", Bytes::from_static(b"1234")).unwrap();
        let err = d.set("b", Bytes::from_static(b"123456")).unwrap_err();
        assert_eq!(
            err,
            DataError::TooLarge {
                limit: 10,
                would_be: 12
            }
        );
        assert_eq!((d.len(), d.bytes()), (1, 5));
        assert!(d
            .replace(vec![("x".into(), Bytes::from(vec![0; 20]))])
            .is_err());
        assert_eq!(d.get("a").as_deref(), Some(&b"1234"[..]));
        assert!(d.set_max_bytes(4).is_err());
        d.set_max_bytes(100).unwrap();
        d.set("b", Bytes::from_static(b"123456")).unwrap();
    }

    #[test]
    fn keys_must_be_1_to_1024_bytes() {
        let d = ContextData::default();
        assert!(matches!(
            d.set("", Bytes::new()),
            Err(DataError::BadKey { .. })
        ));
        let long = "k".repeat(MAX_KEY_BYTES + 1);
        assert!(d.set(&long, Bytes::new()).is_err());
        assert!(d.replace(vec![(long, Bytes::new())]).is_err());
        d.set(&"k".repeat(MAX_KEY_BYTES), Bytes::new()).unwrap();
    }

    #[test]
    fn replace_keeps_the_last_value_of_a_repeated_key() {
        let d = ContextData::default();
        d.replace(vec![
            ("a".into(), Bytes::from_static(b"long value")),
            ("a".into(), Bytes::from_static(b"v")),
        ])
        .unwrap();
        assert_eq!((d.len(), d.bytes()), (1, 2));
    }
}
