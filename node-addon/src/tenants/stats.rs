//! `serverTenantStats`: one tenant's activity, or every tenant's, as JS.

use neon::prelude::*;
use rmqtt_js_host::tenants::TenantStats;

use super::declared;
use crate::server::ServerBox;
use crate::stats::rows_to_js;

/// `serverTenantStats(handle, id?) -> TenantStats | TenantStats[]`: with an
/// id, that tenant's (`ERR_TENANT_UNKNOWN` if not declared); without, every
/// declared tenant's, by id. Counters survive restarts.
pub fn server_tenant_stats(mut cx: FunctionContext) -> JsResult<JsValue> {
    let server = cx.argument::<ServerBox>(0)?;
    let id = cx.argument_opt(1);
    let id = match id.map(|v| v.downcast::<JsString, _>(&mut cx)) {
        Some(Ok(s)) => Some(s.value(&mut cx)),
        _ => None,
    };
    match id {
        Some(id) => {
            let tenant = declared(&mut cx, server.broker(), &id)?;
            Ok(stats_to_js(&mut cx, &tenant.stats())?.upcast())
        }
        None => {
            let all = server.broker().tenant_stats();
            let array = cx.empty_array();
            for (i, s) in all.iter().enumerate() {
                let obj = stats_to_js(&mut cx, s)?;
                array.prop(&mut cx, i as u32).set(obj)?;
            }
            Ok(array.upcast())
        }
    }
}

/// `{ id, connections, messagesIn, messagesOut, hooks: [row] }`.
fn stats_to_js<'a>(cx: &mut Cx<'a>, s: &TenantStats) -> JsResult<'a, JsObject> {
    let obj = cx.empty_object();
    let hooks = rows_to_js(cx, &s.hooks)?;
    obj.prop(cx, "id")
        .set(s.id.as_str())?
        .prop("connections")
        .set(s.connections as f64)?
        .prop("messagesIn")
        .set(s.messages_in as f64)?
        .prop("messagesOut")
        .set(s.messages_out as f64)?
        .prop("hooks")
        .set(hooks)?;
    Ok(obj)
}
