//! The topic ACL: `data.get("acl:<username>")` is a comma-separated list of
//! topic prefixes (spaces around entries are trimmed, empty entries ignored);
//! a topic or filter is permitted iff one of them is a prefix of it.
//! Anonymous clients and users without the key are permitted nothing.

use crate::rmqtt::hooks::data;

/// True iff `topic` (a topic name or a filter) starts with one of the
/// user's prefixes.
pub fn permits(username: Option<&str>, topic: &str) -> bool {
    let Some(user) = username else {
        return false;
    };
    let Some(list) = data::get(&format!("acl:{user}")) else {
        return false;
    };
    String::from_utf8_lossy(&list)
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .any(|p| topic.starts_with(p))
}
