//! The hook handler that keeps a context's store in step with its sessions:
//! persistent sessions as they connect and disconnect, their subscriptions,
//! and every QoS 1/2 message handed to them (stored on the publisher's path,
//! before its PUBACK/PUBREC), sent (packet id), acknowledged or dropped.
//! QoS 2 PUBLISHes received from persistent sessions are noted, so that a
//! resend after a reconnect or a restart is answered, not delivered again.
//! While the store cannot write, it refuses new publishes (0x97) instead of
//! acknowledging what it could not keep.

use std::sync::Arc;

use async_trait::async_trait;
use rmqtt::codec::v5::PublishAckReason;
use rmqtt::context::ServerContext;
use rmqtt::hook::{Handler, HookResult, Parameter, ReturnType, Type};
use rmqtt::session::Session;
use rmqtt::types::{ConnectInfo, Disconnect, PublishAclResult, PublishResult, QoS};

use super::record::{self, SessionMeta};
use super::store::{Put, Store};

/// Runs before the hook router's ACL, so a refused publish costs no policy call.
const PRIORITY: rmqtt::hook::Priority = 100;

pub struct Capture {
    store: Arc<Store>,
}

impl Capture {
    pub async fn register(scx: &ServerContext, store: Arc<Store>) {
        let register = scx.extends.hook_mgr().register();
        for typ in [
            Type::MessagePublishCheckAcl,
            Type::MessagePublish,
            Type::MessageDuplicateCheck,
            Type::ClientPublishReceived,
            Type::ClientPublishReleased,
            Type::ClientConnected,
            Type::ClientDisconnected,
            Type::SessionTerminated,
            Type::SessionSubscribed,
            Type::SessionUnsubscribed,
            Type::MessageForwarding,
            Type::MessageDelivered,
            Type::MessageReceived,
            Type::MessageAcked,
            Type::MessageDropped,
        ] {
            register
                .add_priority(
                    typ,
                    PRIORITY,
                    Box::new(Capture {
                        store: store.clone(),
                    }),
                )
                .await;
        }
        register.start().await;
    }

    async fn meta_of(s: &Session, conn_info: ConnectInfo) -> SessionMeta {
        SessionMeta {
            id: s.id.clone(),
            conn_info: record::stored_conn_info(&conn_info),
            created_at: s.created_at().await.unwrap_or_default(),
            connected_at: s.connected_at().await.unwrap_or_default(),
            disconnected_at: None,
            disconnect: None,
        }
    }

    async fn connected(&self, s: &Session) {
        let client_id = s.id.client_id.as_ref();
        let Ok(conn_info) = s.connect_info().await else {
            return;
        };
        let present = s.session_present().await.unwrap_or(false);
        if !present {
            // A new session: whatever was stored under this id is over.
            self.store.session_drop(client_id);
        }
        if record::is_persistent(&conn_info) {
            let meta = Self::meta_of(s, (*conn_info).clone()).await;
            let batch = self.store.session_put(client_id, meta);
            self.store.durable(batch).await;
        } else if present {
            self.store.session_drop(client_id);
        }
    }

    async fn disconnected(&self, s: &Session) {
        let client_id = s.id.client_id.as_ref();
        if !self.store.is_session(client_id) {
            return;
        }
        let Ok(conn_info) = s.connect_info().await else {
            return;
        };
        let disconnect = s.disconnect().await.unwrap_or(None);
        // A DISCONNECT discards the will (MQTT 5: unless it asks for it, 0x04);
        // without delay the will has just been sent. Either way it is done.
        let will_done = match &disconnect {
            Some(Disconnect::V5(d)) => {
                d.reason_code != rmqtt::codec::v5::DisconnectReasonCode::DisconnectWithWillMessage
            }
            Some(_) => true,
            None => false,
        } || record::will_delay_secs(&conn_info).is_none();
        let conn_info = if will_done {
            record::without_will(&conn_info)
        } else {
            (*conn_info).clone()
        };
        let mut meta = Self::meta_of(s, conn_info).await;
        meta.disconnected_at = Some(rmqtt::utils::timestamp_millis());
        meta.disconnect = disconnect;
        self.store.session_put(client_id, meta);
    }
}

#[async_trait]
impl Handler for Capture {
    async fn hook(&self, param: &Parameter, acc: Option<HookResult>) -> ReturnType {
        let store = &self.store;
        match param {
            Parameter::MessagePublishCheckAcl(_, p)
                if p.qos != QoS::AtMostOnce && !store.healthy() =>
            {
                let refused = PublishResult::reason_code(
                    PublishAckReason::QuotaExceeded,
                    Some(
                        "the broker cannot store messages right now (its store is failing: a full disk, an unreachable Redis)"
                            .into(),
                    ),
                    false,
                );
                return (
                    false,
                    Some(HookResult::PublishAclResult(PublishAclResult(refused))),
                );
            }
            Parameter::MessagePublish(Some(s), _, p) => {
                // Before it is forwarded: the copies stored for persistent
                // sessions name it, so a resend after a crash in the middle
                // goes only to those that lack it.
                match (p.qos, p.packet_id) {
                    (QoS::ExactlyOnce, Some(pid)) => {
                        store.in_qos2_begin(&s.id.client_id, pid.get(), record::publish_digest(p))
                    }
                    _ => store.in_qos2_idle(&s.id.client_id),
                }
            }
            Parameter::ClientPublishReceived(s, p) => {
                // Forwarded to every recipient; kept before the PUBREC.
                if let Some(pid) = p.packet_id {
                    let digest = record::publish_digest(p);
                    if let Some(batch) = store.in_qos2_commit(&s.id.client_id, pid.get(), digest) {
                        store.durable(batch).await;
                    }
                }
            }
            Parameter::ClientPublishReleased(s, pid) => {
                // Before the PUBCOMP: only then may the client reuse the id.
                if let Some(batch) = store.in_qos2_done(&s.id.client_id, pid.get()) {
                    store.durable(batch).await;
                }
            }
            Parameter::MessageDuplicateCheck(s, p) => {
                if let Some(pid) = p.packet_id {
                    let digest = record::publish_digest(p);
                    if store.in_qos2_committed(&s.id.client_id, pid.get(), digest) {
                        return (false, Some(HookResult::Duplicate));
                    }
                }
            }
            Parameter::ClientConnected(s) => self.connected(s).await,
            Parameter::ClientDisconnected(s, _) => self.disconnected(s).await,
            Parameter::SessionTerminated(s, _) => {
                store.session_drop(&s.id.client_id);
            }
            Parameter::SessionSubscribed(s, sub) => {
                if let Some(batch) = store.sub_put(&s.id.client_id, &sub.topic_filter, &sub.opts) {
                    store.durable(batch).await;
                }
            }
            Parameter::SessionUnsubscribed(s, unsub) => {
                store.sub_drop(&s.id.client_id, &unsub.topic_filter);
            }
            Parameter::MessageForwarding(to, from, p) => match store.msg_put(to, from, p) {
                Put::Stored(batch) => store.durable(batch).await,
                Put::HasItAlready => return (false, Some(HookResult::Duplicate)),
                Put::NotPersistent => {}
            },
            Parameter::MessageDelivered(s, from, p) if p.qos != QoS::AtMostOnce => {
                {
                    if let Some(batch) = store.msg_sent(&s.id.client_id, from, p) {
                        // Exactly once needs the packet id kept before the
                        // PUBLISH goes out; at least once can lose it.
                        if p.qos == QoS::ExactlyOnce {
                            store.durable(batch).await;
                        }
                    }
                }
            }
            Parameter::MessageReceived(s, from, p) => {
                // Kept before the PUBREL goes out: after a restart the PUBREL
                // is resent, never the message (the client may have it done).
                if let Some(batch) = store.msg_received(&s.id.client_id, from, p) {
                    store.durable(batch).await;
                }
            }
            Parameter::MessageAcked(s, from, p) => {
                store.msg_done(&s.id.client_id, from, p);
            }
            Parameter::MessageDropped(Some(to), from, p, _) if p.qos != QoS::AtMostOnce => {
                store.msg_done(&to.client_id, from, p);
            }
            _ => {}
        }
        (true, acc)
    }
}
