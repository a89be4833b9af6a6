//! The native half of one `MqttServer`: a host `Broker`, plus the JS-side
//! resources the bridge owns for it (the hook bridge, and a keep-alive that
//! holds Node's event loop open while the broker runs, like a listening
//! `net.Server` does).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use neon::prelude::*;
use neon::types::buffer::TypedArray;
use rmqtt_js_host::hooks::HookSet;
use rmqtt_js_host::{Broker, BrokerError, ListenerInfo, ServerConfig};

use crate::errors;
use crate::hook_set::bind_hooks;
use crate::js_backend::bridge::BridgeSlot;
use crate::js_backend::in_flight::InFlight;
use crate::runtime;
use crate::tenants::TenantBridges;

pub struct Server {
    broker: Broker,
    /// Unref'd; every channel of this server is a clone of it.
    channel: Channel,
    /// The bridge of the hook set in force; emptied by `stop`.
    bridge: Arc<Mutex<Option<Arc<BridgeSlot>>>>,
    /// A referenced channel, held while the broker runs.
    keepalive: Arc<Mutex<Option<Channel>>>,
    /// The in-flight bound of the server's own hooks and its tenant resolver.
    in_flight: InFlight,
    /// Each tenant's own in-flight bound, by tenant id (kept across
    /// `setHooks` swaps, so hung calls of a replaced set still count).
    tenant_in_flight: Mutex<HashMap<String, InFlight>>,
    /// Each tenant's bridge and the tenant resolver; emptied by `stop`.
    tenants: Arc<TenantBridges>,
}

impl Finalize for Server {
    /// `lib/` keeps running servers reachable, so a collected server should
    /// be stopped already; if not, stop it rather than leak its listeners.
    fn finalize<'a, C: Context<'a>>(self, _cx: &mut C) {
        if self.broker.is_running() {
            if let Some(rt) = runtime::existing() {
                rt.spawn(self.broker.stop());
            }
        }
    }
}

pub(crate) type ServerBox = JsBox<Server>;

impl Server {
    /// The host broker behind this server (for `crate::stats`).
    pub(crate) fn broker(&self) -> &Broker {
        &self.broker
    }

    /// The unref'd channel every hook call of this server goes through.
    pub(crate) fn channel(&self) -> &Channel {
        &self.channel
    }

    /// The bound on the JS calls in flight of this server's own hooks and
    /// of its tenant resolver.
    pub(crate) fn in_flight(&self) -> &InFlight {
        &self.in_flight
    }

    /// The bound on the JS calls in flight of tenant `id`'s hooks: its own,
    /// so that one tenant's hung hooks never refuse another's clients.
    pub(crate) fn in_flight_of(&self, id: &str) -> InFlight {
        lock(&self.tenant_in_flight)
            .entry(id.to_string())
            .or_default()
            .clone()
    }

    /// The JS side of this server's tenants (for `crate::tenants`).
    pub(crate) fn tenants(&self) -> &Arc<TenantBridges> {
        &self.tenants
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `serverNew() -> handle`.
pub fn server_new(mut cx: FunctionContext) -> JsResult<ServerBox> {
    let mut channel = Channel::new(&mut cx);
    channel.unref(&mut cx);
    Ok(cx.boxed(Server {
        broker: Broker::new(),
        channel,
        bridge: Arc::default(),
        keepalive: Arc::default(),
        in_flight: InFlight::default(),
        tenant_in_flight: Mutex::default(),
        tenants: Arc::default(),
    }))
}

/// `serverStart(handle, configJson) -> Promise<ListenerInfo[]>`.
pub fn server_start(mut cx: FunctionContext) -> JsResult<JsPromise> {
    let server = cx.argument::<ServerBox>(0)?;
    let json = cx.argument::<JsString>(1)?.value(&mut cx);
    let broker = server.broker.clone();
    let running = server.broker.clone();
    let keepalive = server.keepalive.clone();
    let hold = runtime::referenced(&mut cx, &server.channel);
    let work = async move {
        let cfg = ServerConfig::from_json(&json).map_err(BrokerError::from)?;
        broker.start(cfg).await
    };
    runtime::promise(&mut cx, &server.channel, work, move |cx, started| {
        match started {
            Ok(listeners) => {
                // A stop may have completed in between: keep Node alive only
                // if the broker still runs.
                if running.is_running() {
                    *lock(&keepalive) = Some(hold);
                }
                listeners_to_js(cx, &listeners)
            }
            Err(e) => {
                let err = errors::broker_error(cx, &e)?;
                cx.throw(err)
            }
        }
    })
}

/// `serverStop(handle) -> Promise<void>`: stops the broker, then releases
/// the hooks' JS functions and the keep-alive. Idempotent.
pub fn server_stop(mut cx: FunctionContext) -> JsResult<JsPromise> {
    let server = cx.argument::<ServerBox>(0)?;
    let broker = server.broker.clone();
    let bridge = server.bridge.clone();
    let keepalive = server.keepalive.clone();
    let tenants = server.tenants.clone();
    runtime::promise(
        &mut cx,
        &server.channel,
        server.broker.stop(),
        move |cx, stopped| {
            if !broker.is_running() {
                broker.set_hooks(HookSet::new());
                let slot = lock(&bridge).take();
                if let Some(slot) = slot {
                    slot.empty(cx);
                }
                tenants.release(cx, &broker);
                drop(lock(&keepalive).take());
            }
            match stopped {
                Ok(()) => Ok(cx.undefined().upcast::<JsValue>()),
                Err(e) => {
                    let err = errors::broker_error(cx, &e)?;
                    cx.throw(err)
                }
            }
        },
    )
}

/// `serverPublish(handle, topic, payload: Buffer, qos, retain, tenant?) ->
/// Promise<void>`: to one tenant's clients when `tenant` is a string
/// (`ERR_TENANT_UNKNOWN` if not declared), else to the default clients.
pub fn server_publish(mut cx: FunctionContext) -> JsResult<JsPromise> {
    let server = cx.argument::<ServerBox>(0)?;
    let topic = cx.argument::<JsString>(1)?.value(&mut cx);
    let payload = cx.argument::<JsBuffer>(2)?.as_slice(&cx).to_vec();
    let qos = cx.argument::<JsNumber>(3)?.value(&mut cx);
    let retain = cx.argument::<JsBoolean>(4)?.value(&mut cx);
    let tenant = match cx.argument_opt(5) {
        Some(v) => v
            .downcast::<JsString, _>(&mut cx)
            .ok()
            .map(|s| s.value(&mut cx)),
        None => None,
    };
    // A non-integer QoS reaches the host as an invalid level.
    let qos = if qos.fract() == 0.0 { qos as i64 } else { -1 };
    let work = server
        .broker
        .publish_to(tenant, topic, payload, qos, retain);
    runtime::promise(
        &mut cx,
        &server.channel,
        work,
        |cx, published| match published {
            Ok(()) => Ok(cx.undefined().upcast::<JsValue>()),
            Err(e) => {
                let err = errors::broker_error(cx, &e)?;
                cx.throw(err)
            }
        },
    )
}

/// `serverSetHooks(handle, hooks)`: binds every hook of `hooks` and swaps the
/// whole set in at once (allowed while running).
pub fn server_set_hooks(mut cx: FunctionContext) -> JsResult<JsUndefined> {
    let server = cx.argument::<ServerBox>(0)?;
    let hooks = cx.argument::<JsObject>(1)?;
    let bound = bind_hooks(&mut cx, hooks, &server.channel, &server.in_flight)?;
    server.broker.set_hooks(bound.set);
    // The previous bridge stays usable by calls in flight; it is released
    // when the last of them ends.
    *lock(&server.bridge) = Some(bound.slot);
    Ok(cx.undefined())
}

/// `serverIsRunning(handle) -> boolean`.
pub fn server_is_running(mut cx: FunctionContext) -> JsResult<JsBoolean> {
    let server = cx.argument::<ServerBox>(0)?;
    let running = server.broker.is_running();
    Ok(cx.boolean(running))
}

/// `[{ name, protocol, address, port }]`, with the ports really bound.
fn listeners_to_js<'a>(cx: &mut Cx<'a>, listeners: &[ListenerInfo]) -> JsResult<'a, JsValue> {
    let array = cx.empty_array();
    for (i, l) in listeners.iter().enumerate() {
        let obj = cx.empty_object();
        obj.prop(cx, "name")
            .set(l.name.as_str())?
            .prop("protocol")
            .set(l.protocol.as_str())?
            .prop("address")
            .set(l.address.as_str())?
            .prop("port")
            .set(f64::from(l.port))?;
        array.prop(cx, i as u32).set(obj)?;
    }
    Ok(array.upcast())
}
