//! Runs the plan: for each broker variant, start the broker, and for each of
//! its scenarios do an unrecorded warm-up, then the measured runs. A broker
//! is kept for the next scenario when that one needs the same launch flags
//! (a blocked event loop or not); memory and restart runs get a fresh broker
//! (and a fresh persistence directory) each. A run that fails (lost
//! messages, refused client, stall, a store not restored) fails its whole
//! figure and the broker is restarted for the next scenario.

use std::time::{Duration, Instant};

use crate::brokers::{self, Env, Hooks, LaunchError, Running, Variant};
use crate::scenarios::{hook_probe, Scenario};
use crate::sizes::Sizes;

/// Pause between runs, so the broker can reap the last run's clients.
const BETWEEN_RUNS: Duration = Duration::from_millis(250);

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

/// A broker kept between scenarios, with the flag it was started with.
struct Kept {
    blocks_loop: bool,
    broker: Running,
}

pub async fn run_plan(plan: &[(Variant, Vec<Scenario>)], sizes: &Sizes, env: &Env) -> Vec<Cell> {
    let started = Instant::now();
    let mut cells = Vec::new();
    for (variant, scenarios) in plan {
        let mut unavailable: Option<String> = None;
        let mut kept: Option<Kept> = None;
        for &scenario in scenarios {
            let reusable = kept
                .as_ref()
                .is_some_and(|k| k.blocks_loop == scenario.blocks_loop())
                && !scenario.fresh_broker_per_run();
            if !reusable {
                if let Some(k) = kept.take() {
                    k.broker.stop().await;
                }
            }
            let t0 = Instant::now();
            let outcome = match &unavailable {
                Some(why) => Outcome::Unavailable(why.clone()),
                None => run_cell(*variant, scenario, sizes, env, &mut kept).await,
            };
            if let Outcome::Unavailable(why) = &outcome {
                unavailable = Some(why.clone());
            }
            log(
                &variant.label(),
                scenario,
                &format!(
                    "done in {:.1} s (bench at {:.0} s)",
                    t0.elapsed().as_secs_f64(),
                    started.elapsed().as_secs_f64()
                ),
            );
            cells.push(Cell {
                scenario,
                variant: *variant,
                outcome,
            });
        }
        if let Some(k) = kept {
            k.broker.stop().await;
        }
    }
    cells
}

/// Starts the broker for `scenario` unless `kept` already holds a suitable one.
async fn ensure_broker(
    variant: Variant,
    scenario: Scenario,
    env: &Env,
    kept: &mut Option<Kept>,
) -> Result<(), Outcome> {
    if kept.is_some() {
        return Ok(());
    }
    let label = variant.label();
    let launched = match brokers::launch(variant, scenario.blocks_loop(), env).await {
        Ok(broker) if variant.hooks != Hooks::None => match hook_probe::verify(broker.addr).await {
            Ok(()) => Ok(broker),
            Err(e) => {
                broker.stop().await;
                Err(LaunchError::Failed(format!("hooks not in effect: {e}")))
            }
        },
        other => other,
    };
    match launched {
        Ok(broker) => {
            *kept = Some(Kept {
                blocks_loop: scenario.blocks_loop(),
                broker,
            });
            Ok(())
        }
        Err(LaunchError::Unavailable(why)) => {
            log(&label, scenario, &format!("n/a: {why}"));
            Err(Outcome::Unavailable(why))
        }
        Err(LaunchError::Failed(why)) => {
            log(&label, scenario, &format!("FAILED to start: {why}"));
            Err(Outcome::Failed(format!("did not start: {why}")))
        }
    }
}

async fn run_cell(
    variant: Variant,
    scenario: Scenario,
    sizes: &Sizes,
    env: &Env,
    kept: &mut Option<Kept>,
) -> Outcome {
    let label = variant.label();
    let mut runs = Vec::with_capacity(sizes.runs);
    if sizes.warmup && !scenario.fresh_broker_per_run() {
        if let Err(o) = ensure_broker(variant, scenario, env, kept).await {
            return o;
        }
        let b = &mut kept.as_mut().expect("started above").broker;
        let tag = format!("{}-w", scenario.id());
        if let Err(e) = scenario.run(b, &sizes.warmup(), &tag).await {
            return fail(&label, scenario, kept, format!("warm-up: {e}")).await;
        }
        tokio::time::sleep(BETWEEN_RUNS).await;
    }
    for r in 0..sizes.runs {
        if let Err(o) = ensure_broker(variant, scenario, env, kept).await {
            return o;
        }
        let b = &mut kept.as_mut().expect("started above").broker;
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
            Err(e) => return fail(&label, scenario, kept, e).await,
        }
        if scenario.fresh_broker_per_run() {
            if let Some(k) = kept.take() {
                k.broker.stop().await;
            }
        } else if r + 1 < sizes.runs {
            tokio::time::sleep(BETWEEN_RUNS).await;
        }
    }
    Outcome::Measured(runs)
}

/// Reports a failed run and stops its broker (the next scenario gets a new one).
async fn fail(label: &str, scenario: Scenario, kept: &mut Option<Kept>, why: String) -> Outcome {
    let Some(Kept { mut broker, .. }) = kept.take() else {
        return Outcome::Failed(why);
    };
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
