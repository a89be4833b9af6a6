//! MQTT 5 properties through the hook model, driven by a native backend and
//! real rumqttc clients (v5 and 3.1.1): what the auth hook, the publish ACL
//! and the notifications see (the payload format indicator: 1 as `Some(1)`,
//! 0 and absent as `None`), and a user-properties rewrite as MQTT 5 and
//! MQTT 3.1.1 subscribers receive it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use rmqtt_js_host::hooks::model::{
    AuthDecision, ConnectRequest, Event, Message, MessageProperties, PublishDecision,
};
use rmqtt_js_host::hooks::{HookKind, HookSet};
use rmqtt_js_host::Broker;
use rumqttc::v5::mqttbytes::v5::{ConnectProperties, Packet, Publish, PublishProperties};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event as V5Event, MqttOptions};
use tokio::sync::mpsc;

use crate::support::{connect, options, start_broker, FnBackend, WAIT};

/// A connected MQTT 5 client whose incoming publishes arrive on `messages`.
struct V5Client {
    client: AsyncClient,
    messages: mpsc::UnboundedReceiver<Publish>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for V5Client {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl V5Client {
    async fn connect(id: &str, port: u16, user_properties: Vec<(String, String)>) -> V5Client {
        let mut o = MqttOptions::new(id, "127.0.0.1", port);
        o.set_keep_alive(Duration::from_secs(30));
        o.set_connect_properties(ConnectProperties {
            user_properties,
            ..ConnectProperties::new()
        });
        let (client, mut eventloop) = AsyncClient::new(o, 64);
        let connack = tokio::time::timeout(WAIT, async {
            loop {
                if let V5Event::Incoming(Packet::ConnAck(_)) =
                    eventloop.poll().await.expect("v5 client connects")
                {
                    return;
                }
            }
        });
        connack.await.expect("CONNACK within the wait bound");
        let (tx, messages) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            while let Ok(event) = eventloop.poll().await {
                if let V5Event::Incoming(Packet::Publish(p)) = event {
                    let _ = tx.send(p);
                }
            }
        });
        V5Client {
            client,
            messages,
            task,
        }
    }

    async fn next_on(&mut self, topic: &str) -> Publish {
        tokio::time::timeout(WAIT, async {
            loop {
                let p = self.messages.recv().await.expect("client still running");
                if p.topic.as_ref() == topic.as_bytes() {
                    return p;
                }
            }
        })
        .await
        .expect("a message within the wait bound")
    }
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// What the hooks saw: CONNECT requests, publish ACL messages, events.
#[derive(Default)]
struct Seen {
    auth: Mutex<Vec<ConnectRequest>>,
    acl: Mutex<Vec<Message>>,
}

/// The user properties a publish ACL sets on a publish to a topic.
type Rewrite = fn(&str) -> Option<Vec<(String, String)>>;

/// Binds auth (allow all, recorded), a publish ACL that records and
/// answers `rewrite(topic)`, and MessageDelivered events to `events`.
fn bind(broker: &Broker, seen: Arc<Seen>, rewrite: Rewrite) -> mpsc::UnboundedReceiver<Event> {
    let (tx, events) = mpsc::unbounded_channel();
    let (auth_seen, acl_seen) = (seen.clone(), seen);
    let backend = FnBackend {
        auth: Some(Box::new(move |req| {
            auth_seen.auth.lock().unwrap().push(req);
            Ok(AuthDecision {
                allow: true,
                ..Default::default()
            })
        })),
        publ: Some(Box::new(move |_s, m| {
            let user_properties = rewrite(&m.topic);
            acl_seen.acl.lock().unwrap().push(m);
            Ok(PublishDecision {
                allow: true,
                user_properties,
                ..Default::default()
            })
        })),
        events: Some(tx),
        ..Default::default()
    }
    .into_arc();
    let mut set = HookSet::new();
    for k in [
        HookKind::ClientAuthenticate,
        HookKind::ClientPublishAuthorize,
        HookKind::MessageDelivered,
    ] {
        set.bind(k, backend.clone());
    }
    broker.set_hooks(set);
    events
}

fn acl_message(seen: &Seen, topic: &str) -> Message {
    seen.acl
        .lock()
        .unwrap()
        .iter()
        .find(|m| m.topic == topic)
        .cloned()
        .unwrap_or_else(|| panic!("the publish ACL saw {topic}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn hooks_see_connect_and_publish_properties_and_the_payload_format_indicator() {
    let broker = Broker::new();
    let seen = Arc::new(Seen::default());
    let mut events = bind(&broker, seen.clone(), |_| None);
    let port = start_broker(&broker).await;
    let mut sub = V5Client::connect("props-sub", port, vec![]).await;
    sub.client
        .subscribe("p/#", QoS::AtLeastOnce)
        .await
        .expect("subscribe sent");
    let publisher = V5Client::connect(
        "props-pub",
        port,
        pairs(&[("device", "d1"), ("device", "d2")]),
    )
    .await;
    let connect_req = seen
        .auth
        .lock()
        .unwrap()
        .iter()
        .find(|r| r.client_id == "props-pub")
        .cloned()
        .expect("auth saw the publisher");
    assert_eq!(connect_req.protocol_version, 5);
    assert_eq!(
        connect_req.user_properties,
        pairs(&[("device", "d1"), ("device", "d2")])
    );

    // The subscription is live once a probe arrives.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        publisher
            .client
            .publish("p/probe", QoS::AtMostOnce, false, "probe")
            .await
            .expect("probe sent");
        if let Ok(Some(_)) =
            tokio::time::timeout(Duration::from_millis(200), sub.messages.recv()).await
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "subscription live");
    }

    for (topic, indicator) in [("p/utf8", Some(1)), ("p/bytes", Some(0)), ("p/none", None)] {
        let props = PublishProperties {
            payload_format_indicator: indicator,
            message_expiry_interval: Some(90),
            response_topic: Some("r/1".into()),
            correlation_data: Some(Bytes::from_static(b"\x00\x01")),
            user_properties: pairs(&[("b", "1"), ("a", "2"), ("b", "3")]),
            content_type: Some("text/plain".into()),
            ..Default::default()
        };
        publisher
            .client
            .publish_with_properties(topic, QoS::AtLeastOnce, false, "hi", props)
            .await
            .expect("publish sent");
        sub.next_on(topic).await;
        let expected = MessageProperties {
            user_properties: pairs(&[("b", "1"), ("a", "2"), ("b", "3")]),
            content_type: Some("text/plain".into()),
            response_topic: Some("r/1".into()),
            correlation_data: Some(vec![0, 1]),
            payload_format_indicator: indicator.filter(|&i| i == 1),
            message_expiry_interval: Some(90),
        };
        assert_eq!(acl_message(&seen, topic).properties, expected, "{topic}");
        let delivered = tokio::time::timeout(WAIT, async {
            loop {
                match events.recv().await.expect("events") {
                    Event::MessageDelivered { message, .. } if message.topic == topic => {
                        return message
                    }
                    _ => {}
                }
            }
        })
        .await
        .expect("MessageDelivered within the wait bound");
        assert_eq!(delivered.properties, expected, "{topic} delivered");
    }
    broker.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_properties_rewrite_reaches_v5_subscribers_and_v311_ones_get_the_message() {
    let broker = Broker::new();
    let seen = Arc::new(Seen::default());
    let _events = bind(&broker, seen.clone(), |topic| match topic {
        "rw/set" => Some(pairs(&[("k", "1"), ("k", "2")])),
        "rw/clear" => Some(vec![]),
        _ => None,
    });
    let port = start_broker(&broker).await;
    let mut v5 = V5Client::connect("rw-sub5", port, vec![]).await;
    v5.client
        .subscribe("rw/#", QoS::AtLeastOnce)
        .await
        .expect("subscribe sent");
    let mut v4 = connect(options("rw-sub4", port)).await;
    v4.subscribe("rw/#", rumqttc::QoS::AtLeastOnce).await;
    let publisher = V5Client::connect("rw-pub", port, vec![]).await;
    // Both subscriptions are live once a probe reaches both.
    let deadline = tokio::time::Instant::now() + WAIT;
    let (mut got5, mut got4) = (false, false);
    while !(got5 && got4) {
        publisher
            .client
            .publish("rw/probe", QoS::AtMostOnce, false, "probe")
            .await
            .expect("probe sent");
        let wait = Duration::from_millis(200);
        got5 |= matches!(
            tokio::time::timeout(wait, v5.messages.recv()).await,
            Ok(Some(_))
        );
        got4 |= matches!(
            tokio::time::timeout(wait, v4.messages.recv()).await,
            Ok(Some(_))
        );
        assert!(tokio::time::Instant::now() < deadline, "subscriptions live");
    }

    for topic in ["rw/set", "rw/clear"] {
        let props = PublishProperties {
            user_properties: pairs(&[("orig", "x")]),
            content_type: Some("text/plain".into()),
            ..Default::default()
        };
        publisher
            .client
            .publish_with_properties(topic, QoS::AtLeastOnce, false, topic, props)
            .await
            .expect("publish sent");
    }
    let set = v5.next_on("rw/set").await;
    let props = set.properties.expect("properties");
    assert_eq!(props.user_properties, pairs(&[("k", "1"), ("k", "2")]));
    assert_eq!(props.content_type.as_deref(), Some("text/plain"));
    let clear = v5.next_on("rw/clear").await;
    let props = clear.properties.expect("properties (content type left)");
    assert!(props.user_properties.is_empty(), "[] removes them");
    assert_eq!(props.content_type.as_deref(), Some("text/plain"));

    let mut old = Vec::new();
    while old.len() < 2 {
        let m = v4.next_message().await;
        if m.topic != "rw/probe" {
            old.push((m.topic, String::from_utf8_lossy(&m.payload).into_owned()));
        }
    }
    assert_eq!(
        old,
        vec![
            ("rw/set".to_string(), "rw/set".to_string()),
            ("rw/clear".to_string(), "rw/clear".to_string())
        ],
        "the 3.1.1 subscriber gets both messages"
    );
    broker.stop().await.expect("stop");
}
