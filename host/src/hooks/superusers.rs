//! Superusers of a tenant context, kept by the router instead of rmqtt.
//!
//! rmqtt lets a superuser skip its ACL hook points altogether, including
//! `MessagePublishCheckAcl`, the step where the router drops a denied
//! publish. A tenant's auth policy decides who is a superuser, yet `$SYS`
//! must stay unwritable by tenants: so in tenant contexts the router tells
//! rmqtt "not a superuser" and applies the ACL bypass itself, after its
//! `$SYS` rule.

use std::collections::HashSet;
use std::sync::Mutex;

/// Client ids whose last successful authentication made them superusers.
#[derive(Default)]
pub struct Superusers(Mutex<HashSet<String>>);

impl Superusers {
    /// Records the outcome of `client_id`'s authentication.
    pub fn set(&self, client_id: &str, superuser: bool) {
        let mut ids = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if superuser {
            ids.insert(client_id.to_string());
        } else {
            ids.remove(client_id);
        }
    }

    pub fn contains(&self, client_id: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(client_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_authentication_counts() {
        let s = Superusers::default();
        s.set("a", true);
        assert!(s.contains("a"));
        s.set("a", false);
        assert!(!s.contains("a"));
        assert!(!s.contains("b"));
    }
}
