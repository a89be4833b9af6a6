//! Starts and stops a broker many times and prints the process RSS, to watch
//! for memory that a stopped server leaves behind.
//!
//! `cargo run --release -p rmqtt-js-host --example restart_rss -- 200`

use rmqtt_js_host::{Broker, ServerConfig};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let cycles: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let broker = Broker::new();
    let mut cfg = ServerConfig::basic(0);
    cfg.listeners[0].address = "127.0.0.1".into();
    broker.start(cfg.clone()).await.expect("start");
    broker.stop().await.expect("stop");
    let base = rss_kib();
    for i in 1..=cycles {
        broker.start(cfg.clone()).await.expect("start");
        broker.stop().await.expect("stop");
        if i % (cycles / 5).max(1) == 0 {
            let now = rss_kib();
            println!(
                "after {i:>4} cycles: RSS {now} KiB ({:+.1} KiB per cycle)",
                (now as f64 - base as f64) / i as f64
            );
        }
    }
}
