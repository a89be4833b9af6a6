//! Model ⇄ `rmqtt:hooks@0.2.0` conversions.

use crate::hooks::model;
use crate::wasm::bindings::v0_2::types as wit;

super::shared::shared_conversions!();

impl From<model::MessageProperties> for wit::Properties {
    fn from(p: model::MessageProperties) -> Self {
        wit::Properties {
            user_properties: p.user_properties,
            content_type: p.content_type,
            response_topic: p.response_topic,
            correlation_data: p.correlation_data,
            payload_format_indicator: p.payload_format_indicator,
            message_expiry_interval: p.message_expiry_interval,
        }
    }
}

impl From<model::ClientCert> for wit::ClientCertificate {
    fn from(c: model::ClientCert) -> Self {
        wit::ClientCertificate {
            common_name: c.common_name,
            subject: c.subject,
            fingerprint_sha256: c.fingerprint_sha256,
        }
    }
}

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
            user_properties: r.user_properties,
            client_certificate: r.client_cert.map(Into::into),
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
            properties: m.properties.into(),
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
            user_properties: d.user_properties,
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
            properties: m.properties.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_and_certificates_reach_the_guest_and_rewrites_come_back() {
        let props = model::MessageProperties {
            user_properties: vec![("k".into(), "v".into()), ("k".into(), "w".into())],
            content_type: Some("application/json".into()),
            response_topic: Some("r/1".into()),
            correlation_data: Some(vec![1, 2]),
            payload_format_indicator: Some(1),
            message_expiry_interval: Some(30),
        };
        let m = wit::Message::from(model::Message {
            topic: "t".into(),
            payload: vec![],
            qos: model::QoS::AtLeastOnce,
            retain: false,
            properties: props,
        });
        assert_eq!(m.properties.user_properties.len(), 2, "repeated names kept");
        assert_eq!(m.properties.message_expiry_interval, Some(30));
        let d = model::PublishDecision::from(wit::PublishDecision {
            allow: true,
            topic: None,
            payload: None,
            qos: None,
            reason: None,
            user_properties: Some(vec![]),
        });
        assert_eq!(
            d.user_properties,
            Some(vec![]),
            "an empty rewrite removes them"
        );
    }
}
