//! Every field of an `event` as JSON, for the log line of the events export.
//!
//! The shape follows `event-echo` (0.1.0) plus the 0.2.0 properties: records
//! mirror the WIT records with camelCase keys (serde_json sorts them); an
//! absent `option` is `null`; a QoS is its level (0, 1, 2); a `from-kind` its
//! WIT case name; payloads and correlation data are lowercase hex; a message's
//! `properties` is `{"contentType", "correlationData", "messageExpiryInterval",
//! "payloadFormatIndicator", "responseTopic", "userProperties": [[name,
//! value], ...]}`. Cases carrying one record (`client-connect`,
//! `client-connected`, `session-created`) log that record itself.

use serde_json::{json, Value};

use crate::hex;
use crate::rmqtt::hooks::types::{
    ConnectInfo, DeliveryEvent, Event, FromKind, MessageFrom, MessageInfo, Properties, Qos,
    Session, SessionReason, SessionSubscription, SessionTopic, Subscription,
};

fn qos(q: Qos) -> u8 {
    match q {
        Qos::AtMostOnce => 0,
        Qos::AtLeastOnce => 1,
        Qos::ExactlyOnce => 2,
    }
}

fn session(s: &Session) -> Value {
    json!({
        "node": s.node,
        "clientId": s.client_id,
        "username": s.username,
        "remoteAddr": s.remote_addr,
        "tenant": s.tenant,
    })
}

fn connect_info(c: &ConnectInfo) -> Value {
    json!({
        "node": c.node,
        "clientId": c.client_id,
        "username": c.username,
        "remoteAddr": c.remote_addr,
        "keepAlive": c.keep_alive,
        "protocolVersion": c.protocol_version,
        "cleanStart": c.clean_start,
        "tenant": c.tenant,
    })
}

fn subscription(s: &Subscription) -> Value {
    json!({ "topicFilter": s.topic_filter, "qos": qos(s.qos) })
}

fn from_kind(k: FromKind) -> &'static str {
    match k {
        FromKind::Client => "client",
        FromKind::System => "system",
        FromKind::Bridge => "bridge",
        FromKind::Admin => "admin",
        FromKind::Lastwill => "lastwill",
        FromKind::Custom => "custom",
    }
}

fn message_from(f: &MessageFrom) -> Value {
    json!({
        "kind": from_kind(f.kind),
        "node": f.node,
        "clientId": f.client_id,
        "username": f.username,
        "remoteAddr": f.remote_addr,
    })
}

fn properties(p: &Properties) -> Value {
    json!({
        "userProperties": p.user_properties.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
        "contentType": p.content_type,
        "responseTopic": p.response_topic,
        "correlationData": p.correlation_data.as_deref().map(hex),
        "payloadFormatIndicator": p.payload_format_indicator,
        "messageExpiryInterval": p.message_expiry_interval,
    })
}

fn message_info(m: &MessageInfo) -> Value {
    json!({
        "dup": m.dup,
        "qos": qos(m.qos),
        "retain": m.retain,
        "topic": m.topic,
        "payload": hex(&m.payload),
        "createTime": m.create_time,
        "properties": properties(&m.properties),
    })
}

fn session_reason(e: &SessionReason) -> Value {
    json!({ "session": session(&e.session), "reason": e.reason })
}

fn session_subscription(e: &SessionSubscription) -> Value {
    json!({ "session": session(&e.session), "subscription": subscription(&e.subscription) })
}

fn session_topic(e: &SessionTopic) -> Value {
    json!({ "session": session(&e.session), "topicFilter": e.topic_filter })
}

fn delivery(e: &DeliveryEvent) -> Value {
    json!({
        "session": session(&e.session),
        "from": message_from(&e.from),
        "message": message_info(&e.message),
    })
}

/// The WIT case name and the JSON of its payload.
pub fn echo(e: &Event) -> (&'static str, String) {
    let (case, value) = match e {
        Event::ClientConnect(c) => ("client-connect", connect_info(c)),
        Event::ClientConnack(c) => (
            "client-connack",
            json!({ "info": connect_info(&c.info), "connAck": c.conn_ack }),
        ),
        Event::ClientConnected(s) => ("client-connected", session(s)),
        Event::ClientDisconnected(e) => ("client-disconnected", session_reason(e)),
        Event::SessionCreated(s) => ("session-created", session(s)),
        Event::SessionSubscribed(e) => ("session-subscribed", session_subscription(e)),
        Event::SessionUnsubscribed(e) => ("session-unsubscribed", session_topic(e)),
        Event::SessionTerminated(e) => ("session-terminated", session_reason(e)),
        Event::ClientSubscribe(e) => ("client-subscribe", session_subscription(e)),
        Event::ClientUnsubscribe(e) => ("client-unsubscribe", session_topic(e)),
        Event::MessagePublish(e) => (
            "message-publish",
            json!({
                "session": e.session.as_ref().map(session),
                "from": message_from(&e.from),
                "message": message_info(&e.message),
            }),
        ),
        Event::MessageDelivered(e) => ("message-delivered", delivery(e)),
        Event::MessageAcked(e) => ("message-acked", delivery(e)),
        Event::MessageDropped(e) => (
            "message-dropped",
            json!({
                "session": e.session.as_ref().map(session),
                "from": e.from.as_ref().map(message_from),
                "message": message_info(&e.message),
                "reason": e.reason,
            }),
        ),
    };
    (case, value.to_string())
}
