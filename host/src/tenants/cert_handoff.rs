//! Hands a client certificate verified by a tls gateway to the tenant context
//! that the connection is spliced to. The loopback hop (PROXY header + the
//! replayed CONNECT) carries the client's address but not its TLS session, so
//! the gateway leaves the certificate here, keyed by the client's address,
//! and the tenant's hook router takes it when that client's CONNECT reaches
//! `onClientAuthenticate`.
//!
//! An entry is taken once, must match the client id the gateway saw (unless
//! the client sent none and the broker assigned one), and is dropped unused
//! after [`UNUSED_TTL`], so the table holds at most the connections that are
//! between the gateway and their authentication.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::hooks::model::ClientCert;

/// How long an entry waits for its CONNECT before it is dropped.
pub const UNUSED_TTL: Duration = Duration::from_secs(60);

struct Entry {
    client_id: String,
    cert: ClientCert,
    at: Instant,
}

/// The certificates in transit from the gateways of one server to its tenants.
#[derive(Default)]
pub struct CertHandoff(Mutex<HashMap<SocketAddr, Entry>>);

/// IPv4 and IPv4-mapped IPv6 addresses are one key: the PROXY header may
/// carry either form.
fn key(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(v4) => IpAddr::V6(v4.to_ipv6_mapped()),
        v6 => v6,
    };
    SocketAddr::new(ip, addr.port())
}

impl CertHandoff {
    /// Leaves the certificate of the client at `remote` (which sent `client_id`).
    pub fn put(&self, remote: SocketAddr, client_id: &str, cert: ClientCert) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        map.retain(|_, e| now.duration_since(e.at) < UNUSED_TTL);
        map.insert(
            key(remote),
            Entry {
                client_id: client_id.to_string(),
                cert,
                at: now,
            },
        );
    }

    /// Takes the certificate of the client at `remote` whose CONNECT names
    /// `client_id` (an id the broker assigned matches an empty one).
    pub fn take(&self, remote: SocketAddr, client_id: &str) -> Option<ClientCert> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let k = key(remote);
        let matches = map
            .get(&k)
            .is_some_and(|e| e.client_id.is_empty() || e.client_id == client_id);
        if !matches {
            return None;
        }
        map.remove(&k)
            .filter(|e| e.at.elapsed() < UNUSED_TTL)
            .map(|e| e.cert)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(cn: &str) -> ClientCert {
        ClientCert {
            common_name: Some(cn.to_string()),
            subject: format!("CN={cn}"),
            fingerprint_sha256: "00".repeat(32),
        }
    }

    #[test]
    fn a_certificate_is_taken_once_by_its_client() {
        let h = CertHandoff::default();
        let a: SocketAddr = "10.0.0.1:5000".parse().expect("addr");
        h.put(a, "dev-1", cert("dev-1"));
        assert_eq!(h.take(a, "other"), None, "another client id gets nothing");
        let mapped: SocketAddr = "[::ffff:10.0.0.1]:5000".parse().expect("addr");
        assert_eq!(h.take(mapped, "dev-1"), Some(cert("dev-1")));
        assert_eq!(h.take(a, "dev-1"), None, "taken once");
        assert_eq!(h.len(), 0);
    }

    #[test]
    fn an_empty_client_id_matches_the_assigned_one() {
        let h = CertHandoff::default();
        let a: SocketAddr = "127.0.0.1:6000".parse().expect("addr");
        h.put(a, "", cert("x"));
        assert_eq!(h.take(a, "0f3a9c"), Some(cert("x")));
    }
}
