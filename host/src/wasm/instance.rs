//! One live policy instance (a `Store` plus the guest's exported functions),
//! how it is created from the `InstancePre`, and how a call runs in it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::InstancePre;
use wasmtime::{Store, StoreContextMut, UpdateDeadline};

use super::bindings::v0_1::{
    authenticate, authorize_publish, authorize_subscribe, events, tenant_resolver, types as wit,
};
use super::inspect::ExportIndices;
use super::state::{GuestLimits, PolicyIdent, StoreState};
use super::wasi;

/// A guest running longer than this yields to the async executor at every
/// epoch tick, so a spinning guest never holds a worker thread for long.
const YIELD_AFTER: Duration = Duration::from_millis(1);

/// One hook call, in the types of the WIT version the policy speaks.
pub(crate) enum Call {
    Authenticate(wit::ConnectRequest),
    AuthorizeSubscribe(wit::Session, wit::Subscription),
    AuthorizePublish(wit::Session, wit::Message),
    Event(wit::Event),
    ResolveTenant(wit::ConnectRequest),
}

/// The answer to a [`Call`].
pub(crate) enum Reply {
    Auth(wit::AuthDecision),
    Subscribe(wit::SubscribeDecision),
    Publish(wit::PublishDecision),
    Event,
    Tenant(Option<String>),
}

/// The guest's exported functions, for the interfaces it exports.
struct GuestFuncs {
    authenticate: Option<authenticate::Guest>,
    authorize_subscribe: Option<authorize_subscribe::Guest>,
    authorize_publish: Option<authorize_publish::Guest>,
    events: Option<events::Guest>,
    tenant_resolver: Option<tenant_resolver::Guest>,
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
        let i = &self.indices;
        let funcs = (|| {
            Ok::<_, wasmtime::Error>(GuestFuncs {
                authenticate: i
                    .authenticate
                    .as_ref()
                    .map(|x| x.load(&mut store, &instance))
                    .transpose()?,
                authorize_subscribe: i
                    .authorize_subscribe
                    .as_ref()
                    .map(|x| x.load(&mut store, &instance))
                    .transpose()?,
                authorize_publish: i
                    .authorize_publish
                    .as_ref()
                    .map(|x| x.load(&mut store, &instance))
                    .transpose()?,
                events: i
                    .events
                    .as_ref()
                    .map(|x| x.load(&mut store, &instance))
                    .transpose()?,
                tenant_resolver: i
                    .tenant_resolver
                    .as_ref()
                    .map(|x| x.load(&mut store, &instance))
                    .transpose()?,
            })
        })()
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

    /// Runs one call under `deadline`. The caller checked that the policy
    /// exports the interface.
    pub(crate) async fn call(&mut self, call: &Call, deadline: Instant) -> wasmtime::Result<Reply> {
        let state = self.store.data_mut();
        state.call_started = Instant::now();
        state.call_deadline = deadline;
        self.store.set_epoch_deadline(1);
        let store = &mut self.store;
        let missing = || wasmtime::format_err!("the policy does not export this interface");
        Ok(match call {
            Call::Authenticate(req) => {
                let g = self.funcs.authenticate.as_ref().ok_or_else(missing)?;
                Reply::Auth(g.call_authenticate(store, req).await?)
            }
            Call::AuthorizeSubscribe(session, sub) => {
                let g = self
                    .funcs
                    .authorize_subscribe
                    .as_ref()
                    .ok_or_else(missing)?;
                Reply::Subscribe(g.call_authorize_subscribe(store, session, sub).await?)
            }
            Call::AuthorizePublish(session, msg) => {
                let g = self.funcs.authorize_publish.as_ref().ok_or_else(missing)?;
                Reply::Publish(g.call_authorize_publish(store, session, msg).await?)
            }
            Call::Event(event) => {
                let g = self.funcs.events.as_ref().ok_or_else(missing)?;
                g.call_on_event(store, event).await?;
                Reply::Event
            }
            Call::ResolveTenant(req) => {
                let g = self.funcs.tenant_resolver.as_ref().ok_or_else(missing)?;
                Reply::Tenant(g.call_resolve_tenant(store, req).await?)
            }
        })
    }
}
