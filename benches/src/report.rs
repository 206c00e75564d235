//! The one report format of `cascade bench` (in process) and `cascade loadgen` (over TCP).
//!
//! Every measurement is printed the same way, so numbers from the two tools can be put side by
//! side: the workload spelled out, the latency percentiles p50 / p90 / p99 / p99.9 / p99.99 /
//! max from an HDR histogram, the throughput, a fill count and checksum that say the run did
//! the work it claims, the exact command that reproduces it, and the machine it ran on.
//!
//! All latencies are nanoseconds in the histogram; [`fmt_ns`] picks a readable unit for print.

use hdrhistogram::Histogram;
use std::fmt::Write as _;

/// The quantiles every report prints, with their labels.
pub const QUANTILES: [(f64, &str); 5] = [
    (0.5, "p50"),
    (0.9, "p90"),
    (0.99, "p99"),
    (0.999, "p99.9"),
    (0.9999, "p99.99"),
];

/// A latency histogram in nanoseconds: 1 ns to 100 s at 3 significant digits (0.1% error),
/// enough for a stalled TCP run and for a single in-process operation alike.
#[must_use]
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("invariant: valid histogram bounds")
}

/// The printed percentiles of one histogram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Percentiles {
    /// Median, ns.
    pub p50: u64,
    /// 90th percentile, ns.
    pub p90: u64,
    /// 99th percentile, ns.
    pub p99: u64,
    /// 99.9th percentile, ns.
    pub p999: u64,
    /// 99.99th percentile, ns.
    pub p9999: u64,
    /// Largest sample, ns.
    pub max: u64,
    /// Samples.
    pub count: u64,
}

impl Percentiles {
    /// Reads the percentiles of `h` (all zero for an empty histogram).
    #[must_use]
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self {
                p50: 0,
                p90: 0,
                p99: 0,
                p999: 0,
                p9999: 0,
                max: 0,
                count: 0,
            };
        }
        Self {
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            p9999: h.value_at_quantile(0.9999),
            max: h.max(),
            count: h.len(),
        }
    }

    /// The values in [`QUANTILES`] order, then max.
    #[must_use]
    pub const fn values(&self) -> [u64; 6] {
        [
            self.p50, self.p90, self.p99, self.p999, self.p9999, self.max,
        ]
    }

    /// `p50 1.2 µs  p90 …  max …` on one line.
    #[must_use]
    pub fn line(&self) -> String {
        let mut s = String::new();
        for ((_, label), v) in QUANTILES.iter().zip(self.values()) {
            let _ = write!(s, "{label} {}  ", fmt_ns(v));
        }
        let _ = write!(s, "max {}", fmt_ns(self.max));
        s
    }
}

/// A duration in ns, in the unit that keeps three or four significant digits.
#[must_use]
pub fn fmt_ns(ns: u64) -> String {
    // Display arithmetic only.
    #[allow(clippy::cast_precision_loss)]
    let v = ns as f64;
    if ns < 10_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{:.1} µs", v / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.2} ms", v / 1e6)
    } else {
        format!("{:.2} s", v / 1e9)
    }
}

/// One measured run, printed the same way by every tool.
#[derive(Clone, Debug)]
pub struct Report {
    /// What was measured, e.g. `loadgen open-loop order→ack` or `bench mix`.
    pub title: String,
    /// The workload, spelled out as `key: value` lines (rate, mix, sessions, duration, …).
    pub workload: Vec<(String, String)>,
    /// What one latency sample is, e.g. "intended send time → ack read, CO-corrected".
    pub sample: String,
    /// The latency samples, ns.
    pub latency: Histogram<u64>,
    /// Operations the throughput counts.
    pub ops: u64,
    /// Seconds those operations took.
    pub seconds: f64,
    /// Fills (executions) the run produced.
    pub fills: u64,
    /// A checksum over what the run produced (each tool says what it covers).
    pub checksum: u64,
    /// The command that reproduces the run.
    pub command: String,
    /// The machine, one line ([`crate::harness::machine`]).
    pub machine: String,
    /// Further checked facts, one per line (counts that must agree, verdicts).
    pub notes: Vec<String>,
}

impl Report {
    /// Operations per second (0 when no time was measured).
    #[must_use]
    pub fn ops_per_s(&self) -> f64 {
        if self.seconds > 0.0 {
            // Benchmark arithmetic, not money.
            #[allow(clippy::cast_precision_loss)]
            let v = self.ops as f64 / self.seconds;
            v
        } else {
            0.0
        }
    }

    /// The percentiles of [`Report::latency`].
    #[must_use]
    pub fn percentiles(&self) -> Percentiles {
        Percentiles::of(&self.latency)
    }

    /// The report as text.
    #[must_use]
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "## {}", self.title);
        for (k, v) in &self.workload {
            let _ = writeln!(s, "   {k}: {v}");
        }
        let p = self.percentiles();
        let _ = writeln!(s, "   latency ({}; {} samples):", self.sample, p.count);
        let _ = writeln!(s, "     {}", p.line());
        let _ = writeln!(
            s,
            "   throughput: {} ops/s ({} ops in {:.3} s)",
            fmt_rate(self.ops_per_s()),
            self.ops,
            self.seconds
        );
        let _ = writeln!(
            s,
            "   fills: {}  checksum: {:016x}",
            self.fills, self.checksum
        );
        for n in &self.notes {
            let _ = writeln!(s, "   {n}");
        }
        let _ = writeln!(s, "   command: {}", self.command);
        let _ = writeln!(s, "   machine: {}", self.machine);
        s
    }

    /// The header of [`Report::table_row`] rows.
    #[must_use]
    pub fn table_header() -> String {
        "| run | p50 | p90 | p99 | p99.9 | p99.99 | max | ops/s | fills | checksum |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
            .to_string()
    }

    /// One Markdown table row: title, percentiles, throughput, fills, checksum.
    #[must_use]
    pub fn table_row(&self) -> String {
        let p = self.percentiles();
        let mut s = format!("| {} |", self.title);
        for v in p.values() {
            let _ = write!(s, " {} |", fmt_ns(v));
        }
        let _ = write!(
            s,
            " {} | {} | {:016x} |",
            fmt_rate(self.ops_per_s()),
            self.fills,
            self.checksum
        );
        s
    }
}

/// A rate with thousands separators and no decimals (`1,234,567`).
#[must_use]
pub fn fmt_rate(v: f64) -> String {
    if !v.is_finite() || v < 0.0 {
        return "0".into();
    }
    // Display only: rates are far below 2^53.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let n = v.round() as u64;
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(values: &[u64]) -> Histogram<u64> {
        let mut h = histogram();
        for &v in values {
            h.record(v).expect("in range");
        }
        h
    }

    #[test]
    fn percentiles_of_a_known_distribution() {
        // 1..=10_000 ns, one sample each: the q-quantile is q × 10,000 within the histogram's
        // 0.1% resolution.
        let values: Vec<u64> = (1..=10_000).collect();
        let p = Percentiles::of(&filled(&values));
        let near = |got: u64, want: u64| got >= want && got <= want + want / 1000;
        assert_eq!(p.count, 10_000);
        assert!(near(p.p50, 5_000), "{}", p.p50);
        assert!(near(p.p90, 9_000), "{}", p.p90);
        assert!(near(p.p99, 9_900), "{}", p.p99);
        assert!((9_990..=10_000).contains(&p.p999), "{}", p.p999);
        assert!((9_999..=10_007).contains(&p.p9999), "{}", p.p9999);
        assert!((10_000..=10_007).contains(&p.max), "{}", p.max);
    }

    #[test]
    fn one_outlier_shows_at_the_tail_only() {
        let mut values = vec![1_000; 9_999];
        values.push(5_000_000);
        let p = Percentiles::of(&filled(&values));
        assert_eq!(p.p50, 1_000);
        assert_eq!(p.p999, 1_000);
        assert!(p.max >= 5_000_000);
    }

    #[test]
    fn empty_histogram_reports_zeros() {
        let p = Percentiles::of(&histogram());
        assert_eq!(p.values(), [0; 6]);
        assert_eq!(p.count, 0);
    }

    #[test]
    fn units_keep_significant_digits() {
        assert_eq!(fmt_ns(850), "850 ns");
        assert_eq!(fmt_ns(12_345), "12.3 µs");
        assert_eq!(fmt_ns(12_345_678), "12.35 ms");
        assert_eq!(fmt_ns(4_423_700), "4.42 ms");
        assert_eq!(fmt_ns(12_345_678_901), "12.35 s");
        assert_eq!(fmt_rate(1_234_567.4), "1,234,567");
        assert_eq!(fmt_rate(999.0), "999");
        assert_eq!(fmt_rate(f64::NAN), "0");
    }

    #[test]
    fn render_spells_out_every_part() {
        let r = Report {
            title: "loadgen open-loop".into(),
            workload: vec![("rate".into(), "100000 orders/s".into())],
            sample: "intended send → ack".into(),
            latency: filled(&[100, 200, 300]),
            ops: 3,
            seconds: 0.5,
            fills: 7,
            checksum: 0xabc,
            command: "cascade loadgen --rate 100000".into(),
            machine: "test machine".into(),
            notes: vec!["acks 3 = orders 3".into()],
        };
        let text = r.render();
        for needle in [
            "## loadgen open-loop",
            "rate: 100000 orders/s",
            "3 samples",
            "p50 200 ns",
            "p99.99 300 ns",
            "max 300 ns",
            "throughput: 6 ops/s (3 ops in 0.500 s)",
            "fills: 7  checksum: 0000000000000abc",
            "acks 3 = orders 3",
            "command: cascade loadgen --rate 100000",
            "machine: test machine",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        let row = r.table_row();
        assert!(row.starts_with("| loadgen open-loop | 200 ns |"), "{row}");
        assert!(row.ends_with("| 6 | 7 | 0000000000000abc |"), "{row}");
    }
}
