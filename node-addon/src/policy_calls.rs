//! A loaded policy's decisions, called from JS without a broker:
//! `policy.authenticate(req, { data })`, `policy.authorizeSubscribe(...)`,
//! `policy.authorizePublish(...)` (unit tests of policies). The real
//! component runs with its limits, on the addon runtime; `data` is what its
//! `data.get` reads.
//!
//! `policyCall(policy, hook, a, b, data?) -> Promise<decision>`: `hook` is
//! `authenticate` (`a`: the request), `authorizeSubscribe` (`a`: the session,
//! `b`: the subscription) or `authorizePublish` (`b`: the message). The lib
//! has filled every field; a policy's `err` rejects with `ERR_POLICY_ERROR`.

use neon::prelude::*;
use neon::types::buffer::TypedArray;
use rmqtt_js_host::data::scope::serving;
use rmqtt_js_host::hooks::model::{
    AuthDecision, ConnectRequest, Message, MessageProperties, PublishDecision, QoS, SessionInfo,
    SubscribeDecision, Subscription,
};
use rmqtt_js_host::hooks::{HookBackend, HookError};

use crate::data::DataBox;
use crate::errors::{error_with_code, throw_code};
use crate::policy::{PolicyBox, PolicyHandle, ERR_POLICY_CLOSED};
use crate::runtime;

enum Asked {
    Authenticate(ConnectRequest),
    Subscribe(SessionInfo, Subscription),
    Publish(SessionInfo, Message),
}

enum Decided {
    Auth(AuthDecision),
    Subscribe(SubscribeDecision),
    Publish(PublishDecision),
}

fn text(cx: &mut FunctionContext, o: Handle<JsObject>, key: &str) -> NeonResult<Option<String>> {
    Ok(o.get_opt::<JsString, _, _>(cx, key)?.map(|s| s.value(cx)))
}

fn number(cx: &mut FunctionContext, o: Handle<JsObject>, key: &str) -> NeonResult<Option<f64>> {
    Ok(o.get_opt::<JsNumber, _, _>(cx, key)?.map(|n| n.value(cx)))
}

fn flag(cx: &mut FunctionContext, o: Handle<JsObject>, key: &str) -> NeonResult<bool> {
    Ok(o.get_opt::<JsBoolean, _, _>(cx, key)?
        .is_some_and(|b| b.value(cx)))
}

fn bytes(cx: &mut FunctionContext, o: Handle<JsObject>, key: &str) -> NeonResult<Option<Vec<u8>>> {
    Ok(o.get_opt::<JsTypedArray<u8>, _, _>(cx, key)?
        .map(|b| b.as_slice(cx).to_vec()))
}

/// `[[name, value], ...]` (the lib checked the shape).
fn pairs(
    cx: &mut FunctionContext,
    o: Handle<JsObject>,
    key: &str,
) -> NeonResult<Vec<(String, String)>> {
    let Some(list) = o.get_opt::<JsArray, _, _>(cx, key)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for pair in list.to_vec(cx)? {
        let pair = pair.downcast_or_throw::<JsArray, _>(cx)?;
        let name = pair.get::<JsString, _, _>(cx, 0)?.value(cx);
        let value = pair.get::<JsString, _, _>(cx, 1)?.value(cx);
        out.push((name, value));
    }
    Ok(out)
}

fn qos(cx: &mut FunctionContext, o: Handle<JsObject>) -> NeonResult<QoS> {
    let level = number(cx, o, "qos")?.unwrap_or(0.0);
    QoS::from_level(level as i64).map_or_else(
        || throw_code(cx, "ERR_INVALID_QOS", "qos must be 0, 1 or 2"),
        Ok,
    )
}

fn connect_request(cx: &mut FunctionContext, o: Handle<JsObject>) -> NeonResult<ConnectRequest> {
    Ok(ConnectRequest {
        client_id: text(cx, o, "clientId")?.unwrap_or_default(),
        username: text(cx, o, "username")?,
        password: bytes(cx, o, "password")?,
        protocol_version: number(cx, o, "protocolVersion")?.unwrap_or(5.0) as u8,
        remote_addr: text(cx, o, "remoteAddr")?,
        keep_alive: number(cx, o, "keepAlive")?.unwrap_or(60.0) as u16,
        clean_start: flag(cx, o, "cleanStart")?,
        tenant: text(cx, o, "tenant")?,
        client_cert: None,
        user_properties: pairs(cx, o, "userProperties")?,
    })
}

fn session(cx: &mut FunctionContext, o: Handle<JsObject>) -> NeonResult<SessionInfo> {
    Ok(SessionInfo {
        node: number(cx, o, "node")?.unwrap_or(1.0) as u64,
        remote_addr: text(cx, o, "remoteAddr")?,
        client_id: text(cx, o, "clientId")?.unwrap_or_default(),
        username: text(cx, o, "username")?,
        tenant: text(cx, o, "tenant")?,
    })
}

fn message(cx: &mut FunctionContext, o: Handle<JsObject>) -> NeonResult<Message> {
    let props = o.get_opt::<JsObject, _, _>(cx, "properties")?;
    let properties = match props {
        None => MessageProperties::default(),
        Some(p) => MessageProperties {
            user_properties: pairs(cx, p, "userProperties")?,
            content_type: text(cx, p, "contentType")?,
            response_topic: text(cx, p, "responseTopic")?,
            correlation_data: bytes(cx, p, "correlationData")?,
            payload_format_indicator: number(cx, p, "payloadFormatIndicator")?.map(|n| n as u8),
            message_expiry_interval: number(cx, p, "messageExpiryInterval")?.map(|n| n as u32),
        },
    };
    Ok(Message {
        topic: text(cx, o, "topic")?.unwrap_or_default(),
        payload: bytes(cx, o, "payload")?.unwrap_or_default(),
        qos: qos(cx, o)?,
        retain: flag(cx, o, "retain")?,
        properties,
    })
}

fn error_code(e: &HookError) -> &'static str {
    match e {
        HookError::PolicyError(_) => "ERR_POLICY_ERROR",
        HookError::Trapped(_) => "ERR_POLICY_TRAP",
        HookError::DeadlineExceeded | HookError::Timeout(_) => "ERR_POLICY_TIMEOUT",
        HookError::NotSupported => "ERR_POLICY_MISSING_EXPORT",
        HookError::Overloaded => "ERR_POLICY_OVERLOADED",
        _ => "ERR_INTERNAL",
    }
}

fn decided_to_js<'a>(cx: &mut Cx<'a>, d: Decided) -> JsResult<'a, JsObject> {
    let obj = cx.empty_object();
    let set_text = |cx: &mut Cx<'a>, key: &str, v: Option<String>| -> NeonResult<()> {
        if let Some(v) = v {
            obj.prop(cx, key).set(v)?;
        }
        Ok(())
    };
    match d {
        Decided::Auth(d) => {
            obj.prop(cx, "allow")
                .set(d.allow)?
                .prop("superuser")
                .set(d.superuser)?;
            set_text(cx, "reason", d.reason)?;
        }
        Decided::Subscribe(d) => {
            obj.prop(cx, "allow").set(d.allow)?;
            if let Some(q) = d.qos {
                obj.prop(cx, "qos").set(q as f64)?;
            }
            set_text(cx, "reason", d.reason)?;
        }
        Decided::Publish(d) => {
            obj.prop(cx, "allow").set(d.allow)?;
            set_text(cx, "topic", d.topic)?;
            if let Some(p) = d.payload {
                let buf = JsBuffer::from_slice(cx, &p)?;
                obj.prop(cx, "payload").set(buf)?;
            }
            if let Some(q) = d.qos {
                obj.prop(cx, "qos").set(q as f64)?;
            }
            set_text(cx, "reason", d.reason)?;
            if let Some(props) = d.user_properties {
                let list = cx.empty_array();
                for (i, (name, value)) in props.into_iter().enumerate() {
                    let pair = cx.empty_array();
                    pair.prop(cx, 0).set(name)?.prop(1).set(value)?;
                    list.prop(cx, i as u32).set(pair)?;
                }
                obj.prop(cx, "userProperties").set(list)?;
            }
        }
    }
    Ok(obj)
}

pub fn policy_call(mut cx: FunctionContext) -> JsResult<JsPromise> {
    let handle = cx.argument::<PolicyBox>(0)?;
    let hook = cx.argument::<JsString>(1)?.value(&mut cx);
    let a = cx.argument::<JsObject>(2)?;
    let b = cx.argument::<JsValue>(3)?;
    let data = cx
        .argument::<JsValue>(4)?
        .downcast::<DataBox, _>(&mut cx)
        .ok()
        .map(|d| d.context().clone());
    let Some(policy) = PolicyHandle::get(&handle) else {
        return throw_code(&mut cx, ERR_POLICY_CLOSED, "the WasmPolicy was closed");
    };
    let second = |cx: &mut FunctionContext| b.downcast_or_throw::<JsObject, _>(cx);
    let asked = match hook.as_str() {
        "authenticate" => Asked::Authenticate(connect_request(&mut cx, a)?),
        "authorizeSubscribe" => {
            let b = second(&mut cx)?;
            let filter = text(&mut cx, b, "topicFilter")?.unwrap_or_default();
            Asked::Subscribe(
                session(&mut cx, a)?,
                Subscription {
                    topic_filter: filter,
                    qos: qos(&mut cx, b)?,
                },
            )
        }
        "authorizePublish" => {
            let b = second(&mut cx)?;
            Asked::Publish(session(&mut cx, a)?, message(&mut cx, b)?)
        }
        other => return cx.throw_error(format!("policyCall: unknown hook {other}")),
    };
    let channel = Channel::new(&mut cx);
    let work = async move {
        let call = async {
            match asked {
                Asked::Authenticate(r) => policy.authenticate(r).await.map(Decided::Auth),
                Asked::Subscribe(s, sub) => policy
                    .authorize_subscribe(s, sub)
                    .await
                    .map(Decided::Subscribe),
                Asked::Publish(s, m) => policy.authorize_publish(s, m).await.map(Decided::Publish),
            }
        };
        match data {
            Some(d) => serving(d, call).await,
            None => call.await,
        }
    };
    runtime::promise(&mut cx, &channel, work, |cx, r| match r {
        Ok(d) => decided_to_js(cx, d),
        Err(e) => {
            let err = error_with_code(cx, error_code(&e), &e.to_string())?;
            cx.throw(err)
        }
    })
}
