//! Connect storms (scenarios 4, 6a, 7): many clients connect with a bounded
//! number of handshakes in flight; each CONNACK's latency is timed from
//! the TCP connect. Connections stay open until the storm is over.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::loadgen::conn::Conn;

pub struct Storm {
    pub elapsed: Duration,
    /// Sorted CONNACK latencies in µs.
    pub latencies_us: Vec<u32>,
    /// The open connections (dropping them disconnects the clients).
    pub conns: Vec<Conn>,
}

impl Storm {
    pub fn rate(&self) -> f64 {
        self.conns.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// Connects `count` clients, `in_flight` at a time; the first refusal fails the storm.
pub async fn storm(
    addr: SocketAddr,
    count: usize,
    in_flight: usize,
    tag: &str,
) -> Result<Storm, String> {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut workers = JoinSet::new();
    for _ in 0..in_flight.min(count) {
        let next = next.clone();
        let tag = tag.to_string();
        workers.spawn(async move {
            let mut conns = Vec::new();
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return Ok::<_, String>((conns, latencies));
                }
                let t0 = Instant::now();
                let conn = Conn::open(addr, &format!("{tag}-{i}"))
                    .await
                    .map_err(|e| format!("client {i}: {e}"))?;
                latencies.push(t0.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                conns.push(conn);
            }
        });
    }
    let mut out = Storm {
        elapsed: Duration::ZERO,
        latencies_us: Vec::with_capacity(count),
        conns: Vec::with_capacity(count),
    };
    while let Some(done) = workers.join_next().await {
        let (conns, latencies) = done.map_err(|e| format!("connect task: {e}"))??;
        out.conns.extend(conns);
        out.latencies_us.extend(latencies);
    }
    out.elapsed = start.elapsed();
    out.latencies_us.sort_unstable();
    Ok(out)
}
