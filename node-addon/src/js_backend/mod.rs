//! The JS backend: answers hooks by calling the functions of one `setHooks`
//! object on the JS thread, through the server's unref'd Channel.
//!
//! Decisions wait for the callback (and its promise); the host's router
//! applies the timeout, deny-on-error and mutation checks. Notifications are
//! sent without waiting. Both count against their hook's lane of the
//! context's in-flight bound ([`in_flight`]).

pub mod bridge;
pub mod in_flight;
pub mod invoke;

use std::sync::Arc;

use async_trait::async_trait;
use neon::prelude::*;
use rmqtt_js_host::hooks::model::{
    AuthDecision, ConnectRequest, Event, Message, PublishDecision, SessionInfo, SubscribeDecision,
    Subscription,
};
use rmqtt_js_host::hooks::{BackendKind, HookBackend, HookError, HookKind};

use crate::marshal::from_js;
use crate::marshal::to_js::HookArgs;
use bridge::{Bridge, BridgeSlot};
use in_flight::InFlight;
use invoke::{shutting_down, Convert, Lookup};

pub struct JsBackend {
    slot: Arc<BridgeSlot>,
    in_flight: InFlight,
}

impl JsBackend {
    pub fn new(slot: Arc<BridgeSlot>, in_flight: InFlight) -> JsBackend {
        JsBackend { slot, in_flight }
    }

    fn bridge(&self) -> Result<Arc<Bridge>, HookError> {
        self.slot
            .get()
            .ok_or_else(|| HookError::Unavailable("the server was stopped".into()))
    }

    /// Calls the decision hook `kind` and waits for its answer.
    async fn decide<A: HookArgs, T: Send + 'static>(
        &self,
        kind: HookKind,
        args: A,
        convert: Convert<T>,
    ) -> Result<T, HookError> {
        let place = self.in_flight.try_acquire(kind)?;
        let bridge = self.bridge()?;
        let channel = bridge.channel.clone();
        let lookup: Lookup = Box::new(move |cx| bridge.function(kind).map(|f| f.to_inner(cx)));
        invoke::decide(&channel, place, lookup, args, convert).await
    }
}

#[async_trait]
impl HookBackend for JsBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Js
    }

    async fn authenticate(&self, req: ConnectRequest) -> Result<AuthDecision, HookError> {
        self.decide(HookKind::ClientAuthenticate, req, from_js::auth_decision)
            .await
    }

    async fn authorize_subscribe(
        &self,
        session: SessionInfo,
        sub: Subscription,
    ) -> Result<SubscribeDecision, HookError> {
        self.decide(
            HookKind::ClientSubscribeAuthorize,
            (session, sub),
            from_js::subscribe_decision,
        )
        .await
    }

    async fn authorize_publish(
        &self,
        session: SessionInfo,
        msg: Message,
    ) -> Result<PublishDecision, HookError> {
        self.decide(
            HookKind::ClientPublishAuthorize,
            (session, msg),
            from_js::publish_decision,
        )
        .await
    }

    /// Queues the callback on the JS thread and returns at once.
    async fn notify(&self, event: Event) -> Result<(), HookError> {
        let kind = HookKind::of_event(&event);
        let permit = self.in_flight.try_acquire(kind)?;
        let bridge = self.bridge()?;
        let target = bridge.clone();
        bridge
            .channel
            .try_send(move |mut cx| {
                let _permit = permit;
                let Some(root) = target.function(kind) else {
                    return Ok(());
                };
                let fired = cx.try_catch(|cx| {
                    let f = root.to_inner(cx);
                    let argv = event.to_args(cx)?;
                    invoke::fire(cx, kind, f, &argv);
                    Ok(())
                });
                if let Err(thrown) = fired {
                    let message = invoke::describe(&mut cx, thrown);
                    log::warn!(target: "rmqtt_js::hooks", "{kind}: cannot call the hook: {message}");
                }
                Ok(())
            })
            .map_err(|_| shutting_down())?;
        Ok(())
    }
}
