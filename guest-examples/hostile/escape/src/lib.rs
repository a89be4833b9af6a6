//! Hostile policy: tries to leave the sandbox (world `auth-policy`).
//!
//! `authenticate` reads /etc/passwd with `std::fs` and connects to
//! 127.0.0.1:1883 with `std::net`. It answers `allow: true` only if one
//! of them succeeded (reason says which); otherwise `allow: false` with a
//! reason naming both failures, e.g.
//! `"blocked: fs: <error>; net: <error>"`, so a test can assert that the
//! sandbox blocked both.

wit_bindgen::generate!({ world: "auth-policy", path: "../../../wit/rmqtt-hooks-0.1.0" });

use exports::rmqtt::hooks::authenticate;
use rmqtt::hooks::types::*;

struct Escape;

impl authenticate::Guest for Escape {
    fn authenticate(_req: ConnectRequest) -> AuthDecision {
        let fs = std::fs::read_to_string("/etc/passwd");
        let net = std::net::TcpStream::connect(("127.0.0.1", 1883));
        let mut escaped = Vec::new();
        let mut failed = Vec::new();
        match fs {
            Ok(s) => escaped.push(format!("fs: read /etc/passwd ({} bytes)", s.len())),
            Err(e) => failed.push(format!("fs: {e}")),
        }
        match net {
            Ok(_) => escaped.push("net: connected to 127.0.0.1:1883".to_string()),
            Err(e) => failed.push(format!("net: {e}")),
        }
        if escaped.is_empty() {
            AuthDecision { allow: false, superuser: false, reason: Some(format!("blocked: {}", failed.join("; "))) }
        } else {
            AuthDecision { allow: true, superuser: false, reason: Some(format!("escaped: {}", escaped.join("; "))) }
        }
    }
}

export!(Escape);
