//! `cascade bench --workload risk`: the four risk benchmarks, their checks and the floors of
//! issue 3, printed in the style of the matching report.

use super::cascade::{self as liquidation, CascadeParams, CascadeResult, Closer};
use super::memory::{self, Meter};
use super::population::{self, PopulationParams};
use super::xc::{self as margined, MarginedCascade};
use super::{nanos, PRICE_50K};
use crate::cascade::Cascade;
use crate::harness::{self, Book};
use crate::reference::RefBook;
use crate::workload::xc;
use anyhow::{bail, Context};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

/// Floor 1: `Engine::apply` with risk on `xc`, median ns/op at most this.
pub const XC_FLOOR_NS: f64 = 100.0;
/// Floor 2: one mark-price update over 1,000,000 positioned accounts, median ns at most this.
pub const MARK_UPDATE_FLOOR_NS: f64 = 1_000.0;
/// Floor 3: a cascade liquidating 100,000 accounts, ms at most this.
pub const CASCADE_FLOOR_MS: f64 = 200.0;
/// Floor 4: bytes per account with one position at most this.
pub const MEMORY_FLOOR_BYTES: f64 = 256.0;
/// Populations up to this size get the full `Engine::audit` after the mark updates (it is
/// quadratic in positions); larger ones the linear money and open-interest checks.
pub const FULL_AUDIT_ACCOUNTS_MAX: u32 = 20_000;
/// The population the mark-update and memory floors are defined at.
pub const FLOOR_ACCOUNTS: u32 = 1_000_000;
/// The cascade the cascade floor is defined at.
pub const FLOOR_LIQUIDATIONS: u32 = 100_000;

/// What to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RiskOptions {
    /// Operations of the margined `xc` stream.
    pub ops: usize,
    /// Timed repetitions (passes of mark updates, copies of the cascade).
    pub reps: usize,
    /// Seed of the `xc` stream.
    pub seed: u64,
    /// Accounts holding positions for the mark updates and the memory measurement.
    pub accounts: u32,
    /// Longs liquidated by the cascade.
    pub liquidations: u32,
    /// Mark updates per pass.
    pub updates: usize,
    /// Levels a side the market maker quotes in the population.
    pub levels: u32,
    /// `--orders-max` (0: each benchmark's default).
    pub orders_max: u32,
    /// Where to write the latency histograms (`xc-margined.hgrm`, `mark-update.hgrm`).
    pub hgrm: Option<PathBuf>,
}

fn write_hgrm(o: &RiskOptions, name: &str, h: &hdrhistogram::Histogram<u64>) -> anyhow::Result<()> {
    if let Some(dir) = &o.hgrm {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(format!("{name}.hgrm"));
        harness::write_hgrm(&path, h).with_context(|| format!("writing {}", path.display()))?;
        println!("   histogram: {}", path.display());
    }
    Ok(())
}

/// One floor of issue 3 and how it came out.
#[derive(Clone, Debug, PartialEq)]
pub struct Floor {
    /// What is measured.
    pub name: String,
    /// Measured value.
    pub value: f64,
    /// The floor.
    pub limit: f64,
    /// Unit of both.
    pub unit: &'static str,
    /// Whether the run was at the size the floor is defined at.
    pub at_floor_size: bool,
}

impl Floor {
    /// Whether the measured value is within the floor.
    #[must_use]
    pub fn met(&self) -> bool {
        self.value <= self.limit
    }

    fn line(&self) -> String {
        let verdict = if !self.at_floor_size {
            "not comparable (smaller than the floor's size)"
        } else if self.met() {
            "MET"
        } else {
            "NOT MET"
        };
        format!(
            "{}: {:.2} {} <= {} {}: {verdict}",
            self.name, self.value, self.unit, self.limit, self.unit
        )
    }
}

/// A row of the summary table.
struct Row {
    name: String,
    size: String,
    median: String,
    spread: String,
    percentiles: String,
    checks: String,
}

fn xc_margined(
    o: &RiskOptions,
    rows: &mut Vec<Row>,
    floors: &mut Vec<Floor>,
) -> anyhow::Result<()> {
    let t = Instant::now();
    let w = xc::generate(&xc::XcParams {
        ops: o.ops,
        seed: o.seed,
        ..xc::XcParams::default()
    });
    w.check_ids();
    println!("## risk 1/4: xc on a margined market");
    println!(
        "   workload: {} (generated in {:.2?})",
        w.description,
        t.elapsed()
    );
    println!("   op mix: {}", w.counts());
    println!(
        "   engine: the matching bench's ({:?}), unit market with RiskParams::simple(10_000 ppm, \
         50x) and mark = index = {} ticks; {} accounts funded with {} quantums each before the \
         stream (setup untimed)",
        crate::cascade::limits(),
        margined::INDEX,
        margined::ACCOUNTS,
        margined::COLLATERAL
    );
    let plain_inputs = Cascade::prepare(&w.ops);
    let plain = harness::throughput::<Cascade>(&plain_inputs, o.reps);
    drop(plain_inputs);
    let inputs = MarginedCascade::prepare(&w.ops);
    let risk = harness::throughput::<MarginedCascade>(&inputs, o.reps);
    let latency = harness::latency::<MarginedCascade>(&inputs);
    let effects = margined::effects(&inputs);
    let reference = harness::run_once::<RefBook>(&w.ops);
    let (m, p) = (risk.median(), plain.median());
    println!(
        "   unmargined (same stream, same process): ns/op median {p:.2} (min {:.2}, max {:.2}, \
         {} reps)",
        plain.min(),
        plain.max(),
        plain.ns_per_op.len()
    );
    println!(
        "   margined:  ns/op median {m:.2} (min {:.2}, max {:.2}, {} reps) = {:.1} Mops/s; risk \
         costs {:+.2} ns/op ({:+.0}%)",
        risk.min(),
        risk.max(),
        risk.ns_per_op.len(),
        1e3 / m,
        m - p,
        (m / p - 1.0) * 100.0
    );
    println!("   latency per op (margined): {}", latency.summary());
    write_hgrm(o, "xc-margined", &latency.histogram)?;
    println!("   {}", risk.tally);
    let fills_ok = risk.tally == reference && plain.tally == reference && risk.deterministic;
    println!(
        "   fills equal the reference book's and the unmargined run's: {}",
        if fills_ok { "OK" } else { "FAIL" }
    );
    println!(
        "   rejects {} (margin {}), liquidations {}, accounts with positions {} (largest {} lots, \
         lowest equity/maintenance {}%), audit {}",
        effects.rejects,
        effects.margin_rejects,
        effects.liquidations,
        effects.accounts_with_positions,
        effects.position_lots_max,
        effects.equity_to_maintenance_min_pct,
        if effects.audit.is_ok() { "OK" } else { "FAIL" }
    );
    let checks = effects.check();
    rows.push(Row {
        name: "xc, margined".into(),
        size: format!("{} ops", risk.ops),
        median: format!("{m:.1} ns/op"),
        spread: format!("{:.1}-{:.1}", risk.min(), risk.max()),
        percentiles: format!(
            "{} / {} / {} / {} ns",
            latency.at(0.5),
            latency.at(0.99),
            latency.at(0.999),
            latency.histogram.max()
        ),
        checks: if fills_ok && checks.is_ok() {
            format!("fills = reference ({}), 0 rejects", risk.tally.fills)
        } else {
            "FAIL".into()
        },
    });
    floors.push(Floor {
        name: "1. Engine::apply with risk on xc, median".into(),
        value: m,
        limit: XC_FLOOR_NS,
        unit: "ns/op",
        at_floor_size: true,
    });
    if !fills_ok {
        bail!(
            "margined xc fills differ: margined {}, unmargined {}, reference {reference}",
            risk.tally,
            plain.tally
        );
    }
    if let Err(e) = checks {
        bail!("margined xc: {e}");
    }
    Ok(())
}

fn population_and_memory(
    o: &RiskOptions,
    meter: Meter,
    rows: &mut Vec<Row>,
    floors: &mut Vec<Floor>,
) -> anyhow::Result<()> {
    let params = PopulationParams {
        accounts: o.accounts,
        levels: o.levels,
        orders_max: o.orders_max,
    };
    println!(
        "\n## risk 2/4: mark-price updates, {} accounts with positions",
        o.accounts
    );
    let (mut pop, mem) = memory::measure_population(&params, meter);
    let shape = pop.check_shape();
    println!(
        "   population: {} accounts in long/short pairs of 1-3 lots at 50,000 USD (BTC-PERP, \
         mark = index, no trading fees), 5-25 USD collateral a lot (triggers 25,000-45,000 / \
         55,000-75,000 USD); market maker quoting {} levels a side",
        o.accounts, params.levels
    );
    println!("   engine: {:?}", pop.limits);
    println!(
        "   built with {} commands in {:.2?} ({:.0} ns/command, untimed setup); {}",
        pop.commands,
        pop.build,
        nanos(pop.build) / pop.commands.max(1) as f64,
        match &shape {
            Ok(s) => format!(
                "{} positions, trigger heaps {} longs / {} shorts, {} resting quotes",
                s.positions, s.longs_indexed, s.shorts_indexed, s.resting
            ),
            Err(e) => format!("SHAPE FAIL: {e}"),
        }
    );
    let updates = population::mark_updates(&mut pop, o.updates, o.reps, meter);
    println!(
        "   updates: SetIndexPrice on a seeded walk of ±20 ticks (±2 USD) a step within ±500 \
         ticks (±0.1%) of {PRICE_50K} ticks; {} per pass, one warm-up pass, {} timed passes, one \
         latency pass",
        updates.per_pass,
        updates.ns_per_update.len()
    );
    let m = updates.median();
    println!(
        "   ns/update median {m:.2} (min {:.2}, max {:.2}) = {:.2} M updates/s",
        updates.ns_per_update.first().copied().unwrap_or(f64::NAN),
        updates.ns_per_update.last().copied().unwrap_or(f64::NAN),
        1e3 / m
    );
    println!("   latency per update: {}", updates.latency.summary());
    write_hgrm(o, "mark-update", &updates.latency.histogram)?;
    println!(
        "   checks: one MarkPrice event per update, {} other ({} liquidations, {} rejects); \
         bytes allocated by the timed passes: {}",
        updates.oddities.updates,
        updates.oddities.liquidations,
        updates.oddities.rejects,
        updates
            .allocated
            .map_or("not measured".to_string(), |b| b.to_string())
    );
    let t = Instant::now();
    let audit = if o.accounts <= FULL_AUDIT_ACCOUNTS_MAX {
        pop.driver.engine.audit()
    } else {
        // Engine::audit's trigger check scans a heap per position (quadratic; see the
        // README's hot spots), hours at a million positions: check the laws that are linear.
        super::conservation(&pop.driver.engine)
    };
    println!(
        "   {} after the updates: {} ({:.2?}, untimed)",
        if o.accounts <= FULL_AUDIT_ACCOUNTS_MAX {
            "Engine::audit"
        } else {
            "money conservation and open interest (Engine::audit is quadratic in positions)"
        },
        match &audit {
            Ok(()) => "OK".to_string(),
            Err(e) => format!("FAIL: {e}"),
        },
        t.elapsed()
    );
    let at_size = o.accounts >= FLOOR_ACCOUNTS;
    let l = &updates.latency;
    rows.push(Row {
        name: "mark update".into(),
        size: format!("{} accounts", o.accounts),
        median: format!("{m:.1} ns"),
        spread: format!(
            "{:.1}-{:.1}",
            updates.ns_per_update.first().copied().unwrap_or(f64::NAN),
            updates.ns_per_update.last().copied().unwrap_or(f64::NAN)
        ),
        percentiles: format!(
            "{} / {} / {} / {} ns",
            l.at(0.5),
            l.at(0.99),
            l.at(0.999),
            l.histogram.max()
        ),
        checks: if updates.check().is_ok() && audit.is_ok() && shape.is_ok() {
            format!(
                "0 liquidations, {} B allocated, {}",
                updates.allocated.map_or("?".to_string(), |b| b.to_string()),
                if o.accounts <= FULL_AUDIT_ACCOUNTS_MAX {
                    "audit OK"
                } else {
                    "money + OI OK"
                }
            )
        } else {
            "FAIL".into()
        },
    });
    floors.push(Floor {
        name: format!(
            "2. mark update with {} positioned accounts, median",
            o.accounts
        ),
        value: m,
        limit: MARK_UPDATE_FLOOR_NS,
        unit: "ns",
        at_floor_size: at_size,
    });
    drop(pop);

    println!("\n## risk 3/4: memory per account with one position (the population above)");
    println!(
        "   method: bytes in use (glibc mallinfo2) from before Engine::new to the end of the \
         build; fixed part: the same limits with 2 accounts"
    );
    print!("{}", mem.table());
    match (mem.per_account(), mem.marginal_per_account()) {
        (Some(total), marginal) => {
            println!(
                "   per account: {total:.1} B measured in total, {} B marginal (total - fixed)",
                marginal.map_or("?".into(), |x| format!("{x:.1}"))
            );
            rows.push(Row {
                name: "memory".into(),
                size: format!("{} accounts", o.accounts),
                median: format!("{total:.1} B/account"),
                spread: format!(
                    "marginal {}",
                    marginal.map_or("?".into(), |x| format!("{x:.1}"))
                ),
                percentiles: String::new(),
                checks: format!("remainder {} B", mem.remainder().unwrap_or(0)),
            });
            floors.push(Floor {
                name: "4. memory per account with one position (measured total)".into(),
                value: total,
                limit: MEMORY_FLOOR_BYTES,
                unit: "B",
                at_floor_size: at_size,
            });
        }
        (None, _) => println!("   not measured (no allocator statistics on this platform)"),
    }
    if let Err(e) = shape {
        bail!("population: {e}");
    }
    if let Err(e) = updates.check() {
        bail!("mark updates: {e}");
    }
    if let Err(e) = audit {
        bail!("audit after mark updates: {e}");
    }
    Ok(())
}

fn cascades(o: &RiskOptions, rows: &mut Vec<Row>, floors: &mut Vec<Floor>) -> anyhow::Result<()> {
    println!(
        "\n## risk 4/4: a cascade liquidating {} longs",
        o.liquidations
    );
    println!(
        "   setup: {} accounts buy 1 lot (0.001 BTC) at 50,000 USD at 50x with 1.000-1.499 USD \
         (triggers 48,525-49,024 USD); the index then moves to {} ticks (48,400 USD) in one \
         SetIndexPrice, liquidations_per_command_max = {}; timed: that one command on a copy \
         of the prepared engine (refreshed in place with clone_from, so its pages are warm), \
         median of {} repetitions after a warm-up one",
        o.liquidations,
        liquidation::CRASH_INDEX,
        o.liquidations,
        o.reps
    );
    let mut results: Vec<CascadeResult> = Vec::new();
    for closer in [Closer::Book, Closer::Backstop] {
        let r = liquidation::measure(
            &CascadeParams {
                longs: o.liquidations,
                closer,
                orders_max: o.orders_max,
            },
            o.reps,
        );
        let (median, min, max) = r.ms_spread();
        let t = &r.tally;
        println!("   ### closed by {}", closer.name());
        println!(
            "   setup: {} commands in {:.2?} (untimed); engine {:?}",
            r.commands, r.build, r.limits
        );
        println!(
            "   crash command: median {median:.2} ms (min {min:.2}, max {max:.2}, {} repetitions) = \
             {:.0} ns per liquidation; the first, on a fresh copy: {:.2} ms",
            r.ms.len(),
            median * 1e6 / f64::from(o.liquidations.max(1)),
            r.cold_ms
        );
        println!(
            "   events {}; LiquidationStarted {}, LiquidationEnded {} (CLOSED {}, HEALTHY {}, \
             other {}); trades {}, backstop takeovers {}, rejects {}; longs still open {}",
            t.events,
            t.started,
            t.ended,
            t.closed,
            t.healthy,
            t.other,
            t.trades,
            t.backstops,
            t.rejects,
            t.longs_open
        );
        println!(
            "   clones agree (events and state hash {:016x}): {}; audit afterwards: {}",
            t.state_hash,
            if r.deterministic { "OK" } else { "FAIL" },
            match &r.audit {
                Ok(()) => "OK".to_string(),
                Err(e) => format!("FAIL: {e}"),
            }
        );
        rows.push(Row {
            name: format!("cascade, {}", closer.name()),
            size: format!("{} liquidations", o.liquidations),
            median: format!("{median:.1} ms"),
            spread: format!("{min:.1}-{max:.1}"),
            percentiles: format!(
                "{:.0} ns/liquidation",
                median * 1e6 / f64::from(o.liquidations.max(1))
            ),
            checks: if r.check().is_ok() {
                format!("{} closed, {} events, audit OK", t.closed, t.events)
            } else {
                "FAIL".into()
            },
        });
        floors.push(Floor {
            name: format!(
                "3. cascade of {} liquidations, {}",
                o.liquidations,
                closer.name()
            ),
            value: median,
            limit: CASCADE_FLOOR_MS,
            unit: "ms",
            at_floor_size: o.liquidations >= FLOOR_LIQUIDATIONS,
        });
        results.push(r);
    }
    for r in &results {
        if let Err(e) = r.check() {
            bail!("cascade ({}): {e}", r.params.closer.name());
        }
    }
    Ok(())
}

fn table(rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| benchmark | size | median | min-max | p50 / p99 / p99.9 / max | checks |"
    );
    let _ = writeln!(s, "|---|---|---:|---|---|---|");
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            r.name, r.size, r.median, r.spread, r.percentiles, r.checks
        );
    }
    s
}

/// Runs the four risk benchmarks, prints them and their floors, and returns the floors.
///
/// # Errors
/// When a check fails (fills differ, a reject, an unexpected liquidation or allocation, an
/// audit failure): the measurement would not be of the intended work.
pub fn run(o: &RiskOptions, meter: Meter) -> anyhow::Result<Vec<Floor>> {
    let mut rows = Vec::new();
    let mut floors = Vec::new();
    let started = Instant::now();
    let a = xc_margined(o, &mut rows, &mut floors);
    let b = a.and_then(|()| population_and_memory(o, meter, &mut rows, &mut floors));
    let c = b.and_then(|()| cascades(o, &mut rows, &mut floors));
    println!("\n## risk summary ({:.1?} in all)\n", started.elapsed());
    print!("{}", table(&rows));
    println!("\n## risk floors (issue 3)");
    floors.sort_by(|x, y| x.name.cmp(&y.name));
    for f in &floors {
        println!("   {}", f.line());
    }
    c?;
    Ok(floors)
}
