//! Criterion peer comparison: every engine on the same stream (the peers' common subset, amend
//! as cancel + add), each checked against the reference book before it is timed; an engine
//! whose fills differ is reported and not timed.

use cascade_benches::cascade::Cascade;
use cascade_benches::fills::FillTally;
use cascade_benches::harness::{run_once, Book};
use cascade_benches::peers::{lobster::Lobster, obcore::Obcore, orderbook_rs::OrderbookRs};
use cascade_benches::peers::{quantcup_c, rust_ob::RustOb};
use cascade_benches::reference::RefBook;
use cascade_benches::workload::{mix, quantcup, xc, Workload};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkGroup, Criterion};
use criterion::{measurement::WallTime, Throughput};
use std::hint::black_box;
use std::time::Duration;

fn ops() -> usize {
    std::env::var("CASCADE_BENCH_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000)
}

fn bench<B: Book>(group: &mut BenchmarkGroup<'_, WallTime>, ops: &[cascade_benches::workload::Op]) {
    let inputs = B::prepare(ops);
    let reference = run_once::<RefBook>(ops);
    let tally = run_once::<B>(&inputs);
    if tally != reference {
        eprintln!(
            "FAIL {}: fills differ from the reference ({tally} vs {reference}); not timed",
            B::NAME
        );
        return;
    }
    group.bench_function(B::NAME, |b| {
        b.iter_batched(
            B::new,
            |mut book| {
                let mut t = FillTally::default();
                for x in &inputs {
                    book.apply(x, &mut t);
                }
                black_box(t);
                book
            },
            BatchSize::PerIteration,
        );
    });
}

fn peers(c: &mut Criterion) {
    let mut streams: Vec<(Workload, Option<Vec<quantcup::RawMsg>>)> = vec![
        (
            mix::generate(&mix::MixParams {
                ops: ops(),
                ..mix::MixParams::default()
            })
            .without_amends(),
            None,
        ),
        (
            xc::generate(&xc::XcParams {
                ops: ops(),
                ..xc::XcParams::default()
            })
            .without_amends(),
            None,
        ),
    ];
    if let Some(Ok(feed)) = quantcup::locate().map(|p| quantcup::load(&p)) {
        streams.push((feed.workload, Some(feed.raw)));
    }
    for (w, raw) in streams {
        let mut group = c.benchmark_group(format!("peers/{}", w.name));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3))
            .throughput(Throughput::Elements(w.ops.len() as u64));
        bench::<Cascade>(&mut group, &w.ops);
        bench::<RefBook>(&mut group, &w.ops);
        bench::<Lobster>(&mut group, &w.ops);
        bench::<Obcore>(&mut group, &w.ops);
        bench::<RustOb>(&mut group, &w.ops);
        bench::<OrderbookRs>(&mut group, &w.ops);
        if let Some(raw) = raw {
            if quantcup_c::AVAILABLE {
                group.bench_function("quantcup-winner-c", |b| {
                    b.iter_custom(|iters| {
                        let runs = quantcup_c::run(&raw, usize::try_from(iters).unwrap_or(1))
                            .unwrap_or_default();
                        let ns: u128 = runs.iter().map(|r| r.elapsed_ns).sum();
                        Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
                    });
                });
            }
        }
        group.finish();
    }
}

// criterion_group! generates an undocumented function.
#[allow(missing_docs)]
mod group {
    use super::*;
    criterion_group!(benches, peers);
}
criterion_main!(group::benches);
