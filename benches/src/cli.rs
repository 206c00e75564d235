//! `cascade bench`: placeholder until the harness lands.
use clap::Args;

/// Flags of `cascade bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {}

/// Runs the benchmarks.
///
/// # Errors
/// When a workload fails its checks.
pub fn run(_args: &BenchArgs) -> anyhow::Result<()> {
    Ok(())
}
