//! The measuring: throughput as the median of fresh-book repetitions, per-operation latency
//! from an HDR histogram, the timer's own cost, and the machine it ran on.
//!
//! # Method
//! - **Throughput**: the operations are converted to the subject's own input type first
//!   ([`Book::prepare`], untimed). One untimed warm-up run on a fresh book, then `reps` timed
//!   runs, each on a fresh book built outside the timed region; ns/op is total time over
//!   operations, and the reported figure is the median over repetitions. Every repetition must
//!   produce the same fills as the warm-up (the subject is deterministic or it is reported).
//! - **Latency**: one more run on a fresh book with each operation timed by a pair of
//!   `Instant::now()` calls (the vDSO monotonic clock) into an HDR histogram (1 ns .. 10 s, 3
//!   significant digits). Each sample includes one timer read; its cost, the median of
//!   back-to-back reads, is reported beside the percentiles and not subtracted.
//! - Fills, traded quantity and the trade checksum come from the subject's own reports of each
//!   trade, read inside the timed loop: every subject pays for reporting its fills.

use crate::fills::FillTally;
use crate::workload::Op;
use hdrhistogram::Histogram;
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

/// An order book under measurement.
pub trait Book: Sized {
    /// One operation in the book's own input form.
    type Input;
    /// Short name for tables.
    const NAME: &'static str;
    /// Converts operations to inputs (untimed).
    fn prepare(ops: &[Op]) -> Vec<Self::Input>;
    /// A fresh, empty book.
    fn new() -> Self;
    /// Applies one input, recording each fill.
    fn apply(&mut self, input: &Self::Input, tally: &mut FillTally);
}

/// Throughput over repetitions.
#[derive(Clone, Debug)]
pub struct Throughput {
    /// Operations per repetition.
    pub ops: usize,
    /// ns/op of each timed repetition, sorted ascending.
    pub ns_per_op: Vec<f64>,
    /// Fills of the warm-up run.
    pub tally: FillTally,
    /// Whether every repetition produced the warm-up's fills.
    pub deterministic: bool,
}

impl Throughput {
    /// Median ns/op.
    #[must_use]
    pub fn median(&self) -> f64 {
        median(&self.ns_per_op)
    }

    /// Fastest repetition.
    #[must_use]
    pub fn min(&self) -> f64 {
        self.ns_per_op.first().copied().unwrap_or(f64::NAN)
    }

    /// Slowest repetition.
    #[must_use]
    pub fn max(&self) -> f64 {
        self.ns_per_op.last().copied().unwrap_or(f64::NAN)
    }
}

/// Median of an ascending slice (mean of the middle two for even lengths).
#[must_use]
pub fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn ns_per_op(elapsed_ns: u128, ops: usize) -> f64 {
    // Benchmark arithmetic, not money: floating point is fine here.
    #[allow(clippy::cast_precision_loss)]
    let v = elapsed_ns as f64 / ops.max(1) as f64;
    v
}

/// One untimed run: the fills of `inputs` on a fresh book.
#[must_use]
pub fn run_once<B: Book>(inputs: &[B::Input]) -> FillTally {
    let mut book = B::new();
    let mut tally = FillTally::default();
    for x in inputs {
        book.apply(x, &mut tally);
    }
    tally
}

/// Measures throughput: a warm-up run, then `reps` timed runs on fresh books.
#[must_use]
pub fn throughput<B: Book>(inputs: &[B::Input], reps: usize) -> Throughput {
    let tally = run_once::<B>(inputs);
    let mut samples = Vec::with_capacity(reps);
    let mut deterministic = true;
    for _ in 0..reps.max(1) {
        let mut book = B::new();
        let mut t = FillTally::default();
        let start = Instant::now();
        for x in inputs {
            book.apply(x, &mut t);
        }
        let elapsed = start.elapsed().as_nanos();
        black_box(&t);
        drop(black_box(book));
        deterministic &= t == tally;
        samples.push(ns_per_op(elapsed, inputs.len()));
    }
    samples.sort_by(f64::total_cmp);
    Throughput {
        ops: inputs.len(),
        ns_per_op: samples,
        tally,
        deterministic,
    }
}

/// Per-operation latency.
#[derive(Clone, Debug)]
pub struct Latency {
    /// Nanoseconds per operation, each including one timer read.
    pub histogram: Histogram<u64>,
    /// Median cost of one `Instant::now()` read, in ns.
    pub timer_overhead_ns: u64,
}

impl Latency {
    /// Value at a quantile, in ns.
    #[must_use]
    pub fn at(&self, quantile: f64) -> u64 {
        self.histogram.value_at_quantile(quantile)
    }

    /// `p50 .. max` as one line.
    #[must_use]
    pub fn summary(&self) -> String {
        format!(
            "p50 {} p90 {} p99 {} p99.9 {} max {} ns (timer read ~{} ns, included)",
            self.at(0.5),
            self.at(0.9),
            self.at(0.99),
            self.at(0.999),
            self.histogram.max(),
            self.timer_overhead_ns
        )
    }
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 10_000_000_000, 3).expect("valid histogram bounds")
}

/// Median cost of reading `Instant::now()`, in ns, from back-to-back reads.
#[must_use]
pub fn timer_overhead_ns() -> u64 {
    let mut samples: Vec<u64> = (0..20_001)
        .map(|_| {
            let a = Instant::now();
            let b = Instant::now();
            u64::try_from(b.duration_since(a).as_nanos()).unwrap_or(u64::MAX)
        })
        .collect();
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// Measures per-operation latency on a fresh book.
#[must_use]
pub fn latency<B: Book>(inputs: &[B::Input]) -> Latency {
    let mut histogram = new_histogram();
    let mut book = B::new();
    let mut tally = FillTally::default();
    for x in inputs {
        let start = Instant::now();
        book.apply(x, &mut tally);
        let ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        histogram.saturating_record(ns.max(1));
    }
    black_box(&tally);
    Latency {
        histogram,
        timer_overhead_ns: timer_overhead_ns(),
    }
}

/// Writes a histogram in HdrHistogram's percentile-distribution text format (`.hgrm`), which
/// the HdrHistogram plotter reads.
///
/// # Errors
/// If the file cannot be written.
pub fn write_hgrm(path: &Path, h: &Histogram<u64>) -> std::io::Result<()> {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    for v in h.iter_quantiles(5) {
        let q = v.quantile_iterated_to();
        let inv = if q < 1.0 {
            format!("{:>14.2}", 1.0 / (1.0 - q))
        } else {
            format!("{:>14}", "inf")
        };
        let _ = writeln!(
            s,
            "{:>12.3} {:>14.12} {:>10} {inv}",
            // Values are ns; the unit scaling ratio of the format is 1.
            v.value_iterated_to() as f64,
            q,
            v.count_since_last_iteration()
        );
    }
    let _ = writeln!(
        s,
        "#[Mean    = {:>12.3}, StdDeviation   = {:>12.3}]",
        h.mean(),
        h.stdev()
    );
    let _ = writeln!(
        s,
        "#[Max     = {:>12.3}, Total count    = {:>12}]",
        h.max() as f64,
        h.len()
    );
    std::fs::write(path, s)
}

/// The machine, in one line: CPU model, logical cores, compiler and build profile.
#[must_use]
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let profile = if cfg!(debug_assertions) {
        "DEBUG BUILD (numbers meaningless; use --release)"
    } else {
        "optimized"
    };
    format!(
        "{cpu}, {cores} logical cores, {}, {} {}, {profile}",
        env!("CASCADE_BENCH_RUSTC"),
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}
