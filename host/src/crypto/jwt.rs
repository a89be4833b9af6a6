//! JWT verification (WIT `crypto.verify-jwt`): a JWS-compact token checked
//! against an HMAC secret, a PEM public key or a JWKS, then its `exp` and
//! `nbf` against a given time with [`JWT_LEEWAY_SECS`] of leeway.
//!
//! The header is read here (so `alg: none` and algorithm/key mismatches get
//! their own messages, and nothing from the token picks the key kind); the
//! keys come parsed from `key_cache`; signatures are
//! checked with `ring` (RSA, ECDSA, Ed25519) and the RustCrypto `hmac`
//! crate (HS256/384/512, constant-time).

use std::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::{Algorithm, AlgorithmFamily};
use ring::signature::{self as ring_sig, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;

use super::key_cache::{self, KeyBytes, KeySet, Keys, PublicKey};

/// Clock skew allowed on `exp` and `nbf`, in seconds.
pub const JWT_LEEWAY_SECS: u64 = 60;

/// Why [`verify_jwt`] refused a token. The messages reach policy authors
/// (the WIT `err` string): short, and saying why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Not three base64url parts, or a header or claims that are not a JSON
    /// object, or a non-numeric `exp` / `nbf`.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// A well-formed token using something this verifier does not do
    /// (encrypted tokens, `crit` header extensions).
    #[error("unsupported token: {0}")]
    Unsupported(&'static str),
    /// `alg: none` (in any letter case): never accepted.
    #[error("unsigned token (alg none) refused")]
    AlgNone,
    /// An `alg` this verifier does not know.
    #[error("unsupported algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// The token's `alg` is not one the key verifies (e.g. HS256 with a PEM
    /// or JWKS, RS256 with a plain secret).
    #[error("algorithm {alg} does not match the key ({key})")]
    AlgorithmMismatch {
        /// The token's `alg`.
        alg: String,
        /// What the key is, e.g. "an RSA key".
        key: String,
    },
    /// The token's `kid` is in no usable key of the JWKS.
    #[error("no key for kid {0:?}")]
    NoKeyForKid(String),
    /// The token has no `kid` and the JWKS has several usable keys.
    #[error("token has no kid and the JWKS has {0} keys")]
    KidRequired(usize),
    /// The `keys` string is no usable key (bad PEM, JWKS without signature
    /// keys, a private key, an empty string, ...).
    #[error("bad key: {0}")]
    BadKey(String),
    /// The signature does not verify with the key.
    #[error("bad signature")]
    BadSignature,
    /// `exp` (plus the leeway) has passed.
    #[error("token expired")]
    Expired,
    /// `nbf` (minus the leeway) is still to come.
    #[error("token not yet valid (nbf)")]
    NotYetValid,
}

/// The header fields this verifier reads.
#[derive(Deserialize)]
struct Header {
    alg: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

/// Verifies `token` (JWS compact serialization) with `keys` at time
/// `now_secs` (Unix seconds) and returns its claims (the payload, a JSON
/// object, as the issuer wrote it).
///
/// `keys` is one of:
/// - a PEM public key (`-----BEGIN PUBLIC KEY-----`, or `RSA PUBLIC KEY`,
///   or an X.509 `CERTIFICATE`): RSA (2048 to 8192 bits) → RS256/384/512
///   and PS256/384/512; EC P-256 → ES256; EC P-384 → ES384 (uncompressed
///   points); Ed25519 → EdDSA. Private keys are refused;
/// - a JWKS (`{"keys":[...]}`, or one JWK object): the token's `kid` picks
///   the key; a token without `kid` needs a JWKS with exactly one usable key.
///   Usable: RSA, EC P-256/P-384 and Ed25519 (OKP) keys whose `use` (if any)
///   is `sig`, `key_ops` (if any) has `verify` and `alg` (if any) is a
///   signature algorithm of the key's kind — then the token must use it;
/// - anything else: an HMAC secret, its UTF-8 bytes as given (not base64
///   decoded) → HS256/384/512 only.
///
/// `alg: none` is always refused, and so is an algorithm of another kind
/// than the key (HMAC with a PEM or JWKS, RSA/EC/EdDSA with a secret).
/// `exp` and `nbf` are checked when present (a token without `exp` does not
/// expire): refused when `now_secs >= exp + 60` or `now_secs + 60 < nbf`.
/// `iat`, `aud`, `iss` and `sub` are the caller's to check in the claims.
pub fn verify_jwt(token: &str, keys: &str, now_secs: u64) -> Result<String, JwtError> {
    let token = token.trim();
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        if token.split('.').count() == 5 {
            return Err(JwtError::Unsupported("encrypted tokens (JWE)"));
        }
        return Err(JwtError::Malformed("expected three dot-separated parts"));
    };

    let header: Header =
        decode_json(header_b64).ok_or(JwtError::Malformed("the header is not base64url JSON"))?;
    let alg_name = header
        .alg
        .ok_or(JwtError::Malformed("the header has no alg"))?;
    if alg_name.eq_ignore_ascii_case("none") {
        return Err(JwtError::AlgNone);
    }
    let alg = Algorithm::from_str(&alg_name)
        .map_err(|_| JwtError::UnsupportedAlgorithm(alg_name.clone()))?;
    if header.crit.is_some() {
        return Err(JwtError::Unsupported("critical header parameters (crit)"));
    }

    let keys = key_cache::keys(keys)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature_b64)
        .map_err(|_| JwtError::Malformed("the signature is not base64url"))?;
    let signed = &token.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
    let verified = match &keys {
        Keys::Secret(secret) if alg.family() == AlgorithmFamily::Hmac => {
            verify_hmac(alg, secret, signed, &signature)
        }
        Keys::Secret(_) => {
            return Err(JwtError::AlgorithmMismatch {
                alg: alg_name,
                key: "an HMAC secret".into(),
            })
        }
        Keys::Public(set) => {
            let key = select_key(set, alg, &alg_name, header.kid.as_deref())?;
            verify_public(alg, &key.bytes, signed, &signature)
        }
    };
    if !verified {
        return Err(JwtError::BadSignature);
    }

    let payload = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map_err(|_| JwtError::Malformed("the claims are not base64url"))?;
    let claims_text =
        String::from_utf8(payload).map_err(|_| JwtError::Malformed("the claims are not UTF-8"))?;
    let claims: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&claims_text)
        .map_err(|_| JwtError::Malformed("the claims are not a JSON object"))?;
    check_times(&claims, now_secs)?;
    Ok(claims_text)
}

/// A base64url part holding a JSON object (not an array, which serde would
/// also map onto a struct).
fn decode_json<T: for<'de> Deserialize<'de>>(part: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    if bytes.trim_ascii_start().first() != Some(&b'{') {
        return None;
    }
    serde_json::from_slice(&bytes).ok()
}

/// The public key of `key_set` that verifies `alg` (and `kid`, for a
/// JWKS). HMAC algorithms never match a public key.
fn select_key<'k>(
    key_set: &'k KeySet,
    alg: Algorithm,
    alg_name: &str,
    kid: Option<&str>,
) -> Result<&'k PublicKey, JwtError> {
    let mismatch = |key: &str| JwtError::AlgorithmMismatch {
        alg: alg_name.to_string(),
        key: key.to_string(),
    };
    match key_set {
        KeySet::Pem(public) if public.kind.accepts(alg) => Ok(public),
        KeySet::Pem(public) => Err(mismatch(public.kind.describe())),
        KeySet::Jwks(_) if alg.family() == AlgorithmFamily::Hmac => Err(mismatch("a JWKS")),
        KeySet::Jwks(entries) => {
            let candidates: Vec<_> = match kid {
                Some(kid) => entries
                    .iter()
                    .filter(|e| e.kid.as_deref() == Some(kid))
                    .collect(),
                None if entries.len() == 1 => entries.iter().collect(),
                None => return Err(JwtError::KidRequired(entries.len())),
            };
            let Some(first) = candidates.first() else {
                return Err(JwtError::NoKeyForKid(kid.unwrap_or_default().to_string()));
            };
            candidates
                .iter()
                .find(|e| e.key.kind.accepts(alg) && e.key.alg.is_none_or(|a| a == alg))
                .map(|e| &e.key)
                .ok_or_else(|| match first.key.alg {
                    Some(only) if first.key.kind.accepts(alg) => {
                        mismatch(&format!("{} for {only:?}", first.key.kind.describe()))
                    }
                    _ => mismatch(first.key.kind.describe()),
                })
        }
    }
}

/// HS256/384/512 over `signed` with `secret`, compared in constant time.
fn verify_hmac(alg: Algorithm, secret: &[u8], signed: &[u8], signature: &[u8]) -> bool {
    fn check<M: Mac + KeyInit>(secret: &[u8], signed: &[u8], signature: &[u8]) -> bool {
        let Ok(mut mac) = <M as KeyInit>::new_from_slice(secret) else {
            return false;
        };
        mac.update(signed);
        mac.verify_slice(signature).is_ok()
    }
    match alg {
        Algorithm::HS256 => check::<Hmac<sha2::Sha256>>(secret, signed, signature),
        Algorithm::HS384 => check::<Hmac<sha2::Sha384>>(secret, signed, signature),
        Algorithm::HS512 => check::<Hmac<sha2::Sha512>>(secret, signed, signature),
        _ => false,
    }
}

/// An RSA, ECDSA or EdDSA signature over `signed`, checked with ring. The
/// key kind was matched to `alg` by [`select_key`]; any other pairing is
/// `false`.
fn verify_public(alg: Algorithm, key: &KeyBytes, signed: &[u8], signature: &[u8]) -> bool {
    use Algorithm::*;
    match key {
        KeyBytes::Rsa { n, e } => {
            let params = match alg {
                RS256 => &ring_sig::RSA_PKCS1_2048_8192_SHA256,
                RS384 => &ring_sig::RSA_PKCS1_2048_8192_SHA384,
                RS512 => &ring_sig::RSA_PKCS1_2048_8192_SHA512,
                PS256 => &ring_sig::RSA_PSS_2048_8192_SHA256,
                PS384 => &ring_sig::RSA_PSS_2048_8192_SHA384,
                PS512 => &ring_sig::RSA_PSS_2048_8192_SHA512,
                _ => return false,
            };
            RsaPublicKeyComponents { n, e }
                .verify(params, signed, signature)
                .is_ok()
        }
        KeyBytes::Ec(point) => {
            // JWS ECDSA signatures are the fixed-size `r || s` form.
            let params = match (alg, point.len()) {
                (ES256, 65) => &ring_sig::ECDSA_P256_SHA256_FIXED,
                (ES384, 97) => &ring_sig::ECDSA_P384_SHA384_FIXED,
                _ => return false,
            };
            UnparsedPublicKey::new(params, point)
                .verify(signed, signature)
                .is_ok()
        }
        KeyBytes::Ed25519(raw) => {
            alg == EdDSA
                && UnparsedPublicKey::new(&ring_sig::ED25519, raw)
                    .verify(signed, signature)
                    .is_ok()
        }
    }
}

/// `exp` and `nbf`, when present, against `now_secs` with the leeway.
fn check_times(
    claims: &serde_json::Map<String, serde_json::Value>,
    now_secs: u64,
) -> Result<(), JwtError> {
    fn numeric(
        claims: &serde_json::Map<String, serde_json::Value>,
        name: &str,
        error: &'static str,
    ) -> Result<Option<f64>, JwtError> {
        match claims.get(name) {
            None => Ok(None),
            Some(serde_json::Value::Number(n)) => {
                n.as_f64().map(Some).ok_or(JwtError::Malformed(error))
            }
            Some(_) => Err(JwtError::Malformed(error)),
        }
    }
    // NumericDate may have a fraction; f64 holds Unix seconds exactly.
    let now = now_secs as f64;
    let leeway = JWT_LEEWAY_SECS as f64;
    if let Some(exp) = numeric(claims, "exp", "exp is not a number")? {
        if now >= exp + leeway {
            return Err(JwtError::Expired);
        }
    }
    if let Some(nbf) = numeric(claims, "nbf", "nbf is not a number")? {
        if now + leeway < nbf {
            return Err(JwtError::NotYetValid);
        }
    }
    Ok(())
}

/// Test-only key material, generated once per test run (nothing here is a
/// committed key).
#[cfg(test)]
pub(crate) mod test_keys {
    use std::sync::OnceLock;

    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    use rsa::traits::PublicKeyParts;

    pub(crate) struct TestKeys {
        pub(crate) rsa_private_pem: String,
        pub(crate) rsa_public_pem: String,
        pub(crate) rsa_pkcs1_pem: String,
        pub(crate) other_rsa_public_pem: String,
        rsa_n: Vec<u8>,
        rsa_e: Vec<u8>,
        pub(crate) es256_private_pem: String,
        pub(crate) es256_public_pem: String,
        pub(crate) es256_cert_pem: String,
        pub(crate) other_es256_public_pem: String,
        es256_point: Vec<u8>,
        pub(crate) es384_private_pem: String,
        pub(crate) es384_public_pem: String,
        pub(crate) ed25519_private_pem: String,
        pub(crate) ed25519_public_pem: String,
        pub(crate) other_ed25519_public_pem: String,
        ed25519_raw: Vec<u8>,
    }

    fn rsa_2048() -> rsa::PrivateKey {
        rsa::PrivateKey::new(&mut getrandom::SysRng, 2048).expect("RSA key generation")
    }

    fn ring_key(alg: &'static rcgen::SignatureAlgorithm) -> rcgen::KeyPair {
        rcgen::KeyPair::generate_for(alg).expect("key generation")
    }

    pub(crate) fn get() -> &'static TestKeys {
        static KEYS: OnceLock<TestKeys> = OnceLock::new();
        KEYS.get_or_init(|| {
            let rsa = rsa_2048();
            let rsa_public = rsa.to_public_key();
            let other_rsa = rsa_2048();
            let es256 = ring_key(&rcgen::PKCS_ECDSA_P256_SHA256);
            let es256_cert = rcgen::CertificateParams::new(vec!["issuer.test".to_string()])
                .expect("cert params")
                .self_signed(&es256)
                .expect("self-signed cert")
                .pem();
            let es384 = ring_key(&rcgen::PKCS_ECDSA_P384_SHA384);
            let ed25519 = ring_key(&rcgen::PKCS_ED25519);
            TestKeys {
                rsa_private_pem: rsa.to_pkcs1_pem(LineEnding::LF).expect("pem").to_string(),
                rsa_public_pem: rsa_public.to_public_key_pem(LineEnding::LF).expect("pem"),
                rsa_pkcs1_pem: rsa_public.to_pkcs1_pem(LineEnding::LF).expect("pem"),
                other_rsa_public_pem: other_rsa
                    .to_public_key()
                    .to_public_key_pem(LineEnding::LF)
                    .expect("pem"),
                rsa_n: rsa_public.n_bytes().into_vec(),
                rsa_e: rsa_public.e_bytes().into_vec(),
                es256_private_pem: es256.serialize_pem(),
                es256_public_pem: es256.public_key_pem(),
                es256_cert_pem: es256_cert,
                other_es256_public_pem: ring_key(&rcgen::PKCS_ECDSA_P256_SHA256).public_key_pem(),
                es256_point: es256.public_key_raw().to_vec(),
                es384_private_pem: es384.serialize_pem(),
                es384_public_pem: es384.public_key_pem(),
                ed25519_private_pem: ed25519.serialize_pem(),
                ed25519_public_pem: ed25519.public_key_pem(),
                other_ed25519_public_pem: ring_key(&rcgen::PKCS_ED25519).public_key_pem(),
                ed25519_raw: ed25519.public_key_raw().to_vec(),
            }
        })
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    impl TestKeys {
        pub(crate) fn rsa_jwk(&self, kid: &str, alg: Option<&str>) -> String {
            let alg = alg.map(|a| format!(r#","alg":"{a}""#)).unwrap_or_default();
            format!(
                r#"{{"kty":"RSA","kid":"{kid}","use":"sig"{alg},"n":"{}","e":"{}"}}"#,
                b64(&self.rsa_n),
                b64(&self.rsa_e)
            )
        }

        pub(crate) fn es256_jwk(&self, kid: &str) -> String {
            let (x, y) = self.es256_point[1..].split_at(32);
            format!(
                r#"{{"kty":"EC","kid":"{kid}","crv":"P-256","x":"{}","y":"{}"}}"#,
                b64(x),
                b64(y)
            )
        }

        pub(crate) fn ed25519_jwk(&self, kid: &str) -> String {
            format!(
                r#"{{"kty":"OKP","kid":"{kid}","crv":"Ed25519","x":"{}"}}"#,
                b64(&self.ed25519_raw)
            )
        }

        /// The private key that signs `alg` tokens.
        pub(crate) fn signer(&self, alg: Algorithm) -> EncodingKey {
            use Algorithm::*;
            match alg {
                RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => {
                    EncodingKey::from_rsa_pem(self.rsa_private_pem.as_bytes())
                }
                ES256 => EncodingKey::from_ec_pem(self.es256_private_pem.as_bytes()),
                ES384 => EncodingKey::from_ec_pem(self.es384_private_pem.as_bytes()),
                EdDSA => EncodingKey::from_ed_pem(self.ed25519_private_pem.as_bytes()),
                HS256 | HS384 | HS512 => EncodingKey::from_secret(b"test-secret"),
                other => panic!("no test key for {other:?}"),
            }
            .expect("signing key")
        }

        /// A token of `claims` signed for `alg` with the matching key.
        pub(crate) fn sign(
            &self,
            alg: Algorithm,
            kid: Option<&str>,
            claims: &serde_json::Value,
        ) -> String {
            let mut header = Header::new(alg);
            header.kid = kid.map(str::to_string);
            jsonwebtoken::encode(&header, claims, &self.signer(alg)).expect("signing")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_keys;
    use super::*;
    use serde_json::json;

    const NOW: u64 = 1_800_000_000;

    fn claims() -> serde_json::Value {
        json!({ "sub": "alice", "exp": NOW + 3600, "nbf": NOW - 10, "role": "admin" })
    }

    /// A token with the given header and claims JSON and a signature of
    /// `signature` bytes (no real signing).
    fn forged(header: &str, claims: &str, signature: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    /// An HS256 token of `claims` signed with `secret` (e.g. a public PEM).
    fn hs256_with(secret: &[u8], header: &str, claims: &serde_json::Value) -> String {
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mac = crate::crypto::hmac_sha256(secret, signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac))
    }

    #[test]
    fn each_algorithm_verifies_with_its_key_and_not_with_another() {
        let keys = test_keys::get();
        use Algorithm::*;
        let cases: [(Algorithm, &str, &str); 12] = [
            (HS256, "test-secret", "other-secret"),
            (HS384, "test-secret", "other-secret"),
            (HS512, "test-secret", "other-secret"),
            (RS256, &keys.rsa_public_pem, &keys.other_rsa_public_pem),
            (RS384, &keys.rsa_public_pem, &keys.other_rsa_public_pem),
            (RS512, &keys.rsa_pkcs1_pem, &keys.other_rsa_public_pem),
            (PS256, &keys.rsa_public_pem, &keys.other_rsa_public_pem),
            (PS384, &keys.rsa_public_pem, &keys.other_rsa_public_pem),
            (PS512, &keys.rsa_public_pem, &keys.other_rsa_public_pem),
            (ES256, &keys.es256_public_pem, &keys.other_es256_public_pem),
            (ES384, &keys.es384_public_pem, &keys.es256_public_pem),
            (
                EdDSA,
                &keys.ed25519_public_pem,
                &keys.other_ed25519_public_pem,
            ),
        ];
        for (alg, right, wrong) in cases {
            let token = keys.sign(alg, None, &claims());
            let got = verify_jwt(&token, right, NOW).unwrap_or_else(|e| panic!("{alg:?}: {e}"));
            let got: serde_json::Value = serde_json::from_str(&got).expect("claims JSON");
            assert_eq!(got, claims(), "{alg:?}");
            let err = verify_jwt(&token, wrong, NOW).expect_err("wrong key");
            if alg == ES384 {
                // A P-256 key cannot check an ES384 token at all.
                assert!(matches!(err, JwtError::AlgorithmMismatch { .. }), "{err}");
            } else {
                assert_eq!(err, JwtError::BadSignature, "{alg:?}");
            }
        }
    }

    #[test]
    fn a_certificate_pem_verifies_like_its_public_key() {
        let keys = test_keys::get();
        let token = keys.sign(Algorithm::ES256, None, &claims());
        assert!(verify_jwt(&token, &keys.es256_cert_pem, NOW).is_ok());
    }

    #[test]
    fn tampered_tokens_are_bad_signatures() {
        let keys = test_keys::get();
        for (alg, key) in [
            (Algorithm::HS256, "test-secret"),
            (Algorithm::RS256, keys.rsa_public_pem.as_str()),
            (Algorithm::ES256, keys.es256_public_pem.as_str()),
            (Algorithm::EdDSA, keys.ed25519_public_pem.as_str()),
        ] {
            let token = keys.sign(alg, None, &claims());
            let (signed, _) = token.rsplit_once('.').expect("three parts");
            let (header, _) = signed.split_once('.').expect("three parts");
            let mut evil = claims();
            evil["role"] = json!("root");
            let swapped = format!(
                "{header}.{}.{}",
                URL_SAFE_NO_PAD.encode(evil.to_string()),
                token.rsplit_once('.').expect("three parts").1
            );
            assert_eq!(
                verify_jwt(&swapped, key, NOW),
                Err(JwtError::BadSignature),
                "{alg:?}"
            );
            let no_signature = format!("{signed}.");
            assert_eq!(
                verify_jwt(&no_signature, key, NOW),
                Err(JwtError::BadSignature),
                "{alg:?}"
            );
        }
    }

    #[test]
    fn exp_and_nbf_have_a_60_second_leeway() {
        let token =
            |claims: serde_json::Value| test_keys::get().sign(Algorithm::HS256, None, &claims);
        let check = |claims, now| verify_jwt(&token(claims), "test-secret", now);
        let exp = NOW;
        assert!(check(json!({ "exp": exp }), exp + 59).is_ok());
        assert_eq!(
            check(json!({ "exp": exp }), exp + 60),
            Err(JwtError::Expired)
        );
        assert_eq!(
            check(json!({ "exp": exp }), exp + 10_000),
            Err(JwtError::Expired)
        );
        assert!(check(json!({ "exp": exp as f64 + 0.5 }), exp + 60).is_ok());
        let nbf = NOW;
        assert!(check(json!({ "nbf": nbf }), nbf - 60).is_ok());
        assert_eq!(
            check(json!({ "nbf": nbf }), nbf - 61),
            Err(JwtError::NotYetValid)
        );
        // No exp: the token does not expire.
        assert!(check(json!({ "sub": "alice" }), u64::from(u32::MAX) * 4).is_ok());
        // Both, in their window.
        assert!(check(json!({ "nbf": NOW, "exp": NOW + 10 }), NOW + 5).is_ok());
        for bad in [json!({ "exp": "soon" }), json!({ "nbf": null })] {
            assert!(
                matches!(check(bad.clone(), NOW), Err(JwtError::Malformed(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_expired_token_with_a_bad_signature_says_bad_signature() {
        let keys = test_keys::get();
        let token = keys.sign(Algorithm::HS256, None, &json!({ "exp": 1 }));
        assert_eq!(
            verify_jwt(&token, "other-secret", NOW),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn alg_none_is_always_refused() {
        let keys = test_keys::get();
        for alg in ["none", "None", "NONE", "nOnE"] {
            let token = forged(&format!(r#"{{"alg":"{alg}"}}"#), r#"{"sub":"x"}"#, b"");
            for key in ["test-secret", keys.rsa_public_pem.as_str()] {
                assert_eq!(verify_jwt(&token, key, NOW), Err(JwtError::AlgNone));
                let unsigned = token.trim_end_matches('.').to_string() + ".";
                assert_eq!(verify_jwt(&unsigned, key, NOW), Err(JwtError::AlgNone));
            }
        }
    }

    #[test]
    fn hmac_signed_with_the_public_pem_is_refused() {
        // The classic confusion attack: the attacker signs HS256 with the
        // (public) PEM text as the HMAC secret.
        let keys = test_keys::get();
        for pem in [
            &keys.rsa_public_pem,
            &keys.es256_public_pem,
            &keys.ed25519_public_pem,
        ] {
            for alg in ["HS256", "HS384", "HS512"] {
                let token = hs256_with(
                    pem.as_bytes(),
                    &format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#),
                    &claims(),
                );
                let err = verify_jwt(&token, pem, NOW).expect_err("confusion");
                assert!(matches!(err, JwtError::AlgorithmMismatch { .. }), "{err}");
                assert!(err.to_string().contains(alg), "{err}");
            }
        }
        // Same with a JWKS holding the key.
        let jwks = format!(r#"{{"keys":[{}]}}"#, keys.rsa_jwk("k1", None));
        let token = hs256_with(jwks.as_bytes(), r#"{"alg":"HS256","kid":"k1"}"#, &claims());
        assert!(matches!(
            verify_jwt(&token, &jwks, NOW),
            Err(JwtError::AlgorithmMismatch { .. })
        ));
    }

    #[test]
    fn asymmetric_algorithms_with_a_secret_are_refused() {
        let keys = test_keys::get();
        for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
            let token = keys.sign(alg, None, &claims());
            let err = verify_jwt(&token, "test-secret", NOW).expect_err("mismatch");
            assert_eq!(
                err,
                JwtError::AlgorithmMismatch {
                    alg: format!("{alg:?}"),
                    key: "an HMAC secret".into()
                }
            );
        }
        // And across public key kinds.
        let token = keys.sign(Algorithm::RS256, None, &claims());
        let err = verify_jwt(&token, &keys.es256_public_pem, NOW).expect_err("mismatch");
        assert_eq!(
            err.to_string(),
            "algorithm RS256 does not match the key (a P-256 key)"
        );
    }

    #[test]
    fn jwks_kid_picks_the_key() {
        let keys = test_keys::get();
        let jwks = format!(
            r#"{{"keys":[{},{},{}]}}"#,
            keys.rsa_jwk("rsa-1", Some("RS256")),
            keys.es256_jwk("ec-1"),
            keys.ed25519_jwk("ed-1")
        );
        for (alg, kid) in [
            (Algorithm::RS256, "rsa-1"),
            (Algorithm::ES256, "ec-1"),
            (Algorithm::EdDSA, "ed-1"),
        ] {
            let token = keys.sign(alg, Some(kid), &claims());
            assert!(verify_jwt(&token, &jwks, NOW).is_ok(), "{kid}");
        }
        // A kid naming another key of the set: mismatch or bad signature.
        let token = keys.sign(Algorithm::ES256, Some("ed-1"), &claims());
        assert!(matches!(
            verify_jwt(&token, &jwks, NOW),
            Err(JwtError::AlgorithmMismatch { .. })
        ));
        // The JWK says RS256 only.
        let token = keys.sign(Algorithm::PS256, Some("rsa-1"), &claims());
        assert_eq!(
            verify_jwt(&token, &jwks, NOW)
                .expect_err("alg pinned")
                .to_string(),
            "algorithm PS256 does not match the key (an RSA key for RS256)"
        );
        // Unknown kid, and no kid with several keys.
        let token = keys.sign(Algorithm::RS256, Some("rsa-2"), &claims());
        assert_eq!(
            verify_jwt(&token, &jwks, NOW),
            Err(JwtError::NoKeyForKid("rsa-2".into()))
        );
        let token = keys.sign(Algorithm::RS256, None, &claims());
        assert_eq!(
            verify_jwt(&token, &jwks, NOW),
            Err(JwtError::KidRequired(3))
        );
    }

    #[test]
    fn jwks_with_one_usable_key_needs_no_kid() {
        let keys = test_keys::get();
        // The oct key is not usable: one usable key remains.
        let jwks = format!(
            r#"{{"keys":[{{"kty":"oct","k":"c2VjcmV0"}},{}]}}"#,
            keys.ed25519_jwk("only")
        );
        let token = keys.sign(Algorithm::EdDSA, None, &claims());
        assert!(verify_jwt(&token, &jwks, NOW).is_ok());
        // A kid must still match when the token has one.
        let token = keys.sign(Algorithm::EdDSA, Some("other"), &claims());
        assert_eq!(
            verify_jwt(&token, &jwks, NOW),
            Err(JwtError::NoKeyForKid("other".into()))
        );
    }

    #[test]
    fn a_pem_ignores_the_kid() {
        let keys = test_keys::get();
        let token = keys.sign(Algorithm::RS256, Some("whatever"), &claims());
        assert!(verify_jwt(&token, &keys.rsa_public_pem, NOW).is_ok());
    }

    #[test]
    fn malformed_tokens_say_so() {
        let keys = test_keys::get();
        let good = keys.sign(Algorithm::HS256, None, &claims());
        let (header, rest) = good.split_once('.').expect("parts");
        let (_payload, signature) = rest.split_once('.').expect("parts");
        let malformed = [
            String::new(),
            "abc".to_string(),
            "a.b".to_string(),
            format!("{good}.x"),
            format!("!!!.{rest}"),
            format!("{}.{rest}", URL_SAFE_NO_PAD.encode("[1,2]")),
            format!("{}.{rest}", URL_SAFE_NO_PAD.encode(r#"["HS256"]"#)),
            format!("{}.{rest}", URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT"}"#)),
            format!(
                "{}.{rest}",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","alg":"HS256"}"#)
            ),
            format!("{header}.{}.%%%", rest.split_once('.').expect("parts").0),
            format!("{header}=.{rest}"),
        ];
        for token in &malformed {
            let err = verify_jwt(token, "test-secret", NOW).expect_err("malformed");
            assert!(matches!(err, JwtError::Malformed(_)), "{token:?}: {err}");
        }
        // A signed payload that is not a JSON object.
        for payload in ["[1]", "\"x\"", "not json"] {
            let signed = format!("{header}.{}", URL_SAFE_NO_PAD.encode(payload));
            let mac = crate::crypto::hmac_sha256(b"test-secret", signed.as_bytes());
            let token = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(mac));
            assert!(
                matches!(
                    verify_jwt(&token, "test-secret", NOW),
                    Err(JwtError::Malformed(_))
                ),
                "{payload}"
            );
        }
        // JWE (five parts), unknown alg, crit.
        assert_eq!(
            verify_jwt("a.b.c.d.e", "test-secret", NOW),
            Err(JwtError::Unsupported("encrypted tokens (JWE)"))
        );
        let unknown = forged(r#"{"alg":"XS999"}"#, "{}", b"sig");
        assert_eq!(
            verify_jwt(&unknown, "test-secret", NOW),
            Err(JwtError::UnsupportedAlgorithm("XS999".into()))
        );
        let crit = forged(
            r#"{"alg":"HS256","crit":["b64"],"b64":false}"#,
            "{}",
            b"sig",
        );
        assert!(matches!(
            verify_jwt(&crit, "test-secret", NOW),
            Err(JwtError::Unsupported(_))
        ));
        assert!(!signature.is_empty());
    }

    #[test]
    fn bad_keys_say_bad_key() {
        let keys = test_keys::get();
        let token = keys.sign(Algorithm::RS256, None, &claims());
        for key in [
            "",
            "{not json",
            r#"{"keys":[]}"#,
            keys.rsa_private_pem.as_str(),
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        ] {
            assert!(
                matches!(verify_jwt(&token, key, NOW), Err(JwtError::BadKey(_))),
                "{key}"
            );
        }
    }

    #[test]
    fn messages_are_short_and_say_why() {
        let messages = [
            (JwtError::Expired, "token expired"),
            (JwtError::NotYetValid, "token not yet valid (nbf)"),
            (JwtError::BadSignature, "bad signature"),
            (JwtError::AlgNone, "unsigned token (alg none) refused"),
            (JwtError::NoKeyForKid("k9".into()), "no key for kid \"k9\""),
            (
                JwtError::Malformed("expected three dot-separated parts"),
                "malformed token: expected three dot-separated parts",
            ),
        ];
        for (error, text) in messages {
            assert_eq!(error.to_string(), text);
        }
    }

    #[test]
    fn concurrent_verifications_with_one_pem_all_succeed() {
        let keys = test_keys::get();
        let token = keys.sign(Algorithm::ES256, None, &claims());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let token = token.clone();
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        let keys = test_keys::get();
                        verify_jwt(&token, &keys.es256_public_pem, NOW).expect("verifies");
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("no panic");
        }
    }
}
