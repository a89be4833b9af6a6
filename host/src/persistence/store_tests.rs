//! Tests of the store on its own: what is appended comes back after a
//! reopen, compaction keeps exactly the live records, a torn tail is cut and
//! damage is refused.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use rmqtt::codec::types::{Publish as CodecPublish, QoS};
use rmqtt::codec::v3::Connect as ConnectV3;
use rmqtt::types::{ConnectInfo, From, Id, Publish, SubscriptionOptions};

use super::record::SessionMeta;
use super::store::{Put, Store, StoreOptions, StoreStats, LOG_FILE};
use super::PersistenceError;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "rmqtt-js-store-{name}-{}-{}",
        std::process::id(),
        rmqtt::utils::timestamp_millis()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn opts() -> StoreOptions {
    StoreOptions {
        sync_interval: Duration::from_millis(50),
        compact_min_bytes: u64::MAX,
    }
}

fn publish(topic: &str, payload: &str, qos: QoS, at: i64) -> Publish {
    Publish::from(CodecPublish {
        dup: false,
        retain: false,
        qos,
        topic: topic.into(),
        packet_id: None,
        payload: Bytes::from(payload.to_string()),
        properties: None,
    })
    .create_time(at)
}

fn from(client: &str) -> From {
    From::from_custom(Id::from(1, client.into()))
}

fn meta(client: &str) -> SessionMeta {
    let id = Id::from(1, client.into());
    let connect = ConnectV3 {
        client_id: client.into(),
        clean_session: false,
        ..ConnectV3::default()
    };
    SessionMeta {
        id: id.clone(),
        conn_info: ConnectInfo::V3(id, Box::new(connect)),
        created_at: 1,
        connected_at: 2,
        disconnected_at: None,
        disconnect: None,
    }
}

fn open(dir: &std::path::Path, o: StoreOptions) -> (Store, super::store::Recovered) {
    Store::open(dir, o).expect("the store opens")
}

async fn settle(store: &Store) {
    // One more record and its durability: everything before it is written.
    let b = store.retain_set(
        "settle",
        &from("x"),
        &publish("settle", "1", QoS::AtMostOnce, 1),
        None,
    );
    store.durable(b).await;
}

/// Waits until the store's figures satisfy `done` (the writer thread works on
/// its own), failing after a generous deadline.
async fn wait_stats(store: &Store, what: &str, done: impl Fn(&StoreStats) -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let stats = store.stats();
        if done(&stats) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {what} within 30 s: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn retained_sessions_and_messages_come_back_after_a_reopen() {
    let dir = temp_dir("reopen");
    {
        let (store, rec) = open(&dir, opts());
        assert!(rec.retained.is_empty() && rec.sessions.is_empty());
        store.retain_set(
            "a",
            &from("p"),
            &publish("a", "kept", QoS::AtLeastOnce, 1),
            None,
        );
        store.retain_set(
            "b",
            &from("p"),
            &publish("b", "cleared", QoS::AtLeastOnce, 1),
            None,
        );
        store.retain_clear("b");
        store.session_put("s1", meta("s1"));
        store
            .sub_put("s1", "t/#", &SubscriptionOptions::default())
            .unwrap();
        store
            .sub_put("s1", "gone", &SubscriptionOptions::default())
            .unwrap();
        store.sub_drop("s1", "gone").unwrap();
        assert_eq!(
            store.msg_put(
                "nobody",
                &from("p"),
                &publish("t/1", "x", QoS::AtLeastOnce, 5)
            ),
            Put::NotPersistent
        );
        for i in 0..5 {
            let p = publish("t/1", &format!("m{i}"), QoS::AtLeastOnce, 10 + i);
            assert!(matches!(
                store.msg_put("s1", &from("p"), &p),
                Put::Stored(_)
            ));
        }
        // m0 went out as packet 7, m1 was acknowledged.
        let mut sent = publish("t/1", "m0", QoS::AtLeastOnce, 10);
        sent.packet_id = std::num::NonZeroU16::new(7);
        store.msg_sent("s1", &from("p"), &sent).unwrap();
        store
            .msg_done(
                "s1",
                &from("p"),
                &publish("t/1", "m1", QoS::AtLeastOnce, 11),
            )
            .unwrap();
        store.session_put("s2", meta("s2"));
        store.session_drop("s2");
        settle(&store).await;
        store.close();
    }
    let (store, rec) = open(&dir, opts());
    let mut topics: Vec<_> = rec.retained.iter().map(|r| r.0.clone()).collect();
    topics.sort();
    assert_eq!(topics, ["a", "settle"]);
    assert_eq!(rec.sessions.len(), 1);
    let s = &rec.sessions[0];
    assert_eq!(s.client_id, "s1");
    assert_eq!(
        s.subs.iter().map(|x| x.0.as_str()).collect::<Vec<_>>(),
        ["t/#"]
    );
    let msgs: Vec<(String, u16)> = s
        .msgs
        .iter()
        .map(|m| {
            (
                String::from_utf8(m.publish.payload.to_vec()).unwrap(),
                m.packet_id,
            )
        })
        .collect();
    assert_eq!(
        msgs,
        [
            ("m0".into(), 7),
            ("m2".into(), 0),
            ("m3".into(), 0),
            ("m4".into(), 0)
        ]
    );
    assert!(rec.last_alive > 0, "close() wrote the time");
    let stats = store.stats();
    assert_eq!((stats.retained, stats.sessions, stats.messages), (2, 1, 4));
    store.close();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn compaction_keeps_the_live_records_only() {
    let dir = temp_dir("compact");
    let small = StoreOptions {
        sync_interval: Duration::from_millis(50),
        compact_min_bytes: 64 * 1024,
    };
    {
        let (store, _) = open(&dir, small);
        store.session_put("s", meta("s"));
        for round in 0..2_000 {
            let p = publish(
                "r",
                &format!("value {round} {}", "x".repeat(100)),
                QoS::AtLeastOnce,
                round,
            );
            store.retain_set("r", &from("p"), &p, None);
            let m = publish("q", &format!("msg {round}"), QoS::AtLeastOnce, round);
            assert!(matches!(store.msg_put("s", &from("p"), &m), Put::Stored(_)));
            if round < 1_990 {
                store.msg_done("s", &from("p"), &m).unwrap();
            }
            if round % 100 == 0 {
                settle(&store).await;
            }
        }
        settle(&store).await;
        // The writer thread compacts after its next write.
        wait_stats(&store, "a compaction to under 128 KiB", |s| {
            s.compactions > 0 && s.bytes < 64 * 1024 * 2
        })
        .await;
        store.close();
    }
    let (store, rec) = open(&dir, small);
    let r = rec.retained.iter().find(|r| r.0 == "r").unwrap();
    assert!(String::from_utf8(r.2.payload.to_vec())
        .unwrap()
        .starts_with("value 1999 "));
    let msgs: Vec<String> = rec.sessions[0]
        .msgs
        .iter()
        .map(|m| String::from_utf8(m.publish.payload.to_vec()).unwrap())
        .collect();
    assert_eq!(
        msgs,
        (1_990..2_000)
            .map(|i| format!("msg {i}"))
            .collect::<Vec<_>>()
    );
    store.close();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_torn_tail_is_cut_and_damage_is_refused() {
    let dir = temp_dir("damage");
    {
        let (store, _) = open(&dir, opts());
        store.retain_set(
            "a",
            &from("p"),
            &publish("a", "one", QoS::AtLeastOnce, 1),
            None,
        );
        store.retain_set(
            "b",
            &from("p"),
            &publish("b", "two", QoS::AtLeastOnce, 1),
            None,
        );
        settle(&store).await;
        store.close();
    }
    let log = dir.join(LOG_FILE);
    let good = std::fs::read(&log).unwrap();

    // A write cut short by a crash: the start of a frame, no more.
    let mut torn = good.clone();
    torn.extend_from_slice(&[40, 0, 0, 0, 1, 2]);
    std::fs::write(&log, &torn).unwrap();
    let (store, rec) = open(&dir, opts());
    assert_eq!(rec.torn_bytes, 6);
    assert_eq!(rec.retained.len(), 3);
    store.close();
    // The torn bytes are gone: the log goes on with good records after them.
    let after = std::fs::read(&log).unwrap();
    assert_eq!(&after[..good.len()], &good[..]);
    assert_ne!(&after[good.len()..good.len() + 4], &[40, 0, 0, 0]);

    // A flipped byte in the middle is damage: refused, with where.
    let mut bad = std::fs::read(&log).unwrap();
    bad[20] ^= 0xff;
    std::fs::write(&log, &bad).unwrap();
    match Store::open(&dir, opts()) {
        Err(PersistenceError::Corrupt { offset, .. }) => assert!(offset >= 8),
        Err(e) => panic!("expected Corrupt, got {e:?}"),
        Ok(_) => panic!("a damaged store opened"),
    }

    // Not a store at all.
    std::fs::write(&log, b"hello world").unwrap();
    match Store::open(&dir, opts()) {
        Err(e @ PersistenceError::Corrupt { offset: 0, .. }) => {
            assert_eq!(e.code(), "ERR_PERSISTENCE_CORRUPT")
        }
        other => panic!("expected Corrupt at 0, got {:?}", other.err()),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn qos2_receive_state_survives_and_compaction_keeps_its_recipients() {
    let dir = temp_dir("qos2");
    let small = StoreOptions {
        sync_interval: Duration::from_millis(50),
        compact_min_bytes: 16 * 1024,
    };
    {
        let (store, _) = open(&dir, small);
        for c in ["pub", "a", "b"] {
            store.session_put(c, meta(c));
        }
        let p = publish("t", "exactly once", QoS::ExactlyOnce, 7);
        // Forwarding of packet 5 cut short after "a" got its copy...
        store.in_qos2_begin("pub", 5, 99);
        assert!(matches!(
            store.msg_put("a", &from("pub"), &p),
            Put::Stored(_)
        ));
        // ...and "a" acknowledged it before the crash.
        store.msg_done("a", &from("pub"), &p).unwrap();
        // Packet 6 went everywhere.
        store.in_qos2_begin("pub", 6, 100);
        store.in_qos2_commit("pub", 6, 100).unwrap();
        // Enough garbage to compact.
        for i in 0..400 {
            store.retain_set(
                "g",
                &from("x"),
                &publish("g", &"y".repeat(64), QoS::AtMostOnce, i),
                None,
            );
        }
        settle(&store).await;
        wait_stats(&store, "a compaction", |s| s.compactions > 0).await;
        store.close();
    }
    let (store, _) = open(&dir, small);
    assert!(store.in_qos2_committed("pub", 6, 100));
    assert!(
        !store.in_qos2_committed("pub", 5, 99),
        "5 was not forwarded to everyone"
    );
    // The resend of 5: "a" has it (even acknowledged), "b" gets it.
    store.in_qos2_begin("pub", 5, 99);
    let p = publish("t", "exactly once", QoS::ExactlyOnce, 7);
    assert_eq!(store.msg_put("a", &from("pub"), &p), Put::HasItAlready);
    assert!(matches!(
        store.msg_put("b", &from("pub"), &p),
        Put::Stored(_)
    ));
    store.in_qos2_commit("pub", 5, 99).unwrap();
    // PUBREL frees the id for a new message.
    store.in_qos2_done("pub", 5).unwrap();
    assert!(!store.in_qos2_committed("pub", 5, 99));
    store.close();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn records_nobody_awaits_reach_the_log_without_another_write() {
    // The writer thread is not woken for them: it must still take them once
    // no caller's write has carried them for a while.
    let dir = temp_dir("unawaited");
    let (store, _) = open(&dir, opts());
    settle(&store).await;
    let log = dir.join(super::store::LOG_FILE);
    let before = std::fs::metadata(&log).expect("the log exists").len();
    store.session_put("lonely", meta("lonely"));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::fs::metadata(&log).expect("the log exists").len() == before {
        assert!(
            std::time::Instant::now() < deadline,
            "a record nobody awaited was not written within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // What the file holds now (the store still open, as in a crash) comes back.
    let copy = temp_dir("unawaited-copy");
    std::fs::create_dir_all(&copy).expect("the copy's dir");
    std::fs::copy(&log, copy.join(super::store::LOG_FILE)).expect("the log copies");
    let (_again, recovered) = open(&copy, opts());
    assert!(
        recovered.sessions.iter().any(|s| s.client_id == "lonely"),
        "the session record is in the log"
    );
    drop(store);
}
