//! One running server per Redis key prefix: the key `<prefix>:lock`, set
//! with `SET NX PX` to `<hostname>:<pid>:<space>:<token>`, refreshed by a
//! small thread while the server runs and deleted when it stops. A crashed
//! server cannot delete it, so it expires [`TTL`] after its last refresh; and
//! a server whose process is gone (a `kill -9`, then a restart at once) is
//! recognised and its lock taken over at once when it ran in the same process
//! space as this one: `<space>` names the booted kernel and the pid namespace
//! (not the hostname, which two machines or containers may share), so that its
//! pid means the same process here.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use redis::Client;

use super::redis_device::{connect, shown_url};
use super::PersistenceError;

/// How long a lock outlives its last refresh.
pub const TTL: Duration = Duration::from_secs(30);
const REFRESH_EVERY: Duration = Duration::from_secs(10);

/// Extends the lock if it is still ours (1), takes it again if it is gone
/// (2: Redis lost it, restarted without its data), else 0.
const REFRESH: &str = "local v = redis.call('GET', KEYS[1]) \
     if v == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) \
     elseif not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 2 \
     else return 0 end";
/// Deletes the lock if it is still ours.
const RELEASE: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";
/// Replaces the lock if it still holds the value seen (a dead holder's).
const TAKE_OVER: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 else return 0 end";

/// Held while a server uses the prefix; dropping it releases the lock.
pub struct RedisLock {
    stop: Option<mpsc::Sender<()>>,
    refresher: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RedisLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisLock")
    }
}

/// Takes `<prefix>:lock`, or fails with `ERR_PERSISTENCE_LOCKED` naming the
/// server that holds it.
pub fn lock_prefix(client: &Client, prefix: &str) -> Result<RedisLock, PersistenceError> {
    let url = shown_url(client);
    let redis_err = |e: redis::RedisError| PersistenceError::Redis {
        url: url.clone(),
        reason: e.to_string(),
    };
    let key = format!("{prefix}:lock");
    let value = format!(
        "{}:{}:{}:{:016x}",
        hostname(),
        std::process::id(),
        process_space().unwrap_or_else(|| "-".into()),
        token()
    );
    let ttl_ms = TTL.as_millis() as u64;
    let mut conn = connect(client).map_err(redis_err)?;
    let set: Option<String> = redis::cmd("SET")
        .arg(&key)
        .arg(&value)
        .arg("NX")
        .arg("PX")
        .arg(ttl_ms)
        .query(&mut conn)
        .map_err(redis_err)?;
    if set.is_none() {
        let holder: Option<String> = redis::cmd("GET")
            .arg(&key)
            .query(&mut conn)
            .map_err(redis_err)?;
        let holder = holder.unwrap_or_default();
        let taken = if holder_is_dead(&holder) {
            redis::cmd("EVAL")
                .arg(TAKE_OVER)
                .arg(1)
                .arg(&key)
                .arg(&holder)
                .arg(&value)
                .arg(ttl_ms)
                .query::<i64>(&mut conn)
                .map_err(redis_err)?
                == 1
        } else {
            false
        };
        if !taken {
            return Err(PersistenceError::RedisLocked {
                url,
                key,
                holder: shown_holder(&holder),
            });
        }
        log::warn!(
            target: "rmqtt_js::persistence",
            "{url} {key}: taken over from {} (a server of this machine whose process is gone)",
            shown_holder(&holder)
        );
    }
    let (stop, stopped) = mpsc::channel::<()>();
    let client = client.clone();
    let refresher = std::thread::Builder::new()
        .name("rmqtt-js-redis-lock".into())
        .spawn(move || refresh_loop(client, key, value, stopped))
        .map_err(|e| PersistenceError::Redis {
            url,
            reason: format!("no thread to keep the lock: {e}"),
        })?;
    Ok(RedisLock {
        stop: Some(stop),
        refresher: Some(refresher),
    })
}

fn refresh_loop(client: Client, key: String, value: String, stopped: mpsc::Receiver<()>) {
    let mut conn = None;
    let run = |conn: &mut Option<redis::Connection>, script: &str, extra: Option<u64>| {
        if conn.is_none() {
            *conn = connect(&client).ok();
        }
        let Some(c) = conn.as_mut() else {
            return Err("no connection".to_string());
        };
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(script).arg(1).arg(&key).arg(&value);
        if let Some(x) = extra {
            cmd.arg(x);
        }
        match cmd.query::<i64>(c) {
            Ok(n) => Ok(n),
            Err(e) => {
                *conn = None;
                Err(e.to_string())
            }
        }
    };
    loop {
        match stopped.recv_timeout(REFRESH_EVERY) {
            Err(RecvTimeoutError::Timeout) => {
                match run(&mut conn, REFRESH, Some(TTL.as_millis() as u64)) {
                    Ok(1) => {}
                    Ok(2) => log::warn!(
                        target: "rmqtt_js::persistence",
                        "{key}: the lock was gone from Redis (restarted without its data?): taken again"
                    ),
                    Ok(_) => log::error!(
                        target: "rmqtt_js::persistence",
                        "{key}: the lock is no longer this server's (it expired while Redis was unreachable?): another server may use the same store"
                    ),
                    Err(e) => log::warn!(
                        target: "rmqtt_js::persistence",
                        "{key}: could not refresh the lock: {e}"
                    ),
                }
            }
            // Stopped, or the lock dropped.
            _ => {
                if let Err(e) = run(&mut conn, RELEASE, None) {
                    log::warn!(target: "rmqtt_js::persistence", "{key}: could not release the lock (it expires within {} s): {e}", TTL.as_secs());
                }
                return;
            }
        }
    }
}

impl Drop for RedisLock {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.refresher.take() {
            let _ = t.join();
        }
    }
}

/// Whether the lock value names a process of this process space (same
/// kernel boot, same pid namespace) that is gone.
fn holder_is_dead(holder: &str) -> bool {
    let mut parts = holder.rsplitn(4, ':');
    let (_token, space, pid) = (parts.next(), parts.next(), parts.next());
    let (Some(space), Some(pid)) = (space, pid.and_then(|p| p.parse::<u32>().ok())) else {
        return false;
    };
    let Some(ours) = process_space() else {
        return false;
    };
    space == ours && pid != std::process::id() && !process_runs(pid)
}

/// Whether process `pid` (of this pid namespace) exists and is not a zombie.
fn process_runs(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // `pid (comm) S ...`: the state follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_none_or(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
    }
}

/// The booted kernel and the pid namespace this process runs in (a pid means
/// the same process to every process of the same space), or `None` where
/// that cannot be told (no `/proc`).
fn process_space() -> Option<String> {
    use std::hash::Hasher;
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let ns = std::fs::read_link("/proc/self/ns/pid").ok()?;
    // A stable hash (not RandomState's): the value is compared across processes.
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    h.write(boot.trim().as_bytes());
    h.write(b"/");
    h.write(ns.as_os_str().as_encoded_bytes());
    Some(format!("{:016x}", h.finish()))
}

/// FNV-1a, a hash that is the same in every process.
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// `host:pid` of a lock value (without its process space and token).
fn shown_holder(holder: &str) -> String {
    let mut parts = holder.rsplitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(_token), Some(_space), Some(who)) => format!("server {who}"),
        _ => format!("{holder:?}"),
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// A value no other lock holder has.
fn token() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(pid: u32, space: &str) -> String {
        format!("{}:{pid}:{space}:0123456789abcdef", hostname())
    }

    #[test]
    fn only_a_gone_process_of_this_process_space_is_dead() {
        let Some(space) = process_space() else {
            return; // no /proc: nothing is ever taken over
        };
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let gone = child.id();
        child.wait().expect("wait");
        assert!(holder_is_dead(&value(gone, &space)));
        // The same pid seen from another machine or pid namespace.
        assert!(!holder_is_dead(&value(gone, "00000000deadbeef")));
        assert!(!holder_is_dead(&value(gone, "-")));
        // This process (a second server in it), and a running one.
        assert!(!holder_is_dead(&value(std::process::id(), &space)));
        let mut running = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        assert!(!holder_is_dead(&value(running.id(), &space)));
        let _ = running.kill();
        let _ = running.wait();
        // A zombie (exited, not yet waited for) is gone too.
        let mut zombie = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while process_runs(zombie.id()) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(holder_is_dead(&value(zombie.id(), &space)));
        zombie.wait().expect("wait");
        assert!(!holder_is_dead("garbage"));
        assert!(!holder_is_dead(""));
    }

    #[test]
    fn a_holder_is_shown_without_its_space_and_token() {
        assert_eq!(
            shown_holder("box:42:00000000deadbeef:0123456789abcdef"),
            "server box:42"
        );
        assert_eq!(shown_holder("odd"), "\"odd\"");
    }
}
