//! The host-side crypto that wasm policies call (WIT `rmqtt:hooks@0.2.0`,
//! `interface crypto`): plain synchronous functions, so a policy never
//! carries its own JWT, password-hash or digest code.
//!
//! - [`verify_jwt`]: a JWT checked against an HMAC secret, a PEM public key
//!   or a JWKS, plus `exp` / `nbf` with [`JWT_LEEWAY_SECS`] of leeway; the
//!   claims back as JSON, or a [`JwtError`] saying why not.
//! - [`verify_password`]: argon2 / bcrypt / PBKDF2 hash strings; `false` for
//!   anything unknown or malformed. [`hash_password_argon2id`] makes hashes.
//! - [`sha256`], [`hmac_sha256`].
//!
//! Cost (p50 on the 2-core dev box, `cargo bench -p rmqtt-js-host --bench
//! policy_crypto`): `verify_jwt` RS256 (2048-bit) ~22 µs, ES256 ~45 µs,
//! EdDSA ~38 µs, HS256 ~2 µs; a PEM never seen before adds ~4 µs of parsing
//! (parsed PEM / JWKS keys are cached, see `key_cache`). `verify_password`
//! costs what the hash asks, by design: argon2id at the crate defaults
//! (`m=19456,t=2,p=1`) ~18 ms, bcrypt cost 10 ~60 ms, PBKDF2-SHA-256 at
//! 600,000 rounds ~77 ms (passlib's 29,000: ~4 ms). sha256 / hmac_sha256 of
//! 1 KiB: under 1 µs.
//!
//! Backends: signatures with `ring` (already built for rustls), key formats
//! (PEM, JWK) with `jsonwebtoken` (no crypto backend of its own), HMAC and
//! digests with the RustCrypto `hmac` and `sha2` crates, password hashes
//! with RustCrypto `argon2` and `pbkdf2` and the `bcrypt` crate. No state
//! besides that key cache; the JWT's "now" is an argument.

mod digest;
mod jwt;
mod key_cache;
mod password;

pub use digest::{hmac_sha256, sha256};
pub use jwt::{verify_jwt, JwtError, JWT_LEEWAY_SECS};
pub use password::{hash_password_argon2id, verify_password};
