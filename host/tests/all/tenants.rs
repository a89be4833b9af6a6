//! Tenants: isolation of topics, retained messages, wills, shared
//! subscriptions and client ids; resolution at CONNECT; hot hook swaps.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rmqtt_js_host::hooks::model::{AuthDecision, PublishDecision};
use rmqtt_js_host::hooks::{HookKind, HookSet};
use rmqtt_js_host::Broker;
use rumqttc::{ConnectReturnCode, ConnectionError, LastWill, QoS};

use crate::support::{
    connect, options, subscribe_ready, tenancy_config, try_connect, Client, FnBackend,
};

fn as_user(id: &str, user: &str, port: u16) -> rumqttc::MqttOptions {
    let mut o = options(id, port);
    o.set_credentials(user, "pw");
    o
}

async fn start_two_tenants() -> (Broker, u16) {
    let broker = Broker::new();
    broker
        .add_tenant("acme".into(), HookSet::new())
        .await
        .expect("acme");
    broker
        .add_tenant("beta".into(), HookSet::new())
        .await
        .expect("beta");
    let listeners = broker.start(tenancy_config()).await.expect("start");
    (broker, listeners[0].port)
}

#[tokio::test(flavor = "multi_thread")]
async fn tenants_share_no_topics_retained_messages_wills_or_client_ids() {
    let (broker, port) = start_two_tenants().await;
    // The same client id in both tenants: neither kicks the other.
    let mut a_sub = connect(as_user("sub", "s@acme", port)).await;
    let mut b_sub = connect(as_user("sub", "s@beta", port)).await;
    let a_pub = connect(as_user("pub", "p@acme", port)).await;
    let b_pub = connect(as_user("pub", "p@beta", port)).await;
    subscribe_ready(&mut a_sub, &a_pub, "#", "probe").await;
    subscribe_ready(&mut b_sub, &b_pub, "#", "probe").await;
    b_sub.subscribe("$share/g/shared", QoS::AtLeastOnce).await;

    let mut will_opts = as_user("dying", "d@acme", port);
    will_opts.set_last_will(LastWill::new("will", "acme-will", QoS::AtLeastOnce, false));
    let dying = connect(will_opts).await;

    a_pub
        .client
        .publish("a/b", QoS::AtLeastOnce, false, b"from-acme".to_vec())
        .await
        .expect("publish");
    a_pub
        .client
        .publish("kept", QoS::AtLeastOnce, true, b"acme-retained".to_vec())
        .await
        .expect("publish");
    a_pub
        .client
        .publish("shared", QoS::AtLeastOnce, false, b"acme-shared".to_vec())
        .await
        .expect("publish");
    b_pub
        .client
        .publish("a/b", QoS::AtLeastOnce, false, b"from-beta".to_vec())
        .await
        .expect("publish");
    dying.kill();
    broker
        .publish_to(
            Some("acme".into()),
            "server".into(),
            b"to-acme".to_vec(),
            1,
            false,
        )
        .await
        .expect("server publish to acme");

    // Five messages reach acme's subscriber, from different connections, so
    // in no fixed order; a marker then proves nothing else came.
    let mut got_a = Vec::new();
    for _ in 0..5 {
        let m = a_sub.next_message().await;
        got_a.push((
            m.topic.clone(),
            String::from_utf8_lossy(&m.payload).into_owned(),
        ));
    }
    got_a.sort();
    a_pub
        .client
        .publish("marker", QoS::AtLeastOnce, false, b"m".to_vec())
        .await
        .expect("marker");
    assert_eq!(a_sub.until_marker("marker").await, vec![]);
    b_pub
        .client
        .publish("marker", QoS::AtLeastOnce, false, b"m".to_vec())
        .await
        .expect("marker");
    let got_b = b_sub.until_marker("marker").await;

    let s = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        got_a,
        vec![
            s("a/b", "from-acme"),
            s("kept", "acme-retained"),
            s("server", "to-acme"),
            s("shared", "acme-shared"),
            s("will", "acme-will"),
        ]
    );
    assert_eq!(got_b, vec![s("a/b", "from-beta")]);

    // A late beta subscriber sees no acme retained message.
    let mut late = connect(as_user("late", "l@beta", port)).await;
    late.subscribe("kept", QoS::AtLeastOnce).await;
    late.subscribe("marker", QoS::AtLeastOnce).await;
    subscribe_ready(&mut late, &b_pub, "marker2", "marker2").await;
    b_pub
        .client
        .publish("marker", QoS::AtLeastOnce, false, b"m".to_vec())
        .await
        .expect("marker");
    assert_eq!(late.until_marker("marker").await, vec![]);

    let stats = broker.tenant("acme").expect("acme").stats();
    assert_eq!(stats.connections, 2, "sub and pub (the dying client left)");
    assert!(stats.messages_in >= 3, "{stats:?}");
    broker.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread")]
async fn clients_without_a_known_tenant_are_refused() {
    let (broker, port) = start_two_tenants().await;
    for opts in [as_user("x", "x@nope", port), options("anon", port)] {
        match try_connect(opts).await {
            Err(ConnectionError::ConnectionRefused(code)) => {
                assert_eq!(code, ConnectReturnCode::NotAuthorized)
            }
            Err(e) => panic!("expected a refusal, got {e}"),
            Ok(_) => panic!("a client without a tenant connected"),
        }
    }
    broker.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_listener_can_carry_its_tenant_and_tenants_can_be_added_while_running() {
    let broker = Broker::new();
    let mut cfg = tenancy_config();
    let mut fixed = cfg.listeners[0].clone();
    fixed.name = Some("acme-only".into());
    fixed.tenant = Some("acme".into());
    cfg.listeners.push(fixed);
    let err = broker
        .start(cfg.clone())
        .await
        .expect_err("acme undeclared");
    assert_eq!(err.code(), "ERR_TENANT_UNKNOWN");

    broker
        .add_tenant("acme".into(), HookSet::new())
        .await
        .expect("acme");
    let listeners = broker.start(cfg).await.expect("start");
    let (gateway, acme_only) = (listeners[0].port, listeners[1].port);
    let mut sub = connect(options("sub", acme_only)).await;
    let publisher = connect(as_user("pub", "p@acme", gateway)).await;
    subscribe_ready(&mut sub, &publisher, "t", "t").await;

    refused_until_added(&broker, gateway).await;
    broker.stop().await.expect("stop");
}

async fn refused_until_added(broker: &Broker, gateway: u16) {
    assert!(try_connect(as_user("late", "u@late", gateway))
        .await
        .is_err());
    broker
        .add_tenant("late".into(), HookSet::new())
        .await
        .expect("late");
    connect(as_user("late", "u@late", gateway)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn swapping_a_tenants_hooks_keeps_its_clients_connected() {
    let (broker, port) = start_two_tenants().await;
    let acme = broker.tenant("acme").expect("acme");
    let denies = Arc::new(AtomicUsize::new(0));
    let seen = denies.clone();
    let deny_x = FnBackend {
        publ: Some(Box::new(move |_s, m| {
            let allow = !m.topic.starts_with('x');
            if !allow {
                seen.fetch_add(1, Ordering::SeqCst);
            }
            Ok(PublishDecision {
                allow,
                ..Default::default()
            })
        })),
        auth: Some(Box::new(|_| {
            Ok(AuthDecision {
                allow: true,
                ..Default::default()
            })
        })),
        ..Default::default()
    }
    .into_arc();
    let mut set = HookSet::new();
    set.bind(HookKind::ClientPublishAuthorize, deny_x.clone());
    set.bind(HookKind::ClientAuthenticate, deny_x);

    let mut sub: Client = connect(as_user("sub", "s@acme", port)).await;
    let publisher = connect(as_user("pub", "p@acme", port)).await;
    subscribe_ready(&mut sub, &publisher, "#", "probe").await;
    publisher
        .client
        .publish("x1", QoS::AtLeastOnce, false, b"before".to_vec())
        .await
        .expect("publish");
    assert_eq!(sub.next_message().await.topic, "x1");
    acme.set_hooks(set);
    publisher
        .client
        .publish("x2", QoS::AtLeastOnce, false, b"after".to_vec())
        .await
        .expect("publish");
    publisher
        .client
        .publish("marker", QoS::AtLeastOnce, false, b"m".to_vec())
        .await
        .expect("publish");
    let got = sub.until_marker("marker").await;
    assert_eq!(got, vec![], "x2 is denied by the new hooks");
    assert_eq!(denies.load(Ordering::SeqCst), 1);
    assert!(
        sub.closed.try_recv().is_err(),
        "no disconnect during the swap"
    );
    broker.stop().await.expect("stop");
}
