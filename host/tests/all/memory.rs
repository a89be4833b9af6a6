//! Giving memory back to the OS (Linux with glibc only; elsewhere a no-op).

use rmqtt_js_host::{memory, Broker};

use crate::support::start_broker;

#[tokio::test(flavor = "multi_thread")]
async fn stop_gives_memory_back_to_the_os() {
    if !cfg!(all(target_os = "linux", target_env = "gnu")) {
        return;
    }
    let broker = Broker::new();
    start_broker(&broker).await;
    // Other tests of this binary may trim at the same time: the count only grows.
    let before = memory::trims();
    broker.stop().await.expect("stop");
    assert!(
        memory::trims() > before,
        "stop trimmed (the trim is awaited by stop)"
    );
}
