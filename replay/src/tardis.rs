//! Tardis.dev CSV datasets: `--format tardis`.
//!
//! Tardis publishes normalized venue data as CSV, one file per dataset, symbol and day. Two are
//! read here, told apart by their header:
//! - `incremental_book_L2`: `exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount`,
//!   one row per changed price level; `amount` is the level's new total (0 removes it). Rows
//!   with `is_snapshot=true` are a full book: at the start, and again after a reconnect, when
//!   the book is replaced.
//! - `trades`: `exchange,symbol,timestamp,local_timestamp,id,side,price,amount`, `side` the
//!   taker's (`buy`, `sell`, or `unknown`).
//!
//! Times are microseconds since the Unix epoch. Both files are merged by `local_timestamp`
//! (the order the recorder received them), book rows before trades at the same time.
//!
//! # Mapping
//! One matching-only market. Tardis writes numbers without padding, so the tick and lot are the
//! finest decimals any price or amount in the files needs; one quote quantum per tick-lot. The
//! book becomes one post-only order per level and trades become IOC taker orders, as for
//! Binance (see [`crate::l2`]); rows of one message (same `local_timestamp`) are applied
//! together, removals first. A trade with `side=unknown` cannot be replayed as taker flow and is
//! counted.

use std::path::{Path, PathBuf};

use cascade_engine::{AccountId, Command, DecimalStep, Limits, MarketSpec, Side};
use cascade_risk::{Price, Qty, Quote};
use serde_json::json;

use crate::decimal::{decimals_needed, parse_units};
use crate::error::{ImportError, Reason};
use crate::l2::{L2Flow, TakerCheck, MARKET};
use crate::{input, Format, Imported};

const MAKERS: AccountId = AccountId(0);
const TAKERS: AccountId = AccountId(1);

/// One book or trade row, still as text.
struct Row {
    local_us: u64,
    trade: bool,
    snapshot: bool,
    side: String,
    price: String,
    amount: String,
    path: usize,
    line: u64,
}

fn read(path: &Path, index: usize, out: &mut Vec<Row>) -> Result<(), ImportError> {
    let mut rdr = input::csv_reader(path)?;
    let headers = input::csv_headers(&mut rdr, path)?;
    let col = |name: &str| input::csv_column(&headers, name, path);
    let trade = headers.iter().any(|h| h == "id");
    let snapshot_col = if trade {
        None
    } else {
        Some(col("is_snapshot")?)
    };
    let (local, side, price, amount) = (
        col("local_timestamp")?,
        col("side")?,
        col("price")?,
        col("amount")?,
    );
    let mut rec = csv::StringRecord::new();
    let mut line = 1u64;
    while input::csv_next(&mut rdr, &mut rec, path, &mut line)? {
        let get = |i: usize| {
            rec.get(i)
                .ok_or_else(|| ImportError::at(Reason::FieldMissing, path, line, "row too short"))
        };
        let local_us = get(local)?.parse().map_err(|_| {
            ImportError::at(
                Reason::Number,
                path,
                line,
                "local_timestamp is not an integer",
            )
        })?;
        let snapshot = match snapshot_col.map(get).transpose()? {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(ImportError::at(
                    Reason::Value,
                    path,
                    line,
                    format!("is_snapshot {other:?} is neither true nor false"),
                ))
            }
        };
        out.push(Row {
            local_us,
            trade,
            snapshot,
            side: get(side)?.to_string(),
            price: get(price)?.to_string(),
            amount: get(amount)?.to_string(),
            path: index,
            line,
        });
    }
    Ok(())
}

/// The market: the given decimals, prices up to 10,000,000 and sizes as large as keeps every
/// notional within `i64`.
fn market_spec(price: u8, qty: u8) -> Option<MarketSpec> {
    let price_max = 10i64.checked_pow(7 + u32::from(price))?;
    let qty_max =
        (i64::MAX / 2 / price_max).min(10i64.checked_pow(9 + u32::from(qty)).unwrap_or(i64::MAX));
    Some(MarketSpec {
        id: MARKET,
        symbol: *b"TARDIS  ",
        tick: DecimalStep {
            mantissa: 1,
            scale: price,
        },
        lot: DecimalStep {
            mantissa: 1,
            scale: qty,
        },
        quote_per_tick_lot: 1,
        notional_min: Quote(0),
        price_max: Price(price_max),
        qty_max: Qty(qty_max.max(1)),
        band_ppm: 1_000_000,
        market_protection_ppm: 1_000_000,
    })
}

/// Imports Tardis `incremental_book_L2` and `trades` CSV files (plain or gzip).
///
/// # Errors
/// A missing column, a row that does not parse, or no book file.
pub fn import(files: &[PathBuf]) -> Result<Imported, ImportError> {
    let mut rows = Vec::new();
    for (i, path) in files.iter().enumerate() {
        read(path, i, &mut rows)?;
    }
    if !rows.iter().any(|r| !r.trade) {
        return Err(ImportError::new(
            Reason::WrongInput,
            "tardis needs an incremental_book_L2 file (header with is_snapshot)",
        ));
    }
    // Stable: file order within one timestamp; book rows before trades.
    rows.sort_by_key(|r| (r.local_us, r.trade));
    let price_dp = rows
        .iter()
        .map(|r| decimals_needed(&r.price))
        .max()
        .unwrap_or(0);
    let qty_dp = rows
        .iter()
        .map(|r| decimals_needed(&r.amount))
        .max()
        .unwrap_or(0);
    let spec = market_spec(price_dp, qty_dp).ok_or_else(|| {
        ImportError::new(
            Reason::Number,
            format!("{price_dp} price decimals are too many for an i64 market"),
        )
    })?;
    let mut flow = L2Flow::new(MAKERS, TAKERS);
    flow.seq.push(0, Command::AddMarket(Box::new(spec)));
    let mut i = 0;
    let mut in_snapshot = false;
    let mut synced = false;
    while let Some(first) = rows.get(i) {
        let ts = first.local_us.saturating_mul(1_000);
        let at = |r: &Row, e: String| ImportError::at(Reason::Number, &files[r.path], r.line, e);
        let side_err = |r: &Row| {
            ImportError::at(
                Reason::Value,
                &files[r.path],
                r.line,
                format!(
                    "side {:?} is not one of bid, ask, buy, sell, unknown",
                    r.side
                ),
            )
        };
        if first.trade {
            i += 1;
            let side = match first.side.as_str() {
                "buy" => Side::Buy,
                "sell" => Side::Sell,
                "unknown" => {
                    flow.count("trades_with_unknown_side_skipped");
                    continue;
                }
                _ => return Err(side_err(first)),
            };
            if !synced {
                flow.count("trades_before_book_skipped");
                continue;
            }
            let px = parse_units(&first.price, price_dp).map_err(|e| at(first, e))?;
            let qty = parse_units(&first.amount, qty_dp).map_err(|e| at(first, e))?;
            flow.taker(ts, side, px, qty);
            continue;
        }
        // One message: consecutive book rows with the same receive time and snapshot flag.
        let end = rows[i..]
            .iter()
            .position(|r| r.trade || r.local_us != first.local_us || r.snapshot != first.snapshot)
            .map_or(rows.len(), |n| i + n);
        let mut levels = Vec::with_capacity(end - i);
        for r in &rows[i..end] {
            let side = match r.side.as_str() {
                "bid" => Side::Buy,
                "ask" => Side::Sell,
                _ => return Err(side_err(r)),
            };
            let px = parse_units(&r.price, price_dp).map_err(|e| at(r, e))?;
            let qty = parse_units(&r.amount, qty_dp).map_err(|e| at(r, e))?;
            if px < 0 || qty < 0 {
                return Err(at(r, "negative price or amount".into()));
            }
            levels.push((side, px, qty));
        }
        if first.snapshot && !in_snapshot {
            // A new full book replaces the old one (the recorder reconnected).
            flow.clear(ts);
            flow.count("snapshots");
        }
        in_snapshot = first.snapshot;
        if !first.snapshot && !synced {
            flow.count("updates_before_snapshot_skipped");
        } else {
            synced = true;
            flow.apply_levels(ts, &levels);
            flow.count("book_messages_applied");
        }
        i = end;
    }
    let mut notes = serde_json::Map::new();
    notes.insert("import".into(), json!(flow.counts));
    notes.insert(
        "precision".into(),
        json!({ "price_decimals": price_dp, "amount_decimals": qty_dp }),
    );
    Ok(Imported {
        format: Format::Tardis,
        commands: flow.seq.into_commands(),
        limits: Limits::DEFAULT,
        notes,
        checker: Box::new(TakerCheck::new(TAKERS)),
    })
}
