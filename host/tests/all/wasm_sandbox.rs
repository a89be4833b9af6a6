//! A policy reaches nothing of the host: no files, no network.

use rmqtt_js_host::hooks::model::QoS;
use rmqtt_js_host::hooks::{HookBackend, HookError, HookKind};
use rmqtt_js_host::wasm::Exports;

use crate::wasm_support::{connect, load, session, sub};

#[tokio::test(flavor = "multi_thread")]
async fn an_escaping_guest_reads_no_files_and_opens_no_sockets() {
    // Something to connect to, so a refusal is the sandbox's doing.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:1883").await.ok();
    let p = load("hostile-escape.wasm").await;
    let d = p
        .authenticate(connect(Some("a"), Some("demo")))
        .await
        .unwrap();
    assert!(!d.allow, "the guest escaped: {:?}", d.reason);
    let reason = d.reason.unwrap_or_default();
    assert!(reason.starts_with("blocked"), "{reason}");
    assert!(
        reason.contains("fs:") && reason.contains("net:"),
        "{reason}"
    );
    drop(listener);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_auth_only_component_reports_only_authenticate() {
    let p = load("hostile-escape.wasm").await;
    assert_eq!(
        p.exports(),
        Exports {
            authenticate: true,
            ..Exports::default()
        }
    );
    assert_eq!(p.hooks(), vec![HookKind::ClientAuthenticate]);
    assert_eq!(
        p.authorize_subscribe(session(None), sub("a", QoS::AtMostOnce))
            .await,
        Err(HookError::NotSupported)
    );
}
