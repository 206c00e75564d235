//! Binance USDⓈ-M futures raw WebSocket captures: `--format binance-usdm`.
//!
//! Input: one or more files (gzip or plain) of lines `<local receive time> <json>`, where the
//! JSON is a combined-stream message (`{"stream":…,"data":…}`) or, once, the REST depth
//! snapshot (`{"lastUpdateId":…,"bids":…,"asks":…}`). Several files are one stream in the order
//! given (a capture split at midnight).
//!
//! # The book: snapshot, diffs and update-id checks
//! Binance's own procedure: depth updates received before the snapshot are held; updates with
//! `u` < `lastUpdateId` are dropped; the first applied update must have
//! `U` ≤ `lastUpdateId` ≤ `u`; every later update's `pu` must equal the previous update's `u`.
//! Anything else means updates were lost: the import stops with [`Reason::SequenceGap`] (or
//! [`Reason::SnapshotStale`]), because a book rebuilt past a gap is wrong from there on.
//!
//! The rebuilt L2 book is compared with the venue's `bookTicker` stream: a ticker whose `u` is
//! the final id of a depth update shows exactly the book after that update, so best bid and ask
//! (price and size) must match. Tickers between two updates' ids show an intermediate state
//! the diff stream never shows; they are compared with the book after the last update at or
//! before their id and reported apart.
//!
//! # The engine
//! - One market at the capture's precision (tick and lot from the snapshot's decimals), quote
//!   quantum 1e-6 USDT. When the capture has a `markPrice` stream the market is margined
//!   (`SetRiskParams`, the BTC-PERP preset) and an index is set from the snapshot's mid before
//!   any order, so margin checks have a mark; otherwise it is matching-only.
//! - Liquidity: each price level is one resting post-only order of account 0 (the venue's
//!   makers, aggregated). A depth update becomes cancels (size 0), amends (new total size) and
//!   new orders, removals first so a level never crosses a stale one; a new level that would
//!   still cross the engine's book is not placed (counted) until a later update moves it.
//! - Trades (`X` = `MARKET`) are replayed as taker flow: an IOC limit order of account 1 at the
//!   trade price for the trade size, on the aggressor's side (`m` = buyer is maker ⇒ sell).
//!   Insurance-fund prints (`X` = `INSURANCE_FUND`) are liquidations filled by the venue's
//!   fund, not taker flow, and are counted, not replayed.
//! - `markPrice` drives `SetIndexPrice` (index `i`, external mark `p`, rounded to the tick),
//!   and a `FundingTick` is sent when the next-funding time `T` rolls over, i.e. the venue
//!   settled. The venue's rate `r` at that settlement is reported beside the engine's.

use std::collections::HashMap;
use std::path::PathBuf;

use cascade_engine::risk_params::RiskParams;
use cascade_engine::{AccountId, Command, DecimalStep, Event, Limits, MarketSpec, Sequenced, Side};
use cascade_risk::{Price, Qty, Quote};
use serde::Deserialize;
use serde_json::json;

use crate::decimal::{parse_units, places, round_units};
use crate::error::{ImportError, Reason};
use crate::l2::{Bbo, L2Flow, TakerCheck, MARKET};
use crate::replay::Checker;
use crate::{input, Format, Imported, Sequencer};

/// The venue's resting liquidity, one order per level.
const MAKERS: AccountId = AccountId(0);
/// The venue's takers.
const TAKERS: AccountId = AccountId(1);
/// Collateral for each account: 1e9 USDT, far above any margin the capture needs.
const COLLATERAL: Quote = Quote(1_000_000_000_000_000);
/// Quote quantum: 1e-6 USDT.
const QUOTE_DECIMALS: u8 = 6;

type Level = [String; 2];

#[derive(Deserialize)]
#[serde(untagged)]
enum Message {
    Stream { data: Data },
    Snapshot(Snapshot),
}

#[derive(Deserialize)]
struct Snapshot {
    #[serde(rename = "lastUpdateId")]
    last_update_id: u64,
    bids: Vec<Level>,
    asks: Vec<Level>,
}

#[derive(Deserialize)]
#[serde(tag = "e")]
enum Data {
    #[serde(rename = "depthUpdate")]
    Depth {
        #[serde(rename = "U")]
        first: u64,
        u: u64,
        pu: u64,
        b: Vec<Level>,
        a: Vec<Level>,
    },
    #[serde(rename = "trade")]
    Trade {
        p: String,
        q: String,
        m: bool,
        #[serde(rename = "X")]
        kind: Option<String>,
    },
    #[serde(rename = "bookTicker")]
    Ticker {
        u: u64,
        b: String,
        #[serde(rename = "B")]
        bid_qty: String,
        a: String,
        #[serde(rename = "A")]
        ask_qty: String,
    },
    #[serde(rename = "markPriceUpdate")]
    Mark {
        p: String,
        i: String,
        r: String,
        #[serde(rename = "T")]
        next_funding_ms: u64,
    },
    #[serde(other)]
    Other,
}

/// A line read, with where it came from.
struct Line {
    ts_ns: u64,
    path: usize,
    line: u64,
    message: Message,
}

fn read_lines(files: &[PathBuf]) -> Result<Vec<Line>, ImportError> {
    let mut out = Vec::new();
    for (fi, path) in files.iter().enumerate() {
        let mut reader = input::open(path)?;
        let mut text = String::new();
        let mut line = 0u64;
        while let Some(trimmed) = input::next_line(&mut *reader, &mut text, path, &mut line)? {
            let (ts, json) = trimmed.split_once(' ').ok_or_else(|| {
                ImportError::at(Reason::FieldMissing, path, line, "expected `<time> <json>`")
            })?;
            let ts: u64 = ts
                .parse()
                .map_err(|_| ImportError::at(Reason::Number, path, line, format!("time {ts:?}")))?;
            // 16 digits: microseconds (the 2023 captures); 19: nanoseconds.
            let ts_ns = if ts < 10_000_000_000_000_000 {
                ts.saturating_mul(1_000)
            } else {
                ts
            };
            let message: Message = serde_json::from_str(json)
                .map_err(|e| ImportError::at(Reason::Json, path, line, e.to_string()))?;
            out.push(Line {
                ts_ns,
                path: fi,
                line,
                message,
            });
        }
    }
    Ok(out)
}

/// Decimal places of the market, read off the snapshot.
#[derive(Clone, Copy)]
struct Scale {
    price: u8,
    qty: u8,
}

impl Scale {
    fn level(
        &self,
        l: &Level,
        at: &dyn Fn(String) -> ImportError,
    ) -> Result<(i64, i64), ImportError> {
        let px = parse_units(&l[0], self.price).map_err(at)?;
        let qty = parse_units(&l[1], self.qty).map_err(at)?;
        Ok((px, qty))
    }
}

/// Turns the capture into commands.
struct Builder {
    flow: L2Flow,
    scale: Option<Scale>,
    /// `u` of the last applied depth update; `None` before the snapshot is synced.
    last_u: Option<u64>,
    snapshot_id: Option<u64>,
    /// Depth updates received before the snapshot, as indices into the lines.
    pending: Vec<usize>,
    bbo_after: HashMap<u64, Bbo>,
    boundaries: Vec<u64>,
    tickers: Vec<(u64, Bbo)>,
    margined: bool,
    index_set: bool,
    next_funding_ms: Option<u64>,
    last_rate: Option<String>,
    venue_rates: Vec<String>,
}

impl Builder {
    fn err(files: &[PathBuf], l: &Line, reason: Reason, detail: String) -> ImportError {
        ImportError::at(reason, &files[l.path], l.line, detail)
    }

    /// Applies one depth update (already checked to follow on) to the book and the engine.
    fn apply_depth(&mut self, ts: u64, u: u64, levels: &[(Side, i64, i64)]) {
        self.flow.apply_levels(ts, levels);
        self.last_u = Some(u);
        self.bbo_after.insert(u, self.flow.book.bbo());
        self.boundaries.push(u);
        self.flow.count("depth_updates_applied");
    }
}

/// The mid of the best bid and ask among `levels` (or the one side there is): the first index,
/// so margin checks have a mark before the first mark price arrives.
fn mid(levels: &[(Side, i64, i64)]) -> i64 {
    let best = |side: Side| {
        let prices = levels
            .iter()
            .filter(|l| l.0 == side && l.2 > 0)
            .map(|l| l.1);
        match side {
            Side::Buy => prices.max(),
            Side::Sell => prices.min(),
        }
    };
    match (best(Side::Buy), best(Side::Sell)) {
        (Some(bid), Some(ask)) => bid / 2 + ask / 2,
        (Some(p), None) | (None, Some(p)) => p,
        (None, None) => 1,
    }
}

fn risk_setup(seq: &mut Sequencer, ts: u64, mid: i64) {
    seq.push(
        ts,
        Command::SetRiskParams {
            market: MARKET,
            params: Box::new(RiskParams::btc_perp()),
        },
    );
    seq.push(
        ts,
        Command::SetIndexPrice {
            market: MARKET,
            index: Price(mid),
            external_mark: None,
        },
    );
}

/// Imports a Binance USDⓈ-M capture.
///
/// # Errors
/// A line that does not parse, a capture with no snapshot, or a gap in the depth updates
/// (each with its file, line and stable reason code).
pub fn import(files: &[PathBuf]) -> Result<Imported, ImportError> {
    if files.is_empty() {
        return Err(ImportError::new(
            Reason::WrongInput,
            "binance-usdm needs capture files",
        ));
    }
    let lines = read_lines(files)?;
    let margined = lines.iter().any(|l| {
        matches!(
            l.message,
            Message::Stream {
                data: Data::Mark { .. }
            }
        )
    });
    let mut b = Builder {
        flow: L2Flow::new(MAKERS, TAKERS),
        scale: None,
        last_u: None,
        snapshot_id: None,
        pending: Vec::new(),
        bbo_after: HashMap::new(),
        boundaries: Vec::new(),
        tickers: Vec::new(),
        margined,
        index_set: false,
        next_funding_ms: None,
        last_rate: None,
        venue_rates: Vec::new(),
    };
    for (index, l) in lines.iter().enumerate() {
        let ts = l.ts_ns;
        let at = |d: String| Builder::err(files, l, Reason::Number, d);
        match &l.message {
            Message::Snapshot(s) => {
                if b.scale.is_some() {
                    b.flow.count("later_snapshots_ignored");
                    continue;
                }
                let first = s.bids.first().or(s.asks.first()).ok_or_else(|| {
                    Builder::err(files, l, Reason::NoSnapshot, "empty snapshot".into())
                })?;
                let scale = Scale {
                    price: places(&first[0]),
                    qty: places(&first[1]),
                };
                let spec = market_spec(scale).ok_or_else(|| {
                    Builder::err(
                        files,
                        l,
                        Reason::Number,
                        format!(
                            "{} price and {} size decimals are finer than the 1e-6 quote quantum",
                            scale.price, scale.qty
                        ),
                    )
                })?;
                b.scale = Some(scale);
                b.flow.seq.push(ts, Command::AddMarket(Box::new(spec)));
                for account in [MAKERS, TAKERS] {
                    b.flow.seq.push(
                        ts,
                        Command::Deposit {
                            account,
                            amount: COLLATERAL,
                        },
                    );
                }
                let mut levels = Vec::new();
                for (side, rows) in [(Side::Buy, &s.bids), (Side::Sell, &s.asks)] {
                    for row in rows {
                        let (px, qty) = scale.level(row, &at)?;
                        levels.push((side, px, qty));
                    }
                }
                if margined {
                    risk_setup(&mut b.flow.seq, ts, mid(&levels));
                    b.index_set = true;
                }
                b.flow.apply_levels(ts, &levels);
                b.snapshot_id = Some(s.last_update_id);
                // Updates held back while waiting for the snapshot.
                for held in std::mem::take(&mut b.pending) {
                    let held = &lines[held];
                    if let Message::Stream {
                        data:
                            Data::Depth {
                                first,
                                u,
                                pu,
                                b: bids,
                                a: asks,
                            },
                    } = &held.message
                    {
                        depth(&mut b, files, held, *first, *u, *pu, bids, asks)?;
                    }
                }
            }
            Message::Stream { data } => match data {
                Data::Depth {
                    first,
                    u,
                    pu,
                    b: bids,
                    a: asks,
                } => {
                    if b.scale.is_none() {
                        b.pending.push(index);
                    } else {
                        depth(&mut b, files, l, *first, *u, *pu, bids, asks)?;
                    }
                }
                Data::Trade { p, q, m, kind } => {
                    let Some(scale) = b.scale.filter(|_| b.last_u.is_some()) else {
                        b.flow.count("trades_before_book_skipped");
                        continue;
                    };
                    if kind.as_deref().is_some_and(|k| k != "MARKET") {
                        b.flow.count("insurance_fund_prints_not_replayed");
                        continue;
                    }
                    let px = parse_units(p, scale.price).map_err(at)?;
                    let qty = parse_units(q, scale.qty).map_err(at)?;
                    let side = if *m { Side::Sell } else { Side::Buy };
                    b.flow.taker(ts, side, px, qty);
                }
                Data::Ticker {
                    u,
                    b: bid,
                    bid_qty,
                    a: ask,
                    ask_qty,
                } => {
                    let Some(scale) = b.scale.filter(|_| b.last_u.is_some()) else {
                        b.flow.count("tickers_before_book_skipped");
                        continue;
                    };
                    let bid = scale.level(&[bid.clone(), bid_qty.clone()], &at)?;
                    let ask = scale.level(&[ask.clone(), ask_qty.clone()], &at)?;
                    b.tickers.push((*u, [Some(bid), Some(ask)]));
                }
                Data::Mark {
                    p,
                    i,
                    r,
                    next_funding_ms,
                } => {
                    let Some(scale) = b.scale else {
                        b.flow.count("mark_prices_before_book_skipped");
                        continue;
                    };
                    if b.next_funding_ms.is_some_and(|t| t != *next_funding_ms) {
                        b.flow.seq.push(ts, Command::FundingTick { market: MARKET });
                        b.venue_rates
                            .push(b.last_rate.clone().unwrap_or_else(|| r.clone()));
                        b.flow.count("funding_ticks");
                    }
                    b.next_funding_ms = Some(*next_funding_ms);
                    b.last_rate = Some(r.clone());
                    let index = round_units(i, scale.price).map_err(at)?;
                    let mark = round_units(p, scale.price).map_err(at)?;
                    b.flow.seq.push(
                        ts,
                        Command::SetIndexPrice {
                            market: MARKET,
                            index: Price(index),
                            external_mark: Some(Price(mark)),
                        },
                    );
                    b.flow.count("index_prices_set");
                }
                Data::Other => b.flow.count("other_messages_skipped"),
            },
        }
    }
    if b.scale.is_none() {
        return Err(ImportError::new(
            Reason::NoSnapshot,
            "no REST depth snapshot (a line with lastUpdateId) in the capture",
        ));
    }
    let ticker_check = compare_tickers(&b);
    let mut notes = serde_json::Map::new();
    notes.insert("import".into(), json!(b.flow.counts));
    notes.insert("book_vs_bookticker".into(), ticker_check);
    notes.insert("margined".into(), json!(b.margined));
    Ok(Imported {
        format: Format::BinanceUsdm,
        commands: b.flow.seq.into_commands(),
        limits: Limits::DEFAULT,
        notes,
        checker: Box::new(FundingCheck {
            venue_rates: b.venue_rates,
            engine_rates_ppb: Vec::new(),
            takers: TakerCheck::new(TAKERS),
        }),
    })
}

/// Checks one depth update against the update-id rules and applies it.
#[allow(clippy::too_many_arguments)]
fn depth(
    b: &mut Builder,
    files: &[PathBuf],
    l: &Line,
    first: u64,
    u: u64,
    pu: u64,
    bids: &[Level],
    asks: &[Level],
) -> Result<(), ImportError> {
    let snapshot = b.snapshot_id.unwrap_or(0);
    match b.last_u {
        None => {
            if u < snapshot {
                b.flow.count("depth_updates_before_snapshot_dropped");
                return Ok(());
            }
            if first > snapshot {
                return Err(Builder::err(
                    files,
                    l,
                    Reason::SnapshotStale,
                    format!(
                        "first update after the snapshot covers {first}..={u}, \
                         which does not include lastUpdateId {snapshot}"
                    ),
                ));
            }
        }
        Some(last) if pu != last => {
            return Err(Builder::err(
                files,
                l,
                Reason::SequenceGap,
                format!("depth update has pu {pu} but the previous update ended at u {last}"),
            ));
        }
        Some(_) => {}
    }
    let scale = b.scale.ok_or_else(|| {
        Builder::err(files, l, Reason::NoSnapshot, "depth before snapshot".into())
    })?;
    let at = |d: String| Builder::err(files, l, Reason::Number, d);
    let mut levels = Vec::with_capacity(bids.len() + asks.len());
    for (side, rows) in [(Side::Buy, bids), (Side::Sell, asks)] {
        for row in rows {
            let (px, qty) = scale.level(row, &at)?;
            levels.push((side, px, qty));
        }
    }
    b.apply_depth(l.ts_ns, u, &levels);
    Ok(())
}

/// The market at the capture's precision: tick 10^-price, lot 10^-qty, quantum 1e-6 USDT.
fn market_spec(scale: Scale) -> Option<MarketSpec> {
    let digits = QUOTE_DECIMALS.checked_sub(scale.price.checked_add(scale.qty)?)?;
    let quote_per_tick_lot = 10i64.checked_pow(u32::from(digits))?;
    // Prices up to 10,000,000 USDT and sizes up to 100,000 units keep notionals in i64.
    let price_max = 10i64.checked_pow(7 + u32::from(scale.price))?;
    let qty_max = 10i64.checked_pow(5 + u32::from(scale.qty))?;
    Some(MarketSpec {
        id: MARKET,
        symbol: *b"PERP    ",
        tick: DecimalStep {
            mantissa: 1,
            scale: scale.price,
        },
        lot: DecimalStep {
            mantissa: 1,
            scale: scale.qty,
        },
        quote_per_tick_lot,
        notional_min: Quote(0),
        price_max: Price(price_max),
        qty_max: Qty(qty_max),
        band_ppm: 1_000_000,
        market_protection_ppm: 1_000_000,
    })
}

fn compare_tickers(b: &Builder) -> serde_json::Value {
    let (mut exact, mut exact_ok, mut between, mut between_ok, mut ahead) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut first_mismatch = None;
    for (u, bbo) in &b.tickers {
        if let Some(book) = b.bbo_after.get(u) {
            exact += 1;
            if book == bbo {
                exact_ok += 1;
            } else if first_mismatch.is_none() {
                first_mismatch = Some(format!("u {u}: book {book:?}, ticker {bbo:?}"));
            }
            continue;
        }
        let i = b.boundaries.partition_point(|x| x <= u);
        if i == b.boundaries.len() {
            // Newer than the last depth update in the capture.
            ahead += 1;
            continue;
        }
        let Some(book) = i
            .checked_sub(1)
            .and_then(|j| b.boundaries.get(j))
            .and_then(|x| b.bbo_after.get(x))
        else {
            ahead += 1;
            continue;
        };
        between += 1;
        if book == bbo {
            between_ok += 1;
        }
    }
    let rate = |ok: u64, n: u64| if n == 0 { 0.0 } else { ok as f64 / n as f64 };
    json!({
        "tickers": b.tickers.len(),
        "at_update_boundary": exact,
        "at_update_boundary_matched": exact_ok,
        "at_update_boundary_match_rate": rate(exact_ok, exact),
        "between_updates": between,
        "between_updates_matched": between_ok,
        "between_updates_match_rate": rate(between_ok, between),
        "after_last_update_not_compared": ahead,
        "first_mismatch": first_mismatch,
    })
}

/// Reports the engine's funding beside the venue's, and how the taker flow filled.
struct FundingCheck {
    venue_rates: Vec<String>,
    engine_rates_ppb: Vec<i64>,
    takers: TakerCheck,
}

impl Checker for FundingCheck {
    fn observe(&mut self, cmd: &Sequenced<Command>, events: &[Event]) {
        self.takers.observe(cmd, events);
        for e in events {
            if let Event::Funding { rate_ppb, .. } = e {
                self.engine_rates_ppb.push(*rate_ppb);
            }
        }
    }

    fn finish(&self) -> serde_json::Value {
        let mut found = self.takers.finish();
        if let serde_json::Value::Object(map) = &mut found {
            map.insert("funding_venue_rates".into(), json!(self.venue_rates));
            map.insert(
                "funding_engine_rates_ppb".into(),
                json!(self.engine_rates_ppb),
            );
        }
        found
    }
}
