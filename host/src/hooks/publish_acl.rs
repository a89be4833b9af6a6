//! What the publish ACL's answer does to a client's message: nothing, a
//! rewrite (only its valid parts, and only if the result still fits the
//! publisher's listener), or a deny mark.
//!
//! rmqtt runs `MessagePublish` before `MessagePublishCheckAcl`, so the ACL
//! runs at the first step and a deny travels to the second as a mark on the
//! message: a user property whose name starts with NUL, which MQTT forbids in
//! strings, so no client can forge it.

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
