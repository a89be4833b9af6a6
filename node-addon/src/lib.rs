//! rmqtt-js Node addon: a thin Neon bridge between `lib/` (the TypeScript API)
//! and the `rmqtt-js-host` crate, which holds all broker logic.
//!
//! This file only registers the functions `lib/src/native.ts` loads. The
//! bridging layer is not API: names and shapes here may change with `lib/`.

mod data;
mod errors;
mod hook_set;
mod js_backend;
mod logging;
mod marshal;
mod password;
mod policy;
mod policy_calls;
mod runtime;
mod server;
mod stats;
mod tenants;

use neon::prelude::*;

#[neon::main]
fn main(mut cx: ModuleContext) -> NeonResult<()> {
    cx.export_function("serverNew", server::server_new)?;
    cx.export_function("serverStart", server::server_start)?;
    cx.export_function("serverStop", server::server_stop)?;
    cx.export_function("serverPublish", server::server_publish)?;
    cx.export_function("serverSetHooks", server::server_set_hooks)?;
    cx.export_function("serverIsRunning", server::server_is_running)?;
    cx.export_function("serverStats", stats::server_stats)?;
    cx.export_function("policyLoad", policy::policy_load)?;
    cx.export_function("policyClose", policy::policy_close)?;
    cx.export_function("serverAddTenant", tenants::server_add_tenant)?;
    cx.export_function("serverTenantSetHooks", tenants::server_tenant_set_hooks)?;
    cx.export_function("serverTenantStats", tenants::server_tenant_stats)?;
    cx.export_function(
        "serverSetTenantResolver",
        tenants::server_set_tenant_resolver,
    )?;
    cx.export_function("serverData", data::server_data)?;
    cx.export_function("serverTenantData", data::server_tenant_data)?;
    cx.export_function("dataGet", data::data_get)?;
    cx.export_function("dataHas", data::data_has)?;
    cx.export_function("dataSet", data::data_set)?;
    cx.export_function("dataDelete", data::data_delete)?;
    cx.export_function("dataReplace", data::data_replace)?;
    cx.export_function("dataClear", data::data_clear)?;
    cx.export_function("dataInfo", data::data_info)?;
    cx.export_function("dataSetMaxBytes", data::data_set_max_bytes)?;
    cx.export_function("dataNew", data::data_new)?;
    cx.export_function("policyCall", policy_calls::policy_call)?;
    cx.export_function("hashPassword", password::hash_password)?;
    cx.export_function("setLogSink", logging::set_log_sink)?;
    Ok(())
}
