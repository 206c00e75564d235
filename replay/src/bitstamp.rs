//! Bitstamp order-by-order (L3) CSV: `--format bitstamp-l3`.
//!
//! Input: `orders.csv[.gz]` (`id,timestamp,exchange_timestamp,price,volume,action,direction`,
//! one row per `created` / `changed` / `deleted` event of the `live_orders` channel) and,
//! optionally, `trades.csv` (`trade_id,…,price,amount,buy_order_id,sell_order_id,side`) as the
//! ground truth to check against. Files are told apart by their header row.
//!
//! # Mapping
//! - One matching-only market (no risk parameters): tick 1 USD and lot 1e-8 BTC, the feed's
//!   own precision, one quote quantum per tick-lot.
//! - `created` → `Place` (limit) on one account, with self-trade prevention off: Bitstamp
//!   orders have no owner in the feed, so every order trades with every other. The client
//!   reference is the Bitstamp id; the engine's order id is the command's sequence number.
//! - `deleted` → `Cancel`. A fully filled order is deleted too (volume 0): the engine has
//!   already filled it, so its cancel is rejected as an unknown order, which changes nothing.
//! - `changed` rows report a partial fill; the engine makes that fill itself: no command.
//! - The feed does not carry an order's time in force, but its lifecycle shows it: an order
//!   whose volume never went down never took liquidity, so it is placed post-only (it cannot
//!   trade on arrival; where Bitstamp rejected a crossing post-only order with a
//!   create-and-delete, so does Cascade). An order that traded and was deleted in the same
//!   exchange millisecond as it was created (a market or immediate order) is placed IOC, so
//!   its remainder does not rest. Every other order is GTC.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

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

/// Price decimals of the feed (whole dollars).
const PRICE_DECIMALS: u8 = 0;
/// Size decimals of the feed (satoshis).
const SIZE_DECIMALS: u8 = 8;
/// The one market.
const MARKET: MarketId = MarketId(0);
/// The one account every order belongs to.
const ACCOUNT: AccountId = AccountId(0);
/// Venue trades listed one by one in the report when not reproduced.
const MISMATCHES_LISTED: usize = 50;

/// The market: BTC/USD at the feed's precision. Prices up to 10,000,000 USD and sizes up to
/// 9,000 BTC keep every notional within `i64`; the feed's junk orders beyond (a 999,999,999 USD
/// ask, a 138,800 BTC bid) are rejected by the engine, which the report counts.
#[must_use]
pub fn market_spec() -> MarketSpec {
    MarketSpec {
        id: MARKET,
        symbol: *b"BTCUSD  ",
        tick: DecimalStep {
            mantissa: 1,
            scale: PRICE_DECIMALS,
        },
        lot: DecimalStep {
            mantissa: 1,
            scale: SIZE_DECIMALS,
        },
        quote_per_tick_lot: 1,
        notional_min: Quote(0),
        price_max: Price(10_000_000),
        qty_max: Qty(900_000_000_000),
        band_ppm: 1_000_000,
        market_protection_ppm: 1_000_000,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Created,
    Changed,
    Deleted,
}

#[derive(Clone, Copy, Debug)]
struct OrderRow {
    id: u64,
    exchange_ms: u64,
    price: i64,
    volume: i64,
    action: Action,
    side: Side,
}

/// One of the venue's trades.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VenueTrade {
    /// Bitstamp trade id.
    pub trade_id: u64,
    /// Price in ticks.
    pub price: i64,
    /// Size in lots.
    pub qty: i64,
    /// The resting order.
    pub maker: u64,
    /// The incoming order.
    pub taker: u64,
}

/// What the lifecycle of one order shows.
#[derive(Clone, Copy, Debug)]
struct Life {
    created_row: usize,
    deleted_row: Option<usize>,
    side: Side,
    price: i64,
    created_volume: i64,
    created_ms: u64,
    deleted_ms: Option<u64>,
    traded: bool,
    /// Its first fill came before any other order was created: it took liquidity on arrival.
    took_on_arrival: bool,
    from_snapshot: bool,
}

fn field<'r>(
    rec: &'r csv::StringRecord,
    idx: usize,
    path: &Path,
    line: u64,
) -> Result<&'r str, ImportError> {
    rec.get(idx)
        .ok_or_else(|| ImportError::at(Reason::FieldMissing, path, line, "row too short"))
}

fn int(text: &str, path: &Path, line: u64) -> Result<u64, ImportError> {
    text.parse()
        .map_err(|_| ImportError::at(Reason::Number, path, line, format!("{text:?} is not an id")))
}

fn units(text: &str, decimals: u8, path: &Path, line: u64) -> Result<i64, ImportError> {
    parse_units(text, decimals).map_err(|e| ImportError::at(Reason::Number, path, line, e))
}

fn side(text: &str, buy: &str, sell: &str, path: &Path, line: u64) -> Result<Side, ImportError> {
    if text == buy {
        Ok(Side::Buy)
    } else if text == sell {
        Ok(Side::Sell)
    } else {
        Err(ImportError::at(
            Reason::Value,
            path,
            line,
            format!("side {text:?} is neither {buy:?} nor {sell:?}"),
        ))
    }
}

fn read_orders(path: &Path) -> Result<Vec<OrderRow>, ImportError> {
    let mut rdr = input::csv_reader(path)?;
    let headers = input::csv_headers(&mut rdr, path)?;
    let [id, ex, px, vol, act, dir] = [
        "id",
        "exchange_timestamp",
        "price",
        "volume",
        "action",
        "direction",
    ]
    .map(|name| input::csv_column(&headers, name, path));
    let (id, ex, px, vol, act, dir) = (id?, ex?, px?, vol?, act?, dir?);
    let mut rows = Vec::new();
    let mut rec = csv::StringRecord::new();
    let mut line = 1u64;
    while input::csv_next(&mut rdr, &mut rec, path, &mut line)? {
        let action = match field(&rec, act, path, line)? {
            "created" => Action::Created,
            "changed" => Action::Changed,
            "deleted" => Action::Deleted,
            other => {
                return Err(ImportError::at(
                    Reason::Value,
                    path,
                    line,
                    format!("action {other:?} is not created, changed or deleted"),
                ))
            }
        };
        rows.push(OrderRow {
            id: int(field(&rec, id, path, line)?, path, line)?,
            exchange_ms: int(field(&rec, ex, path, line)?, path, line)?,
            price: units(field(&rec, px, path, line)?, PRICE_DECIMALS, path, line)?,
            volume: units(field(&rec, vol, path, line)?, SIZE_DECIMALS, path, line)?,
            action,
            side: side(field(&rec, dir, path, line)?, "bid", "ask", path, line)?,
        });
    }
    Ok(rows)
}

/// Reads a Bitstamp `trades.csv`.
///
/// # Errors
/// A missing column or a row that does not parse.
pub fn read_trades(path: &Path) -> Result<Vec<VenueTrade>, ImportError> {
    let mut rdr = input::csv_reader(path)?;
    let headers = input::csv_headers(&mut rdr, path)?;
    let cols = [
        "trade_id",
        "price",
        "amount",
        "buy_order_id",
        "sell_order_id",
        "side",
    ]
    .map(|name| input::csv_column(&headers, name, path));
    let [tid, px, amt, buy, sell, aggressor] = cols;
    let (tid, px, amt, buy, sell, aggressor) = (tid?, px?, amt?, buy?, sell?, aggressor?);
    let mut trades = Vec::new();
    let mut rec = csv::StringRecord::new();
    let mut line = 1u64;
    while input::csv_next(&mut rdr, &mut rec, path, &mut line)? {
        let buy_id = int(field(&rec, buy, path, line)?, path, line)?;
        let sell_id = int(field(&rec, sell, path, line)?, path, line)?;
        let (maker, taker) = match side(
            field(&rec, aggressor, path, line)?,
            "buy",
            "sell",
            path,
            line,
        )? {
            Side::Buy => (sell_id, buy_id),
            Side::Sell => (buy_id, sell_id),
        };
        trades.push(VenueTrade {
            trade_id: int(field(&rec, tid, path, line)?, path, line)?,
            price: units(field(&rec, px, path, line)?, PRICE_DECIMALS, path, line)?,
            qty: units(field(&rec, amt, path, line)?, SIZE_DECIMALS, path, line)?,
            maker,
            taker,
        });
    }
    Ok(trades)
}

/// Which file is which, by header.
fn classify(files: &[PathBuf]) -> Result<(PathBuf, Option<PathBuf>), ImportError> {
    let mut orders = None;
    let mut trades = None;
    for path in files {
        let mut first = String::new();
        std::io::BufRead::read_line(&mut *input::open(path)?, &mut first)
            .map_err(|e| ImportError::io(path, &e))?;
        if first.starts_with("id,") {
            orders = Some(path.clone());
        } else if first.starts_with("trade_id,") {
            trades = Some(path.clone());
        } else {
            return Err(ImportError::at(
                Reason::WrongInput,
                path,
                1,
                "neither a Bitstamp orders file (header id,…) nor a trades file (trade_id,…)",
            ));
        }
    }
    let orders = orders.ok_or_else(|| {
        ImportError::new(
            Reason::WrongInput,
            "bitstamp-l3 needs an orders.csv[.gz] file",
        )
    })?;
    Ok((orders, trades))
}

/// The lifecycle of every order. The capture starts with the venue's REST snapshot written as
/// `created` rows, all stamped with the snapshot's time: that leading block is the snapshot.
fn lifecycles(rows: &[OrderRow]) -> HashMap<u64, Life> {
    let snapshot_ms = rows.first().map(|r| r.exchange_ms);
    let snapshot_end = rows
        .iter()
        .position(|r| r.action != Action::Created || Some(r.exchange_ms) != snapshot_ms)
        .unwrap_or(rows.len());
    let mut lives: HashMap<u64, Life> = HashMap::new();
    // `created` rows seen so far, and the count when each order was created.
    let mut creates = 0u64;
    let mut creates_at: HashMap<u64, u64> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        match row.action {
            Action::Created => {
                creates += 1;
                creates_at.entry(row.id).or_insert(creates);
                lives.entry(row.id).or_insert(Life {
                    created_row: i,
                    deleted_row: None,
                    side: row.side,
                    price: row.price,
                    created_volume: row.volume,
                    created_ms: row.exchange_ms,
                    deleted_ms: None,
                    traded: false,
                    took_on_arrival: false,
                    from_snapshot: i < snapshot_end,
                });
            }
            Action::Changed | Action::Deleted => {
                if let Some(life) = lives.get_mut(&row.id) {
                    let fill = row.volume < life.created_volume;
                    if fill && !life.traded {
                        life.took_on_arrival = creates_at.get(&row.id) == Some(&creates);
                    }
                    life.traded |= fill;
                    if row.action == Action::Deleted {
                        life.deleted_ms = Some(row.exchange_ms);
                        life.deleted_row = Some(i);
                    }
                }
            }
        }
    }
    lives
}

/// Snapshot orders the venue's own trade tape proves were not on the book.
///
/// The REST snapshot is taken a moment before the live feed starts, so an order cancelled in
/// between is in the snapshot but never gets a `deleted` row: a ghost that would sit at the
/// front of its level for the whole capture. An untraded snapshot order was absent when a
/// venue taker that arrived while it was (supposedly) resting traded at a worse price than
/// it, or at its price against a maker that arrived later than the snapshot: price-time
/// priority would have filled it first.
fn snapshot_ghosts(lives: &HashMap<u64, Life>, trades: &[VenueTrade]) -> Vec<u64> {
    let mut ghosts = Vec::new();
    for (&id, o) in lives {
        if !o.from_snapshot || o.traded {
            continue;
        }
        let proven_absent = trades.iter().any(|t| {
            let (Some(taker), Some(maker)) = (lives.get(&t.taker), lives.get(&t.maker)) else {
                return false;
            };
            let resting = o.created_row < taker.created_row
                && o.deleted_row.is_none_or(|d| d > taker.created_row);
            let worse_than_o = match o.side {
                // An ask: the buyer paid more than o asked.
                Side::Sell => t.price > o.price,
                Side::Buy => t.price < o.price,
            };
            resting
                && maker.side == o.side
                && t.maker != id
                && (worse_than_o || (t.price == o.price && !maker.from_snapshot))
        });
        if proven_absent {
            ghosts.push(id);
        }
    }
    ghosts.sort_unstable();
    ghosts
}

fn time_in_force(life: &Life) -> TimeInForce {
    if !life.traded {
        TimeInForce::PostOnly
    } else if life.took_on_arrival && life.deleted_ms == Some(life.created_ms) {
        TimeInForce::Ioc
    } else {
        TimeInForce::Gtc
    }
}

/// Imports a Bitstamp L3 capture, using the trade tape (when given) to repair what the order
/// feed cannot say: see [`import_with`].
///
/// # Errors
/// A missing orders file, or any row that does not parse (with its line and reason code).
pub fn import(files: &[PathBuf]) -> Result<Imported, ImportError> {
    import_with(files, true)
}

/// Imports a Bitstamp L3 capture. With `use_tape`, the venue's trades (when given) repair two
/// things the order feed cannot say: snapshot orders proven absent are dropped
/// ([`snapshot_ghosts`]), and a market buy for an amount of USD is sized from its fills.
/// Without it, the trades are only compared with, never used.
///
/// # Errors
/// As [`import`].
pub fn import_with(files: &[PathBuf], use_tape: bool) -> Result<Imported, ImportError> {
    let (orders_path, trades_path) = classify(files)?;
    let rows = read_orders(&orders_path)?;
    let venue_trades = match &trades_path {
        Some(p) => Some(read_trades(p)?),
        None => None,
    };
    let lives = lifecycles(&rows);
    let tape = venue_trades.as_deref().filter(|_| use_tape);
    let ghosts = tape.map(|t| snapshot_ghosts(&lives, t)).unwrap_or_default();
    // The size of a market buy given in USD is not in the feed (its volume reads 0): only its
    // fills tell it.
    let mut taker_filled: HashMap<u64, i64> = HashMap::new();
    for t in tape.into_iter().flatten() {
        let filled = taker_filled.entry(t.taker).or_default();
        *filled = filled.saturating_add(t.qty);
    }
    let spec = market_spec();
    let mut seq = Sequencer::default();
    seq.push(0, Command::AddMarket(Box::new(spec)));
    let mut engine_id: HashMap<u64, u64> = HashMap::with_capacity(lives.len());
    let mut bitstamp_id = vec![0u64; rows.len() + 2];
    let (mut created, mut changed, mut deleted, mut duplicate, mut unknown) = (0u64, 0u64, 0, 0, 0);
    let mut tifs = [0u64; 3];
    let (mut markets, mut sized_from_trades) = (0u64, 0u64);
    for row in &rows {
        let ts_ns = row.exchange_ms.saturating_mul(1_000_000);
        match row.action {
            Action::Created => {
                if engine_id.contains_key(&row.id) {
                    duplicate += 1;
                    continue;
                }
                if ghosts.binary_search(&row.id).is_ok() {
                    continue;
                }
                let life = lives.get(&row.id);
                let tif = life.map_or(TimeInForce::Gtc, time_in_force);
                // Bitstamp prints a market order with a placeholder price: 0 for a sell,
                // 999,999,999 for a buy.
                // A market buy for an amount of USD has no BTC size in the feed (volume 0).
                let market = life.is_some_and(|l| l.traded || row.volume == 0)
                    && (row.price <= 0 || row.price > spec.price_max.0);
                let mut qty = row.volume;
                if market {
                    markets += 1;
                    if let Some(filled) = taker_filled.get(&row.id).filter(|_| qty == 0) {
                        qty = *filled;
                        sized_from_trades += 1;
                    }
                }
                if !market {
                    tifs[match tif {
                        TimeInForce::PostOnly => 0,
                        TimeInForce::Ioc => 1,
                        _ => 2,
                    }] += 1;
                }
                let order = NewOrder {
                    account: ACCOUNT,
                    market: MARKET,
                    client_ref: row.id,
                    side: row.side,
                    kind: if market {
                        OrderKind::Market
                    } else {
                        OrderKind::Limit
                    },
                    price: Price(if market { 0 } else { row.price }),
                    qty: Qty(qty),
                    tif: if market { TimeInForce::Ioc } else { tif },
                    reduce_only: false,
                    stp: SelfTradePrevention::Allow,
                };
                let s = seq.push(ts_ns, Command::Place(order));
                engine_id.insert(row.id, s);
                if let Some(slot) = usize::try_from(s).ok().and_then(|i| bitstamp_id.get_mut(i)) {
                    *slot = row.id;
                }
                created += 1;
            }
            Action::Changed => changed += 1,
            Action::Deleted if ghosts.binary_search(&row.id).is_ok() => {}
            Action::Deleted => match engine_id.get(&row.id) {
                Some(&order) => {
                    seq.push(
                        ts_ns,
                        Command::Cancel {
                            account: ACCOUNT,
                            order_id: OrderId(order),
                        },
                    );
                    deleted += 1;
                }
                None => unknown += 1,
            },
        }
    }
    let commands = seq.into_commands();
    bitstamp_id.truncate(commands.len() + 1);
    let mut notes = serde_json::Map::new();
    notes.insert(
        "import".into(),
        json!({
            "order_rows": rows.len(),
            "created_placed": created,
            "changed_rows_no_command": changed,
            "deleted_cancelled": deleted,
            "duplicate_creates_skipped": duplicate,
            "deletes_of_unknown_orders_skipped": unknown,
            "placed_post_only": tifs[0],
            "placed_ioc": tifs[1],
            "placed_gtc": tifs[2],
            "placed_market": markets,
            "market_buys_sized_from_trades": sized_from_trades,
            "snapshot_ghosts_dropped": ghosts.len(),
            "trade_tape_used_for_repair": tape.is_some(),
        }),
    );
    Ok(Imported {
        format: Format::BitstampL3,
        commands,
        limits: Limits::DEFAULT,
        notes,
        checker: Box::new(TradeCheck::new(bitstamp_id, venue_trades)),
    })
}

/// One engine trade in venue terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Fill {
    price: i64,
    qty: i64,
    maker: u64,
    taker: u64,
}

/// Compares the engine's trades with the venue's: a venue trade is reproduced when the engine
/// made a trade with the same price, size, maker order and taker order.
pub struct TradeCheck {
    bitstamp_id: Vec<u64>,
    venue: Option<Vec<VenueTrade>>,
    engine: Vec<Fill>,
    place_rejects: HashMap<u64, &'static str>,
}

impl TradeCheck {
    fn new(bitstamp_id: Vec<u64>, venue: Option<Vec<VenueTrade>>) -> Self {
        Self {
            bitstamp_id,
            venue,
            engine: Vec::new(),
            place_rejects: HashMap::new(),
        }
    }

    fn venue_id(&self, order: OrderId) -> u64 {
        usize::try_from(order.0)
            .ok()
            .and_then(|i| self.bitstamp_id.get(i))
            .copied()
            .unwrap_or(0)
    }

    fn explain(&self, t: &VenueTrade) -> String {
        for (who, id) in [("taker", t.taker), ("maker", t.maker)] {
            if let Some(reason) = self.place_rejects.get(&id) {
                return format!("{who} {id} was rejected by the engine: {reason}");
            }
        }
        let same_pair: Vec<&Fill> = self
            .engine
            .iter()
            .filter(|f| f.maker == t.maker && f.taker == t.taker)
            .collect();
        if let Some(f) = same_pair.first() {
            return format!(
                "same orders traded at price {} size {} instead",
                f.price, f.qty
            );
        }
        if let Some(f) = self.engine.iter().find(|f| f.taker == t.taker) {
            return format!(
                "taker {} traded with other makers (first: {} at {}); maker {} not at the front",
                t.taker, f.maker, f.price, t.maker
            );
        }
        if let Some(f) = self.engine.iter().find(|f| f.maker == t.maker) {
            return format!(
                "maker {} traded with another taker ({}) first",
                t.maker, f.taker
            );
        }
        format!("no engine trade for taker {} or maker {}", t.taker, t.maker)
    }
}

impl Checker for TradeCheck {
    fn observe(&mut self, cmd: &Sequenced<Command>, events: &[Event]) {
        for event in events {
            match *event {
                Event::Trade {
                    maker_order,
                    taker_order,
                    price,
                    qty,
                    ..
                } => self.engine.push(Fill {
                    price: price.0,
                    qty: qty.0,
                    maker: self.venue_id(maker_order),
                    taker: self.venue_id(taker_order),
                }),
                Event::Rejected {
                    client_ref, reason, ..
                } if matches!(cmd.command, Command::Place(_)) => {
                    self.place_rejects.insert(client_ref, reason.name());
                }
                _ => {}
            }
        }
    }

    fn finish(&self) -> serde_json::Value {
        let Some(venue) = &self.venue else {
            return json!({ "venue_trades": "no trades file given" });
        };
        let mut unmatched_engine: HashMap<Fill, u32> = HashMap::new();
        for f in &self.engine {
            *unmatched_engine.entry(*f).or_default() += 1;
        }
        let mut reproduced = 0u64;
        let mut missed = Vec::new();
        for t in venue {
            let key = Fill {
                price: t.price,
                qty: t.qty,
                maker: t.maker,
                taker: t.taker,
            };
            match unmatched_engine.get_mut(&key) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    reproduced += 1;
                }
                _ => missed.push(t),
            }
        }
        let extra: u32 = unmatched_engine.values().sum();
        let listed: Vec<String> = missed
            .iter()
            .take(MISMATCHES_LISTED)
            .map(|t| {
                format!(
                    "trade {} ({} @ {}, maker {}, taker {}): {}",
                    t.trade_id,
                    t.qty,
                    t.price,
                    t.maker,
                    t.taker,
                    self.explain(t)
                )
            })
            .collect();
        json!({
            "venue_trades": venue.len(),
            "venue_trades_reproduced": reproduced,
            "engine_trades_not_at_venue": extra,
            "venue_trades_missed": listed,
        })
    }
}
