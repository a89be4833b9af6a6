//! The 17 hooks of the public API, by name.

use std::fmt;
use std::str::FromStr;

use super::model::Event;

/// One hook of the public API. The names are the JS API's (`onClientAuthenticate`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HookKind {
    ClientAuthenticate,
    ClientSubscribeAuthorize,
    ClientPublishAuthorize,
    ClientConnect,
    ClientConnack,
    ClientConnected,
    ClientDisconnected,
    SessionCreated,
    SessionSubscribed,
    SessionUnsubscribed,
    SessionTerminated,
    ClientSubscribe,
    ClientUnsubscribe,
    MessagePublish,
    MessageDelivered,
    MessageAcked,
    MessageDropped,
}

impl HookKind {
    /// Every hook, decisions first.
    pub const ALL: [HookKind; 17] = [
        HookKind::ClientAuthenticate,
        HookKind::ClientSubscribeAuthorize,
        HookKind::ClientPublishAuthorize,
        HookKind::ClientConnect,
        HookKind::ClientConnack,
        HookKind::ClientConnected,
        HookKind::ClientDisconnected,
        HookKind::SessionCreated,
        HookKind::SessionSubscribed,
        HookKind::SessionUnsubscribed,
        HookKind::SessionTerminated,
        HookKind::ClientSubscribe,
        HookKind::ClientUnsubscribe,
        HookKind::MessagePublish,
        HookKind::MessageDelivered,
        HookKind::MessageAcked,
        HookKind::MessageDropped,
    ];

    /// The hook's name in the JS API.
    pub fn js_name(self) -> &'static str {
        match self {
            HookKind::ClientAuthenticate => "onClientAuthenticate",
            HookKind::ClientSubscribeAuthorize => "onClientSubscribeAuthorize",
            HookKind::ClientPublishAuthorize => "onClientPublishAuthorize",
            HookKind::ClientConnect => "onClientConnect",
            HookKind::ClientConnack => "onClientConnack",
            HookKind::ClientConnected => "onClientConnected",
            HookKind::ClientDisconnected => "onClientDisconnected",
            HookKind::SessionCreated => "onSessionCreated",
            HookKind::SessionSubscribed => "onSessionSubscribed",
            HookKind::SessionUnsubscribed => "onSessionUnsubscribed",
            HookKind::SessionTerminated => "onSessionTerminated",
            HookKind::ClientSubscribe => "onClientSubscribe",
            HookKind::ClientUnsubscribe => "onClientUnsubscribe",
            HookKind::MessagePublish => "onMessagePublish",
            HookKind::MessageDelivered => "onMessageDelivered",
            HookKind::MessageAcked => "onMessageAcked",
            HookKind::MessageDropped => "onMessageDropped",
        }
    }

    /// Position in [`HookKind::ALL`], for table lookups.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether the broker waits for this hook's answer.
    pub fn is_decision(self) -> bool {
        matches!(
            self,
            HookKind::ClientAuthenticate
                | HookKind::ClientSubscribeAuthorize
                | HookKind::ClientPublishAuthorize
        )
    }

    /// The notification hook that receives `event`.
    pub fn of_event(event: &Event) -> HookKind {
        match event {
            Event::ClientConnect(_) => HookKind::ClientConnect,
            Event::ClientConnack { .. } => HookKind::ClientConnack,
            Event::ClientConnected(_) => HookKind::ClientConnected,
            Event::ClientDisconnected { .. } => HookKind::ClientDisconnected,
            Event::SessionCreated(_) => HookKind::SessionCreated,
            Event::SessionSubscribed { .. } => HookKind::SessionSubscribed,
            Event::SessionUnsubscribed { .. } => HookKind::SessionUnsubscribed,
            Event::SessionTerminated { .. } => HookKind::SessionTerminated,
            Event::ClientSubscribe { .. } => HookKind::ClientSubscribe,
            Event::ClientUnsubscribe { .. } => HookKind::ClientUnsubscribe,
            Event::MessagePublish { .. } => HookKind::MessagePublish,
            Event::MessageDelivered { .. } => HookKind::MessageDelivered,
            Event::MessageAcked { .. } => HookKind::MessageAcked,
            Event::MessageDropped { .. } => HookKind::MessageDropped,
        }
    }
}

impl fmt::Display for HookKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.js_name())
    }
}

/// A hook name that is not one of the 17.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown hook `{0}`")]
pub struct UnknownHook(pub String);

impl FromStr for HookKind {
    type Err = UnknownHook;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HookKind::ALL
            .into_iter()
            .find(|k| k.js_name() == s)
            .ok_or_else(|| UnknownHook(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hook_round_trips_through_its_name_and_index() {
        for (i, kind) in HookKind::ALL.into_iter().enumerate() {
            assert_eq!(kind.index(), i);
            assert_eq!(kind.js_name().parse::<HookKind>(), Ok(kind));
        }
        assert!("onNothing".parse::<HookKind>().is_err());
    }
}
