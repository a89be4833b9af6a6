//! Errors crossing to JS: a plain `Error` with a stable string `code`, which
//! `lib/src/errors.ts` turns into an `RmqttError`.

use neon::prelude::*;
use rmqtt_js_host::BrokerError;

/// Code of a hooks object the bridge cannot bind.
pub const ERR_INVALID_HOOK: &str = "ERR_INVALID_HOOK";

/// A JS `Error` carrying `code`.
pub fn error_with_code<'a>(cx: &mut Cx<'a>, code: &str, message: &str) -> JsResult<'a, JsError> {
    let err = cx.error(message)?;
    err.prop(cx, "code").set(code)?;
    Ok(err)
}

/// The JS form of a host error.
pub fn broker_error<'a>(cx: &mut Cx<'a>, e: &BrokerError) -> JsResult<'a, JsError> {
    error_with_code(cx, e.code(), &e.to_string())
}

/// Throws an `Error` carrying `code`.
pub fn throw_code<'a, T>(cx: &mut Cx<'a>, code: &str, message: &str) -> NeonResult<T> {
    let err = error_with_code(cx, code, message)?;
    cx.throw(err)
}
