//! How big each scenario is in each mode: chosen so that a full run stays
//! under ~10 minutes on 2 cores and `--quick` under 2; `--tiny` is the smoke
//! test's (it checks that everything runs and counts match, nothing more).

/// Payload bytes of every bench message (the stamp plus zero padding).
pub const PAYLOAD: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sizes {
    /// Mode name for the report.
    pub mode: &'static str,
    /// Measured runs per figure (the median and min–max are over these).
    pub runs: usize,
    /// Whether each scenario gets an unrecorded warm-up run first.
    pub warmup: bool,
    pub qos0_msgs: u64,
    pub qos1_msgs: u64,
    pub fan_subscribers: usize,
    pub fan_out_msgs: u64,
    pub fan_in_publishers: usize,
    pub fan_in_msgs_each: u64,
    pub connects: usize,
    pub acl_msgs: u64,
    pub idle_clients: usize,
    /// Retained messages (distinct topics) in the store before a restart.
    pub restart_retained: u64,
    /// Persistent sessions (one subscription each) in the store before a restart.
    pub restart_sessions: usize,
}

impl Sizes {
    pub fn full() -> Sizes {
        Sizes {
            mode: "full",
            runs: 5,
            warmup: true,
            qos0_msgs: 200_000,
            qos1_msgs: 100_000,
            fan_subscribers: 100,
            fan_out_msgs: 2_000,
            fan_in_publishers: 100,
            fan_in_msgs_each: 2_000,
            connects: 2_000,
            acl_msgs: 100_000,
            idle_clients: 10_000,
            restart_retained: 100_000,
            restart_sessions: 10_000,
        }
    }

    pub fn quick() -> Sizes {
        Sizes {
            mode: "quick",
            runs: 3,
            warmup: true,
            qos0_msgs: 40_000,
            qos1_msgs: 20_000,
            fan_subscribers: 100,
            fan_out_msgs: 400,
            fan_in_publishers: 100,
            fan_in_msgs_each: 400,
            connects: 1_000,
            acl_msgs: 20_000,
            idle_clients: 2_000,
            restart_retained: 20_000,
            restart_sessions: 2_000,
        }
    }

    pub fn tiny() -> Sizes {
        Sizes {
            mode: "tiny",
            runs: 1,
            warmup: false,
            qos0_msgs: 2_000,
            qos1_msgs: 1_000,
            fan_subscribers: 10,
            fan_out_msgs: 50,
            fan_in_publishers: 10,
            fan_in_msgs_each: 50,
            connects: 50,
            acl_msgs: 1_000,
            idle_clients: 100,
            restart_retained: 1_000,
            restart_sessions: 100,
        }
    }

    /// A quarter of every size (a whole connect storm): the unrecorded warm-up run before the
    /// measured ones (Node's JIT and heap need it; aedes gains up to 2× in it).
    pub fn warmup(&self) -> Sizes {
        let quarter = |n: u64| (n / 4).max(1);
        Sizes {
            mode: self.mode,
            runs: 1,
            warmup: false,
            qos0_msgs: quarter(self.qos0_msgs),
            qos1_msgs: quarter(self.qos1_msgs),
            fan_subscribers: self.fan_subscribers,
            fan_out_msgs: quarter(self.fan_out_msgs),
            fan_in_publishers: self.fan_in_publishers,
            fan_in_msgs_each: quarter(self.fan_in_msgs_each),
            // A whole storm: Node brokers keep speeding up over the first
            // thousands of connects.
            connects: self.connects,
            acl_msgs: quarter(self.acl_msgs),
            idle_clients: (self.idle_clients / 4).max(1),
            restart_retained: quarter(self.restart_retained),
            restart_sessions: (self.restart_sessions / 4).max(1),
        }
    }
}
