//! Server-side publish through rmqtt's own forwarding path, so that retained
//! storage, subscribers and the `onMessagePublish` hook all see it.

use bytes::Bytes;
use bytestring::ByteString;
use rmqtt::context::ServerContext;
use rmqtt::session::SessionState;
use rmqtt::types::{CodecPublish, From, Id, Publish};

use crate::error::BrokerError;
use crate::hooks::convert;
use crate::hooks::model::QoS;
use crate::topic::topic_name_problem;

/// A validated server-side message.
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: QoS,
    pub retain: bool,
}

impl OutgoingMessage {
    /// Checks the topic and the QoS level before anything is sent.
    pub fn new(
        topic: String,
        payload: Vec<u8>,
        qos: i64,
        retain: bool,
    ) -> Result<OutgoingMessage, BrokerError> {
        if let Some(reason) = topic_name_problem(&topic) {
            return Err(BrokerError::InvalidTopic { topic, reason });
        }
        let qos = QoS::from_level(qos).ok_or_else(|| BrokerError::InvalidQos(qos.to_string()))?;
        Ok(OutgoingMessage {
            topic,
            payload,
            qos,
            retain,
        })
    }
}

/// Publishes `msg` as the broker itself (`from.type == "system"`).
pub async fn publish(scx: &ServerContext, msg: OutgoingMessage) -> Result<(), BrokerError> {
    let codec = CodecPublish {
        dup: false,
        retain: msg.retain,
        qos: convert::codec_qos(msg.qos),
        topic: ByteString::from(msg.topic),
        packet_id: None,
        payload: Bytes::from(msg.payload),
        properties: None,
    };
    let p = Publish::from(codec).create_time(convert::now_millis());
    let from = From::from_system(Id::new(
        scx.node.id(),
        0,
        None,
        None,
        ByteString::from_static("system"),
        None,
    ));
    let p = scx
        .extends
        .hook_mgr()
        .message_publish(None, from.clone(), &p)
        .await
        .unwrap_or(p);
    SessionState::forwards(scx, from, p, false, None)
        .await
        .map_err(|e| BrokerError::Internal(format!("publish failed: {e}")))
}
