//! Per-hook counters and latency, split by backend, readable while running.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use super::{BackendKind, HookError, HookKind};

const BACKENDS: [BackendKind; 3] = [BackendKind::Js, BackendKind::Wasm, BackendKind::Native];
/// Latency buckets: bucket `i` holds calls of at most `2^(i/4)` µs (1 µs .. ~70 min).
const BUCKETS: usize = 128;

/// How one hook call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Allow,
    Deny,
    /// A notification delivered to its backend.
    Delivered,
    Timeout,
    Trap,
    Error,
}

impl Outcome {
    /// The outcome a backend error counts as.
    pub fn of_error(e: &HookError) -> Outcome {
        match e {
            HookError::Timeout(_) | HookError::DeadlineExceeded => Outcome::Timeout,
            HookError::Trapped(_) => Outcome::Trap,
            _ => Outcome::Error,
        }
    }
}

#[derive(Default)]
struct Cell {
    calls: AtomicU64,
    allows: AtomicU64,
    denies: AtomicU64,
    timeouts: AtomicU64,
    traps: AtomicU64,
    errors: AtomicU64,
    latency: Histogram,
}

struct Histogram([AtomicU64; BUCKETS]);

impl Default for Histogram {
    fn default() -> Self {
        Histogram(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

impl Histogram {
    fn bucket(d: Duration) -> usize {
        let micros = d.as_secs_f64() * 1e6;
        if micros <= 1.0 {
            return 0;
        }
        ((micros.log2() * 4.0).ceil() as usize).min(BUCKETS - 1)
    }

    fn record(&self, d: Duration) {
        self.0[Self::bucket(d)].fetch_add(1, Relaxed);
    }

    /// The upper bound of the bucket holding quantile `q`, in µs.
    fn quantile(&self, q: f64) -> Option<f64> {
        let counts: Vec<u64> = self.0.iter().map(|c| c.load(Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(2f64.powf(i as f64 / 4.0));
            }
        }
        None
    }
}

/// Counters of every hook × backend of one server.
pub struct HookStats {
    cells: Vec<Cell>,
    dropped: Vec<AtomicU64>,
}

impl Default for HookStats {
    fn default() -> Self {
        HookStats {
            cells: (0..HookKind::ALL.len() * BACKENDS.len())
                .map(|_| Cell::default())
                .collect(),
            dropped: (0..HookKind::ALL.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
        }
    }
}

/// A snapshot of one hook × backend.
#[derive(Debug, Clone, PartialEq)]
pub struct HookStatsRow {
    pub hook: HookKind,
    pub backend: BackendKind,
    pub calls: u64,
    pub allows: u64,
    pub denies: u64,
    pub timeouts: u64,
    pub traps: u64,
    pub errors: u64,
    /// Notifications dropped because the queue was full (per hook, reported on
    /// every backend row of that hook).
    pub dropped: u64,
    pub p50_micros: Option<f64>,
    pub p99_micros: Option<f64>,
}

impl HookStats {
    fn cell(&self, hook: HookKind, backend: BackendKind) -> &Cell {
        let b = BACKENDS.iter().position(|k| *k == backend).unwrap_or(0);
        &self.cells[hook.index() * BACKENDS.len() + b]
    }

    /// Records one finished call.
    pub fn record(&self, hook: HookKind, backend: BackendKind, outcome: Outcome, took: Duration) {
        let c = self.cell(hook, backend);
        c.calls.fetch_add(1, Relaxed);
        c.latency.record(took);
        let counter = match outcome {
            Outcome::Allow => &c.allows,
            Outcome::Deny => &c.denies,
            Outcome::Delivered => return,
            Outcome::Timeout => &c.timeouts,
            Outcome::Trap => &c.traps,
            Outcome::Error => &c.errors,
        };
        counter.fetch_add(1, Relaxed);
    }

    /// Counts a notification that was not delivered (queue full or backend overloaded).
    pub fn record_dropped(&self, hook: HookKind) {
        self.dropped[hook.index()].fetch_add(1, Relaxed);
    }

    /// Notifications of `hook` dropped so far.
    pub fn dropped(&self, hook: HookKind) -> u64 {
        self.dropped[hook.index()].load(Relaxed)
    }

    /// Every hook × backend that saw a call or a drop.
    pub fn snapshot(&self) -> Vec<HookStatsRow> {
        let mut rows = Vec::new();
        for hook in HookKind::ALL {
            for backend in BACKENDS {
                let c = self.cell(hook, backend);
                let calls = c.calls.load(Relaxed);
                let dropped = self.dropped(hook);
                if calls == 0 && dropped == 0 {
                    continue;
                }
                rows.push(HookStatsRow {
                    hook,
                    backend,
                    calls,
                    allows: c.allows.load(Relaxed),
                    denies: c.denies.load(Relaxed),
                    timeouts: c.timeouts.load(Relaxed),
                    traps: c.traps.load(Relaxed),
                    errors: c.errors.load(Relaxed),
                    dropped,
                    p50_micros: c.latency.quantile(0.5),
                    p99_micros: c.latency.quantile(0.99),
                });
            }
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_quantiles_follow_the_recorded_calls() {
        let s = HookStats::default();
        for i in 0..99 {
            let outcome = if i % 3 == 0 {
                Outcome::Deny
            } else {
                Outcome::Allow
            };
            s.record(
                HookKind::ClientAuthenticate,
                BackendKind::Wasm,
                outcome,
                Duration::from_micros(10),
            );
        }
        s.record(
            HookKind::ClientAuthenticate,
            BackendKind::Wasm,
            Outcome::Timeout,
            Duration::from_secs(5),
        );
        let rows = s.snapshot();
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!((r.calls, r.allows, r.denies, r.timeouts), (100, 66, 33, 1));
        let p50 = r.p50_micros.expect("p50");
        assert!((10.0..=12.0).contains(&p50), "{p50}");
        assert!(r.p99_micros.expect("p99") <= 12.0);
    }
}
