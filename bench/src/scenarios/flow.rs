//! Message flow scenarios (1, 2, 3, 5, 8): publishers → broker → subscribers on
//! one topic, every message counted by sequence number; the rate is the
//! deliveries over the time from the first publish to the last delivery.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::loadgen::conn::Conn;
use crate::loadgen::progress::Progress;
use crate::loadgen::publisher::{self, Plan, Window};
use crate::loadgen::receiver::{self, Received};
use crate::sizes::PAYLOAD;

/// Longest a whole flow may take (it ends earlier when deliveries stall).
const FLOW_LIMIT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub publishers: usize,
    pub subscribers: usize,
    pub per_publisher: u64,
    pub qos: u8,
    /// Messages in flight allowed (per subscriber with one publisher, in all with several).
    pub window: u64,
    pub latency: bool,
    /// Subscribers connect with persistent sessions (clean session false),
    /// so a broker with persistence stores every message routed to them.
    pub persistent_subscribers: bool,
}

/// What a flow measured.
#[derive(Debug)]
pub struct Flow {
    pub deliveries: u64,
    pub elapsed: Duration,
    /// Sorted end-to-end latencies in µs (when recorded).
    pub latencies_us: Vec<u32>,
}

impl Flow {
    pub fn rate(&self) -> f64 {
        self.deliveries as f64 / self.elapsed.as_secs_f64()
    }
}

pub async fn run(addr: SocketAddr, shape: Shape, tag: &str) -> Result<Flow, String> {
    tokio::time::timeout(FLOW_LIMIT, run_unbounded(addr, shape, tag))
        .await
        .unwrap_or_else(|_| Err(format!("did not finish within {} s", FLOW_LIMIT.as_secs())))
}

async fn run_unbounded(addr: SocketAddr, shape: Shape, tag: &str) -> Result<Flow, String> {
    let topic = format!("bench/{tag}");
    let per_subscriber = shape.per_publisher * shape.publishers as u64;
    let expected_total = per_subscriber * shape.subscribers as u64;
    let progress = Arc::new(Progress::new(shape.subscribers));

    let subscribers = Conn::open_many(
        addr,
        &format!("{tag}-s"),
        shape.subscribers,
        Some((&topic, shape.qos)),
        !shape.persistent_subscribers,
    )
    .await?;
    let mut receivers = JoinSet::new();
    for (i, conn) in subscribers.into_iter().enumerate() {
        let (reader, writer) = conn.split();
        receivers.spawn(receiver::receive(
            reader,
            writer,
            i,
            per_subscriber,
            progress.clone(),
            shape.latency,
        ));
    }
    let publisher_conns =
        Conn::open_many(addr, &format!("{tag}-p"), shape.publishers, None, true).await?;
    let window = if shape.publishers == 1 {
        Window::Slowest(shape.window)
    } else {
        Window::Total(shape.window)
    };
    let sent = Arc::new(AtomicU64::new(0));

    let start = Instant::now();
    let mut publishers = JoinSet::new();
    for (i, conn) in publisher_conns.into_iter().enumerate() {
        let plan = Plan {
            topic: topic.clone(),
            qos: shape.qos,
            first_seq: i as u64 * shape.per_publisher,
            count: shape.per_publisher,
            payload_size: PAYLOAD,
            window,
        };
        publishers.spawn(publisher::publish(
            conn,
            plan,
            sent.clone(),
            progress.clone(),
        ));
    }
    // Publishers stay connected until the last delivery.
    let mut finished = Vec::with_capacity(shape.publishers);
    while let Some(done) = publishers.join_next().await {
        finished.push(done.map_err(|e| format!("publisher task: {e}"))??);
    }
    progress
        .wait_until(|p| p.total() >= expected_total)
        .await
        .map_err(|e| format!("{e}; expected {expected_total}"))?;
    let elapsed = start.elapsed();
    drop(finished);

    let mut latencies_us = Vec::new();
    while let Some(done) = receivers.join_next().await {
        let got: Received = done.map_err(|e| format!("receiver task: {e}"))??;
        latencies_us.extend(got.latencies_us);
    }
    latencies_us.sort_unstable();
    Ok(Flow {
        deliveries: expected_total,
        elapsed,
        latencies_us,
    })
}
