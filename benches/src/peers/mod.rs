//! The peer comparison: Cascade beside order books from the Rust registry and the plain
//! reference book, all on the same operation stream, every engine's fills checked against the
//! reference.
//!
//! # Which stream
//! The peers' common subset: GTC and IOC limit orders, market orders and cancels. Streams with
//! amends are run as [`Workload::without_amends`] (amend = cancel + add), by every engine,
//! Cascade included, so the fills compare. A peer without IOC runs an IOC limit as a limit and
//! a cancel of what rested.
//!
//! # Checking
//! Fill count, traded quantity and the checksum of `(maker id, taker id, price, qty)` in order
//! must equal the reference book's; an engine that differs is marked FAIL and left out of the
//! ranking (its time is still printed).
//!
//! # Peers tried
//! `lobster` 0.7.0, `obcore` 0.1.6, `rust_ob` 2.5.3 and `orderbook-rs` 0.15.3 all build on
//! Rust 1.95; see the README for which ones fill correctly on which workload.

pub mod lobster;
pub mod obcore;
pub mod orderbook_rs;
pub mod quantcup_c;
pub mod rust_ob;

use crate::cascade::Cascade;
use crate::fills::FillTally;
use crate::harness::{self, Book, Throughput};
use crate::reference::RefBook;
use crate::workload::quantcup::RawMsg;
use crate::workload::{Op, Workload};
use std::fmt::Write as _;

impl Book for RefBook {
    type Input = Op;
    const NAME: &'static str = "btreemap+vecdeque";

    fn prepare(ops: &[Op]) -> Vec<Op> {
        ops.to_vec()
    }

    fn new() -> Self {
        RefBook::new()
    }

    #[inline]
    fn apply(&mut self, op: &Op, tally: &mut FillTally) {
        RefBook::apply(self, op, tally);
    }
}

/// How an engine's fills compared with the reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// Count, quantity and checksum equal.
    Ok,
    /// Count and quantity equal; the engine does not report what the checksum needs.
    CountOnly,
    /// Something differs.
    Fail(String),
}

/// One row of the comparison.
#[derive(Clone, Debug)]
pub struct Row {
    /// Engine name.
    pub name: String,
    /// Median ns/op.
    pub ns_per_op: f64,
    /// Its fills.
    pub tally: FillTally,
    /// Against the reference.
    pub check: Check,
}

/// The comparison on one stream.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// Workload name.
    pub workload: &'static str,
    /// Operations in the stream.
    pub ops: usize,
    /// The reference fills.
    pub reference: FillTally,
    /// One row per engine, Cascade first.
    pub rows: Vec<Row>,
}

fn check(tally: &FillTally, reference: &FillTally) -> Check {
    if tally == reference {
        Check::Ok
    } else {
        Check::Fail(format!("got {tally}, reference {reference}"))
    }
}

fn measure<B: Book>(ops: &[Op], reps: usize, reference: &FillTally) -> Row {
    let inputs = B::prepare(ops);
    let t: Throughput = harness::throughput::<B>(&inputs, reps);
    let mut c = check(&t.tally, reference);
    if !t.deterministic {
        c = Check::Fail("repetitions disagree".to_string());
    }
    Row {
        name: B::NAME.to_string(),
        ns_per_op: t.median(),
        tally: t.tally,
        check: c,
    }
}

/// Runs every engine on `stream` (which must hold no amends) and checks their fills.
///
/// # Panics
/// If the stream holds an amend.
#[must_use]
pub fn compare(stream: &Workload, reps: usize, raw: Option<&[RawMsg]>) -> Comparison {
    assert!(
        stream.counts().amend == 0,
        "peer streams carry no amends: use Workload::without_amends"
    );
    let ops = &stream.ops;
    let reference = harness::run_once::<RefBook>(ops);
    let mut rows = vec![
        measure::<Cascade>(ops, reps, &reference),
        measure::<RefBook>(ops, reps, &reference),
        measure::<lobster::Lobster>(ops, reps, &reference),
        measure::<obcore::Obcore>(ops, reps, &reference),
        measure::<rust_ob::RustOb>(ops, reps, &reference),
        measure::<orderbook_rs::OrderbookRs>(ops, reps, &reference),
    ];
    if let Some(runs) = raw.and_then(|raw| quantcup_c::run(raw, reps.max(5))) {
        let mut ns: Vec<f64> = runs
            .iter()
            .map(|r| {
                #[allow(clippy::cast_precision_loss)]
                let v = r.elapsed_ns as f64 / ops.len().max(1) as f64;
                v
            })
            .collect();
        ns.sort_by(f64::total_cmp);
        let first = runs[0];
        let agree = runs
            .iter()
            .all(|r| (r.fills, r.qty) == (first.fills, first.qty));
        let c = if !agree {
            Check::Fail("repetitions disagree".to_string())
        } else if (first.fills, first.qty) == (reference.fills, reference.qty) {
            Check::CountOnly
        } else {
            Check::Fail(format!(
                "got fills {} qty {}, reference fills {} qty {}",
                first.fills, first.qty, reference.fills, reference.qty
            ))
        };
        rows.push(Row {
            name: "quantcup winner (C, voyager)".to_string(),
            ns_per_op: harness::median(&ns),
            tally: FillTally {
                fills: first.fills,
                qty: first.qty,
                checksum: 0,
            },
            check: c,
        });
    }
    Comparison {
        workload: stream.name,
        ops: ops.len(),
        reference,
        rows,
    }
}

impl Comparison {
    /// The fastest correct engine other than Cascade and its ratio to Cascade
    /// (`peer ns / cascade ns`; above 1 means Cascade is faster).
    #[must_use]
    pub fn fastest_correct_peer(&self) -> Option<(&Row, f64)> {
        let cascade = self.rows.first()?.ns_per_op;
        self.rows
            .iter()
            .skip(1)
            .filter(|r| r.check == Check::Ok)
            .min_by(|a, b| a.ns_per_op.total_cmp(&b.ns_per_op))
            .map(|r| (r, r.ns_per_op / cascade))
    }

    /// The table, as Markdown.
    #[must_use]
    pub fn table(&self) -> String {
        let cascade = self.rows.first().map_or(f64::NAN, |r| r.ns_per_op);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "| engine ({}, {} ops) | ns/op (median) | x Cascade | fills | qty | check |",
            self.workload, self.ops
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---|");
        for r in &self.rows {
            let check = match &r.check {
                Check::Ok => "OK".to_string(),
                Check::CountOnly => "OK (count+qty; no ids)".to_string(),
                Check::Fail(why) => format!("**FAIL**: {why}"),
            };
            let _ = writeln!(
                s,
                "| {} | {:.1} | {:.2} | {} | {} | {check} |",
                r.name,
                r.ns_per_op,
                r.ns_per_op / cascade,
                r.tally.fills,
                r.tally.qty
            );
        }
        s
    }
}
