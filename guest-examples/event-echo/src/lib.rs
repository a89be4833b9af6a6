//! Event echo policy in Rust (world `event-policy`): for every notification,
//! `host.log(info, "event-echo <case> <json>")`, the JSON holding every field
//! the WIT `event` case carries, so tests can compare what a policy's
//! `events` export sees with what JS callbacks see, field by field.
//!
//! Canonical form (built by hand, no serde): records mirror the WIT records
//! with camelCase keys in WIT order; an absent `option` is `null`; a QoS is
//! its level (0, 1, 2); a `from-kind` its WIT case name; a payload lowercase
//! hex. Cases carrying one record (`client-connect`, `client-connected`,
//! `session-created`) log that record itself.

wit_bindgen::generate!({
    world: "event-policy",
    path: "../../wit/rmqtt-hooks-0.1.0",
});

use exports::rmqtt::hooks::events;
use rmqtt::hooks::host::{self, Level};
use rmqtt::hooks::types::{
    ConnectInfo, DeliveryEvent, Event, FromKind, MessageFrom, MessageInfo, Qos, Session,
    SessionReason, SessionSubscription, SessionTopic, Subscription,
};

/// A JSON object under construction: `{"k":v,...}`.
struct Obj(String);

impl Obj {
    fn new() -> Self {
        Obj(String::from("{"))
    }

    fn key(&mut self, k: &str) -> &mut String {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        push_str(&mut self.0, k);
        self.0.push(':');
        &mut self.0
    }

    fn raw(mut self, k: &str, v: &str) -> Self {
        self.key(k).push_str(v);
        self
    }

    fn str(mut self, k: &str, v: &str) -> Self {
        push_str(self.key(k), v);
        self
    }

    fn opt_str(self, k: &str, v: Option<&str>) -> Self {
        match v {
            Some(v) => self.str(k, v),
            None => self.raw(k, "null"),
        }
    }

    fn num(self, k: &str, v: impl ToString) -> Self {
        self.raw(k, &v.to_string())
    }

    fn bool(self, k: &str, v: bool) -> Self {
        self.raw(k, if v { "true" } else { "false" })
    }

    fn end(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

/// `s` as a JSON string literal.
fn push_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn qos(q: Qos) -> u8 {
    match q {
        Qos::AtMostOnce => 0,
        Qos::AtLeastOnce => 1,
        Qos::ExactlyOnce => 2,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn session(s: &Session) -> String {
    Obj::new()
        .num("node", s.node)
        .str("clientId", &s.client_id)
        .opt_str("username", s.username.as_deref())
        .opt_str("remoteAddr", s.remote_addr.as_deref())
        .opt_str("tenant", s.tenant.as_deref())
        .end()
}

fn opt_session(s: Option<&Session>) -> String {
    s.map_or_else(|| "null".to_string(), session)
}

fn connect_info(c: &ConnectInfo) -> String {
    Obj::new()
        .num("node", c.node)
        .str("clientId", &c.client_id)
        .opt_str("username", c.username.as_deref())
        .opt_str("remoteAddr", c.remote_addr.as_deref())
        .num("keepAlive", c.keep_alive)
        .num("protocolVersion", c.protocol_version)
        .bool("cleanStart", c.clean_start)
        .opt_str("tenant", c.tenant.as_deref())
        .end()
}

fn subscription(s: &Subscription) -> String {
    Obj::new()
        .str("topicFilter", &s.topic_filter)
        .num("qos", qos(s.qos))
        .end()
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

fn message_from(f: &MessageFrom) -> String {
    Obj::new()
        .str("kind", from_kind(f.kind))
        .num("node", f.node)
        .str("clientId", &f.client_id)
        .opt_str("username", f.username.as_deref())
        .opt_str("remoteAddr", f.remote_addr.as_deref())
        .end()
}

fn message_info(m: &MessageInfo) -> String {
    Obj::new()
        .bool("dup", m.dup)
        .num("qos", qos(m.qos))
        .bool("retain", m.retain)
        .str("topic", &m.topic)
        .str("payload", &hex(&m.payload))
        .num("createTime", m.create_time)
        .end()
}

fn session_reason(e: &SessionReason) -> String {
    Obj::new()
        .raw("session", &session(&e.session))
        .opt_str("reason", e.reason.as_deref())
        .end()
}

fn session_subscription(e: &SessionSubscription) -> String {
    Obj::new()
        .raw("session", &session(&e.session))
        .raw("subscription", &subscription(&e.subscription))
        .end()
}

fn session_topic(e: &SessionTopic) -> String {
    Obj::new()
        .raw("session", &session(&e.session))
        .str("topicFilter", &e.topic_filter)
        .end()
}

fn delivery(e: &DeliveryEvent) -> String {
    Obj::new()
        .raw("session", &session(&e.session))
        .raw("from", &message_from(&e.from))
        .raw("message", &message_info(&e.message))
        .end()
}

/// The WIT case name and the canonical JSON of its payload.
fn echo(e: &Event) -> (&'static str, String) {
    match e {
        Event::ClientConnect(c) => ("client-connect", connect_info(c)),
        Event::ClientConnack(c) => (
            "client-connack",
            Obj::new()
                .raw("info", &connect_info(&c.info))
                .str("connAck", &c.conn_ack)
                .end(),
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
            Obj::new()
                .raw("session", &opt_session(e.session.as_ref()))
                .raw("from", &message_from(&e.from))
                .raw("message", &message_info(&e.message))
                .end(),
        ),
        Event::MessageDelivered(e) => ("message-delivered", delivery(e)),
        Event::MessageAcked(e) => ("message-acked", delivery(e)),
        Event::MessageDropped(e) => (
            "message-dropped",
            Obj::new()
                .raw("session", &opt_session(e.session.as_ref()))
                .raw(
                    "from",
                    &e.from
                        .as_ref()
                        .map_or_else(|| "null".to_string(), message_from),
                )
                .raw("message", &message_info(&e.message))
                .opt_str("reason", e.reason.as_deref())
                .end(),
        ),
    }
}

struct Echo;

impl events::Guest for Echo {
    fn on_event(e: Event) {
        let (case, json) = echo(&e);
        host::log(Level::Info, &format!("event-echo {case} {json}"));
    }
}

export!(Echo);
