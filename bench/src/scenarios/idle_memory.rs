//! Scenario 7: resident memory of the broker process with many idle
//! connected clients (read from /proc/<pid>/status VmRSS).

use std::time::Duration;

use super::connect_storm::storm;
use crate::brokers::Running;

/// Handshakes in flight while the clients connect.
const IN_FLIGHT: usize = 100;
/// Time given to the broker to settle before each reading.
const SETTLE: Duration = Duration::from_millis(500);

/// (RSS with the clients in MiB, RSS growth per client in KiB).
pub async fn measure(broker: &Running, clients: usize, tag: &str) -> Result<(f64, f64), String> {
    tokio::time::sleep(SETTLE).await;
    let before = broker.rss_kib().ok_or("no RSS for this broker")?;
    let connected = storm(broker.addr, clients, IN_FLIGHT, tag).await?;
    tokio::time::sleep(SETTLE).await;
    let after = broker.rss_kib().ok_or("the broker process is gone")?;
    drop(connected);
    Ok((
        after as f64 / 1024.0,
        after.saturating_sub(before) as f64 / clients as f64,
    ))
}
