//! `hashPassword(password: Uint8Array) -> Promise<string>`: an argon2id PHC
//! string for a user table that policies check with `crypto.verify-password`.
//! Hashing costs milliseconds by design: it runs on a blocking thread.

use neon::prelude::*;
use neon::types::buffer::TypedArray;

use crate::runtime;

pub fn hash_password(mut cx: FunctionContext) -> JsResult<JsPromise> {
    let password = cx.argument::<JsTypedArray<u8>>(0)?.as_slice(&cx).to_vec();
    let channel = Channel::new(&mut cx);
    let work = async move {
        tokio::task::spawn_blocking(move || {
            rmqtt_js_host::crypto::hash_password_argon2id(&password)
        })
        .await
    };
    runtime::promise(&mut cx, &channel, work, |cx, hashed| match hashed {
        Ok(phc) => Ok(cx.string(phc)),
        Err(e) => cx.throw_error(format!("hashing failed: {e}")),
    })
}
