//! Model ⇄ `rmqtt:hooks@0.1.0` conversions.

use crate::hooks::model;
use crate::wasm::bindings::v0_1::types as wit;

super::shared::shared_conversions!();

impl From<model::ConnectRequest> for wit::ConnectRequest {
    fn from(r: model::ConnectRequest) -> Self {
        wit::ConnectRequest {
            client_id: r.client_id,
            username: r.username,
            password: r.password,
            protocol_version: r.protocol_version,
            remote_addr: r.remote_addr,
            keep_alive: r.keep_alive,
            clean_start: r.clean_start,
            tenant: r.tenant,
        }
    }
}

impl From<model::Message> for wit::Message {
    fn from(m: model::Message) -> Self {
        wit::Message {
            topic: m.topic,
            payload: m.payload,
            qos: m.qos.into(),
            retain: m.retain,
        }
    }
}

impl From<wit::PublishDecision> for model::PublishDecision {
    fn from(d: wit::PublishDecision) -> Self {
        model::PublishDecision {
            allow: d.allow,
            topic: d.topic,
            payload: d.payload,
            qos: d.qos.map(qos_level),
            reason: d.reason,
            user_properties: None,
        }
    }
}

impl From<model::MessageInfo> for wit::MessageInfo {
    fn from(m: model::MessageInfo) -> Self {
        wit::MessageInfo {
            dup: m.dup,
            qos: m.qos.into(),
            retain: m.retain,
            topic: m.topic,
            payload: m.payload,
            create_time: m.create_time,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qos_levels_round_trip_and_decisions_carry_raw_levels() {
        for q in [
            model::QoS::AtMostOnce,
            model::QoS::AtLeastOnce,
            model::QoS::ExactlyOnce,
        ] {
            assert_eq!(model::QoS::from(wit::Qos::from(q)), q);
        }
        let d = model::PublishDecision::from(wit::PublishDecision {
            allow: true,
            topic: Some("a/#".into()),
            payload: None,
            qos: Some(wit::Qos::ExactlyOnce),
            reason: None,
        });
        assert_eq!(d.qos, Some(2));
        assert_eq!(
            d.topic.as_deref(),
            Some("a/#"),
            "mutations pass through unvalidated"
        );
        let s = model::SubscribeDecision::from(wit::SubscribeDecision {
            allow: true,
            qos: Some(wit::Qos::AtMostOnce),
            reason: Some("ok".into()),
        });
        assert_eq!(s.qos, Some(0));
    }

    #[test]
    fn every_event_keeps_its_hook() {
        let session = model::SessionInfo {
            node: 1,
            remote_addr: None,
            client_id: "c".into(),
            username: Some("u".into()),
            tenant: None,
        };
        let e = wit::Event::from(model::Event::SessionUnsubscribed {
            session,
            topic_filter: "t/#".into(),
        });
        match e {
            wit::Event::SessionUnsubscribed(st) => {
                assert_eq!(st.topic_filter, "t/#");
                assert_eq!(st.session.username.as_deref(), Some("u"));
            }
            other => panic!("wrong case: {other:?}"),
        }
    }
}
