//! What the publish ACL's answer does to a client's message: nothing, a
//! rewrite (only its valid parts, and only if the result still fits the
//! publisher's listener), or a deny mark.
//!
//! rmqtt runs `MessagePublish` before `MessagePublishCheckAcl`, so the ACL
//! runs at the first step and a deny travels to the second as a mark on the
//! message: a user property whose name starts with NUL, which MQTT forbids in
//! strings, so no client can forge it (and no hook sees it: see
//! [`is_internal_property`]).
//!
//! A rewrite of the user properties is set on the message whatever protocol
//! version its publisher spoke: MQTT 5 subscribers get them, rmqtt leaves
//! them out of what it sends to MQTT 3.x subscribers (3.x has no properties).

use bytestring::ByteString;
use rmqtt::codec::v5::PublishProperties;
use rmqtt::types::Publish;

use super::convert;
use super::model::PublishDecision;
use super::mutation::{publish_rewrite, RewriteScope};
use super::packet_size::publish_packet_size;
use super::HookError;
use crate::logging::limit::WarnLimiter;

/// The user property that marks a publish denied by the publish ACL.
const DENIED_MARK: &str = "\0rmqtt-js:denied";

/// The prefix of the router's own user properties.
const INTERNAL_PREFIX: &str = "\0rmqtt-js:";

/// Whether a user property name is one of the router's own marks (which no
/// client can send: MQTT strings have no NUL).
pub fn is_internal_property(name: &str) -> bool {
    name.starts_with(INTERNAL_PREFIX)
}

/// Where a rewrite of one publish may go.
pub struct RewriteLimits<'a> {
    /// Names the hook (and tenant) in WARNs.
    pub hook_source: &'a str,
    /// The publish happens in a tenant context.
    pub tenant: bool,
    /// The publisher's listener's `maxPacketSize`.
    pub max_packet_size: u32,
    pub warn: &'a WarnLimiter,
}

/// The message to continue with after the ACL answered `result` for `p`
/// (`None`: `p` unchanged).
pub fn apply(
    p: &Publish,
    result: Result<PublishDecision, HookError>,
    limits: &RewriteLimits<'_>,
) -> Option<Publish> {
    match result {
        Ok(d) if d.allow => rewritten(p, d, limits),
        Ok(d) => Some(mark_denied(p, d.reason)),
        Err(e) => Some(mark_denied(p, Some(e.to_string()))),
    }
}

/// `p` with the valid parts of an allowing decision's rewrite, unless the
/// result would exceed the publisher's `maxPacketSize` (then `p` goes on
/// unchanged, with a WARN: what the client sent is never lost to a rewrite).
fn rewritten(p: &Publish, d: PublishDecision, limits: &RewriteLimits<'_>) -> Option<Publish> {
    let scope = RewriteScope {
        tenant: limits.tenant,
        original_topic: &p.topic,
    };
    let rewrite = publish_rewrite(d, limits.hook_source, scope, limits.warn);
    if rewrite.is_empty() {
        return None;
    }
    let mut out = p.clone();
    if let Some(topic) = rewrite.topic {
        out.topic = ByteString::from(topic);
    }
    if let Some(payload) = rewrite.payload {
        out.payload = payload.into();
    }
    if let Some(qos) = rewrite.qos {
        out.qos = convert::codec_qos(qos);
    }
    if let Some(props) = rewrite.user_properties {
        set_user_properties(&mut out, props);
    }
    let size = publish_packet_size(&out);
    if size > limits.max_packet_size as usize {
        limits.warn.warn(
            "rmqtt_js::hooks",
            format!(
                "{}: ignored rewrite of a publish to `{}`: the rewritten PUBLISH would be {size} bytes, above the listener's maxPacketSize ({}); the original goes on",
                limits.hook_source, p.topic, limits.max_packet_size
            ),
        );
        return None;
    }
    Some(out)
}

/// Replaces the user properties of `p` (a message without properties, from
/// an MQTT 3.x publisher, gets them, unless `props` is empty).
fn set_user_properties(p: &mut Publish, props: Vec<(String, String)>) {
    if props.is_empty() && p.properties.is_none() {
        return;
    }
    p.properties
        .get_or_insert_with(PublishProperties::default)
        .user_properties = props
        .into_iter()
        .map(|(k, v)| (ByteString::from(k), ByteString::from(v)))
        .collect();
}

/// A copy of `p` carrying the deny mark and its reason.
pub fn mark_denied(p: &Publish, reason: Option<String>) -> Publish {
    let mut out = p.clone();
    let props = out
        .properties
        .get_or_insert_with(PublishProperties::default);
    props.user_properties.push((
        ByteString::from_static(DENIED_MARK),
        ByteString::from(reason.unwrap_or_default()),
    ));
    out
}

/// The reason of a denied publish, if `p` carries the deny mark.
pub fn denied_reason(p: &Publish) -> Option<&ByteString> {
    p.properties.as_ref().and_then(|props| {
        props
            .user_properties
            .iter()
            .find(|(k, _)| k == DENIED_MARK)
            .map(|(_, v)| v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmqtt::codec::types::{Publish as CodecPublish, QoS};

    fn publish(properties: Option<PublishProperties>) -> Publish {
        Publish::from(CodecPublish {
            dup: false,
            retain: false,
            qos: QoS::AtMostOnce,
            topic: ByteString::from_static("a/b"),
            packet_id: None,
            payload: "hi".into(),
            properties,
        })
    }

    fn allow_with(props: Option<Vec<(&str, &str)>>) -> Result<PublishDecision, HookError> {
        Ok(PublishDecision {
            allow: true,
            user_properties: props.map(|p| {
                p.into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            }),
            ..Default::default()
        })
    }

    fn limits(warn: &WarnLimiter) -> RewriteLimits<'_> {
        RewriteLimits {
            hook_source: "test",
            tenant: false,
            max_packet_size: 1024,
            warn,
        }
    }

    fn names(p: &Publish) -> Vec<(String, String)> {
        p.properties
            .as_ref()
            .map(|props| {
                props
                    .user_properties
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn a_user_properties_rewrite_replaces_them_and_keeps_the_other_properties() {
        let warn = WarnLimiter::with_window(Default::default());
        let original = publish(Some(PublishProperties {
            user_properties: vec![("old".into(), "1".into())],
            content_type: Some("text/plain".into()),
            is_utf8_payload: true,
            ..Default::default()
        }));
        let out = apply(
            &original,
            allow_with(Some(vec![("k", "1"), ("k", "2")])),
            &limits(&warn),
        )
        .expect("rewritten");
        assert_eq!(
            names(&out),
            vec![("k".into(), "1".into()), ("k".into(), "2".into())]
        );
        let props = out.properties.as_ref().expect("properties");
        assert_eq!(props.content_type.as_deref(), Some("text/plain"));
        assert!(props.is_utf8_payload);
        let removed =
            apply(&original, allow_with(Some(vec![])), &limits(&warn)).expect("rewritten");
        assert!(names(&removed).is_empty());
    }

    #[test]
    fn a_message_without_properties_gets_the_rewritten_ones() {
        let warn = WarnLimiter::with_window(Default::default());
        let v3 = publish(None);
        let out =
            apply(&v3, allow_with(Some(vec![("k", "v")])), &limits(&warn)).expect("rewritten");
        assert_eq!(names(&out), vec![("k".into(), "v".into())]);
        let out = apply(&v3, allow_with(Some(vec![])), &limits(&warn)).expect("rewritten");
        assert!(out.properties.is_none(), "nothing to remove, nothing added");
        assert!(
            apply(&v3, allow_with(None), &limits(&warn)).is_none(),
            "unchanged"
        );
    }

    #[test]
    fn the_deny_mark_is_internal_and_no_rewrite_can_forge_it() {
        let warn = WarnLimiter::with_window(Default::default());
        let denied = mark_denied(&publish(None), Some("no".into()));
        assert!(denied
            .properties
            .as_ref()
            .expect("marked")
            .user_properties
            .iter()
            .all(|(k, _)| is_internal_property(k)));
        assert!(!is_internal_property("rmqtt-js:denied"));
        let forged = apply(
            &publish(None),
            allow_with(Some(vec![(DENIED_MARK, "x")])),
            &limits(&warn),
        );
        assert!(forged.is_none(), "a NUL in a name voids the rewrite");
    }

    #[test]
    fn a_rewrite_above_max_packet_size_is_dropped() {
        let warn = WarnLimiter::with_window(Default::default());
        let big = "v".repeat(600);
        let two = vec![("a", big.as_str()), ("b", big.as_str())];
        assert!(apply(&publish(None), allow_with(Some(two)), &limits(&warn)).is_none());
    }
}
