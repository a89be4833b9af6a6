//! The hook router: rmqtt's hook points → the backend bound to each hook in the
//! current [`HookSet`] → an answer rmqtt understands.
//!
//! Seed semantics it upholds on top of rmqtt:
//! - A hook that is not bound leaves rmqtt's default (anonymous per listener,
//!   subscriptions allowed, publishes allowed except to `$SYS/…`).
//! - Decisions time out (default 5 s) and every error or timeout is a deny + WARN.
//! - rmqtt runs `MessagePublish` *before* `MessagePublishCheckAcl`; the publish
//!   ACL therefore runs in the `MessagePublish` step (so its rewrite is what
//!   subscribers get, and it runs once per publish), and a deny marks the
//!   message so that the `MessagePublishCheckAcl` step rejects it.
//! - rmqtt skips `ClientAuthenticate` for anonymous clients when anonymous is
//!   allowed; listeners are bound with anonymous *off* so that every CONNECT
//!   reaches the router, which applies the listener's own `allowAnonymous`.

use std::future::Future;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytestring::ByteString;
use rmqtt::codec::v5::PublishProperties;
use rmqtt::codec::v5::SubscribeAckReason;
use rmqtt::context::ServerContext;
use rmqtt::hook::{Handler, HookResult, Parameter, ReturnType, Type};
use rmqtt::session::Session;
use rmqtt::types::{
    AuthResult, ConnectAckReason, FromType, Publish, PublishAclResult, SubscribeAclResult,
};

use super::convert;
use super::model::{Event, Message, SessionInfo, Subscription};
use super::mutation::{granted_qos, publish_rewrite};
use super::notify::Notifier;
use super::stats::{HookStats, Outcome};
use super::superusers::Superusers;
use super::{HookBackend, HookError, HookKind, HookSet};

/// The user property that marks a publish denied by the publish ACL. It starts
/// with NUL, which MQTT forbids in strings, so no client can forge it.
const DENIED_MARK: &str = "\0rmqtt-js:denied";

/// The hook set of a server, replaced whole by `set_hooks`.
#[derive(Default)]
pub struct HookSlot(RwLock<Arc<HookSet>>);

impl HookSlot {
    pub fn load(&self) -> Arc<HookSet> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn store(&self, set: HookSet) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
    }
}

/// Traffic of one broker context, counted whether or not hooks are bound.
#[derive(Debug, Default)]
pub struct Traffic {
    /// Clients connected now.
    pub connections: AtomicI64,
    /// Client publishes accepted.
    pub messages_in: AtomicU64,
    /// Messages delivered to subscribers.
    pub messages_out: AtomicU64,
}

/// What the router needs to know of each listener, by rmqtt listener id.
#[derive(Debug, Clone)]
pub struct ListenerRules {
    pub allow_anonymous: bool,
}

pub struct HookRouter {
    /// The tenant this router's context serves (`None`: the default context).
    tenant: Option<String>,
    traffic: Arc<Traffic>,
    hooks: Arc<HookSlot>,
    /// Indexed by rmqtt listener id (ids are 1-based; index 0 unused).
    listeners: Vec<ListenerRules>,
    timeout: Duration,
    notifier: Notifier,
    stats: Arc<HookStats>,
    /// Tenant contexts only: superusers as the tenant's auth hook made them.
    superusers: Superusers,
}

impl HookRouter {
    pub fn new(
        tenant: Option<String>,
        traffic: Arc<Traffic>,
        hooks: Arc<HookSlot>,
        listeners: Vec<ListenerRules>,
        timeout: Duration,
        notifier: Notifier,
        stats: Arc<HookStats>,
    ) -> Self {
        HookRouter {
            tenant,
            traffic,
            hooks,
            listeners,
            timeout,
            notifier,
            stats,
            superusers: Superusers::default(),
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
        self.listeners
            .get(usize::from(listener_id))
            .map(|l| l.allow_anonymous)
            .unwrap_or(true)
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
        let result = match tokio::time::timeout(self.timeout, call).await {
            Ok(r) => r,
            Err(_) => Err(HookError::Timeout(self.timeout.as_millis() as u64)),
        };
        let outcome = match &result {
            Ok(v) if allowed(v) => Outcome::Allow,
            Ok(_) => Outcome::Deny,
            Err(e) => {
                log::warn!(
                    target: "rmqtt_js::hooks",
                    "{kind} ({}) failed, denying: {e}",
                    backend.kind().as_str()
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
        let req = convert::connect_request(ci, self.tenant());
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
                let qos = granted_qos(&d, "onClientSubscribeAuthorize")
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
        let is_sys = p.topic.starts_with("$SYS");
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
        };
        let result = self
            .decide(
                HookKind::ClientPublishAuthorize,
                backend,
                backend.authorize_publish(convert::session(s, self.tenant()), msg),
                |d| d.allow,
            )
            .await;
        match result {
            Ok(d) if d.allow => {
                let rewrite = publish_rewrite(d, "onClientPublishAuthorize");
                if rewrite.is_empty() {
                    return None;
                }
                let mut out = p.clone();
                if let Some(topic) = rewrite.topic {
                    out.topic = ByteString::from(topic);
                }
                if let Some(payload) = rewrite.payload {
                    out.payload = payload.into();
                }
                if let Some(qos) = rewrite.qos {
                    out.qos = convert::codec_qos(qos);
                }
                Some(out)
            }
            Ok(d) => Some(mark_denied(p, d.reason)),
            Err(e) => Some(mark_denied(p, Some(e.to_string()))),
        }
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
                self.traffic.messages_in.fetch_add(1, Relaxed);
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

/// A copy of `p` carrying the deny mark and its reason.
fn mark_denied(p: &Publish, reason: Option<String>) -> Publish {
    let mut out = p.clone();
    let props = out
        .properties
        .get_or_insert_with(PublishProperties::default);
    props.user_properties.push((
        ByteString::from_static(DENIED_MARK),
        ByteString::from(reason.unwrap_or_default()),
    ));
    out
}

/// The reason of a denied publish, if `p` carries the deny mark.
fn denied_reason(p: &Publish) -> Option<&ByteString> {
    p.properties.as_ref().and_then(|props| {
        props
            .user_properties
            .iter()
            .find(|(k, _)| k == DENIED_MARK)
            .map(|(_, v)| v)
    })
}

fn connack_name(r: &ConnectAckReason) -> String {
    let raw = match r {
        ConnectAckReason::V3(v) => format!("{v:?}"),
        ConnectAckReason::V5(v) => format!("{v:?}"),
    };
    match raw.as_str() {
        "ConnectionAccepted" => "Success".to_string(),
        "BadUserNameOrPassword" => "BadUsernameOrPassword".to_string(),
        _ => raw,
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
            other => notify_event(r, other),
        }
        (true, acc)
    }
}

/// Queues the notification for a non-decision hook point.
fn notify_event(r: &HookRouter, param: &Parameter) {
    let set = r.hooks.load();
    let tenant = r.tenant();
    let sess = |s: &Session| -> SessionInfo { convert::session(s, tenant) };
    match param {
        Parameter::ClientConnect(ci) => r.notify(&set, HookKind::ClientConnect, || {
            Event::ClientConnect(convert::connect_info(ci, tenant))
        }),
        Parameter::ClientConnack(ci, reason) => {
            r.notify(&set, HookKind::ClientConnack, || Event::ClientConnack {
                info: convert::connect_info(ci, tenant),
                conn_ack: connack_name(reason),
            })
        }
        Parameter::ClientConnected(s) => {
            r.traffic.connections.fetch_add(1, Relaxed);
            r.notify(&set, HookKind::ClientConnected, || {
                Event::ClientConnected(sess(s))
            })
        }
        Parameter::ClientDisconnected(s, reason) => {
            r.traffic.connections.fetch_sub(1, Relaxed);
            r.notify(&set, HookKind::ClientDisconnected, || {
                Event::ClientDisconnected {
                    session: sess(s),
                    reason: convert::reason(reason),
                }
            })
        }
        Parameter::SessionCreated(s) => r.notify(&set, HookKind::SessionCreated, || {
            Event::SessionCreated(sess(s))
        }),
        Parameter::SessionSubscribed(s, sub) => r.notify(&set, HookKind::SessionSubscribed, || {
            Event::SessionSubscribed {
                session: sess(s),
                subscription: Subscription {
                    topic_filter: sub.topic_filter.to_string(),
                    qos: convert::qos(sub.opts.qos()),
                },
            }
        }),
        Parameter::SessionUnsubscribed(s, unsub) => {
            r.notify(&set, HookKind::SessionUnsubscribed, || {
                Event::SessionUnsubscribed {
                    session: sess(s),
                    topic_filter: unsub.topic_filter.to_string(),
                }
            })
        }
        Parameter::SessionTerminated(s, reason) => {
            r.notify(&set, HookKind::SessionTerminated, || {
                Event::SessionTerminated {
                    session: sess(s),
                    reason: convert::reason(reason),
                }
            })
        }
        Parameter::ClientSubscribe(s, sub) => {
            r.notify(&set, HookKind::ClientSubscribe, || Event::ClientSubscribe {
                session: sess(s),
                subscription: Subscription {
                    topic_filter: sub.topic_filter.to_string(),
                    qos: convert::qos(sub.opts.qos()),
                },
            })
        }
        Parameter::ClientUnsubscribe(s, unsub) => {
            r.notify(&set, HookKind::ClientUnsubscribe, || {
                Event::ClientUnsubscribe {
                    session: sess(s),
                    topic_filter: unsub.topic_filter.to_string(),
                }
            })
        }
        Parameter::MessageDelivered(s, from, p) => {
            r.traffic.messages_out.fetch_add(1, Relaxed);
            r.notify(&set, HookKind::MessageDelivered, || {
                Event::MessageDelivered {
                    session: sess(s),
                    from: convert::from(from),
                    message: convert::message(p),
                }
            })
        }
        Parameter::MessageAcked(s, from, p) => {
            r.notify(&set, HookKind::MessageAcked, || Event::MessageAcked {
                session: sess(s),
                from: convert::from(from),
                message: convert::message(p),
            })
        }
        Parameter::MessageDropped(to, from, p, reason) => {
            r.notify(&set, HookKind::MessageDropped, || Event::MessageDropped {
                session: to.as_ref().map(|id| convert::session_of_id(id, tenant)),
                from: Some(convert::from(from)),
                message: convert::message(p),
                reason: denied_reason(p)
                    .filter(|r| !r.is_empty())
                    .map(|r| r.to_string())
                    .or_else(|| convert::reason(reason)),
            })
        }
        _ => {}
    }
}
