//! Which broker variants run which scenarios, in table order.

use crate::brokers::{Family, Hooks, Variant};
use crate::scenarios::Scenario::{self, *};

/// Every variant with its scenarios. The QoS 1 flow with a persistent-session
/// subscriber (8) runs on every broker as it is configured (persistence off,
/// in memory) and again on the host crate and rmqtt-js with persistence on,
/// which also run the restart (9).
pub fn full() -> Vec<(Variant, Vec<Scenario>)> {
    let flows = [Qos0, Qos1, FanOut, FanIn];
    let persistent = vec![Qos1Persistent, Restart];
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
            Qos1Persistent,
        ],
    ]
    .concat();
    let native_plain = [&flows[..], &[ConnectStorm, IdleMemory, Qos1Persistent]].concat();
    vec![
        (
            Variant::new(Family::Sink, Hooks::None),
            [&flows[..], &[ConnectStorm, Qos1Persistent]].concat(),
        ),
        (
            Variant::new(Family::Host, Hooks::None),
            native_plain.clone(),
        ),
        (
            Variant::new(Family::Host, Hooks::None).with_persistence(),
            persistent.clone(),
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
        (
            Variant::new(Family::RmqttJs, Hooks::None).with_persistence(),
            persistent,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persistence_is_measured_on_and_off_in_one_run() {
        let plan = select(&[Family::Host], &[Qos1Persistent, Restart]);
        let off = Variant::new(Family::Host, Hooks::None);
        assert_eq!(
            plan,
            vec![
                (off, vec![Qos1Persistent]),
                (off.with_persistence(), vec![Qos1Persistent, Restart]),
            ]
        );
        for (v, scenarios) in full() {
            if scenarios.contains(&Restart) {
                assert!(v.persistence, "{v:?} restarts without a store");
            }
        }
    }
}
