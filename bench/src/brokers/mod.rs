//! The brokers under test, each started by the bench itself on loopback,
//! and the handle of a running one (its address, its pid for RSS, its
//! persistence directory, a restart of its server, its stop).

mod child;
pub mod host_server;
mod mosquitto;
mod native_hooks;
mod node;
mod sink;
mod store_dir;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use child::BrokerChild;
use store_dir::StoreDir;

/// How long a broker's `stop()` or `start()` may take (a start restores the store).
const LIFECYCLE_WAIT: Duration = Duration::from_secs(120);

/// Which broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// The generator's ceiling: a trivial forwarder inside the bench process.
    Sink,
    /// `rmqtt_js_host::Broker` alone, in a Rust process: our core's ceiling.
    Host,
    /// This project embedded in a Node process.
    RmqttJs,
    /// aedes on Node's `net` server.
    Aedes,
    Mosquitto,
}

/// Which hooks the broker runs (an auth hook and a publish ACL hook that allow
/// the bench's clients, all with the same rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hooks {
    None,
    /// Written in Rust against the host crate's backend trait.
    Native,
    Wasm,
    Js,
}

/// One broker configuration of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Variant {
    pub family: Family,
    pub hooks: Hooks,
    /// Started with `persistence: { dir }` (a fresh directory per launch).
    pub persistence: bool,
}

impl Variant {
    pub const fn new(family: Family, hooks: Hooks) -> Variant {
        Variant {
            family,
            hooks,
            persistence: false,
        }
    }

    /// The same broker keeping its state on disk (host crate and rmqtt-js only).
    pub const fn with_persistence(self) -> Variant {
        Variant {
            persistence: true,
            ..self
        }
    }

    /// The same broker without persistence.
    pub const fn in_memory(self) -> Variant {
        Variant {
            persistence: false,
            ..self
        }
    }

    /// The name used in the table and the chart.
    pub fn label(&self) -> String {
        let hooks = match self.hooks {
            Hooks::None => "no hooks",
            Hooks::Native => "Rust hooks",
            Hooks::Wasm => "wasm hooks",
            Hooks::Js => "JS hooks",
        };
        let hooks = if self.persistence {
            "persistence on"
        } else {
            hooks
        };
        match self.family {
            Family::Sink => "loadgen ceiling".into(),
            Family::Host => format!("host crate, {hooks}"),
            Family::RmqttJs => format!("rmqtt-js, {hooks}"),
            Family::Aedes => format!("aedes, {hooks}"),
            Family::Mosquitto => "mosquitto".into(),
        }
    }

    /// The aedes variant this one is compared with: aedes's hooks are JS,
    /// so every hooked variant is compared with aedes's JS hooks.
    pub fn aedes_peer(&self) -> Variant {
        let hooks = match self.hooks {
            Hooks::None => Hooks::None,
            _ => Hooks::Js,
        };
        Variant::new(Family::Aedes, hooks)
    }
}

/// Where things are that the launchers need.
#[derive(Debug, Clone)]
pub struct Env {
    /// The repository root (holds `package.json`).
    pub repo: PathBuf,
    /// This bench binary (it is also the host-crate broker).
    pub exe: PathBuf,
    /// The wasm policy for the wasm hook rows, when built.
    pub wasm_policy: Option<PathBuf>,
}

/// Why a broker did not start.
#[derive(Debug, Clone)]
pub enum LaunchError {
    /// Not built or not installed here: shown as "n/a" in the table.
    Unavailable(String),
    /// It should have started and did not.
    Failed(String),
}

/// A broker that is up and listening on loopback.
pub struct Running {
    pub addr: SocketAddr,
    kind: Kind,
    /// Its persistence directory (removed once the broker has stopped).
    store: Option<StoreDir>,
}

enum Kind {
    Child(BrokerChild),
    Sink(sink::Sink),
}

impl Running {
    /// Resident memory of the broker process, in KiB (none for the in-process sink).
    pub fn rss_kib(&self) -> Option<u64> {
        let Kind::Child(c) = &self.kind else {
            return None;
        };
        let status = std::fs::read_to_string(format!("/proc/{}/status", c.pid()?)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// The last lines the broker wrote to stderr (for failure reports).
    pub fn stderr_tail(&self) -> String {
        match &self.kind {
            Kind::Child(c) => c.stderr_tail(),
            Kind::Sink(_) => String::new(),
        }
    }

    /// Bytes of the default broker's `store.log`.
    pub fn store_bytes(&self) -> Result<u64, String> {
        self.store
            .as_ref()
            .ok_or("this broker has no persistence directory")?
            .log_bytes()
    }

    /// Asks the broker process to `stop()` its server (the process stays).
    pub async fn stop_server(&mut self) -> Result<Duration, String> {
        let Kind::Child(c) = &mut self.kind else {
            return Err("the sink cannot stop and start".into());
        };
        let words = c.request("stop", LIFECYCLE_WAIT).await?;
        micros(words.first())
    }

    /// Asks the broker process to `start()` its server again (on the same
    /// port if it can); `addr` follows the port it got.
    pub async fn start_server(&mut self) -> Result<Duration, String> {
        let Kind::Child(c) = &mut self.kind else {
            return Err("the sink cannot stop and start".into());
        };
        let words = c.request("start", LIFECYCLE_WAIT).await?;
        let port = words
            .first()
            .and_then(|p| p.parse::<u16>().ok())
            .ok_or_else(|| format!("bad answer to start: {words:?}"))?;
        c.set_port(port);
        self.addr = c.addr();
        micros(words.get(1))
    }

    /// Whether the broker process is still alive.
    pub fn alive(&mut self) -> bool {
        match &mut self.kind {
            Kind::Child(c) => c.alive(),
            Kind::Sink(_) => true,
        }
    }

    pub async fn stop(self) {
        match self.kind {
            Kind::Child(c) => c.stop().await,
            Kind::Sink(s) => s.stop(),
        }
        // The directory goes only after the broker has let go of it.
        drop(self.store);
    }
}

fn micros(word: Option<&String>) -> Result<Duration, String> {
    word.and_then(|w| w.parse::<u64>().ok())
        .map(Duration::from_micros)
        .ok_or_else(|| format!("bad time in the broker's answer: {word:?}"))
}

/// Starts `variant`; with `block_loop` a Node host blocks its event loop
/// 50 ms of every 100 ms.
pub async fn launch(variant: Variant, block_loop: bool, env: &Env) -> Result<Running, LaunchError> {
    let store = if variant.persistence {
        if !matches!(variant.family, Family::Host | Family::RmqttJs) {
            return Err(LaunchError::Unavailable(
                "the bench starts this broker without persistence".into(),
            ));
        }
        Some(StoreDir::fresh().map_err(LaunchError::Failed)?)
    } else {
        None
    };
    let dir = store.as_ref().map(StoreDir::path);
    let (addr, kind) = match variant.family {
        Family::Sink => {
            let s = sink::Sink::start().map_err(LaunchError::Failed)?;
            (s.addr, Kind::Sink(s))
        }
        Family::Host => {
            let c = host_server::launch(variant.hooks, dir, env).await?;
            (c.addr(), Kind::Child(c))
        }
        Family::RmqttJs | Family::Aedes => {
            let c = node::launch(variant, block_loop, dir, env).await?;
            (c.addr(), Kind::Child(c))
        }
        Family::Mosquitto => {
            let c = mosquitto::launch().await?;
            (c.addr(), Kind::Child(c))
        }
    };
    Ok(Running { addr, kind, store })
}

/// Versions of the third-party brokers, for the report.
pub fn versions(env: &Env) -> Vec<(String, String)> {
    vec![
        ("aedes".into(), node::aedes_version(env)),
        ("mosquitto".into(), mosquitto::version()),
        ("node".into(), node::node_version()),
    ]
}

/// Installs Mosquitto when missing (the bench's setup step).
pub fn setup(env: &Env) {
    mosquitto::ensure_installed(env);
}
