//! A store's log kept in Redis (`persistence: { redis }`), for users who run
//! Redis already: one LIST per broker context (`<prefix>:default:log`,
//! `<prefix>:tenants:<id>:log`) whose elements, in order, are the log's
//! bytes. An append is one `RPUSH` (whole or not at all), done by a script
//! that first checks the list still has the elements this device wrote: an
//! append whose reply was lost (Redis applied it, then the connection broke)
//! is not written twice when the store retries it, and a list that Redis lost
//! (restarted without its data) or that someone else wrote to is not appended
//! to (the store refuses publishes until a restart). A cut or a compaction
//! swaps the list in one `MULTI`/`EXEC`. How long an acknowledged
//! write survives a crash of Redis itself is Redis's `appendonly` /
//! `appendfsync` setting: [`LogDevice::sync`] has nothing to add.
//!
//! The device talks to Redis from the store's writer thread only
//! ([`LogDevice::inline_writes`] is false): a network round trip never runs
//! on a broker thread. A broken connection is dropped and made again on the
//! next call, so a Redis restart heals by itself (the store retries a failed
//! append every second meanwhile and refuses new QoS 1/2 publishes).

use std::io;
use std::time::Duration;

use redis::{Client, Connection, ConnectionAddr, RedisError};

use super::device::LogDevice;

/// Connect, read and write timeouts: a dead Redis fails a call, never hangs it.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// Largest list element written (Redis's limit is 512 MB).
const MAX_ELEMENT: usize = 64 * 1024 * 1024;

/// `RPUSH KEYS[1] ARGV[2]`, given that the list had `ARGV[1]` elements when
/// this device last heard from Redis. More elements than that: an earlier
/// attempt of this append (the store retries the same bytes, with what was
/// buffered since behind them) went in without its reply; the elements past
/// `ARGV[1]` must then be the start of `ARGV[2]`, and only the rest is pushed.
/// Anything else is an error: the list is not what this device wrote.
/// Returns the list's length.
const APPEND: &str = r"
local n = redis.call('LLEN', KEYS[1])
local known = tonumber(ARGV[1])
local data = ARGV[2]
if n == known then
  return redis.call('RPUSH', KEYS[1], data)
end
if n > known then
  local done = table.concat(redis.call('LRANGE', KEYS[1], known, -1))
  if #done <= #data and string.sub(data, 1, #done) == done then
    if #done == #data then
      return n
    end
    return redis.call('RPUSH', KEYS[1], string.sub(data, #done + 1))
  end
end
return redis.error_reply('LOGCHANGED the list has ' .. n .. ' elements where ' .. known .. ' were written')
";

/// The Redis URL as messages show it: no user or password.
pub fn shown_url(client: &Client) -> String {
    let info = client.get_connection_info();
    let db = info.redis.db;
    match &info.addr {
        ConnectionAddr::Tcp(host, port) => format!("redis://{host}:{port}/{db}"),
        ConnectionAddr::TcpTls { host, port, .. } => format!("rediss://{host}:{port}/{db}"),
        ConnectionAddr::Unix(path) => format!("unix://{}?db={db}", path.display()),
    }
}

/// A Redis URL as written, its password (or user and password) masked.
pub fn url_without_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}***{}", &url[..s + 3], &url[at..]),
        _ => url.to_string(),
    }
}

/// A connection with the timeouts set.
pub fn connect(client: &Client) -> redis::RedisResult<Connection> {
    let conn = client.get_connection_with_timeout(TIMEOUT)?;
    conn.set_read_timeout(Some(TIMEOUT))?;
    conn.set_write_timeout(Some(TIMEOUT))?;
    Ok(conn)
}

/// One context's log in Redis.
pub struct RedisDevice {
    client: Client,
    key: String,
    url: String,
    conn: Option<Connection>,
    /// The list's length as of Redis's last answer (`None`: unknown, after a
    /// swap whose answer was lost).
    elements: Option<u64>,
}

impl RedisDevice {
    pub fn new(client: Client, key: String) -> RedisDevice {
        RedisDevice {
            url: shown_url(&client),
            client,
            key,
            conn: None,
            elements: None,
        }
    }

    /// Runs `f` on the connection, made first when there is none; an error
    /// drops it, so that the next call starts on a fresh one.
    fn with_conn<T>(
        &mut self,
        f: impl FnOnce(&mut Connection, &str) -> redis::RedisResult<T>,
    ) -> io::Result<T> {
        if self.conn.is_none() {
            self.conn = Some(connect(&self.client).map_err(to_io)?);
        }
        let conn = self.conn.as_mut().expect("connected above");
        match f(conn, &self.key) {
            Ok(v) => Ok(v),
            Err(e) => {
                if !is_command_error(&e) {
                    self.conn = None;
                }
                Err(to_io(e))
            }
        }
    }

    /// Puts `content` in place of the list, atomically.
    fn swap(&mut self, content: &[u8]) -> io::Result<()> {
        self.elements = None;
        self.with_conn(|conn, key| {
            let mut pipe = redis::pipe();
            pipe.atomic().del(key).ignore();
            for chunk in content.chunks(MAX_ELEMENT) {
                pipe.rpush(key, chunk).ignore();
            }
            pipe.query::<()>(conn)
        })?;
        self.elements = Some(content.chunks(MAX_ELEMENT).len() as u64);
        Ok(())
    }
}

impl LogDevice for RedisDevice {
    fn read_all(&mut self) -> io::Result<Vec<u8>> {
        let parts: Vec<Vec<u8>> =
            self.with_conn(|conn, key| redis::cmd("LRANGE").arg(key).arg(0).arg(-1).query(conn))?;
        self.elements = Some(parts.len() as u64);
        Ok(parts.concat())
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let known = match self.elements {
            Some(n) => n,
            None => self.with_conn(|conn, key| redis::cmd("LLEN").arg(key).query(conn))?,
        };
        self.elements = Some(known);
        let appended = self.with_conn(|conn, key| {
            redis::cmd("EVAL")
                .arg(APPEND)
                .arg(1)
                .arg(key)
                .arg(known)
                .arg(bytes)
                .query::<u64>(conn)
        });
        match appended {
            Ok(n) => {
                self.elements = Some(n);
                Ok(())
            }
            Err(e) if e.to_string().contains("LOGCHANGED") => Err(io::Error::other(format!(
                "{e}: Redis lost it (restarted without its data?) or something else wrote to it; \
                 nothing more is written to it until the server restarts (it then starts from \
                 what the list holds)"
            ))),
            Err(e) => Err(e),
        }
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        let mut content = self.read_all()?;
        content.truncate(len as usize);
        self.swap(&content)
    }

    fn sync(&mut self) -> io::Result<()> {
        // Redis's own persistence settings decide (see the module docs).
        Ok(())
    }

    fn replace(&mut self, content: &[u8]) -> io::Result<()> {
        self.swap(content)
    }

    fn describe(&self) -> String {
        format!("{} key {}", self.url, self.key)
    }

    fn inline_writes(&self) -> bool {
        false
    }
}

/// Whether Redis answered with an error (the connection is fine) rather than
/// the connection failing.
fn is_command_error(e: &RedisError) -> bool {
    !(e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_connection_refusal())
}

fn to_io(e: RedisError) -> io::Error {
    io::Error::other(e.to_string())
}
