//! One live policy instance (a `Store` plus the guest's exported functions),
//! how it is created from the `InstancePre`, and how a call runs in it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::InstancePre;
use wasmtime::{Store, StoreContextMut, UpdateDeadline};

use super::bindings::{v0_1, v0_2};
use super::inspect::{ExportIndices, IndicesV0_1, IndicesV0_2};
use super::state::{GuestLimits, PolicyIdent, StoreState};
use super::wasi;
use crate::hooks::model;

/// A guest running longer than this yields to the async executor at every
/// epoch tick, so a spinning guest never holds a worker thread for long.
const YIELD_AFTER: Duration = Duration::from_millis(1);

/// One hook call, in the hook model (converted to the policy's WIT version
/// when it runs).
pub(crate) enum Call {
    Authenticate(model::ConnectRequest),
    AuthorizeSubscribe(model::SessionInfo, model::Subscription),
    AuthorizePublish(model::SessionInfo, model::Message),
    Event(model::Event),
    ResolveTenant(model::ConnectRequest),
}

/// The answer to a [`Call`].
pub(crate) enum Reply {
    Auth(model::AuthDecision),
    Subscribe(model::SubscribeDecision),
    Publish(model::PublishDecision),
    Event,
    Tenant(Option<String>),
}

/// The guest's exported functions, for the interfaces it exports.
enum GuestFuncs {
    V0_1 {
        authenticate: Option<v0_1::authenticate::Guest>,
        authorize_subscribe: Option<v0_1::authorize_subscribe::Guest>,
        authorize_publish: Option<v0_1::authorize_publish::Guest>,
        events: Option<v0_1::events::Guest>,
        tenant_resolver: Option<v0_1::tenant_resolver::Guest>,
    },
    V0_2 {
        lifecycle: Option<v0_2::lifecycle::Guest>,
        authenticate: Option<v0_2::authenticate::Guest>,
        authorize_subscribe: Option<v0_2::authorize_subscribe::Guest>,
        authorize_publish: Option<v0_2::authorize_publish::Guest>,
        events: Option<v0_2::events::Guest>,
        tenant_resolver: Option<v0_2::tenant_resolver::Guest>,
    },
}

/// A live instance. Never reused after a failed call: a trapped instance's
/// state is unknown.
pub(crate) struct Slot {
    store: Store<StoreState>,
    funcs: GuestFuncs,
    /// Linear memory right after instantiation.
    initial_memory_bytes: usize,
}

/// Why an instance could not be created.
pub(crate) enum CreateError {
    /// Instantiation failed (start code trapped, a limit or the pool).
    Instantiate(wasmtime::Error),
    /// An export does not have the contract's type.
    Exports(wasmtime::Error),
}

/// Makes instances of one policy.
pub(crate) struct Factory {
    pub(crate) pre: InstancePre<StoreState>,
    pub(crate) indices: ExportIndices,
    pub(crate) ident: Arc<PolicyIdent>,
    pub(crate) max_memory_bytes: usize,
    pub(crate) config: Option<Arc<str>>,
}

/// Called by wasmtime at each epoch tick while the guest runs.
fn on_epoch(ctx: StoreContextMut<'_, StoreState>) -> wasmtime::Result<UpdateDeadline> {
    let state = ctx.data();
    let now = Instant::now();
    if now >= state.call_deadline {
        Ok(UpdateDeadline::Interrupt)
    } else if now.duration_since(state.call_started) >= YIELD_AFTER {
        Ok(UpdateDeadline::YieldCustom(
            1,
            Box::pin(tokio::task::yield_now()),
        ))
    } else {
        Ok(UpdateDeadline::Continue(1))
    }
}

impl Factory {
    /// A fresh instance; its start code runs under `deadline`.
    pub(crate) async fn create(&self, deadline: Instant) -> Result<Slot, CreateError> {
        let now = Instant::now();
        let state = StoreState {
            wasi: wasi::inert_ctx(&self.ident),
            ident: self.ident.clone(),
            table: Default::default(),
            limits: GuestLimits {
                max_memory_bytes: self.max_memory_bytes,
                memory_bytes: 0,
            },
            call_started: now,
            call_deadline: deadline,
            config: self.config.clone(),
            data: None,
        };
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|s| &mut s.limits);
        store.epoch_deadline_callback(on_epoch);
        store.set_epoch_deadline(1);
        let instance = self
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(CreateError::Instantiate)?;
        let funcs = match &self.indices {
            ExportIndices::V0_1(i) => load_v0_1(i, &mut store, &instance),
            ExportIndices::V0_2(i) => load_v0_2(i, &mut store, &instance),
        }
        .map_err(CreateError::Exports)?;
        let initial_memory_bytes = store.data().limits.memory_bytes;
        Ok(Slot {
            store,
            funcs,
            initial_memory_bytes,
        })
    }
}

impl Slot {
    /// Bytes of linear memory the instance holds.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.store.data().limits.memory_bytes
    }

    /// Whether the instance has used more than half of the memory it had
    /// left under the cap after instantiation (then it is retired).
    pub(crate) fn memory_grew_past_half(&self) -> bool {
        let limits = &self.store.data().limits;
        let initial = self.initial_memory_bytes;
        let threshold = initial + limits.max_memory_bytes.saturating_sub(initial) / 2;
        limits.memory_bytes > threshold
    }

    /// Runs one call under `deadline`. `Ok(Err(message))`: the guest
    /// answered with an error (0.2.0 decisions), which leaves the instance
    /// sound. The caller checked that the policy exports the interface.
    pub(crate) async fn call(
        &mut self,
        call: Call,
        deadline: Instant,
    ) -> wasmtime::Result<Result<Reply, String>> {
        let result = self.run(call, deadline).await;
        // The instance must not keep an old version of the data alive.
        if let Some(snapshot) = self.store.data_mut().data.take() {
            crate::data::release(snapshot);
        }
        result
    }

    async fn run(
        &mut self,
        call: Call,
        deadline: Instant,
    ) -> wasmtime::Result<Result<Reply, String>> {
        let state = self.store.data_mut();
        state.call_started = Instant::now();
        state.call_deadline = deadline;
        state.data = crate::data::scope::current();
        self.store.set_epoch_deadline(1);
        let store = &mut self.store;
        let missing = || wasmtime::format_err!("the policy does not export this interface");
        Ok(match &self.funcs {
            GuestFuncs::V0_1 {
                authenticate,
                authorize_subscribe,
                authorize_publish,
                events,
                tenant_resolver,
            } => Ok(match call {
                Call::Authenticate(req) => {
                    let g = authenticate.as_ref().ok_or_else(missing)?;
                    Reply::Auth(g.call_authenticate(store, &req.into()).await?.into())
                }
                Call::AuthorizeSubscribe(session, sub) => {
                    let g = authorize_subscribe.as_ref().ok_or_else(missing)?;
                    let d = g
                        .call_authorize_subscribe(store, &session.into(), &sub.into())
                        .await?;
                    Reply::Subscribe(d.into())
                }
                Call::AuthorizePublish(session, msg) => {
                    let g = authorize_publish.as_ref().ok_or_else(missing)?;
                    let d = g
                        .call_authorize_publish(store, &session.into(), &msg.into())
                        .await?;
                    Reply::Publish(d.into())
                }
                Call::Event(event) => {
                    let g = events.as_ref().ok_or_else(missing)?;
                    g.call_on_event(store, &event.into()).await?;
                    Reply::Event
                }
                Call::ResolveTenant(req) => {
                    let g = tenant_resolver.as_ref().ok_or_else(missing)?;
                    Reply::Tenant(g.call_resolve_tenant(store, &req.into()).await?)
                }
            }),
            GuestFuncs::V0_2 {
                lifecycle: _,
                authenticate,
                authorize_subscribe,
                authorize_publish,
                events,
                tenant_resolver,
            } => match call {
                Call::Authenticate(req) => {
                    let g = authenticate.as_ref().ok_or_else(missing)?;
                    let r = g.call_authenticate(store, &req.into()).await?;
                    r.map(|d| Reply::Auth(d.into()))
                }
                Call::AuthorizeSubscribe(session, sub) => {
                    let g = authorize_subscribe.as_ref().ok_or_else(missing)?;
                    let r = g
                        .call_authorize_subscribe(store, &session.into(), &sub.into())
                        .await?;
                    r.map(|d| Reply::Subscribe(d.into()))
                }
                Call::AuthorizePublish(session, msg) => {
                    let g = authorize_publish.as_ref().ok_or_else(missing)?;
                    let r = g
                        .call_authorize_publish(store, &session.into(), &msg.into())
                        .await?;
                    r.map(|d| Reply::Publish(d.into()))
                }
                Call::Event(event) => {
                    let g = events.as_ref().ok_or_else(missing)?;
                    g.call_on_event(store, &event.into()).await?;
                    Ok(Reply::Event)
                }
                Call::ResolveTenant(req) => {
                    let g = tenant_resolver.as_ref().ok_or_else(missing)?;
                    g.call_resolve_tenant(store, &req.into())
                        .await?
                        .map(Reply::Tenant)
                }
            },
        })
    }

    /// Runs the policy's `lifecycle.init` (0.2.0), if it exports one.
    /// `Ok(Err(message))`: init refused.
    pub(crate) async fn init(&mut self, deadline: Instant) -> wasmtime::Result<Result<(), String>> {
        let GuestFuncs::V0_2 {
            lifecycle: Some(g), ..
        } = &self.funcs
        else {
            return Ok(Ok(()));
        };
        let state = self.store.data_mut();
        state.call_started = Instant::now();
        state.call_deadline = deadline;
        state.data = crate::data::scope::current();
        self.store.set_epoch_deadline(1);
        g.call_init(&mut self.store).await
    }
}

/// Loads the 0.1.0 functions of the interfaces present.
fn load_v0_1(
    i: &IndicesV0_1,
    store: &mut Store<StoreState>,
    instance: &wasmtime::component::Instance,
) -> Result<GuestFuncs, wasmtime::Error> {
    Ok(GuestFuncs::V0_1 {
        authenticate: i
            .authenticate
            .as_ref()
            .map(|x| x.load(&mut *store, instance))
            .transpose()?,
        authorize_subscribe: i
            .authorize_subscribe
            .as_ref()
            .map(|x| x.load(&mut *store, instance))
            .transpose()?,
        authorize_publish: i
            .authorize_publish
            .as_ref()
            .map(|x| x.load(&mut *store, instance))
            .transpose()?,
        events: i
            .events
            .as_ref()
            .map(|x| x.load(&mut *store, instance))
            .transpose()?,
        tenant_resolver: i
            .tenant_resolver
            .as_ref()
            .map(|x| x.load(&mut *store, instance))
            .transpose()?,
    })
}

/// Loads the 0.2.0 functions of the interfaces present.
fn load_v0_2(
    i: &IndicesV0_2,
    store: &mut Store<StoreState>,
    instance: &wasmtime::component::Instance,
) -> Result<GuestFuncs, wasmtime::Error> {
    Ok(GuestFuncs::V0_2 {
        lifecycle: i
            .lifecycle
            .as_ref()
            .map(|x| x.load(&mut *store, instance))
            .transpose()?,
        authenticate: i
            .authenticate
            .as_ref()
            .map(|x| x.load(&mut *store, instance))
            .transpose()?,
        authorize_subscribe: i
            .authorize_subscribe
            .as_ref()
            .map(|x| x.load(&mut *store, instance))
            .transpose()?,
        authorize_publish: i
            .authorize_publish
            .as_ref()
            .map(|x| x.load(&mut *store, instance))
            .transpose()?,
        events: i
            .events
            .as_ref()
            .map(|x| x.load(&mut *store, instance))
            .transpose()?,
        tenant_resolver: i
            .tenant_resolver
            .as_ref()
            .map(|x| x.load(&mut *store, instance))
            .transpose()?,
    })
}
