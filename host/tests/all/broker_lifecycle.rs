//! Starting, stopping, restarting, publishing, and config errors.

use rmqtt_js_host::{Broker, BrokerError, ServerConfig};
use rumqttc::QoS;

use crate::support::{connect, options, start_broker, subscribe_ready};

#[tokio::test(flavor = "multi_thread")]
async fn a_server_publish_reaches_a_subscriber_and_retained_ones_reach_later_subscribers() {
    let broker = Broker::new();
    let port = start_broker(&broker).await;
    let mut sub = connect(options("sub", port)).await;
    let probe = connect(options("probe", port)).await;
    subscribe_ready(&mut sub, &probe, "news", "news").await;

    broker
        .publish("news".into(), b"hello".to_vec(), 1, false)
        .await
        .expect("publish");
    let got = sub.next_message().await;
    assert_eq!(got.payload.as_ref(), b"hello");

    broker
        .publish("kept".into(), b"retained".to_vec(), 1, true)
        .await
        .expect("retained publish");
    let mut late = connect(options("late", port)).await;
    late.subscribe("kept", QoS::AtLeastOnce).await;
    let got = late.next_message().await;
    assert_eq!(got.payload.as_ref(), b"retained");
    assert!(got.retain);
    broker.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_disconnects_clients_frees_the_port_and_start_works_again() {
    let broker = Broker::new();
    let port = start_broker(&broker).await;
    let mut client = connect(options("c1", port)).await;
    broker.stop().await.expect("stop");
    assert!(!broker.is_running());
    client.closed().await;

    let mut cfg = ServerConfig::basic(port);
    cfg.listeners[0].address = "127.0.0.1".into();
    broker.start(cfg).await.expect("restart on the same port");
    connect(options("c2", port)).await;
    broker.stop().await.expect("stop again");
    broker.stop().await.expect("stopping twice is fine");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_servers_run_side_by_side_without_crosstalk() {
    let (a, b) = (Broker::new(), Broker::new());
    let (pa, pb) = (start_broker(&a).await, start_broker(&b).await);
    assert_ne!(pa, pb);
    let mut sub_a = connect(options("sa", pa)).await;
    let probe_a = connect(options("pa", pa)).await;
    subscribe_ready(&mut sub_a, &probe_a, "t", "t").await;
    let mut sub_b = connect(options("sb", pb)).await;
    let probe_b = connect(options("pb", pb)).await;
    subscribe_ready(&mut sub_b, &probe_b, "t", "t").await;

    b.publish("t".into(), b"for-b".to_vec(), 1, false)
        .await
        .expect("publish b");
    a.publish("t".into(), b"for-a".to_vec(), 1, false)
        .await
        .expect("publish a");
    assert_eq!(sub_a.next_message().await.payload.as_ref(), b"for-a");
    assert_eq!(sub_b.next_message().await.payload.as_ref(), b"for-b");
    a.stop().await.expect("stop a");
    b.stop().await.expect("stop b");
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_carry_stable_codes() {
    let broker = Broker::new();
    let err = broker
        .publish("t".into(), vec![], 0, false)
        .await
        .expect_err("not running");
    assert_eq!(err, BrokerError::NotRunning);
    assert_eq!(err.code(), "ERR_NOT_RUNNING");

    let port = start_broker(&broker).await;
    let err = broker
        .publish("a/#".into(), vec![], 0, false)
        .await
        .expect_err("wildcard");
    assert_eq!(err.code(), "ERR_INVALID_TOPIC");
    let err = broker
        .publish("a".into(), vec![], 3, false)
        .await
        .expect_err("qos 3");
    assert_eq!(err.code(), "ERR_INVALID_QOS");
    let err = broker
        .start(ServerConfig::basic(0))
        .await
        .expect_err("twice");
    assert_eq!(err.code(), "ERR_ALREADY_RUNNING");

    // The port is taken by the running broker: a second broker cannot bind it.
    let other = Broker::new();
    let mut cfg = ServerConfig::basic(port);
    cfg.listeners[0].address = "127.0.0.1".into();
    let err = other.start(cfg).await.expect_err("port in use");
    assert_eq!(err.code(), "ERR_BIND", "{err}");
    assert!(!other.is_running());
    broker.stop().await.expect("stop");
}
