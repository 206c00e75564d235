//! `cascade replay` and `cascade import`: thin wrappers over `cascade-replay`.

use std::path::PathBuf;

use anyhow::{bail, Result};
use cascade_engine::Limits;
use cascade_replay::{Format, ReplayOptions};
use clap::Args;

/// Arguments of `cascade replay`.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// A journal, or the capture files of `--format`.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Source format: journal, bitstamp-l3, binance-usdm, lobster, tardis (see docs/REPLAY.md).
    #[arg(long, default_value = "journal")]
    format: String,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Replay this many times on fresh engines: every run must agree, and throughput is the
    /// median.
    #[arg(long, default_value_t = 1)]
    runs: u32,
    /// Engine capacities for a journal: `default` (the server's) or `small` (scenarios').
    #[arg(long, default_value = "default")]
    limits: String,
}

/// Arguments of `cascade import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The capture files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Source format: bitstamp-l3, binance-usdm, lobster, tardis (see docs/REPLAY.md).
    #[arg(long)]
    format: String,
    /// The journal to write (must not exist).
    #[arg(short, long)]
    output: PathBuf,
}

fn limits(name: &str) -> Result<Limits> {
    match name {
        "default" => Ok(Limits::DEFAULT),
        "small" => Ok(Limits::SMALL),
        other => bail!("unknown limits {other:?}: default or small"),
    }
}

/// Runs `cascade replay`.
pub fn run_replay(args: &ReplayArgs) -> Result<()> {
    let format = Format::parse(&args.format)?;
    let opts = ReplayOptions {
        limits: limits(&args.limits)?,
        runs: args.runs.max(1),
        progress: true,
    };
    let mut report = if format == Format::Journal {
        let [journal] = args.files.as_slice() else {
            bail!("replay of a journal takes one file");
        };
        cascade_replay::replay_journal(journal, opts)?
    } else {
        let mut imported = cascade_replay::import(format, &args.files)?;
        cascade_replay::replay_imported(&mut imported, opts)?
    };
    report.command = Some(std::env::args().collect::<Vec<_>>().join(" "));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table());
    }
    Ok(())
}

/// Runs `cascade import`.
pub fn run_import(args: &ImportArgs) -> Result<()> {
    let format = Format::parse(&args.format)?;
    let imported = cascade_replay::import(format, &args.files)?;
    let n = cascade_replay::write_journal(&args.output, &imported.commands)?;
    println!("{n} commands written to {}", args.output.display());
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::Value::Object(imported.notes))?
    );
    Ok(())
}
