//! `rmqtt:hooks/crypto@0.2.0`: the guest's crypto, done by the host
//! ([`crate::crypto`]). Its time counts against the call's deadline: a guest
//! is interrupted at the first epoch tick after a host call that overran.
//! Password hashes cost milliseconds by design, so `verify-password` runs
//! on a blocking thread, not on the broker worker that runs the call.

use super::super::bindings::v0_2::crypto;
use super::super::state::StoreState;

impl crypto::Host for StoreState {
    fn verify_jwt(&mut self, token: String, keys: String) -> Result<String, String> {
        let now = super::now_millis() / 1000;
        crate::crypto::verify_jwt(&token, &keys, now).map_err(|e| e.to_string())
    }

    async fn verify_password(&mut self, password: Vec<u8>, hash: String) -> bool {
        tokio::task::spawn_blocking(move || crate::crypto::verify_password(&password, &hash))
            .await
            .unwrap_or(false)
    }

    fn sha256(&mut self, data: Vec<u8>) -> Vec<u8> {
        crate::crypto::sha256(&data).to_vec()
    }

    fn hmac_sha256(&mut self, key: Vec<u8>, data: Vec<u8>) -> Vec<u8> {
        crate::crypto::hmac_sha256(&key, &data).to_vec()
    }
}
