//! The bench's smoke test (CI): the bench binary runs every scenario against
//! every broker on `--tiny` sizes and exits cleanly with no failed figure,
//! which means every delivery count matched and every client was accepted.
//! Brokers missing here (Mosquitto not installed, the Node addon not built)
//! read "n/a" and do not fail it; the host crate's rows (with persistence
//! too: its QoS 1 flow to a persistent session, and a restart whose store
//! must come back) must run. No timing is asserted.

use std::path::PathBuf;
use std::process::Command;

fn out_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rmqtt-js-bench-smoke-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn every_scenario_runs_on_tiny_sizes_and_counts_match() {
    let out = out_dir();
    let run = Command::new(env!("CARGO_BIN_EXE_rmqtt-js-bench"))
        .args(["--tiny", "--strict", "--no-setup", "--out"])
        .arg(&out)
        .output()
        .expect("the bench binary runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "bench failed ({}):\n{stdout}\n{stderr}",
        run.status
    );

    let md = std::fs::read_to_string(out.join("latest.md")).expect("latest.md written");
    assert!(!md.contains("## Failures"), "a figure failed:\n{md}");
    for always in [
        "loadgen ceiling",
        "host crate, no hooks",
        "host crate, Rust hooks",
        "host crate, persistence on",
    ] {
        let row = md
            .lines()
            .find(|l| l.contains(always))
            .unwrap_or_else(|| panic!("no row for {always}:\n{md}"));
        assert!(!row.contains("n/a"), "{always} did not run:\n{row}");
    }
    let png = std::fs::metadata(out.join("latest.png")).expect("latest.png written");
    assert!(png.len() > 0);
    let _ = std::fs::remove_dir_all(&out);
}
