//! The conversions that every WIT version shares (the records whose shape
//! did not change between versions), written once. A version module brings
//! `model` and its bindgen `types` into scope as `wit`, invokes
//! [`shared_conversions!`], and adds the conversions of the records that
//! differ (connect request, message, message info, publish decision).

/// Expands to the shared `From` impls and helpers for the `wit` in scope.
macro_rules! shared_conversions {
    () => {
        impl From<model::QoS> for wit::Qos {
            fn from(q: model::QoS) -> Self {
                match q {
                    model::QoS::AtMostOnce => wit::Qos::AtMostOnce,
                    model::QoS::AtLeastOnce => wit::Qos::AtLeastOnce,
                    model::QoS::ExactlyOnce => wit::Qos::ExactlyOnce,
                }
            }
        }

        impl From<wit::Qos> for model::QoS {
            fn from(q: wit::Qos) -> Self {
                match q {
                    wit::Qos::AtMostOnce => model::QoS::AtMostOnce,
                    wit::Qos::AtLeastOnce => model::QoS::AtLeastOnce,
                    wit::Qos::ExactlyOnce => model::QoS::ExactlyOnce,
                }
            }
        }

        /// A WIT QoS as the raw level the model's decisions carry.
        fn qos_level(q: wit::Qos) -> i64 {
            i64::from(model::QoS::from(q).level())
        }

        impl From<model::SessionInfo> for wit::Session {
            fn from(s: model::SessionInfo) -> Self {
                wit::Session {
                    node: s.node,
                    client_id: s.client_id,
                    username: s.username,
                    remote_addr: s.remote_addr,
                    tenant: s.tenant,
                }
            }
        }

        impl From<wit::AuthDecision> for model::AuthDecision {
            fn from(d: wit::AuthDecision) -> Self {
                model::AuthDecision {
                    allow: d.allow,
                    superuser: d.superuser,
                    reason: d.reason,
                }
            }
        }

        impl From<model::Subscription> for wit::Subscription {
            fn from(s: model::Subscription) -> Self {
                wit::Subscription {
                    topic_filter: s.topic_filter,
                    qos: s.qos.into(),
                }
            }
        }

        impl From<wit::SubscribeDecision> for model::SubscribeDecision {
            fn from(d: wit::SubscribeDecision) -> Self {
                model::SubscribeDecision {
                    allow: d.allow,
                    qos: d.qos.map(qos_level),
                    reason: d.reason,
                }
            }
        }

        impl From<model::ConnectInfo> for wit::ConnectInfo {
            fn from(c: model::ConnectInfo) -> Self {
                wit::ConnectInfo {
                    node: c.node,
                    client_id: c.client_id,
                    username: c.username,
                    remote_addr: c.remote_addr,
                    keep_alive: c.keep_alive,
                    protocol_version: c.protocol_version,
                    clean_start: c.clean_start,
                    tenant: c.tenant,
                }
            }
        }

        impl From<model::FromKind> for wit::FromKind {
            fn from(k: model::FromKind) -> Self {
                match k {
                    model::FromKind::Client => wit::FromKind::Client,
                    model::FromKind::System => wit::FromKind::System,
                    model::FromKind::Bridge => wit::FromKind::Bridge,
                    model::FromKind::Admin => wit::FromKind::Admin,
                    model::FromKind::LastWill => wit::FromKind::Lastwill,
                    model::FromKind::Custom => wit::FromKind::Custom,
                }
            }
        }

        impl From<model::MessageFrom> for wit::MessageFrom {
            fn from(f: model::MessageFrom) -> Self {
                wit::MessageFrom {
                    kind: f.kind.into(),
                    node: f.node,
                    client_id: f.client_id,
                    username: f.username,
                    remote_addr: f.remote_addr,
                }
            }
        }

        fn session_reason(
            session: model::SessionInfo,
            reason: Option<String>,
        ) -> wit::SessionReason {
            wit::SessionReason {
                session: session.into(),
                reason,
            }
        }

        fn session_subscription(
            session: model::SessionInfo,
            subscription: model::Subscription,
        ) -> wit::SessionSubscription {
            wit::SessionSubscription {
                session: session.into(),
                subscription: subscription.into(),
            }
        }

        fn session_topic(session: model::SessionInfo, topic_filter: String) -> wit::SessionTopic {
            wit::SessionTopic {
                session: session.into(),
                topic_filter,
            }
        }

        fn delivery(
            session: model::SessionInfo,
            from: model::MessageFrom,
            message: model::MessageInfo,
        ) -> wit::DeliveryEvent {
            wit::DeliveryEvent {
                session: session.into(),
                from: from.into(),
                message: message.into(),
            }
        }

        impl From<model::Event> for wit::Event {
            fn from(e: model::Event) -> Self {
                use model::Event as M;
                match e {
                    M::ClientConnect(info) => wit::Event::ClientConnect(info.into()),
                    M::ClientConnack { info, conn_ack } => {
                        wit::Event::ClientConnack(wit::ConnackEvent {
                            info: info.into(),
                            conn_ack,
                        })
                    }
                    M::ClientConnected(s) => wit::Event::ClientConnected(s.into()),
                    M::ClientDisconnected { session, reason } => {
                        wit::Event::ClientDisconnected(session_reason(session, reason))
                    }
                    M::SessionCreated(s) => wit::Event::SessionCreated(s.into()),
                    M::SessionSubscribed {
                        session,
                        subscription,
                    } => wit::Event::SessionSubscribed(session_subscription(session, subscription)),
                    M::SessionUnsubscribed {
                        session,
                        topic_filter,
                    } => wit::Event::SessionUnsubscribed(session_topic(session, topic_filter)),
                    M::SessionTerminated { session, reason } => {
                        wit::Event::SessionTerminated(session_reason(session, reason))
                    }
                    M::ClientSubscribe {
                        session,
                        subscription,
                    } => wit::Event::ClientSubscribe(session_subscription(session, subscription)),
                    M::ClientUnsubscribe {
                        session,
                        topic_filter,
                    } => wit::Event::ClientUnsubscribe(session_topic(session, topic_filter)),
                    M::MessagePublish {
                        session,
                        from,
                        message,
                    } => wit::Event::MessagePublish(wit::PublishEvent {
                        session: session.map(Into::into),
                        from: from.into(),
                        message: message.into(),
                    }),
                    M::MessageDelivered {
                        session,
                        from,
                        message,
                    } => wit::Event::MessageDelivered(delivery(session, from, message)),
                    M::MessageAcked {
                        session,
                        from,
                        message,
                    } => wit::Event::MessageAcked(delivery(session, from, message)),
                    M::MessageDropped {
                        session,
                        from,
                        message,
                        reason,
                    } => wit::Event::MessageDropped(wit::DroppedEvent {
                        session: session.map(Into::into),
                        from: from.map(Into::into),
                        message: message.into(),
                        reason,
                    }),
                }
            }
        }
    };
}

pub(crate) use shared_conversions;
