//! Applies a hook's answer to the message or subscription, ignoring (with a
//! WARN) any field that is not valid: a QoS outside 0..=2, a topic that is
//! empty or has wildcards.

use super::model::{PublishDecision, QoS, SubscribeDecision};
use crate::topic::topic_name_problem;

/// The valid parts of a publish decision's rewrite.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PublishRewrite {
    pub topic: Option<String>,
    pub payload: Option<Vec<u8>>,
    pub qos: Option<QoS>,
}

impl PublishRewrite {
    pub fn is_empty(&self) -> bool {
        self.topic.is_none() && self.payload.is_none() && self.qos.is_none()
    }
}

/// Keeps the valid rewrites of `d`, logging a WARN for each invalid one.
pub fn publish_rewrite(d: PublishDecision, hook_source: &str) -> PublishRewrite {
    let topic = d.topic.filter(|t| match topic_name_problem(t) {
        None => true,
        Some(problem) => {
            log::warn!(target: "rmqtt_js::hooks", "{hook_source}: ignored topic rewrite `{t}`: {problem}");
            false
        }
    });
    let qos = d.qos.and_then(|q| {
        let valid = QoS::from_level(q);
        if valid.is_none() {
            log::warn!(target: "rmqtt_js::hooks", "{hook_source}: ignored qos rewrite {q}: use 0, 1 or 2");
        }
        valid
    });
    PublishRewrite {
        topic,
        payload: d.payload,
        qos,
    }
}

/// The QoS a subscribe decision grants, if it names a valid one.
pub fn granted_qos(d: &SubscribeDecision, hook_source: &str) -> Option<QoS> {
    d.qos.and_then(|q| {
        let valid = QoS::from_level(q);
        if valid.is_none() {
            log::warn!(target: "rmqtt_js::hooks", "{hook_source}: ignored qos {q}: use 0, 1 or 2");
        }
        valid
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_fields_are_dropped_and_valid_ones_kept() {
        let d = PublishDecision {
            allow: true,
            topic: Some("a/+".into()),
            payload: Some(b"x".to_vec()),
            qos: Some(7),
            reason: None,
        };
        let r = publish_rewrite(d, "test");
        assert_eq!(
            r,
            PublishRewrite {
                topic: None,
                payload: Some(b"x".to_vec()),
                qos: None
            }
        );
        let d = PublishDecision {
            allow: true,
            topic: Some("b/c".into()),
            qos: Some(2),
            ..Default::default()
        };
        let r = publish_rewrite(d, "test");
        assert_eq!(r.topic.as_deref(), Some("b/c"));
        assert_eq!(r.qos, Some(QoS::ExactlyOnce));
    }
}
