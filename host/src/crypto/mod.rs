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
//! Cost (this 2-core box, `cargo bench -p rmqtt-js-host --bench
//! policy_crypto`): a JWT verification takes microseconds (RSA-2048 the
//! most), a password verification milliseconds (argon2id at its defaults and
//! PBKDF2 at 600,000 rounds tens to hundreds): password checks are meant to
//! be slow. Parsed PEM / JWKS keys are cached (see `key_cache`), so passing
//! the same `keys` string on every call costs no re-parsing.
//!
//! Backends: the `jsonwebtoken` crate with its pure-Rust RustCrypto backend
//! (no C toolchain), and the RustCrypto `argon2`, `pbkdf2`, `sha2`, `hmac`
//! crates plus `bcrypt`.

mod digest;
mod jwt;
mod key_cache;
mod password;

pub use digest::{hmac_sha256, sha256};
pub use jwt::{verify_jwt, JwtError, JWT_LEEWAY_SECS};
pub use password::{hash_password_argon2id, verify_password};
