//! Scenario 9: how long a broker with persistence takes to come back with a
//! full store. The bench fills it (retained messages, persistent sessions),
//! has the broker process `stop()` its server, reads the size of
//! `<dir>/default/store.log`, has it `start()` again, and times `start()`
//! until its listeners are bound (timed in the broker process) plus the
//! first CONNACK after that. Then it checks that the store was restored —
//! retained messages (first, middle, last) are delivered to a new
//! subscriber, and a persistent session resumes with its subscription —
//! and fails the run if not.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;

use super::fill;
use crate::brokers::Running;
use crate::loadgen::codec;
use crate::loadgen::conn::Conn;
use crate::sizes::Sizes;

/// How long the restarted broker may take to accept its first client.
const ACCEPT_WAIT: Duration = Duration::from_secs(30);
/// Pause between connection attempts while it does not accept yet.
const RETRY_EVERY: Duration = Duration::from_millis(5);

/// (restart s, store MB, stop s).
pub async fn measure(broker: &mut Running, s: &Sizes, tag: &str) -> Result<Vec<f64>, String> {
    fill::retained(broker.addr, s.restart_retained, tag)
        .await
        .map_err(|e| format!("filling retained messages: {e}"))?;
    fill::sessions(broker.addr, s.restart_sessions, tag)
        .await
        .map_err(|e| format!("filling sessions: {e}"))?;
    let stop = broker.stop_server().await?;
    let store_bytes = broker.store_bytes()?;
    let start = broker.start_server().await?;
    let accepted = Instant::now();
    let check = first_client(broker.addr, &format!("{tag}-check")).await?;
    let restart = start + accepted.elapsed();
    check_restored(broker.addr, check, s, tag).await?;
    Ok(vec![
        restart.as_secs_f64(),
        store_bytes as f64 / 1e6,
        stop.as_secs_f64(),
    ])
}

/// Connects as soon as the broker accepts (it should at once: `start()` resolved).
async fn first_client(addr: SocketAddr, id: &str) -> Result<Conn, String> {
    let deadline = Instant::now() + ACCEPT_WAIT;
    loop {
        match Conn::open(addr, id).await {
            Ok(c) => return Ok(c),
            Err(e) if Instant::now() >= deadline => {
                return Err(format!(
                    "the restarted broker accepted no client within {} s: {e}",
                    ACCEPT_WAIT.as_secs()
                ))
            }
            Err(_) => tokio::time::sleep(RETRY_EVERY).await,
        }
    }
}

async fn check_restored(
    addr: SocketAddr,
    mut check: Conn,
    s: &Sizes,
    tag: &str,
) -> Result<(), String> {
    let n = s.restart_retained;
    for (packet_id, k) in [(1, 0), (2, n / 2), (3, n.saturating_sub(1))] {
        retained_is_delivered(&mut check, packet_id, tag, k).await?;
    }
    let i = s.restart_sessions / 2;
    let id = fill::session_id(tag, i);
    let mut session = Conn::open_persistent(addr, &id).await?;
    if !session.session_present {
        return Err(format!(
            "NOT RESTORED: persistent session {id} did not resume after the restart \
             (CONNACK session present 0)"
        ));
    }
    let topic = fill::session_topic(tag, i);
    let mut out = BytesMut::new();
    codec::publish(&mut out, &topic, 1, false, 9, b"after restart");
    check.write(&out).await?;
    loop {
        let p = session.next_packet().await.map_err(|e| {
            format!("NOT RESTORED: session {id} got nothing on its subscription {topic}: {e}")
        })?;
        if p.kind == codec::PUBLISH && p.publish_topic() == Some(topic.as_bytes()) {
            return Ok(());
        }
    }
}

/// Subscribes to retained message `k`'s topic and waits for it, intact.
async fn retained_is_delivered(
    check: &mut Conn,
    packet_id: u16,
    tag: &str,
    k: u64,
) -> Result<(), String> {
    let topic = fill::retained_topic(tag, k);
    let mut out = BytesMut::new();
    codec::subscribe(&mut out, packet_id, &topic, 1);
    check.write(&out).await?;
    loop {
        let p = check.next_packet().await.map_err(|e| {
            format!("NOT RESTORED: retained message on {topic} missing after the restart: {e}")
        })?;
        if p.kind != codec::PUBLISH || p.publish_topic() != Some(topic.as_bytes()) {
            continue;
        }
        let payload = p.publish_parts().map(|(_, b)| b.to_vec());
        if !p.retain() || payload.as_deref() != Some(&fill::retained_payload(k)[..]) {
            return Err(format!(
                "NOT RESTORED: retained message on {topic} came back altered \
                 (retain flag {}, payload {:?})",
                p.retain(),
                payload.map(|b| String::from_utf8_lossy(&b).into_owned())
            ));
        }
        if let Some((Some(id), _)) = p.publish_parts() {
            let mut ack = BytesMut::new();
            codec::puback(&mut ack, id);
            check.write(&ack).await?;
        }
        return Ok(());
    }
}
