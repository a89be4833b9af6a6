//! The `keys` argument of [`verify_jwt`](super::verify_jwt), parsed: an HMAC
//! secret, one PEM public key, or the signature keys of a JWKS — and a small
//! cache of the parsed PEM and JWKS forms, since parsing them (PEM, ASN.1,
//! JSON, key checks) costs about as much as a verification.
//!
//! The key formats are read with `jsonwebtoken` (PEM classification, JWK
//! types); the keys come out in the forms `ring` verifies with (RSA modulus
//! and exponent, uncompressed EC points, raw Ed25519 keys).
//!
//! The cache is process-wide, keyed by the BLAKE3 hash of the `keys` string,
//! holds [`CAPACITY`] entries and evicts the oldest. HMAC secrets are not
//! cached (there is nothing to parse, and they stay out of a global).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind};

use super::jwt::JwtError;

/// How many parsed PEM / JWKS strings the cache keeps.
pub const CAPACITY: usize = 64;

/// RSA modulus sizes accepted (ring's `RSA_*_2048_8192_*` range).
const RSA_MIN_BITS: usize = 2048;
const RSA_MAX_BITS: usize = 8192;

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
}

/// Public key material in the form ring verifies with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum KeyBytes {
    /// Big-endian modulus and exponent, without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An uncompressed SEC1 point (`04 || x || y`) on P-256 or P-384.
    Ec(Vec<u8>),
    /// The 32-byte Ed25519 public key.
    Ed25519(Vec<u8>),
}

/// One public key, ready to verify with.
#[derive(Debug)]
pub(super) struct PublicKey {
    pub(super) kind: KeyKind,
    /// The JWK's own `alg`, when it names one: then only that algorithm.
    pub(super) alg: Option<Algorithm>,
    pub(super) bytes: KeyBytes,
}

/// A JWKS entry usable for signatures.
#[derive(Debug)]
pub(super) struct JwksEntry {
    pub(super) kid: Option<String>,
    pub(super) key: PublicKey,
}

/// A parsed PEM or JWKS `keys` string.
#[derive(Debug)]
pub(super) enum KeySet {
    /// A PEM public key or certificate.
    Pem(PublicKey),
    /// The usable signature keys of a JWKS (at least one).
    Jwks(Vec<JwksEntry>),
}

/// What a `keys` string is.
#[derive(Debug)]
pub(super) enum Keys<'a> {
    /// An HMAC secret: the string's UTF-8 bytes, as given.
    Secret(&'a [u8]),
    /// Public keys.
    Public(Arc<KeySet>),
}

/// `keys` told apart and parsed (PEM and JWKS from the process-wide cache
/// when seen before).
pub(super) fn keys(keys: &str) -> Result<Keys<'_>, JwtError> {
    static CACHE: LazyLock<KeyCache> = LazyLock::new(|| KeyCache::new(CAPACITY));
    let start = keys.trim_start();
    if start.starts_with("-----BEGIN") {
        CACHE.get_or_parse(keys, parse_pem).map(Keys::Public)
    } else if start.starts_with('{') {
        CACHE.get_or_parse(keys, parse_jwks).map(Keys::Public)
    } else if keys.is_empty() {
        Err(JwtError::BadKey("the key is empty".into()))
    } else {
        Ok(Keys::Secret(keys.as_bytes()))
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

fn bad_key(why: &str) -> JwtError {
    JwtError::BadKey(why.to_string())
}

fn parse_pem(text: &str) -> Result<KeySet, JwtError> {
    let label = text
        .trim_start()
        .strip_prefix("-----BEGIN ")
        .and_then(|rest| rest.split_once("-----"))
        .map(|(label, _)| label)
        .ok_or_else(|| bad_key("malformed PEM"))?;
    if label.contains("PRIVATE KEY") {
        return Err(bad_key("this is a private key; give the public key"));
    }
    let bytes = text.as_bytes();
    let der_of = |key: DecodingKey| match key.kind() {
        DecodingKeyKind::SecretOrDer(der) => Some(der.clone()),
        DecodingKeyKind::RsaModulusExponent { .. } => None,
    };
    let public = if let Some(der) = DecodingKey::from_rsa_pem(bytes).ok().and_then(der_of) {
        let (n, e) = rsa_pkcs1_components(&der)?;
        rsa_key(&n, &e, None)?
    } else if let Some(point) = DecodingKey::from_ec_pem(bytes).ok().and_then(der_of) {
        ec_key(point, None)?
    } else if let Some(raw) = DecodingKey::from_ed_pem(bytes).ok().and_then(der_of) {
        ed25519_key(raw, None)?
    } else {
        return Err(bad_key(
            "not an RSA, EC (P-256, P-384) or Ed25519 public key or certificate",
        ));
    };
    Ok(KeySet::Pem(public))
}

/// `n` and `e` of a PKCS#1 `RSAPublicKey` (`SEQUENCE { INTEGER, INTEGER }`).
fn rsa_pkcs1_components(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>), JwtError> {
    use simple_asn1::{ASN1Block, BigInt};
    let invalid = || bad_key("invalid RSA public key");
    let blocks = simple_asn1::from_der(der).map_err(|_| invalid())?;
    let [ASN1Block::Sequence(_, fields)] = blocks.as_slice() else {
        return Err(invalid());
    };
    let [ASN1Block::Integer(_, n), ASN1Block::Integer(_, e)] = fields.as_slice() else {
        return Err(invalid());
    };
    let zero = BigInt::from(0u8);
    if *n <= zero || *e <= zero {
        return Err(invalid());
    }
    Ok((n.to_bytes_be().1, e.to_bytes_be().1))
}

/// An RSA key checked against what ring verifies: 2048 to 8192 bits, an
/// odd exponent from 3 to 2^33 - 1.
fn rsa_key(n: &[u8], e: &[u8], alg: Option<Algorithm>) -> Result<PublicKey, JwtError> {
    let strip = |bytes: &[u8]| {
        let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
        bytes[first..].to_vec()
    };
    let (n, e) = (strip(n), strip(e));
    let bits = n.first().map_or(0, |top| {
        (n.len() - 1) * 8 + (8 - top.leading_zeros() as usize)
    });
    if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
        return Err(JwtError::BadKey(format!(
            "RSA keys must have {RSA_MIN_BITS} to {RSA_MAX_BITS} bits (this one has {bits})"
        )));
    }
    let exponent = (e.len() <= 8).then(|| e.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)));
    if !exponent.is_some_and(|x| (3..1 << 33).contains(&x) && x % 2 == 1) {
        return Err(bad_key("unsupported RSA public exponent"));
    }
    Ok(PublicKey {
        kind: KeyKind::Rsa,
        alg,
        bytes: KeyBytes::Rsa { n, e },
    })
}

/// An EC key from its SEC1 point: uncompressed, P-256 (65 bytes) or P-384
/// (97 bytes). Whether it is on the curve, ring checks when verifying.
fn ec_key(point: Vec<u8>, alg: Option<Algorithm>) -> Result<PublicKey, JwtError> {
    let kind = match (point.len(), point.first()) {
        (65, Some(4)) => KeyKind::EcP256,
        (97, Some(4)) => KeyKind::EcP384,
        (33 | 49, Some(2 | 3)) => return Err(bad_key("compressed EC points are not supported")),
        _ => return Err(bad_key("unsupported EC key (P-256 and P-384 only)")),
    };
    Ok(PublicKey {
        kind,
        alg,
        bytes: KeyBytes::Ec(point),
    })
}

fn ed25519_key(raw: Vec<u8>, alg: Option<Algorithm>) -> Result<PublicKey, JwtError> {
    if raw.len() != 32 {
        return Err(bad_key("invalid Ed25519 public key"));
    }
    Ok(PublicKey {
        kind: KeyKind::Ed25519,
        alg,
        bytes: KeyBytes::Ed25519(raw),
    })
}

fn parse_jwks(text: &str) -> Result<KeySet, JwtError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|_| bad_key("the JWKS is not valid JSON"))?;
    let entries = match (value.get("keys"), value.get("kty")) {
        (Some(serde_json::Value::Array(keys)), _) => keys.clone(),
        // A lone JWK is taken as a set of one.
        (None, Some(_)) => vec![value],
        _ => return Err(bad_key("a JWKS is an object with a \"keys\" array")),
    };
    let usable: Vec<JwksEntry> = entries.into_iter().filter_map(jwks_entry).collect();
    if usable.is_empty() {
        return Err(bad_key(
            "the JWKS has no usable signature key (RSA, EC P-256/P-384, Ed25519)",
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
    let alg = match common.key_algorithm {
        None => None,
        Some(named) => Some(signature_algorithm(named)?),
    };
    let b64 = |field: &str| URL_SAFE_NO_PAD.decode(field).ok();
    let key = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => rsa_key(&b64(&rsa.n)?, &b64(&rsa.e)?, alg).ok()?,
        AlgorithmParameters::EllipticCurve(ec) => {
            let size = match ec.curve {
                EllipticCurve::P256 => 32,
                EllipticCurve::P384 => 48,
                _ => return None,
            };
            let (x, y) = (b64(&ec.x)?, b64(&ec.y)?);
            if x.len() != size || y.len() != size {
                return None;
            }
            ec_key([&[4u8][..], &x, &y].concat(), alg).ok()?
        }
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            ed25519_key(b64(&okp.x)?, alg).ok()?
        }
        // No symmetric keys from a JWKS: HMAC takes a plain secret only.
        _ => return None,
    };
    if alg.is_some_and(|alg| !key.kind.accepts(alg)) {
        return None;
    }
    Some(JwksEntry {
        kid: common.key_id.clone(),
        key,
    })
}

/// The JWS algorithm a JWK's `alg` names; `None` for encryption and HMAC
/// algorithms and unknown names.
fn signature_algorithm(named: KeyAlgorithm) -> Option<Algorithm> {
    Some(match named {
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
    fn secrets_are_not_parsed_and_empty_keys_are_refused() {
        assert!(matches!(keys("my-secret"), Ok(Keys::Secret(b"my-secret"))));
        assert!(matches!(keys(""), Err(JwtError::BadKey(_))));
    }

    #[test]
    fn rsa_keys_outside_2048_to_8192_bits_are_bad_keys() {
        use rsa::pkcs8::{EncodePublicKey, LineEnding};
        let small = rsa::PrivateKey::new(&mut getrandom::SysRng, 1024).expect("RSA key");
        let pem = small
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("pem");
        let err = parse_pem(&pem).expect_err("1024 bits");
        assert_eq!(
            err.to_string(),
            "bad key: RSA keys must have 2048 to 8192 bits (this one has 1024)"
        );
        assert!(rsa_key(&[0xff; 1025], &[1, 0, 1], None).is_err());
        assert!(rsa_key(&[0xff; 1024], &[1, 0, 1], None).is_ok());
        // Leading zeros do not count, and are dropped.
        let padded = [&[0u8, 0][..], &[0x80; 256][..]].concat();
        match rsa_key(&padded, &[0, 1, 0, 1], None)
            .expect("2048 bits")
            .bytes
        {
            KeyBytes::Rsa { n, e } => {
                assert_eq!(n.len(), 256);
                assert_eq!(e, [1, 0, 1]);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            rsa_key(&[0x7f; 256], &[1, 0, 1], None).is_err(),
            "2047 bits"
        );
        for e in [&[][..], &[1], &[2], &[1, 0, 0], &[2, 0, 0, 0, 1]] {
            assert!(rsa_key(&[0xff; 256], e, None).is_err(), "e = {e:?}");
        }
    }

    #[test]
    fn ec_points_must_be_uncompressed_and_sized() {
        assert_eq!(
            ec_key([&[4u8][..], &[1; 64]].concat(), None)
                .expect("P-256")
                .kind,
            KeyKind::EcP256
        );
        assert_eq!(
            ec_key([&[4u8][..], &[1; 96]].concat(), None)
                .expect("P-384")
                .kind,
            KeyKind::EcP384
        );
        for point in [vec![2u8; 33], vec![4; 64], vec![5; 65], vec![]] {
            assert!(ec_key(point.clone(), None).is_err(), "{point:?}");
        }
    }
}
