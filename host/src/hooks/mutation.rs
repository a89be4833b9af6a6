//! Applies a hook's answer to the message or subscription, ignoring (with a
//! rate-limited WARN) any field that is not valid: a QoS outside 0..=2, or a
//! topic a client could not publish to or that the publisher may not reach:
//! empty, with wildcards or NUL, a subscription prefix (`$share/`, `$queue/`,
//! `$exclusive/`, `$limit/`), or `$SYS` (see [`RewriteScope`]); user
//! properties beyond [`MAX_USER_PROPERTIES`] / [`MAX_USER_PROPERTY_BYTES`] or
//! with a NUL character (MQTT forbids U+0000 in its strings).

use super::model::{PublishDecision, QoS, SubscribeDecision};
use crate::logging::limit::WarnLimiter;
use crate::topic::topic_name_problem;

const TARGET: &str = "rmqtt_js::hooks";

/// Prefixes that make a subscription filter special to rmqtt; a message
/// published to such a topic would reach no subscriber.
const SUBSCRIPTION_PREFIXES: [&str; 4] = ["$share/", "$queue/", "$exclusive/", "$limit/"];

/// The most user properties a rewrite may set on one message.
pub const MAX_USER_PROPERTIES: usize = 64;

/// The most bytes (names and values, UTF-8) a rewrite's user properties may
/// take in all.
pub const MAX_USER_PROPERTY_BYTES: usize = 16 * 1024;

/// Whether `topic` is a system topic (`$SYS`, `$SYS/…`), as the default
/// publish ACL sees it.
pub fn is_system_topic(topic: &str) -> bool {
    topic.starts_with("$SYS")
}

/// What a rewritten topic may be, beyond a valid topic name.
#[derive(Debug, Clone, Copy)]
pub struct RewriteScope<'a> {
    /// The publish happens in a tenant context: `$SYS` is never reachable.
    pub tenant: bool,
    /// The topic the client published to. In the default context a rewrite
    /// may target `$SYS` only when this is already a `$SYS` topic, i.e. the
    /// policy explicitly allowed a client publish to `$SYS`.
    pub original_topic: &'a str,
}

impl RewriteScope<'_> {
    /// Why the publisher's message may not be moved to `topic`, if it may not.
    pub fn topic_problem(&self, topic: &str) -> Option<&'static str> {
        if let Some(problem) = topic_name_problem(topic) {
            return Some(problem);
        }
        if SUBSCRIPTION_PREFIXES.iter().any(|p| topic.starts_with(p)) {
            return Some("`$share/`, `$queue/`, `$exclusive/` and `$limit/` start subscription filters, not topic names");
        }
        if is_system_topic(topic) {
            if self.tenant {
                return Some("a tenant never publishes to $SYS");
            }
            if !is_system_topic(self.original_topic) {
                return Some("a rewrite cannot move a message into $SYS (only a $SYS publish the policy allowed may stay in $SYS)");
            }
        }
        None
    }
}

/// The valid parts of a publish decision's rewrite.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PublishRewrite {
    pub topic: Option<String>,
    pub payload: Option<Vec<u8>>,
    pub qos: Option<QoS>,
    /// Replaces the user properties (empty: removes them).
    pub user_properties: Option<Vec<(String, String)>>,
}

impl PublishRewrite {
    pub fn is_empty(&self) -> bool {
        self.topic.is_none()
            && self.payload.is_none()
            && self.qos.is_none()
            && self.user_properties.is_none()
    }
}

/// Why `props` may not replace a message's user properties, if they may not.
pub fn user_properties_problem(props: &[(String, String)]) -> Option<String> {
    if props.len() > MAX_USER_PROPERTIES {
        return Some(format!(
            "{} user properties, more than {MAX_USER_PROPERTIES}",
            props.len()
        ));
    }
    let bytes: usize = props.iter().map(|(k, v)| k.len() + v.len()).sum();
    if bytes > MAX_USER_PROPERTY_BYTES {
        return Some(format!(
            "{bytes} bytes of user properties, more than {MAX_USER_PROPERTY_BYTES}"
        ));
    }
    if props
        .iter()
        .any(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        return Some("a user property name or value contains a NUL character".into());
    }
    None
}

/// Keeps the valid rewrites of `d`, logging a WARN for each invalid one.
pub fn publish_rewrite(
    d: PublishDecision,
    hook_source: &str,
    scope: RewriteScope<'_>,
    warn: &WarnLimiter,
) -> PublishRewrite {
    let topic = d.topic.filter(|t| match scope.topic_problem(t) {
        None => true,
        Some(problem) => {
            warn.warn(
                TARGET,
                format!("{hook_source}: ignored topic rewrite `{t}`: {problem}"),
            );
            false
        }
    });
    let qos = d.qos.and_then(|q| {
        let valid = QoS::from_level(q);
        if valid.is_none() {
            warn.warn(
                TARGET,
                format!("{hook_source}: ignored qos rewrite {q}: use 0, 1 or 2"),
            );
        }
        valid
    });
    let user_properties = d
        .user_properties
        .filter(|props| match user_properties_problem(props) {
            None => true,
            Some(problem) => {
                warn.warn(
                    TARGET,
                    format!("{hook_source}: ignored user properties rewrite: {problem}"),
                );
                false
            }
        });
    PublishRewrite {
        topic,
        payload: d.payload,
        qos,
        user_properties,
    }
}

/// The QoS a subscribe decision grants, if it names a valid one.
pub fn granted_qos(d: &SubscribeDecision, hook_source: &str, warn: &WarnLimiter) -> Option<QoS> {
    d.qos.and_then(|q| {
        let valid = QoS::from_level(q);
        if valid.is_none() {
            warn.warn(
                TARGET,
                format!("{hook_source}: ignored qos {q}: use 0, 1 or 2"),
            );
        }
        valid
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: RewriteScope<'static> = RewriteScope {
        tenant: false,
        original_topic: "a/b",
    };

    fn rewrite_topic(topic: &str, scope: RewriteScope<'_>) -> Option<String> {
        let d = PublishDecision {
            allow: true,
            topic: Some(topic.into()),
            ..Default::default()
        };
        publish_rewrite(
            d,
            "test",
            scope,
            &WarnLimiter::with_window(Default::default()),
        )
        .topic
    }

    #[test]
    fn invalid_fields_are_dropped_and_valid_ones_kept() {
        let warn = WarnLimiter::with_window(Default::default());
        let d = PublishDecision {
            allow: true,
            topic: Some("a/+".into()),
            payload: Some(b"x".to_vec()),
            qos: Some(7),
            reason: None,
            user_properties: None,
        };
        let r = publish_rewrite(d, "test", DEFAULT, &warn);
        assert_eq!(
            r,
            PublishRewrite {
                topic: None,
                payload: Some(b"x".to_vec()),
                qos: None,
                user_properties: None,
            }
        );
        let d = PublishDecision {
            allow: true,
            topic: Some("b/c".into()),
            qos: Some(2),
            ..Default::default()
        };
        let r = publish_rewrite(d, "test", DEFAULT, &warn);
        assert_eq!(r.topic.as_deref(), Some("b/c"));
        assert_eq!(r.qos, Some(QoS::ExactlyOnce));
    }

    fn rewrite_props(props: Vec<(String, String)>) -> Option<Vec<(String, String)>> {
        let d = PublishDecision {
            allow: true,
            user_properties: Some(props),
            ..Default::default()
        };
        publish_rewrite(
            d,
            "test",
            DEFAULT,
            &WarnLimiter::with_window(Default::default()),
        )
        .user_properties
    }

    #[test]
    fn user_properties_are_kept_within_the_caps_and_dropped_beyond() {
        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(
            rewrite_props(vec![]),
            Some(vec![]),
            "an empty list removes them"
        );
        let repeated = vec![pair("k", "1"), pair("k", "2")];
        assert_eq!(rewrite_props(repeated.clone()), Some(repeated));
        let at_count_cap = vec![pair("k", "v"); MAX_USER_PROPERTIES];
        assert_eq!(rewrite_props(at_count_cap).map(|p| p.len()), Some(64));
        assert_eq!(
            rewrite_props(vec![pair("k", "v"); MAX_USER_PROPERTIES + 1]),
            None
        );
        let half = "x".repeat(MAX_USER_PROPERTY_BYTES / 2);
        assert!(rewrite_props(vec![(half.clone(), half.clone())]).is_some());
        assert_eq!(
            rewrite_props(vec![(half.clone(), format!("{half}x"))]),
            None
        );
        assert_eq!(rewrite_props(vec![pair("a\0b", "v")]), None);
        assert_eq!(rewrite_props(vec![pair("a", "\0")]), None);
    }

    #[test]
    fn a_user_properties_rewrite_alone_is_a_rewrite() {
        let r = PublishRewrite {
            user_properties: Some(vec![]),
            ..Default::default()
        };
        assert!(!r.is_empty());
        assert!(PublishRewrite::default().is_empty());
    }

    #[test]
    fn subscription_prefixes_are_never_rewrite_targets() {
        for t in ["$share/g/x", "$queue/x", "$exclusive/x", "$limit/10/x"] {
            assert_eq!(rewrite_topic(t, DEFAULT), None, "{t}");
        }
        assert_eq!(
            rewrite_topic("$shared/x", DEFAULT).as_deref(),
            Some("$shared/x")
        );
    }

    #[test]
    fn sys_is_reachable_only_from_sys_and_never_in_a_tenant() {
        assert_eq!(rewrite_topic("$SYS/x", DEFAULT), None);
        let from_sys = RewriteScope {
            tenant: false,
            original_topic: "$SYS/bridge/in",
        };
        assert_eq!(rewrite_topic("$SYS/x", from_sys).as_deref(), Some("$SYS/x"));
        assert_eq!(rewrite_topic("plain", from_sys).as_deref(), Some("plain"));
        let tenant = RewriteScope {
            tenant: true,
            original_topic: "$SYS/bridge/in",
        };
        assert_eq!(rewrite_topic("$SYS/x", tenant), None);
        assert_eq!(rewrite_topic("$SYS", tenant), None);
    }
}
