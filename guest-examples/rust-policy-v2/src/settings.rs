//! The policy's configuration (`host.config()`, JSON) and claim lookups.
//!
//! Config fields read: `failInit` (string: `init` fails with it) and
//! `jwtKey` (string: the key for `crypto.verify-jwt`). Unknown fields are
//! ignored; a field of another type counts as absent.

use serde_json::Value;

use crate::rmqtt::hooks::host;

/// What the config says (all optional).
#[derive(Debug, Default)]
pub struct Settings {
    pub fail_init: Option<String>,
    pub jwt_key: Option<String>,
}

fn string_field(v: &Value, name: &str) -> Option<String> {
    v.get(name).and_then(Value::as_str).map(str::to_owned)
}

impl Settings {
    /// Parses the config string; `err("config is not JSON")` when it is not.
    pub fn parse(config: Option<&str>) -> Result<Settings, String> {
        let Some(text) = config else {
            return Ok(Settings::default());
        };
        let v: Value = serde_json::from_str(text).map_err(|_| "config is not JSON".to_string())?;
        Ok(Settings {
            fail_init: string_field(&v, "failInit"),
            jwt_key: string_field(&v, "jwtKey"),
        })
    }

    /// The settings of this load (`init` already refused a config that is
    /// not JSON, so a parse failure here reads as no settings).
    pub fn current() -> Settings {
        Settings::parse(host::config().as_deref()).unwrap_or_default()
    }
}

/// True iff `claims` (a JSON object) has the string `value` under `name`.
pub fn claim_is(claims: &str, name: &str, value: &str) -> bool {
    serde_json::from_str::<Value>(claims)
        .ok()
        .and_then(|c| c.get(name).and_then(Value::as_str).map(|s| s == value))
        .unwrap_or(false)
}
