//! Measures the wasm hook engine (no asserts; prints a table):
//! load time cold (compile), from the disk cache and from memory; fresh
//! instance from the `InstancePre`; memory per instance; per-decision latency
//! (p50/p99 over 20k calls) — for the Rust guest and both JS engines.
//!
//! `cargo bench -p rmqtt-js-host --bench wasm_policy` (guests must be built:
//! `node scripts/build-guests.mjs`). `RMQTT_JS_WASM_ALLOCATOR=on-demand`
//! compares with the on-demand instance allocator.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rmqtt_js_host::hooks::model::{ConnectRequest, Message, QoS, SessionInfo};
use rmqtt_js_host::hooks::HookBackend;
use rmqtt_js_host::wasm::{clear_memory_cache, engine, CacheSource, LoadOptions, WasmPolicy};

const CALLS: usize = 20_000;
const INSTANCES: usize = 100;

fn guest(file: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../guest-examples/dist")
        .join(file);
    assert!(
        path.is_file(),
        "{} is missing: run `npm install` and `node scripts/build-guests.mjs`",
        path.display()
    );
    path
}

/// The component's bytes plus a custom section unique to this run, so the
/// first load really compiles.
fn unique_bytes(file: &str) -> Vec<u8> {
    let mut bytes = std::fs::read(guest(file)).expect("reading the guest");
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!("bench-{nanos}");
    bytes.push(0);
    bytes.push(u8::try_from(name.len() + 1).unwrap());
    bytes.push(u8::try_from(name.len()).unwrap());
    bytes.extend_from_slice(name.as_bytes());
    bytes
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn connect() -> ConnectRequest {
    ConnectRequest {
        client_id: "bench-client".into(),
        username: Some("alice".into()),
        password: Some(b"demo".to_vec()),
        protocol_version: 5,
        remote_addr: Some("127.0.0.1:40000".into()),
        keep_alive: 60,
        clean_start: true,
        tenant: None,
        client_cert: None,
        user_properties: Vec::new(),
    }
}

fn session() -> SessionInfo {
    SessionInfo {
        node: 1,
        remote_addr: Some("127.0.0.1:40000".into()),
        client_id: "bench-client".into(),
        username: Some("alice".into()),
        tenant: None,
    }
}

fn percentiles(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    let at = |q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)];
    (at(0.50), at(0.99))
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

struct Row {
    guest: &'static str,
    size: usize,
    cold: Duration,
    disk: Duration,
    memory_bytes: Duration,
    memory_path: Duration,
    inst: (Duration, Duration),
    replace: (Duration, Duration),
    linear_mem: u64,
    rss_per_instance: u64,
    auth: (Duration, Duration),
    publish: Option<(Duration, Duration)>,
}

async fn timed_load(bytes: &[u8], opts: &LoadOptions, want: CacheSource) -> (WasmPolicy, Duration) {
    let t = Instant::now();
    let p = WasmPolicy::load(bytes.to_vec(), opts.clone())
        .await
        .expect("load");
    let d = t.elapsed();
    assert_eq!(p.load_info().source, want, "unexpected cache source");
    (p, d)
}

async fn measure(label: &'static str, file: &str, publish: bool) -> Row {
    let dir = std::env::temp_dir().join(format!("rmqtt-js-bench-cache-{}", std::process::id()));
    let opts = LoadOptions::new(label)
        .cache_dir(&dir)
        .max_instances(INSTANCES + 1);
    let bytes = unique_bytes(file);

    let (_, cold) = timed_load(&bytes, &opts, CacheSource::Compiled).await;
    clear_memory_cache();
    let (_, disk) = timed_load(&bytes, &opts, CacheSource::Disk).await;
    let (policy, memory_bytes) = timed_load(&bytes, &opts, CacheSource::Memory).await;
    // Path loads: the first reads and hashes, the next one only stats the file.
    let path_opts = opts.clone().disk_cache(false);
    WasmPolicy::load(guest(file).as_path(), path_opts.clone())
        .await
        .expect("load");
    let t = Instant::now();
    let by_path = WasmPolicy::load(guest(file).as_path(), path_opts)
        .await
        .expect("load");
    let memory_path = t.elapsed();
    assert_eq!(by_path.load_info().source, CacheSource::Memory);

    // Fresh instances from the InstancePre.
    let mut inst = Vec::with_capacity(INSTANCES);
    for i in 2..=INSTANCES {
        let t = Instant::now();
        policy.prewarm(i).await.expect("instantiate");
        inst.push(t.elapsed());
    }
    let stats = policy.stats();
    let linear_mem = stats.idle_memory_bytes / stats.idle_instances.max(1);
    // A fresh instance replacing a dropped one (the path after a trap): the
    // pooling allocator reuses the slot with the image already mapped.
    let mut replace = Vec::with_capacity(INSTANCES);
    for _ in 0..INSTANCES {
        policy.shrink();
        let t = Instant::now();
        policy.prewarm(1).await.expect("instantiate");
        replace.push(t.elapsed());
    }
    drop(policy);

    // Resident memory per live instance after one call: one policy each.
    let rss_before = rss_bytes();
    let mut live = Vec::with_capacity(INSTANCES);
    for _ in 0..INSTANCES {
        let p = WasmPolicy::load(bytes.clone(), opts.clone())
            .await
            .expect("load");
        p.authenticate(connect()).await.expect("call");
        live.push(p);
    }
    let rss_per_instance = rss_bytes().saturating_sub(rss_before) / INSTANCES as u64;
    drop(live);

    let p = WasmPolicy::load(bytes.clone(), opts.clone())
        .await
        .expect("load");
    for _ in 0..1000 {
        p.authenticate(connect()).await.expect("warm-up");
    }
    let mut auth = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let req = connect();
        let t = Instant::now();
        let d = p.authenticate(req).await.expect("call");
        auth.push(t.elapsed());
        std::hint::black_box(d);
    }
    let publish = if publish {
        let mut v = Vec::with_capacity(CALLS);
        for _ in 0..CALLS {
            let (s, m) = (
                session(),
                Message {
                    topic: "alice/t/upper".into(),
                    payload: b"hello world".to_vec(),
                    qos: QoS::AtLeastOnce,
                    retain: false,
                    properties: Default::default(),
                },
            );
            let t = Instant::now();
            let d = p.authorize_publish(s, m).await.expect("call");
            v.push(t.elapsed());
            std::hint::black_box(d);
        }
        Some(percentiles(v))
    } else {
        None
    };
    let _ = std::fs::remove_dir_all(&dir);
    Row {
        guest: label,
        size: bytes.len(),
        cold,
        disk,
        memory_bytes,
        memory_path,
        inst: percentiles(inst),
        replace: percentiles(replace),
        linear_mem,
        rss_per_instance,
        auth: percentiles(auth),
        publish,
    }
}

/// `WASM_BENCH_PROFILE=instantiate|call WASM_BENCH_GUEST=file.wasm`: loops
/// one operation for a few seconds (to run under `perf record`).
async fn profile(mode: &str, file: &str) {
    let p = WasmPolicy::load(guest(file).as_path(), LoadOptions::new("profile"))
        .await
        .expect("load");
    let end = Instant::now() + Duration::from_secs(4);
    let mut n = 0u64;
    while Instant::now() < end {
        for _ in 0..100 {
            if mode == "instantiate" {
                p.shrink();
                p.prewarm(1).await.expect("instantiate");
            } else {
                std::hint::black_box(p.authenticate(connect()).await.expect("call"));
            }
            n += 1;
        }
    }
    println!("{mode}: {n} ops in 4 s; {:?}", p.stats());
}

fn main() {
    if let (Ok(mode), Ok(file)) = (
        std::env::var("WASM_BENCH_PROFILE"),
        std::env::var("WASM_BENCH_GUEST"),
    ) {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async {
            tokio::spawn(async move { profile(&mode, &file).await })
                .await
                .expect("task")
        });
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let guests: [(&'static str, &str, bool); 5] = [
            ("Rust (rust-acl)", "rust-acl.wasm", true),
            ("QuickJS (js-auth)", "js-auth.quickjs.wasm", false),
            ("QuickJS (ts-acl)", "ts-acl.quickjs.wasm", true),
            ("StarlingMonkey (js-auth)", "js-auth.starlingmonkey.wasm", false),
            ("StarlingMonkey (ts-acl)", "ts-acl.starlingmonkey.wasm", true),
        ];
        let mut rows = Vec::new();
        for (label, file, publish) in guests {
            // Run on a worker, as the broker's hook calls do.
            let row = tokio::spawn(measure(label, file, publish)).await.expect("bench task");
            rows.push(row);
        }
        println!(
            "wasmtime 48, allocator {:?}, {} cores, {CALLS} calls per decision\n",
            engine::allocator(),
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        println!("| guest | size | load cold (compile) | load disk cache | load memory (bytes / path) | fresh instance p50 / p99: new slot; replacing a dropped one | linear memory / RSS per instance | authenticate p50 / p99 | authorize-publish p50 / p99 |");
        println!("|---|---|---|---|---|---|---|---|---|");
        for r in rows {
            println!(
                "| {} | {:.2} MB | {} | {} | {} / {} | {} / {}; {} / {} | {} KiB / {} KiB | {} / {} | {} |",
                r.guest,
                r.size as f64 / 1e6,
                ms(r.cold),
                ms(r.disk),
                ms(r.memory_bytes),
                ms(r.memory_path),
                us(r.inst.0),
                us(r.inst.1),
                us(r.replace.0),
                us(r.replace.1),
                r.linear_mem / 1024,
                r.rss_per_instance / 1024,
                us(r.auth.0),
                us(r.auth.1),
                r.publish.map_or("–".to_string(), |(a, b)| format!("{} / {}", us(a), us(b))),
            );
        }
    });
}
