//! Criterion benches of the risk engine (issue 3), the same scenarios as
//! `cascade bench --workload risk` (see `src/risk/`), each checked once before it is timed:
//!
//! - `risk/xc_margined`: the `xc` stream on a margined market; one iteration is the whole stream
//!   on a fresh engine (built outside the timing), so time / ops is ns/op.
//! - `risk/mark_update`: one `SetIndexPrice` that liquidates nobody, over a population of
//!   positioned accounts built once; the events of every update are checked in the loop.
//! - `risk/cascade_book`, `risk/cascade_backstop`: the one command that liquidates every long,
//!   on a clone of the prepared engine (cloned outside the timing).
//!
//! Sizes: `CASCADE_BENCH_OPS` (default 200,000), `CASCADE_BENCH_ACCOUNTS` (1,000,000),
//! `CASCADE_BENCH_LIQUIDATIONS` (100,000).

use cascade_benches::fills::FillTally;
use cascade_benches::harness::{run_once, Book};
use cascade_benches::reference::RefBook;
use cascade_benches::risk::cascade::{self as liquidation, CascadeParams, Closer};
use cascade_benches::risk::population::{self, Oddities, PopulationParams};
use cascade_benches::risk::xc::{self as margined, MarginedCascade};
use cascade_benches::workload::xc;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn xc_margined(c: &mut Criterion) {
    let w = xc::generate(&xc::XcParams {
        ops: env_or("CASCADE_BENCH_OPS", 200_000),
        ..xc::XcParams::default()
    });
    let inputs = MarginedCascade::prepare(&w.ops);
    let tally = run_once::<MarginedCascade>(&inputs);
    assert_eq!(
        tally,
        run_once::<RefBook>(&w.ops),
        "margined xc vs reference"
    );
    let effects = margined::effects(&inputs);
    assert_eq!(effects.check(), Ok(()), "{effects:?}");
    eprintln!("xc_margined: {} ops, {tally}, 0 rejects", w.ops.len());
    let mut group = c.benchmark_group("risk");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements(w.ops.len() as u64));
    group.bench_function("xc_margined", |b| {
        b.iter_batched(
            MarginedCascade::new,
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
    group.finish();
}

fn mark_update(c: &mut Criterion) {
    let accounts = env_or("CASCADE_BENCH_ACCOUNTS", 1_000_000);
    let mut pop = population::build(&PopulationParams {
        accounts,
        ..PopulationParams::default()
    });
    let shape = pop.check_shape().expect("population shape");
    eprintln!("mark_update: {shape:?}, built in {:.2?}", pop.build);
    let mut odd = Oddities::default();
    let mut group = c.benchmark_group("risk");
    group.throughput(Throughput::Elements(1));
    group.bench_function(format!("mark_update_{accounts}_accounts"), |b| {
        b.iter_custom(|iters| {
            let updates = pop.next_updates(usize::try_from(iters).expect("fits usize"));
            let engine = &mut pop.driver.engine;
            let start = Instant::now();
            for u in &updates {
                odd.see(engine.apply(u));
            }
            start.elapsed()
        });
    });
    group.finish();
    assert_eq!(odd, Oddities::default(), "an update did more than mark");
}

fn cascade(c: &mut Criterion) {
    let longs = env_or("CASCADE_BENCH_LIQUIDATIONS", 100_000);
    let mut group = c.benchmark_group("risk");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    for closer in [Closer::Book, Closer::Backstop] {
        let p = CascadeParams {
            longs,
            closer,
            orders_max: 0,
        };
        let checked = liquidation::measure(&p, 1);
        assert_eq!(checked.check(), Ok(()), "{:?}", checked.tally);
        let prepared = liquidation::prepare(&p);
        let name = match closer {
            Closer::Book => "cascade_book",
            Closer::Backstop => "cascade_backstop",
        };
        group.throughput(Throughput::Elements(u64::from(longs)));
        group.bench_function(format!("{name}_{longs}"), |b| {
            b.iter_batched(
                || prepared.driver.engine.clone(),
                |mut engine| {
                    black_box(engine.apply(&prepared.crash).len());
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
    criterion_group!(benches, xc_margined, mark_update, cascade);
}
criterion_main!(group::benches);
