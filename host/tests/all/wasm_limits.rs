//! Each limit fires — deadline, memory cap, trap, instance cap — and the same
//! policy object keeps serving afterwards from a fresh instance.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmqtt_js_host::hooks::{HookBackend, HookError};

use crate::wasm_support::{connect, load_with, options};

#[tokio::test(flavor = "multi_thread")]
async fn a_spinning_guest_is_interrupted_at_its_deadline() {
    let p = load_with(
        "hostile-loop.wasm",
        options("loop").timeout(Duration::from_millis(20)),
    )
    .await;
    for round in 1..=2u64 {
        let r = p.authenticate(connect(Some("a"), Some("demo"))).await;
        assert_eq!(r, Err(HookError::DeadlineExceeded), "round {round}");
        let stats = p.stats();
        assert_eq!(stats.deadline_hits, round, "{stats:?}");
        assert_eq!(
            stats.idle_instances, 0,
            "an interrupted instance is never pooled: {stats:?}"
        );
    }
    // The second call ran in a fresh instance (the first one was discarded).
    assert_eq!(p.stats().instances_created, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spinning_guest_yields_to_other_tasks_on_its_worker() {
    let p = load_with(
        "hostile-loop.wasm",
        options("loop-yield").timeout(Duration::from_millis(30)),
    )
    .await;
    let order = Arc::new(Mutex::new(Vec::new()));
    let o1 = order.clone();
    let o2 = order.clone();
    // Both futures run in the same task: the second can only run if the
    // spinning guest yields.
    tokio::join!(
        async move {
            let r = p.authenticate(connect(Some("a"), Some("demo"))).await;
            assert_eq!(r, Err(HookError::DeadlineExceeded));
            o1.lock().unwrap().push("guest done");
        },
        async move {
            o2.lock().unwrap().push("other task ran");
        }
    );
    assert_eq!(*order.lock().unwrap(), ["other task ran", "guest done"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_memory_bomb_traps_at_the_cap() {
    let p = load_with(
        "hostile-membomb.wasm",
        options("membomb").max_memory_bytes(16 << 20),
    )
    .await;
    for round in 1..=2u64 {
        match p.authenticate(connect(Some("a"), Some("demo"))).await {
            Err(HookError::Trapped(m)) => assert!(m.contains("memory limit"), "round {round}: {m}"),
            other => panic!("round {round}: expected a memory trap, got {other:?}"),
        }
        let stats = p.stats();
        assert_eq!(stats.memory_cap_hits, round, "{stats:?}");
        assert_eq!(stats.traps, round, "{stats:?}");
    }
    assert_eq!(p.stats().instances_created, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_guest_traps_and_is_replaced() {
    let p = load_with("hostile-trap.wasm", options("trap")).await;
    for round in 1..=3u64 {
        match p.authenticate(connect(Some("a"), Some("demo"))).await {
            Err(HookError::Trapped(m)) => assert!(m.contains("unreachable"), "round {round}: {m}"),
            other => panic!("round {round}: expected a trap, got {other:?}"),
        }
        assert_eq!(p.stats().traps, round);
    }
    // Each call got a fresh instance: a trapped one is never entered again.
    let stats = p.stats();
    assert_eq!(stats.instances_created, 3, "{stats:?}");
    assert_eq!(stats.deadline_hits, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_over_the_instance_cap_are_refused() {
    let p = load_with(
        "hostile-loop.wasm",
        options("loop-cap")
            .timeout(Duration::from_millis(30))
            .max_instances(1)
            .max_wait(Duration::ZERO),
    )
    .await;
    let (a, b) = tokio::join!(
        p.authenticate(connect(Some("a"), Some("demo"))),
        p.authenticate(connect(Some("b"), Some("demo"))),
    );
    assert_eq!(a, Err(HookError::DeadlineExceeded));
    assert_eq!(b, Err(HookError::Overloaded));
    assert_eq!(p.stats().overloaded, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_instance_that_keeps_growing_is_retired_before_the_cap() {
    // The StarlingMonkey build leaks a little linear memory per call; with a
    // cap close to its initial size it must be recycled, never trap.
    let p = load_with(
        "js-auth.starlingmonkey.wasm",
        options("sm-leak").max_memory_bytes(12 << 20),
    )
    .await;
    for i in 0..6000 {
        let d = p.authenticate(connect(Some("a"), Some("demo"))).await;
        assert!(matches!(d, Ok(ref d) if d.allow), "call {i}: {d:?}");
    }
    let stats = p.stats();
    assert_eq!(stats.traps, 0, "{stats:?}");
    assert!(stats.instances_recycled >= 1, "{stats:?}");
}
