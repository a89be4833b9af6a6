//! rmqtt's notification hook points as the [`Event`]s backends receive.

use rmqtt::hook::Parameter;
use rmqtt::session::Session;
use rmqtt::types::ConnectAckReason;

use super::convert;
use super::model::{Event, SessionInfo, Subscription};
use super::publish_acl::denied_reason;
use super::HookKind;

/// The hook a notification point reports to (`None`: not a notification).
pub fn kind_of(param: &Parameter) -> Option<HookKind> {
    Some(match param {
        Parameter::ClientConnect(_) => HookKind::ClientConnect,
        Parameter::ClientConnack(..) => HookKind::ClientConnack,
        Parameter::ClientConnected(_) => HookKind::ClientConnected,
        Parameter::ClientDisconnected(..) => HookKind::ClientDisconnected,
        Parameter::SessionCreated(_) => HookKind::SessionCreated,
        Parameter::SessionSubscribed(..) => HookKind::SessionSubscribed,
        Parameter::SessionUnsubscribed(..) => HookKind::SessionUnsubscribed,
        Parameter::SessionTerminated(..) => HookKind::SessionTerminated,
        Parameter::ClientSubscribe(..) => HookKind::ClientSubscribe,
        Parameter::ClientUnsubscribe(..) => HookKind::ClientUnsubscribe,
        Parameter::MessageDelivered(..) => HookKind::MessageDelivered,
        Parameter::MessageAcked(..) => HookKind::MessageAcked,
        Parameter::MessageDropped(..) => HookKind::MessageDropped,
        _ => return None,
    })
}

/// The event of a notification point, seen from the context of `tenant`.
pub fn event_of(param: &Parameter, tenant: Option<&str>) -> Option<Event> {
    let sess = |s: &Session| -> SessionInfo { convert::session(s, tenant) };
    let subscription = |sub: &rmqtt::types::Subscribe| Subscription {
        topic_filter: sub.topic_filter.to_string(),
        qos: convert::qos(sub.opts.qos()),
    };
    Some(match param {
        Parameter::ClientConnect(ci) => Event::ClientConnect(convert::connect_info(ci, tenant)),
        Parameter::ClientConnack(ci, reason) => Event::ClientConnack {
            info: convert::connect_info(ci, tenant),
            conn_ack: connack_name(reason),
        },
        Parameter::ClientConnected(s) => Event::ClientConnected(sess(s)),
        Parameter::ClientDisconnected(s, reason) => Event::ClientDisconnected {
            session: sess(s),
            reason: convert::reason(reason),
        },
        Parameter::SessionCreated(s) => Event::SessionCreated(sess(s)),
        Parameter::SessionSubscribed(s, sub) => Event::SessionSubscribed {
            session: sess(s),
            subscription: subscription(sub),
        },
        Parameter::SessionUnsubscribed(s, unsub) => Event::SessionUnsubscribed {
            session: sess(s),
            topic_filter: unsub.topic_filter.to_string(),
        },
        Parameter::SessionTerminated(s, reason) => Event::SessionTerminated {
            session: sess(s),
            reason: convert::reason(reason),
        },
        Parameter::ClientSubscribe(s, sub) => Event::ClientSubscribe {
            session: sess(s),
            subscription: subscription(sub),
        },
        Parameter::ClientUnsubscribe(s, unsub) => Event::ClientUnsubscribe {
            session: sess(s),
            topic_filter: unsub.topic_filter.to_string(),
        },
        Parameter::MessageDelivered(s, from, p) => Event::MessageDelivered {
            session: sess(s),
            from: convert::from(from),
            message: convert::message(p),
        },
        Parameter::MessageAcked(s, from, p) => Event::MessageAcked {
            session: sess(s),
            from: convert::from(from),
            message: convert::message(p),
        },
        Parameter::MessageDropped(to, from, p, reason) => Event::MessageDropped {
            session: to.as_ref().map(|id| convert::session_of_id(id, tenant)),
            from: Some(convert::from(from)),
            message: convert::message(p),
            reason: denied_reason(p)
                .filter(|r| !r.is_empty())
                .map(|r| r.to_string())
                .or_else(|| convert::reason(reason)),
        },
        _ => return None,
    })
}

/// The seed API's name of a CONNACK reason (`Success`, `NotAuthorized`, …):
/// the codec's variant name, except `Success` for an accepted 3.x CONNECT and
/// `BadUsernameOrPassword` for both versions' bad credentials. Exhaustive, so
/// `ConnackReason` in lib/src/types.ts can list every name.
pub fn connack_name(r: &ConnectAckReason) -> String {
    use rmqtt::codec::v3::ConnectAckReason as V3;
    use rmqtt::codec::v5::ConnectAckReason as V5;
    let name = match r {
        ConnectAckReason::V3(v) => match v {
            V3::ConnectionAccepted => "Success",
            V3::UnacceptableProtocolVersion => "UnacceptableProtocolVersion",
            V3::IdentifierRejected => "IdentifierRejected",
            V3::ServiceUnavailable => "ServiceUnavailable",
            V3::BadUserNameOrPassword => "BadUsernameOrPassword",
            V3::NotAuthorized => "NotAuthorized",
            V3::Reserved => "Reserved",
        },
        ConnectAckReason::V5(v) => match v {
            V5::Success => "Success",
            V5::UnspecifiedError => "UnspecifiedError",
            V5::MalformedPacket => "MalformedPacket",
            V5::ProtocolError => "ProtocolError",
            V5::ImplementationSpecificError => "ImplementationSpecificError",
            V5::UnsupportedProtocolVersion => "UnsupportedProtocolVersion",
            V5::ClientIdentifierNotValid => "ClientIdentifierNotValid",
            V5::BadUserNameOrPassword => "BadUsernameOrPassword",
            V5::NotAuthorized => "NotAuthorized",
            V5::ServerUnavailable => "ServerUnavailable",
            V5::ServerBusy => "ServerBusy",
            V5::Banned => "Banned",
            V5::BadAuthenticationMethod => "BadAuthenticationMethod",
            V5::TopicNameInvalid => "TopicNameInvalid",
            V5::PacketTooLarge => "PacketTooLarge",
            V5::QuotaExceeded => "QuotaExceeded",
            V5::PayloadFormatInvalid => "PayloadFormatInvalid",
            V5::RetainNotSupported => "RetainNotSupported",
            V5::QosNotSupported => "QosNotSupported",
            V5::UseAnotherServer => "UseAnotherServer",
            V5::ServerMoved => "ServerMoved",
            V5::ConnectionRateExceeded => "ConnectionRateExceeded",
        },
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmqtt::codec::v3::ConnectAckReason as V3;
    use rmqtt::codec::v5::ConnectAckReason as V5;

    #[test]
    fn connack_names_are_the_seed_apis() {
        let name = |r| connack_name(&r);
        assert_eq!(
            name(ConnectAckReason::V3(V3::ConnectionAccepted)),
            "Success"
        );
        assert_eq!(name(ConnectAckReason::V5(V5::Success)), "Success");
        assert_eq!(
            name(ConnectAckReason::V3(V3::BadUserNameOrPassword)),
            "BadUsernameOrPassword"
        );
        assert_eq!(
            name(ConnectAckReason::V5(V5::BadUserNameOrPassword)),
            "BadUsernameOrPassword"
        );
        assert_eq!(
            name(ConnectAckReason::V5(V5::NotAuthorized)),
            "NotAuthorized"
        );
        assert_eq!(
            name(ConnectAckReason::V3(V3::IdentifierRejected)),
            "IdentifierRejected"
        );
    }
}
