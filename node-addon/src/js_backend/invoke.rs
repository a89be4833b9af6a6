//! Calling one JS hook function on the JS thread.
//!
//! A throw becomes `HookError::Threw`; a returned promise is awaited through
//! `JsPromise::to_future`, its rejection also becoming `Threw`.
//!
//! A call's [`Permit`] is shared by the waiting caller and the queued closure:
//! its place is given back once both are gone. When the caller stopped
//! waiting (the router's hook timeout) before the JS thread reached the
//! closure, the callback is not called at all. A caller that stops waiting
//! drops its half of the promise's future; what stays on the JS side (the
//! promise's two reaction functions) is freed when the promise settles or is
//! garbage-collected.

use std::sync::Arc;

use neon::prelude::*;
use neon::types::JsFuture;
use rmqtt_js_host::hooks::{HookError, HookKind};

use super::in_flight::Permit;
use crate::marshal::to_js::HookArgs;

/// Turns a callback's return value into a decision.
pub type Convert<T> = for<'a, 'b> fn(&mut Cx<'a>, Handle<'b, JsValue>) -> Result<T, HookError>;

/// The outcome of calling a decision hook.
pub enum Called<T> {
    /// The callback answered synchronously (or threw).
    Ready(Result<T, HookError>),
    /// The callback returned a promise; the answer comes when it settles.
    Pending(JsFuture<Result<T, HookError>>),
}

/// Finds the function to call, on the JS thread (`None`: not served).
pub type Lookup = Box<dyn for<'a> FnOnce(&mut Cx<'a>) -> Option<Handle<'a, JsFunction>> + Send>;

/// Calls the function `lookup` finds with `args` on the JS thread through
/// `channel`, and waits for its answer (and its promise, if it returns one),
/// holding `place` until the answer came or this future is dropped, and
/// until the closure left the JS thread's queue.
pub async fn decide<A: HookArgs, T: Send + 'static>(
    channel: &Channel,
    place: Permit,
    lookup: Lookup,
    args: A,
    convert: Convert<T>,
) -> Result<T, HookError> {
    let waiting = Arc::new(place);
    let queued = waiting.clone();
    let called = channel
        .try_send(move |mut cx| {
            if Arc::strong_count(&queued) == 1 {
                // The caller stopped waiting: nobody needs the answer.
                return Ok(Called::Ready(Err(gave_up())));
            }
            let called = cx.try_catch(|cx| {
                let Some(f) = lookup(cx) else {
                    return Ok(Called::Ready(Err(HookError::NotSupported)));
                };
                let argv = args.to_args(cx)?;
                Ok(call(cx, f, &argv, convert))
            });
            Ok(called.unwrap_or_else(|thrown| {
                Called::Ready(Err(HookError::Threw(describe(&mut cx, thrown))))
            }))
        })
        .map_err(|_| shutting_down())?
        .await
        .map_err(|e| HookError::Unavailable(e.to_string()))?;
    match called {
        Called::Ready(answer) => answer,
        // The future fails only when the promise was collected unsettled
        // (its reaction functions dropped): it can never settle.
        Called::Pending(future) => future.await.map_err(|_| never_settles())?,
    }
}

/// The answer of a call whose caller left before the JS thread reached it.
fn gave_up() -> HookError {
    HookError::Unavailable("the caller stopped waiting before the callback was called".into())
}

/// The error of a promise that was garbage-collected without settling.
fn never_settles() -> HookError {
    HookError::Unavailable(
        "the callback's promise was garbage-collected without settling (it can never settle)"
            .into(),
    )
}

/// The error of a call that cannot reach the JS thread any more.
pub fn shutting_down() -> HookError {
    HookError::Unavailable("Node.js is shutting down".into())
}

/// Calls a decision hook.
pub fn call<'a, T: Send + 'static>(
    cx: &mut Cx<'a>,
    f: Handle<'a, JsFunction>,
    args: &[Handle<'a, JsValue>],
    convert: Convert<T>,
) -> Called<T> {
    let value = match apply(cx, f, args) {
        Ok(v) => v,
        Err(thrown) => return Called::Ready(Err(HookError::Threw(thrown))),
    };
    let Ok(promise) = value.downcast::<JsPromise, _>(cx) else {
        return Called::Ready(convert(cx, value));
    };
    let awaited = cx.try_catch(|cx| {
        promise.to_future(cx, move |mut cx, settled| {
            Ok(match settled {
                Ok(v) => convert(&mut cx, v),
                Err(reason) => Err(HookError::Threw(describe(&mut cx, reason))),
            })
        })
    });
    match awaited {
        Ok(future) => Called::Pending(future),
        Err(thrown) => Called::Ready(Err(HookError::Threw(describe(cx, thrown)))),
    }
}

/// Calls a notification hook without waiting for it. A throw or a rejected
/// promise is logged as a WARN (and never becomes an unhandled rejection).
pub fn fire<'a>(
    cx: &mut Cx<'a>,
    kind: HookKind,
    f: Handle<'a, JsFunction>,
    args: &[Handle<'a, JsValue>],
) {
    let value = match apply(cx, f, args) {
        Ok(v) => v,
        Err(thrown) => return warn_threw(kind, &thrown),
    };
    let Ok(promise) = value.downcast::<JsPromise, _>(cx) else {
        return;
    };
    let watched = cx.try_catch(|cx| {
        promise.to_future(cx, move |mut cx, settled| {
            if let Err(reason) = settled {
                warn_threw(kind, &describe(&mut cx, reason));
            }
            Ok(())
        })
    });
    // Dropping the future leaves the rejection handler attached.
    if let Err(thrown) = watched {
        warn_threw(kind, &describe(cx, thrown));
    }
}

/// `f(...args)` with `this` undefined; a throw comes back described.
fn apply<'a>(
    cx: &mut Cx<'a>,
    f: Handle<'a, JsFunction>,
    args: &[Handle<'a, JsValue>],
) -> Result<Handle<'a, JsValue>, String> {
    cx.try_catch(|cx| {
        let this = cx.undefined();
        f.call(cx, this, args)
    })
    .map_err(|thrown| describe(cx, thrown))
}

fn warn_threw(kind: HookKind, message: &str) {
    log::warn!(target: "rmqtt_js::hooks", "{kind} threw: {message}");
}

/// A thrown value as text: an error's `message`, else its string form.
pub fn describe(cx: &mut Cx, v: Handle<JsValue>) -> String {
    let text = cx.try_catch(|cx| {
        if let Ok(obj) = v.downcast::<JsObject, _>(cx) {
            let message = obj.prop(cx, "message").get::<Handle<JsValue>>()?;
            if let Ok(s) = message.downcast::<JsString, _>(cx) {
                return Ok(s.value(cx));
            }
        }
        Ok(v.to_string(cx)?.value(cx))
    });
    text.unwrap_or_else(|_| "a value that cannot be shown".to_string())
}
