//! Importers and the journal reader never panic, whatever they are given: every input is
//! either imported or refused with a reason code.

mod common;

use cascade_replay::{import, replay_imported, replay_journal, Format, ReplayOptions};
use proptest::prelude::*;

/// Lines that look like each format, with fields drawn from a mix of plausible and hostile
/// values.
fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("1e-06".to_string()),
        Just("9223372036854775807".to_string()),
        Just("-9223372036854775808".to_string()),
        Just("99999999999999999999".to_string()),
        Just("1.é5".to_string()),
        Just("created".to_string()),
        Just("deleted".to_string()),
        Just("changed".to_string()),
        Just("bid".to_string()),
        Just("ask".to_string()),
        Just("true".to_string()),
        Just("buy".to_string()),
        Just(String::new()),
        (0i64..1_000_000).prop_map(|n| n.to_string()),
        (0i64..100_000, 0u32..100_000_000).prop_map(|(a, b)| format!("{a}.{b:08}")),
        "[ -~]{0,12}",
    ]
}

fn csv_rows(cols: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::collection::vec(field(), 0..=cols + 1), 0..24).prop_map(|rows| {
        rows.iter()
            .map(|r| r.join(","))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

fn binance_line() -> impl Strategy<Value = String> {
    let n = || field();
    prop_oneof![
        (n(), n(), n()).prop_map(|(u, p, q)| format!(
            r#"{{"lastUpdateId":{u},"bids":[["{p}","{q}"]],"asks":[["{q}","{p}"]]}}"#
        )),
        (0u64..200, 0u64..200, 0u64..200, n(), n()).prop_map(|(a, b, c, p, q)| format!(
            r#"{{"stream":"s","data":{{"e":"depthUpdate","U":{a},"u":{b},"pu":{c},"b":[["{p}","{q}"]],"a":[]}}}}"#
        )),
        (n(), n(), any::<bool>()).prop_map(|(p, q, m)| format!(
            r#"{{"stream":"s","data":{{"e":"trade","p":"{p}","q":"{q}","m":{m},"X":"MARKET"}}}}"#
        )),
        (n(), n(), 0u64..3).prop_map(|(p, i, t)| format!(
            r#"{{"stream":"s","data":{{"e":"markPriceUpdate","p":"{p}","i":"{i}","r":"0.1","T":{t}}}}}"#
        )),
        "[ -~]{0,40}",
    ]
    .prop_map(|json| format!("1680652700423575 {json}"))
}

fn replay_text(format: Format, files: &[(&str, String)]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths: Vec<_> = files
        .iter()
        .map(|(name, text)| common::write(dir.path(), name, text))
        .collect();
    if let Ok(mut imported) = import(format, &paths) {
        replay_imported(&mut imported, ReplayOptions::default()).expect("imports replay");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn bitstamp_never_panics(orders in csv_rows(7), trades in csv_rows(8)) {
        replay_text(Format::BitstampL3, &[
            ("orders.csv", format!("id,timestamp,exchange_timestamp,price,volume,action,direction\n{orders}")),
            ("trades.csv", format!("trade_id,timestamp,exchange_timestamp,price,amount,buy_order_id,sell_order_id,side\n{trades}")),
        ]);
    }

    #[test]
    fn tardis_never_panics(book in csv_rows(8), trades in csv_rows(8)) {
        replay_text(Format::Tardis, &[
            ("book.csv", format!("exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n{book}")),
            ("trades.csv", format!("exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n{trades}")),
        ]);
    }

    #[test]
    fn lobster_never_panics(rows in csv_rows(6)) {
        replay_text(Format::Lobster, &[("m.csv", rows)]);
    }

    #[test]
    fn binance_never_panics(lines in prop::collection::vec(binance_line(), 0..16)) {
        replay_text(Format::BinanceUsdm, &[("c.txt", lines.join("\n"))]);
    }

    #[test]
    fn journal_reader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = common::write(dir.path(), "j", "");
        let mut journal = cascade_gateway::journal::file_header().to_vec();
        journal.extend_from_slice(&bytes);
        std::fs::write(&path, &journal).expect("writes");
        let _ = replay_journal(&path, ReplayOptions::default());
    }
}
