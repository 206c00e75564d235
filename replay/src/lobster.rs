//! LOBSTER message files: `--format lobster`.
//!
//! LOBSTER (lobsterdata.com) reconstructs NASDAQ's order flow per stock and day. A message file
//! (`TICKER_DATE_START_END_message_LEVEL.csv`) has no header and six columns:
//! `time` (seconds after midnight, decimal), `type`, `order id`, `size` (shares), `price`
//! (USD × 10,000), `direction` (1 buy order, -1 sell order).
//!
//! # Mapping
//! One matching-only market: tick $0.0001 (LOBSTER's price unit), lot one share, one quote
//! quantum ($0.0001) per tick-lot. Orders are NASDAQ's; the taker side of an execution is not in
//! the file, so executions are replayed as taker flow against the named order.
//! - type 1 (new limit order) → `Place`, post-only, of account 0: LOBSTER shows the marketable
//!   part of an incoming order as executions of the resting orders it hit, so what is
//!   submitted rests.
//! - type 2 (partial cancel of `size`) → `Amend` to the order's remaining size (keeps priority).
//! - type 3 (delete) → `Cancel`.
//! - type 4 (execution of a visible order) → an IOC order of account 1 on the opposite side, at
//!   the resting order's price, for `size`. The check: the engine's trade hits that very order
//!   at that price for that size.
//! - types 5 (hidden execution), 6 (cross), 7 (halt) carry no visible book change: counted.
//! - Messages naming an order submitted before the file starts (it is in LOBSTER's initial
//!   order book file, not in the messages) are counted and skipped.

use std::collections::HashMap;
use std::path::PathBuf;

use cascade_engine::{
    AccountId, Command, DecimalStep, Event, Limits, MarketId, MarketSpec, NewOrder, OrderId,
    OrderKind, SelfTradePrevention, Sequenced, Side, TimeInForce,
};
use cascade_risk::{Price, Qty, Quote};
use serde_json::json;

use crate::decimal::parse_units;
use crate::error::{ImportError, Reason};
use crate::replay::Checker;
use crate::{input, Format, Imported, Sequencer};

const MARKET: MarketId = MarketId(0);
const MAKERS: AccountId = AccountId(0);
const TAKERS: AccountId = AccountId(1);

/// The market: $0.0001 ticks up to $1,000,000, whole shares up to 100,000,000 (so every
/// notional fits an `i64`).
#[must_use]
pub fn market_spec() -> MarketSpec {
    MarketSpec {
        id: MARKET,
        symbol: *b"LOBSTER ",
        tick: DecimalStep {
            mantissa: 1,
            scale: 4,
        },
        lot: DecimalStep {
            mantissa: 1,
            scale: 0,
        },
        quote_per_tick_lot: 1,
        notional_min: Quote(0),
        price_max: Price(10_000_000_000),
        qty_max: Qty(100_000_000),
        band_ppm: 1_000_000,
        market_protection_ppm: 1_000_000,
    }
}

/// An order as the importer tracks it.
#[derive(Clone, Copy)]
struct Resting {
    engine_id: u64,
    side: Side,
    price: i64,
    open: i64,
}

/// A visible execution the engine should reproduce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Expected {
    maker: u64,
    price: i64,
    qty: i64,
}

fn field<'a>(
    fields: &[&'a str],
    i: usize,
    path: &std::path::Path,
    line: u64,
) -> Result<&'a str, ImportError> {
    fields
        .get(i)
        .map(|f| f.trim())
        .ok_or_else(|| ImportError::at(Reason::FieldMissing, path, line, "expected 6 columns"))
}

/// Imports LOBSTER message files (in the order given, as one day).
///
/// # Errors
/// A row that does not parse, with its line and reason code.
pub fn import(files: &[PathBuf]) -> Result<Imported, ImportError> {
    if files.is_empty() {
        return Err(ImportError::new(
            Reason::WrongInput,
            "lobster needs message files",
        ));
    }
    let mut seq = Sequencer::default();
    seq.push(0, Command::AddMarket(Box::new(market_spec())));
    let mut orders: HashMap<u64, Resting> = HashMap::new();
    let mut expected: HashMap<u64, Expected> = HashMap::new();
    let mut counts: std::collections::BTreeMap<&'static str, u64> = Default::default();
    let mut text = String::new();
    for path in files {
        let mut reader = input::open(path)?;
        let mut line = 0u64;
        while let Some(row) = input::next_line(&mut *reader, &mut text, path, &mut line)? {
            let fields: Vec<&str> = row.split(',').collect();
            let num = |i: usize, decimals: u8| -> Result<i64, ImportError> {
                let f = field(&fields, i, path, line)?;
                parse_units(f, decimals).map_err(|e| ImportError::at(Reason::Number, path, line, e))
            };
            let ts_ns = u64::try_from(num(0, 9)?)
                .map_err(|_| ImportError::at(Reason::Number, path, line, "negative time"))?;
            let kind = num(1, 0)?;
            // Hidden executions, crosses and halts change no visible order (a halt's id and
            // price are -1): nothing to replay.
            let skipped = match kind {
                5 => Some("hidden_executions_skipped"),
                6 => Some("cross_trades_skipped"),
                7 => Some("halt_messages_skipped"),
                _ => None,
            };
            if let Some(what) = skipped {
                *counts.entry(what).or_default() += 1;
                continue;
            }
            let id = u64::try_from(num(2, 0)?)
                .map_err(|_| ImportError::at(Reason::Number, path, line, "negative order id"))?;
            let size = num(3, 0)?;
            if size < 0 {
                return Err(ImportError::at(Reason::Number, path, line, "negative size"));
            }
            let price = num(4, 0)?;
            let side = match num(5, 0)? {
                1 => Side::Buy,
                -1 => Side::Sell,
                other => {
                    return Err(ImportError::at(
                        Reason::Value,
                        path,
                        line,
                        format!("direction {other} is neither 1 nor -1"),
                    ))
                }
            };
            match kind {
                1 => {
                    let order = NewOrder {
                        account: MAKERS,
                        market: MARKET,
                        client_ref: id,
                        side,
                        kind: OrderKind::Limit,
                        price: Price(price),
                        qty: Qty(size),
                        tif: TimeInForce::PostOnly,
                        reduce_only: false,
                        stp: SelfTradePrevention::Allow,
                    };
                    let engine_id = seq.push(ts_ns, Command::Place(order));
                    orders.insert(
                        id,
                        Resting {
                            engine_id,
                            side,
                            price,
                            open: size,
                        },
                    );
                    *counts.entry("submissions").or_default() += 1;
                }
                2..=4 => {
                    let Some(o) = orders.get_mut(&id) else {
                        *counts
                            .entry("messages_for_orders_from_before_the_file")
                            .or_default() += 1;
                        continue;
                    };
                    let left = o.open.saturating_sub(size);
                    if kind == 4 {
                        let taker = NewOrder {
                            account: TAKERS,
                            market: MARKET,
                            client_ref: id,
                            side: o.side.opposite(),
                            kind: OrderKind::Limit,
                            price: Price(o.price),
                            qty: Qty(size),
                            tif: TimeInForce::Ioc,
                            reduce_only: false,
                            stp: SelfTradePrevention::Allow,
                        };
                        let s = seq.push(ts_ns, Command::Place(taker));
                        expected.insert(
                            s,
                            Expected {
                                maker: o.engine_id,
                                price: o.price,
                                qty: size,
                            },
                        );
                        *counts.entry("visible_executions").or_default() += 1;
                    } else if kind == 3 || left <= 0 {
                        seq.push(
                            ts_ns,
                            Command::Cancel {
                                account: MAKERS,
                                order_id: OrderId(o.engine_id),
                            },
                        );
                        *counts.entry("deletions").or_default() += 1;
                    } else {
                        seq.push(
                            ts_ns,
                            Command::Amend {
                                account: MAKERS,
                                order_id: OrderId(o.engine_id),
                                price: Price(o.price),
                                qty: Qty(left),
                            },
                        );
                        *counts.entry("partial_cancels").or_default() += 1;
                    }
                    o.open = left;
                    if o.open <= 0 || kind == 3 {
                        orders.remove(&id);
                    }
                }
                other => {
                    return Err(ImportError::at(
                        Reason::Value,
                        path,
                        line,
                        format!("message type {other} is not 1 to 7"),
                    ))
                }
            }
        }
    }
    let mut notes = serde_json::Map::new();
    notes.insert("import".into(), json!(counts));
    Ok(Imported {
        format: Format::Lobster,
        commands: seq.into_commands(),
        limits: Limits::DEFAULT,
        notes,
        checker: Box::new(ExecutionCheck {
            expected,
            reproduced: 0,
            missed: Vec::new(),
        }),
    })
}

/// Counts the executions the engine reproduced: the taker IOC traded with the named order, at
/// its price, for the size LOBSTER reports, in one trade.
struct ExecutionCheck {
    expected: HashMap<u64, Expected>,
    reproduced: u64,
    missed: Vec<u64>,
}

impl Checker for ExecutionCheck {
    fn observe(&mut self, cmd: &Sequenced<Command>, events: &[Event]) {
        let Some(want) = self.expected.get(&cmd.seq) else {
            return;
        };
        let trades: Vec<Expected> = events
            .iter()
            .filter_map(|e| match e {
                Event::Trade {
                    maker_order,
                    price,
                    qty,
                    ..
                } => Some(Expected {
                    maker: maker_order.0,
                    price: price.0,
                    qty: qty.0,
                }),
                _ => None,
            })
            .collect();
        if trades == [*want] {
            self.reproduced += 1;
        } else {
            self.missed.push(cmd.seq);
        }
    }

    fn finish(&self) -> serde_json::Value {
        json!({
            "visible_executions": self.expected.len(),
            "executions_reproduced": self.reproduced,
            "executions_missed_at_seq": self.missed,
        })
    }
}
