//! The process-wide wasmtime [`Engine`], its epoch ticker and the linker every
//! policy is instantiated with.
//!
//! One engine per process: compiled components are tied to the engine that
//! compiled them, and the pooling allocator and the epoch counter are engine
//! wide. Built lazily on first use.

use std::sync::LazyLock;
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

use super::bindings::{v0_1, v0_2};
use super::state::StoreState;

/// How often the ticker thread advances the engine's epoch. A running guest
/// checks its deadline (and yields to the async executor) once per tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// The largest linear memory any policy may have: the per-policy cap
/// (`LoadOptions::max_memory_bytes`) must not exceed it.
pub const MAX_MEMORY_BYTES: usize = 1 << 32;

/// Instances the pooling allocator keeps slots for, summed over every policy.
/// A slot costs address space, not memory. Past it, a call that needs a fresh
/// instance fails with `HookError::Overloaded`.
pub const POOL_COMPONENT_INSTANCES: u32 = 1000;

/// Environment variable selecting the instance allocator: `pooling` (default)
/// or `on-demand`. Read once, when the engine is built.
pub const ALLOCATOR_ENV: &str = "RMQTT_JS_WASM_ALLOCATOR";

/// Which instance allocator the engine ended up with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocator {
    Pooling,
    OnDemand,
}

pub(crate) struct Shared {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<StoreState>,
    pub(crate) allocator: Allocator,
}

static SHARED: LazyLock<Shared> = LazyLock::new(build);

/// The engine, linker and allocator, built on first use (with the ticker).
pub(crate) fn shared() -> &'static Shared {
    &SHARED
}

/// The process-wide engine.
pub fn engine() -> &'static Engine {
    &shared().engine
}

/// The instance allocator in use (pooling unless it could not be set up or
/// [`ALLOCATOR_ENV`] says `on-demand`).
pub fn allocator() -> Allocator {
    shared().allocator
}

fn base_config() -> Config {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .cranelift_opt_level(OptLevel::Speed)
        .parallel_compilation(true);
    config
}

fn pooling_config() -> Config {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(POOL_COMPONENT_INSTANCES)
        // A component holds a few core instances (the guest module plus
        // wit-component shims), usually one memory and one or two tables.
        .total_core_instances(POOL_COMPONENT_INSTANCES * 4)
        .total_memories(POOL_COMPONENT_INSTANCES)
        .total_tables(POOL_COMPONENT_INSTANCES * 2)
        .total_stacks(POOL_COMPONENT_INSTANCES)
        .max_memories_per_module(2)
        .max_tables_per_module(4)
        // SpiderMonkey (StarlingMonkey) has a large function table.
        .table_elements(100_000)
        .max_memory_size(MAX_MEMORY_BYTES);
    let mut config = base_config();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    config
}

fn build() -> Shared {
    let want_pooling = std::env::var(ALLOCATOR_ENV).map_or(true, |v| v != "on-demand");
    let pooled = if want_pooling {
        match Engine::new(&pooling_config()) {
            Ok(engine) => Some(engine),
            Err(e) => {
                log::warn!(
                    target: "rmqtt_js::wasm",
                    "pooling instance allocator unavailable ({e:#}); using on-demand allocation"
                );
                None
            }
        }
    } else {
        None
    };
    let (engine, allocator) = match pooled {
        Some(engine) => (engine, Allocator::Pooling),
        None => (
            Engine::new(&base_config()).expect("a default wasmtime engine config is valid"),
            Allocator::OnDemand,
        ),
    };
    start_ticker(engine.clone());
    let linker = build_linker(&engine).expect("the host imports do not collide");
    Shared {
        engine,
        linker,
        allocator,
    }
}

/// Advances the epoch every [`EPOCH_TICK`] on an OS thread: a tokio task
/// would never run while a guest spins on the same worker.
fn start_ticker(engine: Engine) {
    std::thread::Builder::new()
        .name("rmqtt-js-wasm-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(EPOCH_TICK);
            engine.increment_epoch();
        })
        .expect("spawning the epoch ticker thread");
}

/// The imports a policy may use: `rmqtt:hooks/host` (and the types-only
/// `rmqtt:hooks/types`; from 0.2.0 `data` and `crypto`) of every version
/// the host speaks, plus WASI 0.2, whose state per store is inert (see
/// `wasm::wasi`).
fn build_linker(engine: &Engine) -> wasmtime::Result<Linker<StoreState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    v0_1::host::add_to_linker::<StoreState, HasSelf<StoreState>>(&mut linker, |s| s)?;
    v0_1::types::add_to_linker::<StoreState, HasSelf<StoreState>>(&mut linker, |s| s)?;
    v0_2::host::add_to_linker::<StoreState, HasSelf<StoreState>>(&mut linker, |s| s)?;
    v0_2::types::add_to_linker::<StoreState, HasSelf<StoreState>>(&mut linker, |s| s)?;
    v0_2::data::add_to_linker::<StoreState, HasSelf<StoreState>>(&mut linker, |s| s)?;
    v0_2::crypto::add_to_linker::<StoreState, HasSelf<StoreState>>(&mut linker, |s| s)?;
    Ok(linker)
}
