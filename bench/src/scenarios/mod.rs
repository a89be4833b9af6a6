//! The scenarios of the bench, what each measures, and one run of each.

pub mod connect_storm;
pub mod fill;
pub mod flow;
pub mod hook_probe;
pub mod idle_memory;
pub mod restart;

use crate::brokers::Running;
use crate::sizes::Sizes;
use crate::stats::percentile;
use flow::Shape;

/// QoS 0 messages allowed in flight (below every broker's per-client queue).
const QOS0_WINDOW: u64 = 500;
/// QoS 1 messages allowed in flight.
const QOS1_WINDOW: u64 = 100;
/// Fan-out messages in flight per subscriber.
const FAN_OUT_WINDOW: u64 = 200;
/// Handshakes in flight during a connect storm.
const STORM_IN_FLIGHT: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scenario {
    Qos0,
    Qos1,
    FanOut,
    FanIn,
    ConnectStorm,
    PublishAcl,
    ConnectStormBlocked,
    PublishAclBlocked,
    IdleMemory,
    /// QoS 1, 1 → 1 with a persistent-session subscriber (run with
    /// persistence off and on).
    Qos1Persistent,
    /// `start()` of a broker with persistence over a full store.
    Restart,
}

/// One figure a scenario produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    pub name: &'static str,
    pub unit: Unit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    PerSecond,
    Millis,
    MiB,
    KiB,
    Seconds,
    /// Millions of bytes.
    MB,
}

const MSG_RATE: Metric = Metric {
    name: "msg/s",
    unit: Unit::PerSecond,
};
const P50: Metric = Metric {
    name: "p50 ms",
    unit: Unit::Millis,
};
const P99: Metric = Metric {
    name: "p99 ms",
    unit: Unit::Millis,
};

impl Scenario {
    pub const ALL: [Scenario; 11] = [
        Scenario::Qos0,
        Scenario::Qos1,
        Scenario::FanOut,
        Scenario::FanIn,
        Scenario::ConnectStorm,
        Scenario::PublishAcl,
        Scenario::ConnectStormBlocked,
        Scenario::PublishAclBlocked,
        Scenario::IdleMemory,
        Scenario::Qos1Persistent,
        Scenario::Restart,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Scenario::Qos0 => "1",
            Scenario::Qos1 => "2",
            Scenario::FanOut => "3a",
            Scenario::FanIn => "3b",
            Scenario::ConnectStorm => "4",
            Scenario::PublishAcl => "5",
            Scenario::ConnectStormBlocked => "6a",
            Scenario::PublishAclBlocked => "6b",
            Scenario::IdleMemory => "7",
            Scenario::Qos1Persistent => "8",
            Scenario::Restart => "9",
        }
    }

    pub fn title(self, s: &Sizes) -> String {
        match self {
            Scenario::Qos0 => format!("QoS 0, 1 → 1, 64 B ({} msgs)", s.qos0_msgs),
            Scenario::Qos1 => format!("QoS 1, 1 → 1, 64 B ({} msgs)", s.qos1_msgs),
            Scenario::FanOut => format!(
                "fan-out 1 → {}, QoS 0 ({} msgs)",
                s.fan_subscribers, s.fan_out_msgs
            ),
            Scenario::FanIn => format!(
                "fan-in {} → 1, QoS 0 ({} msgs each)",
                s.fan_in_publishers, s.fan_in_msgs_each
            ),
            Scenario::ConnectStorm => format!("connect storm, auth hook ({} clients)", s.connects),
            Scenario::PublishAcl => {
                format!("publish ACL on every msg, QoS 0 ({} msgs)", s.acl_msgs)
            }
            Scenario::ConnectStormBlocked => "connect storm, Node loop blocked 50/100 ms".into(),
            Scenario::PublishAclBlocked => "publish ACL, Node loop blocked 50/100 ms".into(),
            Scenario::IdleMemory => format!("memory, {} idle clients", s.idle_clients),
            Scenario::Qos1Persistent => format!(
                "QoS 1, 1 → 1, 64 B, subscriber clean=false ({} msgs)",
                s.qos1_msgs
            ),
            Scenario::Restart => format!(
                "restart, {} retained + {} sessions stored",
                s.restart_retained, s.restart_sessions
            ),
        }
    }

    pub fn metrics(self) -> &'static [Metric] {
        match self {
            Scenario::Qos0
            | Scenario::FanIn
            | Scenario::PublishAcl
            | Scenario::PublishAclBlocked => &[MSG_RATE],
            Scenario::Qos1 | Scenario::Qos1Persistent => &[MSG_RATE, P50, P99],
            Scenario::FanOut => &[Metric {
                name: "deliveries/s",
                unit: Unit::PerSecond,
            }],
            Scenario::ConnectStorm | Scenario::ConnectStormBlocked => &[
                Metric {
                    name: "connects/s",
                    unit: Unit::PerSecond,
                },
                Metric {
                    name: "CONNACK p50 ms",
                    unit: Unit::Millis,
                },
                Metric {
                    name: "CONNACK p99 ms",
                    unit: Unit::Millis,
                },
            ],
            Scenario::IdleMemory => &[
                Metric {
                    name: "RSS MiB",
                    unit: Unit::MiB,
                },
                Metric {
                    name: "KiB per client",
                    unit: Unit::KiB,
                },
            ],
            Scenario::Restart => &[
                Metric {
                    name: "restart s",
                    unit: Unit::Seconds,
                },
                Metric {
                    name: "store MB",
                    unit: Unit::MB,
                },
                Metric {
                    name: "stop s",
                    unit: Unit::Seconds,
                },
            ],
        }
    }

    /// Whether the Node host blocks its event loop during this scenario.
    pub fn blocks_loop(self) -> bool {
        matches!(
            self,
            Scenario::ConnectStormBlocked | Scenario::PublishAclBlocked
        )
    }

    /// Whether each run needs a broker process of its own (memory
    /// baselines, an empty store to fill).
    pub fn fresh_broker_per_run(self) -> bool {
        matches!(self, Scenario::IdleMemory | Scenario::Restart)
    }

    /// One run: a figure per metric, or why the run failed (lost messages,
    /// a refused client, a stall).
    pub async fn run(self, broker: &mut Running, s: &Sizes, tag: &str) -> Result<Vec<f64>, String> {
        let one_to_one = |per_publisher, qos, window, latency| Shape {
            publishers: 1,
            subscribers: 1,
            per_publisher,
            qos,
            window,
            latency,
            persistent_subscribers: false,
        };
        let shape = match self {
            Scenario::Qos0 => one_to_one(s.qos0_msgs, 0, QOS0_WINDOW, false),
            Scenario::Qos1 => one_to_one(s.qos1_msgs, 1, QOS1_WINDOW, true),
            Scenario::Qos1Persistent => Shape {
                persistent_subscribers: true,
                ..one_to_one(s.qos1_msgs, 1, QOS1_WINDOW, true)
            },
            Scenario::PublishAcl | Scenario::PublishAclBlocked => {
                one_to_one(s.acl_msgs, 0, QOS0_WINDOW, false)
            }
            Scenario::FanOut => Shape {
                publishers: 1,
                subscribers: s.fan_subscribers,
                per_publisher: s.fan_out_msgs,
                qos: 0,
                window: FAN_OUT_WINDOW,
                latency: false,
                persistent_subscribers: false,
            },
            Scenario::FanIn => Shape {
                publishers: s.fan_in_publishers,
                subscribers: 1,
                per_publisher: s.fan_in_msgs_each,
                qos: 0,
                window: QOS0_WINDOW,
                latency: false,
                persistent_subscribers: false,
            },
            Scenario::ConnectStorm | Scenario::ConnectStormBlocked => {
                let st =
                    connect_storm::storm(broker.addr, s.connects, STORM_IN_FLIGHT, tag).await?;
                return Ok(vec![
                    st.rate(),
                    percentile(&st.latencies_us, 50.0) / 1000.0,
                    percentile(&st.latencies_us, 99.0) / 1000.0,
                ]);
            }
            Scenario::IdleMemory => {
                let (rss, per_client) = idle_memory::measure(broker, s.idle_clients, tag).await?;
                return Ok(vec![rss, per_client]);
            }
            Scenario::Restart => return restart::measure(broker, s, tag).await,
        };
        let f = flow::run(broker.addr, shape, tag).await?;
        let mut figures = vec![f.rate()];
        if shape.latency {
            figures.push(percentile(&f.latencies_us, 50.0) / 1000.0);
            figures.push(percentile(&f.latencies_us, 99.0) / 1000.0);
        }
        Ok(figures)
    }
}
