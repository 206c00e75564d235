//! Replaying commands through the engine, and the report of what happened.
//!
//! A replay is timed from the first command read to the last event counted; building the
//! engine (which preallocates to its limits) is outside the timing. With `runs > 1` the replay
//! is repeated on fresh engines, every run must end on the same counts and `state_hash()`
//! (determinism, checked every time), and the report quotes the median throughput.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

use cascade_engine::{Command, Engine, Event, Limits, Sequenced};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::error::{ImportError, Reason};
use crate::journal_file::for_each_record;
use crate::tally::Tally;

/// Records between progress-bar updates: rare enough to cost nothing per command.
const PROGRESS_EVERY: u64 = 1 << 16;

/// Format-specific verification that watches every command and its events.
pub trait Checker {
    /// Sees one command and the events the engine emitted for it.
    fn observe(&mut self, cmd: &Sequenced<Command>, events: &[Event]);
    /// What the check found, for the report.
    fn finish(&self) -> serde_json::Value;
}

/// What a replay did: counts, final hash, speed, and any format-specific checks.
#[derive(Clone, Debug, Serialize)]
pub struct ReplayReport {
    /// What was replayed (a journal path or a format name).
    pub source: String,
    /// Commands applied per run.
    pub commands: u64,
    /// Events emitted per run.
    pub events: u64,
    /// New orders accepted.
    pub accepted: u64,
    /// Commands rejected, in total and by the engine's reason name.
    pub rejected: u64,
    /// Rejects by reason.
    pub rejects_by_reason: std::collections::BTreeMap<String, u64>,
    /// Trades.
    pub trades: u64,
    /// Orders cancelled or expired.
    pub cancelled: u64,
    /// Liquidations started.
    pub liquidations: u64,
    /// Funding settlements.
    pub funding_settlements: u64,
    /// The engine's `state_hash()` after the last command, hex.
    pub state_hash: String,
    /// Runs made (all with the same result).
    pub runs: u32,
    /// Median seconds of one run.
    pub seconds_median: f64,
    /// Commands per second of the median run.
    pub commands_per_s: f64,
    /// Median seconds this thread was on a CPU during one run (Linux; `None` elsewhere). On a
    /// shared, loaded machine wall time also counts time spent waiting for a core; this does
    /// not.
    pub cpu_seconds_median: Option<f64>,
    /// Commands per second of CPU time (median run).
    pub commands_per_cpu_s: Option<f64>,
    /// Journals only: records per second of the reader alone (read, CRC, decode; no engine),
    /// median of as many passes as runs, in CPU time where known.
    pub reader_records_per_s: Option<f64>,
    /// The machine the throughput was measured on: CPU model and logical cores.
    pub machine: String,
    /// The command line that produced this report, to reproduce it (set by the caller).
    pub command: Option<String>,
    /// Format-specific checks (trades reproduced, book matches), when the source was imported.
    pub checks: serde_json::Value,
}

/// CPU model (Linux `/proc/cpuinfo`) and logical cores, for reports.
#[must_use]
pub fn machine() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZeroUsize::get);
    format!("{model}, {cores} logical cores")
}

impl ReplayReport {
    /// A plain-text table for a terminal.
    #[must_use]
    pub fn table(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let rows: [(&str, String); 11] = [
            ("source", self.source.clone()),
            ("commands", self.commands.to_string()),
            ("events", self.events.to_string()),
            ("orders accepted", self.accepted.to_string()),
            ("rejected", self.rejected.to_string()),
            ("trades", self.trades.to_string()),
            ("cancelled/expired", self.cancelled.to_string()),
            ("liquidations", self.liquidations.to_string()),
            ("funding settlements", self.funding_settlements.to_string()),
            ("state_hash", self.state_hash.clone()),
            (
                "throughput",
                format!(
                    "{:.2} M commands/s (median of {} run(s), {:.3} s each)",
                    self.commands_per_s / 1e6,
                    self.runs,
                    self.seconds_median
                ),
            ),
        ];
        let mut rows = rows.to_vec();
        if let (Some(rate), Some(cpu)) = (self.commands_per_cpu_s, self.cpu_seconds_median) {
            rows.push((
                "throughput (CPU time)",
                format!("{:.2} M commands/s ({cpu:.3} s on a CPU)", rate / 1e6),
            ));
        }
        if let Some(rate) = self.reader_records_per_s {
            rows.push(("reader alone", format!("{:.2} M records/s", rate / 1e6)));
        }
        rows.push(("machine", self.machine.clone()));
        if let Some(command) = &self.command {
            rows.push(("reproduce", command.clone()));
        }
        for (k, v) in rows {
            let _ = writeln!(out, "{k:<22} {v}");
        }
        for (reason, n) in &self.rejects_by_reason {
            let _ = writeln!(out, "{:<22} {n}", format!("  reject {reason}"));
        }
        if let serde_json::Value::Object(map) = &self.checks {
            for (k, v) in map {
                let _ = writeln!(out, "{k:<22} {}", compact(v));
            }
        }
        out
    }
}

fn compact(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// How to replay.
#[derive(Clone, Copy, Debug)]
pub struct ReplayOptions {
    /// Engine capacities: the same as the engine that produced the journal.
    pub limits: Limits,
    /// Times to replay (≥ 1); throughput is the median.
    pub runs: u32,
    /// Show a progress bar on a terminal (never when stderr is not one).
    pub progress: bool,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        Self {
            limits: Limits::DEFAULT,
            runs: 1,
            progress: false,
        }
    }
}

fn progress_bar(enabled: bool, len: u64, unit: &str) -> ProgressBar {
    if !enabled || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let template = format!("{{elapsed_precise}} [{{bar:40}}] {{pos}}/{{len}} {unit} ({{eta}})");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

fn new_engine(limits: Limits) -> Result<Engine, ImportError> {
    if !limits.is_valid() {
        return Err(ImportError::new(
            Reason::WrongInput,
            "invalid engine limits",
        ));
    }
    Ok(Engine::new(limits))
}

/// One run's outcome.
struct Run {
    tally: Tally,
    hash: u64,
    seconds: f64,
    cpu_seconds: Option<f64>,
}

/// Nanoseconds this thread has spent on a CPU: the first field of Linux's
/// `/proc/thread-self/schedstat`. `None` where that file does not exist.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Wall and CPU time of `f`.
fn timed(f: impl FnOnce() -> Result<(), ImportError>) -> Result<(f64, Option<f64>), ImportError> {
    let cpu_before = thread_cpu_ns();
    let started = Instant::now();
    f()?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_before
        .zip(thread_cpu_ns())
        .map(|(a, b)| b.saturating_sub(a) as f64 / 1e9);
    Ok((seconds, cpu))
}

/// Replays the journal at `path`.
///
/// # Errors
/// I/O errors, a corrupt journal (with its offset and code), or runs that disagree (which
/// would be a determinism bug in the engine).
pub fn replay_journal(path: &Path, opts: ReplayOptions) -> Result<ReplayReport, ImportError> {
    let len = std::fs::metadata(path)
        .map_err(|e| ImportError::io(path, &e))?
        .len();
    let mut runs = Vec::new();
    for _ in 0..opts.runs.max(1) {
        let mut engine = new_engine(opts.limits)?;
        let bar = progress_bar(opts.progress, len, "bytes");
        let mut tally = Tally::default();
        let (seconds, cpu_seconds) = timed(|| {
            for_each_record(
                path,
                |cmd| tally.add(engine.apply(cmd)),
                |bytes| bar.set_position(bytes),
            )
            .map(|_| ())
        })?;
        bar.finish_and_clear();
        runs.push(Run {
            tally,
            hash: engine.state_hash(),
            seconds,
            cpu_seconds,
        });
    }
    // The reader alone, as many passes as runs: CPU time where known, else wall time.
    let mut records = 0u64;
    let mut passes = Vec::new();
    for _ in 0..opts.runs.max(1) {
        let (wall, cpu) = timed(|| {
            records = for_each_record(path, |_| {}, |_| {})?;
            Ok(())
        })?;
        passes.push(cpu.unwrap_or(wall));
    }
    passes.sort_by(f64::total_cmp);
    let read_seconds = passes.get(passes.len() / 2).copied().unwrap_or(0.0);
    let mut report = report(path.display().to_string(), &runs, serde_json::Value::Null)?;
    report.reader_records_per_s = (read_seconds > 0.0).then(|| records as f64 / read_seconds);
    Ok(report)
}

/// Replays commands held in memory (an import), letting `checker` watch every event.
///
/// # Errors
/// Runs that disagree (a determinism bug), or invalid limits.
pub fn replay_commands(
    source: &str,
    commands: &[Sequenced<Command>],
    checker: &mut dyn Checker,
    opts: ReplayOptions,
) -> Result<ReplayReport, ImportError> {
    let mut runs = Vec::new();
    for run in 0..opts.runs.max(1) {
        let mut engine = new_engine(opts.limits)?;
        let bar = progress_bar(opts.progress, commands.len() as u64, "commands");
        let mut tally = Tally::default();
        let (seconds, cpu_seconds) = timed(|| {
            for (i, cmd) in commands.iter().enumerate() {
                let events = engine.apply(cmd);
                tally.add(events);
                // The checker watches the first run only; the others are for timing.
                if run == 0 {
                    checker.observe(cmd, events);
                }
                if (i as u64) % PROGRESS_EVERY == 0 {
                    bar.set_position(i as u64);
                }
            }
            Ok(())
        })?;
        bar.finish_and_clear();
        runs.push(Run {
            tally,
            hash: engine.state_hash(),
            seconds,
            cpu_seconds,
        });
    }
    report(source.to_string(), &runs, checker.finish())
}

fn report(
    source: String,
    runs: &[Run],
    checks: serde_json::Value,
) -> Result<ReplayReport, ImportError> {
    let first = runs
        .first()
        .ok_or_else(|| ImportError::new(Reason::WrongInput, "no run"))?;
    if let Some(bad) = runs
        .iter()
        .find(|r| r.hash != first.hash || r.tally != first.tally)
    {
        return Err(ImportError::new(
            Reason::Nondeterministic,
            format!(
                "replays disagree: state_hash {:016x} then {:016x}",
                first.hash, bad.hash
            ),
        ));
    }
    let median_of = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    };
    let median = median_of(runs.iter().map(|r| r.seconds).collect()).unwrap_or(0.0);
    let cpu: Option<Vec<f64>> = runs.iter().map(|r| r.cpu_seconds).collect();
    let cpu_median = cpu.and_then(median_of);
    let t = &first.tally;
    Ok(ReplayReport {
        source,
        commands: t.commands,
        events: t.events,
        accepted: t.accepted,
        rejected: t.rejected,
        rejects_by_reason: t.rejects_by_reason(),
        trades: t.trades,
        cancelled: t.cancelled,
        liquidations: t.liquidations,
        funding_settlements: t.funding,
        state_hash: format!("{:016x}", first.hash),
        runs: u32::try_from(runs.len()).unwrap_or(u32::MAX),
        seconds_median: median,
        commands_per_s: if median > 0.0 {
            t.commands as f64 / median
        } else {
            0.0
        },
        cpu_seconds_median: cpu_median,
        commands_per_cpu_s: cpu_median
            .filter(|s| *s > 0.0)
            .map(|s| t.commands as f64 / s),
        reader_records_per_s: None,
        machine: machine(),
        command: None,
        checks,
    })
}
