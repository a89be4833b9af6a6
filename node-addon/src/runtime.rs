//! The addon's tokio runtime, on which host futures are awaited, and the one
//! way their results travel back: a promise settled through a `Channel` that
//! keeps Node alive only while the operation is in flight.

use std::future::Future;
use std::sync::OnceLock;

use neon::prelude::*;
use tokio::runtime::Runtime;

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The runtime, built on first use. One worker is enough: it only awaits the
/// host's futures (each broker runs on a runtime of its own).
pub fn runtime<'a>(cx: &mut Cx<'a>) -> NeonResult<&'static Runtime> {
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let built = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("rmqtt-js-addon")
        .enable_all()
        .build();
    match built {
        Ok(rt) => Ok(RUNTIME.get_or_init(|| rt)),
        Err(e) => cx.throw_error(format!("rmqtt-js: cannot start the addon runtime: {e}")),
    }
}

/// A referenced copy of `base` (an unref'd channel): it keeps the event loop
/// alive until dropped.
pub fn referenced<'a>(cx: &mut Cx<'a>, base: &Channel) -> Channel {
    let mut channel = base.clone();
    channel.reference(cx);
    channel
}

/// Runs `work` on the addon runtime; `settle` then runs on the JS thread with
/// its output and decides the promise's fate (return a value to resolve,
/// throw to reject). Node stays alive until the promise is settled.
pub fn promise<'a, T, W, S, V>(
    cx: &mut Cx<'a>,
    base: &Channel,
    work: W,
    settle: S,
) -> JsResult<'a, JsPromise>
where
    T: Send + 'static,
    W: Future<Output = T> + Send + 'static,
    S: for<'b> FnOnce(&mut Cx<'b>, T) -> JsResult<'b, V> + Send + 'static,
    V: Value,
{
    let rt = runtime(cx)?;
    let channel = referenced(cx, base);
    let (deferred, promise) = cx.promise();
    rt.spawn(async move {
        let output = work.await;
        // Settling fails only while Node tears the environment down.
        let _ = deferred.try_settle_with(&channel, move |mut cx| settle(&mut cx, output));
        drop(channel);
    });
    Ok(promise)
}

/// The runtime, if it was built (for finalizers, which have no `Cx`).
pub fn existing() -> Option<&'static Runtime> {
    RUNTIME.get()
}
