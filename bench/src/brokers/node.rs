//! Brokers hosted in a Node process: this project (`bench/brokers/rmqtt-js.mjs`)
//! and aedes (`bench/brokers/aedes.mjs`). Both scripts print `READY <port>`
//! and take the same flags (`--hooks`, `--block-loop`, `--wasm`); rmqtt-js
//! also `--persistence DIR` and the `stop` / `start` commands of
//! [`super::host_server`].

use std::path::Path;

use tokio::process::Command;

use super::child::BrokerChild;
use super::{Env, Family, Hooks, LaunchError, Variant};

pub async fn launch(
    variant: Variant,
    block_loop: bool,
    store: Option<&Path>,
    env: &Env,
) -> Result<BrokerChild, LaunchError> {
    let script = match variant.family {
        Family::RmqttJs => "rmqtt-js.mjs",
        _ => "aedes.mjs",
    };
    let mut cmd = Command::new("node");
    cmd.arg(env.repo.join("bench/brokers").join(script))
        .arg("--hooks")
        .arg(match variant.hooks {
            Hooks::Wasm => "wasm",
            Hooks::Js | Hooks::Native => "js",
            Hooks::None => "none",
        });
    if block_loop {
        cmd.arg("--block-loop");
    }
    if let Some(dir) = store {
        cmd.arg("--persistence").arg(dir);
    }
    if variant.hooks == Hooks::Wasm {
        match &env.wasm_policy {
            Some(p) => {
                cmd.arg("--wasm").arg(p);
            }
            None => return Err(LaunchError::Unavailable("no wasm policy built".into())),
        }
    }
    cmd.current_dir(&env.repo);
    BrokerChild::spawn_announced(cmd).await
}

/// The installed aedes version, or why there is none.
pub fn aedes_version(env: &Env) -> String {
    let manifest = env.repo.join("node_modules/aedes/package.json");
    std::fs::read_to_string(&manifest)
        .ok()
        .and_then(|s| json_string_field(&s, "version"))
        .unwrap_or_else(|| "not installed (npm install)".into())
}

pub fn node_version() -> String {
    std::process::Command::new("node")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "not found".into())
}

/// The value of the first `"field": "value"` in a JSON text (enough for a
/// package.json's version, without a JSON parser).
fn json_string_field(json: &str, field: &str) -> Option<String> {
    let at = json.find(&format!("\"{field}\""))?;
    let rest = &json[at + field.len() + 2..];
    let start = rest.find('"')? + 1;
    let len = rest[start..].find('"')?;
    Some(rest[start..start + len].to_string())
}
