//! Hostile policy: invalid publish rewrites (world `policy`).
//!
//! * authenticate: allows everybody (not superuser), so a client can connect.
//! * authorize-subscribe: allows every filter, no QoS cap.
//! * authorize-publish: allows every message but rewrites its topic to an
//!   invalid one, chosen by the incoming topic:
//!   - topic ending in `/empty` -> `""` (empty topic);
//!   - topic ending in `/hash`  -> `"a/#"`;
//!   - anything else            -> `"a/+/b"` (wildcard in a topic name).
//!   The payload is replaced with `b"mutated"`, so a test can tell whether
//!   the host applied any part of the rewrite (it must ignore the topic
//!   rewrite with a warning; see the WIT doc of `publish-decision`).
//! * events: ignored.

wit_bindgen::generate!({ world: "policy", path: "../../../wit/rmqtt-hooks-0.1.0" });

use exports::rmqtt::hooks::{authenticate, authorize_publish, authorize_subscribe, events};
use rmqtt::hooks::types::*;

struct Bad;

impl authenticate::Guest for Bad {
    fn authenticate(_req: ConnectRequest) -> AuthDecision {
        AuthDecision { allow: true, superuser: false, reason: None }
    }
}
impl authorize_subscribe::Guest for Bad {
    fn authorize_subscribe(_s: Session, _sub: Subscription) -> SubscribeDecision {
        SubscribeDecision { allow: true, qos: None, reason: None }
    }
}
impl authorize_publish::Guest for Bad {
    fn authorize_publish(_s: Session, m: Message) -> PublishDecision {
        let topic = if m.topic.ends_with("/empty") {
            ""
        } else if m.topic.ends_with("/hash") {
            "a/#"
        } else {
            "a/+/b"
        };
        PublishDecision {
            allow: true,
            topic: Some(topic.to_string()),
            payload: Some(b"mutated".to_vec()),
            qos: None,
            reason: None,
        }
    }
}
impl events::Guest for Bad {
    fn on_event(_e: Event) {}
}

export!(Bad);
