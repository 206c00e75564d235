//! The LOBSTER importer on a hand-made message file.

mod common;

use cascade_replay::{import, replay_imported, Format, Reason, ReplayOptions};

const FIXTURE: &str = "SYNTH_2024-01-02_34200000_57600000_message_1.csv";

#[test]
fn fixture_executions_are_reproduced_against_the_named_orders() {
    let mut imported = import(Format::Lobster, &[common::fixture(FIXTURE)]).expect("imports");
    let report = replay_imported(&mut imported, ReplayOptions::default()).expect("replays");
    assert_eq!(report.checks["visible_executions"], 7, "{}", report.table());
    assert_eq!(report.checks["executions_reproduced"], 7);
    assert_eq!(report.trades, 7);
    assert_eq!(report.rejected, 0);
    let import = &report.checks["import"];
    assert_eq!(import["submissions"], 7);
    assert_eq!(import["partial_cancels"], 1);
    assert_eq!(import["hidden_executions_skipped"], 1);
    assert_eq!(import["halt_messages_skipped"], 1);
    assert_eq!(import["messages_for_orders_from_before_the_file"], 1);
}

#[test]
fn bad_rows_are_errors_with_reason_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        ("34200.1,1,1,10,1000000,0\n", Reason::Value),
        ("34200.1,9,1,10,1000000,1\n", Reason::Value),
        ("34200.1,1,1,ten,1000000,1\n", Reason::Number),
        ("34200.1,1,1,10\n", Reason::FieldMissing),
        ("34200.1234567891,1,1,10,1000000,1\n", Reason::Number),
    ];
    for (i, (row, reason)) in cases.into_iter().enumerate() {
        let path = common::write(dir.path(), &format!("m{i}.csv"), row);
        let err = import(Format::Lobster, &[path]).expect_err(row);
        assert_eq!(err.reason, reason, "{row}: {err}");
        assert_eq!(err.at, Some(1));
    }
}
