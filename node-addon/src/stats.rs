//! `serverStats(handle)`: the host's per-hook × backend counters as plain JS
//! rows; `lib/src/stats.ts` shapes them into the public `ServerStats`.

use neon::prelude::*;
use rmqtt_js_host::hooks::HookStatsRow;

use crate::server::ServerBox;

/// `serverStats(handle) -> [{ hook, backend, calls, allows, denies, timeouts,
/// traps, errors, dropped, p50Micros, p99Micros }]`: one row per hook ×
/// backend that saw a call or a dropped notification since the server was
/// created (stop and start keep them). Quantiles are `null` without calls.
pub fn server_stats(mut cx: FunctionContext) -> JsResult<JsArray> {
    let server = cx.argument::<ServerBox>(0)?;
    let rows = server.broker().stats().snapshot();
    rows_to_js(&mut cx, &rows)
}

/// Stats rows as the JS array `serverStats` returns (also used for each
/// tenant's hooks by `tenants::stats`).
pub fn rows_to_js<'a>(cx: &mut Cx<'a>, rows: &[HookStatsRow]) -> JsResult<'a, JsArray> {
    let array = cx.empty_array();
    for (i, row) in rows.iter().enumerate() {
        let obj = row_to_js(cx, row)?;
        array.prop(cx, i as u32).set(obj)?;
    }
    Ok(array)
}

fn row_to_js<'a>(cx: &mut Cx<'a>, r: &HookStatsRow) -> JsResult<'a, JsObject> {
    let obj = cx.empty_object();
    let count = |n: u64| n as f64;
    obj.prop(cx, "hook")
        .set(r.hook.js_name())?
        .prop("backend")
        .set(r.backend.as_str())?
        .prop("calls")
        .set(count(r.calls))?
        .prop("allows")
        .set(count(r.allows))?
        .prop("denies")
        .set(count(r.denies))?
        .prop("timeouts")
        .set(count(r.timeouts))?
        .prop("traps")
        .set(count(r.traps))?
        .prop("errors")
        .set(count(r.errors))?
        .prop("dropped")
        .set(count(r.dropped))?;
    let p50 = quantile(cx, r.p50_micros);
    let p99 = quantile(cx, r.p99_micros);
    obj.prop(cx, "p50Micros").set(p50)?;
    obj.prop(cx, "p99Micros").set(p99)?;
    Ok(obj)
}

fn quantile<'a>(cx: &mut Cx<'a>, q: Option<f64>) -> Handle<'a, JsValue> {
    match q {
        Some(v) => cx.number(v).upcast(),
        None => cx.null().upcast(),
    }
}
