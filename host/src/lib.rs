//! rmqtt-js host: an embeddable MQTT broker (rmqtt on its own tokio runtime)
//! whose hooks are answered by pluggable backends — JS callbacks (through the
//! Node addon) or sandboxed WebAssembly policies ([`wasm`]).
//!
//! The crate has no Node in it and is usable from Rust alone.

pub mod hooks;
