//! The `keys` argument of [`verify_jwt`](super::verify_jwt), parsed: an HMAC
//! secret, one PEM public key, or the signature keys of a JWKS — and a small
//! cache of the parsed PEM and JWKS forms, since parsing them (PEM, ASN.1,
//! RSA and curve-point checks) costs more than a verification.
//!
//! The cache is process-wide, keyed by the BLAKE3 hash of the `keys` string,
//! holds [`CAPACITY`] entries and evicts the oldest. HMAC secrets are not
//! cached (they cost nothing to "parse", and are kept out of a global).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};

use jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind};

use super::jwt::JwtError;

/// How many parsed PEM / JWKS strings the cache keeps.
pub const CAPACITY: usize = 64;

/// The kind of a public key, which decides the algorithms it verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyKind {
    Rsa,
    EcP256,
    EcP384,
    Ed25519,
}

impl KeyKind {
    /// Whether a token signed with `alg` may be checked with this key.
    pub(super) fn accepts(self, alg: Algorithm) -> bool {
        use Algorithm::*;
        match self {
            KeyKind::Rsa => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
            KeyKind::EcP256 => alg == ES256,
            KeyKind::EcP384 => alg == ES384,
            KeyKind::Ed25519 => alg == EdDSA,
        }
    }

    /// "an RSA key", for error messages.
    pub(super) fn describe(self) -> &'static str {
        match self {
            KeyKind::Rsa => "an RSA key",
            KeyKind::EcP256 => "a P-256 key",
            KeyKind::EcP384 => "a P-384 key",
            KeyKind::Ed25519 => "an Ed25519 key",
        }
    }

    fn name(self) -> &'static str {
        match self {
            KeyKind::Rsa => "RSA",
            KeyKind::EcP256 => "P-256",
            KeyKind::EcP384 => "P-384",
            KeyKind::Ed25519 => "Ed25519",
        }
    }
}

/// One public key, ready to verify with.
#[derive(Debug)]
pub(super) struct PublicKey {
    pub(super) kind: KeyKind,
    /// The JWK's own `alg`, when it names one: then only that algorithm.
    pub(super) alg: Option<Algorithm>,
    pub(super) key: DecodingKey,
}

/// A JWKS entry usable for signatures.
#[derive(Debug)]
pub(super) struct JwksEntry {
    pub(super) kid: Option<String>,
    pub(super) key: PublicKey,
}

/// What a `keys` string is.
#[derive(Debug)]
pub(super) enum KeySet {
    /// An HMAC secret (the string's UTF-8 bytes, as given).
    Secret(DecodingKey),
    /// A PEM public key or certificate.
    Pem(PublicKey),
    /// The usable signature keys of a JWKS (at least one).
    Jwks(Vec<JwksEntry>),
}

/// `keys` parsed, from the process-wide cache when it was seen before.
pub(super) fn key_set(keys: &str) -> Result<Arc<KeySet>, JwtError> {
    static CACHE: LazyLock<KeyCache> = LazyLock::new(|| KeyCache::new(CAPACITY));
    let start = keys.trim_start();
    if start.starts_with("-----BEGIN") {
        CACHE.get_or_parse(keys, parse_pem)
    } else if start.starts_with('{') {
        CACHE.get_or_parse(keys, parse_jwks)
    } else if keys.is_empty() {
        Err(JwtError::BadKey("the key is empty".into()))
    } else {
        let secret = DecodingKey::from_secret(keys.as_bytes())
            .map_err(|e| JwtError::BadKey(e.to_string()))?;
        Ok(Arc::new(KeySet::Secret(secret)))
    }
}

/// A bounded map from the BLAKE3 hash of a `keys` string to its parsed
/// form; the oldest entry goes when a new one would exceed the capacity.
/// Parsing happens outside the lock (two threads meeting the same new string
/// both parse it; the second insert is a no-op).
pub(super) struct KeyCache {
    capacity: usize,
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    map: HashMap<[u8; 32], Arc<KeySet>>,
    /// Insertion order, oldest first.
    order: VecDeque<[u8; 32]>,
}

impl KeyCache {
    pub(super) fn new(capacity: usize) -> Self {
        KeyCache {
            capacity: capacity.max(1),
            inner: Mutex::new(Entries::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        // The critical sections only move `Arc`s around: a panic elsewhere
        // cannot leave the map half-updated, so a poisoned lock is usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached parse of `keys`, or `parse(keys)` (cached when it is Ok).
    pub(super) fn get_or_parse(
        &self,
        keys: &str,
        parse: fn(&str) -> Result<KeySet, JwtError>,
    ) -> Result<Arc<KeySet>, JwtError> {
        let id = *blake3::hash(keys.as_bytes()).as_bytes();
        if let Some(hit) = self.lock().map.get(&id) {
            return Ok(Arc::clone(hit));
        }
        let parsed = Arc::new(parse(keys)?);
        let mut entries = self.lock();
        if let Some(raced) = entries.map.get(&id) {
            return Ok(Arc::clone(raced));
        }
        while entries.order.len() >= self.capacity {
            if let Some(oldest) = entries.order.pop_front() {
                entries.map.remove(&oldest);
            }
        }
        entries.order.push_back(id);
        entries.map.insert(id, Arc::clone(&parsed));
        Ok(parsed)
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.lock().map.len()
    }
}

fn parse_pem(text: &str) -> Result<KeySet, JwtError> {
    let label = text
        .trim_start()
        .strip_prefix("-----BEGIN ")
        .and_then(|rest| rest.split_once("-----"))
        .map(|(label, _)| label)
        .ok_or_else(|| JwtError::BadKey("malformed PEM".into()))?;
    if label.contains("PRIVATE KEY") {
        return Err(JwtError::BadKey(
            "this is a private key; give the public key".into(),
        ));
    }
    let bytes = text.as_bytes();
    if let Ok(key) = DecodingKey::from_rsa_pem(bytes) {
        return Ok(KeySet::Pem(rsa_key(key, None)?));
    }
    if let Ok(key) = DecodingKey::from_ec_pem(bytes) {
        let kind = match key.try_get_as_bytes().map(<[u8]>::len) {
            Ok(65 | 33) => KeyKind::EcP256,
            Ok(97 | 49) => KeyKind::EcP384,
            _ => return Err(JwtError::BadKey("unsupported EC curve".into())),
        };
        return Ok(KeySet::Pem(checked(kind, None, key)?));
    }
    if let Ok(key) = DecodingKey::from_ed_pem(bytes) {
        return Ok(KeySet::Pem(checked(KeyKind::Ed25519, None, key)?));
    }
    Err(JwtError::BadKey(
        "not an RSA, EC (P-256, P-384) or Ed25519 public key or certificate".into(),
    ))
}

/// An RSA key from PEM (PKCS#1 DER) or JWK (n, e), checked to parse now so a
/// broken key is a "bad key" here rather than a "bad signature" per token.
fn rsa_key(key: DecodingKey, alg: Option<Algorithm>) -> Result<PublicKey, JwtError> {
    if let DecodingKeyKind::SecretOrDer(der) = key.kind() {
        (DEFAULT_PROVIDER
            .key_utils
            .rsa_pub_components_from_public_key)(der)
        .map_err(|_| JwtError::BadKey("invalid RSA public key".into()))?;
    }
    Ok(PublicKey {
        kind: KeyKind::Rsa,
        alg,
        key,
    })
}

/// An EC or Ed25519 key, checked by building a verifier for it (which
/// decodes the curve point).
fn checked(kind: KeyKind, alg: Option<Algorithm>, key: DecodingKey) -> Result<PublicKey, JwtError> {
    let probe = match kind {
        KeyKind::EcP256 => Algorithm::ES256,
        KeyKind::EcP384 => Algorithm::ES384,
        KeyKind::Ed25519 => Algorithm::EdDSA,
        KeyKind::Rsa => return rsa_key(key, alg),
    };
    (DEFAULT_PROVIDER.verifier_factory)(&probe, &key)
        .map_err(|_| JwtError::BadKey(format!("invalid {} public key", kind.name())))?;
    Ok(PublicKey { kind, alg, key })
}

fn parse_jwks(text: &str) -> Result<KeySet, JwtError> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|_| JwtError::BadKey("the JWKS is not valid JSON".into()))?;
    let entries = match (value.get("keys"), value.get("kty")) {
        (Some(serde_json::Value::Array(keys)), _) => keys.clone(),
        // A lone JWK is taken as a set of one.
        (None, Some(_)) => vec![value],
        _ => {
            return Err(JwtError::BadKey(
                "a JWKS is an object with a \"keys\" array".into(),
            ))
        }
    };
    let usable: Vec<JwksEntry> = entries.into_iter().filter_map(jwks_entry).collect();
    if usable.is_empty() {
        return Err(JwtError::BadKey(
            "the JWKS has no usable signature key (RSA, EC P-256/P-384, Ed25519)".into(),
        ));
    }
    Ok(KeySet::Jwks(usable))
}

/// One JWKS entry, or `None` when it is not a public signature key this
/// module verifies with (encryption keys, symmetric `oct` keys, other
/// curves, unknown or malformed entries): those are skipped.
fn jwks_entry(value: serde_json::Value) -> Option<JwksEntry> {
    let jwk: Jwk = serde_json::from_value(value).ok()?;
    let common = &jwk.common;
    if common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return None;
    }
    if common
        .key_operations
        .as_ref()
        .is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
    {
        return None;
    }
    let kind = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => KeyKind::Rsa,
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => KeyKind::EcP256,
            EllipticCurve::P384 => KeyKind::EcP384,
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            KeyKind::Ed25519
        }
        // No symmetric keys from a JWKS: HMAC takes a plain secret only.
        _ => return None,
    };
    let alg = match common.key_algorithm {
        None => None,
        Some(named) => {
            let alg = signature_algorithm(named)?;
            if !kind.accepts(alg) {
                return None;
            }
            Some(alg)
        }
    };
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    if key.family() == AlgorithmFamily::Hmac {
        return None;
    }
    let key = checked(kind, alg, key).ok()?;
    Some(JwksEntry {
        kid: common.key_id.clone(),
        key,
    })
}

/// The JWS algorithm a JWK's `alg` names; `None` for encryption algorithms
/// and unknown names.
fn signature_algorithm(named: KeyAlgorithm) -> Option<Algorithm> {
    Some(match named {
        KeyAlgorithm::HS256 => Algorithm::HS256,
        KeyAlgorithm::HS384 => Algorithm::HS384,
        KeyAlgorithm::HS512 => Algorithm::HS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::jwt::test_keys;

    fn count_parses(_: &str) -> Result<KeySet, JwtError> {
        PARSES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(KeySet::Jwks(Vec::new()))
    }
    static PARSES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    #[test]
    fn the_cache_parses_once_and_evicts_the_oldest() {
        let cache = KeyCache::new(3);
        let before = PARSES.load(std::sync::atomic::Ordering::SeqCst);
        let parses = || PARSES.load(std::sync::atomic::Ordering::SeqCst) - before;
        for keys in ["a", "b", "a", "c", "b"] {
            cache.get_or_parse(keys, count_parses).expect("parse");
        }
        assert_eq!(parses(), 3, "a, b and c parsed once each");
        assert_eq!(cache.len(), 3);
        cache.get_or_parse("d", count_parses).expect("parse");
        assert_eq!(cache.len(), 3, "bounded");
        assert_eq!(parses(), 4);
        // "a" was the oldest: it is parsed again; "c" is still there.
        cache.get_or_parse("c", count_parses).expect("parse");
        assert_eq!(parses(), 4);
        cache.get_or_parse("a", count_parses).expect("parse");
        assert_eq!(parses(), 5);
    }

    #[test]
    fn failed_parses_are_not_cached() {
        fn fail(_: &str) -> Result<KeySet, JwtError> {
            Err(JwtError::BadKey("no".into()))
        }
        let cache = KeyCache::new(4);
        assert!(cache.get_or_parse("x", fail).is_err());
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn the_cache_serves_concurrent_callers() {
        let cache = Arc::new(KeyCache::new(8));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let cache = Arc::clone(&cache);
                std::thread::spawn(move || {
                    for i in 0..200 {
                        let keys = format!("k{}", (i + t) % 12);
                        cache.get_or_parse(&keys, count_parses).expect("parse");
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("no panic");
        }
        assert_eq!(cache.len(), 8);
    }

    #[test]
    fn pem_keys_get_their_kind() {
        let keys = test_keys::get();
        for (pem, kind) in [
            (&keys.rsa_public_pem, KeyKind::Rsa),
            (&keys.rsa_pkcs1_pem, KeyKind::Rsa),
            (&keys.es256_public_pem, KeyKind::EcP256),
            (&keys.es384_public_pem, KeyKind::EcP384),
            (&keys.ed25519_public_pem, KeyKind::Ed25519),
            (&keys.es256_cert_pem, KeyKind::EcP256),
        ] {
            match parse_pem(pem).expect("parses") {
                KeySet::Pem(key) => assert_eq!(key.kind, kind, "{pem}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn private_and_broken_pems_are_bad_keys() {
        let keys = test_keys::get();
        for pem in [&keys.rsa_private_pem, &keys.es256_private_pem] {
            let err = parse_pem(pem).expect_err("private key");
            assert!(err.to_string().contains("private key"), "{err}");
        }
        let broken = keys.rsa_public_pem.replace('A', "B");
        assert!(matches!(parse_pem(&broken), Err(JwtError::BadKey(_))));
        let not_a_key = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
        assert!(matches!(parse_pem(not_a_key), Err(JwtError::BadKey(_))));
        assert!(matches!(parse_pem("-----BEGIN"), Err(JwtError::BadKey(_))));
    }

    #[test]
    fn jwks_keeps_only_signature_keys() {
        let keys = test_keys::get();
        let rsa = keys.rsa_jwk("r1", Some("RS256"));
        let ec = keys.es256_jwk("e1");
        let jwks = format!(
            r#"{{"keys":[
                {rsa},
                {ec},
                {{"kty":"oct","kid":"h1","k":"c2VjcmV0"}},
                {{"kty":"RSA","kid":"enc","use":"enc","n":"AQAB","e":"AQAB"}},
                {{"kty":"EC","kid":"p521","crv":"P-521","x":"AA","y":"AA"}},
                {{"kty":"OKP","kid":"x25519","crv":"X25519","x":"AA"}},
                {{"kty":"RSA","kid":"oaep","alg":"RSA-OAEP","n":"AQAB","e":"AQAB"}},
                {{"kty":"weird"}},
                "not an object"
            ]}}"#
        );
        match parse_jwks(&jwks).expect("parses") {
            KeySet::Jwks(entries) => {
                let kids: Vec<_> = entries.iter().map(|e| e.kid.as_deref()).collect();
                assert_eq!(kids, [Some("r1"), Some("e1")]);
                assert_eq!(entries[0].key.alg, Some(Algorithm::RS256));
                assert_eq!(entries[1].key.kind, KeyKind::EcP256);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_jwks_documents_are_bad_keys() {
        for text in [
            "{",
            "{}",
            r#"{"keys":{}}"#,
            r#"{"keys":[]}"#,
            r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#,
        ] {
            assert!(
                matches!(parse_jwks(text), Err(JwtError::BadKey(_))),
                "{text}"
            );
        }
    }

    #[test]
    fn a_lone_jwk_is_a_set_of_one() {
        let keys = test_keys::get();
        match parse_jwks(&keys.ed25519_jwk("d1")).expect("parses") {
            KeySet::Jwks(entries) => {
                assert_eq!(entries.len(), 1);
                assert_eq!(entries[0].key.kind, KeyKind::Ed25519);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn secrets_are_not_cached_and_empty_keys_are_refused() {
        assert!(matches!(
            key_set("my-secret").as_deref(),
            Ok(KeySet::Secret(_))
        ));
        assert!(matches!(key_set(""), Err(JwtError::BadKey(_))));
    }
}
