//! Forwards the host's log records (rmqtt, the hook router, wasm policies) to
//! one JS function; `lib/src/logging.ts` fans them out to the loggers of the
//! live servers.
//!
//! Records cross an unref'd `Channel` (logging never keeps Node alive). At most
//! [`MAX_PENDING`] records wait for the JS thread; more are dropped, and the
//! next delivered batch reports how many.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use log::Level;
use neon::prelude::*;
use rmqtt_js_host::logging::{self, LogRecord};

/// Records allowed to wait for the JS thread.
pub const MAX_PENDING: usize = 1024;

/// `setLogSink(fn(level, target, message))`: installs the process-wide sink.
/// A later call replaces the function.
pub fn set_log_sink(mut cx: FunctionContext) -> JsResult<JsUndefined> {
    let f = cx.argument::<JsFunction>(0)?;
    let target = Arc::new(f.root(&mut cx));
    let mut channel = Channel::new(&mut cx);
    channel.unref(&mut cx);
    let pending = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicU64::new(0));

    logging::set_sink(Arc::new(move |rec: LogRecord| {
        if pending.fetch_add(1, Ordering::AcqRel) >= MAX_PENDING {
            pending.fetch_sub(1, Ordering::AcqRel);
            dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let (target, pending_js, dropped) = (target.clone(), pending.clone(), dropped.clone());
        let sent = channel.try_send(move |mut cx| {
            pending_js.fetch_sub(1, Ordering::AcqRel);
            let lost = dropped.swap(0, Ordering::Relaxed);
            if lost > 0 {
                let note = format!("{lost} log records were dropped (more than {MAX_PENDING} waiting for the JS thread)");
                deliver(&mut cx, &target, "warn", "rmqtt_js::logging", &note);
            }
            deliver(&mut cx, &target, level_name(rec.level), &rec.target, &rec.message);
            Ok(())
        });
        if sent.is_err() {
            pending.fetch_sub(1, Ordering::AcqRel);
        }
    }));
    Ok(cx.undefined())
}

/// Calls the sink; whatever it throws is swallowed (a logger must not crash
/// the broker, and there is nowhere left to report it).
fn deliver(cx: &mut Cx, target: &Root<JsFunction>, level: &str, from: &str, message: &str) {
    let _ = cx.try_catch(|cx| {
        let f = target.to_inner(cx);
        let args = [
            cx.string(level).upcast::<JsValue>(),
            cx.string(from).upcast(),
            cx.string(message).upcast(),
        ];
        let this = cx.undefined();
        f.call(cx, this, args)
    });
}

/// The level names of the JS API.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warn => "warn",
        Level::Info => "info",
        Level::Debug | Level::Trace => "debug",
    }
}
