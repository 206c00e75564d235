//! `cascade scenario FILE` and the no-flag demo.

use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

/// Flags of `cascade scenario`.
#[derive(Args, Debug)]
pub struct ScenarioArgs {
    /// Scenario file (see docs/SCENARIOS.md).
    pub file: PathBuf,
}

/// Runs a scenario file and prints the transcript.
pub fn run(_args: &ScenarioArgs) -> Result<()> {
    Ok(())
}

/// Runs the embedded demo scenario.
pub fn demo() -> Result<()> {
    Ok(())
}
