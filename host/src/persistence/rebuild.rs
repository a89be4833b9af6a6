//! Puts what a store held back into a freshly built rmqtt context, before its
//! listeners accept anyone: the retained messages, and each persistent session
//! as an offline session (rmqtt's own `offline_restart`) with its
//! subscriptions in the router, its in-flight messages (to be resent with
//! their packet ids, oldest first) and its queue. Session expiry and will
//! delay count from when the session was last connected: the DISCONNECT, or
//! for a session that was online when the broker died, the last time the
//! broker was known alive.

use std::sync::Arc;
use std::time::Duration;

use rmqtt::context::ServerContext;
use rmqtt::inflight::{MomentStatus, OutInflightMessage};
use rmqtt::session::{Session, SessionState};
use rmqtt::types::{DisconnectInfo, From, Publish, QoS, Retain, SessionSubs};

use super::record;
use super::store::{RecoveredMessage, RecoveredSession, Store};

/// What a rebuild brought back.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Rebuilt {
    pub retained: usize,
    pub sessions: usize,
    pub messages: usize,
    /// Sessions that had expired while the broker was down.
    pub expired: usize,
}

/// Puts the retained messages back into the context's retainer. Runs before
/// the retainer is wrapped by [`super::retain::PersistentRetain`]: they are in
/// the store already, and must not be written to it again.
pub async fn restore_retained(
    scx: &ServerContext,
    retained: Vec<(String, From, Publish, Option<i64>)>,
) -> usize {
    let now = rmqtt::utils::timestamp_millis();
    let retain = scx.extends.retain().await;
    let mut restored = 0;
    for (topic, from, publish, expires_at) in retained {
        let left = match expires_at {
            Some(t) if t <= now => continue,
            Some(t) => Some(Duration::from_millis((t - now) as u64)),
            None => None,
        };
        let topic = rmqtt::types::TopicName::from(topic);
        let r = Retain {
            msg_id: None,
            from,
            publish,
        };
        if let Err(e) = retain.set(&topic, r, left).await {
            log::warn!(target: "rmqtt_js::persistence", "retained message on {topic:?} not restored: {e}");
            continue;
        }
        restored += 1;
    }
    restored
}

/// Puts the persistent sessions back (after the retainer is wrapped: a will
/// sent now may be retained, and that must be stored).
pub async fn rebuild_sessions(
    scx: &ServerContext,
    store: &Arc<Store>,
    sessions: Vec<RecoveredSession>,
    last_alive: i64,
) -> Rebuilt {
    let now = rmqtt::utils::timestamp_millis();
    let died_at = if last_alive > 0 {
        last_alive.min(now)
    } else {
        now
    };
    let mut out = Rebuilt::default();
    for s in sessions {
        let client_id = s.client_id.clone();
        match rebuild_session(scx, store, s, died_at, now).await {
            Ok(Some(n)) => {
                out.sessions += 1;
                out.messages += n;
            }
            Ok(None) => {
                out.expired += 1;
                store.session_drop(&client_id);
            }
            Err(e) => {
                log::warn!(target: "rmqtt_js::persistence", "session {client_id:?} not restored: {e}");
            }
        }
    }
    out
}

/// `Ok(None)`: the session expired while the broker was down.
async fn rebuild_session(
    scx: &ServerContext,
    store: &Arc<Store>,
    s: RecoveredSession,
    died_at: i64,
    now: i64,
) -> rmqtt::Result<Option<usize>> {
    let RecoveredSession {
        client_id,
        mut meta,
        subs,
        msgs,
    } = s;
    let id = meta.id.clone();
    let listen_cfg = match scx.listen_cfgs.get(&id.lid) {
        Some(c) => c.value().clone(),
        None => match scx.listen_cfgs.iter().next() {
            Some(c) => c.value().clone(),
            None => return Err(rmqtt::Error::msg("the broker has no listener")),
        },
    };
    let disconnected_at = meta.disconnected_at.unwrap_or(died_at);
    let mut disconnect_info = DisconnectInfo::new(disconnected_at);
    disconnect_info.mqtt_disconnect = meta.disconnect.clone();

    // The will: sent at once when its delay ran out while the broker was down.
    let mut conn_info = meta.conn_info.clone();
    let mut will_now = false;
    if conn_info.last_will().is_some() {
        let delay_ms = record::will_delay_secs(&conn_info).unwrap_or(0) as i64 * 1000;
        let left_ms = disconnected_at + delay_ms - now;
        let left_secs = if left_ms <= 0 {
            0
        } else {
            (left_ms as u64).div_ceil(1000) as u32
        };
        conn_info = record::with_will_delay(&conn_info, left_secs);
        will_now = left_secs == 0;
    }
    let conn_info = Arc::new(conn_info);
    let fitter =
        scx.extends
            .fitter_mgr()
            .await
            .create(conn_info.clone(), id.clone(), listen_cfg.clone());
    let expiry = fitter
        .session_expiry_interval(meta.disconnect.as_ref())
        .as_millis() as i64;
    let left = expiry - (now - disconnected_at);
    if left <= 0 {
        return Ok(None);
    }

    let mut sub_map = rmqtt::types::SessionSubMap::default();
    for (filter, opts) in &subs {
        sub_map.insert(filter.clone().into(), opts.clone());
    }
    let max_inflight = fitter.max_inflight();
    let max_mqueue_len = fitter.max_mqueue_len();
    let session = Session::new(
        id.clone(),
        scx.clone(),
        max_mqueue_len,
        listen_cfg,
        fitter,
        None,
        max_inflight,
        meta.created_at,
        conn_info,
        false,
        false,
        false,
        meta.connected_at,
        SessionSubs::from(sub_map),
        Some(disconnect_info),
        None,
    )
    .await?;

    let count = msgs.len();
    {
        let deliver_queue = session.deliver_queue();
        let mut inflight = session.out_inflight().write().await;
        for RecoveredMessage {
            from,
            mut publish,
            packet_id,
            released,
        } in msgs
        {
            if packet_id != 0 {
                publish.packet_id = std::num::NonZeroU16::new(packet_id);
                publish.dup = true;
                let status = match (publish.qos, released) {
                    (QoS::ExactlyOnce, true) => MomentStatus::UnComplete,
                    (QoS::ExactlyOnce, false) => MomentStatus::UnReceived,
                    _ => MomentStatus::UnAck,
                };
                inflight.push_back(OutInflightMessage::new(status, from, publish));
            } else if let Err((from, p)) = deliver_queue.push((from, publish)) {
                scx.extends
                    .hook_mgr()
                    .message_dropped(
                        Some(id.clone()),
                        from,
                        p,
                        rmqtt::types::Reason::MessageQueueFull,
                    )
                    .await;
            }
        }
    }

    let tx =
        SessionState::offline_restart(session.clone(), Duration::from_millis(left as u64)).await?;
    let mut entry = scx.extends.shared().await.entry(id.clone());
    entry.set(session, tx).await?;
    let router = scx.extends.router().await;
    for (filter, opts) in subs {
        router.add(&filter, id.clone(), opts).await?;
    }
    if will_now {
        // offline_restart has sent it; a second crash must not send it again.
        meta.conn_info = record::without_will(&meta.conn_info);
        store.session_put(&client_id, meta);
    }
    Ok(Some(count))
}
