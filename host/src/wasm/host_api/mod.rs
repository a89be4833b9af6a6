//! What the broker gives a policy, one module per WIT version: `host` (log,
//! clock, and from 0.2.0 the policy's config), and from 0.2.0 `data` (the
//! serving context's key-value data) and `crypto`.

mod crypto;
mod v0_1;
mod v0_2;

use std::time::{SystemTime, UNIX_EPOCH};

use super::state::StoreState;

/// Longest guest log message kept; the rest is cut (a guest must not be able
/// to flood the log with megabyte lines).
pub(crate) const MAX_LOG_MESSAGE: usize = 4096;

impl StoreState {
    /// Logs `message` under the policy's target.
    fn guest_log(&self, level: log::Level, message: &str) {
        let target = self.ident.log_target.as_str();
        if log::log_enabled!(target: target, level) {
            log::log!(target: target, level, "{}", truncate(message, MAX_LOG_MESSAGE));
        }
    }
}

/// Wall-clock milliseconds since the Unix epoch.
fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

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
