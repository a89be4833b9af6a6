//! What the router needs to know of each listener of its context, looked up
//! by the rmqtt listener id of a client's connection.

use crate::config::ListenerLimits;

/// One listener's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerRules {
    /// Whether a client without credentials gets in when no auth hook is bound.
    pub allow_anonymous: bool,
    /// The listener's `maxPacketSize`: a publish rewrite may not make a
    /// client's PUBLISH larger than this.
    pub max_packet_size: u32,
}

impl Default for ListenerRules {
    /// rmqtt's own defaults, for a connection of an unknown listener.
    fn default() -> Self {
        ListenerRules {
            allow_anonymous: true,
            max_packet_size: ListenerLimits::default().max_packet_size,
        }
    }
}

/// The rules of every listener of a context, indexed by rmqtt listener id
/// (ids are 1-based; index 0 holds the defaults).
#[derive(Debug, Clone, Default)]
pub struct ListenerTable(Vec<ListenerRules>);

impl ListenerTable {
    /// `listeners` in rmqtt id order (the first gets id 1).
    pub fn new(listeners: impl IntoIterator<Item = ListenerRules>) -> Self {
        ListenerTable(
            std::iter::once(ListenerRules::default())
                .chain(listeners)
                .collect(),
        )
    }

    /// The rules of listener `id`, or the defaults for an unknown id.
    pub fn get(&self, id: u16) -> ListenerRules {
        self.0.get(usize::from(id)).copied().unwrap_or_default()
    }
}
