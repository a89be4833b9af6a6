//! The bench's hook rules written in Rust against the host crate's backend
//! trait: the same rules as the wasm policy and the JS hooks (allow the
//! password "demo"; allow publishing under "<username>/").

use async_trait::async_trait;
use rmqtt_js_host::hooks::model::{
    AuthDecision, ConnectRequest, Message, PublishDecision, SessionInfo,
};
use rmqtt_js_host::hooks::{BackendKind, HookBackend, HookError};

pub struct BenchRules;

#[async_trait]
impl HookBackend for BenchRules {
    fn kind(&self) -> BackendKind {
        BackendKind::Native
    }

    async fn authenticate(&self, req: ConnectRequest) -> Result<AuthDecision, HookError> {
        Ok(AuthDecision {
            allow: req.password.as_deref() == Some(b"demo".as_slice()),
            ..AuthDecision::default()
        })
    }

    async fn authorize_publish(
        &self,
        session: SessionInfo,
        msg: Message,
    ) -> Result<PublishDecision, HookError> {
        let user = session.username.unwrap_or_default();
        let allow = msg
            .topic
            .strip_prefix(user.as_str())
            .is_some_and(|rest| rest.starts_with('/'))
            || msg.topic.starts_with("server/public/");
        Ok(PublishDecision {
            allow,
            ..PublishDecision::default()
        })
    }
}
