//! A publishing client of the load generator: sends stamped messages in
//! batches, never more than a window ahead of the receivers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;

use super::codec;
use super::conn::Conn;
use super::progress::Progress;
use super::{now_ns, AbortOnDrop};

/// Messages written with one `write` call at most.
const BATCH: u64 = 32;

/// How far publishers may run ahead of delivery.
#[derive(Debug, Clone, Copy)]
pub enum Window {
    /// Every receiver gets every message of one publisher (1 → 1, fan-out):
    /// publishes minus the slowest receiver's deliveries stay ≤ the window.
    Slowest(u64),
    /// One receiver gets the messages of many publishers (fan-in): all
    /// publishes minus all deliveries stay ≤ the window.
    Total(u64),
}

/// What one publisher sends.
#[derive(Debug, Clone)]
pub struct Plan {
    pub topic: String,
    pub qos: u8,
    /// Sequence numbers `first_seq .. first_seq + count`.
    pub first_seq: u64,
    pub count: u64,
    pub payload_size: usize,
    pub window: Window,
}

/// A publisher's connection after its last publish. Keep it until every
/// message is delivered: a broker may drop the messages it has read but not
/// yet routed when the publisher goes away (rmqtt does).
pub struct Finished {
    _writer: OwnedWriteHalf,
    _drain: AbortOnDrop<()>,
}

/// Publishes the plan. `sent` counts the messages of every publisher that
/// shares the window. PUBACKs from the broker are read and dropped.
pub async fn publish(
    conn: Conn,
    plan: Plan,
    sent: Arc<AtomicU64>,
    progress: Arc<Progress>,
) -> Result<Finished, String> {
    let (mut reader, mut writer) = conn.split();
    // Drain whatever the broker sends (PUBACKs), so its writes never block.
    let drain = AbortOnDrop(tokio::spawn(async move {
        let mut packets = Vec::new();
        while reader.batch(&mut packets).await.is_ok() {}
    }));
    let (delivered, window): (fn(&Progress) -> u64, u64) = match plan.window {
        Window::Slowest(w) => (Progress::slowest, w),
        Window::Total(w) => (Progress::total, w),
    };
    let mut out = BytesMut::with_capacity(BATCH as usize * (plan.payload_size + 64));
    let mut done = 0u64;
    let mut packet_id = 0u16;
    while done < plan.count {
        let want = BATCH.min(plan.count - done);
        let mut granted = 0;
        progress
            .wait_until(|p| {
                granted = reserve(&sent, delivered(p) + window, want);
                granted > 0
            })
            .await?;
        let now = now_ns();
        for k in 0..granted {
            packet_id = packet_id.checked_add(1).unwrap_or(1);
            codec::publish_stamped(
                &mut out,
                &plan.topic,
                plan.qos,
                packet_id,
                plan.first_seq + done + k,
                now,
                plan.payload_size,
            );
        }
        writer
            .write_all(&out)
            .await
            .map_err(|e| format!("write PUBLISH: {e}"))?;
        out.clear();
        done += granted;
    }
    Ok(Finished {
        _writer: writer,
        _drain: drain,
    })
}

/// Takes up to `want` sends from the shared budget `limit - sent`.
fn reserve(sent: &AtomicU64, limit: u64, want: u64) -> u64 {
    let mut granted = 0;
    let _ = sent.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
        granted = limit.saturating_sub(s).min(want);
        (granted > 0).then_some(s + granted)
    });
    granted
}
