//! Integration tests of the host crate: one test binary, a module per topic.

mod broker_lifecycle;
mod hook_properties;
mod hook_router;
mod listener_limits;
mod memory;
mod support;
mod tenants;
mod wasm_broker;
mod wasm_contract_v0_2;
mod wasm_decisions;
mod wasm_limits;
mod wasm_loading;
mod wasm_resolver;
mod wasm_sandbox;
mod wasm_support;
