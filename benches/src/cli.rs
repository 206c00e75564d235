//! `cascade bench`: runs the standard workloads through Cascade and prints ns/op, latency
//! percentiles, fills and checksums (and, with `--peers`, the peer comparison).

use crate::cascade::{self, Cascade};
use crate::harness::{self, Latency, Throughput};
use crate::peers::{self, quantcup_c, Comparison};
use crate::plot::{self, Series};
use crate::reference::RefBook;
use crate::report::Report;
use crate::risk::memory;
use crate::risk::report::{self, RiskOptions};
use crate::workload::{mix, quantcup, xc, Workload};
use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

/// Which workloads to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WorkloadArg {
    /// Synthetic steady state: 50% add, 35% cancel, 10% IOC/market, 5% amend.
    Mix,
    /// The exchange-core test mix.
    Xc,
    /// The QuantCup 2011 scoring feed.
    Quantcup,
    /// Risk engine (issue 3): `xc` on a margined market, mark-price updates over 1M positioned
    /// accounts, a 100k-liquidation cascade, memory per account (about 7 s on 2 cores).
    Risk,
    /// All four (about 20 s on 2 cores).
    All,
}

/// Flags of `cascade bench`.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Workload to run.
    #[arg(long, value_enum, default_value_t = WorkloadArg::All)]
    pub workload: WorkloadArg,
    /// Operations of the generated workloads (`mix`, `xc`).
    #[arg(long, default_value_t = 1_000_000)]
    pub ops: usize,
    /// Timed repetitions per measurement (the QuantCup feed, 35,759 messages, gets 20 times as
    /// many).
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
    /// Seed of the generated workloads.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Also run the peer comparison (registry order books, the reference book, the C engine).
    #[arg(long)]
    pub peers: bool,
    /// Resting-order capacity of the engine (`Limits::orders_max`; default
    /// `Limits::DEFAULT`'s 2,097,152). It sizes the order index, so it changes speed, not fills.
    #[arg(long, value_name = "N")]
    pub orders_max: Option<u32>,
    /// Write each workload's latency histogram as `DIR/<workload>.hgrm`.
    #[arg(long, value_name = "DIR")]
    pub hgrm: Option<PathBuf>,
    /// Write the matching workloads' per-op latency distributions as an SVG plot.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// `--workload risk`: accounts holding positions for the mark-update and memory benchmarks.
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    pub risk_accounts: u32,
    /// `--workload risk`: leveraged longs the cascade liquidates in one command.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub risk_liquidations: u32,
    /// `--workload risk`: mark-price updates per timed pass.
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub mark_updates: usize,
    /// `--workload risk`: price levels a side the market maker quotes during the mark updates
    /// (each update samples the funding premium by walking the book to the impact notional).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub risk_levels: u32,
}

/// The `mix` floor of issue 2: matching median at most this many ns/op.
pub const MIX_FLOOR_NS: f64 = 30.0;
/// The peer floor of issue 2: at least this many times faster than the fastest correct peer.
pub const PEER_FLOOR_RATIO: f64 = 2.0;

impl BenchArgs {
    fn command(&self) -> String {
        let w = match self.workload {
            WorkloadArg::Mix => "mix",
            WorkloadArg::Xc => "xc",
            WorkloadArg::Quantcup => "quantcup",
            WorkloadArg::Risk => "risk",
            WorkloadArg::All => "all",
        };
        let mut s = format!(
            "cargo run --release -- bench --workload {w} --ops {} --reps {} --seed {}",
            self.ops, self.reps, self.seed
        );
        if self.peers {
            s.push_str(" --peers");
        }
        if let Some(n) = self.orders_max {
            let _ = write!(s, " --orders-max {n}");
        }
        if let Some(d) = &self.hgrm {
            let _ = write!(s, " --hgrm {}", d.display());
        }
        if let Some(f) = &self.plot {
            let _ = write!(s, " --plot {}", f.display());
        }
        if self.wants(WorkloadArg::Risk) {
            let _ = write!(
                s,
                " --risk-accounts {} --risk-liquidations {} --mark-updates {} --risk-levels {}",
                self.risk_accounts, self.risk_liquidations, self.mark_updates, self.risk_levels
            );
        }
        s
    }

    fn wants(&self, w: WorkloadArg) -> bool {
        self.workload == WorkloadArg::All || self.workload == w
    }
}

/// One workload's Cascade results.
struct Outcome {
    workload: Workload,
    throughput: Throughput,
    latency: Latency,
    reference_ok: bool,
    c_engine_ns: Option<f64>,
}

fn measure(w: Workload, reps: usize, args: &BenchArgs) -> anyhow::Result<Outcome> {
    let hgrm = args.hgrm.as_ref();
    w.check_ids();
    let inputs = cascade::commands(&w.ops);
    let throughput = harness::throughput::<Cascade>(&inputs, reps);
    let latency = harness::latency::<Cascade>(&inputs);
    let reference = harness::run_once::<RefBook>(&w.ops);
    let reference_ok = reference == throughput.tally && throughput.deterministic;
    let report = Report {
        title: format!("bench {}", w.name),
        workload: vec![
            ("workload".into(), w.description.to_string()),
            ("op mix".into(), w.counts().to_string()),
            (
                "ns/op".into(),
                format!(
                    "median {:.2} (min {:.2}, max {:.2}, {} reps) = {:.1} Mops/s",
                    throughput.median(),
                    throughput.min(),
                    throughput.max(),
                    throughput.ns_per_op.len(),
                    1e3 / throughput.median()
                ),
            ),
        ],
        sample: format!(
            "one Engine::apply per op, in process, timer read ~{} ns included",
            latency.timer_overhead_ns
        ),
        latency: latency.histogram.clone(),
        ops: throughput.ops as u64,
        seconds: throughput.median() * throughput.ops as f64 / 1e9,
        fills: throughput.tally.fills,
        checksum: throughput.tally.checksum,
        command: args.command(),
        machine: harness::machine(),
        notes: vec![
            format!("traded quantity {} lots", throughput.tally.qty),
            if reference_ok {
                "reference book agrees: OK".to_string()
            } else {
                format!(
                    "REFERENCE MISMATCH: reference {reference}, cascade {}",
                    throughput.tally
                )
            },
        ],
    };
    print!("{}", report.render());
    if let Some(dir) = hgrm {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(format!("{}.hgrm", w.name));
        harness::write_hgrm(&path, &latency.histogram)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("   histogram: {}", path.display());
    }
    Ok(Outcome {
        workload: w,
        throughput,
        latency,
        reference_ok,
        c_engine_ns: None,
    })
}

fn summary(outcomes: &[Outcome]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| workload | ops | ns/op median (min-max) | p50 | p90 | p99 | p99.9 | max | fills | qty | checksum | ref |"
    );
    let _ = writeln!(
        s,
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|"
    );
    for o in outcomes {
        let l = &o.latency;
        let t = &o.throughput;
        let _ = writeln!(
            s,
            "| {} | {} | {:.1} ({:.1}-{:.1}) | {} | {} | {} | {} | {} | {} | {} | {:016x} | {} |",
            o.workload.name,
            t.ops,
            t.median(),
            t.min(),
            t.max(),
            l.at(0.5),
            l.at(0.9),
            l.at(0.99),
            l.at(0.999),
            l.histogram.max(),
            t.tally.fills,
            t.tally.qty,
            t.tally.checksum,
            if o.reference_ok { "OK" } else { "FAIL" }
        );
    }
    s
}

fn quantcup_feed() -> Option<quantcup::Feed> {
    let Some(path) = quantcup::locate() else {
        println!(
            "## quantcup: SKIPPED: feed not found (build downloads the lobster 0.7.0 crate; or set \
             CASCADE_QUANTCUP_CSV to its data/orders.csv)"
        );
        return None;
    };
    match quantcup::load(&path) {
        Ok(feed) => Some(feed),
        Err(e) => {
            println!("## quantcup: SKIPPED: {e:#}");
            None
        }
    }
}

fn floors(outcomes: &[Outcome], comparisons: &[Comparison]) {
    println!("## floors");
    if let Some(o) = outcomes.iter().find(|o| o.workload.name == "mix") {
        let m = o.throughput.median();
        let verdict = if m <= MIX_FLOOR_NS { "MET" } else { "NOT MET" };
        println!("   mix matching median {m:.2} ns/op <= {MIX_FLOOR_NS} ns/op: {verdict}");
    }
    for c in comparisons {
        match c.fastest_correct_peer() {
            Some((row, ratio)) => {
                let verdict = if ratio >= PEER_FLOOR_RATIO {
                    "MET"
                } else {
                    "NOT MET"
                };
                println!(
                    "   {}: fastest correct peer {} at {:.2}x Cascade's time (>= {PEER_FLOOR_RATIO}x): {verdict}",
                    c.workload, row.name, ratio
                );
            }
            None => println!("   {}: no correct peer", c.workload),
        }
    }
    if let Some(o) = outcomes.iter().find(|o| o.c_engine_ns.is_some()) {
        let c = o.c_engine_ns.unwrap_or(f64::NAN);
        let m = o.throughput.median();
        println!(
            "   quantcup: Cascade {m:.2} ns/msg vs winning C engine {c:.2} ns/msg = {:.2}x (aim <= 1.5x)",
            m / c
        );
    }
}

fn run_risk(args: &BenchArgs) -> anyhow::Result<()> {
    println!(
        "method: throughput = median of {} timed repetitions after a warm-up (fresh engines for \
         xc, passes over one population for mark updates, clones of one prepared engine for \
         the cascade); per-op latency from one more run, each op timed with Instant::now(); \
         setup untimed; every run checked (see each section)",
        args.reps
    );
    let options = RiskOptions {
        ops: args.ops,
        reps: args.reps,
        seed: args.seed,
        accounts: args.risk_accounts,
        liquidations: args.risk_liquidations,
        updates: args.mark_updates,
        levels: args.risk_levels,
        orders_max: args.orders_max.unwrap_or(0),
        hgrm: args.hgrm.clone(),
    };
    report::run(&options, memory::glibc_allocated).map(|_| ())
}

/// Runs the benchmarks.
///
/// # Errors
/// When a workload fails its checks: Cascade's fills differ from the reference book's, a
/// repetition differs from another, or a risk benchmark's checks fail (see
/// [`report::run`]).
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    cascade::set_orders_max(args.orders_max.unwrap_or(0));
    println!("# cascade bench");
    println!("command: {}", args.command());
    println!("machine: {}", harness::machine());
    if args.workload == WorkloadArg::Risk {
        return run_risk(args);
    }
    let matching = run_matching(args);
    if args.wants(WorkloadArg::Risk) {
        println!();
        run_risk(args)?;
    }
    matching
}

fn run_matching(args: &BenchArgs) -> anyhow::Result<()> {
    println!("engine: {:?}", cascade::limits());
    println!(
        "method: median of {} fresh-engine repetitions after a warm-up; per-op latency from one \
         more run, each op timed with Instant::now()",
        args.reps
    );
    let mut outcomes = Vec::new();
    let mut streams: Vec<(Workload, Option<Vec<quantcup::RawMsg>>)> = Vec::new();
    if args.wants(WorkloadArg::Mix) {
        let t = Instant::now();
        let w = mix::generate(&mix::MixParams {
            ops: args.ops,
            seed: args.seed,
            ..mix::MixParams::default()
        });
        println!("(mix generated in {:.2?})", t.elapsed());
        outcomes.push(measure(w.clone(), args.reps, args)?);
        streams.push((w, None));
    }
    if args.wants(WorkloadArg::Xc) {
        let t = Instant::now();
        let w = xc::generate(&xc::XcParams {
            ops: args.ops,
            seed: args.seed,
            ..xc::XcParams::default()
        });
        println!("(xc generated in {:.2?})", t.elapsed());
        outcomes.push(measure(w.clone(), args.reps, args)?);
        streams.push((w, None));
    }
    if args.wants(WorkloadArg::Quantcup) {
        if let Some(feed) = quantcup_feed() {
            println!("(quantcup feed: {})", feed.path.display());
            let reps = args.reps * 20;
            let mut o = measure(feed.workload.clone(), reps, args)?;
            match quantcup_c::run(&feed.raw, reps) {
                Some(runs) => {
                    let mut ns: Vec<f64> = runs
                        .iter()
                        .map(|r| {
                            #[allow(clippy::cast_precision_loss)]
                            let v = r.elapsed_ns as f64 / feed.raw.len() as f64;
                            v
                        })
                        .collect();
                    ns.sort_by(f64::total_cmp);
                    let c = harness::median(&ns);
                    println!(
                        "   winning C engine (voyager, same feed, same process): {c:.2} ns/msg \
                         median of {} runs; fills {} qty {}",
                        runs.len(),
                        runs[0].fills,
                        runs[0].qty
                    );
                    o.c_engine_ns = Some(c);
                }
                None => println!("   winning C engine: not built (see benches/csrc/build.rs)"),
            }
            outcomes.push(o);
            streams.push((feed.workload, Some(feed.raw)));
        }
    }
    println!("\n{}", summary(&outcomes));
    if let Some(path) = &args.plot {
        let series: Vec<Series<'_>> = outcomes
            .iter()
            .map(|o| Series {
                label: o.workload.name.to_string(),
                histogram: &o.latency.histogram,
            })
            .collect();
        plot::write_svg(path, "cascade bench: per-op latency by percentile", &series)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("plot: {}", path.display());
    }
    let mut comparisons = Vec::new();
    if args.peers {
        let reps = args.reps.clamp(1, 3);
        for (w, raw) in &streams {
            let stream = if w.counts().amend > 0 {
                w.without_amends()
            } else {
                w.clone()
            };
            println!(
                "## peers on {} ({}), median of {reps} reps",
                stream.name,
                stream.counts()
            );
            let c = peers::compare(&stream, reps, raw.as_deref());
            println!("{}", c.table());
            comparisons.push(c);
        }
    }
    floors(&outcomes, &comparisons);
    if outcomes.iter().any(|o| !o.reference_ok) {
        bail!("Cascade's fills differ from the reference book's (see above)");
    }
    Ok(())
}
