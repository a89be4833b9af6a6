//! The hook router: rmqtt's hook points → the backend bound to each hook in the
//! current [`HookSet`] → an answer rmqtt understands.
//!
//! Seed semantics it upholds on top of rmqtt:
//! - A hook that is not bound leaves rmqtt's default (anonymous per listener,
//!   subscriptions allowed, publishes allowed except to `$SYS/…`).
//! - Decisions time out (default 5 s) and every error or timeout is a deny +
//!   WARN (repeated WARNs rate-limited per context, see [`WarnLimiter`]).
//! - A publish ACL's answer is applied by [`publish_acl`]: a rewrite only
//!   where the publisher could have published itself and within its
//!   listener's `maxPacketSize`; a deny as a mark on the message.
//! - Notification points become [`events`] for the bound backends.
//! - rmqtt runs `MessagePublish` *before* `MessagePublishCheckAcl`; the publish
//!   ACL therefore runs in the `MessagePublish` step (so its rewrite is what
//!   subscribers get, and it runs once per publish), and a deny marks the
//!   message so that the `MessagePublishCheckAcl` step rejects it.
//!
//! Only the boot code (`crate::broker::boot`) builds a router.
//! - rmqtt skips `ClientAuthenticate` for anonymous clients when anonymous is
//!   allowed; listeners are bound with anonymous *off* so that every CONNECT
//!   reaches the router, which applies the listener's own `allowAnonymous`.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rmqtt::codec::v5::SubscribeAckReason;
use rmqtt::context::ServerContext;
use rmqtt::hook::{Handler, HookResult, Parameter, ReturnType, Type};
use rmqtt::session::Session;
use rmqtt::types::{AuthResult, FromType, Publish, PublishAclResult, SubscribeAclResult};

use super::convert;
use super::events;
use super::listener_rules::ListenerTable;
use super::model::{Event, Message, Subscription};
use super::mutation::{granted_qos, is_system_topic};
use super::notify::Notifier;
use super::publish_acl::{self, denied_reason, mark_denied, RewriteLimits};
use super::stats::{HookStats, Outcome};
use super::superusers::Superusers;
use super::traffic::Traffic;
use super::{HookBackend, HookError, HookKind, HookSet, HookSlot};
use crate::data::scope::serving;
use crate::data::ContextData;
use crate::logging::limit::WarnLimiter;
use crate::tenants::cert_handoff::CertHandoff;

const TARGET: &str = "rmqtt_js::hooks";

pub struct HookRouter {
    /// The tenant this router's context serves (`None`: the default context).
    tenant: Option<String>,
    traffic: Arc<Traffic>,
    hooks: Arc<HookSlot>,
    listeners: ListenerTable,
    timeout: Duration,
    notifier: Notifier,
    stats: Arc<HookStats>,
    /// Tenant contexts only: superusers as the tenant's auth hook made them.
    superusers: Superusers,
    /// Tenant contexts only: client certificates verified by a tls gateway.
    certs: Option<Arc<CertHandoff>>,
    /// This context's repeated WARNs.
    warn: WarnLimiter,
    /// How WARNs name the two ACLs whose answers the router applies.
    publish_source: Cow<'static, str>,
    subscribe_source: Cow<'static, str>,
    /// The data this context's hooks read; every call runs serving it.
    data: Arc<ContextData>,
}

impl HookRouter {
    /// Tenant contexts behind a tls gateway: where the gateway leaves the
    /// client certificates it verified (see [`CertHandoff`]).
    pub fn with_cert_handoff(mut self, certs: Option<Arc<CertHandoff>>) -> Self {
        self.certs = certs;
        self
    }

    /// One router per broker context, from that context's parts.
    #[allow(
        clippy::too_many_arguments,
        reason = "each argument is one part of the context the router serves; boot passes them once"
    )]
    pub fn new(
        tenant: Option<String>,
        traffic: Arc<Traffic>,
        hooks: Arc<HookSlot>,
        listeners: ListenerTable,
        timeout: Duration,
        notifier: Notifier,
        stats: Arc<HookStats>,
        data: Arc<ContextData>,
    ) -> Self {
        let publish_source = hook_source(tenant.as_deref(), HookKind::ClientPublishAuthorize);
        let subscribe_source = hook_source(tenant.as_deref(), HookKind::ClientSubscribeAuthorize);
        HookRouter {
            tenant,
            traffic,
            hooks,
            listeners,
            timeout,
            notifier,
            stats,
            superusers: Superusers::default(),
            certs: None,
            warn: WarnLimiter::new(),
            publish_source,
            subscribe_source,
            data,
        }
    }

    /// Registers the router on every rmqtt hook point it serves and enables it.
    pub async fn register(self: Arc<Self>, scx: &ServerContext) {
        let register = scx.extends.hook_mgr().register();
        for typ in [
            Type::ClientAuthenticate,
            Type::ClientSubscribeCheckAcl,
            Type::MessagePublishCheckAcl,
            Type::MessagePublish,
            Type::ClientConnect,
            Type::ClientConnack,
            Type::ClientConnected,
            Type::ClientDisconnected,
            Type::SessionCreated,
            Type::SessionSubscribed,
            Type::SessionUnsubscribed,
            Type::SessionTerminated,
            Type::ClientSubscribe,
            Type::ClientUnsubscribe,
            Type::MessageDelivered,
            Type::MessageAcked,
            Type::MessageDropped,
        ] {
            register
                .add(typ, Box::new(RouterHandler(self.clone())))
                .await;
        }
        register.start().await;
    }

    fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    fn allow_anonymous(&self, listener_id: u16) -> bool {
        self.listeners.get(listener_id).allow_anonymous
    }

    /// Runs a decision with the timeout, recording the call.
    async fn decide<T>(
        &self,
        kind: HookKind,
        backend: &Arc<dyn HookBackend>,
        call: impl Future<Output = Result<T, HookError>>,
        allowed: impl Fn(&T) -> bool,
    ) -> Result<T, HookError> {
        let started = Instant::now();
        let call = serving(self.data.clone(), call);
        let result = match tokio::time::timeout(self.timeout, call).await {
            Ok(r) => r,
            Err(_) => Err(HookError::Timeout(self.timeout.as_millis() as u64)),
        };
        let outcome = match &result {
            Ok(v) if allowed(v) => Outcome::Allow,
            Ok(_) => Outcome::Deny,
            Err(e) => {
                self.warn.warn(
                    TARGET,
                    format!(
                        "{} ({}) failed, denying: {e}",
                        hook_source(self.tenant(), kind),
                        backend.kind().as_str()
                    ),
                );
                Outcome::of_error(e)
            }
        };
        self.stats
            .record(kind, backend.kind(), outcome, started.elapsed());
        result
    }

    fn notify(&self, set: &HookSet, kind: HookKind, event: impl FnOnce() -> Event) {
        if let Some(backend) = set.get(kind) {
            self.notifier.send(backend.clone(), event());
        }
    }

    async fn authenticate(&self, ci: &rmqtt::types::ConnectInfo) -> AuthResult {
        let set = self.hooks.load();
        let Some(backend) = set.get(HookKind::ClientAuthenticate) else {
            if self.allow_anonymous(ci.id().lid) {
                return self.allow(ci, false);
            }
            self.notify_refusal(&set, ci, &AuthResult::NotAuthorized);
            return AuthResult::NotAuthorized;
        };
        let mut req = convert::connect_request(ci, self.tenant());
        if req.client_cert.is_none() {
            if let (Some(certs), Some(remote)) = (&self.certs, ci.id().remote_addr) {
                req.client_cert = certs.take(remote, &ci.id().client_id);
            }
        }
        let result = match self
            .decide(
                HookKind::ClientAuthenticate,
                backend,
                backend.authenticate(req),
                |d| d.allow,
            )
            .await
        {
            Ok(d) if d.allow => self.allow(ci, d.superuser),
            Ok(_) => AuthResult::BadUsernameOrPassword,
            Err(_) => AuthResult::NotAuthorized,
        };
        self.notify_refusal(&set, ci, &result);
        result
    }

    /// Lets a client in. In a tenant context the router, not rmqtt, keeps
    /// the superuser flag (see [`Superusers`]).
    fn allow(&self, ci: &rmqtt::types::ConnectInfo, superuser: bool) -> AuthResult {
        if self.tenant.is_none() {
            return AuthResult::Allow(superuser, None);
        }
        self.superusers.set(&ci.id().client_id, superuser);
        AuthResult::Allow(false, None)
    }

    /// Whether `s` skips the ACLs: a superuser of this tenant, or one rmqtt knows.
    async fn is_superuser(&self, s: &Session) -> bool {
        self.superusers.contains(&s.id.client_id) || s.superuser().await.unwrap_or_default()
    }

    /// rmqtt skips its CONNACK hook on a refused handshake; the seed's
    /// `onClientConnack` fires for refusals too, so the router reports its own.
    fn notify_refusal(&self, set: &HookSet, ci: &rmqtt::types::ConnectInfo, result: &AuthResult) {
        let conn_ack = match result {
            AuthResult::BadUsernameOrPassword => "BadUsernameOrPassword",
            AuthResult::NotAuthorized => "NotAuthorized",
            _ => return,
        };
        self.notify(set, HookKind::ClientConnack, || Event::ClientConnack {
            info: convert::connect_info(ci, self.tenant()),
            conn_ack: conn_ack.to_string(),
        });
    }

    async fn authorize_subscribe(
        &self,
        s: &Session,
        sub: &rmqtt::types::Subscribe,
    ) -> Option<SubscribeAclResult> {
        let requested = sub.opts.qos();
        if self.superusers.contains(&s.id.client_id) {
            return Some(SubscribeAclResult::new_success(requested, None));
        }
        let set = self.hooks.load();
        let backend = set.get(HookKind::ClientSubscribeAuthorize)?;
        let subscription = Subscription {
            topic_filter: sub.topic_filter.to_string(),
            qos: convert::qos(requested),
        };
        let result = self
            .decide(
                HookKind::ClientSubscribeAuthorize,
                backend,
                backend.authorize_subscribe(convert::session(s, self.tenant()), subscription),
                |d| d.allow,
            )
            .await;
        Some(match result {
            Ok(d) if d.allow => {
                let qos = granted_qos(&d, &self.subscribe_source, &self.warn)
                    .map(convert::codec_qos)
                    .unwrap_or(requested);
                SubscribeAclResult::new_success(qos, None)
            }
            _ => SubscribeAclResult::new_failure(SubscribeAckReason::NotAuthorized),
        })
    }

    /// The publish ACL, run at the `MessagePublish` step of a client publish.
    /// Returns the message to continue with (rewritten, or marked denied).
    async fn authorize_publish(&self, set: &HookSet, s: &Session, p: &Publish) -> Option<Publish> {
        let is_sys = is_system_topic(&p.topic);
        // Tenants never write `$SYS`, whatever their policy says (superusers
        // included: a tenant's policy makes them).
        if is_sys && self.tenant.is_some() {
            return Some(mark_denied(p, Some("system topic".into())));
        }
        if self.is_superuser(s).await {
            return None;
        }
        let Some(backend) = set.get(HookKind::ClientPublishAuthorize) else {
            return is_sys.then(|| mark_denied(p, Some("system topic".into())));
        };
        let msg = Message {
            topic: p.topic.to_string(),
            payload: p.payload.to_vec(),
            qos: convert::qos(p.qos),
            retain: p.retain,
            properties: convert::message_properties(p.properties.as_ref()),
        };
        let result = self
            .decide(
                HookKind::ClientPublishAuthorize,
                backend,
                backend.authorize_publish(convert::session(s, self.tenant()), msg),
                |d| d.allow,
            )
            .await;
        let limits = RewriteLimits {
            hook_source: &self.publish_source,
            tenant: self.tenant.is_some(),
            max_packet_size: self.listeners.get(s.id.lid).max_packet_size,
            warn: &self.warn,
        };
        publish_acl::apply(p, result, &limits)
    }

    async fn message_publish(
        &self,
        s: Option<&Session>,
        from: &rmqtt::types::From,
        p: &Publish,
    ) -> Option<Publish> {
        let set = self.hooks.load();
        let replaced = match s {
            Some(s) if matches!(from.typ(), FromType::Custom) => {
                self.authorize_publish(&set, s, p).await
            }
            _ => None,
        };
        let effective = replaced.as_ref().unwrap_or(p);
        if denied_reason(effective).is_none() {
            if s.is_some() {
                self.traffic.count_publish();
            }
            self.notify(&set, HookKind::MessagePublish, || Event::MessagePublish {
                session: s.map(|s| convert::session(s, self.tenant())),
                from: convert::from(from),
                message: convert::message(effective),
            });
        }
        replaced
    }
}

/// How WARNs name `kind`: with the tenant in a tenant context.
fn hook_source(tenant: Option<&str>, kind: HookKind) -> Cow<'static, str> {
    match tenant {
        Some(t) => Cow::Owned(format!("tenant `{t}`: {kind}")),
        None => Cow::Borrowed(kind.js_name()),
    }
}

struct RouterHandler(Arc<HookRouter>);

#[async_trait]
impl Handler for RouterHandler {
    async fn hook(&self, param: &Parameter, acc: Option<HookResult>) -> ReturnType {
        let r = &self.0;
        match param {
            Parameter::ClientAuthenticate(ci) => {
                let result = r.authenticate(ci).await;
                return (false, Some(HookResult::AuthResult(result)));
            }
            Parameter::ClientSubscribeCheckAcl(s, sub) => {
                if let Some(result) = r.authorize_subscribe(s, sub).await {
                    return (false, Some(HookResult::SubscribeAclResult(result)));
                }
            }
            Parameter::MessagePublish(s, from, p) => {
                if let Some(replaced) = r.message_publish(*s, from, p).await {
                    return (true, Some(HookResult::Publish(replaced)));
                }
            }
            Parameter::MessagePublishCheckAcl(_, p) => {
                if let Some(reason) = denied_reason(p) {
                    let reason = (!reason.is_empty()).then(|| reason.clone());
                    return (
                        false,
                        Some(HookResult::PublishAclResult(PublishAclResult::rejected(
                            false, reason,
                        ))),
                    );
                }
            }
            other => {
                if let Some(kind) = events::kind_of(other) {
                    r.traffic.count(kind);
                    let set = r.hooks.load();
                    if let Some(backend) = set.get(kind) {
                        if let Some(event) = events::event_of(other, r.tenant()) {
                            r.notifier.send(backend.clone(), event);
                        }
                    }
                }
            }
        }
        (true, acc)
    }
}
