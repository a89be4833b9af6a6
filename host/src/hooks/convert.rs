//! Builds the hook model records from rmqtt's own types.
//!
//! MQTT 5 properties: rmqtt keeps a message's payload format indicator as a
//! flag (`is_utf8_payload`), so an indicator of 0 and an absent one are the
//! same message to it (and to MQTT 5, where absent means 0). Hooks see
//! `Some(1)` for "UTF-8 text" and `None` for both others. The deny mark of
//! the publish ACL (`publish_acl`) is never shown as a user property.

use rmqtt::codec::types::QoS as CodecQoS;
use rmqtt::codec::v5::{PublishProperties, UserProperties};
use rmqtt::session::Session;
use rmqtt::types::{ConnectInfo as RmqttConnectInfo, From, FromType, Id, Publish, Reason};

use super::model::{
    ClientCert, ConnectInfo, ConnectRequest, FromKind, MessageFrom, MessageInfo, MessageProperties,
    QoS, SessionInfo,
};
use super::publish_acl::is_internal_property;

/// The tenant of a client, when tenants are configured (resolved elsewhere).
pub type TenantOf<'a> = Option<&'a str>;

pub fn qos(q: CodecQoS) -> QoS {
    match q {
        CodecQoS::AtMostOnce => QoS::AtMostOnce,
        CodecQoS::AtLeastOnce => QoS::AtLeastOnce,
        CodecQoS::ExactlyOnce => QoS::ExactlyOnce,
    }
}

pub fn codec_qos(q: QoS) -> CodecQoS {
    match q {
        QoS::AtMostOnce => CodecQoS::AtMostOnce,
        QoS::AtLeastOnce => CodecQoS::AtLeastOnce,
        QoS::ExactlyOnce => CodecQoS::ExactlyOnce,
    }
}

pub fn session_of_id(id: &Id, tenant: TenantOf) -> SessionInfo {
    SessionInfo {
        node: id.node_id,
        remote_addr: id.remote_addr.map(|a| a.to_string()),
        client_id: id.client_id.to_string(),
        username: id.username.as_ref().map(|u| u.to_string()),
        tenant: tenant.map(str::to_string),
    }
}

pub fn session(s: &Session, tenant: TenantOf) -> SessionInfo {
    session_of_id(&s.id, tenant)
}

pub fn connect_request(c: &RmqttConnectInfo, tenant: TenantOf) -> ConnectRequest {
    let id = c.id();
    ConnectRequest {
        client_id: id.client_id.to_string(),
        username: c.username().map(|u| u.to_string()),
        password: c.password().map(|p| p.to_vec()),
        protocol_version: c.proto_ver(),
        remote_addr: id.remote_addr.map(|a| a.to_string()),
        keep_alive: c.keep_alive(),
        clean_start: c.clean_start(),
        tenant: tenant.map(str::to_string),
        client_cert: c.cert().and_then(client_cert),
        user_properties: match c {
            RmqttConnectInfo::V5(_, connect) => user_properties(&connect.user_properties),
            RmqttConnectInfo::V3(..) => Vec::new(),
        },
    }
}

/// User properties as hooks see them: in order, repeated names kept, the
/// router's own marks left out.
pub fn user_properties(props: &UserProperties) -> Vec<(String, String)> {
    props
        .iter()
        .filter(|(name, _)| !is_internal_property(name))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

/// The MQTT 5 properties of a message (all empty for an MQTT 3.x one).
pub fn message_properties(props: Option<&PublishProperties>) -> MessageProperties {
    let Some(p) = props else {
        return MessageProperties::default();
    };
    MessageProperties {
        user_properties: user_properties(&p.user_properties),
        content_type: p.content_type.as_ref().map(|s| s.to_string()),
        response_topic: p.response_topic.as_ref().map(|s| s.to_string()),
        correlation_data: p.correlation_data.as_ref().map(|d| d.to_vec()),
        payload_format_indicator: p.is_utf8_payload.then_some(1),
        message_expiry_interval: p.message_expiry_interval.map(|i| i.get()),
    }
}

/// The hook model of a certificate rmqtt-net verified and extracted; `None`
/// without a fingerprint (then it was not extracted by our patched rmqtt-net).
pub fn client_cert(c: &rmqtt::codec::cert::CertInfo) -> Option<ClientCert> {
    Some(ClientCert {
        common_name: c.common_name.clone(),
        subject: c.subject.clone(),
        fingerprint_sha256: c.fingerprint_sha256.clone()?,
    })
}

pub fn connect_info(c: &RmqttConnectInfo, tenant: TenantOf) -> ConnectInfo {
    let id = c.id();
    ConnectInfo {
        node: id.node_id,
        remote_addr: id.remote_addr.map(|a| a.to_string()),
        client_id: id.client_id.to_string(),
        username: c.username().map(|u| u.to_string()),
        keep_alive: c.keep_alive(),
        protocol_version: c.proto_ver(),
        clean_start: c.clean_start(),
        tenant: tenant.map(str::to_string),
    }
}

pub fn from(f: &From) -> MessageFrom {
    let kind = match f.typ() {
        FromType::Custom => FromKind::Client,
        FromType::Admin => FromKind::Admin,
        FromType::System => FromKind::System,
        FromType::LastWill => FromKind::LastWill,
        FromType::Bridge => FromKind::Bridge,
    };
    MessageFrom {
        kind,
        node: f.id.node_id,
        remote_addr: f.id.remote_addr.map(|a| a.to_string()),
        client_id: f.id.client_id.to_string(),
        username: f.id.username.as_ref().map(|u| u.to_string()),
    }
}

pub fn message(p: &Publish) -> MessageInfo {
    MessageInfo {
        dup: p.dup,
        qos: qos(p.qos),
        retain: p.retain,
        topic: p.topic.to_string(),
        payload: p.payload.to_vec(),
        create_time: p.create_time.unwrap_or_else(now_millis),
        properties: message_properties(p.properties.as_ref()),
    }
}

pub fn reason(r: &Reason) -> Option<String> {
    let s = r.to_string();
    (!s.is_empty()).then_some(s)
}

pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    #[test]
    fn message_properties_keep_order_and_repeats_and_hide_the_deny_mark() {
        let props = PublishProperties {
            user_properties: vec![
                ("b".into(), "1".into()),
                ("a".into(), "2".into()),
                ("b".into(), "3".into()),
                ("\0rmqtt-js:denied".into(), "why".into()),
            ],
            content_type: Some("application/json".into()),
            response_topic: Some("reply/1".into()),
            correlation_data: Some(vec![0u8, 255].into()),
            message_expiry_interval: NonZeroU32::new(30),
            is_utf8_payload: true,
            ..Default::default()
        };
        let m = message_properties(Some(&props));
        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(
            m.user_properties,
            vec![pair("b", "1"), pair("a", "2"), pair("b", "3")]
        );
        assert_eq!(m.content_type.as_deref(), Some("application/json"));
        assert_eq!(m.response_topic.as_deref(), Some("reply/1"));
        assert_eq!(m.correlation_data, Some(vec![0, 255]));
        assert_eq!(m.message_expiry_interval, Some(30));
        assert_eq!(m.payload_format_indicator, Some(1));
    }

    #[test]
    fn absent_properties_are_empty_and_bytes_have_no_indicator() {
        assert_eq!(message_properties(None), MessageProperties::default());
        let bytes = message_properties(Some(&PublishProperties::default()));
        assert_eq!(bytes.payload_format_indicator, None);
        assert_eq!(bytes, MessageProperties::default());
    }
}
