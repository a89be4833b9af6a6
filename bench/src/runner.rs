//! Runs the plan: for each broker variant and scenario, start the broker,
//! do an unrecorded warm-up, then the measured runs, then stop it. A run that
//! fails (lost messages, refused client, stall) fails its whole figure.

use std::time::Duration;

use crate::brokers::{self, Env, LaunchError, Running, Variant};
use crate::scenarios::Scenario;
use crate::sizes::Sizes;

/// Pause between runs, so the broker can reap the last run's clients.
const BETWEEN_RUNS: Duration = Duration::from_millis(500);

/// What became of one figure of the table.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// One vector of figures (one per metric) per run.
    Measured(Vec<Vec<f64>>),
    Failed(String),
    /// Not built or not installed here.
    Unavailable(String),
}

#[derive(Debug, Clone)]
pub struct Cell {
    pub scenario: Scenario,
    pub variant: Variant,
    pub outcome: Outcome,
}

pub async fn run_plan(plan: &[(Variant, Vec<Scenario>)], sizes: &Sizes, env: &Env) -> Vec<Cell> {
    let mut cells = Vec::new();
    for (variant, scenarios) in plan {
        let mut unavailable: Option<String> = None;
        for &scenario in scenarios {
            let outcome = match &unavailable {
                Some(why) => Outcome::Unavailable(why.clone()),
                None => run_cell(*variant, scenario, sizes, env).await,
            };
            if let Outcome::Unavailable(why) = &outcome {
                unavailable = Some(why.clone());
            }
            cells.push(Cell {
                scenario,
                variant: *variant,
                outcome,
            });
        }
    }
    cells
}

async fn run_cell(variant: Variant, scenario: Scenario, sizes: &Sizes, env: &Env) -> Outcome {
    let label = variant.label();
    let mut runs = Vec::with_capacity(sizes.runs);
    let mut broker = None;
    for r in 0..sizes.runs {
        if broker.is_none() {
            let b = match brokers::launch(variant, scenario.blocks_loop(), env).await {
                Ok(b) => b,
                Err(LaunchError::Unavailable(why)) => {
                    log(&label, scenario, &format!("n/a: {why}"));
                    return Outcome::Unavailable(why);
                }
                Err(LaunchError::Failed(why)) => {
                    log(&label, scenario, &format!("FAILED to start: {why}"));
                    return Outcome::Failed(format!("did not start: {why}"));
                }
            };
            if !scenario.fresh_broker_per_run() {
                let tag = format!("{}-w", scenario.id());
                if let Err(e) = scenario.run(&b, &sizes.warmup(), &tag).await {
                    return fail(&label, scenario, b, format!("warm-up: {e}")).await;
                }
            }
            broker = Some(b);
        }
        let b = broker.as_mut().expect("started above");
        let tag = format!("{}-r{r}", scenario.id());
        match scenario.run(b, sizes, &tag).await {
            Ok(figures) => {
                log(
                    &label,
                    scenario,
                    &format!("run {}/{}: {}", r + 1, sizes.runs, show(scenario, &figures)),
                );
                runs.push(figures);
            }
            Err(e) => {
                let b = broker.take().expect("started above");
                return fail(&label, scenario, b, e).await;
            }
        }
        if scenario.fresh_broker_per_run() {
            broker.take().expect("started above").stop().await;
        } else {
            tokio::time::sleep(BETWEEN_RUNS).await;
        }
    }
    if let Some(b) = broker {
        b.stop().await;
    }
    Outcome::Measured(runs)
}

async fn fail(label: &str, scenario: Scenario, mut broker: Running, why: String) -> Outcome {
    let why = if broker.alive() {
        why
    } else {
        let tail = broker.stderr_tail();
        let last = tail
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        format!("{why} (broker exited: {last})")
    };
    log(label, scenario, &format!("FAILED: {why}"));
    broker.stop().await;
    Outcome::Failed(why)
}

fn show(scenario: Scenario, figures: &[f64]) -> String {
    scenario
        .metrics()
        .iter()
        .zip(figures)
        .map(|(m, v)| format!("{} {}", crate::report::format_value(m.unit, *v), m.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn log(label: &str, scenario: Scenario, what: &str) {
    eprintln!("[{label}] scenario {}: {what}", scenario.id());
}
