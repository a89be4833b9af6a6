//! The key-value data of a broker context for Node (`server.data`,
//! `tenant.data`): a `JsBox` handle on the host's `ContextData`, and one
//! function per operation. `lib/src/data.ts` checks the arguments and words
//! the errors; this module only marshals.
//!
//! Every call is synchronous: the host takes a short lock and updates a
//! persistent map, so nothing here waits on the broker.

use std::sync::Arc;

use neon::prelude::*;
use neon::types::buffer::TypedArray;
use rmqtt_js_host::data::{ContextData, DataError};
use rmqtt_js_host::BrokerError;

use crate::errors::{broker_error, error_with_code};
use crate::server::ServerBox;

/// Code of an update that would take the data past its cap.
const ERR_DATA_TOO_LARGE: &str = "ERR_DATA_TOO_LARGE";
/// Code of a key that is empty, too long, or not well-formed UTF-16.
const ERR_DATA_KEY: &str = "ERR_DATA_KEY";

/// The native half of one JS `PolicyData`.
pub struct DataHandle(Arc<ContextData>);

impl Finalize for DataHandle {}

impl DataHandle {
    /// The host's data behind the handle.
    pub(crate) fn context(&self) -> &Arc<ContextData> {
        &self.0
    }
}

pub(crate) type DataBox = JsBox<DataHandle>;

/// `dataNew() -> data`: data of no context, for running a policy in a unit
/// test (`policy.authenticate(req, { data })`).
pub fn data_new(mut cx: FunctionContext) -> JsResult<DataBox> {
    Ok(cx.boxed(DataHandle(Arc::default())))
}

/// `serverData(handle) -> data`: the default context's data.
pub fn server_data(mut cx: FunctionContext) -> JsResult<DataBox> {
    let server = cx.argument::<ServerBox>(0)?;
    let data = server.broker().data().clone();
    Ok(cx.boxed(DataHandle(data)))
}

/// `serverTenantData(handle, id) -> data`: tenant `id`'s data
/// (`ERR_TENANT_UNKNOWN` if not declared).
pub fn server_tenant_data(mut cx: FunctionContext) -> JsResult<DataBox> {
    let server = cx.argument::<ServerBox>(0)?;
    let id = cx.argument::<JsString>(1)?.value(&mut cx);
    let Some(tenant) = server.broker().tenant(&id) else {
        let err = broker_error(&mut cx, &BrokerError::UnknownTenant(id))?;
        return cx.throw(err);
    };
    Ok(cx.boxed(DataHandle(tenant.data().clone())))
}

/// `dataGet(data, key) -> Buffer | undefined`: a copy of the value.
pub fn data_get(mut cx: FunctionContext) -> JsResult<JsValue> {
    let (data, key) = data_and_key(&mut cx)?;
    match data.get(&key) {
        Some(value) => Ok(JsBuffer::from_slice(&mut cx, &value)?.upcast()),
        None => Ok(cx.undefined().upcast()),
    }
}

/// `dataHas(data, key) -> boolean`.
pub fn data_has(mut cx: FunctionContext) -> JsResult<JsBoolean> {
    let (data, key) = data_and_key(&mut cx)?;
    let has = data.snapshot().get(&key).is_some();
    Ok(cx.boolean(has))
}

/// `dataSet(data, key, value: Uint8Array)`. Throws `ERR_DATA_KEY`,
/// `ERR_DATA_TOO_LARGE` (with `limit` and `wouldBe`); nothing changes then.
pub fn data_set(mut cx: FunctionContext) -> JsResult<JsUndefined> {
    let (data, key) = data_and_key(&mut cx)?;
    let value = cx.argument::<JsTypedArray<u8>>(2)?.as_slice(&cx).to_vec();
    match data.set(&key, value.into()) {
        Ok(()) => Ok(cx.undefined()),
        Err(e) => throw_data_error(&mut cx, &e),
    }
}

/// `dataDelete(data, key) -> boolean`: whether the key was set.
pub fn data_delete(mut cx: FunctionContext) -> JsResult<JsBoolean> {
    let (data, key) = data_and_key(&mut cx)?;
    let deleted = data.delete(&key);
    Ok(cx.boolean(deleted))
}

/// `dataReplace(data, keys: string, texts: string, blobs: Uint8Array,
/// lengths: Float64Array)`: swaps the whole data at once for the entries
/// `lib/` packed: entry `i` is the key of the next `lengths[3i]` UTF-16
/// units of `keys`, and the value of the next `lengths[3i+1]` UTF-16 units
/// of `texts` (stored as UTF-8) when `lengths[3i+2]` is 1, else of the next
/// `lengths[3i+1]` bytes of `blobs`. A handful of N-API calls for any
/// number of entries, and no per-entry work on the JS side. Throws as
/// `dataSet` (`ERR_DATA_KEY` also for a key with a lone surrogate).
pub fn data_replace(mut cx: FunctionContext) -> JsResult<JsUndefined> {
    let data = handle(&mut cx)?;
    let keys = cx.argument::<JsString>(1)?.to_utf16(&mut cx);
    let texts = cx.argument::<JsString>(2)?.to_utf16(&mut cx);
    let blobs = cx.argument::<JsTypedArray<u8>>(3)?;
    let lengths = cx.argument::<JsTypedArray<f64>>(4)?;
    let packed = Packed {
        keys: &keys,
        texts: &texts,
        blobs: blobs.as_slice(&cx),
    };
    let entries = match packed.unpack(lengths.as_slice(&cx)) {
        Ok(entries) => entries,
        Err(Unpack::LoneSurrogate(key)) => {
            let message = format!(
                "key {key:?} has a lone UTF-16 surrogate and has no UTF-8 form; use well-formed text"
            );
            let err = error_with_code(&mut cx, ERR_DATA_KEY, &message)?;
            return cx.throw(err);
        }
        Err(Unpack::Malformed) => {
            return cx.throw_error("dataReplace: the packed entries do not match their lengths");
        }
    };
    match data.replace(entries) {
        Ok(()) => Ok(cx.undefined()),
        Err(e) => throw_data_error(&mut cx, &e),
    }
}

/// The arguments of `dataReplace` that hold the entries.
struct Packed<'a> {
    keys: &'a [u16],
    texts: &'a [u16],
    blobs: &'a [u8],
}

/// Why the packed entries cannot be read.
enum Unpack {
    /// The lengths do not cut the arguments exactly.
    Malformed,
    /// A key that is not well-formed UTF-16 (shown lossily).
    LoneSurrogate(String),
}

impl Packed<'_> {
    /// The entries; `B` is the host's byte string (`bytes::Bytes`), built
    /// from each `Vec` without a copy.
    fn unpack<B: From<Vec<u8>>>(&self, lengths: &[f64]) -> Result<Vec<(String, B)>, Unpack> {
        if !lengths.len().is_multiple_of(3) {
            return Err(Unpack::Malformed);
        }
        let mut entries = Vec::with_capacity(lengths.len() / 3);
        let (mut k, mut t, mut b) = (0usize, 0usize, 0usize);
        for entry in lengths.chunks_exact(3) {
            let key = take(self.keys, &mut k, entry[0])?;
            let key = String::from_utf16(key)
                .map_err(|_| Unpack::LoneSurrogate(String::from_utf16_lossy(key)))?;
            let value = if entry[2] == 1.0 {
                String::from_utf16_lossy(take(self.texts, &mut t, entry[1])?).into_bytes()
            } else {
                take(self.blobs, &mut b, entry[1])?.to_vec()
            };
            entries.push((key, B::from(value)));
        }
        if (k, t, b) != (self.keys.len(), self.texts.len(), self.blobs.len()) {
            return Err(Unpack::Malformed);
        }
        Ok(entries)
    }
}

/// The next `len` items of `all` from `*at`, moving `*at` past them.
fn take<'a, T>(all: &'a [T], at: &mut usize, len: f64) -> Result<&'a [T], Unpack> {
    let end = at.checked_add(len as usize).ok_or(Unpack::Malformed)?;
    let part = all.get(*at..end).ok_or(Unpack::Malformed)?;
    *at = end;
    Ok(part)
}

/// `dataClear(data)`: removes every key.
pub fn data_clear(mut cx: FunctionContext) -> JsResult<JsUndefined> {
    handle(&mut cx)?.clear();
    Ok(cx.undefined())
}

/// `dataInfo(data) -> { size, bytes, maxBytes }`, size and bytes of one
/// version.
pub fn data_info(mut cx: FunctionContext) -> JsResult<JsObject> {
    let data = handle(&mut cx)?;
    let snapshot = data.snapshot();
    let obj = cx.empty_object();
    obj.prop(&mut cx, "size")
        .set(snapshot.len() as f64)?
        .prop("bytes")
        .set(snapshot.bytes() as f64)?
        .prop("maxBytes")
        .set(data.max_bytes() as f64)?;
    Ok(obj)
}

/// `dataSetMaxBytes(data, max: number)`. Throws `ERR_DATA_TOO_LARGE` when
/// the data holds more than `max`; the cap is unchanged then.
pub fn data_set_max_bytes(mut cx: FunctionContext) -> JsResult<JsUndefined> {
    let data = handle(&mut cx)?;
    let max = cx.argument::<JsNumber>(1)?.value(&mut cx);
    match data.set_max_bytes(max as u64) {
        Ok(()) => Ok(cx.undefined()),
        Err(e) => throw_data_error(&mut cx, &e),
    }
}

fn handle(cx: &mut FunctionContext) -> NeonResult<Arc<ContextData>> {
    Ok(cx.argument::<DataBox>(0)?.0.clone())
}

fn data_and_key(cx: &mut FunctionContext) -> NeonResult<(Arc<ContextData>, String)> {
    let data = handle(cx)?;
    let key = cx.argument::<JsString>(1)?.value(cx);
    Ok((data, key))
}

/// Throws `e` as an `Error` with its code; `ERR_DATA_TOO_LARGE` also carries
/// `limit` and `wouldBe` (bytes) for `lib/` to word the message.
fn throw_data_error<'a, T>(cx: &mut Cx<'a>, e: &DataError) -> NeonResult<T> {
    let err = match e {
        DataError::TooLarge { limit, would_be } => {
            let err = error_with_code(cx, ERR_DATA_TOO_LARGE, &e.to_string())?;
            err.prop(cx, "limit")
                .set(*limit as f64)?
                .prop("wouldBe")
                .set(*would_be as f64)?;
            err
        }
        DataError::BadKey { .. } => error_with_code(cx, ERR_DATA_KEY, &e.to_string())?,
    };
    cx.throw(err)
}
