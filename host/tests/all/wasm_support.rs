//! Helpers of the wasm engine tests: guest components, options, requests.

use std::path::PathBuf;
use std::time::Duration;

use rmqtt_js_host::hooks::model::{ConnectRequest, Message, QoS, SessionInfo, Subscription};
use rmqtt_js_host::wasm::{LoadOptions, WasmPolicy};

/// The built guest component `file` (in `guest-examples/dist`). Fails the test
/// when it is missing: guests are part of the build, never silently skipped.
pub fn guest(file: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../guest-examples/dist")
        .join(file);
    assert!(
        path.is_file(),
        "guest component {} is missing: build the guests first \
         (`npm install`, then `node scripts/build-guests.mjs` at the repository root)",
        path.display()
    );
    path
}

/// Options with a cache directory inside the target dir (never `~/.cache`)
/// and a deadline of seconds: well-behaved guests must not trip it on a
/// loaded CI machine. Tests of the deadline set their own.
pub fn options(name: &str) -> LoadOptions {
    LoadOptions::new(name)
        .cache_dir(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasm-cache"))
        .timeout(Duration::from_secs(5))
}

/// Loads guest `file` with [`options`].
pub async fn load(file: &str) -> WasmPolicy {
    load_with(file, options(file)).await
}

pub async fn load_with(file: &str, options: LoadOptions) -> WasmPolicy {
    match WasmPolicy::load(guest(file).as_path(), options).await {
        Ok(p) => p,
        Err(e) => panic!("loading {file} failed [{}]: {e}", e.code()),
    }
}

pub fn connect(username: Option<&str>, password: Option<&str>) -> ConnectRequest {
    ConnectRequest {
        client_id: "client-1".into(),
        username: username.map(Into::into),
        password: password.map(|p| p.as_bytes().to_vec()),
        protocol_version: 5,
        remote_addr: Some("127.0.0.1:50000".into()),
        keep_alive: 60,
        clean_start: true,
        tenant: None,
        client_cert: None,
        user_properties: Vec::new(),
    }
}

pub fn session(username: Option<&str>) -> SessionInfo {
    SessionInfo {
        node: 1,
        remote_addr: Some("127.0.0.1:50000".into()),
        client_id: "client-1".into(),
        username: username.map(Into::into),
        tenant: None,
    }
}

pub fn sub(filter: &str, qos: QoS) -> Subscription {
    Subscription {
        topic_filter: filter.into(),
        qos,
    }
}

pub fn msg(topic: &str, payload: &str, qos: QoS) -> Message {
    Message {
        topic: topic.into(),
        payload: payload.as_bytes().to_vec(),
        qos,
        retain: false,
        properties: Default::default(),
    }
}
