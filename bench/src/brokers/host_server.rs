//! The host crate alone, as a broker process: `rmqtt-js-bench host-broker
//! --hooks none|native|wasm [--wasm PATH]` starts `rmqtt_js_host::Broker` on
//! an OS-picked loopback port, prints `READY <port>`, and stops when its
//! stdin closes. Also its launcher.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use rmqtt_js_host::hooks::{HookBackend, HookKind, HookSet};
use rmqtt_js_host::wasm::{LoadOptions, WasmPolicy};
use rmqtt_js_host::{Broker, ServerConfig};
use tokio::io::AsyncReadExt;
use tokio::process::Command;

use super::child::BrokerChild;
use super::native_hooks::BenchRules;
use super::{Env, Hooks, LaunchError};

/// Starts the host-crate broker as a child of the bench.
pub async fn launch(hooks: Hooks, env: &Env) -> Result<BrokerChild, LaunchError> {
    let mut cmd = Command::new(&env.exe);
    cmd.arg("host-broker").arg("--hooks").arg(match hooks {
        Hooks::None => "none",
        Hooks::Wasm => "wasm",
        Hooks::Native | Hooks::Js => "native",
    });
    if let Some(p) = &env.wasm_policy {
        cmd.arg("--wasm").arg(p);
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
        let listeners = match broker.start(cfg).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("host-broker: start failed: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!("READY {}", listeners[0].port);
        // Stop when the bench closes our stdin (or goes away).
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 256];
        while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
        let _ = broker.stop().await;
        ExitCode::SUCCESS
    })
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).map(String::as_str)
}
