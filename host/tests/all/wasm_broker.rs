//! Wasm policies behind a real broker and real MQTT clients: decisions,
//! limits that fire while other clients keep working, and hostile tenants.

use std::sync::Arc;
use std::time::Duration;

use rmqtt_js_host::hooks::{HookBackend, HookKind, HookSet};
use rmqtt_js_host::Broker;
use rumqttc::{ConnectReturnCode, ConnectionError, QoS};

use crate::support::{
    connect, options, start_broker, subscribe_ready, tenancy_config, try_connect,
};
use crate::wasm_support::{load, load_with, options as load_options};

fn user(id: &str, name: &str, password: &str, port: u16) -> rumqttc::MqttOptions {
    let mut o = options(id, port);
    o.set_credentials(name, password);
    o
}

fn all_hooks_of(policy: Arc<dyn HookBackend>, kinds: &[HookKind]) -> HookSet {
    let mut set = HookSet::new();
    for k in kinds {
        set.bind(*k, policy.clone());
    }
    set
}

fn refused(r: Result<crate::support::Client, ConnectionError>) -> ConnectReturnCode {
    match r {
        Err(ConnectionError::ConnectionRefused(code)) => code,
        Err(e) => panic!("expected a refusal, got {e}"),
        Ok(_) => panic!("expected a refusal, the client connected"),
    }
}

const ACL_HOOKS: [HookKind; 3] = [
    HookKind::ClientAuthenticate,
    HookKind::ClientSubscribeAuthorize,
    HookKind::ClientPublishAuthorize,
];

#[tokio::test(flavor = "multi_thread")]
async fn the_rust_acl_policy_decides_for_real_clients() {
    let broker = Broker::new();
    let policy: Arc<dyn HookBackend> = Arc::new(load("rust-acl.wasm").await);
    broker.set_hooks(all_hooks_of(policy, &ACL_HOOKS));
    let port = start_broker(&broker).await;

    refused(try_connect(user("m", "mallory", "guess", port)).await);
    let mut alice = connect(user("a", "alice", "demo", port)).await;
    let bob = connect(user("b", "bob", "demo", port)).await;
    // bob may not subscribe to alice's tree; alice may.
    subscribe_ready(&mut alice, &alice_pub(port).await, "alice/#", "alice/probe").await;
    bob.client
        .publish("alice/in", QoS::AtLeastOnce, false, b"x".to_vec())
        .await
        .expect("publish");
    // `/upper` is rewritten to `/out` with the payload uppercased.
    let me = connect(user("a2", "alice", "demo", port)).await;
    me.client
        .publish("alice/msg/upper", QoS::AtLeastOnce, false, b"hi".to_vec())
        .await
        .expect("publish");
    let got = alice.next_message().await;
    assert_eq!(got.topic, "alice/msg/out");
    assert_eq!(got.payload.as_ref(), b"HI");
    broker.stop().await.expect("stop");
}

async fn alice_pub(port: u16) -> crate::support::Client {
    connect(user("ap", "alice", "demo", port)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_looping_trapping_or_greedy_auth_policy_denies_and_the_broker_keeps_serving() {
    for guest in [
        "hostile-loop.wasm",
        "hostile-trap.wasm",
        "hostile-membomb.wasm",
    ] {
        let broker = Broker::new();
        let opts = load_options(guest)
            .timeout(Duration::from_millis(30))
            .max_memory_bytes(8 << 20);
        let hostile: Arc<dyn HookBackend> = Arc::new(load_with(guest, opts).await);
        broker.set_hooks(all_hooks_of(hostile, &[HookKind::ClientAuthenticate]));
        let port = start_broker(&broker).await;
        for i in 0..3 {
            let code = refused(try_connect(user(&format!("v{i}"), "u", "demo", port)).await);
            assert_eq!(code, ConnectReturnCode::NotAuthorized, "{guest}");
        }
        // Clients already in, and traffic, are unaffected: swap to no auth hook.
        broker.set_hooks(HookSet::new());
        let mut sub = connect(options("sub", port)).await;
        let publisher = connect(options("pub", port)).await;
        subscribe_ready(&mut sub, &publisher, "t", "t").await;
        let row = broker
            .stats()
            .snapshot()
            .into_iter()
            .find(|r| r.hook == HookKind::ClientAuthenticate)
            .expect("auth stats");
        assert_eq!(row.calls, 3, "{guest}");
        assert_eq!(row.allows, 0, "{guest}");
        assert_eq!(row.timeouts + row.traps, 3, "{guest}: {row:?}");
        broker.stop().await.expect("stop");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_tenant_policy_does_not_disturb_another_tenant() {
    let broker = Broker::new();
    let hostile: Arc<dyn HookBackend> = Arc::new(
        load_with(
            "hostile-loop.wasm",
            load_options("evil")
                .tenant("evil")
                .timeout(Duration::from_millis(50)),
        )
        .await,
    );
    let good: Arc<dyn HookBackend> =
        Arc::new(load_with("rust-acl.wasm", load_options("good").tenant("good")).await);
    broker
        .add_tenant("evil".into(), all_hooks_of(hostile, &ACL_HOOKS))
        .await
        .expect("evil");
    broker
        .add_tenant("good".into(), all_hooks_of(good, &ACL_HOOKS))
        .await
        .expect("good");
    let port = broker.start(tenancy_config()).await.expect("start")[0].port;

    // The evil tenant's clients hammer its looping policy while the good
    // tenant's clients connect, subscribe and publish.
    let evil = tokio::spawn(async move {
        for i in 0..10 {
            let r = try_connect(user(&format!("e{i}"), "x@evil", "demo", port)).await;
            assert!(r.is_err(), "the evil policy never allows");
        }
    });
    // rust-acl: usernames "<name>" own "<name>/…"; here the username is
    // "alice@good", so its own tree is "alice@good/…".
    let mut sub = connect(user("s", "alice@good", "demo", port)).await;
    let publisher = connect(user("p", "alice@good", "demo", port)).await;
    subscribe_ready(&mut sub, &publisher, "alice@good/#", "alice@good/probe").await;
    for i in 0..20 {
        publisher
            .client
            .publish(
                "alice@good/t",
                QoS::AtLeastOnce,
                false,
                format!("{i}").into_bytes(),
            )
            .await
            .expect("publish");
    }
    for i in 0..20 {
        assert_eq!(
            sub.next_message().await.payload.as_ref(),
            format!("{i}").as_bytes()
        );
    }
    evil.await.expect("evil clients all denied");
    let evil_stats = broker.tenant("evil").expect("evil").stats();
    let auth = evil_stats
        .hooks
        .iter()
        .find(|r| r.hook == HookKind::ClientAuthenticate)
        .expect("evil auth stats");
    assert_eq!(auth.calls, 10);
    assert_eq!(auth.timeouts, 10, "{auth:?}");
    let good_stats = broker.tenant("good").expect("good").stats();
    assert_eq!(good_stats.connections, 2);
    broker.stop().await.expect("stop");
}
