//! `orderbook-rs` 0.15.3: a thread-safe book (lock-free skip list of price levels, `DashMap`
//! index, atomics), native IOC and market orders. Trades come through its trade listener,
//! which fires once per order with all of that order's trades, including the fills of an IOC
//! whose remainder it reports as an error.

use crate::fills::FillTally;
use crate::harness::Book;
use crate::workload::{Op, Tif};
use cascade_engine::Side;
use orderbook_rs::{Id, OrderBook, TimeInForce, TradeListener, TradeResult};
use std::sync::{Arc, Mutex};

/// A prepared operation.
#[derive(Clone, Copy, Debug)]
pub enum Input {
    /// A limit order.
    Limit {
        /// Id.
        id: u64,
        /// Side.
        side: orderbook_rs::Side,
        /// Price.
        price: u128,
        /// Quantity.
        qty: u64,
        /// Time in force.
        tif: TimeInForce,
    },
    /// A market order.
    Market {
        /// Id.
        id: u64,
        /// Side.
        side: orderbook_rs::Side,
        /// Quantity.
        qty: u64,
    },
    /// A cancel.
    Cancel(u64),
}

type Trades = Arc<Mutex<Vec<[u64; 4]>>>;

/// The adapter: the book and the buffer its trade listener fills.
pub struct OrderbookRs {
    book: OrderBook<()>,
    trades: Trades,
}

impl std::fmt::Debug for OrderbookRs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OrderbookRs")
    }
}

fn side(s: Side) -> orderbook_rs::Side {
    match s {
        Side::Buy => orderbook_rs::Side::Buy,
        Side::Sell => orderbook_rs::Side::Sell,
    }
}

fn id_u64(id: Id) -> u64 {
    id.as_u64().unwrap_or(u64::MAX)
}

impl Book for OrderbookRs {
    type Input = Input;
    const NAME: &'static str = "orderbook-rs 0.15.3";

    fn prepare(ops: &[Op]) -> Vec<Input> {
        ops.iter()
            .map(|op| match *op {
                Op::Add {
                    id,
                    side: s,
                    price,
                    qty,
                    tif,
                    ..
                } => Input::Limit {
                    id,
                    side: side(s),
                    price: u128::from(price.unsigned_abs()),
                    qty: qty.unsigned_abs(),
                    tif: match tif {
                        Tif::Gtc => TimeInForce::Gtc,
                        Tif::Ioc => TimeInForce::Ioc,
                    },
                },
                Op::Market {
                    id, side: s, qty, ..
                } => Input::Market {
                    id,
                    side: side(s),
                    qty: qty.unsigned_abs(),
                },
                Op::Cancel { id, .. } => Input::Cancel(id),
                Op::Amend { .. } => panic!("peers run the stream without amends"),
            })
            .collect()
    }

    fn new() -> Self {
        let trades: Trades = Arc::default();
        let sink = Arc::clone(&trades);
        let listener: TradeListener = Arc::new(move |r: &TradeResult| {
            let mut t = sink
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for x in r.match_result.trades().as_vec() {
                t.push([
                    id_u64(x.maker_order_id()),
                    id_u64(x.taker_order_id()),
                    u64::try_from(x.price().as_u128()).unwrap_or(u64::MAX),
                    x.quantity().as_u64(),
                ]);
            }
        });
        Self {
            book: OrderBook::with_trade_listener("BENCH", listener),
            trades,
        }
    }

    #[inline]
    fn apply(&mut self, input: &Input, tally: &mut FillTally) {
        match *input {
            Input::Limit {
                id,
                side,
                price,
                qty,
                tif,
            } => {
                let _ = self
                    .book
                    .add_limit_order(Id::sequential(id), price, qty, side, tif, None);
            }
            Input::Market { id, side, qty } => {
                let _ = self.book.submit_market_order(Id::sequential(id), qty, side);
            }
            Input::Cancel(id) => {
                let _ = self.book.cancel_order(Id::sequential(id));
            }
        }
        let mut t = self
            .trades
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for [maker, taker, price, qty] in t.drain(..) {
            tally.record(maker, taker, price, qty);
        }
    }
}
