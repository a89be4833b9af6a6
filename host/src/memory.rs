//! Gives freed heap memory back to the operating system once load falls.
//!
//! glibc's `malloc` keeps the memory a program frees in its arenas for later
//! use; it seldom hands it back by itself. After a storm of thousands of
//! connections (most of the memory is per connection: buffers, the
//! connection task, hook calls in flight), the broker's resident memory then
//! stays tens of MiB above where it was, although nothing uses it: measured
//! +100 MiB after three storms of 3,000 hung authentications.
//! `malloc_trim(0)` returns those free pages.
//!
//! Each running server has a watcher task that samples its load (connected
//! clients plus CONNECT handshakes in progress, over every context) once per
//! [`SAMPLE_EVERY`]. When the load has stayed below 1/[`FALL_RATIO`] of a
//! recent peak of at least [`MIN_PEAK`] for two samples in a row (1-2 s
//! after the fall), it trims once, on a thread of its own, at most once per
//! [`MIN_TRIM_INTERVAL`], and logs at INFO (`rmqtt_js::memory`): "returned
//! N MiB to the OS …". `Broker::stop` trims too, silently ([`trim_now`]);
//! [`trims`] counts both. On other platforms than Linux with glibc all this
//! does nothing.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use rmqtt::context::ServerContext;
use tokio::runtime::Handle;

/// True where trimming does something (Linux with glibc's allocator).
const SUPPORTED: bool = cfg!(all(target_os = "linux", target_env = "gnu"));
/// How often the watcher reads the load.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(1);
/// The smallest peak after which a fall is worth a trim.
pub const MIN_PEAK: usize = 256;
/// A trim happens once the load is below `peak / FALL_RATIO`.
pub const FALL_RATIO: usize = 8;
/// The shortest time between two trims of one server.
pub const MIN_TRIM_INTERVAL: Duration = Duration::from_secs(10);

const LOG_TARGET: &str = "rmqtt_js::memory";

/// The load of a server at one moment.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Load {
    /// Connected clients plus handshakes in progress, now.
    pub now: usize,
    /// The high-water mark rmqtt keeps of each context's connections and of
    /// its handshakes, summed over contexts. It only grows; when it grew
    /// since the last sample, a peak happened in between, even one that no
    /// sample saw (a storm shorter than [`SAMPLE_EVERY`]).
    pub high: usize,
}

impl Load {
    /// Reads the load of `contexts` (cheap: a few atomic loads each).
    pub fn of<'a>(contexts: impl IntoIterator<Item = &'a ServerContext>) -> Load {
        let mut load = Load::default();
        for scx in contexts {
            let count = |c: isize| usize::try_from(c).unwrap_or(0);
            load.now += count(scx.connections.count()) + count(scx.handshakings.count());
            load.high += count(scx.connections.max()).max(count(scx.handshakings.max()));
        }
        load
    }
}

/// Decides, sample by sample, when a fall of the load is worth a trim.
#[derive(Debug, Default)]
pub struct TrimPolicy {
    /// The highest load since the last trim.
    peak: usize,
    last_high: usize,
    /// Whether the previous sample was already low enough.
    was_low: bool,
    last_trim: Option<Instant>,
}

impl TrimPolicy {
    /// Takes one sample; returns the peak the load fell from when it is time
    /// to trim (and then starts tracking a new peak): the second sample in a
    /// row that is low enough, so that a trim comes after the fall, not in
    /// its middle.
    pub fn observe(&mut self, load: Load, now: Instant) -> Option<usize> {
        if load.high > self.last_high {
            self.peak = self.peak.max(load.high);
        }
        self.last_high = load.high;
        self.peak = self.peak.max(load.now);
        let due = self
            .last_trim
            .is_none_or(|t| now.duration_since(t) >= MIN_TRIM_INTERVAL);
        let low = self.peak >= MIN_PEAK && load.now < self.peak / FALL_RATIO;
        let settled = low && self.was_low;
        self.was_low = low;
        if settled && due {
            let peak = self.peak;
            self.peak = load.now;
            self.last_trim = Some(now);
            return Some(peak);
        }
        None
    }
}

/// Starts the watcher of one server on its runtime: every [`SAMPLE_EVERY`]
/// it reads `load(server)`; it ends once `server` is gone (or with the
/// runtime). The watcher holds the server only while it samples; should it
/// hold the last reference, the server is dropped on a plain thread (a server
/// may own the very runtime the watcher runs on).
pub fn watch<T: Send + Sync + 'static>(runtime: &Handle, server: Weak<T>, load: fn(&T) -> Load) {
    if !SUPPORTED {
        return;
    }
    runtime.spawn(async move {
        let mut policy = TrimPolicy::default();
        let mut ticks = tokio::time::interval(SAMPLE_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Some(strong) = server.upgrade() else {
                return;
            };
            let sample = load(&strong);
            if let Some(last) = Arc::into_inner(strong) {
                std::thread::spawn(move || drop(last));
                return;
            }
            if let Some(peak) = policy.observe(sample, Instant::now()) {
                let why = format!(
                    "after the load fell from {peak} to {} connections and handshakes",
                    sample.now
                );
                trim_in_background(why);
            }
        }
    });
}

/// Trims on a thread of its own (`malloc_trim` can take milliseconds on a
/// large heap) and logs how much resident memory went back to the OS.
/// `why` ends the log line. Does nothing where trimming is not supported.
pub fn trim_in_background(why: String) {
    if !SUPPORTED {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("rmqtt-js-trim".into())
        .spawn(move || {
            let freed = trim_and_measure();
            log::info!(
                target: LOG_TARGET,
                "returned {:.1} MiB to the OS {why}",
                freed as f64 / 1024.0
            );
        });
    if let Err(e) = spawned {
        log::warn!(target: LOG_TARGET, "cannot start a thread to return memory to the OS: {e}");
    }
}

/// Trims on a plain thread and waits for it, without blocking the caller's
/// runtime; logs nothing (a stopped server's line would reach the loggers of
/// other servers, after the stop). Returns the KiB of resident memory that
/// went back, `None` where trimming is not supported.
pub async fn trim_now() -> Option<u64> {
    if !SUPPORTED {
        return None;
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("rmqtt-js-trim".into())
        .spawn(move || {
            let _ = tx.send(trim_and_measure());
        })
        .ok()?;
    rx.await.ok()
}

/// How many times this process gave memory back (load falls and stops).
pub fn trims() -> u64 {
    TRIMS.load(Relaxed)
}

static TRIMS: AtomicU64 = AtomicU64::new(0);

/// Trims, counts it, and returns the KiB of resident memory that went back.
fn trim_and_measure() -> u64 {
    let before = resident_kib();
    trim();
    let after = resident_kib();
    TRIMS.fetch_add(1, Relaxed);
    match (before, after) {
        (Some(b), Some(a)) => b.saturating_sub(a),
        _ => 0,
    }
}

/// Hands the free memory of every malloc arena back to the OS.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim(3) takes no pointer and touches only glibc's own
    // arenas, under their locks: it is thread-safe and sound at any time.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}

/// This process's resident memory in KiB (`VmRSS`), where /proc has it.
fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(now: usize) -> Load {
        Load { now, high: 0 }
    }

    #[test]
    fn trims_once_when_the_load_stays_below_an_eighth_of_its_peak() {
        let mut p = TrimPolicy::default();
        let t = Instant::now();
        assert_eq!(p.observe(load(3000), t), None);
        assert_eq!(p.observe(load(400), t), None, "400 is not below 3000 / 8");
        assert_eq!(p.observe(load(300), t), None, "the first low sample");
        assert_eq!(p.observe(load(10), t), Some(3000));
        let later = t + MIN_TRIM_INTERVAL;
        assert_eq!(p.observe(load(0), later), None, "once per fall");
        assert_eq!(p.observe(load(0), later), None, "once per fall");
    }

    #[test]
    fn a_small_peak_never_trims() {
        let mut p = TrimPolicy::default();
        let t = Instant::now();
        assert_eq!(p.observe(load(MIN_PEAK - 1), t), None);
        assert_eq!(p.observe(load(0), t), None);
        assert_eq!(p.observe(load(0), t), None);
    }

    #[test]
    fn a_dip_of_one_sample_does_not_trim() {
        let mut p = TrimPolicy::default();
        let t = Instant::now();
        p.observe(load(1000), t);
        assert_eq!(p.observe(load(0), t), None);
        assert_eq!(p.observe(load(900), t), None);
        assert_eq!(p.observe(load(0), t), None);
        assert_eq!(p.observe(load(0), t), Some(1000));
    }

    #[test]
    fn trims_at_most_once_per_interval_and_catches_up_after_it() {
        let mut p = TrimPolicy::default();
        let t = Instant::now();
        p.observe(load(1000), t);
        p.observe(load(0), t);
        assert_eq!(p.observe(load(0), t), Some(1000));
        let soon = t + Duration::from_secs(1);
        p.observe(load(2000), soon);
        p.observe(load(0), soon);
        assert_eq!(p.observe(load(0), soon), None, "too soon");
        assert_eq!(p.observe(load(0), t + MIN_TRIM_INTERVAL), Some(2000));
    }

    #[test]
    fn a_peak_between_two_samples_counts_through_the_high_water_mark() {
        let mut p = TrimPolicy::default();
        let t = Instant::now();
        // A storm of 500 that came and went between two samples.
        assert_eq!(p.observe(Load { now: 0, high: 500 }, t), None);
        assert_eq!(p.observe(Load { now: 0, high: 500 }, t), Some(500));
        // The mark does not grow again: no new peak, no new trim.
        let later = t + MIN_TRIM_INTERVAL;
        assert_eq!(p.observe(Load { now: 0, high: 500 }, later), None);
        assert_eq!(p.observe(Load { now: 0, high: 500 }, later), None);
    }
}
