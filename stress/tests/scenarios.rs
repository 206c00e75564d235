//! The shipped scenarios and the simulator's guarantees, on small populations.

use cascade_stress::data::{read_depth, Inputs};
use cascade_stress::population;
use cascade_stress::run::{self, RunOptions};
use cascade_stress::scenario::{self, Scenario};
use cascade_stress::{report, svg, sweep};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn shipped(name: &str) -> PathBuf {
    repo().join("scenarios/stress").join(name)
}

fn shared_data() -> PathBuf {
    repo().join("../shared/data")
}

fn opts(baseline: bool) -> RunOptions {
    RunOptions {
        data_dir: shared_data(),
        progress: false,
        baseline,
    }
}

fn set(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

/// The shipped thin-book scenario, shrunk to a few hundred accounts and five minutes.
fn thin_book(extra: &[(&str, &str)]) -> Scenario {
    let mut o = set(&[
        ("accounts", "400"),
        ("duration_s", "300"),
        ("path.shock_at_s", "90"),
        ("path.shock_over_s", "20"),
    ]);
    o.extend(set(extra));
    scenario::load(&shipped("thin-book-1001x-shock.toml"), &o).expect("shipped scenario loads")
}

#[test]
fn three_percent_shock_liquidates_every_1001x_long_and_no_5x_account() {
    let s = thin_book(&[]);
    let out = run::run(&s, &opts(true)).expect("runs");
    let members = population::draw(&s.population, s.seed);
    assert_eq!(out.liquidated.len(), members.len());
    assert_eq!(out.summary.entered, 400, "{}", report::table(&out.summary));
    let mut longs_1001 = 0;
    for (m, liquidated) in members.iter().zip(&out.liquidated) {
        if m.long && m.leverage == 1001 {
            longs_1001 += 1;
            assert!(*liquidated, "a 1001x long survived a 3% drop: {m:?}");
        }
        if m.leverage == 5 || !m.long {
            assert!(
                !*liquidated,
                "liquidated though a 3% drop cannot reach it: {m:?}"
            );
        }
    }
    assert!(
        longs_1001 > 100,
        "the population has 1001x longs ({longs_1001})"
    );
    let sum = &out.summary;
    assert!(sum.liquidations >= longs_1001);
    assert!(sum.liquidated_usd > 0.0);
    let stages = sum.book.notional_usd
        + sum.backstop.notional_usd
        + sum.insurance.notional_usd
        + sum.adl.notional_usd;
    assert!((stages - sum.liquidated_usd).abs() < 1e-3);
    assert!(sum.liquidated_lots > 0);
    assert_eq!(
        sum.unattributed_lots, 0,
        "every closed lot was filled in some stage"
    );
    assert_eq!(
        sum.audit, "ok",
        "engine invariants (money conservation, OI) after the run"
    );
    assert!(sum.insurance_fund_min_usd <= sum.insurance_fund_start_usd);
    // The index falls 3% with or without the population. Here the backstop vault takes every
    // position over, so nothing is sold through the book and the drawdown barely changes.
    let base = sum.baseline_max_drawdown_pct.expect("baseline ran");
    assert!(base > 2.9 && sum.max_drawdown_pct > 2.9, "{sum:?}");
    assert!(sum.backstop.count > 0);
    let amplification = sum.amplification.expect("defined");
    assert!((0.95..1.05).contains(&amplification), "{amplification}");
}

#[test]
fn without_a_backstop_the_fund_and_adl_take_the_losses_and_money_is_conserved() {
    for adl in ["queue", "pro-rata"] {
        let s = thin_book(&[
            ("backstop_usd", "0"),
            ("adl", adl),
            ("insurance_fund_usd", "500"),
        ]);
        let out = run::run(&s, &opts(false)).expect("runs");
        let sum = &out.summary;
        assert_eq!(sum.audit, "ok", "{adl}");
        assert!(sum.book.count > 0);
        assert_eq!(sum.backstop.count, 0);
        assert_eq!(
            sum.unattributed_lots, 0,
            "{adl}: every closed lot was filled in some stage"
        );
        assert!(sum.adl_fills > 0, "{adl}: {}", report::table(sum));
        assert!(sum.insurance_fund_min_usd < 500.0, "{adl}: the fund paid");
        assert!(sum.adl_haircut_usd >= sum.adl_haircut_min_usd);
        let bars: u64 = out.series.iter().map(|r| r.adl_fills).sum();
        assert_eq!(bars, sum.adl_fills, "time series adds up to the summary");
    }
}

#[test]
fn liquidations_through_a_very_thin_book_amplify_the_drawdown() {
    // At 5% of the scenario's depth, what the book stage sells pushes trades below the lowest
    // index; with the full depth the same liquidations are absorbed (amplification about 1).
    let run_at = |depth: &str| {
        let s = thin_book(&[
            ("backstop_usd", "0"),
            ("insurance_fund_usd", "500"),
            ("depth", depth),
        ]);
        run::run(&s, &opts(true)).expect("runs").summary
    };
    let thin = run_at("0.05");
    let deep = run_at("1.0");
    assert_eq!(thin.audit, "ok");
    assert!(thin.amplification.expect("defined") > 1.1, "{thin:?}");
    assert!(deep.amplification.expect("defined") < 1.05, "{deep:?}");
    assert!(thin.max_drawdown_pct > deep.max_drawdown_pct);
}

#[test]
fn same_scenario_and_seed_give_byte_identical_reports() {
    let s = thin_book(&[("accounts", "150")]);
    let a = run::run(&s, &opts(true)).expect("runs");
    let b = run::run(&s, &opts(true)).expect("runs");
    assert_eq!(report::json(&a.summary), report::json(&b.summary));
    assert_eq!(report::table(&a.summary), report::table(&b.summary));
    assert_eq!(report::csv(&a.series), report::csv(&b.series));
    assert_eq!(
        svg::timeseries(&a.summary, &a.series),
        svg::timeseries(&b.summary, &b.series)
    );
    let other = thin_book(&[("accounts", "150"), ("seed", "8")]);
    let c = run::run(&other, &opts(false)).expect("runs");
    assert_ne!(
        a.summary.state_hash, c.summary.state_hash,
        "the seed matters"
    );
}

#[test]
fn sweep_runs_every_combination_and_the_leverage_cap_bites() {
    let axes = [
        sweep::parse_axis("max_leverage=1001,20").expect("axis"),
        sweep::parse_axis("depth=1.0,0.67").expect("axis"),
        sweep::parse_axis("adl=queue,pro-rata").expect("axis"),
    ];
    let base = set(&[
        ("accounts", "120"),
        ("duration_s", "200"),
        ("path.shock_at_s", "70"),
    ]);
    let mut seen = 0;
    let cases = sweep::run(
        &shipped("thin-book-1001x-shock.toml"),
        &base,
        &axes,
        &opts(false),
        |_, _| seen += 1,
    )
    .expect("sweep runs");
    assert_eq!((cases.len(), seen), (8, 8));
    for (i, c) in cases.iter().enumerate() {
        let lev = if i < 4 { 1001 } else { 20 };
        let depth = if i % 4 < 2 { 1.0 } else { 0.67 };
        let adl = if i % 2 == 0 { "queue" } else { "pro-rata" };
        assert_eq!(c.summary.max_leverage, lev);
        assert!((c.summary.depth - depth).abs() < 1e-12);
        assert_eq!(c.summary.adl_policy, adl);
        assert_eq!(c.summary.audit, "ok");
    }
    // Capped at 20x, a 3% drop liquidates nobody (20x needs about 4.6%).
    assert!(cases[0].summary.liquidations > 0);
    assert_eq!(cases[4].summary.liquidations, 0);
    let table = sweep::table(&cases);
    assert_eq!(table.lines().count(), 9, "{table}");
    let chart = sweep::chart(&cases);
    assert!(chart.starts_with("<svg") && chart.ends_with("</svg>\n"));
}

#[test]
fn missing_shared_data_is_a_clear_error() {
    let o = RunOptions {
        data_dir: repo().join("no-such-data-folder"),
        progress: false,
        baseline: false,
    };
    for f in [
        "binance-btcusdt-2023-04-05.toml",
        "xrpusdt-2021-12-04-crash.toml",
    ] {
        let s = scenario::load(&shipped(f), &[]).expect("parses");
        let e = run::run(&s, &o).expect_err("no data");
        assert!(
            e.0.contains("shared recorded data") && e.0.contains("--data"),
            "{e}"
        );
    }
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let e = scenario::load(Path::new("no/such/scenario.toml"), &[]).expect_err("missing file");
    assert!(e.0.contains("cannot read scenario"), "{e}");
    let dir = std::env::temp_dir().join(format!("cascade-stress-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(
        dir.join("book.csv"),
        "side,price,qty\nbid,100.0,1\nask,abc,1\n",
    )
    .expect("write");
    let text = std::fs::read_to_string(shipped("thin-book-1001x-shock.toml"))
        .expect("read")
        .replace("embedded:btcusdt-20230404", "book.csv");
    let s = scenario::parse(&text, &dir, &set(&[("accounts", "5")])).expect("parses");
    let e = run::run(&s, &opts(false)).expect_err("bad book");
    assert!(e.0.contains("book.csv:3"), "{e}");
    std::fs::write(dir.join("book.csv"), "side,price,qty\nbid,100.0,1\n").expect("write");
    let e = run::run(&s, &opts(false)).expect_err("one-sided book");
    assert!(e.0.contains("bids and asks"), "{e}");
    let e = scenario::parse(&text, &dir, &set(&[("market.tick", "0.0000001")]))
        .and_then(|s| run::run(&s, &opts(false)))
        .expect_err("tick × lot below a quantum");
    assert!(e.0.contains("quantum"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The shared data folder is not part of the repository: these check the scenarios that need
/// it when it is there, and that they say what they miss when it is not.
fn with_shared_data(f: impl FnOnce(&Path)) {
    let d = shared_data();
    if d.join("binance-usdm-futures-hftbacktest").is_dir() {
        f(&d);
    } else {
        let s = scenario::load(&shipped("binance-btcusdt-2023-04-05.toml"), &[]).expect("parses");
        let e = run::run(&s, &opts(false)).expect_err("no shared data here");
        assert!(e.0.contains("--data"), "{e}");
    }
}

#[test]
fn shipped_snapshot_equals_the_recorded_capture() {
    with_shared_data(|d| {
        let inputs = Inputs {
            data_dir: d.to_path_buf(),
            base_dir: repo(),
        };
        let shipped = read_depth(&inputs, "embedded:btcusdt-20230404").expect("embedded");
        let recorded = read_depth(
            &inputs,
            "shared:binance-usdm-futures-hftbacktest/usdm/btcusdt_20230404.dat.gz",
        )
        .expect("capture");
        assert_eq!(shipped, recorded);
    });
}

#[test]
fn binance_capture_scenario_runs_with_recorded_flow() {
    with_shared_data(|_| {
        let s = scenario::load(
            &shipped("binance-btcusdt-2023-04-05.toml"),
            &set(&[("accounts", "300")]),
        )
        .expect("parses");
        let out = run::run(&s, &opts(false)).expect("runs");
        let sum = &out.summary;
        // 00:00:00.010 to 00:06:54.000: 414 one-second steps of the markPrice stream.
        assert_eq!(sum.steps, 414);
        assert!((28_100.0..28_200.0).contains(&out.series[0].index_usd));
        assert!(
            sum.flow_orders > 300,
            "recorded trades became taker flow: {sum:?}"
        );
        assert_eq!(sum.audit, "ok");
    });
}

#[test]
fn xrp_crash_scenario_walks_the_candle_and_liquidates() {
    with_shared_data(|_| {
        let s = scenario::load(
            &shipped("xrpusdt-2021-12-04-crash.toml"),
            &set(&[("accounts", "200"), ("population.entry_window_s", "60")]),
        )
        .expect("parses");
        let out = run::run(&s, &opts(false)).expect("runs");
        let low = out
            .series
            .iter()
            .map(|r| r.index_usd)
            .fold(f64::MAX, f64::min);
        assert_eq!(out.summary.steps, 28_800);
        assert!((low - 0.5764).abs() < 1e-9, "{low}");
        assert!(out.summary.accounts_liquidated > 50, "{:?}", out.summary);
        assert_eq!(out.summary.unattributed_lots, 0);
        assert_eq!(out.summary.audit, "ok");
    });
}

#[test]
fn scale_scenario_runs_shrunk() {
    // The scale benchmark's file with a thousandth of its population: same path and rules.
    let s = scenario::load(
        &shipped("scale-1m-accounts-1h.toml"),
        &set(&[("accounts", "1000")]),
    )
    .expect("parses");
    assert_eq!(s.path.duration_s, 3_600);
    let out = run::run(&s, &opts(false)).expect("runs");
    assert_eq!(out.summary.steps, 3_600);
    assert_eq!(out.summary.entered, 1_000);
    assert!(out.summary.backstop.count > 0);
    assert_eq!(
        out.summary.adl_fills, 0,
        "a thousandth of the population stays within the 10M USD vault"
    );
    assert_eq!(out.summary.audit, "ok");
}
