//! Which broker variants run which scenarios, in table order.

use crate::brokers::{Family, Hooks, Variant};
use crate::scenarios::Scenario::{self, *};

/// Every variant with its scenarios.
pub fn full() -> Vec<(Variant, Vec<Scenario>)> {
    let flows = [Qos0, Qos1, FanOut, FanIn];
    let hooked = vec![
        ConnectStorm,
        PublishAcl,
        ConnectStormBlocked,
        PublishAclBlocked,
    ];
    let node_plain = [
        &flows[..],
        &[
            ConnectStorm,
            ConnectStormBlocked,
            PublishAclBlocked,
            IdleMemory,
        ],
    ]
    .concat();
    let native_plain = [&flows[..], &[ConnectStorm, IdleMemory]].concat();
    vec![
        (
            Variant::new(Family::Sink, Hooks::None),
            [&flows[..], &[ConnectStorm]].concat(),
        ),
        (
            Variant::new(Family::Host, Hooks::None),
            native_plain.clone(),
        ),
        (
            Variant::new(Family::Host, Hooks::Native),
            vec![ConnectStorm, PublishAcl],
        ),
        (
            Variant::new(Family::Host, Hooks::Wasm),
            vec![ConnectStorm, PublishAcl],
        ),
        (
            Variant::new(Family::RmqttJs, Hooks::None),
            node_plain.clone(),
        ),
        (Variant::new(Family::RmqttJs, Hooks::Wasm), hooked.clone()),
        (Variant::new(Family::RmqttJs, Hooks::Js), hooked.clone()),
        (Variant::new(Family::Aedes, Hooks::None), node_plain),
        (Variant::new(Family::Aedes, Hooks::Js), hooked),
        (Variant::new(Family::Mosquitto, Hooks::None), native_plain),
    ]
}

/// The plan restricted to some families and scenarios (empty = all).
pub fn select(families: &[Family], scenarios: &[Scenario]) -> Vec<(Variant, Vec<Scenario>)> {
    full()
        .into_iter()
        .filter(|(v, _)| families.is_empty() || families.contains(&v.family))
        .map(|(v, s)| {
            let s = s
                .into_iter()
                .filter(|s| scenarios.is_empty() || scenarios.contains(s))
                .collect::<Vec<_>>();
            (v, s)
        })
        .filter(|(_, s)| !s.is_empty())
        .collect()
}
