//! The host crate alone, as a broker process: `rmqtt-js-bench host-broker
//! --hooks none|native|wasm [--wasm PATH] [--persistence DIR]` starts
//! `rmqtt_js_host::Broker` on an OS-picked loopback port (keeping its state
//! in DIR with `--persistence`), prints `READY <port>`, and stops when its
//! stdin closes. Also its launcher.
//!
//! Commands on stdin, one per line: `stop` calls `Broker::stop()` and
//! answers `OK <µs>`; `start` calls `Broker::start()` again on the same port
//! and answers `OK <port> <µs>` (the time until its listeners are bound).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use rmqtt_js_host::config::PersistenceJson;
use rmqtt_js_host::hooks::{HookBackend, HookKind, HookSet};
use rmqtt_js_host::wasm::{LoadOptions, WasmPolicy};
use rmqtt_js_host::{Broker, ServerConfig};
use tokio::io::AsyncBufReadExt;
use tokio::process::Command;

use super::child::BrokerChild;
use super::native_hooks::BenchRules;
use super::{Env, Hooks, LaunchError};

/// Starts the host-crate broker as a child of the bench (keeping its state
/// in `store` when given).
pub async fn launch(
    hooks: Hooks,
    store: Option<&Path>,
    env: &Env,
) -> Result<BrokerChild, LaunchError> {
    let mut cmd = Command::new(&env.exe);
    cmd.arg("host-broker").arg("--hooks").arg(match hooks {
        Hooks::None => "none",
        Hooks::Wasm => "wasm",
        Hooks::Native | Hooks::Js => "native",
    });
    if let Some(p) = &env.wasm_policy {
        cmd.arg("--wasm").arg(p);
    }
    if let Some(dir) = store {
        cmd.arg("--persistence").arg(dir);
    }
    BrokerChild::spawn_announced(cmd).await
}

/// The `host-broker` subcommand.
pub fn main(args: &[String]) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the host broker");
    runtime.block_on(async {
        let broker = Broker::new();
        let rules: Option<Arc<dyn HookBackend>> = match flag(args, "--hooks").unwrap_or("none") {
            "none" => None,
            "native" => Some(Arc::new(BenchRules)),
            "wasm" => {
                let Some(path) = flag(args, "--wasm") else {
                    println!("UNAVAILABLE no wasm policy built (npm run build:guests)");
                    return ExitCode::from(3);
                };
                match WasmPolicy::load(Path::new(path), LoadOptions::new("bench")).await {
                    Ok(p) => Some(Arc::new(p)),
                    Err(e) => {
                        eprintln!("host-broker: cannot load {path}: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            other => {
                eprintln!("host-broker: unknown hooks '{other}'");
                return ExitCode::from(2);
            }
        };
        if let Some(rules) = rules {
            let mut set = HookSet::new();
            set.bind(HookKind::ClientAuthenticate, rules.clone())
                .bind(HookKind::ClientPublishAuthorize, rules);
            broker.set_hooks(set);
        }
        let mut cfg = ServerConfig::basic(0);
        cfg.listeners[0].address = "127.0.0.1".into();
        cfg.persistence = flag(args, "--persistence").map(|dir| PersistenceJson {
            dir: Some(dir.to_string()),
            redis: None,
            key_prefix: None,
            sync_interval_ms: None,
        });
        let listeners = match broker.start(cfg.clone()).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("host-broker: start failed: {e}");
                return ExitCode::FAILURE;
            }
        };
        let port = listeners[0].port;
        println!("READY {port}");
        // Restarts keep the port, as a restarted service would.
        cfg.listeners[0].port = port.into();
        // Obey commands; stop when the bench closes our stdin (or goes away).
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            match line.trim() {
                "stop" => {
                    let t0 = Instant::now();
                    match broker.stop().await {
                        Ok(()) => println!("OK {}", t0.elapsed().as_micros()),
                        Err(e) => println!("FAILED {e}"),
                    }
                }
                "start" => {
                    let t0 = Instant::now();
                    match broker.start(cfg.clone()).await {
                        Ok(l) => println!("OK {} {}", l[0].port, t0.elapsed().as_micros()),
                        Err(e) => println!("FAILED {e}"),
                    }
                }
                other => println!("FAILED unknown command {other:?}"),
            }
        }
        let _ = broker.stop().await;
        ExitCode::SUCCESS
    })
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).map(String::as_str)
}
