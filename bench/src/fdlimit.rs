//! The open-files limit: scenario 7 holds 10,000 client sockets in the bench
//! and as many in the broker (a child, which inherits the bench's limit), so
//! the bench raises its soft limit to the hard one, and when even that is
//! too low, scales the idle clients down and says so.

use rustix::process::{getrlimit, setrlimit, Resource};

/// File descriptors kept free for everything that is not an idle client
/// (listeners, pipes, the broker's own files, wasmtime, Node).
const SPARE: u64 = 512;

/// Raises the soft limit as far as allowed; returns the limit now in force
/// (`None` when unlimited).
pub fn raise() -> Option<u64> {
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current != lim.maximum {
        lim.current = lim.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, lim) {
            eprintln!("bench: cannot raise the open-files limit: {e}");
        }
    }
    getrlimit(Resource::Nofile).current
}

/// How many idle clients fit under `limit`: each costs one descriptor in the
/// bench and one in the broker process.
pub fn idle_clients_that_fit(wanted: usize, limit: Option<u64>) -> usize {
    match limit {
        None => wanted,
        Some(l) => wanted.min(l.saturating_sub(SPARE) as usize),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_clients_are_scaled_down_under_a_low_limit() {
        assert_eq!(idle_clients_that_fit(10_000, None), 10_000);
        assert_eq!(idle_clients_that_fit(10_000, Some(20_000)), 10_000);
        assert_eq!(idle_clients_that_fit(10_000, Some(1024)), 512);
        assert_eq!(idle_clients_that_fit(10_000, Some(100)), 0);
    }
}
