//! A broker in a child process: spawn, wait for its `READY <port>` line (or
//! `UNAVAILABLE <reason>`), keep the tail of its stderr, send it commands
//! (a line on stdin, answered by an `OK …` or `FAILED …` line on stdout),
//! stop it by closing its stdin (or with SIGTERM, for a broker that does not
//! read stdin), kill it if it does not go.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustix::process::{kill_process, Pid, Signal};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

use super::LaunchError;

/// How long a broker may take to print READY (a wasm policy compiles first).
const READY_WAIT: Duration = Duration::from_secs(90);
/// How long a broker may take to exit after its stdin closes.
const STOP_WAIT: Duration = Duration::from_secs(5);
/// Bytes of stderr kept for failure reports.
const TAIL: usize = 2048;

pub struct BrokerChild {
    child: Child,
    stdin: Option<ChildStdin>,
    port: u16,
    stderr: Arc<Mutex<String>>,
    /// Stopped with SIGTERM rather than by closing stdin.
    terminate: bool,
    /// The broker's answers to commands (none for a broker that takes none).
    replies: Option<mpsc::UnboundedReceiver<String>>,
}

impl BrokerChild {
    /// Spawns `cmd` and waits for it to announce its port on stdout.
    pub async fn spawn_announced(mut cmd: Command) -> Result<BrokerChild, LaunchError> {
        let mut child = spawn(&mut cmd)?;
        let stderr = keep_stderr(&mut child);
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let announced = tokio::time::timeout(READY_WAIT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(port) = line.strip_prefix("READY ") {
                    return port
                        .trim()
                        .parse::<u16>()
                        .map_err(|_| LaunchError::Failed(format!("bad READY line: {line}")));
                }
                if let Some(reason) = line.strip_prefix("UNAVAILABLE ") {
                    return Err(LaunchError::Unavailable(reason.trim().to_string()));
                }
            }
            Err(LaunchError::Failed("exited before READY".into()))
        })
        .await
        .unwrap_or_else(|_| Err(LaunchError::Failed("no READY within 90 s".into())));
        let port = match announced {
            Ok(port) => port,
            Err(e) => {
                let _ = child.start_kill();
                let _ = child.wait().await;
                let tail = stderr.lock().map(|s| s.clone()).unwrap_or_default();
                return Err(match e {
                    LaunchError::Failed(m) if !tail.is_empty() => {
                        LaunchError::Failed(format!("{m}: {}", last_line(&tail)))
                    }
                    e => e,
                });
            }
        };
        // Keep reading stdout so the broker never blocks on a full pipe;
        // pass on the answers to commands.
        let (tx, replies) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.starts_with("OK") || line.starts_with("FAILED") {
                    let _ = tx.send(line);
                }
            }
        });
        Ok(BrokerChild {
            stdin: child.stdin.take(),
            child,
            port,
            stderr,
            terminate: false,
            replies: Some(replies),
        })
    }

    /// Spawns `cmd` listening on `port`, and waits until the port accepts;
    /// it is stopped with SIGTERM.
    pub async fn spawn_on_port(mut cmd: Command, port: u16) -> Result<BrokerChild, LaunchError> {
        let mut child = spawn(&mut cmd)?;
        let stderr = keep_stderr(&mut child);
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(BrokerChild {
                    stdin: child.stdin.take(),
                    child,
                    port,
                    stderr,
                    terminate: true,
                    replies: None,
                });
            }
            if let Ok(Some(status)) = child.try_wait() {
                let tail = stderr.lock().map(|s| s.clone()).unwrap_or_default();
                return Err(LaunchError::Failed(format!("exited ({status}): {tail}")));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.start_kill();
        Err(LaunchError::Failed(format!("port {port} never opened")))
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The broker now listens on `port` (after it restarted its server).
    pub fn set_port(&mut self, port: u16) {
        self.port = port;
    }

    /// Sends `command` and returns the words after `OK` in the broker's
    /// answer; a `FAILED` answer, no answer within `wait` or an exit is an error.
    pub async fn request(&mut self, command: &str, wait: Duration) -> Result<Vec<String>, String> {
        let replies = self
            .replies
            .as_mut()
            .ok_or("this broker takes no commands")?;
        let stdin = self.stdin.as_mut().ok_or("the broker's stdin is closed")?;
        stdin
            .write_all(format!("{command}\n").as_bytes())
            .await
            .map_err(|e| format!("write {command:?} to the broker: {e}"))?;
        stdin.flush().await.map_err(|e| e.to_string())?;
        let reply = match tokio::time::timeout(wait, replies.recv()).await {
            Ok(Some(line)) => line,
            Ok(None) => {
                let tail = self.stderr_tail();
                return Err(format!(
                    "the broker exited during {command:?}: {}",
                    last_line(&tail)
                ));
            }
            Err(_) => {
                return Err(format!(
                    "no answer to {command:?} within {} s",
                    wait.as_secs()
                ))
            }
        };
        let mut words = reply.split_whitespace().map(str::to_string);
        match words.next().as_deref() {
            Some("OK") => Ok(words.collect()),
            _ => Err(format!("{command:?}: {reply}")),
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn stderr_tail(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Closes stdin (the broker's cue to stop) or sends SIGTERM, then kills
    /// it if it lingers.
    pub async fn stop(mut self) {
        drop(self.stdin.take());
        if self.terminate {
            let pid = self.child.id().and_then(|p| Pid::from_raw(p as i32));
            if let Some(pid) = pid {
                let _ = kill_process(pid, Signal::TERM);
            }
        }
        if tokio::time::timeout(STOP_WAIT, self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.start_kill();
            let _ = self.child.wait().await;
        }
    }
}

fn spawn(cmd: &mut Command) -> Result<Child, LaunchError> {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            let program = cmd.as_std().get_program().to_string_lossy().into_owned();
            LaunchError::Unavailable(format!("cannot run {program}: {e}"))
        })
}

/// Collects the child's stderr, keeping the last [`TAIL`] bytes.
fn keep_stderr(child: &mut Child) -> Arc<Mutex<String>> {
    let tail = Arc::new(Mutex::new(String::new()));
    if let Some(mut err) = child.stderr.take() {
        let tail = tail.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok(n) = err.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                if let Ok(mut t) = tail.lock() {
                    t.push_str(&String::from_utf8_lossy(&buf[..n]));
                    if t.len() > TAIL {
                        let mut cut = t.len() - TAIL;
                        while !t.is_char_boundary(cut) {
                            cut += 1;
                        }
                        t.drain(..cut);
                    }
                }
            }
        });
    }
    tail
}

fn last_line(s: &str) -> &str {
    s.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("")
}
