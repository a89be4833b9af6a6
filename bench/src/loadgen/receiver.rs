//! A subscribing client of the load generator: counts distinct messages by
//! their sequence number, acknowledges QoS 1 deliveries, and records the
//! end-to-end latency from the stamp in each payload.

use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;

use super::codec;
use super::conn::Reader;
use super::now_ns;
use super::progress::Progress;

/// What one receiver saw.
#[derive(Debug, Default)]
pub struct Received {
    pub distinct: u64,
    pub duplicates: u64,
    /// End-to-end latencies in microseconds (when recorded).
    pub latencies_us: Vec<u32>,
}

/// Receives until `expected` distinct messages (sequence numbers
/// `0..expected`) arrived. Runs until aborted if some never arrive: the
/// caller detects that through [`Progress::wait_until`].
pub async fn receive(
    mut reader: Reader,
    mut writer: OwnedWriteHalf,
    idx: usize,
    expected: u64,
    progress: Arc<Progress>,
    record_latency: bool,
) -> Result<Received, String> {
    let mut seen = vec![0u64; (expected as usize).div_ceil(64)];
    let mut got = Received::default();
    if record_latency {
        got.latencies_us.reserve(expected as usize);
    }
    let mut packets = Vec::with_capacity(256);
    let mut acks = BytesMut::with_capacity(4096);
    while got.distinct < expected {
        reader.batch(&mut packets).await?;
        let mut fresh = 0;
        for p in &packets {
            if p.kind != codec::PUBLISH {
                continue;
            }
            let (pid, payload) = p.publish_parts().ok_or("malformed PUBLISH")?;
            if let Some(pid) = pid {
                codec::puback(&mut acks, pid);
            }
            let (seq, sent_ns) = codec::read_stamp(payload).ok_or("payload without a stamp")?;
            let (word, bit) = ((seq / 64) as usize, seq % 64);
            match seen.get_mut(word) {
                Some(w) if seq < expected && *w & (1 << bit) == 0 => {
                    *w |= 1 << bit;
                    fresh += 1;
                    if record_latency {
                        let us = now_ns().saturating_sub(sent_ns) / 1000;
                        got.latencies_us.push(us.min(u64::from(u32::MAX)) as u32);
                    }
                }
                _ => got.duplicates += 1,
            }
        }
        if !acks.is_empty() {
            writer
                .write_all(&acks)
                .await
                .map_err(|e| format!("write PUBACK: {e}"))?;
            acks.clear();
        }
        if fresh > 0 {
            got.distinct += fresh;
            progress.add(idx, fresh);
        }
    }
    Ok(got)
}
