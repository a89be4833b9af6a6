//! Reference policy for `rmqtt:hooks@0.2.0` in Rust, exercising every
//! feature of the contract (the host's tests load it): `host.config`,
//! `data.get`, the four `crypto` functions, the optional `lifecycle.init`
//! export, `result` decisions and the MQTT 5 properties.
//!
//! Its world (`rmqtt-js:examples/rust-policy-v2`, inline below) includes
//! `rmqtt:hooks/policy@0.2.0` and adds `export lifecycle`.
//!
//! * **init**: reads `host.config()`. None → ok. Not JSON → `err("config is
//!   not JSON")`. A JSON object with `"failInit": "<msg>"` → `err(<msg>)`.
//!   Otherwise ok. Logs `rust-policy-v2 init: config <n> bytes` (or `none`).
//! * **authenticate**, in this order:
//!   1. username `throw` → `err("refused by policy error")`;
//!   2. a CONNECT user property `("deny", "1")` → deny, reason `user property`;
//!   3. username `jwt`: the password is a JWT, checked with
//!      `crypto.verify-jwt(token, key)`, key = config field `jwtKey`, else
//!      `data.get("jwt-key")` (no key at all → `err("no jwt key (config jwtKey
//!      or data jwt-key)")`; a password that is not UTF-8 → deny `token is not
//!      UTF-8`). Allow iff the host accepts it, else deny with the host's error
//!      text as the reason; superuser iff the claims hold `"role": "admin"`;
//!   4. any other username: `data.get("user:<username>")` is a PHC hash; allow
//!      iff `crypto.verify-password(password, hash)` (no password: empty),
//!      else deny `bad credentials`; no such key (or no username) → deny
//!      `unknown user`. Never a superuser.
//! * **authorize-subscribe**: username `throw` → `err("refused by policy
//!   error")`; allow (QoS not capped) iff one of the comma-separated prefixes
//!   in `data.get("acl:<username>")` is a prefix of the filter; else deny
//!   `not authorized`.
//! * **authorize-publish**: username `throw` → err as above; the same ACL on
//!   the topic, a deny's reason being `not authorized`, or `not authorized
//!   (content-type <ct>)` when the message has a content type. Allowed
//!   messages are rewritten:
//!   - a user property named `trace` → `user-properties` = the incoming ones
//!     plus `("seen-by", "rust-policy-v2")`;
//!   - topic ending in `/hash` → payload = lowercase hex of
//!     `crypto.sha256(payload)`;
//!   - topic ending in `/hmac` → payload = lowercase hex of
//!     `crypto.hmac-sha256(data.get("hmac-key"), payload)` (no `hmac-key` →
//!     `err("no hmac-key in data")`);
//!   - otherwise nothing is rewritten.
//! * **events**: `host.log(info, "rust-policy-v2 <case> <json>")` per event,
//!   the JSON holding every field of the case, message properties included
//!   (see [`echo`]).

mod acl;
mod echo;
mod settings;

wit_bindgen::generate!({
    inline: r#"
        package rmqtt-js:examples;

        world rust-policy-v2 {
            include rmqtt:hooks/policy@0.2.0;
            export rmqtt:hooks/lifecycle@0.2.0;
        }
    "#,
    path: "../../wit/rmqtt-hooks-0.2.0",
    world: "rmqtt-js:examples/rust-policy-v2",
    // The interfaces live in another package than the world: generate them
    // here too (wit-bindgen otherwise expects `with:` mappings to other crates).
    generate_all,
});

use exports::rmqtt::hooks::{
    authenticate, authorize_publish, authorize_subscribe, events, lifecycle,
};
use rmqtt::hooks::host::{self, Level};
use rmqtt::hooks::types::{
    AuthDecision, ConnectRequest, Event, Message, PublishDecision, Session, SubscribeDecision,
    Subscription, UserProperty,
};
use rmqtt::hooks::{crypto, data};
use settings::Settings;

/// The username that makes every decision an `err`.
const THROW: &str = "throw";
const THROW_MESSAGE: &str = "refused by policy error";
const SEEN_BY: (&str, &str) = ("seen-by", "rust-policy-v2");

struct PolicyV2;

fn deny_auth(reason: impl Into<String>) -> AuthDecision {
    AuthDecision {
        allow: false,
        superuser: false,
        reason: Some(reason.into()),
    }
}

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

fn utf8(bytes: Vec<u8>) -> Option<String> {
    String::from_utf8(bytes).ok()
}

fn throws(username: Option<&str>) -> bool {
    username == Some(THROW)
}

/// A JWT in the password, checked by the host.
fn authenticate_jwt(req: &ConnectRequest) -> Result<AuthDecision, String> {
    let key = Settings::current()
        .jwt_key
        .or_else(|| data::get("jwt-key").and_then(utf8))
        .ok_or_else(|| "no jwt key (config jwtKey or data jwt-key)".to_string())?;
    let Some(token) = req.password.clone().and_then(utf8) else {
        return Ok(deny_auth("token is not UTF-8"));
    };
    Ok(match crypto::verify_jwt(&token, &key) {
        Ok(claims) => AuthDecision {
            allow: true,
            superuser: settings::claim_is(&claims, "role", "admin"),
            reason: None,
        },
        Err(why) => deny_auth(why),
    })
}

/// A PHC hash in `data` under `user:<username>`.
fn authenticate_table(req: &ConnectRequest) -> AuthDecision {
    let hash = req
        .username
        .as_deref()
        .and_then(|u| data::get(&format!("user:{u}")));
    let Some(hash) = hash.and_then(utf8) else {
        return deny_auth("unknown user");
    };
    let password = req.password.as_deref().unwrap_or_default();
    if crypto::verify_password(password, &hash) {
        AuthDecision {
            allow: true,
            superuser: false,
            reason: None,
        }
    } else {
        deny_auth("bad credentials")
    }
}

impl lifecycle::Guest for PolicyV2 {
    fn init() -> Result<(), String> {
        let config = host::config();
        let size = config
            .as_ref()
            .map_or_else(|| "none".to_string(), |c| format!("{} bytes", c.len()));
        host::log(Level::Info, &format!("rust-policy-v2 init: config {size}"));
        match Settings::parse(config.as_deref())?.fail_init {
            Some(msg) => Err(msg),
            None => Ok(()),
        }
    }
}

impl authenticate::Guest for PolicyV2 {
    fn authenticate(req: ConnectRequest) -> Result<AuthDecision, String> {
        if throws(req.username.as_deref()) {
            return Err(THROW_MESSAGE.into());
        }
        if req
            .user_properties
            .iter()
            .any(|(k, v)| k == "deny" && v == "1")
        {
            return Ok(deny_auth("user property"));
        }
        if req.username.as_deref() == Some("jwt") {
            return authenticate_jwt(&req);
        }
        Ok(authenticate_table(&req))
    }
}

impl authorize_subscribe::Guest for PolicyV2 {
    fn authorize_subscribe(
        session: Session,
        sub: Subscription,
    ) -> Result<SubscribeDecision, String> {
        if throws(session.username.as_deref()) {
            return Err(THROW_MESSAGE.into());
        }
        Ok(
            if acl::permits(session.username.as_deref(), &sub.topic_filter) {
                SubscribeDecision {
                    allow: true,
                    qos: None,
                    reason: None,
                }
            } else {
                SubscribeDecision {
                    allow: false,
                    qos: None,
                    reason: Some("not authorized".into()),
                }
            },
        )
    }
}

/// The incoming user properties plus `seen-by`, iff one is named `trace`.
fn traced(props: &[UserProperty]) -> Option<Vec<UserProperty>> {
    props.iter().any(|(k, _)| k == "trace").then(|| {
        let mut out = props.to_vec();
        out.push((SEEN_BY.0.into(), SEEN_BY.1.into()));
        out
    })
}

/// The payload rewrite chosen by the topic's last level.
fn rewritten_payload(msg: &Message) -> Result<Option<Vec<u8>>, String> {
    if msg.topic.ends_with("/hash") {
        return Ok(Some(hex(&crypto::sha256(&msg.payload)).into_bytes()));
    }
    if msg.topic.ends_with("/hmac") {
        let key = data::get("hmac-key").ok_or_else(|| "no hmac-key in data".to_string())?;
        return Ok(Some(
            hex(&crypto::hmac_sha256(&key, &msg.payload)).into_bytes(),
        ));
    }
    Ok(None)
}

impl authorize_publish::Guest for PolicyV2 {
    fn authorize_publish(session: Session, msg: Message) -> Result<PublishDecision, String> {
        if throws(session.username.as_deref()) {
            return Err(THROW_MESSAGE.into());
        }
        if !acl::permits(session.username.as_deref(), &msg.topic) {
            let reason = match &msg.properties.content_type {
                Some(ct) => format!("not authorized (content-type {ct})"),
                None => "not authorized".to_string(),
            };
            return Ok(PublishDecision {
                allow: false,
                topic: None,
                payload: None,
                qos: None,
                reason: Some(reason),
                user_properties: None,
            });
        }
        Ok(PublishDecision {
            allow: true,
            topic: None,
            payload: rewritten_payload(&msg)?,
            qos: None,
            reason: None,
            user_properties: traced(&msg.properties.user_properties),
        })
    }
}

impl events::Guest for PolicyV2 {
    fn on_event(e: Event) {
        let (case, json) = echo::echo(&e);
        host::log(Level::Info, &format!("rust-policy-v2 {case} {json}"));
    }
}

export!(PolicyV2);
