//! `cascade stress`: runs a stress scenario (or a sweep of it) and writes the report.

use anyhow::{Context, Result};
use cascade_stress::run::{self, RunOptions};
use cascade_stress::{report, scenario, svg, sweep};
use clap::Args;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Flags of `cascade stress`.
#[derive(Args, Debug)]
pub struct StressArgs {
    /// Scenario file (TOML, see docs/STRESS.md).
    #[arg(long)]
    pub scenario: PathBuf,
    /// Overrides a scenario value: `key=value` (aliases max_leverage, depth, adl, accounts,
    /// seed, shock_pct, duration_s, insurance_fund_usd, backstop_usd, or a dotted path).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Runs every combination: `--sweep max_leverage=1001,100,20 depth=1.0,0.67 adl=queue,pro-rata`.
    #[arg(long, num_args = 1.., value_name = "KEY=V1,V2")]
    pub sweep: Vec<String>,
    /// Output folder (default: stress-out/<scenario name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The shared recorded-data folder for `shared:` inputs.
    #[arg(long, default_value = "../shared/data")]
    pub data: PathBuf,
    /// Skip the run without the population (no amplification factor; half the time).
    #[arg(long)]
    pub no_baseline: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

fn overrides(set: &[String]) -> Result<Vec<(String, String)>> {
    set.iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .with_context(|| format!("--set {kv:?}: expected key=value"))
        })
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) -> Result<()> {
    let p = dir.join(name);
    std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))
}

fn write_run(dir: &Path, out: &run::Outcome) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write(dir, "summary.json", &report::json(&out.summary))?;
    write(dir, "summary.txt", &report::table(&out.summary))?;
    write(dir, "timeseries.csv", &report::csv(&out.series))?;
    write(
        dir,
        "plots.svg",
        &svg::timeseries(&out.summary, &out.series),
    )
}

/// Runs `cascade stress`.
///
/// # Errors
/// A bad scenario or override, missing input data, or an output folder that cannot be written.
pub fn run(args: &StressArgs) -> Result<()> {
    let base = overrides(&args.set)?;
    let s = scenario::load(&args.scenario, &base).map_err(anyhow::Error::msg)?;
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("stress-out").join(&s.name));
    let opts = RunOptions {
        data_dir: args.data.clone(),
        progress: !args.quiet,
        baseline: !args.no_baseline,
    };
    let started = Instant::now();
    if args.sweep.is_empty() {
        let out = run::run(&s, &opts).map_err(|e| {
            if s.description.is_empty() {
                anyhow::Error::msg(e)
            } else {
                anyhow::anyhow!("{e}\n(scenario {}: {})", s.name, s.description)
            }
        })?;
        write_run(&out_dir, &out)?;
        print!("{}", report::table(&out.summary));
        println!(
            "\nwrote {}/{{summary.json,summary.txt,timeseries.csv,plots.svg}}",
            out_dir.display()
        );
    } else {
        let axes = args
            .sweep
            .iter()
            .map(|a| sweep::parse_axis(a))
            .collect::<Result<Vec<_>, _>>()
            .map_err(anyhow::Error::msg)?;
        let mut index = 0;
        let cases = sweep::run(&args.scenario, &base, &axes, &opts, |case, out| {
            index += 1;
            eprintln!(
                "[{index}] {}: {} liquidations",
                sweep::label(&case.overrides),
                case.summary.liquidations
            );
            let dir = out_dir.join(format!("{index:02}"));
            if let Err(e) = write_run(&dir, out) {
                eprintln!("could not write {}: {e:#}", dir.display());
            }
        })
        .map_err(anyhow::Error::msg)?;
        std::fs::create_dir_all(&out_dir)?;
        write(&out_dir, "sweep.json", &sweep::json(&cases))?;
        write(&out_dir, "sweep.txt", &sweep::table(&cases))?;
        write(&out_dir, "sweep.svg", &sweep::chart(&cases))?;
        print!("{}", sweep::table(&cases));
        println!(
            "\nwrote {}/{{sweep.json,sweep.txt,sweep.svg}} and one folder per combination",
            out_dir.display()
        );
    }
    // Wall time goes to the terminal only: the report files stay byte-identical across runs.
    eprintln!(
        "wall time {:.2} s (reproduce: cascade stress --scenario {}{}{})",
        started.elapsed().as_secs_f64(),
        args.scenario.display(),
        args.set
            .iter()
            .map(|s| format!(" --set {s}"))
            .collect::<String>(),
        if args.sweep.is_empty() {
            String::new()
        } else {
            format!(" --sweep {}", args.sweep.join(" "))
        }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(out: &Path, sweep: &[&str]) -> StressArgs {
        StressArgs {
            scenario: Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("scenarios/stress/thin-book-1001x-shock.toml"),
            set: vec![
                "accounts=60".into(),
                "duration_s=120".into(),
                "path.shock_at_s=40".into(),
            ],
            sweep: sweep.iter().map(|s| (*s).to_string()).collect(),
            out: Some(out.to_path_buf()),
            data: PathBuf::from("unused"),
            no_baseline: false,
            quiet: true,
        }
    }

    #[test]
    fn writes_the_report_files_and_the_sweep() {
        let dir = std::env::temp_dir().join(format!("cascade-stress-cmd-{}", std::process::id()));
        run(&args(&dir.join("one"), &[])).expect("runs");
        let json = std::fs::read_to_string(dir.join("one/summary.json")).expect("summary");
        let v: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(v["accounts"], 60);
        assert_eq!(v["audit"], "ok");
        let csv = std::fs::read_to_string(dir.join("one/timeseries.csv")).expect("csv");
        assert_eq!(csv.lines().count(), 121, "a header and one row a second");
        assert!(std::fs::read_to_string(dir.join("one/plots.svg"))
            .expect("svg")
            .starts_with("<svg"));
        run(&args(
            &dir.join("sweep"),
            &["adl=queue,pro-rata", "depth=1,0.5"],
        ))
        .expect("sweep");
        let cases: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("sweep/sweep.json")).expect("sweep.json"),
        )
        .expect("valid JSON");
        assert_eq!(cases.as_array().map(Vec::len), Some(4));
        assert!(dir.join("sweep/04/summary.json").is_file());
        let bad = StressArgs {
            set: vec!["no-equals-sign".into()],
            ..args(&dir.join("bad"), &[])
        };
        assert!(run(&bad).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
