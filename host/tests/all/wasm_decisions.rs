//! Every decision through every guest language: Rust (`wit-bindgen`), JS and
//! TypeScript on QuickJS and StarlingMonkey.

use rmqtt_js_host::hooks::model::{
    AuthDecision, Event, FromKind, MessageFrom, MessageInfo, PublishDecision, QoS,
};
use rmqtt_js_host::hooks::{BackendKind, HookBackend, HookError, HookKind};
use rmqtt_js_host::wasm::{Exports, WasmPolicy};

use crate::wasm_support::{connect, load, msg, session, sub};

/// The reference ACL's authentication rules (rust-acl, ts-acl).
async fn check_acl_authenticate(p: &WasmPolicy) {
    let d = p
        .authenticate(connect(Some("alice"), Some("demo")))
        .await
        .unwrap();
    assert_eq!(
        d,
        AuthDecision {
            allow: true,
            superuser: false,
            reason: None
        }
    );
    let d = p
        .authenticate(connect(Some("admin"), Some("demo")))
        .await
        .unwrap();
    assert!(d.allow && d.superuser, "{d:?}");
    let d = p
        .authenticate(connect(Some("alice"), Some("nope")))
        .await
        .unwrap();
    assert!(!d.allow, "{d:?}");
    assert_eq!(d.reason.as_deref(), Some("bad credentials"));
    let d = p.authenticate(connect(None, Some("demo"))).await.unwrap();
    assert!(!d.allow, "no username: {d:?}");
    let d = p.authenticate(connect(Some("alice"), None)).await.unwrap();
    assert!(!d.allow, "no password: {d:?}");
}

/// The reference ACL's subscribe and publish rules (rust-acl, ts-acl).
async fn check_acl_authorize(p: &WasmPolicy) {
    let alice = session(Some("alice"));
    let d = p
        .authorize_subscribe(alice.clone(), sub("alice/#", QoS::ExactlyOnce))
        .await
        .unwrap();
    assert!(d.allow, "{d:?}");
    assert_eq!(d.qos, Some(1), "QoS capped at 1");
    let d = p
        .authorize_subscribe(alice.clone(), sub("server/public/x", QoS::AtMostOnce))
        .await
        .unwrap();
    assert!(d.allow, "{d:?}");
    assert_eq!(d.qos, Some(0));
    let d = p
        .authorize_subscribe(alice.clone(), sub("bob/#", QoS::AtMostOnce))
        .await
        .unwrap();
    assert!(!d.allow, "{d:?}");
    assert_eq!(d.reason.as_deref(), Some("not authorized"));

    let d = p
        .authorize_publish(alice.clone(), msg("$SYS/x", "p", QoS::AtMostOnce))
        .await
        .unwrap();
    assert!(!d.allow);
    assert_eq!(d.reason.as_deref(), Some("system topic"));
    let d = p
        .authorize_publish(alice.clone(), msg("bob/x", "p", QoS::AtMostOnce))
        .await
        .unwrap();
    assert!(!d.allow);
    assert_eq!(d.reason.as_deref(), Some("not authorized"));
    let d = p
        .authorize_publish(alice.clone(), msg("alice/x", "p", QoS::ExactlyOnce))
        .await
        .unwrap();
    assert_eq!(
        d,
        PublishDecision {
            allow: true,
            ..PublishDecision::default()
        },
        "unchanged"
    );
    let d = p
        .authorize_publish(
            alice.clone(),
            msg("alice/t/upper", "hello", QoS::ExactlyOnce),
        )
        .await
        .unwrap();
    assert!(d.allow);
    assert_eq!(d.topic.as_deref(), Some("alice/t/out"));
    assert_eq!(d.payload.as_deref(), Some(b"HELLO".as_slice()));
    assert_eq!(d.qos, Some(1));
}

fn an_event() -> Event {
    Event::MessagePublish {
        session: Some(session(Some("alice"))),
        from: MessageFrom {
            kind: FromKind::Client,
            node: 1,
            remote_addr: None,
            client_id: "client-1".into(),
            username: Some("alice".into()),
        },
        message: MessageInfo {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: false,
            topic: "alice/x".into(),
            payload: b"p".to_vec(),
            create_time: 1_700_000_000_000,
            properties: Default::default(),
        },
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_acl_answers_every_hook() {
    let p = load("rust-acl.wasm").await;
    assert_eq!(p.kind(), BackendKind::Wasm);
    assert_eq!(
        p.exports(),
        Exports {
            authenticate: true,
            authorize_subscribe: true,
            authorize_publish: true,
            events: true,
            tenant_resolver: false,
        }
    );
    assert_eq!(p.hooks(), HookKind::ALL.to_vec());
    check_acl_authenticate(&p).await;
    check_acl_authorize(&p).await;
    p.notify(an_event()).await.expect("events are accepted");
    p.notify(Event::ClientConnected(session(None)))
        .await
        .unwrap();
    let stats = p.stats();
    assert_eq!(stats.traps + stats.deadline_hits, 0, "{stats:?}");
    assert_eq!(
        stats.instances_created, 1,
        "sequential calls reuse one instance: {stats:?}"
    );
}

/// ts-acl, built for one JS engine, decides as rust-acl does.
async fn check_ts_acl(file: &str) {
    let p = load(file).await;
    assert_eq!(p.hooks(), HookKind::ALL.to_vec());
    check_acl_authenticate(&p).await;
    check_acl_authorize(&p).await;
    p.notify(an_event()).await.expect("events are accepted");
}

#[tokio::test(flavor = "multi_thread")]
async fn typescript_acl_on_quickjs_matches_the_rust_one() {
    check_ts_acl("ts-acl.quickjs.wasm").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn typescript_acl_on_starlingmonkey_matches_the_rust_one() {
    check_ts_acl("ts-acl.starlingmonkey.wasm").await;
}

/// js-auth: allow iff the password is "demo" (username optional), admin is a
/// superuser; it exports only `authenticate`.
async fn check_js_auth(file: &str) {
    let p = load(file).await;
    assert_eq!(p.hooks(), vec![HookKind::ClientAuthenticate]);
    let d = p
        .authenticate(connect(Some("alice"), Some("demo")))
        .await
        .unwrap();
    assert!(d.allow && !d.superuser, "{d:?}");
    let d = p
        .authenticate(connect(Some("admin"), Some("demo")))
        .await
        .unwrap();
    assert!(d.allow && d.superuser, "{d:?}");
    let d = p
        .authenticate(connect(Some("alice"), Some("wrong")))
        .await
        .unwrap();
    assert!(!d.allow, "{d:?}");
    assert_eq!(d.reason.as_deref(), Some("bad credentials"));
    let d = p.authenticate(connect(None, None)).await.unwrap();
    assert!(!d.allow, "{d:?}");
    assert_eq!(
        p.authorize_subscribe(session(None), sub("a", QoS::AtMostOnce))
            .await,
        Err(HookError::NotSupported)
    );
    assert_eq!(p.notify(an_event()).await, Err(HookError::NotSupported));
}

#[tokio::test(flavor = "multi_thread")]
async fn javascript_auth_on_quickjs() {
    check_js_auth("js-auth.quickjs.wasm").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn javascript_auth_on_starlingmonkey() {
    check_js_auth("js-auth.starlingmonkey.wasm").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_mutations_pass_through_unvalidated() {
    // The router validates rewrites; the engine converts faithfully.
    let p = load("hostile-bad-mutation.wasm").await;
    let d = p
        .authorize_publish(session(Some("a")), msg("x/hash", "p", QoS::AtMostOnce))
        .await
        .unwrap();
    assert_eq!(d.topic.as_deref(), Some("a/#"));
    assert_eq!(d.payload.as_deref(), Some(b"mutated".as_slice()));
    let d = p
        .authorize_publish(session(Some("a")), msg("x/empty", "p", QoS::AtMostOnce))
        .await
        .unwrap();
    assert_eq!(d.topic.as_deref(), Some(""));
    let d = p
        .authorize_publish(session(Some("a")), msg("x", "p", QoS::AtMostOnce))
        .await
        .unwrap();
    assert_eq!(d.topic.as_deref(), Some("a/+/b"));
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_calls_use_separate_instances_within_the_cap() {
    let p = std::sync::Arc::new(load("rust-acl.wasm").await);
    let calls = (0..32).map(|i| {
        let p = p.clone();
        tokio::spawn(async move {
            let user = format!("user{i}");
            p.authenticate(connect(Some(&user), Some("demo"))).await
        })
    });
    for call in calls {
        assert!(call.await.unwrap().unwrap().allow);
    }
    let stats = p.stats();
    assert_eq!(stats.calls, 32);
    assert!(
        stats.instances_created as usize <= rmqtt_js_host::wasm::DEFAULT_MAX_INSTANCES,
        "{stats:?}"
    );
}
