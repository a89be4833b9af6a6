//! Per-listener session limits: the queue of an offline persistent session
//! and the largest packet a client may send, on plain and tenant listeners.

use std::collections::HashSet;

use rmqtt_js_host::hooks::model::Event;
use rmqtt_js_host::hooks::{HookKind, HookSet};
use rmqtt_js_host::{Broker, ServerConfig};
use rumqttc::{AsyncClient, Event as MqttEvent, Packet, QoS};
use tokio::sync::{mpsc, watch};

use crate::support::{
    connect, options, start_with, subscribe_ready, tenancy_config, FnBackend, WAIT,
};

const BACKLOG: usize = 3000;

/// A QoS 1 publisher whose PUBACK count is observable.
async fn acked_publisher(port: u16) -> (AsyncClient, watch::Receiver<usize>) {
    let (client, mut eventloop) = AsyncClient::new(options("bulk", port), 64);
    let (tx, rx) = watch::channel(0usize);
    tokio::spawn(async move {
        let mut acks = 0;
        while let Ok(e) = eventloop.poll().await {
            if let MqttEvent::Incoming(Packet::PubAck(_)) = e {
                acks += 1;
                let _ = tx.send(acks);
            }
        }
    });
    (client, rx)
}

async fn next_event(events: &mut mpsc::UnboundedReceiver<Event>) -> Event {
    tokio::time::timeout(WAIT, events.recv())
        .await
        .expect("an event within the wait bound")
        .expect("events open")
}

/// A persistent subscriber goes offline, `BACKLOG` QoS 1 messages are
/// published (and acknowledged), the subscriber comes back. Waits until every
/// message is accounted for, received or dropped (the broker's
/// `MessageDropped` events), and returns (distinct received, dropped).
async fn backlog(max_queued: u64) -> (usize, usize) {
    let broker = Broker::new();
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let backend = FnBackend {
        events: Some(events_tx),
        ..Default::default()
    }
    .into_arc();
    let mut set = HookSet::new();
    set.bind(HookKind::ClientDisconnected, backend.clone());
    set.bind(HookKind::MessageDropped, backend);
    broker.set_hooks(set);
    let mut cfg = ServerConfig::basic(0);
    cfg.listeners[0].max_queued_messages = Some(max_queued.into());
    let port = start_with(&broker, cfg).await;

    let prober = connect(options("prober", port)).await;
    let mut sub_opts = options("slow", port);
    sub_opts.set_clean_session(false);
    let mut sub = connect(sub_opts.clone()).await;
    subscribe_ready(&mut sub, &prober, "backlog/#", "backlog/probe").await;
    sub.kill();
    let mut dropped = 0;
    loop {
        match next_event(&mut events).await {
            Event::ClientDisconnected { session, .. } if session.client_id == "slow" => break,
            Event::MessageDropped { .. } => dropped += 1,
            _ => {}
        }
    }
    assert_eq!(dropped, 0, "nothing is dropped before the backlog");

    let (publisher, mut acks) = acked_publisher(port).await;
    for i in 0..BACKLOG {
        publisher
            .publish("backlog/n", QoS::AtLeastOnce, false, i.to_string())
            .await
            .expect("publish queued");
    }
    tokio::time::timeout(WAIT, acks.wait_for(|n| *n >= BACKLOG))
        .await
        .expect("every publish acknowledged within the wait bound")
        .expect("publisher running");

    let mut sub = connect(sub_opts).await;
    let mut seen = HashSet::new();
    while seen.len() + dropped < BACKLOG {
        tokio::select! {
            m = sub.next_message() => {
                seen.insert(m.payload.to_vec());
            }
            e = next_event(&mut events) => {
                if let Event::MessageDropped { session: Some(s), reason, .. } = e {
                    assert_eq!(s.client_id, "slow");
                    assert_eq!(reason.as_deref(), Some("MessageQueueFull"));
                    dropped += 1;
                }
            }
        }
    }
    broker.stop().await.expect("stop");
    (seen.len(), dropped)
}

#[tokio::test(flavor = "multi_thread")]
async fn max_queued_messages_5000_keeps_a_3000_message_offline_backlog() {
    assert_eq!(backlog(5000).await, (BACKLOG, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn max_queued_messages_10_drops_all_but_about_10_of_the_backlog() {
    let (received, dropped) = backlog(10).await;
    // The queue, plus at most one in-flight window (default 16).
    assert!(
        (1..=10 + 16).contains(&received),
        "{received} received, {dropped} dropped"
    );
}

/// On a listener with `maxPacketSize: 1024`: a 900-byte publish goes through
/// (the client subscribes and gets it back), a 2000-byte one ends the connection.
async fn oversized_publish_closes(port: u16, opts: rumqttc::MqttOptions) {
    let mut client = connect(opts).await;
    let prober = connect(options("prober", port)).await;
    subscribe_ready(&mut client, &prober, "big", "big").await;
    client
        .client
        .publish("big", QoS::AtMostOnce, false, vec![b'x'; 900])
        .await
        .expect("publish queued");
    assert_eq!(client.next_message().await.payload.len(), 900);
    client
        .client
        .publish("big", QoS::AtMostOnce, false, vec![b'x'; 2000])
        .await
        .expect("publish queued");
    client.closed().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn max_packet_size_disconnects_a_client_that_sends_a_larger_packet() {
    let broker = Broker::new();
    let mut cfg = ServerConfig::basic(0);
    cfg.listeners[0].max_packet_size = Some(1024.into());
    let port = start_with(&broker, cfg).await;
    oversized_publish_closes(port, options("big", port)).await;
    broker.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_gateway_hands_its_limits_to_the_tenant_listener() {
    let broker = Broker::new();
    broker
        .add_tenant("acme".into(), HookSet::new())
        .await
        .expect("acme");
    let mut cfg = tenancy_config();
    cfg.listeners[0].max_packet_size = Some(1024.into());
    cfg.tenancy.as_mut().expect("tenancy").fallback_tenant = Some("acme".into());
    let port = broker.start(cfg).await.expect("start")[0].port;
    oversized_publish_closes(port, options("big", port)).await;
    broker.stop().await.expect("stop");
}
