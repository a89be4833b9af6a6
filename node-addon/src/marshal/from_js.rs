//! JS hook answers → decision records.
//!
//! Never leaves an exception pending: an answer that is not an object with a
//! boolean `allow` is `HookError::BadReturn` (the router denies and warns).
//! Optional fields of the wrong type are ignored, except `qos`, which is passed
//! on as an invalid level so that the router ignores it with a WARN.
//!
//! `userProperties` is an array of `[name, value]` string pairs (the shape
//! hooks receive) or an object in the `mqtt` client's shape, `{ name: value
//! | value[] }` (in key order); the router holds it to its caps.

use neon::prelude::*;
use neon::types::buffer::TypedArray;
use rmqtt_js_host::hooks::model::{AuthDecision, PublishDecision, SubscribeDecision};
use rmqtt_js_host::hooks::HookError;

use crate::js_backend::invoke::describe;

/// `{ allow, superuser?, reason? }`.
pub fn auth_decision(cx: &mut Cx, v: Handle<JsValue>) -> Result<AuthDecision, HookError> {
    decision(cx, v, |cx, obj, allow| {
        Ok(AuthDecision {
            allow,
            superuser: field(cx, obj, "superuser")?.is_some_and(|v| is_true(cx, v)),
            reason: text(cx, obj, "reason")?,
        })
    })
}

/// `{ allow, qos?, reason? }`.
pub fn subscribe_decision(cx: &mut Cx, v: Handle<JsValue>) -> Result<SubscribeDecision, HookError> {
    decision(cx, v, |cx, obj, allow| {
        Ok(SubscribeDecision {
            allow,
            qos: qos(cx, obj)?,
            reason: text(cx, obj, "reason")?,
        })
    })
}

/// `{ allow, topic?, payload?: Buffer | Uint8Array | string, qos?, reason?,
/// userProperties? }`.
pub fn publish_decision(cx: &mut Cx, v: Handle<JsValue>) -> Result<PublishDecision, HookError> {
    decision(cx, v, |cx, obj, allow| {
        let topic = match field(cx, obj, "topic")? {
            None => None,
            Some(v) => match v.downcast::<JsString, _>(cx) {
                Ok(s) => Some(s.value(cx)),
                Err(_) => {
                    ignored("topic", "a string");
                    None
                }
            },
        };
        let payload = match field(cx, obj, "payload")? {
            None => None,
            Some(v) => bytes(cx, v).or_else(|| {
                ignored("payload", "a Buffer, a Uint8Array or a string");
                None
            }),
        };
        let user_properties = match field(cx, obj, "userProperties")? {
            None => None,
            Some(v) => user_properties(cx, v)?.or_else(|| {
                ignored(
                    "userProperties",
                    "an array of [name, value] string pairs or an object of strings (or string arrays)",
                );
                None
            }),
        };
        Ok(PublishDecision {
            allow,
            topic,
            payload,
            qos: qos(cx, obj)?,
            reason: text(cx, obj, "reason")?,
            user_properties,
        })
    })
}

/// Checks the common shape and hands the object and `allow` to `read`.
fn decision<'a, 'b, T>(
    cx: &mut Cx<'a>,
    v: Handle<'b, JsValue>,
    read: impl FnOnce(&mut Cx<'a>, Handle<'b, JsObject>, bool) -> NeonResult<T>,
) -> Result<T, HookError> {
    let Ok(obj) = v.downcast::<JsObject, _>(cx) else {
        return Err(HookError::BadReturn(format!(
            "expected an object like {{ allow: true }}, got {}",
            type_name(cx, v)
        )));
    };
    let read = cx.try_catch(|cx| {
        let allow = obj.prop(cx, "allow").get::<Handle<JsValue>>()?;
        match allow.downcast::<JsBoolean, _>(cx) {
            Ok(b) => {
                let allow = b.value(cx);
                read(cx, obj, allow).map(Ok)
            }
            Err(_) => Ok(Err(HookError::BadReturn(format!(
                "`allow` must be a boolean, got {}",
                type_name(cx, allow)
            )))),
        }
    });
    match read {
        Ok(result) => result,
        Err(thrown) => Err(HookError::BadReturn(format!(
            "reading the answer threw: {}",
            describe(cx, thrown)
        ))),
    }
}

/// A property, `None` when undefined or null.
fn field<'a>(
    cx: &mut Cx<'a>,
    obj: Handle<'_, JsObject>,
    key: &str,
) -> NeonResult<Option<Handle<'a, JsValue>>> {
    let v = obj.prop(cx, key).get::<Handle<JsValue>>()?;
    Ok((!v.is_a::<JsUndefined, _>(cx) && !v.is_a::<JsNull, _>(cx)).then_some(v))
}

fn is_true(cx: &mut Cx, v: Handle<JsValue>) -> bool {
    v.downcast::<JsBoolean, _>(cx).is_ok_and(|b| b.value(cx))
}

/// A string property; anything else is treated as absent.
fn text<'a>(cx: &mut Cx<'a>, obj: Handle<'_, JsObject>, key: &str) -> NeonResult<Option<String>> {
    Ok(field(cx, obj, key)?
        .and_then(|v| v.downcast::<JsString, _>(cx).ok())
        .map(|s| s.value(cx)))
}

/// The raw QoS: an integer as is, any other present value as -1 (invalid).
fn qos(cx: &mut Cx, obj: Handle<'_, JsObject>) -> NeonResult<Option<i64>> {
    let Some(v) = field(cx, obj, "qos")? else {
        return Ok(None);
    };
    let level = match v.downcast::<JsNumber, _>(cx) {
        Ok(n) => {
            let n = n.value(cx);
            if n.is_finite() && n.fract() == 0.0 {
                n as i64
            } else {
                -1
            }
        }
        Err(_) => -1,
    };
    Ok(Some(level))
}

/// User properties from `[[name, value], ...]` or `{ name: value | value[] }`;
/// `None` for any other shape (or a name or value that is not a string).
fn user_properties(cx: &mut Cx, v: Handle<JsValue>) -> NeonResult<Option<Vec<(String, String)>>> {
    let string =
        |cx: &mut Cx, v: Handle<JsValue>| v.downcast::<JsString, _>(cx).ok().map(|s| s.value(cx));
    if let Ok(array) = v.downcast::<JsArray, _>(cx) {
        let mut out = Vec::new();
        for item in array.to_vec(cx)? {
            let Ok(pair) = item.downcast::<JsArray, _>(cx) else {
                return Ok(None);
            };
            if pair.len(cx) != 2 {
                return Ok(None);
            }
            let name = pair.prop(cx, 0u32).get::<Handle<JsValue>>()?;
            let value = pair.prop(cx, 1u32).get::<Handle<JsValue>>()?;
            match (string(cx, name), string(cx, value)) {
                (Some(n), Some(v)) => out.push((n, v)),
                _ => return Ok(None),
            }
        }
        return Ok(Some(out));
    }
    let Ok(obj) = v.downcast::<JsObject, _>(cx) else {
        return Ok(None);
    };
    if v.is_a::<JsFunction, _>(cx) || v.is_a::<JsTypedArray<u8>, _>(cx) {
        return Ok(None);
    }
    let mut out = Vec::new();
    let keys = obj.get_own_property_names(cx)?.to_vec(cx)?;
    for key in keys {
        let Some(name) = string(cx, key) else {
            return Ok(None);
        };
        let value = obj.prop(cx, name.as_str()).get::<Handle<JsValue>>()?;
        if let Some(v) = string(cx, value) {
            out.push((name, v));
        } else if let Ok(values) = value.downcast::<JsArray, _>(cx) {
            for item in values.to_vec(cx)? {
                let Some(v) = string(cx, item) else {
                    return Ok(None);
                };
                out.push((name.clone(), v));
            }
        } else {
            return Ok(None);
        }
    }
    Ok(Some(out))
}

/// The bytes of a Buffer, a Uint8Array or a string (UTF-8).
fn bytes(cx: &mut Cx, v: Handle<JsValue>) -> Option<Vec<u8>> {
    if let Ok(array) = v.downcast::<JsTypedArray<u8>, _>(cx) {
        return Some(array.as_slice(cx).to_vec());
    }
    v.downcast::<JsString, _>(cx)
        .ok()
        .map(|s| s.value(cx).into_bytes())
}

fn ignored(field: &str, expected: &str) {
    log::warn!(
        target: "rmqtt_js::hooks",
        "onClientPublishAuthorize returned a `{field}` that is not {expected}; it is ignored"
    );
}

/// A short description of a JS value's type, for error messages.
fn type_name(cx: &mut Cx, v: Handle<JsValue>) -> &'static str {
    if v.is_a::<JsUndefined, _>(cx) {
        "undefined"
    } else if v.is_a::<JsNull, _>(cx) {
        "null"
    } else if v.is_a::<JsBoolean, _>(cx) {
        "a boolean"
    } else if v.is_a::<JsNumber, _>(cx) {
        "a number"
    } else if v.is_a::<JsString, _>(cx) {
        "a string"
    } else if v.is_a::<JsFunction, _>(cx) {
        "a function"
    } else {
        "a value of another type"
    }
}
