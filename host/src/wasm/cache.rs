//! Compiled-component cache: in memory (per process) and on disk.
//!
//! Compiling a policy is slow (a 12 MB StarlingMonkey component takes about
//! 6 s), so a compiled [`Component`] is kept:
//!
//! - in memory, keyed by the BLAKE3 hash of the component bytes (a path load whose
//!   file length and mtime did not change skips even the read and the hash);
//! - on disk, as wasmtime's serialized artifact at
//!   `<cache dir>/wasmtime-<engine key>/<blake3>.cwasm`, where the engine key hashes
//!   [`Engine::precompile_compatibility_hash`] (wasmtime version and every
//!   setting that changes generated code).
//!
//! Everything here blocks (file I/O, hashing, compiling): callers run it off
//! the async workers.
//!
//! This is the one module of the crate that needs `unsafe`:
//! `Component::deserialize_file` trusts its input to be an artifact wasmtime
//! produced. See the SAFETY comment in [`load_from_disk`].

#![allow(
    unsafe_code,
    reason = "deserializing a cached compiled component is unsafe in wasmtime; see load_from_disk"
)]

use std::collections::{HashMap, VecDeque};
use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::SystemTime;

use wasmtime::component::Component;
use wasmtime::Engine;

use super::error::LoadError;
use super::options::PolicySource;

/// BLAKE3 hash of a component's bytes.
pub type Digest = [u8; 32];

/// Where a loaded component came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheSource {
    /// Compiled now (a cache miss).
    Compiled,
    /// Deserialized from the on-disk cache.
    Disk,
    /// Found in this process's memory.
    Memory,
}

impl CacheSource {
    /// Whether a cache (disk or memory) served the load.
    pub fn is_hit(self) -> bool {
        self != CacheSource::Compiled
    }
}

/// A compiled component and how it was obtained.
pub(crate) struct Compiled {
    pub(crate) component: Component,
    pub(crate) digest: Digest,
    pub(crate) source: CacheSource,
}

/// Components kept in memory at most; the oldest goes first.
const MEMORY_ENTRIES: usize = 64;

#[derive(Default)]
struct MemoryCache {
    by_digest: HashMap<Digest, Component>,
    order: VecDeque<Digest>,
    /// Path → (length, mtime, digest) of the file when last read.
    by_path: HashMap<PathBuf, (u64, SystemTime, Digest)>,
}

impl MemoryCache {
    fn insert(&mut self, digest: Digest, component: Component) {
        if self.by_digest.insert(digest, component).is_none() {
            self.order.push_back(digest);
        }
        while self.order.len() > MEMORY_ENTRIES {
            if let Some(old) = self.order.pop_front() {
                self.by_digest.remove(&old);
                self.by_path.retain(|_, (_, _, d)| *d != old);
            }
        }
    }
}

static MEMORY: LazyLock<Mutex<MemoryCache>> = LazyLock::new(Mutex::default);

fn memory() -> std::sync::MutexGuard<'static, MemoryCache> {
    // The cache holds no invariant a panic could break half-way.
    MEMORY.lock().unwrap_or_else(|p| p.into_inner())
}

/// Forgets every component kept in memory (the disk cache stays).
pub fn clear_memory_cache() {
    *memory() = MemoryCache::default();
}

/// The compiled component for `source`, from memory, disk or the compiler.
/// `disk_dir`: the cache directory, `None` to bypass the disk cache.
pub(crate) fn get_or_compile(
    engine: &Engine,
    source: &PolicySource,
    disk_dir: Option<&Path>,
) -> Result<Compiled, LoadError> {
    let file_meta = match source {
        PolicySource::Path(path) => {
            let meta = fs::metadata(path).map_err(|source| LoadError::Io {
                path: path.clone(),
                source,
            })?;
            let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            let mem = memory();
            if let Some(&(len, time, digest)) = mem.by_path.get(path) {
                if len == meta.len() && time == mtime {
                    if let Some(component) = mem.by_digest.get(&digest) {
                        return Ok(Compiled {
                            component: component.clone(),
                            digest,
                            source: CacheSource::Memory,
                        });
                    }
                }
            }
            Some((path, meta.len(), mtime))
        }
        PolicySource::Bytes(_) => None,
    };

    let owned;
    let bytes: &[u8] = match source {
        PolicySource::Path(path) => {
            owned = fs::read(path).map_err(|source| LoadError::Io {
                path: path.clone(),
                source,
            })?;
            &owned
        }
        PolicySource::Bytes(b) => b,
    };
    let digest: Digest = blake3::hash(bytes).into();
    let remember_path = |mem: &mut MemoryCache| {
        if let Some((path, len, mtime)) = file_meta {
            mem.by_path.insert(path.clone(), (len, mtime, digest));
        }
    };

    {
        let mut mem = memory();
        if let Some(component) = mem.by_digest.get(&digest).cloned() {
            remember_path(&mut mem);
            return Ok(Compiled {
                component,
                digest,
                source: CacheSource::Memory,
            });
        }
    }

    check_header(bytes)?;

    let artifact = disk_dir.map(|dir| artifact_path(engine, dir, &digest));
    let from_disk = artifact.as_deref().and_then(|p| load_from_disk(engine, p));
    let (component, source) = match from_disk {
        Some(component) => (component, CacheSource::Disk),
        None => {
            let component =
                Component::new(engine, bytes).map_err(|e| LoadError::Compile(format!("{e:#}")))?;
            if let Some(path) = &artifact {
                store_on_disk(&component, path);
            }
            (component, CacheSource::Compiled)
        }
    };

    let mut mem = memory();
    mem.insert(digest, component.clone());
    remember_path(&mut mem);
    Ok(Compiled {
        component,
        digest,
        source,
    })
}

/// Tells a component from a core module or from something that is not wasm.
fn check_header(bytes: &[u8]) -> Result<(), LoadError> {
    const MAGIC: &[u8] = b"\0asm";
    const CORE_MODULE: [u8; 4] = [1, 0, 0, 0];
    const COMPONENT: [u8; 4] = [0x0d, 0, 1, 0];
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err(LoadError::Invalid(
            "the bytes are not WebAssembly (no `\\0asm` header)".into(),
        ));
    }
    let version: [u8; 4] = bytes[4..8].try_into().expect("checked length");
    match version {
        COMPONENT => Ok(()),
        CORE_MODULE => Err(LoadError::Invalid(
            "this is a core WebAssembly module; a policy must be a component \
             (build for wasm32-wasip2 with wit-bindgen, or with `jco componentize`)"
                .into(),
        )),
        other => Err(LoadError::Invalid(format!(
            "unknown WebAssembly version/layer {other:02x?}"
        ))),
    }
}

/// Feeds `Hash` output into BLAKE3, for a hash that is stable across runs
/// (std's hashers promise no stability).
struct Blake3Hasher(blake3::Hasher);

impl Hasher for Blake3Hasher {
    fn finish(&self) -> u64 {
        let d = self.0.finalize();
        u64::from_le_bytes(d.as_bytes()[..8].try_into().expect("8 of 32 bytes"))
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

/// Names the engine configuration: artifacts of another one are unusable.
fn engine_key(engine: &Engine) -> String {
    let mut h = Blake3Hasher(blake3::Hasher::new());
    engine.precompile_compatibility_hash().hash(&mut h);
    hex(&h.0.finalize().as_bytes()[..8])
}

fn artifact_path(engine: &Engine, dir: &Path, digest: &Digest) -> PathBuf {
    dir.join(format!("wasmtime-{}", engine_key(engine)))
        .join(format!("{}.cwasm", hex(digest)))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The cached artifact at `path`, if there is a usable one. A broken or
/// incompatible file is removed (and recompiled by the caller).
fn load_from_disk(engine: &Engine, path: &Path) -> Option<Component> {
    if !path.is_file() {
        return None;
    }
    // SAFETY: `deserialize_file` maps the file and runs its machine code, so
    // it must be an artifact produced by `Component::serialize` of a
    // compatible engine, not modified since. The file lives in the cache
    // directory of this process's user, is only ever written by
    // `store_on_disk` (complete, then renamed into place; never changed in
    // place), and its path is keyed by the hash of the source component and
    // of the engine configuration. wasmtime itself checks the header, the
    // wasmtime version and the engine settings before using it. Anyone able
    // to write into the cache directory could already run code as this user.
    match unsafe { Component::deserialize_file(engine, path) } {
        Ok(component) => Some(component),
        Err(e) => {
            log::warn!(
                target: "rmqtt_js::wasm",
                "discarding unusable cached policy artifact {}: {e:#}",
                path.display()
            );
            let _ = fs::remove_file(path);
            None
        }
    }
}

/// Writes the artifact next to its final path, then renames it into place,
/// so a reader never sees a partial file. Failures only cost a recompile
/// later: they are logged, not returned.
fn store_on_disk(component: &Component, path: &Path) {
    let result = (|| -> std::io::Result<()> {
        let bytes = component.serialize().map_err(std::io::Error::other)?;
        let dir = path.parent().expect("artifact paths have a directory");
        fs::create_dir_all(dir)?;
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let tmp = dir.join(format!(
            ".{}.{}-{}.tmp",
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("artifact"),
            std::process::id(),
            WRITES.fetch_add(1, Ordering::Relaxed)
        ));
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path).inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })
    })();
    if let Err(e) = result {
        log::warn!(
            target: "rmqtt_js::wasm",
            "cannot write compiled policy cache {}: {e}",
            path.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_tell_components_from_modules_and_garbage() {
        assert!(matches!(
            check_header(b"hello world"),
            Err(LoadError::Invalid(_))
        ));
        let core = [b'\0', b'a', b's', b'm', 1, 0, 0, 0];
        let err = check_header(&core).expect_err("a core module is refused");
        assert!(err.to_string().contains("core WebAssembly module"), "{err}");
        let component = [b'\0', b'a', b's', b'm', 0x0d, 0, 1, 0];
        assert!(check_header(&component).is_ok());
    }

    #[test]
    fn hex_is_lowercase_and_padded() {
        assert_eq!(hex(&[0, 0xab, 7]), "00ab07");
    }
}
