//! `obcore` 0.1.6: eval/apply split, `BTreeMap` of levels with pooled linked lists, an
//! `FxHashMap` index, native IOC; a market order is an IOC at the far price bound.

use crate::fills::FillTally;
use crate::harness::Book;
use crate::workload::{Op, Tif};
use cascade_engine::Side;
use obcore::{Evaluator, Instruction, Op as ObOp, OrderBook, OrderInterface, TIF};

/// An order as obcore sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Order {
    id: u64,
    owner: u64,
    is_buy: bool,
    price: u64,
    quantity: u64,
    remaining: u64,
    tif: TIF,
}

impl OrderInterface for Order {
    type I = u64;
    type N = u64;
    type O = u64;

    fn id(&self) -> &u64 {
        &self.id
    }
    fn is_buy(&self) -> bool {
        self.is_buy
    }
    fn price(&self) -> u64 {
        self.price
    }
    fn quantity(&self) -> u64 {
        self.quantity
    }
    fn remaining(&self) -> u64 {
        self.remaining
    }
    fn fill(&mut self, quantity: u64) {
        self.remaining -= quantity;
    }
    fn owner(&self) -> &u64 {
        &self.owner
    }
    fn tif(&self) -> TIF {
        self.tif
    }
}

/// A prepared operation.
#[derive(Clone, Copy, Debug)]
pub enum Input {
    /// Insert an order.
    Insert(Order),
    /// Delete an order.
    Delete(u64),
}

/// The adapter: the book and its evaluator.
pub struct Obcore {
    book: OrderBook<Order>,
    eval: Evaluator<Order>,
}

impl std::fmt::Debug for Obcore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Obcore")
    }
}

fn order(id: u64, account: u32, side: Side, price: u64, qty: i64, tif: TIF) -> Order {
    Order {
        id,
        owner: u64::from(account),
        is_buy: side == Side::Buy,
        price,
        quantity: qty.unsigned_abs(),
        remaining: qty.unsigned_abs(),
        tif,
    }
}

impl Book for Obcore {
    type Input = Input;
    const NAME: &'static str = "obcore 0.1.6";

    fn prepare(ops: &[Op]) -> Vec<Input> {
        ops.iter()
            .map(|op| match *op {
                Op::Add {
                    id,
                    account,
                    side,
                    price,
                    qty,
                    tif,
                } => Input::Insert(order(
                    id,
                    account,
                    side,
                    price.unsigned_abs(),
                    qty,
                    match tif {
                        Tif::Gtc => TIF::GTC,
                        Tif::Ioc => TIF::IOC,
                    },
                )),
                Op::Market {
                    id,
                    account,
                    side,
                    qty,
                } => {
                    let bound = match side {
                        Side::Buy => u64::MAX,
                        Side::Sell => 0,
                    };
                    Input::Insert(order(id, account, side, bound, qty, TIF::IOC))
                }
                Op::Cancel { id, .. } => Input::Delete(id),
                Op::Amend { .. } => panic!("peers run the stream without amends"),
            })
            .collect()
    }

    fn new() -> Self {
        Self {
            book: OrderBook::default(),
            eval: Evaluator::default(),
        }
    }

    #[inline]
    fn apply(&mut self, input: &Input, tally: &mut FillTally) {
        let (op, taker) = match *input {
            Input::Insert(o) => (ObOp::Insert(o), o.id),
            Input::Delete(id) => (ObOp::Delete(id), 0),
        };
        for ins in self.eval.eval(&self.book, op) {
            if let Instruction::Fill(maker, _, price, qty, false) = &ins {
                tally.record(*maker, taker, *price, *qty);
            }
            self.book.apply(ins);
        }
        // The evaluator's overlay of virtual fills is only needed within a batch; one
        // operation is applied at a time here, so clear it as the crate documents.
        self.eval.reset();
    }
}
