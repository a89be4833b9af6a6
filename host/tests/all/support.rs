//! Shared test helpers: a broker on an OS-picked port, real MQTT clients, and
//! a native hook backend driven by closures.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rmqtt_js_host::hooks::model::{
    AuthDecision, ConnectRequest, Event, Message, PublishDecision, SessionInfo, SubscribeDecision,
    Subscription,
};
use rmqtt_js_host::hooks::{BackendKind, HookBackend, HookError};
use rmqtt_js_host::{Broker, ServerConfig, TenancyConfig};
use rumqttc::{
    AsyncClient, ConnectionError, Event as MqttEvent, EventLoop, MqttOptions, Packet, QoS,
};
use tokio::sync::mpsc;

/// Generous bound for anything a test waits on (never a fixed sleep).
pub const WAIT: Duration = Duration::from_secs(10);

/// Starts a broker with one TCP listener on an OS-picked port.
pub async fn start_broker(broker: &Broker) -> u16 {
    start_with(broker, ServerConfig::basic(0)).await
}

/// One loopback TCP listener on an OS-picked port that resolves tenants at
/// CONNECT (`user@tenant`, no fallback).
pub fn tenancy_config() -> ServerConfig {
    let mut cfg = ServerConfig::basic(0);
    cfg.listeners[0].address = "127.0.0.1".into();
    cfg.tenancy = Some(TenancyConfig {
        username_separator: Some("@".into()),
        fallback_tenant: None,
    });
    cfg
}

pub async fn start_with(broker: &Broker, mut cfg: ServerConfig) -> u16 {
    for l in &mut cfg.listeners {
        l.address = "127.0.0.1".into();
    }
    let listeners = broker.start(cfg).await.expect("broker starts");
    listeners[0].port
}

/// A connected client whose incoming publishes arrive on `messages`.
pub struct Client {
    pub client: AsyncClient,
    /// The task driving the connection; abort it to drop the connection
    /// without a DISCONNECT (wills fire).
    pub task: tokio::task::JoinHandle<()>,
    pub messages: mpsc::UnboundedReceiver<rumqttc::Publish>,
    pub closed: mpsc::UnboundedReceiver<ConnectionError>,
}

pub fn options(id: &str, port: u16) -> MqttOptions {
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(30));
    o
}

/// Connects and waits for a successful CONNACK.
pub async fn connect(opts: MqttOptions) -> Client {
    try_connect(opts).await.expect("client connects")
}

/// Connects; the CONNACK refusal (or any connection error) is the `Err`.
pub async fn try_connect(opts: MqttOptions) -> Result<Client, ConnectionError> {
    let (client, mut eventloop) = AsyncClient::new(opts, 64);
    let first = tokio::time::timeout(WAIT, first_connack(&mut eventloop))
        .await
        .expect("CONNACK within the wait bound");
    first?;
    let (tx, messages) = mpsc::unbounded_channel();
    let (closed_tx, closed) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(MqttEvent::Incoming(Packet::Publish(p))) => {
                    let _ = tx.send(p);
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = closed_tx.send(e);
                    return;
                }
            }
        }
    });
    Ok(Client {
        client,
        task,
        messages,
        closed,
    })
}

async fn first_connack(eventloop: &mut EventLoop) -> Result<(), ConnectionError> {
    loop {
        if let MqttEvent::Incoming(Packet::ConnAck(_)) = eventloop.poll().await? {
            return Ok(());
        }
    }
}

impl Client {
    /// Sends a SUBSCRIBE (use [`subscribe_ready`] to wait until it is live).
    pub async fn subscribe(&mut self, filter: &str, qos: QoS) {
        self.client
            .subscribe(filter, qos)
            .await
            .expect("subscribe sent");
    }

    pub async fn next_message(&mut self) -> rumqttc::Publish {
        tokio::time::timeout(WAIT, self.messages.recv())
            .await
            .expect("a message within the wait bound")
            .expect("client still running")
    }

    /// Drops the connection without a DISCONNECT packet.
    pub fn kill(self) {
        self.task.abort();
    }

    /// Collects messages until one on `marker_topic` arrives; returns the
    /// (topic, payload) pairs before it, in order.
    pub async fn until_marker(&mut self, marker_topic: &str) -> Vec<(String, String)> {
        let mut seen = Vec::new();
        loop {
            let m = self.next_message().await;
            if m.topic == marker_topic {
                return seen;
            }
            seen.push((
                m.topic.clone(),
                String::from_utf8_lossy(&m.payload).into_owned(),
            ));
        }
    }

    /// Waits until the connection ends.
    pub async fn closed(&mut self) -> ConnectionError {
        tokio::time::timeout(WAIT, self.closed.recv())
            .await
            .expect("the connection closes within the wait bound")
            .expect("an error ends the connection")
    }
}

/// Subscribes `sub` to `filter` and proves the subscription is live by a
/// round trip: keeps publishing a probe to `probe_topic` (which `filter` must
/// match) until `sub` receives one.
pub async fn subscribe_ready(
    sub: &mut Client,
    publisher: &Client,
    filter: &str,
    probe_topic: &str,
) {
    sub.subscribe(filter, QoS::AtLeastOnce).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        publisher
            .client
            .publish(probe_topic, QoS::AtMostOnce, false, b"probe".to_vec())
            .await
            .expect("probe sent");
        if let Ok(Some(p)) =
            tokio::time::timeout(Duration::from_millis(200), sub.messages.recv()).await
        {
            if p.payload.as_ref() == b"probe" {
                // Drain further probes that may still be in flight.
                while let Ok(Some(_)) =
                    tokio::time::timeout(Duration::from_millis(100), sub.messages.recv()).await
                {
                }
                return;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "subscription never became live"
        );
    }
}

type Auth = dyn Fn(ConnectRequest) -> Result<AuthDecision, HookError> + Send + Sync;
type SubAcl =
    dyn Fn(SessionInfo, Subscription) -> Result<SubscribeDecision, HookError> + Send + Sync;
type PubAcl = dyn Fn(SessionInfo, Message) -> Result<PublishDecision, HookError> + Send + Sync;

/// A Rust backend made of closures; events are forwarded to a channel.
#[derive(Default)]
pub struct FnBackend {
    pub auth: Option<Box<Auth>>,
    pub sub: Option<Box<SubAcl>>,
    pub publ: Option<Box<PubAcl>>,
    pub events: Option<mpsc::UnboundedSender<Event>>,
    /// Makes every decision sleep this long first (for timeouts).
    pub delay: Option<Duration>,
}

impl FnBackend {
    pub fn into_arc(self) -> Arc<dyn HookBackend> {
        Arc::new(self)
    }

    async fn pause(&self) {
        if let Some(d) = self.delay {
            tokio::time::sleep(d).await;
        }
    }
}

#[async_trait]
impl HookBackend for FnBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Native
    }

    async fn authenticate(&self, req: ConnectRequest) -> Result<AuthDecision, HookError> {
        self.pause().await;
        self.auth.as_ref().ok_or(HookError::NotSupported)?(req)
    }

    async fn authorize_subscribe(
        &self,
        s: SessionInfo,
        sub: Subscription,
    ) -> Result<SubscribeDecision, HookError> {
        self.pause().await;
        self.sub.as_ref().ok_or(HookError::NotSupported)?(s, sub)
    }

    async fn authorize_publish(
        &self,
        s: SessionInfo,
        m: Message,
    ) -> Result<PublishDecision, HookError> {
        self.pause().await;
        self.publ.as_ref().ok_or(HookError::NotSupported)?(s, m)
    }

    async fn notify(&self, e: Event) -> Result<(), HookError> {
        if let Some(tx) = &self.events {
            let _ = tx.send(e);
        }
        Ok(())
    }
}
