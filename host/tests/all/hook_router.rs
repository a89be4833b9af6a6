//! The router's seed semantics, driven by a native (Rust) backend.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rmqtt_js_host::hooks::model::{AuthDecision, Event, PublishDecision, SubscribeDecision};
use rmqtt_js_host::hooks::{HookKind, HookSet};
use rmqtt_js_host::{Broker, ServerConfig};
use rumqttc::{ConnectReturnCode, ConnectionError, QoS};
use tokio::sync::mpsc;

use crate::support::{
    connect, options, start_broker, start_with, subscribe_ready, try_connect, FnBackend,
};

fn bind(broker: &Broker, backend: FnBackend, kinds: &[HookKind]) {
    let backend = backend.into_arc();
    let mut set = HookSet::new();
    for k in kinds {
        set.bind(*k, backend.clone());
    }
    broker.set_hooks(set);
}

fn refused(r: Result<crate::support::Client, ConnectionError>) -> ConnectReturnCode {
    match r {
        Err(ConnectionError::ConnectionRefused(code)) => code,
        Err(e) => panic!("expected a refusal, got {e}"),
        Ok(_) => panic!("expected a refusal, the client connected"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_auth_hook_sees_every_client_including_anonymous_ones() {
    let broker = Broker::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    bind(
        &broker,
        FnBackend {
            auth: Some(Box::new(move |req| {
                seen.fetch_add(1, Ordering::SeqCst);
                Ok(AuthDecision {
                    allow: req.password.as_deref() == Some(b"demo"),
                    ..Default::default()
                })
            })),
            ..Default::default()
        },
        &[HookKind::ClientAuthenticate],
    );
    let port = start_broker(&broker).await;
    let code = refused(try_connect(options("anon", port)).await);
    assert_eq!(code, ConnectReturnCode::BadUserNamePassword);
    let mut ok = options("alice", port);
    ok.set_credentials("alice", "demo");
    connect(ok).await;
    let mut bad = options("mallory", port);
    bad.set_credentials("mallory", "guess");
    refused(try_connect(bad).await);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let auth_row = broker
        .stats()
        .snapshot()
        .into_iter()
        .find(|r| r.hook == HookKind::ClientAuthenticate)
        .expect("auth stats");
    assert_eq!(
        (auth_row.calls, auth_row.allows, auth_row.denies),
        (3, 1, 2)
    );
    broker.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_an_auth_hook_the_listener_decides_on_anonymous_clients() {
    let broker = Broker::new();
    let mut cfg = ServerConfig::basic(0);
    cfg.listeners[0].allow_anonymous = Some(false);
    let port = start_with(&broker, cfg).await;
    refused(try_connect(options("anon", port)).await);
    broker.stop().await.expect("stop");

    let port = start_broker(&broker).await;
    connect(options("anon", port)).await;
    broker.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_auth_hook_times_out_into_a_deny() {
    let broker = Broker::new();
    bind(
        &broker,
        FnBackend {
            auth: Some(Box::new(|_| {
                Ok(AuthDecision {
                    allow: true,
                    ..Default::default()
                })
            })),
            delay: Some(Duration::from_secs(3)),
            ..Default::default()
        },
        &[HookKind::ClientAuthenticate],
    );
    let mut cfg = ServerConfig::basic(0);
    cfg.hook_timeout_ms = Some(200.0);
    let port = start_with(&broker, cfg).await;
    let code = refused(try_connect(options("slow", port)).await);
    assert_eq!(code, ConnectReturnCode::NotAuthorized);
    let row = broker
        .stats()
        .snapshot()
        .into_iter()
        .find(|r| r.hook == HookKind::ClientAuthenticate);
    assert_eq!(row.expect("stats").timeouts, 1);
    broker.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_publish_acl_denies_rewrites_and_runs_once_per_publish() {
    let broker = Broker::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    bind(
        &broker,
        FnBackend {
            publ: Some(Box::new(move |_s, m| {
                seen.fetch_add(1, Ordering::SeqCst);
                Ok(match m.topic.as_str() {
                    "secret" => PublishDecision {
                        allow: false,
                        reason: Some("no".into()),
                        ..Default::default()
                    },
                    "shout" => PublishDecision {
                        allow: true,
                        topic: Some("out".into()),
                        payload: Some(m.payload.to_ascii_uppercase()),
                        ..Default::default()
                    },
                    "bad" => PublishDecision {
                        allow: true,
                        topic: Some("a/#".into()),
                        qos: Some(9),
                        ..Default::default()
                    },
                    _ => PublishDecision {
                        allow: true,
                        ..Default::default()
                    },
                })
            })),
            ..Default::default()
        },
        &[HookKind::ClientPublishAuthorize],
    );
    let port = start_broker(&broker).await;
    let mut sub = connect(options("sub", port)).await;
    let publisher = connect(options("pub", port)).await;
    subscribe_ready(&mut sub, &publisher, "#", "probe").await;
    let before = calls.load(Ordering::SeqCst);

    for (topic, payload) in [
        ("secret", "s"),
        ("shout", "hi"),
        ("bad", "b"),
        ("plain", "p"),
    ] {
        publisher
            .client
            .publish(topic, QoS::AtLeastOnce, false, payload.as_bytes().to_vec())
            .await
            .expect("publish");
    }
    let got: Vec<(String, Vec<u8>)> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            let m = sub.next_message().await;
            v.push((m.topic.clone(), m.payload.to_vec()));
        }
        v
    };
    assert_eq!(
        got,
        vec![
            ("out".to_string(), b"HI".to_vec()),
            ("bad".to_string(), b"b".to_vec()),
            ("plain".to_string(), b"p".to_vec()),
        ]
    );
    assert_eq!(
        calls.load(Ordering::SeqCst) - before,
        4,
        "one ACL call per publish"
    );
    broker.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread")]
async fn sys_topics_are_denied_by_default_and_subscribe_acl_caps_qos() {
    let broker = Broker::new();
    bind(
        &broker,
        FnBackend {
            sub: Some(Box::new(|_s, sub| {
                Ok(SubscribeDecision {
                    allow: !sub.topic_filter.starts_with("private"),
                    qos: Some(0),
                    reason: None,
                })
            })),
            ..Default::default()
        },
        &[HookKind::ClientSubscribeAuthorize],
    );
    let port = start_broker(&broker).await;
    let mut sub = connect(options("sub", port)).await;
    let publisher = connect(options("pub", port)).await;
    sub.subscribe("private/#", QoS::AtLeastOnce).await;
    sub.subscribe("$SYS/#", QoS::AtLeastOnce).await;
    subscribe_ready(&mut sub, &publisher, "#", "probe").await;
    publisher
        .client
        .publish("$SYS/evil", QoS::AtLeastOnce, false, b"x".to_vec())
        .await
        .expect("publish");
    publisher
        .client
        .publish("private/x", QoS::AtLeastOnce, false, b"p".to_vec())
        .await
        .expect("publish");
    publisher
        .client
        .publish("after", QoS::AtLeastOnce, false, b"a".to_vec())
        .await
        .expect("publish");
    // The subscriber holds `$SYS/#`, so a delivered `$SYS/evil` would arrive
    // first: only "private/x" (through `#`, granted QoS 0) and "after" do.
    let first = sub.next_message().await;
    assert_eq!(first.topic, "private/x");
    assert_eq!(first.qos, QoS::AtMostOnce, "granted QoS capped at 0");
    assert_eq!(sub.next_message().await.topic, "after");
    broker.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread")]
async fn notifications_carry_the_session_and_message() {
    let broker = Broker::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    bind(
        &broker,
        FnBackend {
            events: Some(tx),
            ..Default::default()
        },
        &[
            HookKind::ClientConnected,
            HookKind::MessagePublish,
            HookKind::ClientSubscribe,
        ],
    );
    let port = start_broker(&broker).await;
    let mut o = options("watcher", port);
    o.set_credentials("ann", "pw");
    let c = connect(o).await;
    c.client
        .subscribe("x/y", QoS::AtLeastOnce)
        .await
        .expect("sub");
    c.client
        .publish("x/y", QoS::AtLeastOnce, false, b"m".to_vec())
        .await
        .expect("pub");
    let mut kinds = Vec::new();
    while kinds.len() < 3 {
        let e = tokio::time::timeout(crate::support::WAIT, rx.recv())
            .await
            .expect("event")
            .expect("open");
        match &e {
            Event::ClientConnected(s) => {
                assert_eq!(s.client_id, "watcher");
                assert_eq!(s.username.as_deref(), Some("ann"));
                assert_eq!(Some(s.node), broker.node_id());
            }
            Event::ClientSubscribe {
                session,
                subscription,
            } => {
                assert_eq!(session.client_id, "watcher");
                assert_eq!(subscription.topic_filter, "x/y");
            }
            Event::MessagePublish {
                session,
                from,
                message,
            } => {
                assert_eq!(
                    session.as_ref().map(|s| s.client_id.as_str()),
                    Some("watcher")
                );
                assert_eq!(from.kind.as_str(), "client");
                assert_eq!(message.payload, b"m");
            }
            other => panic!("unexpected event {other:?}"),
        }
        kinds.push(HookKind::of_event(&e));
    }
    broker.stop().await.expect("stop");
}

/// A publish ACL rewriting `orig` as `rewrite` says, allowing all else.
fn rewriting(rewrite: impl Fn(&[u8]) -> PublishDecision + Send + Sync + 'static) -> FnBackend {
    FnBackend {
        publ: Some(Box::new(move |_s, m| {
            Ok(if m.topic == "orig" {
                rewrite(&m.payload)
            } else {
                PublishDecision {
                    allow: true,
                    ..Default::default()
                }
            })
        })),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rewrites_into_sys_or_a_subscription_prefix_are_ignored() {
    let broker = Broker::new();
    let target = Arc::new(std::sync::Mutex::new(String::new()));
    let current = target.clone();
    bind(
        &broker,
        rewriting(move |_| PublishDecision {
            allow: true,
            topic: Some(current.lock().expect("lock").clone()),
            ..Default::default()
        }),
        &[HookKind::ClientPublishAuthorize],
    );
    let port = start_broker(&broker).await;
    let mut sub = connect(options("sub", port)).await;
    let publisher = connect(options("pub", port)).await;
    sub.subscribe("$SYS/#", QoS::AtLeastOnce).await;
    sub.subscribe("$share/g/x", QoS::AtLeastOnce).await;
    sub.subscribe("x", QoS::AtLeastOnce).await;
    subscribe_ready(&mut sub, &publisher, "#", "probe").await;
    for to in ["$SYS/x", "$share/g/x", "$queue/x"] {
        *target.lock().expect("lock") = to.to_string();
        publisher
            .client
            .publish("orig", QoS::AtLeastOnce, false, to.as_bytes().to_vec())
            .await
            .expect("publish");
        publisher
            .client
            .publish("end", QoS::AtLeastOnce, false, b"end".to_vec())
            .await
            .expect("publish");
        assert_eq!(
            sub.until_marker("end").await,
            vec![("orig".to_string(), to.to_string())],
            "a rewrite to {to} leaves the original as it was"
        );
    }
    broker.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rewrite_past_the_listeners_max_packet_size_is_ignored() {
    let broker = Broker::new();
    bind(
        &broker,
        rewriting(|payload| PublishDecision {
            allow: true,
            payload: Some(if payload == b"grow" {
                vec![b'a'; 2048]
            } else {
                vec![b'b'; 900]
            }),
            ..Default::default()
        }),
        &[HookKind::ClientPublishAuthorize],
    );
    let mut cfg = ServerConfig::basic(0);
    cfg.listeners[0].max_packet_size = Some(1024.into());
    let port = start_with(&broker, cfg).await;
    let mut sub = connect(options("sub", port)).await;
    let publisher = connect(options("pub", port)).await;
    subscribe_ready(&mut sub, &publisher, "#", "probe").await;
    for payload in ["grow", "fits"] {
        publisher
            .client
            .publish("orig", QoS::AtLeastOnce, false, payload.as_bytes().to_vec())
            .await
            .expect("publish");
    }
    let grown = sub.next_message().await;
    assert_eq!(grown.payload.as_ref(), b"grow", "the original, not 2 KiB");
    let fits = sub.next_message().await;
    assert_eq!(
        fits.payload.len(),
        900,
        "a rewrite within the limit applies"
    );
    broker.stop().await.expect("stop");
}
