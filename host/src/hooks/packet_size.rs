//! The encoded size of a PUBLISH, as the publisher would have sent it, to
//! hold a policy's rewrite to the listener's `maxPacketSize`.
//!
//! The size is the whole packet (fixed header included), which is how MQTT 5
//! defines Maximum Packet Size; rmqtt measures a received packet's remaining
//! length, up to 5 bytes less, so a rewrite this check accepts always fits.

use rmqtt::codec::v5::PublishProperties;
use rmqtt::types::Publish;

/// Bytes of `p` on the wire: fixed header, topic, packet id, MQTT 5
/// properties (when it has any) and payload.
pub fn publish_packet_size(p: &Publish) -> usize {
    let packet_id = if p.qos == rmqtt::codec::types::QoS::AtMostOnce {
        0
    } else {
        2
    };
    let remaining = 2
        + p.topic.len()
        + packet_id
        + p.properties.as_ref().map_or(0, properties_size)
        + p.payload.len();
    1 + var_int_len(remaining) + remaining
}

/// MQTT 5 publish properties with their length prefix.
fn properties_size(props: &PublishProperties) -> usize {
    let string = |s: &[u8]| 1 + 2 + s.len();
    let len = props.topic_alias.map_or(0, |_| 1 + 2)
        + props
            .correlation_data
            .as_ref()
            .map_or(0, |d| string(d.as_ref()))
        + props.message_expiry_interval.map_or(0, |_| 1 + 4)
        + props
            .content_type
            .as_ref()
            .map_or(0, |s| string(s.as_bytes()))
        + usize::from(props.is_utf8_payload) * 2
        + props
            .response_topic
            .as_ref()
            .map_or(0, |s| string(s.as_bytes()))
        + props
            .subscription_ids
            .iter()
            .map(|id| 1 + var_int_len(id.get() as usize))
            .sum::<usize>()
        + props
            .user_properties
            .iter()
            .map(|(k, v)| 1 + 2 + k.len() + 2 + v.len())
            .sum::<usize>();
    var_int_len(len) + len
}

/// Bytes of an MQTT variable byte integer holding `n`.
fn var_int_len(n: usize) -> usize {
    match n {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytestring::ByteString;
    use rmqtt::codec::types::{Publish as CodecPublish, QoS};
    use std::num::NonZeroU16;

    fn publish(topic: &str, payload: usize, qos: QoS, props: Option<PublishProperties>) -> Publish {
        Publish::from(CodecPublish {
            dup: false,
            retain: false,
            qos,
            topic: ByteString::from(topic.to_string()),
            packet_id: (qos != QoS::AtMostOnce).then(|| NonZeroU16::new(1).expect("1")),
            payload: vec![0u8; payload].into(),
            properties: props,
        })
    }

    #[test]
    fn sizes_match_the_wire_format() {
        // 0x30, len 7, topic "a/b" (2 + 3), payload "xy".
        assert_eq!(
            publish_packet_size(&publish("a/b", 2, QoS::AtMostOnce, None)),
            9
        );
        // + packet id; the remaining length (130) takes two bytes.
        assert_eq!(
            publish_packet_size(&publish("a/b", 123, QoS::AtLeastOnce, None)),
            1 + 2 + 130
        );
        // MQTT 5 with no property: one byte of property length.
        let empty = Some(PublishProperties::default());
        assert_eq!(
            publish_packet_size(&publish("a/b", 2, QoS::AtMostOnce, empty)),
            10
        );
        let mut props = PublishProperties::default();
        props
            .user_properties
            .push((ByteString::from_static("k"), ByteString::from_static("vv")));
        // user property: id + (2 + 1) + (2 + 2) = 8, plus the length byte.
        assert_eq!(
            publish_packet_size(&publish("a/b", 2, QoS::AtMostOnce, Some(props))),
            9 + 1 + 8
        );
    }
}
