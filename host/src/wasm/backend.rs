//! [`WasmPolicy`] as a [`HookBackend`].

use async_trait::async_trait;

use super::instance::{Call, Reply};
use super::policy::WasmPolicy;
use crate::hooks::model::{
    AuthDecision, ConnectRequest, Event, Message, PublishDecision, SessionInfo, SubscribeDecision,
    Subscription,
};
use crate::hooks::{BackendKind, HookBackend, HookError};

/// A reply of the wrong kind cannot happen (each call has one reply kind).
fn mismatched() -> HookError {
    HookError::BadReturn("mismatched reply from the wasm engine".into())
}

#[async_trait]
impl HookBackend for WasmPolicy {
    fn kind(&self) -> BackendKind {
        BackendKind::Wasm
    }

    async fn authenticate(&self, req: ConnectRequest) -> Result<AuthDecision, HookError> {
        if !self.exports().authenticate {
            return Err(HookError::NotSupported);
        }
        match self.call(Call::Authenticate(req)).await? {
            Reply::Auth(d) => Ok(d),
            _ => Err(mismatched()),
        }
    }

    async fn authorize_subscribe(
        &self,
        session: SessionInfo,
        sub: Subscription,
    ) -> Result<SubscribeDecision, HookError> {
        if !self.exports().authorize_subscribe {
            return Err(HookError::NotSupported);
        }
        match self.call(Call::AuthorizeSubscribe(session, sub)).await? {
            Reply::Subscribe(d) => Ok(d),
            _ => Err(mismatched()),
        }
    }

    async fn authorize_publish(
        &self,
        session: SessionInfo,
        msg: Message,
    ) -> Result<PublishDecision, HookError> {
        if !self.exports().authorize_publish {
            return Err(HookError::NotSupported);
        }
        match self.call(Call::AuthorizePublish(session, msg)).await? {
            Reply::Publish(d) => Ok(d),
            _ => Err(mismatched()),
        }
    }

    async fn notify(&self, event: Event) -> Result<(), HookError> {
        if !self.exports().events {
            return Err(HookError::NotSupported);
        }
        match self.call(Call::Event(event)).await? {
            Reply::Event => Ok(()),
            _ => Err(mismatched()),
        }
    }

    async fn resolve_tenant(&self, req: ConnectRequest) -> Result<Option<String>, HookError> {
        if !self.exports().tenant_resolver {
            return Err(HookError::NotSupported);
        }
        match self.call(Call::ResolveTenant(req)).await? {
            Reply::Tenant(t) => Ok(t.filter(|t| !t.is_empty())),
            _ => Err(mismatched()),
        }
    }
}
