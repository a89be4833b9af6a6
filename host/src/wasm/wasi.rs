//! WASI 0.2 for policies, inert: no preopened directories, no environment, no
//! arguments, no stdin, every network use denied. Toolchains (jco, Rust's
//! `wasm32-wasip2`) import WASI even when a policy uses none of it, so the
//! imports are satisfied, but nothing behind them reaches the host.
//!
//! stdout and stderr are captured line by line into the log (stdout at INFO,
//! stderr at WARN), under the policy's log target.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

use super::host_api::MAX_LOG_MESSAGE;
use super::state::PolicyIdent;

/// A WASI context that gives the guest nothing but clocks, randomness and
/// a log-backed stdout/stderr.
pub(crate) fn inert_ctx(ident: &Arc<PolicyIdent>) -> WasiCtx {
    let mut b = WasiCtxBuilder::new();
    b.stdout(LogOutput::new(ident.clone(), log::Level::Info))
        .stderr(LogOutput::new(ident.clone(), log::Level::Warn))
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .socket_addr_check(|_, _| Box::pin(async { false }));
    b.build()
}

/// A guest output stream that becomes log records, one per line.
#[derive(Clone)]
struct LogOutput {
    ident: Arc<PolicyIdent>,
    level: log::Level,
    /// The unfinished line, shared by every handle of the stream.
    pending: Arc<Mutex<Vec<u8>>>,
}

impl LogOutput {
    fn new(ident: Arc<PolicyIdent>, level: log::Level) -> LogOutput {
        LogOutput {
            ident,
            level,
            pending: Arc::default(),
        }
    }

    fn emit(&self, line: &[u8]) {
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end_matches(['\r', '\n']);
        log::log!(target: self.ident.log_target.as_str(), self.level, "{line}");
    }

    fn write_bytes(&self, mut bytes: &[u8]) {
        let mut pending = self.pending.lock().expect("log output lock poisoned");
        while let Some(nl) = bytes.iter().position(|&b| b == b'\n') {
            pending.extend_from_slice(&bytes[..nl]);
            self.emit(&pending);
            pending.clear();
            bytes = &bytes[nl + 1..];
        }
        pending.extend_from_slice(bytes);
        if pending.len() >= MAX_LOG_MESSAGE {
            self.emit(&pending);
            pending.clear();
        }
    }
}

impl Drop for LogOutput {
    fn drop(&mut self) {
        // The last handle flushes an unfinished line.
        if Arc::strong_count(&self.pending) == 1 {
            let pending = self.pending.lock().map(|p| p.clone()).unwrap_or_default();
            if !pending.is_empty() {
                self.emit(&pending);
            }
        }
    }
}

impl IsTerminal for LogOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

/// How much a guest may write at once (per `check-write`).
const WRITE_PERMIT: usize = 64 * 1024;

impl OutputStream for LogOutput {
    fn write(&mut self, bytes: bytes::Bytes) -> Result<(), StreamError> {
        self.write_bytes(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(WRITE_PERMIT)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LogOutput {
    async fn ready(&mut self) {}
}

impl AsyncWrite for LogOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write_bytes(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
