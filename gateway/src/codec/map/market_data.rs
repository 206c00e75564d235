//! Engine events → the ITCH 5.0 order-by-order feed.
//!
//! # Layout
//! [`ItchFeed`] remembers every order it has published with Add Order and not yet deleted, with
//! its open quantity, so that an engine `Reduced` (new open quantity) becomes an Order Cancel
//! (lots removed) and an order is deleted only if it was ever added.
//!
//! # Ordering
//! Messages follow the events of each command in order. An engine `Replaced` is published as
//! an Order Replace when the order's next event in the same command is `Rested` (it re-entered
//! without trading); otherwise as an Order Delete, and its later `Rested`, if any, as an Add
//! Order with the same reference number.

use std::collections::HashMap;

use cascade_engine::{Event, MarketId, MarketSpec, OrderId, Side};
use cascade_risk::{Price, Qty};

use super::registry::{lots_to_u32, ticks_to_u32, MarketRegistry};
use super::{match_number, Batch, MATCHES_PER_COMMAND};
use crate::codec::itch::{
    self, AddOrder, Header, Message, OrderCancel, OrderDelete, OrderExecuted, OrderReplace,
    StockDirectory, SystemEvent, Trade,
};
use crate::codec::wire::ns_since_midnight;

/// The ITCH StockLocate of a market: its id + 1 (0 is for system messages).
#[must_use]
pub const fn stock_locate(market: MarketId) -> u16 {
    market.0.saturating_add(1)
}

#[derive(Clone, Copy, Debug)]
struct Resting {
    open: Qty,
}

/// The state of the ITCH feed: the orders it has added and not yet deleted.
#[derive(Clone, Debug)]
pub struct ItchFeed {
    resting: HashMap<u64, Resting>,
    backstop_prints: bool,
}

impl Default for ItchFeed {
    fn default() -> Self {
        Self::new()
    }
}

/// The ITCH side byte of an engine side.
#[must_use]
pub const fn itch_side(side: Side) -> u8 {
    match side {
        Side::Buy => itch::side::BUY,
        Side::Sell => itch::side::SELL,
    }
}

fn header(market: MarketId, timestamp: u64) -> Header {
    Header {
        stock_locate: stock_locate(market),
        tracking_number: 0,
        timestamp,
    }
}

/// Whether `event` is about order `id` (as the order itself, or as the taker of a trade).
fn touches(event: &Event, id: OrderId) -> bool {
    match *event {
        Event::Rested { order_id, .. }
        | Event::Cancelled { order_id, .. }
        | Event::Reduced { order_id, .. }
        | Event::Replaced { order_id, .. } => order_id == id,
        Event::Trade {
            maker_order,
            taker_order,
            ..
        } => maker_order == id || taker_order == id,
        _ => false,
    }
}

impl ItchFeed {
    /// An empty feed that prints backstop take-overs as ITCH Trade (`P`) messages.
    #[must_use]
    pub fn new() -> Self {
        Self {
            resting: HashMap::new(),
            backstop_prints: true,
        }
    }

    /// An empty feed with room for `orders` resting orders before it grows (size it to the
    /// engine's `orders_max` to never allocate after start-up).
    #[must_use]
    pub fn with_capacity(orders: usize) -> Self {
        Self {
            resting: HashMap::with_capacity(orders),
            backstop_prints: true,
        }
    }

    /// Turns the Trade (`P`) prints of backstop take-overs on or off.
    #[must_use]
    pub fn with_backstop_prints(mut self, on: bool) -> Self {
        self.backstop_prints = on;
        self
    }

    /// Orders added and not yet deleted.
    #[must_use]
    pub fn resting(&self) -> usize {
        self.resting.len()
    }

    /// The Stock Directory (`R`) of a market: round lot 1 (lot), no ETP, authenticity `P`.
    #[must_use]
    pub fn stock_directory(spec: &MarketSpec, ts_ns: u64) -> Message {
        Message::StockDirectory(StockDirectory {
            header: header(spec.id, ns_since_midnight(ts_ns)),
            stock: spec.symbol,
            market_category: b' ',
            financial_status: b' ',
            round_lot_size: 1,
            round_lots_only: b'N',
            issue_classification: b' ',
            issue_sub_type: *b"  ",
            authenticity: b'P',
            short_sale_threshold: b' ',
            ipo_flag: b' ',
            luld_tier: b' ',
            etp_flag: b' ',
            etp_leverage_factor: 0,
            inverse_indicator: b'N',
        })
    }

    /// A System Event (`S`) with StockLocate 0.
    #[must_use]
    pub fn system_event(event_code: u8, ts_ns: u64) -> Message {
        Message::SystemEvent(SystemEvent {
            header: Header {
                stock_locate: 0,
                tracking_number: 0,
                timestamp: ns_since_midnight(ts_ns),
            },
            event_code,
        })
    }

    /// Turns one command's events into ITCH messages, in order.
    pub fn on_batch(
        &mut self,
        batch: &Batch<'_>,
        registry: &MarketRegistry,
        out: &mut impl FnMut(Message),
    ) {
        let timestamp = ns_since_midnight(batch.ts_ns);
        let mut trades: u64 = 0;
        let mut prints: u64 = 0;
        let mut rest_as_replace: Option<usize> = None;
        for (i, event) in batch.events.iter().enumerate() {
            match *event {
                Event::MarketAdded { market } => {
                    if let Some(spec) = registry.get(market) {
                        out(Self::stock_directory(spec, batch.ts_ns));
                    }
                }
                Event::Rested {
                    order_id,
                    market,
                    side,
                    price,
                    qty,
                    ..
                } => {
                    self.resting.insert(order_id.0, Resting { open: qty });
                    if rest_as_replace == Some(i) {
                        rest_as_replace = None;
                        continue;
                    }
                    let stock = registry.get(market).map_or([b' '; 8], |s| s.symbol);
                    out(Message::AddOrder(AddOrder {
                        header: header(market, timestamp),
                        order_ref: order_id.0,
                        side: itch_side(side),
                        shares: lots_to_u32(qty),
                        stock,
                        price: ticks_to_u32(price),
                    }));
                }
                Event::Trade {
                    market,
                    maker_order,
                    qty,
                    maker_open,
                    ..
                } => {
                    let number = match_number(batch.seq, trades);
                    trades += 1;
                    out(Message::OrderExecuted(OrderExecuted {
                        header: header(market, timestamp),
                        order_ref: maker_order.0,
                        executed_shares: lots_to_u32(qty),
                        match_number: number,
                    }));
                    if maker_open.0 <= 0 {
                        self.resting.remove(&maker_order.0);
                    } else if let Some(r) = self.resting.get_mut(&maker_order.0) {
                        r.open = maker_open;
                    }
                }
                Event::Cancelled {
                    order_id, market, ..
                } => {
                    if self.resting.remove(&order_id.0).is_none() {
                        continue;
                    }
                    out(Message::OrderDelete(OrderDelete {
                        header: header(market, timestamp),
                        order_ref: order_id.0,
                    }));
                }
                Event::Reduced {
                    order_id,
                    market,
                    qty,
                    ..
                } => {
                    if let Some(r) = self.resting.get_mut(&order_id.0) {
                        let canceled = Qty(r.open.0.saturating_sub(qty.0));
                        r.open = qty;
                        out(Message::OrderCancel(OrderCancel {
                            header: header(market, timestamp),
                            order_ref: order_id.0,
                            canceled_shares: lots_to_u32(canceled),
                        }));
                    }
                }
                Event::Replaced {
                    order_id, market, ..
                } => {
                    if self.resting.remove(&order_id.0).is_none() {
                        continue;
                    }
                    let rest = batch.events.get(i + 1..).unwrap_or(&[]);
                    let next = rest.iter().position(|e| touches(e, order_id));
                    match next.and_then(|j| rest.get(j).map(|e| (j, *e))) {
                        Some((
                            j,
                            Event::Rested {
                                price: new_price,
                                qty: new_qty,
                                ..
                            },
                        )) => {
                            rest_as_replace = Some(i + 1 + j);
                            out(Message::OrderReplace(OrderReplace {
                                header: header(market, timestamp),
                                orig_order_ref: order_id.0,
                                new_order_ref: order_id.0,
                                shares: lots_to_u32(new_qty),
                                price: ticks_to_u32(new_price),
                            }));
                        }
                        _ => out(Message::OrderDelete(OrderDelete {
                            header: header(market, timestamp),
                            order_ref: order_id.0,
                        })),
                    }
                }
                Event::Backstop {
                    market,
                    size,
                    price,
                    ..
                } if self.backstop_prints => {
                    let Ok(shares) = u32::try_from(size.unsigned_abs()) else {
                        continue;
                    };
                    // Prints number down from the top of the command's range, so that they
                    // never shift the numbers of its book trades, which OUCH numbers alike.
                    let number = match_number(batch.seq, MATCHES_PER_COMMAND - 1 - prints);
                    prints += 1;
                    let stock = registry.get(market).map_or([b' '; 8], |s| s.symbol);
                    out(Message::Trade(Trade {
                        header: header(market, timestamp),
                        order_ref: 0,
                        // The vault takes the liquidated side over: it buys a long.
                        side: if size > 0 {
                            itch::side::BUY
                        } else {
                            itch::side::SELL
                        },
                        shares,
                        stock,
                        price: ticks_to_u32(Price(price.0)),
                        match_number: number,
                    }));
                }
                _ => {}
            }
        }
    }
}
