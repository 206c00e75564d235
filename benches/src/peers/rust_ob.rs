//! `rust_ob` 2.5.3: `rust_decimal` prices and quantities, `Rc<RefCell<Order>>` in a
//! `BTreeMap` per side, `HashMap` index; limit and market orders, no IOC (an IOC limit is a
//! limit followed by a cancel of what rested).

use crate::fills::FillTally;
use crate::harness::Book;
use crate::workload::{Op, Tif};
use cascade_engine::Side;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use rust_ob::OrderBook;

/// A prepared operation.
#[derive(Clone, Copy, Debug)]
pub enum Input {
    /// A limit order; `ioc` cancels what rests.
    Limit {
        /// Id.
        id: u64,
        /// Side.
        side: rust_ob::Side,
        /// Price.
        price: Decimal,
        /// Quantity.
        qty: Decimal,
        /// Immediate or cancel.
        ioc: bool,
    },
    /// A market order.
    Market {
        /// Id.
        id: u64,
        /// Side.
        side: rust_ob::Side,
        /// Quantity.
        qty: Decimal,
    },
    /// A cancel.
    Cancel(u64),
}

/// The adapter.
#[derive(Debug)]
pub struct RustOb {
    book: OrderBook<u64>,
}

fn side(s: Side) -> rust_ob::Side {
    match s {
        Side::Buy => rust_ob::Side::Buy,
        Side::Sell => rust_ob::Side::Sell,
    }
}

fn record(tally: &mut FillTally, taker: u64, matches: &[rust_ob::OrderMatch<u64>]) -> Decimal {
    let mut filled = Decimal::ZERO;
    for m in matches.iter().filter(|m| m.order != taker) {
        // The maker's price is its cost over its quantity.
        let price = (m.cost.abs() / m.quantity).to_u64().unwrap_or(0);
        tally.record(m.order, taker, price, m.quantity.to_u64().unwrap_or(0));
        filled += m.quantity;
    }
    filled
}

impl Book for RustOb {
    type Input = Input;
    const NAME: &'static str = "rust_ob 2.5.3";

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
                    price: Decimal::from(price),
                    qty: Decimal::from(qty),
                    ioc: tif == Tif::Ioc,
                },
                Op::Market {
                    id, side: s, qty, ..
                } => Input::Market {
                    id,
                    side: side(s),
                    qty: Decimal::from(qty),
                },
                Op::Cancel { id, .. } => Input::Cancel(id),
                Op::Amend { .. } => panic!("peers run the stream without amends"),
            })
            .collect()
    }

    fn new() -> Self {
        Self {
            book: OrderBook::new(),
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
                ioc,
            } => {
                if let Ok(matches) = self.book.process_limit_order(id, side, price, qty) {
                    let filled = record(tally, id, &matches);
                    if ioc && filled < qty {
                        let _ = self.book.cancel_order(id);
                    }
                }
            }
            Input::Market { id, side, qty } => {
                if let Ok(matches) = self.book.process_market_order(id, side, qty) {
                    record(tally, id, &matches);
                }
            }
            Input::Cancel(id) => {
                let _ = self.book.cancel_order(id);
            }
        }
    }
}
