//! One running server per Redis key prefix: the key `<prefix>:lock`, set
//! with `SET NX PX` to `<hostname>:<pid>:<token>`, refreshed by a small
//! thread while the server runs and deleted when it stops. A crashed server
//! cannot delete it, so it expires [`TTL`] after its last refresh; and a
//! server of this machine whose process is gone (a `kill -9`, then a restart
//! at once) is recognised by its pid and its lock taken over at once.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use redis::Client;

use super::redis_device::{connect, shown_url};
use super::PersistenceError;

/// How long a lock outlives its last refresh.
pub const TTL: Duration = Duration::from_secs(30);
const REFRESH_EVERY: Duration = Duration::from_secs(10);

/// Extends the lock if it is still ours.
const REFRESH: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";
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
    let value = format!("{}:{}:{:016x}", hostname(), std::process::id(), token());
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

/// Whether the lock value names a process of this machine that is gone.
fn holder_is_dead(holder: &str) -> bool {
    let mut parts = holder.rsplitn(3, ':');
    let (_token, pid, host) = (parts.next(), parts.next(), parts.next());
    let (Some(pid), Some(host)) = (pid.and_then(|p| p.parse::<u32>().ok()), host) else {
        return false;
    };
    host == hostname()
        && pid != std::process::id()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        && std::path::Path::new("/proc/self").exists()
}

/// `host:pid` of a lock value (without its token).
fn shown_holder(holder: &str) -> String {
    match holder.rsplit_once(':') {
        Some((who, _token)) => format!("server {who}"),
        None => format!("{holder:?}"),
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
