//! `cascade scenario FILE` and the no-flag demo.

use anyhow::{bail, Context, Result};
use cascade_engine::scenario::{run as run_scenario, split_golden};
use clap::Args;
use std::path::PathBuf;

/// The demo run by `cascade` with no arguments.
const DEMO: &str = include_str!("../scenarios/demo.scn");

/// Flags of `cascade scenario`.
#[derive(Args, Debug)]
pub struct ScenarioArgs {
    /// Scenario file (see docs/SCENARIOS.md). If it has an `--- expected ---` section, the
    /// transcript is checked against it and any difference fails the run.
    pub file: PathBuf,
    /// Print the final state hash.
    #[arg(long)]
    pub hash: bool,
}

/// Runs a scenario file and prints the transcript.
///
/// # Errors
/// The file cannot be read, a line does not parse, an `expect-*` line fails, or the transcript
/// differs from the file's expected section.
pub fn run(args: &ScenarioArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let (script, expected) = split_golden(&text);
    let outcome = run_scenario(script).with_context(|| format!("in {}", args.file.display()))?;
    print!("{}", outcome.transcript);
    if args.hash {
        println!("state_hash {:016x}", outcome.engine.state_hash());
    }
    if !outcome.failures.is_empty() {
        bail!(
            "{} expectation(s) failed:\n{}",
            outcome.failures.len(),
            outcome.failures.join("\n")
        );
    }
    if let Some(expected) = expected {
        if expected != outcome.transcript {
            bail!("transcript differs from the file's expected section");
        }
        eprintln!("transcript matches the expected section");
    }
    Ok(())
}

/// Runs the embedded demo scenario.
///
/// # Errors
/// Never, unless the embedded demo is broken (a test runs it).
pub fn demo() -> Result<()> {
    println!("Cascade demo: the embedded scenario (scenarios/demo.scn) through Engine::apply.");
    println!("Run `cascade --help` for every command.\n");
    let outcome = run_scenario(DEMO).context("embedded demo")?;
    print!("{}", outcome.transcript);
    println!("state_hash {:016x}", outcome.engine.state_hash());
    if !outcome.failures.is_empty() {
        bail!("demo expectations failed: {:?}", outcome.failures);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn embedded_demo_runs_clean() {
        let outcome = cascade_engine::scenario::run(super::DEMO).expect("demo parses");
        assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
        assert!(outcome.transcript.contains("trade BTC-PERP 500 @ 650010"));
        // The reduce-only sell for 2000 lots is clamped to the 700-lot position.
        assert!(outcome
            .transcript
            .contains("accepted #12 alice BTC-PERP sell 700"));
    }
}
