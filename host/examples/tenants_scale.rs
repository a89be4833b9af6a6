//! Declares many tenants on one running server, each with its own loaded
//! wasm policy (the small Rust guest), and reports memory and load time per
//! tenant.
//!
//! `cargo run --release -p rmqtt-js-host --example tenants_scale -- 1000 guest-examples/dist/rust-acl.wasm`

use std::sync::Arc;
use std::time::Instant;

use rmqtt_js_host::hooks::{HookBackend, HookKind, HookSet};
use rmqtt_js_host::wasm::{LoadOptions, WasmPolicy};
use rmqtt_js_host::{Broker, ServerConfig, TenancyConfig};

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
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let guest = args
        .next()
        .unwrap_or_else(|| "guest-examples/dist/rust-acl.wasm".into());
    let bytes: Arc<[u8]> = std::fs::read(&guest).expect("guest component").into();

    let broker = Broker::new();
    let mut cfg = ServerConfig::basic(0);
    cfg.listeners[0].address = "127.0.0.1".into();
    cfg.tenancy = Some(TenancyConfig {
        username_separator: Some("@".into()),
        fallback_tenant: None,
    });
    broker.start(cfg).await.expect("start");
    // Warm the compiled-component cache so the figures are per tenant.
    WasmPolicy::load(bytes.clone(), LoadOptions::new("warm"))
        .await
        .expect("policy loads");
    let before = rss_kib();
    let started = Instant::now();
    let mut policy_time = std::time::Duration::ZERO;
    for i in 0..count {
        let id = format!("t{i}");
        let t0 = Instant::now();
        let policy: Arc<dyn HookBackend> = Arc::new(
            WasmPolicy::load(
                bytes.clone(),
                LoadOptions::new(id.clone()).tenant(id.clone()),
            )
            .await
            .expect("policy loads"),
        );
        policy_time += t0.elapsed();
        let mut set = HookSet::new();
        for k in [
            HookKind::ClientAuthenticate,
            HookKind::ClientSubscribeAuthorize,
            HookKind::ClientPublishAuthorize,
        ] {
            set.bind(k, policy.clone());
        }
        broker.add_tenant(id, set).await.expect("tenant");
    }
    let took = started.elapsed();
    let after = rss_kib();
    println!("tenants:              {count}");
    println!(
        "memory per tenant:    {:.0} KiB (RSS {before} KiB -> {after} KiB)",
        (after - before) as f64 / count as f64
    );
    println!(
        "time per tenant:      {:.2} ms (policy load {:.2} ms + context start)",
        took.as_secs_f64() * 1e3 / count as f64,
        policy_time.as_secs_f64() * 1e3 / count as f64
    );
    broker.stop().await.expect("stop");
}
