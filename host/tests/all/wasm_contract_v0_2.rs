//! What `rmqtt:hooks@0.2.0` gives a policy, through the reference guest
//! `rust-policy-v2`: its config and `lifecycle.init`, the serving context's
//! data (and only its own), the host's crypto, `err` decisions that deny and
//! keep the instance, and MQTT 5 properties both ways.

use std::sync::Arc;

use bytes::Bytes;
use rmqtt_js_host::crypto::hash_password_argon2id;
use rmqtt_js_host::data::scope::serving;
use rmqtt_js_host::data::ContextData;
use rmqtt_js_host::hooks::model::{MessageProperties, QoS};
use rmqtt_js_host::hooks::{HookBackend, HookError};
use rmqtt_js_host::wasm::{LoadError, WasmPolicy};

use crate::wasm_support::{connect, guest, load, load_with, msg, options, session, sub};

const GUEST: &str = "rust-policy-v2.wasm";

async fn load_failure(config: &str) -> LoadError {
    match WasmPolicy::load(guest(GUEST).as_path(), options("v2").config(config)).await {
        Ok(_) => panic!("config {config:?} should fail the load"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn init_runs_at_load_and_its_err_fails_the_load_with_the_policys_message() {
    let e = load_failure("not json").await;
    assert_eq!(e.code(), "ERR_POLICY_INIT");
    assert!(e.to_string().contains("config is not JSON"), "{e}");
    let e = load_failure(r#"{"failInit": "the JWT key is missing"}"#).await;
    assert_eq!(e.code(), "ERR_POLICY_INIT");
    assert!(e.to_string().contains("the JWT key is missing"), "{e}");
    let p = load_with(GUEST, options("v2").config(r#"{"jwtKey": "k"}"#)).await;
    assert!(p.exports().authenticate && p.exports().events);
}

fn table(users: &[(&str, &str)], acl: &[(&str, &str)]) -> Arc<ContextData> {
    let data = Arc::new(ContextData::default());
    for (user, password) in users {
        let hash = hash_password_argon2id(password.as_bytes());
        data.set(&format!("user:{user}"), Bytes::from(hash))
            .unwrap();
    }
    for (user, prefixes) in acl {
        data.set(&format!("acl:{user}"), Bytes::from(prefixes.to_string()))
            .unwrap();
    }
    data
}

#[tokio::test]
async fn a_call_reads_the_data_of_the_context_it_serves_and_sees_updates_at_once() {
    let p = load(GUEST).await;
    let acme = table(&[("alice", "s3cret")], &[("alice", "acme/,shared/")]);
    let globex = table(&[("bob", "hunter2")], &[]);
    let auth = |data: Arc<ContextData>, user: &'static str, pw: &'static str| {
        serving(data, p.authenticate(connect(Some(user), Some(pw))))
    };
    assert!(auth(acme.clone(), "alice", "s3cret").await.unwrap().allow);
    let d = auth(acme.clone(), "alice", "wrong").await.unwrap();
    assert_eq!(
        (d.allow, d.reason.as_deref()),
        (false, Some("bad credentials"))
    );
    // Each context sees only its own data.
    let d = auth(globex.clone(), "alice", "s3cret").await.unwrap();
    assert_eq!(
        (d.allow, d.reason.as_deref()),
        (false, Some("unknown user"))
    );
    assert!(auth(globex.clone(), "bob", "hunter2").await.unwrap().allow);
    // Outside any context there is no data.
    let d = p
        .authenticate(connect(Some("alice"), Some("s3cret")))
        .await
        .unwrap();
    assert!(!d.allow, "{d:?}");
    // Deleted: refused at the next call, without a reload.
    assert!(acme.delete("user:alice"));
    assert!(!auth(acme.clone(), "alice", "s3cret").await.unwrap().allow);

    let alice = session(Some("alice"));
    let d = serving(
        acme.clone(),
        p.authorize_subscribe(alice.clone(), sub("acme/x/#", QoS::AtLeastOnce)),
    )
    .await
    .unwrap();
    assert!(d.allow, "{d:?}");
    let d = serving(
        acme.clone(),
        p.authorize_subscribe(alice.clone(), sub("globex/#", QoS::AtLeastOnce)),
    )
    .await
    .unwrap();
    assert!(!d.allow, "{d:?}");
    acme.set("acl:alice", Bytes::from_static(b"globex/"))
        .unwrap();
    let d = serving(
        acme.clone(),
        p.authorize_subscribe(alice, sub("globex/#", QoS::AtLeastOnce)),
    )
    .await
    .unwrap();
    assert!(d.allow, "an ACL change applies to the next decision: {d:?}");
}

#[tokio::test]
async fn an_err_decision_denies_is_counted_and_keeps_the_instance() {
    let p = load(GUEST).await;
    let created = p.stats().instances_created;
    for _ in 0..3 {
        let e = p
            .authenticate(connect(Some("throw"), Some("x")))
            .await
            .unwrap_err();
        assert_eq!(e, HookError::PolicyError("refused by policy error".into()));
    }
    let e = p
        .authorize_subscribe(session(Some("throw")), sub("t", QoS::AtMostOnce))
        .await
        .unwrap_err();
    assert!(matches!(e, HookError::PolicyError(_)), "{e:?}");
    let stats = p.stats();
    assert_eq!(stats.errors, 4);
    assert_eq!(stats.traps, 0);
    assert_eq!(
        stats.instances_created, created,
        "an err is an answer: the instance is reused"
    );
}

fn hs256(secret: &str, claims: serde_json::Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn jwt_auth_with_the_key_from_config_or_from_data() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let admin = hs256(
        "cfg-key",
        serde_json::json!({"sub": "jwt", "role": "admin", "exp": now + 600}),
    );
    let expired = hs256(
        "cfg-key",
        serde_json::json!({"sub": "jwt", "exp": now - 3600}),
    );
    let p = load_with(GUEST, options("v2").config(r#"{"jwtKey": "cfg-key"}"#)).await;
    let d = p
        .authenticate(connect(Some("jwt"), Some(&admin)))
        .await
        .unwrap();
    assert!(d.allow && d.superuser, "{d:?}");
    let d = p
        .authenticate(connect(Some("jwt"), Some(&expired)))
        .await
        .unwrap();
    assert!(!d.allow, "{d:?}");
    assert!(
        d.reason.as_deref().is_some_and(|r| r.contains("expired")),
        "the host's reason reaches the decision: {d:?}"
    );

    // No key in config: the serving context's data has it.
    let p = load(GUEST).await;
    let data = Arc::new(ContextData::default());
    data.set("jwt-key", Bytes::from_static(b"data-key"))
        .unwrap();
    let user = hs256(
        "data-key",
        serde_json::json!({"sub": "jwt", "exp": now + 600}),
    );
    let d = serving(
        data.clone(),
        p.authenticate(connect(Some("jwt"), Some(&user))),
    )
    .await
    .unwrap();
    assert!(d.allow && !d.superuser, "{d:?}");
    let forged = hs256(
        "other-key",
        serde_json::json!({"sub": "jwt", "exp": now + 600}),
    );
    let d = serving(data, p.authenticate(connect(Some("jwt"), Some(&forged))))
        .await
        .unwrap();
    assert!(!d.allow, "{d:?}");
}

#[tokio::test]
async fn mqtt5_properties_reach_the_policy_and_user_properties_can_be_replaced() {
    let p = load(GUEST).await;
    let data = table(&[], &[("alice", "alice/")]);
    let alice = session(Some("alice"));
    let mut m = msg("alice/t", "hello", QoS::AtLeastOnce);
    m.properties = MessageProperties {
        user_properties: vec![("trace".into(), "1".into())],
        ..MessageProperties::default()
    };
    let d = serving(data.clone(), p.authorize_publish(alice.clone(), m))
        .await
        .unwrap();
    assert!(d.allow, "{d:?}");
    assert_eq!(
        d.user_properties,
        Some(vec![
            ("trace".into(), "1".into()),
            ("seen-by".into(), "rust-policy-v2".into())
        ])
    );
    // Denied with the content type named: the policy read it.
    let mut m = msg("bob/t", "x", QoS::AtLeastOnce);
    m.properties.content_type = Some("application/json".into());
    let d = serving(data.clone(), p.authorize_publish(alice.clone(), m))
        .await
        .unwrap();
    assert_eq!(
        d.reason.as_deref(),
        Some("not authorized (content-type application/json)")
    );
    // The host's sha256.
    let d = serving(
        data,
        p.authorize_publish(alice, msg("alice/hash", "abc", QoS::AtMostOnce)),
    )
    .await
    .unwrap();
    assert_eq!(
        d.payload.as_deref(),
        Some(&b"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"[..])
    );
}
