//! Fills a broker with state for the restart scenario (9): retained messages
//! on distinct topics (QoS 1, so each is in the store once acknowledged),
//! and persistent sessions (clean session false) with one subscription each,
//! left offline with a DISCONNECT.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::loadgen::codec;
use crate::loadgen::conn::Conn;
use crate::loadgen::progress::STALL;
use crate::loadgen::AbortOnDrop;
use crate::sizes::PAYLOAD;

/// Clients publishing the retained messages (the broker uses both cores).
const RETAINERS: u64 = 4;
/// Retained messages sent and not yet acknowledged, per client, at most.
const RETAIN_WINDOW: u64 = 200;
/// Retained messages written with one `write` call at most.
const BATCH: u64 = 32;
/// Sessions being set up at once.
const SESSIONS_IN_FLIGHT: usize = 100;

pub fn retained_topic(tag: &str, k: u64) -> String {
    format!("{tag}/retained/{k}")
}

/// The payload of retained message `k`: names it, padded to [`PAYLOAD`] bytes.
pub fn retained_payload(k: u64) -> Vec<u8> {
    let mut p = format!("retained message {k:010} ").into_bytes();
    p.resize(PAYLOAD.max(p.len()), b'.');
    p
}

pub fn session_id(tag: &str, i: usize) -> String {
    format!("{tag}-session-{i}")
}

pub fn session_topic(tag: &str, i: usize) -> String {
    format!("{tag}/session/{i}")
}

/// Publishes `count` retained messages (topics `retained_topic(tag, 0..count)`)
/// from [`RETAINERS`] clients and waits for every PUBACK.
pub async fn retained(addr: SocketAddr, count: u64, tag: &str) -> Result<(), String> {
    let mut tasks = JoinSet::new();
    let share = count.div_ceil(RETAINERS);
    for r in 0..RETAINERS {
        let (first, end) = ((r * share).min(count), ((r + 1) * share).min(count));
        let tag = tag.to_string();
        tasks.spawn(async move { retain_range(addr, first..end, &tag, r).await });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| format!("retaining task: {e}"))??;
    }
    Ok(())
}

/// One client's share of [`retained`].
async fn retain_range(
    addr: SocketAddr,
    range: std::ops::Range<u64>,
    tag: &str,
    r: u64,
) -> Result<(), String> {
    let count = range.end - range.start;
    let conn = Conn::open(addr, &format!("{tag}-retainer-{r}")).await?;
    let (mut reader, mut writer) = conn.split();
    let (acks, mut acked) = watch::channel(0u64);
    let _reading = AbortOnDrop(tokio::spawn(async move {
        let mut packets = Vec::new();
        let mut n = 0u64;
        while reader.batch(&mut packets).await.is_ok() {
            n += packets.iter().filter(|p| p.kind == codec::PUBACK).count() as u64;
            if acks.send(n).is_err() {
                return;
            }
        }
    }));
    let mut out = BytesMut::with_capacity(BATCH as usize * (PAYLOAD + 64));
    let mut sent = 0u64;
    let mut packet_id = 0u16;
    loop {
        let done = *acked.borrow_and_update();
        if done >= count {
            break;
        }
        let room = (done + RETAIN_WINDOW)
            .saturating_sub(sent)
            .min(BATCH)
            .min(count - sent);
        if room == 0 {
            tokio::time::timeout(STALL, acked.changed())
                .await
                .map_err(|_| {
                    format!(
                        "stalled: {done} of {count} retained messages acknowledged, \
                         none for {} s",
                        STALL.as_secs()
                    )
                })?
                .map_err(|_| "the retaining client's connection closed".to_string())?;
            continue;
        }
        for _ in 0..room {
            packet_id = packet_id.checked_add(1).unwrap_or(1);
            codec::publish(
                &mut out,
                &retained_topic(tag, range.start + sent),
                1,
                true,
                packet_id,
                &retained_payload(range.start + sent),
            );
            sent += 1;
        }
        writer
            .write_all(&out)
            .await
            .map_err(|e| format!("write retained PUBLISH: {e}"))?;
        out.clear();
    }
    codec::disconnect(&mut out);
    let _ = writer.write_all(&out).await;
    Ok(())
}

/// Sets up `count` persistent sessions (`session_id(tag, i)`), each
/// subscribed at QoS 1 to `session_topic(tag, i)`, and disconnects them.
pub async fn sessions(addr: SocketAddr, count: usize, tag: &str) -> Result<(), String> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..SESSIONS_IN_FLIGHT.min(count) {
        let next = next.clone();
        let tag = tag.to_string();
        workers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return Ok::<_, String>(());
                }
                let setup = async {
                    let mut conn = Conn::open_persistent(addr, &session_id(&tag, i)).await?;
                    conn.subscribe(&session_topic(&tag, i), 1).await?;
                    conn.disconnect().await
                };
                setup.await.map_err(|e| format!("session {i}: {e}"))?;
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.map_err(|e| format!("session task: {e}"))??;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retained_payloads_are_distinct_and_of_the_bench_size() {
        let (a, b) = (retained_payload(7), retained_payload(99_999));
        assert_eq!((a.len(), b.len()), (PAYLOAD, PAYLOAD));
        assert_ne!(a, b);
        assert!(a.starts_with(b"retained message 0000000007 "));
    }
}
