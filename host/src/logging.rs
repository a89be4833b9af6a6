//! Log records from rmqtt, the router and wasm policies, delivered to a sink
//! the embedder installs (the Node addon forwards them to JS).
//!
//! The `log` crate has one logger per process: this module installs it once.
//! WARN and ERROR pass from every target; INFO and below only from
//! `rmqtt_js*` targets (wasm policy logs among them). Repeated WARNs of the
//! hook router go through [`limit`] first.

use std::sync::{Arc, OnceLock, RwLock};

use log::{Level, LevelFilter, Log, Metadata, Record};

pub mod limit;

/// One log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub level: Level,
    pub target: String,
    pub message: String,
}

/// Where log records go.
pub type LogSink = Arc<dyn Fn(LogRecord) + Send + Sync>;

static SINK: RwLock<Option<LogSink>> = RwLock::new(None);
static INSTALLED: OnceLock<()> = OnceLock::new();

/// Sends every later record to `sink` (replacing any earlier sink).
pub fn set_sink(sink: LogSink) {
    install();
    *SINK.write().unwrap_or_else(|e| e.into_inner()) = Some(sink);
}

/// Removes the sink: records go to stderr again.
pub fn clear_sink() {
    *SINK.write().unwrap_or_else(|e| e.into_inner()) = None;
}

/// Installs the process logger, unless one is installed already.
pub fn install() {
    INSTALLED.get_or_init(|| {
        if log::set_logger(&LOGGER).is_ok() {
            log::set_max_level(LevelFilter::Info);
        }
    });
}

/// rmqtt messages that are expected and mean nothing to a user: (target, text).
const SUPPRESSED: [(&str, &str); 3] = [
    // Logged when a stopped server's retainer plugin is released.
    ("rmqtt_retainer", "cannot be stopped"),
    // A ws or wss client whose connection dropped (a closed laptop, a lost
    // network): the same event is silent on tcp and tls listeners.
    (
        "rmqtt_net::ws",
        "Connection reset without closing handshake",
    ),
    (
        "rmqtt_net::ws",
        "peer closed connection without sending TLS close_notify",
    ),
];

struct Logger;
static LOGGER: Logger = Logger;

impl Log for Logger {
    fn enabled(&self, m: &Metadata) -> bool {
        m.level() <= Level::Warn || (m.level() <= Level::Info && m.target().starts_with("rmqtt_js"))
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let rec = LogRecord {
            level: record.level(),
            target: record.target().to_string(),
            message: record.args().to_string(),
        };
        if SUPPRESSED
            .iter()
            .any(|(target, text)| rec.target == *target && rec.message.contains(text))
        {
            return;
        }
        let sink = SINK.read().unwrap_or_else(|e| e.into_inner()).clone();
        match sink {
            Some(sink) => sink(rec),
            None => eprintln!("[{}] {}: {}", rec.level, rec.target, rec.message),
        }
    }

    fn flush(&self) {}
}
