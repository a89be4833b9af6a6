//! The results table (printed, and written as `latest.md` with the machine
//! and the versions it ran on).

use std::collections::HashMap;
use std::fmt::Write;

use crate::brokers::{Family, Hooks, Variant};
use crate::runner::{Cell, Outcome};
use crate::scenarios::{Scenario, Unit};
use crate::sizes::Sizes;
use crate::stats::Summary;

/// Where and with what the bench ran.
pub struct Context {
    pub when: String,
    pub machine: String,
    pub versions: Vec<(String, String)>,
    pub command: String,
    pub sizes: Sizes,
    /// The operator's remark (`--note`).
    pub note: Option<String>,
    /// Wall time of the whole run and the load average at its end.
    pub took: String,
}

/// The median figure of `metric` (by index) in a cell, when measured.
pub fn median(cell: &Cell, metric: usize) -> Option<f64> {
    summary(cell, metric).map(|s| s.median)
}

fn summary(cell: &Cell, metric: usize) -> Option<Summary> {
    match &cell.outcome {
        Outcome::Measured(runs) => Summary::of(
            &runs
                .iter()
                .filter_map(|r| r.get(metric).copied())
                .collect::<Vec<_>>(),
        ),
        _ => None,
    }
}

pub fn format_value(unit: Unit, v: f64) -> String {
    match unit {
        Unit::PerSecond if v >= 1e6 => format!("{:.2}M", v / 1e6),
        Unit::PerSecond if v >= 1e4 => format!("{:.1}k", v / 1e3),
        Unit::PerSecond if v >= 1e3 => format!("{:.2}k", v / 1e3),
        Unit::PerSecond => format!("{v:.0}"),
        Unit::Millis if v < 1.0 => format!("{v:.3}"),
        Unit::Millis if v < 10.0 => format!("{v:.2}"),
        Unit::Millis if v < 100.0 => format!("{v:.1}"),
        Unit::Millis => format!("{v:.0}"),
        Unit::MiB | Unit::KiB | Unit::MB => format!("{v:.1}"),
        Unit::Seconds if v < 1.0 => format!("{v:.3}"),
        Unit::Seconds if v < 10.0 => format!("{v:.2}"),
        Unit::Seconds => format!("{v:.1}"),
    }
}

const HEADER: [&str; 8] = [
    "#",
    "Scenario",
    "Broker",
    "Metric",
    "Median",
    "Min–max",
    "÷ aedes",
    "Note",
];

/// The table as aligned Markdown (readable in a terminal too).
pub fn table(cells: &[Cell], sizes: &Sizes) -> String {
    let by_key: HashMap<(Scenario, Variant), &Cell> =
        cells.iter().map(|c| ((c.scenario, c.variant), c)).collect();
    let mut rows: Vec<[String; 8]> = Vec::new();
    for scenario in Scenario::ALL {
        let mut first = true;
        for cell in cells.iter().filter(|c| c.scenario == scenario) {
            for (k, metric) in scenario.metrics().iter().enumerate() {
                let (id, title) = if first {
                    (scenario.id().to_string(), scenario.title(sizes))
                } else {
                    (String::new(), String::new())
                };
                first = false;
                let broker = if k == 0 {
                    cell.variant.label()
                } else {
                    String::new()
                };
                let (median, range, ratio, note) = match &cell.outcome {
                    Outcome::Measured(_) => {
                        let s = summary(cell, k).expect("measured cells have figures");
                        let ratio = by_key
                            .get(&(scenario, cell.variant.aedes_peer()))
                            .filter(|_| cell.variant.family != Family::Sink)
                            .and_then(|peer| median(peer, k))
                            .map_or("–".to_string(), |a| format_ratio(s.median / a));
                        (
                            format_value(metric.unit, s.median),
                            format!(
                                "{}–{}",
                                format_value(metric.unit, s.min),
                                format_value(metric.unit, s.max)
                            ),
                            ratio,
                            note(cell, k, &by_key),
                        )
                    }
                    Outcome::Failed(why) if k == 0 => {
                        ("FAILED".into(), String::new(), String::new(), clip(why, 90))
                    }
                    Outcome::Unavailable(why) if k == 0 => {
                        ("n/a".into(), String::new(), String::new(), clip(why, 90))
                    }
                    _ => continue,
                };
                rows.push([
                    id,
                    title,
                    broker,
                    metric.name.into(),
                    median,
                    range,
                    ratio,
                    note,
                ]);
            }
        }
    }
    render(&rows)
}

/// Scenario-specific comparisons: a hook's cost, a blocked loop's cost,
/// persistence's cost (for every metric of scenario 8; for the first metric
/// elsewhere).
fn note(cell: &Cell, k: usize, by_key: &HashMap<(Scenario, Variant), &Cell>) -> String {
    if cell.scenario == Scenario::Qos1Persistent && cell.variant.family != Family::Sink {
        return persistence_note(cell, k, by_key);
    }
    if k > 0 {
        return String::new();
    }
    let ours = median(cell, 0);
    let relative = |scenario: Scenario, variant: Variant, what: &str| {
        let base = by_key.get(&(scenario, variant)).and_then(|c| median(c, 0));
        match (ours, base) {
            (Some(o), Some(b)) if b > 0.0 => format!("{:.0} % of {what}", 100.0 * o / b),
            _ => String::new(),
        }
    };
    let plain = Variant::new(cell.variant.family, Hooks::None);
    match cell.scenario {
        Scenario::ConnectStorm if cell.variant.hooks != Hooks::None => {
            relative(Scenario::ConnectStorm, plain, "its no-hook rate")
        }
        Scenario::PublishAcl => relative(Scenario::Qos0, plain, "its no-hook QoS 0 rate (1)"),
        Scenario::PublishAclBlocked if cell.variant.hooks != Hooks::None => {
            relative(Scenario::PublishAcl, cell.variant, "its unblocked rate (5)")
        }
        Scenario::PublishAclBlocked => {
            relative(Scenario::Qos0, plain, "its unblocked QoS 0 rate (1)")
        }
        Scenario::ConnectStormBlocked => relative(
            Scenario::ConnectStorm,
            cell.variant,
            "its unblocked rate (4)",
        ),
        _ if cell.variant.family == Family::Sink => "generator ceiling".into(),
        _ => String::new(),
    }
}

/// Scenario 8: a persistence-on row against the same broker with
/// persistence off; a persistence-off row against its clean-session QoS 1
/// rate (2).
fn persistence_note(cell: &Cell, k: usize, by_key: &HashMap<(Scenario, Variant), &Cell>) -> String {
    let ours = median(cell, k);
    let base = |scenario: Scenario, variant: Variant| {
        by_key.get(&(scenario, variant)).and_then(|c| median(c, k))
    };
    let metric = Scenario::Qos1Persistent.metrics()[k].name;
    if cell.variant.persistence {
        match (
            ours,
            base(Scenario::Qos1Persistent, cell.variant.in_memory()),
        ) {
            (Some(o), Some(b)) if b > 0.0 => {
                format!("{} its persistence-off {metric}", format_ratio(o / b))
            }
            _ => String::new(),
        }
    } else if k == 0 {
        match (ours, base(Scenario::Qos1, cell.variant)) {
            (Some(o), Some(b)) if b > 0.0 => format!(
                "persistence off; {:.0} % of its clean-session rate (2)",
                100.0 * o / b
            ),
            _ => "persistence off".into(),
        }
    } else {
        String::new()
    }
}

fn format_ratio(r: f64) -> String {
    if r < 0.1 {
        format!("{r:.3}×")
    } else {
        format!("{r:.2}×")
    }
}

fn clip(s: &str, n: usize) -> String {
    let s = s.replace('|', "/").replace('\n', " ");
    if s.chars().count() <= n {
        s
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

fn render(rows: &[[String; 8]]) -> String {
    let mut width = HEADER.map(|h| h.chars().count());
    for r in rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::from("|");
        for (c, w) in cells.iter().zip(width) {
            let pad = w - c.chars().count();
            let _ = write!(s, " {c}{} |", " ".repeat(pad));
        }
        s.push('\n');
        s
    };
    let mut out = line(&HEADER.map(String::from));
    out.push_str(&line(&width.map(|w| "-".repeat(w))));
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

/// `latest.md`: the table with the machine, versions and legend.
pub fn markdown(cells: &[Cell], ctx: &Context) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# rmqtt-js benchmark: latest run\n");
    let _ = writeln!(
        md,
        "- When: {} · mode `{}` · {} measured run(s) per figure after a warm-up; median and min–max shown",
        ctx.when, ctx.sizes.mode, ctx.sizes.runs
    );
    let _ = writeln!(md, "- Machine: {}", ctx.machine);
    let _ = writeln!(md, "- Run took {}", ctx.took);
    if let Some(note) = &ctx.note {
        let _ = writeln!(md, "- Note: {note}");
    }
    let versions: Vec<String> = ctx
        .versions
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let _ = writeln!(
        md,
        "- Versions: rmqtt 0.24 (host crate), {}",
        versions.join(", ")
    );
    let _ = writeln!(md, "- Command: `{}`", ctx.command);
    let _ = writeln!(
        md,
        "- Every broker is started by the bench on 127.0.0.1; the load comes from the bench's \
         Rust generator (raw MQTT 3.1.1 over tokio), whose own ceiling is the \"loadgen ceiling\" row \
         (a trivial forwarder in the bench process).\n"
    );
    md.push_str(&table(cells, &ctx.sizes));
    md.push_str(LEGEND);
    let problems: Vec<String> = cells
        .iter()
        .filter_map(|c| match &c.outcome {
            Outcome::Failed(why) => Some(format!(
                "- FAILED {} / scenario {}: {why}",
                c.variant.label(),
                c.scenario.id()
            )),
            _ => None,
        })
        .collect();
    if !problems.is_empty() {
        let _ = writeln!(md, "\n## Failures\n\n{}", problems.join("\n"));
    }
    md.push_str("\n![chart](latest.png)\n");
    md
}

const LEGEND: &str = "
`÷ aedes`: the figure divided by aedes's in the same scenario (hooked rows against aedes with JS \
hooks). For rates above 1 is better; for latency and memory below 1 is better. `n/a`: not built \
or not installed on this machine; `FAILED`: a run lost messages, a client was refused, or \
deliveries stalled, so there is no figure.

Flows keep a bounded window of messages in flight (QoS 0: 500, QoS 1: 100, fan-out: 200 per \
subscriber), so the rates are sustainable rates without drops and the QoS 1 latency is the \
latency at full load. Connect storms keep 50 handshakes in flight; CONNACK latency is timed from \
the TCP connect. Scenario 6 blocks the host Node process's event loop 50 ms of every 100 ms.

Scenario 8 is scenario 2 with a subscriber that has a persistent session (MQTT 3.1.1 clean session \
false, fixed client id), so a broker with persistence stores every message routed to it before the \
publisher's PUBACK; \"persistence on\" rows start with `persistence: { dir }` (a fresh directory, \
default `syncIntervalMs`) and are compared with the same broker with persistence off in the note. \
Scenario 9 fills a broker with persistence with retained messages (distinct topics, 64 B, QoS 1) \
and persistent sessions (one subscription each, offline), `stop()`s and `start()`s it in the same \
process on the same port: `restart s` is `start()` until its listeners are bound plus the first \
CONNACK, `store MB` the size of `<dir>/default/store.log` after `stop()` (10^6 bytes), `stop s` the \
`stop()` before it. Each run fills a fresh directory, and is failed unless retained messages and a \
session (with its subscription) come back.
";
