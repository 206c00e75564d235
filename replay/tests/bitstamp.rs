//! The Bitstamp L3 importer: a small hand-made capture, bad input, and the real capture in the
//! shared data folder (the venue's 284 trades).

mod common;

use cascade_replay::{bitstamp, replay_imported, Format, Reason, ReplayOptions, ReplayReport};

const ORDERS: &str = "\
id,timestamp,exchange_timestamp,price,volume,action,direction
5,1000,1000,100.0,0.4,created,ask
1,1000,1000,100.0,1.0,created,ask
2,1000,1000,101.0,0.5,created,ask
3,1000,1000,99.0,2.0,created,bid
10,1100,1100,100.0,0.3,created,bid
10,1100,1100,100.0,0.3,deleted,bid
11,1200,1200,101.0,1.2,created,bid
11,1200,1200,100.0,0.2,changed,bid
1,1200,1200,100.0,0.0,deleted,ask
2,1200,1200,101.0,0.3,changed,ask
11,1200,1200,101.0,0.0,deleted,bid
12,1300,1300,0.0,0.5,created,ask
3,1300,1300,99.0,1.5,changed,bid
12,1300,1300,99.0,0.0,deleted,ask
";

const TRADES: &str = "\
trade_id,timestamp,exchange_timestamp,price,amount,buy_order_id,sell_order_id,side
1,1200,1200,100.0,1.0,11,1,buy
2,1200,1200,101.0,0.2,11,2,buy
3,1300,1300,99.0,0.5,3,12,sell
";

fn run(
    orders: &str,
    trades: &str,
    use_tape: bool,
) -> Result<ReplayReport, cascade_replay::ImportError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = [
        common::write(dir.path(), "orders.csv", orders),
        common::write(dir.path(), "trades.csv", trades),
    ];
    let mut imported = bitstamp::import_with(&files, use_tape)?;
    replay_imported(&mut imported, ReplayOptions::default())
}

fn check(report: &ReplayReport, key: &str) -> serde_json::Value {
    report.checks[key].clone()
}

#[test]
fn small_capture_reproduces_every_trade() {
    let report = run(ORDERS, TRADES, true).expect("imports");
    assert_eq!(
        check(&report, "venue_trades_reproduced"),
        3,
        "{}",
        report.table()
    );
    assert_eq!(check(&report, "engine_trades_not_at_venue"), 0);
    let import = check(&report, "import");
    // Order 5 sits in the snapshot at 100 but a taker paid 101 while it supposedly rested.
    assert_eq!(import["snapshot_ghosts_dropped"], 1);
    // 12 is a market sell (price 0), 11 took on arrival and was gone the same millisecond.
    assert_eq!(import["placed_market"], 1);
    assert_eq!(import["placed_ioc"], 1);
    // 10 never traded: post-only, and it would have crossed the ask at 100, as at Bitstamp.
    assert_eq!(import["placed_post_only"], 1);
    assert_eq!(
        report.rejects_by_reason.get("post_only_would_cross"),
        Some(&1)
    );
}

#[test]
fn without_the_tape_the_ghost_order_takes_the_first_fill() {
    let report = run(ORDERS, TRADES, false).expect("imports");
    assert_eq!(
        check(&report, "venue_trades_reproduced"),
        1,
        "{}",
        report.table()
    );
    assert_eq!(check(&report, "import")["snapshot_ghosts_dropped"], 0);
}

#[test]
fn bad_rows_are_errors_with_reason_codes() {
    let bad_action = ORDERS.replace(
        "10,1100,1100,100.0,0.3,deleted",
        "10,1100,1100,100.0,0.3,moved",
    );
    let err = run(&bad_action, TRADES, true).expect_err("bad action");
    assert_eq!(err.reason, Reason::Value);
    assert_eq!(err.at, Some(7));

    let bad_number = ORDERS.replace("99.0,2.0,created", "99.5,2.0,created");
    let err = run(&bad_number, TRADES, true).expect_err("price off the 1 USD tick");
    assert_eq!(err.reason, Reason::Number);

    let bad_side = ORDERS.replace("created,bid\n10", "created,middle\n10");
    assert_eq!(
        run(&bad_side, TRADES, true).expect_err("side").reason,
        Reason::Value
    );

    let no_column = ORDERS.replacen("direction", "dir", 1);
    assert_eq!(
        run(&no_column, TRADES, true).expect_err("header").reason,
        Reason::Header
    );

    let short_row = format!("{ORDERS}7,1400,1400\n");
    assert_eq!(
        run(&short_row, TRADES, true).expect_err("short").reason,
        Reason::FieldMissing
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let other = common::write(dir.path(), "x.csv", "a,b\n1,2\n");
    let err = cascade_replay::import(Format::BitstampL3, &[other]).expect_err("not bitstamp");
    assert_eq!(err.reason, Reason::WrongInput);
}

/// Uses `shared/data/bitstamp-btcusd-l3-ob-analytics` (GPL-2.0: read in place, never copied).
#[test]
fn real_capture_reproduces_the_venue_trades() {
    let Some(dir) = common::shared_data("bitstamp-btcusd-l3-ob-analytics") else {
        return;
    };
    let files = [dir.join("orders.csv.gz"), dir.join("trades.csv")];
    let mut imported = bitstamp::import(&files).expect("imports");
    let report = replay_imported(&mut imported, ReplayOptions::default()).expect("replays");
    assert_eq!(check(&report, "venue_trades"), 284);
    // Regression guard: every one of the venue's trades, exactly.
    assert_eq!(
        check(&report, "venue_trades_reproduced"),
        284,
        "{}",
        report.table()
    );
    assert_eq!(check(&report, "engine_trades_not_at_venue"), 0);
    assert_eq!(report.trades, 284);

    // The order feed alone (the trade tape only compared with): see docs/REPLAY.md.
    let mut imported = bitstamp::import_with(&files, false).expect("imports");
    let report = replay_imported(&mut imported, ReplayOptions::default()).expect("replays");
    assert_eq!(
        check(&report, "venue_trades_reproduced"),
        261,
        "{}",
        report.table()
    );
}
