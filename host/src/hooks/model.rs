//! The data every hook sees, independent of rmqtt's own types.
//!
//! Both backends (the JS bridge and the wasm engine) are written against these
//! records; `hooks::convert` builds them from rmqtt's parameters.

use std::fmt;

/// MQTT quality of service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QoS {
    AtMostOnce = 0,
    AtLeastOnce = 1,
    ExactlyOnce = 2,
}

impl QoS {
    /// The QoS for a wire value, `None` outside 0..=2.
    pub fn from_level(level: i64) -> Option<QoS> {
        match level {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }

    /// The wire value, 0..=2.
    pub fn level(self) -> u8 {
        self as u8
    }
}

/// Who a client session is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The broker node id (rmqtt's own).
    pub node: u64,
    pub remote_addr: Option<String>,
    pub client_id: String,
    pub username: Option<String>,
    /// The tenant the client was resolved to, when tenants are configured.
    pub tenant: Option<String>,
}

/// What an authentication decision is asked about: one CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRequest {
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
    /// 3 (MQTT 3.1), 4 (3.1.1) or 5.
    pub protocol_version: u8,
    pub remote_addr: Option<String>,
    pub keep_alive: u16,
    /// Clean session (3.x) or clean start (5.0).
    pub clean_start: bool,
    pub tenant: Option<String>,
    /// The client certificate verified at the TLS handshake (mTLS listeners
    /// with `tlsClientCa`); `None` without one.
    pub client_cert: Option<ClientCert>,
    /// The CONNECT's user properties (MQTT 5; empty before), in order.
    pub user_properties: Vec<(String, String)>,
}

/// The MQTT 5 properties of an application message that hooks see (all
/// empty for a message published with MQTT 3.x).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageProperties {
    /// In order; a name may repeat.
    pub user_properties: Vec<(String, String)>,
    pub content_type: Option<String>,
    pub response_topic: Option<String>,
    pub correlation_data: Option<Vec<u8>>,
    /// 0: unspecified bytes, 1: UTF-8 text.
    pub payload_format_indicator: Option<u8>,
    /// Seconds.
    pub message_expiry_interval: Option<u32>,
}

/// A verified client certificate, as authentication sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    /// The subject's first common name (CN), if it has one.
    pub common_name: Option<String>,
    /// The subject distinguished name, as x509-parser prints it (`CN=dev1, O=Acme`).
    pub subject: String,
    /// SHA-256 of the certificate's DER, lowercase hex without separators
    /// (`openssl x509 -fingerprint -sha256`, lowercased, colons removed).
    pub fingerprint_sha256: String,
}

/// A CONNECT as seen by the notification hooks (no password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectInfo {
    pub node: u64,
    pub remote_addr: Option<String>,
    pub client_id: String,
    pub username: Option<String>,
    pub keep_alive: u16,
    pub protocol_version: u8,
    pub clean_start: bool,
    pub tenant: Option<String>,
}

/// The answer of an authentication hook.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthDecision {
    pub allow: bool,
    pub superuser: bool,
    pub reason: Option<String>,
}

/// One topic filter of a SUBSCRIBE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub topic_filter: String,
    pub qos: QoS,
}

/// The answer of a subscribe ACL hook.
///
/// `qos` is the raw value the hook returned: the router ignores (with a WARN)
/// anything outside 0..=2.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubscribeDecision {
    pub allow: bool,
    pub qos: Option<i64>,
    pub reason: Option<String>,
}

/// An application message as a publish ACL sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: QoS,
    pub retain: bool,
    pub properties: MessageProperties,
}

/// The answer of a publish ACL hook, with optional mutations.
///
/// Mutations are raw: the router validates them (`hooks::mutation`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PublishDecision {
    pub allow: bool,
    pub topic: Option<String>,
    pub payload: Option<Vec<u8>>,
    pub qos: Option<i64>,
    pub reason: Option<String>,
    /// Replaces the message's user properties (`Some(vec![])` removes them).
    pub user_properties: Option<Vec<(String, String)>>,
}

/// Where a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FromKind {
    Client,
    System,
    Bridge,
    Admin,
    LastWill,
    Custom,
}

impl FromKind {
    /// The name used in the JS API and the WIT contract.
    pub fn as_str(self) -> &'static str {
        match self {
            FromKind::Client => "client",
            FromKind::System => "system",
            FromKind::Bridge => "bridge",
            FromKind::Admin => "admin",
            FromKind::LastWill => "lastwill",
            FromKind::Custom => "custom",
        }
    }
}

impl fmt::Display for FromKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The origin of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageFrom {
    pub kind: FromKind,
    pub node: u64,
    pub remote_addr: Option<String>,
    pub client_id: String,
    pub username: Option<String>,
}

/// A message as the notification hooks see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageInfo {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    pub topic: String,
    pub payload: Vec<u8>,
    /// Milliseconds since the Unix epoch.
    pub create_time: i64,
    pub properties: MessageProperties,
}

/// A broker notification: one case per notification hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    ClientConnect(ConnectInfo),
    ClientConnack {
        info: ConnectInfo,
        /// rmqtt's reason name, e.g. `Success`, `BadUsernameOrPassword`.
        conn_ack: String,
    },
    ClientConnected(SessionInfo),
    ClientDisconnected {
        session: SessionInfo,
        reason: Option<String>,
    },
    SessionCreated(SessionInfo),
    SessionSubscribed {
        session: SessionInfo,
        subscription: Subscription,
    },
    SessionUnsubscribed {
        session: SessionInfo,
        topic_filter: String,
    },
    SessionTerminated {
        session: SessionInfo,
        reason: Option<String>,
    },
    ClientSubscribe {
        session: SessionInfo,
        subscription: Subscription,
    },
    ClientUnsubscribe {
        session: SessionInfo,
        topic_filter: String,
    },
    MessagePublish {
        session: Option<SessionInfo>,
        from: MessageFrom,
        message: MessageInfo,
    },
    MessageDelivered {
        session: SessionInfo,
        from: MessageFrom,
        message: MessageInfo,
    },
    MessageAcked {
        session: SessionInfo,
        from: MessageFrom,
        message: MessageInfo,
    },
    MessageDropped {
        session: Option<SessionInfo>,
        from: Option<MessageFrom>,
        message: MessageInfo,
        reason: Option<String>,
    },
}
