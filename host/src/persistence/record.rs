//! The records of the store's log, and the key that matches a message
//! delivered to a client with the record that stored it. Records carry
//! rmqtt's own (serde) types, encoded with postcard.

use std::hash::{Hash, Hasher};

use rmqtt::types::{ConnectInfo, Disconnect, From, Id, Publish, SubscriptionOptions};
use serde::{Deserialize, Serialize};

/// What a persistent session is, beside its subscriptions and messages.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionMeta {
    pub id: Id,
    /// The CONNECT, without its password, and without its will once the will
    /// is discarded or published.
    pub conn_info: ConnectInfo,
    pub created_at: i64,
    pub connected_at: i64,
    /// `None` while the client is connected.
    pub disconnected_at: Option<i64>,
    /// The client's DISCONNECT, which may change the session expiry.
    pub disconnect: Option<Disconnect>,
}

/// One change to the durable state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Record {
    /// A retained message (replaces the topic's previous one).
    RetainSet {
        topic: String,
        from: From,
        publish: Publish,
        /// Unix ms after which it is gone (MQTT 5 message expiry).
        expires_at: Option<i64>,
    },
    RetainClear {
        topic: String,
    },
    /// A persistent session, new or updated.
    SessionPut {
        client_id: String,
        meta: Box<SessionMeta>,
    },
    /// The session ended: its subscriptions and messages go with it.
    SessionDrop {
        client_id: String,
    },
    SubPut {
        client_id: String,
        filter: String,
        opts: SubscriptionOptions,
    },
    SubDrop {
        client_id: String,
        filter: String,
    },
    /// A QoS 1/2 message for a persistent session (queued or in flight).
    MsgPut {
        client_id: String,
        seq: u64,
        from: From,
        publish: Publish,
        /// The packet id of the QoS 2 PUBLISH of `from` this is a copy of,
        /// while that one is not committed (see `InQos2`).
        qos2_origin: Option<u16>,
    },
    /// The message went out with this packet id (resent with it, DUP set).
    MsgSent {
        client_id: String,
        seq: u64,
        packet_id: u16,
    },
    /// The client answered the (QoS 2) message with PUBREC: what is owed
    /// now is the PUBREL, not the message.
    MsgReleased {
        client_id: String,
        seq: u64,
    },
    /// The message was acknowledged, dropped or expired.
    MsgDone {
        client_id: String,
        seq: u64,
    },
    /// A QoS 2 PUBLISH this session sent, by packet id, until its PUBREL.
    /// Written before it is forwarded (`committed: false`), and again once
    /// it was forwarded, before the PUBREC (`committed: true`). A resend of a
    /// committed one is answered and not delivered again; a resend of one
    /// whose forwarding a crash cut short goes to the `recipients` that do
    /// not have it yet.
    InQos2 {
        client_id: String,
        packet_id: u16,
        digest: u32,
        committed: bool,
        /// Sessions that have it (filled by `MsgPut`s; written out whole by
        /// compaction).
        recipients: Vec<String>,
    },
    /// The session sent PUBREL for that packet id: it may carry a new message.
    InQos2Done {
        client_id: String,
        packet_id: u16,
    },
    /// The broker was alive at this time (Unix ms): after a crash, sessions
    /// that were online count their expiry from the last one.
    Clock {
        millis: i64,
    },
}

impl Record {
    pub fn encode(&self) -> Vec<u8> {
        // Serializing our own, well-formed values into a Vec cannot fail.
        postcard::to_stdvec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Record, String> {
        postcard::from_bytes(bytes).map_err(|e| e.to_string())
    }
}

/// The identity of a message as its recipient's session sees it: the same
/// for the copy the publisher's path stored and the copy that was delivered
/// and acknowledged (packet id, DUP, QoS and properties aside). Two messages
/// with the same key are indistinguishable to the client.
pub fn message_key(from: &From, publish: &Publish) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    from.id.client_id.as_bytes().hash(&mut h);
    publish.topic.as_bytes().hash(&mut h);
    publish.payload.hash(&mut h);
    publish.create_time.hash(&mut h);
    h.finish()
}

/// A digest of a PUBLISH's topic and payload that is the same in every
/// build (it is kept in the store).
pub fn publish_digest(publish: &Publish) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(publish.topic.as_bytes());
    h.update(&[0]);
    h.update(&publish.payload);
    h.finalize()
}

/// Whether a CONNECT asks for a session that outlives the connection
/// (MQTT 3: clean session 0; MQTT 5: a session expiry interval).
pub fn is_persistent(conn_info: &ConnectInfo) -> bool {
    match conn_info {
        ConnectInfo::V3(_, c) => !c.clean_session,
        ConnectInfo::V5(_, c) => c.session_expiry_interval_secs > 0,
    }
}

/// The CONNECT as the store keeps it: no password.
pub fn stored_conn_info(conn_info: &ConnectInfo) -> ConnectInfo {
    let mut c = conn_info.clone();
    match &mut c {
        ConnectInfo::V3(_, c) => c.password = None,
        ConnectInfo::V5(_, c) => c.password = None,
    }
    c
}

/// The CONNECT without its will (discarded by a normal DISCONNECT, or sent).
pub fn without_will(conn_info: &ConnectInfo) -> ConnectInfo {
    let mut c = conn_info.clone();
    match &mut c {
        ConnectInfo::V3(_, c) => c.last_will = None,
        ConnectInfo::V5(_, c) => c.last_will = None,
    }
    c
}

/// The will delay (MQTT 5), in seconds.
pub fn will_delay_secs(conn_info: &ConnectInfo) -> Option<u32> {
    match conn_info {
        ConnectInfo::V3(_, _) => None,
        ConnectInfo::V5(_, c) => c.last_will.as_ref().and_then(|w| w.will_delay_interval_sec),
    }
}

/// The CONNECT with its will delay set to what is left of it.
pub fn with_will_delay(conn_info: &ConnectInfo, secs: u32) -> ConnectInfo {
    let mut c = conn_info.clone();
    if let ConnectInfo::V5(_, c) = &mut c {
        if let Some(w) = c.last_will.as_mut() {
            w.will_delay_interval_sec = if secs == 0 { None } else { Some(secs) };
        }
    }
    c
}
