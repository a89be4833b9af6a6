//! Mosquitto (the Debian package), started with a generated config: one
//! listener on 127.0.0.1, anonymous clients allowed, no persistence.

use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;

use tokio::process::Command;

use super::child::BrokerChild;
use super::{Env, LaunchError};

/// Where Debian puts the binary (root's PATH has it; others' may not).
const CANDIDATES: [&str; 3] = [
    "/usr/sbin/mosquitto",
    "/usr/bin/mosquitto",
    "/usr/local/sbin/mosquitto",
];

fn binary() -> Option<PathBuf> {
    CANDIDATES.iter().map(PathBuf::from).find(|p| p.exists())
}

pub async fn launch() -> Result<BrokerChild, LaunchError> {
    let bin = binary().ok_or_else(|| {
        LaunchError::Unavailable("not installed (bench/setup.sh installs it)".into())
    })?;
    let port = free_port().map_err(LaunchError::Failed)?;
    let conf = std::env::temp_dir().join(format!(
        "rmqtt-js-bench-mosquitto-{}.conf",
        std::process::id()
    ));
    let text = format!(
        "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
         log_dest stderr\nlog_type error\nlog_type warning\n"
    );
    std::fs::write(&conf, text).map_err(|e| LaunchError::Failed(format!("write config: {e}")))?;
    let mut cmd = Command::new(bin);
    cmd.arg("-c").arg(&conf);
    BrokerChild::spawn_on_port(cmd, port).await
}

/// A port that was free a moment ago (Mosquitto cannot bind port 0 and say which).
fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

pub fn version() -> String {
    let Some(bin) = binary() else {
        return "not installed".into();
    };
    std::process::Command::new(bin)
        .arg("-h")
        .output()
        .ok()
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            text.lines()
                .find_map(|l| l.strip_prefix("mosquitto version ").map(str::to_string))
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Runs `bench/setup.sh` when Mosquitto is missing; a failure only leaves
/// the Mosquitto rows "n/a".
pub fn ensure_installed(env: &Env) {
    if binary().is_some() {
        return;
    }
    eprintln!("bench: Mosquitto missing, running bench/setup.sh");
    let ok = std::process::Command::new("bash")
        .arg(env.repo.join("bench/setup.sh"))
        .status()
        .is_ok_and(|s| s.success());
    if !ok || binary().is_none() {
        eprintln!("bench: Mosquitto could not be installed; its rows will read n/a");
    }
}
