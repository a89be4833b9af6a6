//! rmqtt-js-bench: benchmarks rmqtt-js (embedded in Node with no, wasm or JS
//! hooks), the host crate alone, aedes and Mosquitto side by side on
//! loopback, with one Rust load generator, and prints one table.
//!
//! `cargo run --release -p rmqtt-js-bench -- [--quick]` (or `npm run bench`)
//! writes `bench/results/latest.md` and `latest.png`. The same binary is the
//! host-crate broker (`rmqtt-js-bench host-broker`).

mod brokers;
mod chart;
mod cli;
mod fdlimit;
mod loadgen;
mod machine;
mod plan;
mod report;
mod runner;
mod scenarios;
mod sizes;
mod stats;

use std::process::ExitCode;
use std::time::Instant;

use brokers::Env;
use runner::Outcome;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("host-broker") {
        return brokers::host_server::main(&args[1..]);
    }
    let mut opts = match cli::parse(&args) {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("{e}");
            }
            eprintln!("{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    let env = Env {
        repo: opts.repo.clone(),
        exe: std::env::current_exe().expect("the bench knows its own path"),
        wasm_policy: opts.wasm.clone(),
    };
    if opts.setup {
        brokers::setup(&env);
    }
    let limit = fdlimit::raise();
    let fit = fdlimit::idle_clients_that_fit(opts.sizes.idle_clients, limit);
    if fit < opts.sizes.idle_clients {
        eprintln!(
            "bench: open-files limit {} allows {fit} idle clients, not {}: scenario 7 is scaled down",
            limit.unwrap_or(0),
            opts.sizes.idle_clients
        );
        opts.sizes.idle_clients = fit.max(1);
    }
    let plan = plan::select(&opts.families, &opts.scenarios);
    let mut ctx = report::Context {
        when: machine::now_utc(),
        machine: machine::describe(),
        versions: brokers::versions(&env),
        command: std::iter::once("rmqtt-js-bench".to_string())
            .chain(args.iter().map(|a| {
                if a.contains(' ') {
                    format!("\"{a}\"")
                } else {
                    a.clone()
                }
            }))
            .collect::<Vec<_>>()
            .join(" "),
        sizes: opts.sizes.clone(),
        note: opts.note.clone(),
        took: String::new(),
    };
    eprintln!("bench: {} · mode {}", ctx.machine, opts.sizes.mode);

    let started = Instant::now();
    // Two workers: the generator may use both cores when a broker leaves them idle.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime for the load generator");
    let cells = runtime.block_on(runner::run_plan(&plan, &opts.sizes, &env));
    drop(runtime);

    let table = report::table(&cells, &opts.sizes);
    println!("\n{table}");
    ctx.took = format!(
        "{:.0} s; load average at end {}",
        started.elapsed().as_secs_f64(),
        machine::load_average()
    );
    println!("total time {}", ctx.took);
    if let Err(e) = std::fs::create_dir_all(&opts.out) {
        eprintln!("bench: cannot create {}: {e}", opts.out.display());
        return ExitCode::FAILURE;
    }
    let md_path = opts.out.join("latest.md");
    if let Err(e) = std::fs::write(&md_path, report::markdown(&cells, &ctx)) {
        eprintln!("bench: cannot write {}: {e}", md_path.display());
        return ExitCode::FAILURE;
    }
    let png_path = opts.out.join("latest.png");
    match chart::draw(&cells, &opts.sizes, &png_path) {
        Ok(()) => println!("wrote {} and {}", md_path.display(), png_path.display()),
        Err(e) => eprintln!("bench: chart not drawn: {e}"),
    }
    let failed = cells
        .iter()
        .any(|c| matches!(c.outcome, Outcome::Failed(_)));
    if opts.strict && failed {
        eprintln!("bench: some runs failed (--strict)");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
