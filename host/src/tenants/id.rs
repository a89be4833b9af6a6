//! The one rule for tenant ids, wherever an id comes from: `addTenant`, a
//! listener's `tenant`, `tenancy.fallbackTenant`, the `user@tenant` form and
//! a tenant resolver's answer.
//!
//! An id is 1 to 64 characters from `A-Z a-z 0-9 _ . -`, and not `.` or `..`:
//! it cannot hold MQTT wildcards or separators (`#`, `+`, `/`), the
//! `user@tenant` separator, `$` (so no `$SYS`), control characters, or path
//! components, so it is safe in topics, usernames, log lines and file names.

/// The rule, as error messages state it.
pub const TENANT_ID_RULE: &str =
    "a tenant id is 1 to 64 characters from A-Z, a-z, 0-9, \"_\", \".\" and \"-\", and not \".\" or \"..\"";

/// The longest id, in characters (all of them ASCII).
pub const MAX_TENANT_ID_LEN: usize = 64;

/// Whether `id` follows [`TENANT_ID_RULE`].
pub fn is_valid_tenant_id(id: &str) -> bool {
    (1..=MAX_TENANT_ID_LEN).contains(&id.len())
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// `id` quoted for a message, escapes shown, cut after 64 characters.
pub fn shown(id: &str) -> String {
    let count = id.chars().count();
    let head: String = id.chars().take(MAX_TENANT_ID_LEN).collect();
    if count > MAX_TENANT_ID_LEN {
        format!("{head:?}… ({count} characters)")
    } else {
        format!("{head:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_accepts_plain_ids() {
        for id in ["acme", "a", "A-b_c.9", "..a", "a..", &"x".repeat(64)] {
            assert!(is_valid_tenant_id(id), "{id}");
        }
    }

    #[test]
    fn the_rule_refuses_what_topics_usernames_and_paths_cannot_carry() {
        let long = "x".repeat(65);
        for id in [
            "", ".", "..", "#", "+", "a/b", "$SYS", "a\u{0}b", "a@b", "a b", "é", &long,
        ] {
            assert!(!is_valid_tenant_id(id), "{id:?}");
        }
    }

    #[test]
    fn the_broker_refuses_an_invalid_id() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let broker = crate::Broker::new();
        let err = rt
            .block_on(broker.add_tenant("a/b".into(), Default::default()))
            .err()
            .expect("refused");
        assert_eq!(err.code(), "ERR_INVALID_TENANT");
        assert!(err.to_string().contains(TENANT_ID_RULE), "{err}");
        assert!(broker.tenant("a/b").is_none());
        rt.block_on(broker.add_tenant("a-b".into(), Default::default()))
            .expect("a valid id");
    }

    #[test]
    fn shown_escapes_and_cuts() {
        assert_eq!(shown("a\u{0}b"), "\"a\\0b\"");
        let long = "y".repeat(300);
        let s = shown(&long);
        assert!(s.ends_with("… (300 characters)") && s.len() < 100, "{s}");
    }
}
