//! `lobster` 0.7.0: `BTreeMap<price, Vec<arena index>>` per side, `u128` ids, limit and market
//! orders, no IOC (an IOC limit is a limit followed by a cancel of what rested).

use crate::fills::FillTally;
use crate::harness::Book;
use crate::workload::{Op, Tif};
use cascade_engine::Side;
use lobster::{OrderBook, OrderEvent, OrderType};

/// The adapter.
#[derive(Debug, Default)]
pub struct Lobster {
    book: OrderBook,
}

/// A prepared operation: the order and whether to cancel what rests (IOC).
#[derive(Clone, Copy, Debug)]
pub struct Input {
    order: OrderType,
    cancel_rest: bool,
}

fn side(s: Side) -> lobster::Side {
    match s {
        Side::Buy => lobster::Side::Bid,
        Side::Sell => lobster::Side::Ask,
    }
}

impl Book for Lobster {
    type Input = Input;
    const NAME: &'static str = "lobster 0.7.0";

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
                } => Input {
                    order: OrderType::Limit {
                        id: u128::from(id),
                        side: side(s),
                        qty: qty.unsigned_abs(),
                        price: price.unsigned_abs(),
                    },
                    cancel_rest: tif == Tif::Ioc,
                },
                Op::Market {
                    id, side: s, qty, ..
                } => Input {
                    order: OrderType::Market {
                        id: u128::from(id),
                        side: side(s),
                        qty: qty.unsigned_abs(),
                    },
                    cancel_rest: false,
                },
                Op::Cancel { id, .. } => Input {
                    order: OrderType::Cancel { id: u128::from(id) },
                    cancel_rest: false,
                },
                Op::Amend { .. } => panic!("peers run the stream without amends"),
            })
            .collect()
    }

    fn new() -> Self {
        Self::default()
    }

    #[inline]
    fn apply(&mut self, input: &Input, tally: &mut FillTally) {
        let event = self.book.execute(input.order);
        let rested = match &event {
            OrderEvent::Placed { .. } => true,
            OrderEvent::PartiallyFilled { fills, .. } | OrderEvent::Filled { fills, .. } => {
                for f in fills {
                    tally.record(
                        u64::try_from(f.order_2).unwrap_or(u64::MAX),
                        u64::try_from(f.order_1).unwrap_or(u64::MAX),
                        f.price,
                        f.qty,
                    );
                }
                matches!(event, OrderEvent::PartiallyFilled { .. })
            }
            OrderEvent::Unfilled { .. } | OrderEvent::Canceled { .. } => false,
        };
        if input.cancel_rest && rested {
            if let OrderType::Limit { id, .. } = input.order {
                self.book.execute(OrderType::Cancel { id });
            }
        }
    }
}
