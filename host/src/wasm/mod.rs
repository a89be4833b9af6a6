//! The WebAssembly hook engine: policies are WebAssembly components
//! (`rmqtt:hooks@0.2.0` in `wit/rmqtt-hooks-0.2.0/`, and the frozen 0.1.0
//! beside it) run by wasmtime in a sandbox, answering hooks through
//! [`crate::hooks::HookBackend`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use rmqtt_js_host::hooks::HookBackend;
//! use rmqtt_js_host::wasm::{LoadOptions, WasmPolicy};
//! let policy = WasmPolicy::load(
//!     std::path::Path::new("acl.wasm"),
//!     LoadOptions::new("acl").tenant("acme"),
//! )
//! .await?;
//! println!("serves {:?}", policy.hooks());
//! # Ok(()) }
//! ```
//!
//! # Pieces
//!
//! - [`engine`]: one `Engine` per process (component model, epoch
//!   interruption, pooling allocator, Cranelift `Speed`), its epoch ticker
//!   thread (1 ms) and the shared linker (`rmqtt:hooks/host` + inert WASI).
//! - `cache`: compiled components in memory and on disk.
//! - `inspect`: which contract version a component speaks, which hook
//!   interfaces it exports, and whether its imports are all provided
//!   ([`LoadError`] otherwise).
//! - `instance`: one `Store` + instance, created from the `InstancePre`.
//! - [`WasmPolicy`]: a loaded policy with its bounded pool of instances.
//! - `bindings::v0_*` / `convert::v0_*` / `host_api::v0_*`: per WIT version,
//!   the bindgen output, its conversions to the hook model and the host
//!   functions; a new version adds sibling modules. Calls are in the hook
//!   model until the instance runs them in its version's types.
//! - `host_api::crypto`: `rmqtt:hooks/crypto` on top of [`crate::crypto`].
//!
//! # What a 0.2.0 policy reads
//!
//! `host.config()` is the string given at load ([`LoadOptions::config`]).
//! `data.get` reads the snapshot of the serving context's data
//! ([`crate::data`]) taken when the call starts. `lifecycle.init` runs once
//! per load, on the first instance; its `err` fails the load
//! (`LoadError::Init`). A decision's `err` is a deny
//! (`HookError::PolicyError`, counted in [`PolicyStats::errors`]) that keeps
//! the instance.
//!
//! # How calls run, and why
//!
//! Calls are async wasmtime calls (`call_async`) made directly on the calling
//! tokio task: no `spawn_blocking` hop, whose thread handoff (tens of µs)
//! would dwarf a call (about 1 µs for a Rust guest, 10–30 µs for JS guests).
//! They are async rather than plain sync calls because wasmtime-wasi's sync
//! WASI bindings `block_on` a tokio handle, which panics on a runtime worker
//! thread, and toolchains make every guest import WASI (jco's console output,
//! for one).
//!
//! Each call gets a deadline (default 50 ms, [`LoadOptions::timeout`]). At
//! every epoch tick the store's callback checks it: past the deadline the
//! guest is interrupted (`Trap::Interrupt` → `HookError::DeadlineExceeded`);
//! a guest that has run longer than 1 ms yields to the executor at each tick,
//! so even a spinning policy holds a worker for at most about a millisecond at
//! a time. A tokio timeout at the same deadline bounds host calls the guest
//! waits on (a WASI sleep), which epochs cannot interrupt.
//!
//! Instances are pooled per policy (at most [`LoadOptions::max_instances`],
//! i.e. concurrent calls; over that, a call waits up to
//! [`LoadOptions::max_wait`], then fails with `HookError::Overloaded`). An
//! instance whose call failed in any way (trap, deadline, memory cap, or a
//! cancelled call) is dropped, never reused; the next call gets a fresh one.
//! So is an instance whose linear memory has used up half of the room that
//! [`LoadOptions::max_memory_bytes`] left it after instantiation (some guests leak a little per call:
//! the StarlingMonkey builds grow by under 1 KiB per call), before the leak
//! turns into a memory trap.
//! Guest globals therefore live per instance and may vanish at any time:
//! policies must not rely on them.

mod backend;
mod bindings;
mod cache;
mod convert;
pub mod engine;
mod error;
mod host_api;
mod inspect;
mod instance;
mod options;
mod policy;
mod state;
mod wasi;

pub use cache::{clear_memory_cache, CacheSource};
pub use error::LoadError;
pub use inspect::Exports;
pub use options::{
    default_cache_dir, LoadOptions, PolicySource, CACHE_DIR_ENV, DEFAULT_MAX_INSTANCES,
    DEFAULT_MAX_MEMORY_BYTES, DEFAULT_TIMEOUT, MAX_CONFIG_BYTES,
};
pub use policy::{LoadInfo, PolicyStats, WasmPolicy};
