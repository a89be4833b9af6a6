//! Topic-name rules shared by server-side publish and publish mutations.

/// Why `topic` cannot be published to, if it cannot.
pub fn topic_name_problem(topic: &str) -> Option<&'static str> {
    if topic.is_empty() {
        Some("a topic name cannot be empty")
    } else if topic.contains(['+', '#']) {
        Some("a topic name cannot contain the wildcards + or #")
    } else if topic.contains('\0') {
        Some("a topic name cannot contain NUL")
    } else if topic.len() > usize::from(u16::MAX) {
        Some("a topic name is at most 65535 bytes")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::topic_name_problem;

    #[test]
    fn wildcards_and_empty_topics_are_not_names() {
        assert!(topic_name_problem("a/b").is_none());
        assert!(topic_name_problem("").is_some());
        assert!(topic_name_problem("a/+/b").is_some());
        assert!(topic_name_problem("a/#").is_some());
    }
}
