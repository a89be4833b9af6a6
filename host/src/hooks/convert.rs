//! Builds the hook model records from rmqtt's own types.

use rmqtt::codec::types::QoS as CodecQoS;
use rmqtt::session::Session;
use rmqtt::types::{ConnectInfo as RmqttConnectInfo, From, FromType, Id, Publish, Reason};

use super::model::{
    ClientCert, ConnectInfo, ConnectRequest, FromKind, MessageFrom, MessageInfo, QoS, SessionInfo,
};

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
        user_properties: Vec::new(),
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
        properties: Default::default(),
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
