//! The Binance USDⓈ-M importer: a hand-made capture, update-id gaps, the shipped sample, and
//! the real capture pair in the shared data folder.

mod common;

use cascade_replay::{import, replay_imported, Format, Reason, ReplayOptions, ReplayReport};

/// A depth update before the snapshot (dropped: u < lastUpdateId), the snapshot, two updates,
/// the venue's top of book after each, a taker buy, and two mark prices around a funding time.
const CAPTURE: &str = r#"1000000000000000 {"stream":"x@depth@0ms","data":{"e":"depthUpdate","E":1,"T":1,"s":"X","U":90,"u":95,"pu":89,"b":[["100.0","1.000"]],"a":[]}}
1000000000000001 {"lastUpdateId":100,"E":1,"T":1,"bids":[["100.0","1.000"],["99.9","2.000"]],"asks":[["100.1","1.500"],["100.2","3.000"]]}
1000000000000002 {"stream":"x@depth@0ms","data":{"e":"depthUpdate","E":2,"T":2,"s":"X","U":98,"u":105,"pu":97,"b":[["100.0","0.500"]],"a":[]}}
1000000000000003 {"stream":"x@bookTicker","data":{"e":"bookTicker","u":105,"s":"X","b":"100.0","B":"0.500","a":"100.1","A":"1.500","T":2,"E":2}}
1000000000000004 {"stream":"x@trade","data":{"e":"trade","E":3,"T":3,"s":"X","t":1,"p":"100.1","q":"0.500","X":"MARKET","m":false}}
1000000000000005 {"stream":"x@depth@0ms","data":{"e":"depthUpdate","E":4,"T":4,"s":"X","U":106,"u":110,"pu":105,"b":[],"a":[["100.1","1.000"],["100.2","0.000"]]}}
1000000000000006 {"stream":"x@bookTicker","data":{"e":"bookTicker","u":110,"s":"X","b":"100.0","B":"0.500","a":"100.1","A":"1.000","T":4,"E":4}}
1000000000000007 {"stream":"x@markPrice@1s","data":{"e":"markPriceUpdate","E":5,"s":"X","p":"100.05000000","P":"100.0","i":"100.04000000","r":"0.00010000","T":28800000}}
1000000000000008 {"stream":"x@markPrice@1s","data":{"e":"markPriceUpdate","E":6,"s":"X","p":"100.06000000","P":"100.0","i":"100.04000000","r":"0.00010000","T":57600000}}
"#;

fn run(text: &str) -> Result<ReplayReport, cascade_replay::ImportError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = common::write(dir.path(), "capture.txt", text);
    let mut imported = import(Format::BinanceUsdm, &[path])?;
    replay_imported(&mut imported, ReplayOptions::default())
}

#[test]
fn small_capture_rebuilds_the_book_and_replays_the_flow() {
    let report = run(CAPTURE).expect("imports");
    let book = &report.checks["book_vs_bookticker"];
    assert_eq!(book["at_update_boundary"], 2, "{}", report.table());
    assert_eq!(book["at_update_boundary_matched"], 2);
    let counts = &report.checks["import"];
    assert_eq!(counts["depth_updates_before_snapshot_dropped"], 1);
    assert_eq!(counts["depth_updates_applied"], 2);
    assert_eq!(counts["funding_ticks"], 1);
    assert_eq!(report.checks["margined"], true);
    assert_eq!(report.trades, 1);
    assert_eq!(report.checks["taker_orders_filled_in_full"], 1);
    assert_eq!(report.funding_settlements, 1);
    assert_eq!(report.rejected, 0, "{:?}", report.rejects_by_reason);
}

#[test]
fn a_lost_depth_update_is_a_sequence_gap() {
    // The second update claims to follow 104, but the previous one ended at 105.
    let corrupted = CAPTURE.replace(r#""U":106,"u":110,"pu":105"#, r#""U":106,"u":110,"pu":104"#);
    let err = run(&corrupted).expect_err("gap");
    assert_eq!(err.reason, Reason::SequenceGap, "{err}");
    assert_eq!(err.at, Some(6));
    assert!(err.to_string().contains("pu 104"), "{err}");
}

#[test]
fn a_snapshot_older_than_the_first_update_is_refused() {
    let stale = CAPTURE.replace(r#""U":98,"u":105,"pu":97"#, r#""U":101,"u":105,"pu":97"#);
    let err = run(&stale).expect_err("stale");
    assert_eq!(err.reason, Reason::SnapshotStale, "{err}");
}

#[test]
fn bad_lines_are_errors_with_reason_codes() {
    let no_snapshot: String = CAPTURE
        .lines()
        .filter(|l| !l.contains("lastUpdateId"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        run(&no_snapshot).expect_err("no snapshot").reason,
        Reason::NoSnapshot
    );
    let bad_json = CAPTURE.replace(r#"{"stream":"x@trade""#, r#"{"stream":"x@trade",,"#);
    assert_eq!(run(&bad_json).expect_err("json").reason, Reason::Json);
    let bad_price = CAPTURE.replace(r#""p":"100.1","q""#, r#""p":"100.15","q""#);
    assert_eq!(
        run(&bad_price).expect_err("off tick").reason,
        Reason::Number
    );
    let no_time = CAPTURE.replace("1000000000000004 ", "");
    assert_eq!(
        run(&no_time).expect_err("no time").reason,
        Reason::FieldMissing
    );
    let bad_time = CAPTURE.replace("1000000000000004 ", "noon ");
    assert_eq!(run(&bad_time).expect_err("bad time").reason, Reason::Number);
}

#[test]
fn shipped_sample_replays() {
    let sample =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/btcusdt_20230404.dat.gz");
    let mut imported = import(Format::BinanceUsdm, &[sample]).expect("imports");
    // Two runs on fresh engines: the replay fails unless both end on the same hash and counts.
    let opts = ReplayOptions {
        runs: 2,
        ..ReplayOptions::default()
    };
    let report = replay_imported(&mut imported, opts).expect("replays deterministically");
    assert_eq!(report.runs, 2);
    let book = &report.checks["book_vs_bookticker"];
    assert_eq!(
        book["at_update_boundary_matched"],
        book["at_update_boundary"],
        "{}",
        report.table()
    );
    assert!(book["at_update_boundary"].as_u64().unwrap_or(0) > 100);
    assert!(report.trades > 1_000);
    assert_mirror_agrees(&report);
}

/// The importer's copy of the engine's liquidity predicted exactly which taker orders would
/// find too little of it.
fn assert_mirror_agrees(report: &ReplayReport) {
    let n = |v: &serde_json::Value| v.as_u64().expect("a count");
    let short =
        n(&report.checks["taker_orders"]) - n(&report.checks["taker_orders_filled_in_full"]);
    assert_eq!(
        short,
        n(&report.checks["import"]["trades_short_of_liquidity"])
    );
}

/// Uses `shared/data/binance-usdm-futures-hftbacktest` (MIT): the 2023-04-04/05 pair, one
/// gap-free stream across the 00:00 UTC funding settlement.
#[test]
fn real_capture_pair_matches_the_venue_top_of_book() {
    let Some(dir) = common::shared_data("binance-usdm-futures-hftbacktest") else {
        return;
    };
    let files = [
        dir.join("usdm/btcusdt_20230404.dat.gz"),
        dir.join("usdm/btcusdt_20230405.dat.gz"),
    ];
    let mut imported = import(Format::BinanceUsdm, &files).expect("imports");
    let report = replay_imported(&mut imported, ReplayOptions::default()).expect("replays");
    let book = &report.checks["book_vs_bookticker"];
    assert_eq!(book["at_update_boundary"], 1565, "{}", report.table());
    assert_eq!(book["at_update_boundary_matched"], 1565);
    let counts = &report.checks["import"];
    assert_eq!(counts["depth_updates_applied"], 16110);
    assert_eq!(counts["insurance_fund_prints_not_replayed"], 1);
    assert_eq!(counts["funding_ticks"], 1);
    assert_eq!(report.checks["funding_venue_rates"][0], "0.00002760");
    assert_eq!(report.funding_settlements, 1);
    assert_eq!(report.liquidations, 0);
    assert_mirror_agrees(&report);

    // The day file alone starts without a snapshot: refused, not guessed.
    let err = import(Format::BinanceUsdm, &files[1..]).expect_err("no snapshot");
    assert_eq!(err.reason, Reason::NoSnapshot);
}
