//! Measures what issue 12's data targets name (no asserts; prints a table):
//! a 0.2.0 decision that reads the serving context's data, with 10,000
//! entries, from the Rust guest (`rust-policy-v2`) and a QuickJS one
//! (`ts-user-table`), against the same decision with the entry absent; and
//! the longest a decision waits while `replace` swaps 10,000 entries in
//! another thread, over and over.
//!
//! `cargo bench -p rmqtt-js-host --bench policy_data` (guests must be built:
//! `node scripts/build-guests.mjs`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rmqtt_js_host::data::scope::serving;
use rmqtt_js_host::data::ContextData;
use rmqtt_js_host::hooks::model::{QoS, SessionInfo, Subscription};
use rmqtt_js_host::hooks::HookBackend;
use rmqtt_js_host::wasm::{LoadOptions, WasmPolicy};

const CALLS: usize = 20_000;
const ENTRIES: usize = 10_000;

fn guest(file: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../guest-examples/dist")
        .join(file);
    assert!(
        path.is_file(),
        "{} is missing: run `node scripts/build-guests.mjs`",
        path.display()
    );
    path
}

fn session(user: &str) -> SessionInfo {
    SessionInfo {
        node: 1,
        remote_addr: None,
        client_id: format!("c-{user}"),
        username: Some(user.into()),
        tenant: None,
    }
}

/// 10,000 users, each with an ACL entry in the guest's format.
fn table(acl: impl Fn(usize) -> String) -> Arc<ContextData> {
    let data = Arc::new(ContextData::default());
    let entries = (0..ENTRIES)
        .map(|i| (format!("acl:user{i}"), Bytes::from(acl(i))))
        .collect();
    data.replace(entries).unwrap();
    data
}

fn percentiles(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    let at = |q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)];
    (at(0.50), at(0.99), v[v.len() - 1])
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

async fn subscribe_latency(
    p: &WasmPolicy,
    data: &Arc<ContextData>,
    user_of: impl Fn(usize) -> String,
) -> Vec<Duration> {
    let mut v = Vec::with_capacity(CALLS);
    for i in 0..CALLS {
        let user = user_of(i);
        let sub = Subscription {
            topic_filter: format!("{user}/t"),
            qos: QoS::AtMostOnce,
        };
        let s = session(&user);
        let t = Instant::now();
        let d = serving(data.clone(), p.authorize_subscribe(s, sub))
            .await
            .unwrap();
        v.push(t.elapsed());
        std::hint::black_box(d);
    }
    v
}

async fn row(name: &str, file: &str, acl: impl Fn(usize) -> String) {
    let p = WasmPolicy::load(
        guest(file).as_path(),
        LoadOptions::new(name).timeout(Duration::from_secs(5)),
    )
    .await
    .expect("the guest loads");
    let data = table(acl);
    // Warm-up.
    subscribe_latency(&p, &data, |i| format!("user{}", i % ENTRIES)).await;
    let hit = percentiles(
        subscribe_latency(&p, &data, |i| format!("user{}", (i * 7919) % ENTRIES)).await,
    );
    let miss = percentiles(subscribe_latency(&p, &data, |i| format!("nobody{i}")).await);
    println!(
        "| {name} | {} | {} | {} | {} |",
        us(hit.0),
        us(hit.1),
        us(miss.0),
        us(miss.1)
    );
}

/// Decisions in a loop while another thread replaces the whole set
/// (`swap`), or only builds the same entries and drops them (the control:
/// what a busy thread costs on this many cores, without any data swap).
async fn replace_stall(swap: bool) {
    let p = WasmPolicy::load(
        guest("rust-policy-v2.wasm").as_path(),
        LoadOptions::new("stall").timeout(Duration::from_secs(5)),
    )
    .await
    .unwrap();
    let data = table(|i| format!("user{i}/"));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (data, stop) = (data.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut swaps = 0u32;
            let mut longest = Duration::ZERO;
            while !stop.load(Ordering::Relaxed) {
                let entries = (0..ENTRIES)
                    .map(|i| {
                        (
                            format!("acl:user{i}"),
                            Bytes::from(format!("user{i}/,v{swaps}/")),
                        )
                    })
                    .collect();
                let t = Instant::now();
                if swap {
                    data.replace(entries).unwrap();
                } else {
                    drop(std::hint::black_box(entries));
                }
                longest = longest.max(t.elapsed());
                swaps += 1;
            }
            (swaps, longest)
        })
    };
    let v = subscribe_latency(&p, &data, |i| format!("user{}", i % ENTRIES)).await;
    stop.store(true, Ordering::Relaxed);
    let (swaps, longest_replace) = writer.join().unwrap();
    let over_1ms = v.iter().filter(|d| **d > Duration::from_millis(1)).count();
    let (p50, p99, max) = percentiles(v);
    let what = if swap {
        "`replace` swapped"
    } else {
        "(control) built and dropped"
    };
    println!(
        "| {what} {ENTRIES} entries {swaps} times (longest {:.2} ms) | {} | {} | {} | {over_1ms} |",
        longest_replace.as_secs_f64() * 1e3,
        us(p50),
        us(p99),
        us(max)
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!(
        "authorize-subscribe reading `acl:<user>` from {ENTRIES} entries, {CALLS} calls each\n"
    );
    println!("| guest | hit p50 | hit p99 | absent p50 | absent p99 |");
    println!("|---|---|---|---|---|");
    row("rust-policy-v2 (Rust)", "rust-policy-v2.wasm", |i| {
        format!("user{i}/")
    })
    .await;
    row(
        "ts-user-table (QuickJS)",
        "ts-user-table.quickjs.wasm",
        |i| format!(r#"{{"pub":["user{i}/"],"sub":["user{i}/"]}}"#),
    )
    .await;
    println!("\n{CALLS} decisions (rust-policy-v2) while another thread works:\n");
    println!("| meanwhile | p50 | p99 | max | over 1 ms |");
    println!("|---|---|---|---|---|");
    replace_stall(true).await;
    replace_stall(false).await;
}
