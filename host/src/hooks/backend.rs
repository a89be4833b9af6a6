//! The contract between the hook router and whatever answers a hook.
//!
//! The JS bridge (node-addon) and the wasm engine (`crate::wasm`) both implement
//! [`HookBackend`]; the router never knows which one it calls.

use async_trait::async_trait;

use super::model::{
    AuthDecision, ConnectRequest, Event, Message, PublishDecision, SessionInfo, SubscribeDecision,
    Subscription,
};

/// How many calls of one decision hook a backend that can hang (a JS callback
/// whose promise never settles) keeps waiting at once, per broker context.
/// More are refused at once with [`HookError::Overloaded`] (a deny), so a call
/// never queues behind hung ones: a hung call costs its place until the hook
/// timeout, and only its own client waits for it.
///
/// Each listener allows [`MAX_HANDSHAKES_IN_FLIGHT`] handshakes at once, more
/// than this, so that authentications refused this way do not queue in rmqtt.
pub const MAX_DECISIONS_IN_FLIGHT: usize = 4_096;

/// rmqtt's `max_handshaking_limit` for every listener: the handshakes one
/// listener runs at once (rmqtt queues the others, first come first served).
/// More than [`MAX_DECISIONS_IN_FLIGHT`], so hung authentications (at most
/// that many per context) never take every handshake slot and a well-behaved
/// client's CONNECT never waits for one. Each slot costs ~0.6 KiB once the
/// listener has seen its first connection (~3 MiB; rmqtt's default of 1,000
/// slots let 2,000 hung authentications lock every other client out).
pub const MAX_HANDSHAKES_IN_FLIGHT: usize = MAX_DECISIONS_IN_FLIGHT + 1_024;

/// Which family of backend answered a hook (for stats and logs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendKind {
    Js,
    Wasm,
    /// A backend written in Rust by an embedder (tests, benches).
    Native,
}

impl BackendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Js => "js",
            BackendKind::Wasm => "wasm",
            BackendKind::Native => "native",
        }
    }
}

/// Why a backend could not answer. Decisions turn every error into a deny.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    /// The backend does not serve this hook.
    #[error("the backend does not implement this hook")]
    NotSupported,
    /// The answer did not come within the hook's deadline.
    #[error("timed out after {0} ms")]
    Timeout(u64),
    /// The JS callback threw or its promise rejected.
    #[error("callback threw: {0}")]
    Threw(String),
    /// The callback returned something that is not a valid answer.
    #[error("invalid return value: {0}")]
    BadReturn(String),
    /// A wasm guest trapped (including a memory-cap breach).
    #[error("policy trapped: {0}")]
    Trapped(String),
    /// A wasm policy answered with an error (`err` of a 0.2.0 decision; a
    /// JS guest's thrown exception). The instance is kept.
    #[error("policy returned an error: {0}")]
    PolicyError(String),
    /// A wasm guest ran past its deadline (epoch interruption).
    #[error("policy exceeded its deadline")]
    DeadlineExceeded,
    /// Too many calls in flight; the call was not made.
    #[error("too many hook calls in flight")]
    Overloaded,
    /// The backend is gone (server stopped, JS side closed).
    #[error("backend unavailable: {0}")]
    Unavailable(String),
}

/// Something that answers hooks.
///
/// Decision methods may take as long as they need: the router applies the
/// timeout. [`HookBackend::notify`] must return quickly (the router calls it
/// from one dispatcher task per server, in event order).
#[async_trait]
pub trait HookBackend: Send + Sync + 'static {
    /// The family of this backend.
    fn kind(&self) -> BackendKind;

    async fn authenticate(&self, _req: ConnectRequest) -> Result<AuthDecision, HookError> {
        Err(HookError::NotSupported)
    }

    async fn authorize_subscribe(
        &self,
        _session: SessionInfo,
        _sub: Subscription,
    ) -> Result<SubscribeDecision, HookError> {
        Err(HookError::NotSupported)
    }

    async fn authorize_publish(
        &self,
        _session: SessionInfo,
        _msg: Message,
    ) -> Result<PublishDecision, HookError> {
        Err(HookError::NotSupported)
    }

    async fn notify(&self, _event: Event) -> Result<(), HookError> {
        Err(HookError::NotSupported)
    }

    /// Picks the tenant of a connecting client (`Ok(None)`: no tenant
    /// matches). Only called when the server has tenants and this backend is
    /// its tenant resolver.
    async fn resolve_tenant(&self, _req: ConnectRequest) -> Result<Option<String>, HookError> {
        Err(HookError::NotSupported)
    }
}
