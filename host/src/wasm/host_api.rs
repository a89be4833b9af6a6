//! The `rmqtt:hooks/host` import: what the broker gives a policy.

use std::time::{SystemTime, UNIX_EPOCH};

use super::bindings::v0_1::{host, types};
use super::state::StoreState;

/// Longest guest log message kept; the rest is cut (a guest must not be able
/// to flood the log with megabyte lines).
pub(crate) const MAX_LOG_MESSAGE: usize = 4096;

impl host::Host for StoreState {
    fn log(&mut self, level: host::Level, message: String) {
        let level = match level {
            host::Level::Trace => log::Level::Trace,
            host::Level::Debug => log::Level::Debug,
            host::Level::Info => log::Level::Info,
            host::Level::Warn => log::Level::Warn,
            host::Level::Error => log::Level::Error,
        };
        let target = self.ident.log_target.as_str();
        if log::log_enabled!(target: target, level) {
            log::log!(target: target, level, "{}", truncate(&message, MAX_LOG_MESSAGE));
        }
    }

    fn now_millis(&mut self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

/// The types-only interface has no functions.
impl types::Host for StoreState {}

/// `s` cut to at most `max` bytes, on a char boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
