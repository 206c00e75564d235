//! Small-input mode of the risk benchmarks: each scenario of `cascade bench --workload risk` at
//! a few thousand operations or accounts, with the same checks, asserted. No timing.

use cascade_benches::cascade::Cascade;
use cascade_benches::harness::{run_once, Book};
use cascade_benches::reference::RefBook;
use cascade_benches::risk::cascade::{self as liquidation, CascadeParams, Closer};
use cascade_benches::risk::population::{self, Oddities, PopulationParams};
use cascade_benches::risk::report::{self, RiskOptions};
use cascade_benches::risk::xc::{self as margined, MarginedCascade};
use cascade_benches::risk::{self, index_command, memory, PRICE_50K};
use cascade_benches::workload::xc;
use cascade_engine::{AccountId, Event};

fn small_xc() -> cascade_benches::workload::Workload {
    xc::generate(&xc::XcParams {
        ops: 5_000,
        ..xc::XcParams::default()
    })
}

#[test]
fn margined_xc_fills_equal_the_reference_and_nothing_is_refused() {
    let w = small_xc();
    let inputs = MarginedCascade::prepare(&w.ops);
    let margined_fills = run_once::<MarginedCascade>(&inputs);
    let plain = run_once::<Cascade>(&Cascade::prepare(&w.ops));
    let reference = run_once::<RefBook>(&w.ops);
    assert!(reference.fills > 0, "the stream trades");
    assert_eq!(plain, reference, "unmargined");
    assert_eq!(margined_fills, reference, "margined");
    let effects = margined::effects(&inputs);
    assert_eq!(effects.check(), Ok(()), "{effects:?}");
    assert_eq!((effects.rejects, effects.margin_rejects), (0, 0));
    assert!(effects.accounts_with_positions > 100, "{effects:?}");
    // Margining is on: positions carry maintenance margin, and stay far above it.
    assert!(effects.equity_to_maintenance_min_pct > 100, "{effects:?}");
}

#[test]
fn margined_xc_engine_has_money_and_a_mark() {
    let mut c = MarginedCascade::new();
    for cmd in MarginedCascade::prepare(&small_xc().ops) {
        c.engine_mut().apply(&cmd);
    }
    let e = c.engine();
    let risk = e
        .market(cascade_benches::cascade::MARKET)
        .and_then(|m| m.risk.as_ref())
        .expect("the market is margined");
    assert_eq!(risk.mark.map(|p| p.0), Some(margined::INDEX));
    let deposits = i64::from(margined::ACCOUNTS) * margined::COLLATERAL;
    assert_eq!(e.treasury().deposits, deposits);
    let traded = (0..margined::ACCOUNTS)
        .find(|a| e.position(AccountId(*a), cascade_benches::cascade::MARKET) != 0)
        .expect("someone holds a position");
    assert!(e.health(AccountId(traded)).maintenance > 0);
    assert_eq!(risk::conservation(e), Ok(()));
}

fn small_population() -> population::Population {
    population::build(&PopulationParams {
        accounts: 2_000,
        levels: 30,
        orders_max: 0,
    })
}

#[test]
fn mark_updates_over_a_small_population_liquidate_nobody() {
    let mut pop = small_population();
    let shape = pop.check_shape().expect("population shape");
    assert_eq!(shape.positions, 2_000);
    assert_eq!((shape.longs_indexed, shape.shorts_indexed), (1_000, 1_000));
    assert_eq!(shape.resting, 60);
    let u = population::mark_updates(&mut pop, 500, 2, memory::no_meter);
    assert_eq!(u.check(), Ok(()));
    assert_eq!(u.oddities, Oddities::default());
    assert_eq!(u.ns_per_update.len(), 2);
    assert_eq!(u.latency.histogram.len(), 500);
    assert_eq!(pop.driver.engine.audit(), Ok(()));
    assert_eq!(risk::conservation(&pop.driver.engine), Ok(()));
}

#[test]
fn the_population_is_liquidatable_by_a_large_move() {
    // The mark-update benchmark's positions have real triggers: a 12% drop reaches the
    // least-funded longs (so "no liquidation" above is a property of the small moves).
    let mut pop = small_population();
    let events = pop
        .driver
        .apply(index_command(PRICE_50K * 88 / 100))
        .to_vec();
    let started = events
        .iter()
        .filter(|e| matches!(e, Event::LiquidationStarted { .. }))
        .count();
    let ended = events
        .iter()
        .filter(|e| matches!(e, Event::LiquidationEnded { .. }))
        .count();
    assert!(started > 0, "no liquidation at -12%");
    assert_eq!(started, ended);
    assert_eq!(pop.driver.engine.audit(), Ok(()));
}

#[test]
fn cascades_liquidate_every_long_through_the_book_and_the_backstop() {
    for closer in [Closer::Book, Closer::Backstop] {
        let r = liquidation::measure(
            &CascadeParams {
                longs: 1_000,
                closer,
                orders_max: 0,
            },
            2,
        );
        assert_eq!(r.check(), Ok(()), "{closer:?}: {:?}", r.tally);
        let t = &r.tally;
        assert_eq!((t.started, t.ended, t.closed), (1_000, 1_000, 1_000));
        assert_eq!((t.other, t.rejects, t.longs_open), (0, 0, 0));
        match closer {
            Closer::Book => assert!(t.trades >= 1_000 && t.backstops == 0, "{t:?}"),
            Closer::Backstop => assert!(t.backstops == 1_000 && t.trades == 0, "{t:?}"),
        }
        assert!(r.deterministic);
        assert_eq!(r.ms.len(), 2);
    }
}

#[test]
fn the_risk_report_runs_end_to_end_and_reports_every_floor() {
    let floors = report::run(
        &RiskOptions {
            ops: 3_000,
            reps: 1,
            seed: 42,
            accounts: 2_000,
            liquidations: 500,
            updates: 300,
            levels: 30,
            orders_max: 0,
            hgrm: None,
        },
        memory::no_meter,
    )
    .expect("every check passes");
    // Without a meter the memory floor is not measured: xc, mark update, two cascades.
    assert_eq!(floors.len(), 4, "{floors:?}");
    assert!(floors.iter().all(|f| f.value.is_finite() && f.value > 0.0));
    // Smaller than the floors' sizes, except xc, which has no size in its floor.
    assert_eq!(floors.iter().filter(|f| f.at_floor_size).count(), 1);
}
