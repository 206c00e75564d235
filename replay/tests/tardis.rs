//! The Tardis CSV importer on hand-made `incremental_book_L2` and `trades` files.

mod common;

use cascade_replay::{import, replay_imported, Format, Reason, ReplayOptions, ReplayReport};

fn fixtures() -> [std::path::PathBuf; 2] {
    [
        common::fixture("tardis/SYNTH_incremental_book_L2.csv"),
        common::fixture("tardis/SYNTH_trades.csv"),
    ]
}

fn run(files: &[std::path::PathBuf]) -> Result<ReplayReport, cascade_replay::ImportError> {
    let mut imported = import(Format::Tardis, files)?;
    replay_imported(&mut imported, ReplayOptions::default())
}

#[test]
fn fixture_book_and_trades_replay() {
    let report = run(&fixtures()).expect("imports");
    let counts = &report.checks["import"];
    assert_eq!(counts["snapshots"], 2, "{}", report.table());
    assert_eq!(counts["book_messages_applied"], 5);
    assert_eq!(counts["trades_replayed"], 4);
    assert_eq!(counts["trades_with_unknown_side_skipped"], 1);
    // Trade 3 comes after the update that emptied its level: it finds nothing.
    assert_eq!(counts["trades_short_of_liquidity"], 1);
    assert_eq!(report.checks["taker_orders"], 4);
    assert_eq!(report.checks["taker_orders_filled_in_full"], 3);
    assert_eq!(report.checks["precision"]["price_decimals"], 2);
    assert_eq!(report.trades, 3);
    assert_eq!(report.rejected, 0, "{:?}", report.rejects_by_reason);
}

#[test]
fn bad_rows_are_errors_with_reason_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let book = std::fs::read_to_string(&fixtures()[0]).expect("reads");
    let cases = [
        (book.replacen("true,bid", "maybe,bid", 1), Reason::Value),
        (book.replacen("true,bid", "true,middle", 1), Reason::Value),
        (book.replacen("100.5,2", "100.5,two", 1), Reason::Number),
        (book.replacen("1700000000000100", "soon", 1), Reason::Number),
        (book.replacen("is_snapshot,", "", 1), Reason::Header),
    ];
    for (i, (text, reason)) in cases.into_iter().enumerate() {
        let path = common::write(dir.path(), &format!("b{i}.csv"), &text);
        let err = import(Format::Tardis, &[path]).expect_err("refused");
        assert_eq!(err.reason, reason, "case {i}: {err}");
    }
    let err = import(Format::Tardis, &fixtures()[1..]).expect_err("no book");
    assert_eq!(err.reason, Reason::WrongInput);
}
