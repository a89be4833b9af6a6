//! The generator's ceiling: a trivial forwarder on its own thread inside the
//! bench process. It answers CONNECT, SUBSCRIBE and QoS 1 PUBLISH, and copies
//! every PUBLISH to every subscriber (no topic matching, no queues, no
//! sessions), so a scenario run against it measures the load generator and
//! the loopback, not a broker.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use crate::loadgen::codec;

type Subscribers = Arc<Mutex<Vec<mpsc::UnboundedSender<Bytes>>>>;

pub struct Sink {
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
}

impl Sink {
    pub fn start() -> Result<Sink, String> {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| format!("bind: {e}"))?;
        listener.set_nonblocking(true).map_err(|e| e.to_string())?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let (stop, stopped) = oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("bench-sink".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the sink");
                rt.block_on(async move {
                    let listener = TcpListener::from_std(listener).expect("tokio listener");
                    tokio::select! {
                        _ = accept_loop(listener) => {}
                        _ = stopped => {}
                    }
                });
            })
            .map_err(|e| e.to_string())?;
        Ok(Sink { addr, stop })
    }

    pub fn stop(self) {
        let _ = self.stop.send(());
    }
}

async fn accept_loop(listener: TcpListener) {
    let subscribers = Subscribers::default();
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve(stream, subscribers.clone()));
    }
}

async fn serve(stream: TcpStream, subscribers: Subscribers) {
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
    tokio::spawn(async move {
        let mut out = BytesMut::new();
        while let Some(first) = rx.recv().await {
            out.extend_from_slice(&first);
            while let Ok(more) = rx.try_recv() {
                out.extend_from_slice(&more);
            }
            if wr.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
    });
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut replies = BytesMut::new();
    let mut forward = BytesMut::new();
    loop {
        if buf.capacity() - buf.len() < 16 * 1024 {
            buf.reserve(64 * 1024);
        }
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        loop {
            let p = match codec::decode(&mut buf) {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(_) => return,
            };
            match p.kind {
                codec::CONNECT => codec::connack(&mut replies, 0),
                codec::SUBSCRIBE => {
                    let id = p.head_u16().unwrap_or(1);
                    codec::suback(&mut replies, id, p.body.last().copied().unwrap_or(0));
                    lock(&subscribers).push(tx.clone());
                }
                codec::PUBLISH => {
                    if let Some((Some(id), _)) = p.publish_parts() {
                        codec::puback(&mut replies, id);
                    }
                    codec::raw(&mut forward, p.kind, p.flags, &p.body);
                }
                codec::PINGREQ => codec::pingresp(&mut replies),
                codec::DISCONNECT => return,
                _ => {}
            }
        }
        if !replies.is_empty() && tx.send(replies.split().freeze()).is_err() {
            return;
        }
        if !forward.is_empty() {
            let bytes = forward.split().freeze();
            lock(&subscribers).retain(|s| s.send(bytes.clone()).is_ok());
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
