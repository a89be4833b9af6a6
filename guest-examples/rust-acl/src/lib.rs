//! Reference ACL policy in Rust (world `policy`).
//!
//! The same rules are implemented in TypeScript in `../ts-acl`, so the tests
//! can compare the languages decision by decision:
//!
//! * authenticate: allow iff a username is present and the password is
//!   `demo`; `admin`/`demo` is a superuser; otherwise deny "bad credentials".
//! * authorize-subscribe: allow iff the filter starts with `<username>/` or
//!   `server/public/`; granted QoS capped at at-least-once; otherwise deny
//!   "not authorized".
//! * authorize-publish: deny `$SYS...` ("system topic"); deny anything not
//!   under `<username>/` or `server/public/` ("not authorized"); a topic
//!   ending in `/upper` is allowed with its payload upper-cased (ASCII), the
//!   trailing `/upper` replaced by `/out` and QoS capped at at-least-once;
//!   anything else is allowed unchanged.
//! * events: counts the events and logs every event kind at info level.

use std::sync::atomic::{AtomicU64, Ordering};

wit_bindgen::generate!({
    world: "policy",
    path: "../../wit/rmqtt-hooks-0.1.0",
});

use exports::rmqtt::hooks::{authenticate, authorize_publish, authorize_subscribe, events};
use rmqtt::hooks::host::{self, Level};
use rmqtt::hooks::types::{
    AuthDecision, ConnectRequest, Event, Message, PublishDecision, Qos, Session,
    SubscribeDecision, Subscription,
};

const PUBLIC_PREFIX: &str = "server/public/";

static EVENTS: AtomicU64 = AtomicU64::new(0);

struct Acl;

/// True iff `topic` is under `<username>/` or `server/public/`.
fn permitted(username: Option<&str>, topic: &str) -> bool {
    if topic.starts_with(PUBLIC_PREFIX) {
        return true;
    }
    match username {
        Some(u) if !u.is_empty() => topic.len() > u.len() && topic.starts_with(u) && topic.as_bytes()[u.len()] == b'/',
        _ => false,
    }
}

/// min(qos, at-least-once)
fn cap(qos: Qos) -> Qos {
    match qos {
        Qos::AtMostOnce => Qos::AtMostOnce,
        Qos::AtLeastOnce | Qos::ExactlyOnce => Qos::AtLeastOnce,
    }
}

impl authenticate::Guest for Acl {
    fn authenticate(req: ConnectRequest) -> AuthDecision {
        let ok = req.username.is_some() && req.password.as_deref() == Some(b"demo".as_slice());
        if ok {
            AuthDecision {
                allow: true,
                superuser: req.username.as_deref() == Some("admin"),
                reason: None,
            }
        } else {
            AuthDecision { allow: false, superuser: false, reason: Some("bad credentials".into()) }
        }
    }
}

impl authorize_subscribe::Guest for Acl {
    fn authorize_subscribe(session: Session, sub: Subscription) -> SubscribeDecision {
        if permitted(session.username.as_deref(), &sub.topic_filter) {
            SubscribeDecision { allow: true, qos: Some(cap(sub.qos)), reason: None }
        } else {
            SubscribeDecision { allow: false, qos: None, reason: Some("not authorized".into()) }
        }
    }
}

impl authorize_publish::Guest for Acl {
    fn authorize_publish(session: Session, msg: Message) -> PublishDecision {
        let deny = |reason: &str| PublishDecision {
            allow: false,
            topic: None,
            payload: None,
            qos: None,
            reason: Some(reason.into()),
        };
        if msg.topic.starts_with("$SYS") {
            return deny("system topic");
        }
        if !permitted(session.username.as_deref(), &msg.topic) {
            return deny("not authorized");
        }
        if let Some(stem) = msg.topic.strip_suffix("/upper") {
            return PublishDecision {
                allow: true,
                topic: Some(format!("{stem}/out")),
                payload: Some(msg.payload.to_ascii_uppercase()),
                qos: Some(cap(msg.qos)),
                reason: None,
            };
        }
        PublishDecision { allow: true, topic: None, payload: None, qos: None, reason: None }
    }
}

fn kind(e: &Event) -> &'static str {
    match e {
        Event::ClientConnect(_) => "client-connect",
        Event::ClientConnack(_) => "client-connack",
        Event::ClientConnected(_) => "client-connected",
        Event::ClientDisconnected(_) => "client-disconnected",
        Event::SessionCreated(_) => "session-created",
        Event::SessionSubscribed(_) => "session-subscribed",
        Event::SessionUnsubscribed(_) => "session-unsubscribed",
        Event::SessionTerminated(_) => "session-terminated",
        Event::ClientSubscribe(_) => "client-subscribe",
        Event::ClientUnsubscribe(_) => "client-unsubscribe",
        Event::MessagePublish(_) => "message-publish",
        Event::MessageDelivered(_) => "message-delivered",
        Event::MessageAcked(_) => "message-acked",
        Event::MessageDropped(_) => "message-dropped",
    }
}

impl events::Guest for Acl {
    fn on_event(e: Event) {
        let n = EVENTS.fetch_add(1, Ordering::Relaxed) + 1;
        host::log(Level::Info, &format!("event #{n}: {}", kind(&e)));
    }
}

export!(Acl);
