//! One MQTT client connection of the load generator: connect, subscribe,
//! read packets. Every wait is bounded by [`WAIT`].

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use super::codec::{self, Packet};

/// The longest any single step (a CONNACK, a SUBACK) may take.
pub const WAIT: Duration = Duration::from_secs(15);
/// The credentials every bench client presents (the policies allow them).
pub const USER: &str = "bench";
pub const PASSWORD: &str = "demo";
/// Keep-alive long enough that no scenario needs PINGREQs.
const KEEP_ALIVE_S: u16 = 600;

/// A connected client.
pub struct Conn {
    pub stream: TcpStream,
    pub rbuf: BytesMut,
    /// The CONNACK's session-present flag (a persistent session resumed).
    pub session_present: bool,
}

impl Conn {
    /// Opens a TCP connection, sends a CONNECT with the bench credentials and
    /// waits for a successful CONNACK.
    pub async fn open(addr: SocketAddr, client_id: &str) -> Result<Conn, String> {
        Conn::open_as(addr, client_id, PASSWORD).await
    }

    /// [`Conn::open`] with another password (the hook probe's refused client).
    pub async fn open_as(
        addr: SocketAddr,
        client_id: &str,
        password: &str,
    ) -> Result<Conn, String> {
        Conn::open_with(addr, client_id, password, true).await
    }

    /// [`Conn::open`] asking for a persistent session (clean session false):
    /// the broker keeps its subscriptions and messages while it is away.
    pub async fn open_persistent(addr: SocketAddr, client_id: &str) -> Result<Conn, String> {
        Conn::open_with(addr, client_id, PASSWORD, false).await
    }

    async fn open_with(
        addr: SocketAddr,
        client_id: &str,
        password: &str,
        clean: bool,
    ) -> Result<Conn, String> {
        let stream = tokio::time::timeout(WAIT, TcpStream::connect(addr))
            .await
            .map_err(|_| "TCP connect timed out".to_string())?
            .map_err(|e| format!("TCP connect: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let mut conn = Conn {
            stream,
            rbuf: BytesMut::with_capacity(64 * 1024),
            session_present: false,
        };
        let mut out = BytesMut::with_capacity(64);
        codec::connect(
            &mut out,
            client_id,
            Some((USER, password)),
            KEEP_ALIVE_S,
            clean,
        );
        conn.write(&out).await?;
        let ack = conn.expect(codec::CONNACK).await?;
        match ack.head_u16() {
            Some(v) if v & 0xff == 0 => {
                conn.session_present = v & 0x0100 != 0;
                Ok(conn)
            }
            Some(v) => Err(format!("CONNACK refused, return code {}", v & 0xff)),
            None => Err("short CONNACK".into()),
        }
    }

    /// Opens `count` clients named `<prefix><i>` at once (with persistent
    /// sessions unless `clean`), each subscribed to `filter` when given;
    /// returned in index order.
    pub async fn open_many(
        addr: SocketAddr,
        prefix: &str,
        count: usize,
        filter: Option<(&str, u8)>,
        clean: bool,
    ) -> Result<Vec<Conn>, String> {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..count {
            let id = format!("{prefix}{i}");
            let filter = filter.map(|(f, q)| (f.to_string(), q));
            tasks.spawn(async move {
                let mut conn = Conn::open_with(addr, &id, PASSWORD, clean).await?;
                if let Some((f, q)) = filter {
                    conn.subscribe(&f, q).await?;
                }
                Ok::<_, String>((i, conn))
            });
        }
        let mut conns: Vec<Option<Conn>> = (0..count).map(|_| None).collect();
        while let Some(done) = tasks.join_next().await {
            let (i, conn) = done.map_err(|e| format!("connect task: {e}"))??;
            conns[i] = Some(conn);
        }
        Ok(conns.into_iter().flatten().collect())
    }

    /// Subscribes to `filter` and waits for a SUBACK that grants it.
    pub async fn subscribe(&mut self, filter: &str, qos: u8) -> Result<(), String> {
        let mut out = BytesMut::with_capacity(64);
        codec::subscribe(&mut out, 1, filter, qos);
        self.write(&out).await?;
        let ack = self.expect(codec::SUBACK).await?;
        match ack.body.get(2) {
            Some(granted) if *granted <= 2 => Ok(()),
            other => Err(format!("SUBACK refused: {other:?}")),
        }
    }

    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.stream
            .write_all(bytes)
            .await
            .map_err(|e| format!("write: {e}"))
    }

    /// The next packet, reading as needed (bounded by [`WAIT`]).
    pub async fn next_packet(&mut self) -> Result<Packet, String> {
        loop {
            if let Some(p) = codec::decode(&mut self.rbuf)? {
                return Ok(p);
            }
            let n = tokio::time::timeout(WAIT, self.stream.read_buf(&mut self.rbuf))
                .await
                .map_err(|_| "no packet within the wait bound".to_string())?
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("connection closed by the broker".into());
            }
        }
    }

    /// Sends DISCONNECT (a persistent session then stays offline in the
    /// broker) and closes the connection.
    pub async fn disconnect(mut self) -> Result<(), String> {
        let mut out = BytesMut::with_capacity(2);
        codec::disconnect(&mut out);
        self.write(&out).await?;
        let _ = self.stream.shutdown().await;
        Ok(())
    }

    /// Skips packets until one of `kind` arrives.
    async fn expect(&mut self, kind: u8) -> Result<Packet, String> {
        loop {
            let p = self.next_packet().await?;
            if p.kind == kind {
                return Ok(p);
            }
        }
    }

    /// Splits into halves; bytes already read stay with the reader.
    pub fn split(self) -> (Reader, OwnedWriteHalf) {
        let (r, w) = self.stream.into_split();
        (
            Reader {
                half: r,
                rbuf: self.rbuf,
            },
            w,
        )
    }
}

/// The read half of a connection with its buffer.
pub struct Reader {
    half: OwnedReadHalf,
    rbuf: BytesMut,
}

impl Reader {
    /// Reads at least once (unless packets are already buffered) and returns
    /// every complete packet now buffered; an empty batch never happens.
    pub async fn batch(&mut self, out: &mut Vec<Packet>) -> Result<(), String> {
        out.clear();
        loop {
            while let Some(p) = codec::decode(&mut self.rbuf)? {
                out.push(p);
            }
            if !out.is_empty() {
                return Ok(());
            }
            if self.rbuf.capacity() - self.rbuf.len() < 16 * 1024 {
                self.rbuf.reserve(64 * 1024);
            }
            let n = self
                .half
                .read_buf(&mut self.rbuf)
                .await
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("connection closed by the broker".into());
            }
        }
    }
}
