//! Command-line options of the runner.

use std::path::PathBuf;

use crate::brokers::Family;
use crate::scenarios::Scenario;
use crate::sizes::Sizes;

pub const USAGE: &str = "\
usage: rmqtt-js-bench [--quick | --tiny] [--runs N] [--only FAMILIES] [--scenarios IDS]
                      [--out DIR] [--repo DIR] [--wasm FILE] [--note TEXT] [--strict] [--no-setup]
       rmqtt-js-bench host-broker --hooks none|native|wasm [--wasm FILE]

  --quick       smaller sizes (about 2 minutes)        --tiny  the smoke test's sizes, 1 run
  --only        brokers: sink,host,rmqtt-js,aedes,mosquitto
  --scenarios   ids: 1,2,3a,3b,4,5,6a,6b,7,8,9 (8: QoS 1 to a persistent session,
                persistence off and on; 9: restart with a full store)
  --out         where latest.md and latest.png go (default bench/results; with
                --only or --scenarios, bench/results/partial)
  --note        a line for latest.md (e.g. \"machine shared with other builds\")
  --strict      exit 1 when any run failed (lost messages, refused clients)
  --no-setup    do not try to install Mosquitto";

#[derive(Debug, Clone)]
pub struct Options {
    pub sizes: Sizes,
    pub families: Vec<Family>,
    pub scenarios: Vec<Scenario>,
    pub out: PathBuf,
    pub repo: PathBuf,
    pub wasm: Option<PathBuf>,
    pub note: Option<String>,
    pub strict: bool,
    pub setup: bool,
}

pub fn parse(args: &[String]) -> Result<Options, String> {
    let repo = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let repo = repo.canonicalize().unwrap_or(repo);
    let mut o = Options {
        sizes: Sizes::full(),
        families: Vec::new(),
        scenarios: Vec::new(),
        out: PathBuf::new(),
        repo,
        wasm: None,
        note: None,
        strict: false,
        setup: true,
    };
    let mut out = None;
    let mut runs = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--quick" => o.sizes = Sizes::quick(),
            "--tiny" => o.sizes = Sizes::tiny(),
            "--runs" => runs = Some(value()?.parse::<usize>().map_err(|e| e.to_string())?),
            "--only" => o.families = list(&value()?, family)?,
            "--scenarios" => o.scenarios = list(&value()?, scenario)?,
            "--out" => out = Some(PathBuf::from(value()?)),
            "--repo" => o.repo = PathBuf::from(value()?),
            "--wasm" => o.wasm = Some(PathBuf::from(value()?)),
            "--note" => o.note = Some(value()?),
            "--strict" => o.strict = true,
            "--no-setup" => o.setup = false,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option {other}")),
        }
    }
    if let Some(n) = runs {
        o.sizes.runs = n.max(1);
    }
    o.out = out.unwrap_or_else(|| o.repo.join(default_out(&o)));
    if o.wasm.is_none() {
        let built = o.repo.join("guest-examples/dist/rust-acl.wasm");
        o.wasm = built.exists().then_some(built);
    }
    Ok(o)
}

/// Where results go without `--out`: a whole run replaces the tracked
/// `bench/results/latest.*` that the README quotes; a subset (`--only`,
/// `--scenarios`) goes to the untracked `bench/results/partial/`, so a quick
/// look at one scenario never overwrites the published table.
fn default_out(o: &Options) -> &'static str {
    if o.families.is_empty() && o.scenarios.is_empty() {
        "bench/results"
    } else {
        "bench/results/partial"
    }
}

fn list<T>(s: &str, one: fn(&str) -> Result<T, String>) -> Result<Vec<T>, String> {
    s.split(',').filter(|x| !x.is_empty()).map(one).collect()
}

fn family(s: &str) -> Result<Family, String> {
    Ok(match s {
        "sink" => Family::Sink,
        "host" => Family::Host,
        "rmqtt-js" => Family::RmqttJs,
        "aedes" => Family::Aedes,
        "mosquitto" => Family::Mosquitto,
        _ => return Err(format!("unknown broker {s}")),
    })
}

fn scenario(s: &str) -> Result<Scenario, String> {
    Scenario::ALL
        .into_iter()
        .find(|x| x.id() == s)
        .ok_or(format!("unknown scenario {s}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn only_a_whole_run_writes_the_published_results() {
        let whole = parse(&args(&["--quick"])).expect("parses");
        assert!(whole.out.ends_with("bench/results"), "{:?}", whole.out);
        for subset in [&["--only", "host"][..], &["--scenarios", "2"][..]] {
            let o = parse(&args(subset)).expect("parses");
            assert!(o.out.ends_with("bench/results/partial"), "{:?}", o.out);
        }
        let chosen = parse(&args(&["--scenarios", "2", "--out", "/tmp/x"])).expect("parses");
        assert_eq!(chosen.out, PathBuf::from("/tmp/x"));
    }
}
