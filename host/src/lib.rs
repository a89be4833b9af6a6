//! rmqtt-js host: an embeddable MQTT broker (rmqtt on its own tokio runtime)
//! whose hooks are answered by pluggable backends — JS callbacks (through the
//! Node addon) or sandboxed WebAssembly policies.
//!
//! The crate has no Node in it and is usable from Rust alone:
//!
//! ```no_run
//! # async fn demo() -> Result<(), rmqtt_js_host::BrokerError> {
//! use rmqtt_js_host::{Broker, ServerConfig};
//! let broker = Broker::new();
//! let listeners = broker.start(ServerConfig::basic(0)).await?;
//! println!("listening on port {}", listeners[0].port);
//! broker.publish("hello".into(), b"world".to_vec(), 1, false).await?;
//! broker.stop().await?;
//! # Ok(()) }
//! ```

pub mod broker;
pub mod config;
/// Host-side JWT, password-hash and digest functions for wasm policies.
pub mod crypto;
/// The key-value data of each broker context that policies and hooks read.
pub mod data;
pub mod error;
pub mod hooks;
pub mod logging;
pub mod memory;
pub mod persistence;
mod strict;
pub mod tenants;
pub mod topic;
pub mod wasm;

pub use broker::{Broker, ListenerInfo};
pub use config::{ListenerConfig, Protocol, ServerConfig, TenancyConfig};
pub use error::{BrokerError, ConfigError};
