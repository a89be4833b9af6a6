//! Measures the host crypto that wasm policies call (no asserts; prints a
//! table): `verify_jwt` per algorithm with a cached key (RS256 on a 2048-bit
//! key, from PEM and from a JWKS; ES256; EdDSA; HS256) and with a key never
//! seen before (PEM parse included); `verify_password` for argon2id (crate
//! defaults), bcrypt cost 10 and PBKDF2-SHA-256 (600,000 rounds, the crate
//! default; and passlib's 29,000); `hash_password_argon2id`; `sha256` and
//! `hmac_sha256` of 1 KiB. p50 / p99 over many calls after a warm-up.
//!
//! `cargo bench -p rmqtt-js-host --bench policy_crypto`. Keys are generated
//! at start (nothing committed).

use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use pbkdf2::password_hash::PasswordHasher;
use rmqtt_js_host::crypto::{
    hash_password_argon2id, hmac_sha256, sha256, verify_jwt, verify_password,
};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;

const FAST_CALLS: usize = 20_000;
const FAST_WARMUP: usize = 1_000;
const NOW: u64 = 1_800_000_000;

fn percentiles(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    let at = |q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)];
    (at(0.50), at(0.99))
}

/// p50 / p99 of `f` over `calls` calls after `warmup` unmeasured ones.
fn measure(warmup: usize, calls: usize, mut f: impl FnMut(usize)) -> (Duration, Duration) {
    for i in 0..warmup {
        f(i);
    }
    let samples = (0..calls)
        .map(|i| {
            let start = Instant::now();
            f(warmup + i);
            start.elapsed()
        })
        .collect();
    percentiles(samples)
}

fn row(what: &str, calls: usize, (p50, p99): (Duration, Duration)) {
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let fmt = |d: Duration| {
        if us(d) >= 1000.0 {
            format!("{:.1} ms", us(d) / 1000.0)
        } else {
            format!("{:.1} µs", us(d))
        }
    };
    println!("| {what} | {calls} | {} | {} |", fmt(p50), fmt(p99));
}

fn sign(alg: Algorithm, kid: Option<&str>, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    let claims = serde_json::json!({
        "sub": "device-42", "iss": "https://issuer.test", "aud": "mqtt",
        "exp": NOW + 3600, "nbf": NOW - 60, "iat": NOW - 60,
        "acl": { "pub": ["devices/42/#"], "sub": ["devices/42/cmd"] },
    });
    jsonwebtoken::encode(&header, &claims, key).expect("signing")
}

fn main() {
    println!("generating keys ...");
    let rsa = rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).expect("RSA key");
    let rsa_public = rsa.to_public_key();
    let rsa_pem = rsa_public
        .to_public_key_pem(LineEnding::LF)
        .expect("public PEM");
    let rsa_signer = EncodingKey::from_rsa_pem(
        rsa.to_pkcs1_pem(LineEnding::LF)
            .expect("private PEM")
            .as_bytes(),
    )
    .expect("RSA signer");
    let rsa_jwks = format!(
        r#"{{"keys":[{{"kty":"RSA","kid":"r1","use":"sig","alg":"RS256","n":"{}","e":"{}"}}]}}"#,
        URL_SAFE_NO_PAD.encode(rsa_public.n_bytes()),
        URL_SAFE_NO_PAD.encode(rsa_public.e_bytes())
    );
    let es256 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("P-256");
    let es256_signer =
        EncodingKey::from_ec_pem(es256.serialize_pem().as_bytes()).expect("ES256 signer");
    let ed25519 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("Ed25519");
    let ed25519_signer =
        EncodingKey::from_ed_pem(ed25519.serialize_pem().as_bytes()).expect("EdDSA signer");
    let secret = "a-32-byte-hmac-secret-for-bench!";
    let hs256_signer = EncodingKey::from_secret(secret.as_bytes()).expect("HS256 signer");

    let jwt_cases: [(&str, String, String); 5] = [
        (
            "verify_jwt RS256 (2048-bit, PEM)",
            sign(Algorithm::RS256, None, &rsa_signer),
            rsa_pem.clone(),
        ),
        (
            "verify_jwt RS256 (2048-bit, JWKS + kid)",
            sign(Algorithm::RS256, Some("r1"), &rsa_signer),
            rsa_jwks,
        ),
        (
            "verify_jwt ES256 (PEM)",
            sign(Algorithm::ES256, None, &es256_signer),
            es256.public_key_pem(),
        ),
        (
            "verify_jwt EdDSA (PEM)",
            sign(Algorithm::EdDSA, None, &ed25519_signer),
            ed25519.public_key_pem(),
        ),
        (
            "verify_jwt HS256",
            sign(Algorithm::HS256, None, &hs256_signer),
            secret.to_string(),
        ),
    ];

    println!();
    println!("| function | calls | p50 | p99 |");
    println!("|---|---|---|---|");
    for (what, token, keys) in &jwt_cases {
        verify_jwt(token, keys, NOW).expect("the bench token verifies");
        let p = measure(FAST_WARMUP, FAST_CALLS, |_| {
            std::hint::black_box(verify_jwt(token, keys, NOW).is_ok());
        });
        row(what, FAST_CALLS, p);
    }

    // A key string never seen before on each call (a trailing newline count
    // makes it unique): PEM parse + RSA key check + verification.
    let (_, rs256_token, _) = &jwt_cases[0];
    let cold = 500;
    let p = measure(0, cold, |i| {
        let keys = format!("{rsa_pem}{}", "\n".repeat(i + 1));
        std::hint::black_box(verify_jwt(rs256_token, &keys, NOW).is_ok());
    });
    row("verify_jwt RS256, uncached PEM (parse + verify)", cold, p);

    let argon2id = hash_password_argon2id(b"correct horse");
    let bcrypt10 = bcrypt::hash(b"correct horse", 10).expect("bcrypt");
    let pbkdf2_default: pbkdf2::phc::PasswordHash = pbkdf2::Pbkdf2::default()
        .hash_password(b"correct horse")
        .expect("pbkdf2");
    let pbkdf2_default = pbkdf2_default.to_string();
    let pbkdf2_passlib = {
        let params = pbkdf2::Params::new(29_000).expect("params");
        let hash: pbkdf2::mcf::PasswordHash =
            pbkdf2::password_hash::CustomizedPasswordHasher::hash_password_customized(
                &pbkdf2::Pbkdf2::default(),
                b"correct horse",
                b"0123456789abcdef",
                None,
                None,
                params,
            )
            .expect("pbkdf2 mcf");
        hash.to_string()
    };
    let password_cases = [
        (
            format!("verify_password argon2id ({})", &argon2id[..30]),
            argon2id,
            30,
        ),
        ("verify_password bcrypt cost 10".to_string(), bcrypt10, 30),
        (
            format!(
                "verify_password PBKDF2-SHA-256 PHC ({})",
                &pbkdf2_default[..29]
            ),
            pbkdf2_default,
            10,
        ),
        (
            "verify_password PBKDF2-SHA-256 passlib (29,000 rounds)".to_string(),
            pbkdf2_passlib,
            30,
        ),
    ];
    for (what, hash, calls) in &password_cases {
        assert!(verify_password(b"correct horse", hash), "{what}: {hash}");
        let p = measure(2, *calls, |_| {
            std::hint::black_box(verify_password(b"correct horse", hash));
        });
        row(what, *calls, p);
    }
    let p = measure(2, 30, |_| {
        std::hint::black_box(hash_password_argon2id(b"correct horse"));
    });
    row("hash_password_argon2id (defaults)", 30, p);

    let data = vec![0x5a_u8; 1024];
    let p = measure(FAST_WARMUP, FAST_CALLS, |_| {
        std::hint::black_box(sha256(std::hint::black_box(&data)));
    });
    row("sha256 (1 KiB)", FAST_CALLS, p);
    let p = measure(FAST_WARMUP, FAST_CALLS, |_| {
        std::hint::black_box(hmac_sha256(b"key", std::hint::black_box(&data)));
    });
    row("hmac_sha256 (1 KiB)", FAST_CALLS, p);
}
