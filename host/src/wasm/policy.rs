//! [`WasmPolicy`]: a loaded policy component with its pool of instances.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit, TryAcquireError};
use wasmtime::Trap;

use super::cache::{self, CacheSource};
use super::engine;
use super::error::LoadError;
use super::inspect::{self, Exports};
use super::instance::{Call, CreateError, Factory, Reply, Slot};
use super::options::{default_cache_dir, LoadOptions, PolicySource, MAX_CONFIG_BYTES};
use super::state::{MemoryCapExceeded, PolicyIdent};
use crate::hooks::{HookError, HookKind};

/// How a policy was loaded.
#[derive(Debug, Clone)]
pub struct LoadInfo {
    /// Compiled now, or found in the disk or memory cache.
    pub source: CacheSource,
    /// BLAKE3 hash of the component bytes, hex.
    pub digest: String,
    /// Wall time of the whole load (read, hash, compile or deserialize,
    /// inspect, first instance).
    pub load_time: Duration,
}

/// Counters of one policy since it was loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyStats {
    /// Calls that reached an instance.
    pub calls: u64,
    /// Instances created (the first one at load included).
    pub instances_created: u64,
    /// Instances waiting in the pool now.
    pub idle_instances: u64,
    /// Bytes of linear memory the idle instances hold.
    pub idle_memory_bytes: u64,
    /// Calls that trapped (memory-cap breaches included).
    pub traps: u64,
    /// Calls that hit the memory cap.
    pub memory_cap_hits: u64,
    /// Calls the policy answered with an error (0.2.0 `err`, a thrown JS
    /// exception): denied, and the instance kept.
    pub errors: u64,
    /// Calls interrupted at their deadline.
    pub deadline_hits: u64,
    /// Calls refused because every instance was busy (or the engine-wide
    /// instance pool was full).
    pub overloaded: u64,
    /// Instances retired after a successful call because their linear memory
    /// used up half of the room the cap left them (guests that leak per call, e.g. StarlingMonkey
    /// builds, would otherwise end in a memory trap).
    pub instances_recycled: u64,
}

#[derive(Default)]
struct Counters {
    calls: AtomicU64,
    instances_created: AtomicU64,
    traps: AtomicU64,
    memory_cap_hits: AtomicU64,
    errors: AtomicU64,
    deadline_hits: AtomicU64,
    overloaded: AtomicU64,
    instances_recycled: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// A loaded policy: the compiled component (shared with every other policy
/// loaded from the same bytes), its `InstancePre`, and its own bounded pool
/// of instances (never shared: policies are isolated from each other).
///
/// Answers hooks through [`crate::hooks::HookBackend`].
pub struct WasmPolicy {
    pub(crate) ident: Arc<PolicyIdent>,
    exports: Exports,
    factory: Factory,
    idle: Mutex<Vec<Slot>>,
    /// One permit per call in flight (or instance being created), so live
    /// instances never outnumber `max_instances`.
    permits: Semaphore,
    max_instances: usize,
    timeout: Duration,
    max_wait: Duration,
    load_info: LoadInfo,
    counters: Counters,
}

impl std::fmt::Debug for WasmPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmPolicy")
            .field("name", &self.ident.name)
            .field("tenant", &self.ident.tenant)
            .field("exports", &self.exports)
            .field("load_info", &self.load_info)
            .finish_non_exhaustive()
    }
}

fn check_options(o: &LoadOptions) -> Result<(), LoadError> {
    let bad = |m: String| Err(LoadError::Options(m));
    if o.timeout.is_zero() {
        return bad("timeout must be positive".into());
    }
    if o.max_instances == 0 {
        return bad("max_instances must be at least 1".into());
    }
    if o.config
        .as_ref()
        .is_some_and(|c| c.len() > MAX_CONFIG_BYTES)
    {
        return bad(format!("config must be at most {MAX_CONFIG_BYTES} bytes"));
    }
    if o.max_memory_bytes < 65536 || o.max_memory_bytes > engine::MAX_MEMORY_BYTES {
        return bad(format!(
            "max_memory_bytes must be within 64 KiB..={} bytes",
            engine::MAX_MEMORY_BYTES
        ));
    }
    Ok(())
}

impl WasmPolicy {
    /// Loads a policy component. Reading, hashing and compiling run on a
    /// blocking thread (`spawn_blocking`), never on an async worker; the
    /// compiled component comes from the memory or disk cache when it can.
    /// The first instance is created here, so a policy that cannot run fails
    /// now, not on its first call.
    ///
    /// Must be called inside a tokio runtime.
    pub async fn load(
        source: impl Into<PolicySource>,
        options: LoadOptions,
    ) -> Result<WasmPolicy, LoadError> {
        check_options(&options)?;
        let started = Instant::now();
        let source = source.into();
        let disk_dir = options
            .disk_cache
            .then(|| options.cache_dir.clone().unwrap_or_else(default_cache_dir));
        let (compiled, inspected) = tokio::task::spawn_blocking(move || {
            let shared = engine::shared();
            let compiled = cache::get_or_compile(&shared.engine, &source, disk_dir.as_deref())?;
            let inspected = inspect::inspect(&shared.engine, &shared.linker, &compiled.component)?;
            Ok::<_, LoadError>((compiled, inspected))
        })
        .await
        .map_err(|e| LoadError::Compile(format!("the compile task failed: {e}")))??;

        let max_wait = options.effective_max_wait();
        let ident = Arc::new(PolicyIdent::new(options.name, options.tenant));
        let factory = Factory {
            pre: inspected.pre,
            indices: inspected.indices,
            ident: ident.clone(),
            max_memory_bytes: options.max_memory_bytes,
            config: options.config.clone(),
        };
        let version = inspected.version;
        let mut first = factory
            .create(Instant::now() + options.timeout)
            .await
            .map_err(|e| match e {
                CreateError::Instantiate(e) => LoadError::Instantiate(format!("{e:#}")),
                CreateError::Exports(e) => LoadError::WitVersion {
                    found: "an export".into(),
                    expected: version.as_str(),
                    detail: format!("{e:#}"),
                },
            })?;
        // Once per load, before anything is served.
        match first.init(Instant::now() + options.timeout).await {
            Ok(Ok(())) => {}
            Ok(Err(message)) => return Err(LoadError::Init(message)),
            Err(e) => {
                let why = match e.downcast_ref::<Trap>() {
                    Some(Trap::Interrupt) => format!(
                        "it ran past its {} ms deadline",
                        options.timeout.as_millis()
                    ),
                    _ => format!("it trapped: {e:#}"),
                };
                return Err(LoadError::Init(why));
            }
        }
        let policy = WasmPolicy {
            ident,
            exports: inspected.exports,
            factory,
            idle: Mutex::new(vec![first]),
            permits: Semaphore::new(options.max_instances),
            max_instances: options.max_instances,
            timeout: options.timeout,
            max_wait,
            load_info: LoadInfo {
                source: compiled.source,
                digest: cache::hex(&compiled.digest),
                load_time: started.elapsed(),
            },
            counters: Counters::default(),
        };
        bump(&policy.counters.instances_created);
        log::info!(
            target: policy.ident.log_target.as_str(),
            "loaded wasm policy ({:?}, {} ms): serves {:?}",
            policy.load_info.source,
            policy.load_info.load_time.as_millis(),
            policy.exports
        );
        Ok(policy)
    }

    /// The policy's name.
    pub fn name(&self) -> &str {
        &self.ident.name
    }

    /// The tenant the policy serves, if any.
    pub fn tenant(&self) -> Option<&str> {
        self.ident.tenant.as_deref()
    }

    /// The hook interfaces the component exports.
    pub fn exports(&self) -> Exports {
        self.exports
    }

    /// The hooks the policy can answer.
    pub fn hooks(&self) -> Vec<HookKind> {
        self.exports.hooks()
    }

    /// The per-call deadline.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// How the policy was loaded.
    pub fn load_info(&self) -> &LoadInfo {
        &self.load_info
    }

    /// Whether a cache (memory or disk) spared the compilation.
    pub fn loaded_from_cache(&self) -> bool {
        self.load_info.source.is_hit()
    }

    /// Counters since the load.
    pub fn stats(&self) -> PolicyStats {
        let c = &self.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let (idle, memory) = {
            let idle = self.idle();
            let memory: usize = idle.iter().map(Slot::memory_bytes).sum();
            (idle.len(), memory)
        };
        PolicyStats {
            calls: get(&c.calls),
            instances_created: get(&c.instances_created),
            idle_instances: idle as u64,
            idle_memory_bytes: memory as u64,
            traps: get(&c.traps),
            memory_cap_hits: get(&c.memory_cap_hits),
            errors: get(&c.errors),
            deadline_hits: get(&c.deadline_hits),
            overloaded: get(&c.overloaded),
            instances_recycled: get(&c.instances_recycled),
        }
    }

    /// Creates instances until `n` (at most `max_instances`) wait in the pool,
    /// so that bursts do not pay for instantiation.
    pub async fn prewarm(&self, n: usize) -> Result<(), HookError> {
        let want = n.min(self.max_instances);
        while self.idle().len() < want {
            let Ok(_permit) = self.permits.try_acquire() else {
                break; // every other permit is a busy instance
            };
            let slot = self.fresh().await?;
            self.idle().push(slot);
        }
        Ok(())
    }

    /// Drops every idle instance (their memory goes back to the system);
    /// later calls instantiate afresh.
    pub fn shrink(&self) {
        let idle = std::mem::take(&mut *self.idle());
        drop(idle);
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Slot>> {
        // A Vec push/pop cannot leave it half-updated.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn permit(&self) -> Result<SemaphorePermit<'_>, HookError> {
        let permit = match self.permits.try_acquire() {
            Ok(p) => Some(p),
            Err(TryAcquireError::NoPermits) if !self.max_wait.is_zero() => {
                tokio::time::timeout(self.max_wait, self.permits.acquire())
                    .await
                    .ok()
                    .and_then(Result::ok)
            }
            Err(_) => None,
        };
        permit.ok_or_else(|| {
            bump(&self.counters.overloaded);
            HookError::Overloaded
        })
    }

    /// A fresh instance from the `InstancePre`.
    async fn fresh(&self) -> Result<Slot, HookError> {
        match self.factory.create(Instant::now() + self.timeout).await {
            Ok(slot) => {
                bump(&self.counters.instances_created);
                Ok(slot)
            }
            Err(CreateError::Instantiate(e) | CreateError::Exports(e)) => {
                if e.is::<wasmtime::PoolConcurrencyLimitError>() {
                    bump(&self.counters.overloaded);
                    log::warn!(
                        target: self.ident.log_target.as_str(),
                        "no free instance slot in the engine's pool: {e:#}"
                    );
                    return Err(HookError::Overloaded);
                }
                Err(self.failed(e, "instantiating"))
            }
        }
    }

    /// Counts, logs and converts a failed call; the instance is gone.
    fn failed(&self, e: wasmtime::Error, what: &str) -> HookError {
        let c = &self.counters;
        let cap = e
            .chain()
            .find_map(|c| c.downcast_ref::<MemoryCapExceeded>())
            .map(ToString::to_string);
        let trap = e.downcast_ref::<Trap>().copied();
        let err = if let Some(cap) = cap {
            bump(&c.traps);
            bump(&c.memory_cap_hits);
            HookError::Trapped(cap)
        } else if trap == Some(Trap::Interrupt) {
            bump(&c.deadline_hits);
            HookError::DeadlineExceeded
        } else {
            bump(&c.traps);
            HookError::Trapped(match trap {
                Some(t) => t.to_string(),
                None => format!("{e:#}"),
            })
        };
        log::warn!(
            target: self.ident.log_target.as_str(),
            "wasm policy `{}` failed while {what} ({err}); its instance is discarded: {e:#}",
            self.ident.name
        );
        err
    }

    fn deadline_elapsed(&self) -> HookError {
        bump(&self.counters.deadline_hits);
        log::warn!(
            target: self.ident.log_target.as_str(),
            "wasm policy `{}` exceeded its {} ms deadline in a host call; its instance is discarded",
            self.ident.name,
            self.timeout.as_millis()
        );
        HookError::DeadlineExceeded
    }

    /// Runs `call` in an instance from the pool (or a fresh one).
    pub(crate) async fn call(&self, call: Call) -> Result<Reply, HookError> {
        let _permit = self.permit().await?;
        let deadline = Instant::now() + self.timeout;
        let pooled = self.idle().pop();
        let mut slot = match pooled {
            Some(slot) => slot,
            None => self.fresh().await?,
        };
        bump(&self.counters.calls);
        // The epoch bounds guest code; this bounds host calls the guest
        // waits on (a WASI sleep), which the epoch cannot interrupt.
        match tokio::time::timeout_at(deadline.into(), slot.call(call, deadline)).await {
            Ok(Ok(Err(message))) => {
                // The guest answered: its instance is sound.
                self.idle().push(slot);
                bump(&self.counters.errors);
                // The router WARNs it (rate-limited): a guest must not flood
                // the log by failing every call.
                let message = super::host_api::truncate(&message, super::host_api::MAX_LOG_MESSAGE);
                Err(HookError::PolicyError(message.to_string()))
            }
            Ok(Ok(Ok(reply))) => {
                if slot.memory_grew_past_half() {
                    bump(&self.counters.instances_recycled);
                    log::debug!(
                        target: self.ident.log_target.as_str(),
                        "retiring an instance holding {} bytes of linear memory",
                        slot.memory_bytes()
                    );
                } else {
                    self.idle().push(slot);
                }
                Ok(reply)
            }
            Ok(Err(e)) => Err(self.failed(e, "answering a hook")),
            Err(_elapsed) => Err(self.deadline_elapsed()),
        }
    }
}
