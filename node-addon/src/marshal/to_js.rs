//! Hook model records → the seed API's JS shapes: camelCase fields, payloads
//! as `Buffer`s, absent strings as `null`, `tenant` only when set. MQTT 5
//! properties are a `properties` object whose absent fields are left out,
//! with user properties as an array of `[name, value]` pairs (in order; a
//! name may repeat).

use neon::prelude::*;
use rmqtt_js_host::hooks::model::{
    ClientCert, ConnectInfo, ConnectRequest, Event, Message, MessageFrom, MessageInfo,
    MessageProperties, SessionInfo, Subscription,
};

/// Arguments of one hook call, built on the JS thread.
pub trait HookArgs: Send + 'static {
    fn to_args<'a>(&self, cx: &mut Cx<'a>) -> NeonResult<Vec<Handle<'a, JsValue>>>;
}

/// `onClientAuthenticate(auth)`.
impl HookArgs for ConnectRequest {
    fn to_args<'a>(&self, cx: &mut Cx<'a>) -> NeonResult<Vec<Handle<'a, JsValue>>> {
        Ok(vec![auth_request(cx, self)?.upcast()])
    }
}

/// `onClientSubscribeAuthorize(session, sub)`.
impl HookArgs for (SessionInfo, Subscription) {
    fn to_args<'a>(&self, cx: &mut Cx<'a>) -> NeonResult<Vec<Handle<'a, JsValue>>> {
        Ok(vec![
            session(cx, &self.0)?.upcast(),
            subscription(cx, &self.1)?.upcast(),
        ])
    }
}

/// `onClientPublishAuthorize(session, packet)`.
impl HookArgs for (SessionInfo, Message) {
    fn to_args<'a>(&self, cx: &mut Cx<'a>) -> NeonResult<Vec<Handle<'a, JsValue>>> {
        Ok(vec![
            session(cx, &self.0)?.upcast(),
            message(cx, &self.1)?.upcast(),
        ])
    }
}

/// Every notification hook, with the seed's argument lists.
impl HookArgs for Event {
    fn to_args<'a>(&self, cx: &mut Cx<'a>) -> NeonResult<Vec<Handle<'a, JsValue>>> {
        Ok(match self {
            Event::ClientConnect(info) => vec![connect_info(cx, info)?.upcast()],
            Event::ClientConnack { info, conn_ack } => {
                let obj = connect_info(cx, info)?;
                obj.prop(cx, "connAck").set(conn_ack.as_str())?;
                vec![obj.upcast()]
            }
            Event::ClientConnected(s) | Event::SessionCreated(s) => {
                vec![session(cx, s)?.upcast()]
            }
            Event::ClientDisconnected { session: s, reason }
            | Event::SessionTerminated { session: s, reason } => vec![
                session(cx, s)?.upcast(),
                reason_info(cx, reason.as_deref())?.upcast(),
            ],
            Event::SessionSubscribed {
                session: s,
                subscription: sub,
            }
            | Event::ClientSubscribe {
                session: s,
                subscription: sub,
            } => vec![session(cx, s)?.upcast(), subscription(cx, sub)?.upcast()],
            Event::SessionUnsubscribed {
                session: s,
                topic_filter,
            }
            | Event::ClientUnsubscribe {
                session: s,
                topic_filter,
            } => vec![
                session(cx, s)?.upcast(),
                unsubscription(cx, topic_filter)?.upcast(),
            ],
            Event::MessagePublish {
                session: s,
                from,
                message,
            } => vec![
                optional_session(cx, s.as_ref())?,
                message_from(cx, from)?.upcast(),
                message_info(cx, message)?.upcast(),
            ],
            Event::MessageDelivered {
                session: s,
                from,
                message,
            }
            | Event::MessageAcked {
                session: s,
                from,
                message,
            } => vec![
                session(cx, s)?.upcast(),
                message_from(cx, from)?.upcast(),
                message_info(cx, message)?.upcast(),
            ],
            Event::MessageDropped {
                session: s,
                from,
                message,
                reason,
            } => {
                let from = match from {
                    Some(f) => message_from(cx, f)?.upcast(),
                    None => cx.null().upcast(),
                };
                vec![
                    optional_session(cx, s.as_ref())?,
                    from,
                    message_info(cx, message)?.upcast(),
                    reason_info(cx, reason.as_deref())?.upcast(),
                ]
            }
        })
    }
}

/// A string, or `null` when absent.
fn string_or_null<'a>(cx: &mut Cx<'a>, s: Option<&str>) -> Handle<'a, JsValue> {
    match s {
        Some(s) => cx.string(s).upcast(),
        None => cx.null().upcast(),
    }
}

fn buffer<'a>(cx: &mut Cx<'a>, bytes: &[u8]) -> JsResult<'a, JsBuffer> {
    JsBuffer::from_slice(cx, bytes)
}

fn set_tenant(cx: &mut Cx, obj: Handle<JsObject>, tenant: Option<&str>) -> NeonResult<()> {
    if let Some(t) = tenant {
        obj.prop(cx, "tenant").set(t)?;
    }
    Ok(())
}

/// `SessionInfo { node, remoteAddr, clientId, username, tenant? }`.
pub fn session<'a>(cx: &mut Cx<'a>, s: &SessionInfo) -> JsResult<'a, JsObject> {
    let obj = cx.empty_object();
    let remote = string_or_null(cx, s.remote_addr.as_deref());
    let username = string_or_null(cx, s.username.as_deref());
    obj.prop(cx, "node")
        .set(s.node as f64)?
        .prop("remoteAddr")
        .set(remote)?
        .prop("clientId")
        .set(s.client_id.as_str())?
        .prop("username")
        .set(username)?;
    set_tenant(cx, obj, s.tenant.as_deref())?;
    Ok(obj)
}

fn optional_session<'a>(cx: &mut Cx<'a>, s: Option<&SessionInfo>) -> JsResult<'a, JsValue> {
    match s {
        Some(s) => Ok(session(cx, s)?.upcast()),
        None => Ok(cx.null().upcast()),
    }
}

/// `AuthenticationRequest { clientId, username, password, protocolVersion,
/// remoteAddr, keepAlive, cleanSession, properties: { userProperties },
/// tenant?, clientCert? }` (the password as UTF-8 text).
pub fn auth_request<'a>(cx: &mut Cx<'a>, r: &ConnectRequest) -> JsResult<'a, JsObject> {
    let obj = cx.empty_object();
    let username = string_or_null(cx, r.username.as_deref());
    let password = r.password.as_deref().map(String::from_utf8_lossy);
    let password = string_or_null(cx, password.as_deref());
    let remote = string_or_null(cx, r.remote_addr.as_deref());
    obj.prop(cx, "clientId")
        .set(r.client_id.as_str())?
        .prop("username")
        .set(username)?
        .prop("password")
        .set(password)?
        .prop("protocolVersion")
        .set(f64::from(r.protocol_version))?
        .prop("remoteAddr")
        .set(remote)?
        .prop("keepAlive")
        .set(f64::from(r.keep_alive))?
        .prop("cleanSession")
        .set(r.clean_start)?;
    let props = cx.empty_object();
    let user = user_properties(cx, &r.user_properties)?;
    props.prop(cx, "userProperties").set(user)?;
    obj.prop(cx, "properties").set(props)?;
    set_tenant(cx, obj, r.tenant.as_deref())?;
    if let Some(cert) = &r.client_cert {
        let value = client_cert(cx, cert)?;
        obj.prop(cx, "clientCert").set(value)?;
    }
    Ok(obj)
}

/// `ClientCert { commonName, subject, fingerprintSha256 }` (commonName null
/// when the subject has no CN).
fn client_cert<'a>(cx: &mut Cx<'a>, c: &ClientCert) -> JsResult<'a, JsObject> {
    let obj = cx.empty_object();
    let common_name = string_or_null(cx, c.common_name.as_deref());
    obj.prop(cx, "commonName")
        .set(common_name)?
        .prop("subject")
        .set(c.subject.as_str())?
        .prop("fingerprintSha256")
        .set(c.fingerprint_sha256.as_str())?;
    Ok(obj)
}

/// `ConnectInfo { node, remoteAddr, clientId, username, keepAlive,
/// protocolVersion, protoVer (the same, the seed API's name), cleanSession
/// (3.x) | cleanStart (5), tenant? }`.
pub fn connect_info<'a>(cx: &mut Cx<'a>, c: &ConnectInfo) -> JsResult<'a, JsObject> {
    let obj = cx.empty_object();
    let remote = string_or_null(cx, c.remote_addr.as_deref());
    let username = string_or_null(cx, c.username.as_deref());
    let clean = if c.protocol_version >= 5 {
        "cleanStart"
    } else {
        "cleanSession"
    };
    obj.prop(cx, "node")
        .set(c.node as f64)?
        .prop("remoteAddr")
        .set(remote)?
        .prop("clientId")
        .set(c.client_id.as_str())?
        .prop("username")
        .set(username)?
        .prop("keepAlive")
        .set(f64::from(c.keep_alive))?
        .prop("protocolVersion")
        .set(f64::from(c.protocol_version))?
        .prop("protoVer")
        .set(f64::from(c.protocol_version))?
        .prop(clean)
        .set(c.clean_start)?;
    set_tenant(cx, obj, c.tenant.as_deref())?;
    Ok(obj)
}

/// `SubscriptionInfo { topicFilter, qos }`.
pub fn subscription<'a>(cx: &mut Cx<'a>, s: &Subscription) -> JsResult<'a, JsObject> {
    let obj = cx.empty_object();
    obj.prop(cx, "topicFilter")
        .set(s.topic_filter.as_str())?
        .prop("qos")
        .set(f64::from(s.qos.level()))?;
    Ok(obj)
}

/// `UnsubscriptionInfo { topicFilter }`.
pub fn unsubscription<'a>(cx: &mut Cx<'a>, topic_filter: &str) -> JsResult<'a, JsObject> {
    let obj = cx.empty_object();
    obj.prop(cx, "topicFilter").set(topic_filter)?;
    Ok(obj)
}

/// `MqttMessage { topic, payload, qos, retain, properties }`.
pub fn message<'a>(cx: &mut Cx<'a>, m: &Message) -> JsResult<'a, JsObject> {
    let obj = cx.empty_object();
    let payload = buffer(cx, &m.payload)?;
    obj.prop(cx, "topic")
        .set(m.topic.as_str())?
        .prop("payload")
        .set(payload)?
        .prop("qos")
        .set(f64::from(m.qos.level()))?
        .prop("retain")
        .set(m.retain)?;
    let props = message_properties(cx, &m.properties)?;
    obj.prop(cx, "properties").set(props)?;
    Ok(obj)
}

/// `MessageInfo { dup, qos, retain, topic, payload, createTime, properties }`.
pub fn message_info<'a>(cx: &mut Cx<'a>, m: &MessageInfo) -> JsResult<'a, JsObject> {
    let obj = cx.empty_object();
    let payload = buffer(cx, &m.payload)?;
    obj.prop(cx, "dup")
        .set(m.dup)?
        .prop("qos")
        .set(f64::from(m.qos.level()))?
        .prop("retain")
        .set(m.retain)?
        .prop("topic")
        .set(m.topic.as_str())?
        .prop("payload")
        .set(payload)?
        .prop("createTime")
        .set(m.create_time as f64)?;
    let props = message_properties(cx, &m.properties)?;
    obj.prop(cx, "properties").set(props)?;
    Ok(obj)
}

/// `MessageProperties { userProperties, contentType?, responseTopic?,
/// correlationData?: Buffer, payloadFormatIndicator?: 1,
/// messageExpiryInterval? }`.
pub fn message_properties<'a>(cx: &mut Cx<'a>, p: &MessageProperties) -> JsResult<'a, JsObject> {
    let obj = cx.empty_object();
    let user = user_properties(cx, &p.user_properties)?;
    obj.prop(cx, "userProperties").set(user)?;
    if let Some(s) = &p.content_type {
        obj.prop(cx, "contentType").set(s.as_str())?;
    }
    if let Some(s) = &p.response_topic {
        obj.prop(cx, "responseTopic").set(s.as_str())?;
    }
    if let Some(d) = &p.correlation_data {
        let data = buffer(cx, d)?;
        obj.prop(cx, "correlationData").set(data)?;
    }
    if let Some(i) = p.payload_format_indicator {
        obj.prop(cx, "payloadFormatIndicator").set(f64::from(i))?;
    }
    if let Some(secs) = p.message_expiry_interval {
        obj.prop(cx, "messageExpiryInterval").set(f64::from(secs))?;
    }
    Ok(obj)
}

/// User properties as `[[name, value], ...]`.
fn user_properties<'a>(cx: &mut Cx<'a>, props: &[(String, String)]) -> JsResult<'a, JsArray> {
    let array = cx.empty_array();
    for (i, (name, value)) in props.iter().enumerate() {
        let pair = cx.empty_array();
        pair.prop(cx, 0u32).set(name.as_str())?;
        pair.prop(cx, 1u32).set(value.as_str())?;
        array.prop(cx, i as u32).set(pair)?;
    }
    Ok(array)
}

/// `MessageFrom { type, node, remoteAddr, clientId, username }`.
pub fn message_from<'a>(cx: &mut Cx<'a>, f: &MessageFrom) -> JsResult<'a, JsObject> {
    let obj = cx.empty_object();
    let remote = string_or_null(cx, f.remote_addr.as_deref());
    let username = string_or_null(cx, f.username.as_deref());
    obj.prop(cx, "type")
        .set(f.kind.as_str())?
        .prop("node")
        .set(f.node as f64)?
        .prop("remoteAddr")
        .set(remote)?
        .prop("clientId")
        .set(f.client_id.as_str())?
        .prop("username")
        .set(username)?;
    Ok(obj)
}

/// `{ reason? }`, the info of disconnects, terminations and drops.
pub fn reason_info<'a>(cx: &mut Cx<'a>, reason: Option<&str>) -> JsResult<'a, JsObject> {
    let obj = cx.empty_object();
    if let Some(r) = reason {
        obj.prop(cx, "reason").set(r)?;
    }
    Ok(obj)
}
