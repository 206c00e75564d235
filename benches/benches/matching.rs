//! Criterion benches of Cascade on the standard workloads: one iteration is the whole stream on
//! a fresh engine (built outside the timing), so a sample's time / ops is ns/op.
//!
//! Sizes are smaller than `cascade bench`'s defaults so `cargo bench` stays within minutes;
//! set `CASCADE_BENCH_OPS` to change them.

use cascade_benches::cascade::Cascade;
use cascade_benches::fills::FillTally;
use cascade_benches::harness::{run_once, Book};
use cascade_benches::reference::RefBook;
use cascade_benches::workload::{mix, quantcup, xc, Workload};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;

fn ops() -> usize {
    std::env::var("CASCADE_BENCH_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000)
}

fn workloads() -> Vec<Workload> {
    let mut w = vec![
        mix::generate(&mix::MixParams {
            ops: ops(),
            ..mix::MixParams::default()
        }),
        xc::generate(&xc::XcParams {
            ops: ops(),
            ..xc::XcParams::default()
        }),
    ];
    match quantcup::locate().map(|p| quantcup::load(&p)) {
        Some(Ok(feed)) => w.push(feed.workload),
        _ => eprintln!("QuantCup feed not found: skipped"),
    }
    w
}

fn matching(c: &mut Criterion) {
    let mut group = c.benchmark_group("matching");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for w in workloads() {
        let inputs = Cascade::prepare(&w.ops);
        let tally = run_once::<Cascade>(&inputs);
        let reference = run_once::<RefBook>(&w.ops);
        assert_eq!(
            tally, reference,
            "{}: Cascade differs from the reference",
            w.name
        );
        eprintln!("{}: {} ops, {tally}", w.name, w.ops.len());
        group.throughput(Throughput::Elements(w.ops.len() as u64));
        group.bench_function(w.name, |b| {
            b.iter_batched(
                Cascade::new,
                |mut engine| {
                    let mut t = FillTally::default();
                    for x in &inputs {
                        engine.apply(x, &mut t);
                    }
                    black_box(t);
                    engine
                },
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

// criterion_group! generates an undocumented function.
#[allow(missing_docs)]
mod group {
    use super::*;
    criterion_group!(benches, matching);
}
criterion_main!(group::benches);
