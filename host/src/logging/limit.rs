//! Rate-limited WARNs: an ACL that fails on every message must not log one
//! line per message.
//!
//! A [`WarnLimiter`] logs the first occurrence of a message at once, then
//! counts identical ones for [`WINDOW`]; when the window ends a single line
//! `"<message> (repeated N times in the last 10 s)"` reports them (nothing if
//! there were none). A steady flood therefore costs one line per window.
//!
//! Each hook router (one per broker context) owns its limiter, so one
//! server's or tenant's flood never hides another's first WARN. The counting
//! state is a few mutex-guarded maps (sharded by message hash), touched only
//! when a WARN is about to be logged: the message path itself never sees it.
//! One process-wide thread, started on the first suppressed WARN and parked
//! while nothing is pending, reports the counts of windows that ended.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How long identical WARNs are counted instead of logged.
pub const WINDOW: Duration = Duration::from_secs(10);
const SHARDS: usize = 8;
/// Distinct messages tracked per shard and window; more are counted together.
const KEYS_PER_SHARD: usize = 32;
/// How often the reporting thread looks for ended windows.
const TICK: Duration = Duration::from_secs(1);

/// Counts repeated WARNs of one broker context. Cheap to clone (shared state).
#[derive(Clone)]
pub struct WarnLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    window: Duration,
    hasher: std::hash::RandomState,
    shards: [Mutex<Shard>; SHARDS],
}

#[derive(Default)]
struct Shard {
    entries: HashMap<String, Entry>,
    /// Messages not tracked because the shard was full: (first seen, count).
    overflow: Option<(Instant, u64)>,
}

struct Entry {
    target: &'static str,
    /// When the current window started.
    since: Instant,
    /// Occurrences since the last line logged for this message.
    repeats: u64,
}

/// A line to log: (target, message).
pub type Line = (&'static str, String);

impl Default for WarnLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl WarnLimiter {
    /// A limiter with the standard [`WINDOW`], reported by the shared thread.
    pub fn new() -> Self {
        let limiter = Self::with_window(WINDOW);
        let mut all = registry().lock().unwrap_or_else(|e| e.into_inner());
        // Forget limiters whose context is gone (a Weak holds their memory).
        all.retain(|w| w.strong_count() > 0);
        all.push(Arc::downgrade(&limiter.inner));
        drop(all);
        limiter
    }

    /// A limiter with its own window that nobody reports for but
    /// [`WarnLimiter::flush`] (tests).
    pub fn with_window(window: Duration) -> Self {
        WarnLimiter {
            inner: Arc::new(Inner {
                window,
                hasher: std::hash::RandomState::new(),
                shards: std::array::from_fn(|_| Mutex::default()),
            }),
        }
    }

    /// Logs `message` as a WARN, unless it was logged within the window.
    pub fn warn(&self, target: &'static str, message: String) {
        let now = Instant::now();
        let (lines, suppressed) = self.check(target, message, now);
        for (target, line) in lines {
            log::warn!(target: target, "{line}");
        }
        if suppressed {
            wake_reporter();
        }
    }

    /// Decides on one occurrence at `now`: the lines to log now, and whether
    /// the occurrence was counted instead (so a later report is pending).
    pub fn check(&self, target: &'static str, message: String, now: Instant) -> (Vec<Line>, bool) {
        let window = self.inner.window;
        let shard = &self.inner.shards[self.inner.hasher.hash_one(&message) as usize % SHARDS];
        let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
        let mut lines = Vec::new();
        if let Some(e) = shard.entries.get_mut(&message) {
            if now.duration_since(e.since) < window {
                e.repeats += 1;
                return (lines, true);
            }
            // The window ended and the reporter has not seen it yet.
            if e.repeats > 0 {
                lines.push((e.target, repeated(&message, e.repeats, window)));
            }
            e.since = now;
            e.repeats = 0;
            lines.push((target, message));
            return (lines, false);
        }
        if shard.entries.len() >= KEYS_PER_SHARD {
            shard.sweep(now, window, &mut lines);
        }
        if shard.entries.len() >= KEYS_PER_SHARD {
            let (_, n) = shard.overflow.get_or_insert((now, 0));
            *n += 1;
            return (lines, true);
        }
        shard.entries.insert(
            message.clone(),
            Entry {
                target,
                since: now,
                repeats: 0,
            },
        );
        lines.push((target, message));
        (lines, false)
    }

    /// Reports the windows that ended by `now`; returns the lines and
    /// whether counts are still pending.
    pub fn flush(&self, now: Instant) -> (Vec<Line>, bool) {
        let mut lines = Vec::new();
        let mut pending = false;
        for shard in &self.inner.shards {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            shard.sweep(now, self.inner.window, &mut lines);
            pending |= shard.overflow.is_some() || shard.entries.values().any(|e| e.repeats > 0);
        }
        (lines, pending)
    }
}

impl Shard {
    /// Ends the windows that are over: a message repeated in its window gets
    /// its report and a new window; one that was not is forgotten.
    fn sweep(&mut self, now: Instant, window: Duration, lines: &mut Vec<Line>) {
        self.entries.retain(|message, e| {
            if now.duration_since(e.since) < window {
                return true;
            }
            if e.repeats == 0 {
                return false;
            }
            lines.push((e.target, repeated(message, e.repeats, window)));
            e.since = now;
            e.repeats = 0;
            true
        });
        if let Some((since, n)) = self.overflow {
            if now.duration_since(since) >= window {
                lines.push((
                    "rmqtt_js",
                    format!(
                        "{n} more WARNs not logged: too many distinct WARNs in {} s",
                        window.as_secs()
                    ),
                ));
                self.overflow = None;
            }
        }
    }
}

fn repeated(message: &str, n: u64, window: Duration) -> String {
    let times = if n == 1 { "time" } else { "times" };
    format!(
        "{message} (repeated {n} {times} in the last {} s)",
        window.as_secs().max(1)
    )
}

/// Every limiter made by [`WarnLimiter::new`], for the reporting thread.
fn registry() -> &'static Mutex<Vec<Weak<Inner>>> {
    static REGISTRY: Mutex<Vec<Weak<Inner>>> = Mutex::new(Vec::new());
    &REGISTRY
}

/// Starts the reporting thread once, and unparks it.
fn wake_reporter() {
    static REPORTER: OnceLock<Option<Thread>> = OnceLock::new();
    let thread = REPORTER.get_or_init(|| {
        std::thread::Builder::new()
            .name("rmqtt-js-warn-repeats".into())
            .spawn(report_forever)
            .map(|h| h.thread().clone())
            .ok()
    });
    if let Some(t) = thread {
        t.unpark();
    }
}

fn report_forever() {
    loop {
        std::thread::sleep(TICK);
        let live: Vec<Arc<Inner>> = {
            let mut all = registry().lock().unwrap_or_else(|e| e.into_inner());
            all.retain(|w| w.strong_count() > 0);
            all.iter().filter_map(Weak::upgrade).collect()
        };
        let mut pending = false;
        for inner in live {
            let (lines, more) = WarnLimiter { inner }.flush(Instant::now());
            for (target, line) in lines {
                log::warn!(target: target, "{line}");
            }
            pending |= more;
        }
        if !pending {
            // Woken by the next suppressed WARN.
            std::thread::park();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "rmqtt_js::test";

    fn texts(lines: Vec<Line>) -> Vec<String> {
        lines.into_iter().map(|(_, m)| m).collect()
    }

    #[test]
    fn the_first_occurrence_is_logged_and_repeats_are_reported_once_per_window() {
        let l = WarnLimiter::with_window(Duration::from_secs(10));
        let t0 = Instant::now();
        let (lines, suppressed) = l.check(T, "acl failed".into(), t0);
        assert_eq!(
            (texts(lines), suppressed),
            (vec!["acl failed".to_string()], false)
        );
        for i in 1..200 {
            let (lines, suppressed) =
                l.check(T, "acl failed".into(), t0 + Duration::from_millis(i));
            assert!(lines.is_empty() && suppressed);
        }
        assert_eq!(l.flush(t0 + Duration::from_secs(5)), (vec![], true));
        let (lines, pending) = l.flush(t0 + Duration::from_secs(10));
        assert_eq!(
            texts(lines),
            vec!["acl failed (repeated 199 times in the last 10 s)".to_string()]
        );
        assert!(!pending);
        // A quiet window ends silently and forgets the message.
        assert_eq!(l.flush(t0 + Duration::from_secs(20)), (vec![], false));
        let (lines, _) = l.check(T, "acl failed".into(), t0 + Duration::from_secs(21));
        assert_eq!(texts(lines), vec!["acl failed".to_string()]);
    }

    #[test]
    fn distinct_messages_are_limited_apart() {
        let l = WarnLimiter::with_window(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(l.check(T, "a".into(), t0).0.len(), 1);
        assert_eq!(l.check(T, "b".into(), t0).0.len(), 1);
        assert!(l.check(T, "a".into(), t0).0.is_empty());
    }

    #[test]
    fn an_occurrence_after_the_window_reports_the_count_before_the_reporter_does() {
        let l = WarnLimiter::with_window(Duration::from_secs(10));
        let t0 = Instant::now();
        l.check(T, "x".into(), t0);
        l.check(T, "x".into(), t0 + Duration::from_secs(1));
        let (lines, suppressed) = l.check(T, "x".into(), t0 + Duration::from_secs(11));
        assert!(!suppressed);
        assert_eq!(
            texts(lines),
            vec![
                "x (repeated 1 time in the last 10 s)".to_string(),
                "x".to_string()
            ]
        );
    }

    #[test]
    fn too_many_distinct_messages_are_counted_together() {
        let l = WarnLimiter::with_window(Duration::from_secs(10));
        let t0 = Instant::now();
        let logged: usize = (0..10_000)
            .map(|i| l.check(T, format!("m{i}"), t0).0.len())
            .sum();
        assert!(logged <= SHARDS * KEYS_PER_SHARD, "{logged} lines");
        let (lines, _) = l.flush(t0 + Duration::from_secs(10));
        let overflow: u64 = lines
            .iter()
            .filter_map(|(_, m)| m.split(' ').next()?.parse::<u64>().ok())
            .sum();
        assert_eq!(overflow as usize + logged, 10_000);
    }
}
