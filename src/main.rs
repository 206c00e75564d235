//! The `cascade` binary: one command-line tool for every way people use the engine.
//!
//! Subcommands are thin: each parses its flags and hands off to a library crate, so everything
//! a subcommand does is also reachable (and tested) as a library call.

use anyhow::Result;
use clap::{Parser, Subcommand};

mod calc_cmd;
mod replay_cmd;
mod scenario_cmd;
mod serve_cmd;
mod stress_cmd;

/// Cascade: a perpetual-futures exchange core.
#[derive(Parser, Debug)]
#[command(name = "cascade", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Runs the in-process matching benchmarks (standard workloads) and prints ns/op,
    /// latency percentiles, fill counts and checksums.
    Bench(cascade_benches::cli::BenchArgs),
    /// Sends OUCH orders over TCP to the server (in process, or `--connect`): open-loop
    /// order→ack latency against the loopback floor, pipelined throughput, journaling on/off.
    Loadgen(cascade_benches::loadgen::LoadgenArgs),
    /// Risk calculators: liquidation and bankruptcy prices, maintenance margin (JSON output).
    Calc(calc_cmd::CalcArgs),
    /// Replays a journal, or a venue capture (`--format`), through the engine and reports
    /// commands, trades, liquidations, the final state hash and throughput.
    Replay(replay_cmd::ReplayArgs),
    /// Turns a venue capture (`--format`) into a journal.
    Import(replay_cmd::ImportArgs),
    /// Runs a scenario file through the engine and prints its events and book.
    Scenario(scenario_cmd::ScenarioArgs),
    /// Liquidation-cascade simulator: a leveraged population on real price paths and depth,
    /// with what-if sweeps (docs/STRESS.md).
    Stress(stress_cmd::StressArgs),
    /// Runs the exchange server: OUCH order entry and ITCH market data over SoupBinTCP.
    Serve(serve_cmd::ServeArgs),
    /// Runs a short demo: the embedded default markets and a few orders, printing events.
    Demo,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Cmd::Demo) {
        Cmd::Bench(args) => cascade_benches::cli::run(&args),
        Cmd::Loadgen(args) => cascade_benches::loadgen::run(&args),
        Cmd::Calc(args) => calc_cmd::run(&args),
        Cmd::Replay(args) => replay_cmd::run_replay(&args),
        Cmd::Import(args) => replay_cmd::run_import(&args),
        Cmd::Scenario(args) => scenario_cmd::run(&args),
        Cmd::Serve(args) => serve_cmd::run(&args),
        Cmd::Stress(args) => stress_cmd::run(&args),
        Cmd::Demo => scenario_cmd::demo(),
    }
}
