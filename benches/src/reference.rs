//! The reference book: a plain `BTreeMap<price, VecDeque<order id>>` per side plus a
//! `HashMap` index, written for obviousness, not speed.
//!
//! It is three things at once: the oracle every engine's fills are checked against, the
//! "plain BTreeMap + VecDeque book" of the peer comparison, and the shadow book the workload
//! generators drive to know which orders are live.
//!
//! # Ordering
//! It reproduces Cascade's semantics on a unit market (`MarketSpec::unit`: no band, 100%
//! market protection) for the operations of [`Op`]: price-time priority, trades at the maker's
//! price, self trades allowed for new orders; a market order trades up to twice the best ask
//! (buy) or down to 1 tick (sell); an amend that keeps its price and shrinks keeps its place,
//! any other amend leaves the book, trades as a taker that stops (and is cancelled) at the
//! first resting order of its own account, and rests what is left at the back of its new level;
//! a taker stops after `fills_per_taker_max` fills.
//!
//! # Complexity
//! Best price O(log L), cancel O(log L + orders at the level).

use crate::fills::FillTally;
use crate::workload::{Op, Tif};
use cascade_engine::{Limits, Side};
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Receives fills in the order they happen.
pub trait FillSink {
    /// One fill; `maker_left` is what the maker still has open (0: it left the book).
    fn fill(&mut self, maker: u64, taker: u64, price: i64, qty: i64, maker_left: i64);
}

impl FillSink for FillTally {
    #[inline]
    fn fill(&mut self, maker: u64, taker: u64, price: i64, qty: i64, _maker_left: i64) {
        self.record(maker, taker, price.unsigned_abs(), qty.unsigned_abs());
    }
}

/// A resting order of the reference book.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefOrder {
    /// Owner.
    pub account: u32,
    /// Side.
    pub side: Side,
    /// Limit price.
    pub price: i64,
    /// Open quantity.
    pub qty: i64,
}

/// The reference order book.
#[derive(Clone, Debug)]
pub struct RefBook {
    bids: BTreeMap<i64, VecDeque<u64>>,
    asks: BTreeMap<i64, VecDeque<u64>>,
    orders: HashMap<u64, RefOrder>,
    fills_per_taker_max: u32,
}

impl Default for RefBook {
    fn default() -> Self {
        Self::new()
    }
}

/// How a taker's matching ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    /// Filled, or no longer crosses: the rest may rest.
    Done,
    /// Expired (self trade of an amend, or the fills limit): the rest is cancelled.
    Expired,
}

impl RefBook {
    /// An empty book with Cascade's default fills-per-taker limit.
    #[must_use]
    pub fn new() -> Self {
        Self {
            bids: BTreeMap::new(),
            asks: BTreeMap::new(),
            orders: HashMap::new(),
            fills_per_taker_max: Limits::DEFAULT.fills_per_taker_max,
        }
    }

    /// A resting order by id.
    #[must_use]
    pub fn order(&self, id: u64) -> Option<&RefOrder> {
        self.orders.get(&id)
    }

    /// Resting orders.
    #[must_use]
    pub fn len(&self) -> usize {
        self.orders.len()
    }

    /// Whether nothing rests.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }

    /// Resting orders on one side.
    #[must_use]
    pub fn orders_on(&self, side: Side) -> usize {
        self.side(side).values().map(VecDeque::len).sum()
    }

    /// Price levels on one side.
    #[must_use]
    pub fn depth(&self, side: Side) -> usize {
        self.side(side).len()
    }

    /// Best price of a side.
    #[must_use]
    pub fn best(&self, side: Side) -> Option<i64> {
        match side {
            Side::Buy => self.bids.last_key_value().map(|(p, _)| *p),
            Side::Sell => self.asks.first_key_value().map(|(p, _)| *p),
        }
    }

    fn side(&self, side: Side) -> &BTreeMap<i64, VecDeque<u64>> {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    /// Applies one operation, reporting fills to `sink`.
    pub fn apply(&mut self, op: &Op, sink: &mut impl FillSink) {
        match *op {
            Op::Add {
                id,
                account,
                side,
                price,
                qty,
                tif,
            } => {
                if price <= 0 || qty <= 0 || self.orders.contains_key(&id) {
                    return;
                }
                let (left, stop) = self.take(id, account, side, price, qty, false, sink);
                if left > 0 && stop == Stop::Done && tif == Tif::Gtc {
                    self.rest(id, account, side, price, left);
                }
            }
            Op::Market {
                id,
                account,
                side,
                qty,
            } => {
                if qty <= 0 {
                    return;
                }
                // Cascade's 100% protection band on a unit market: a buy may pay up to twice
                // the best ask; a sell's bound rounds to 0 and clamps to the 1-tick floor.
                let limit = match (side, self.best(side.opposite())) {
                    (_, None) => return,
                    (Side::Buy, Some(best)) => best.saturating_mul(2),
                    (Side::Sell, Some(_)) => 1,
                };
                self.take(id, account, side, limit, qty, false, sink);
            }
            Op::Cancel { id, account } => {
                if self.orders.get(&id).is_some_and(|o| o.account == account) {
                    self.remove(id);
                }
            }
            Op::Amend {
                id,
                account,
                price,
                qty,
            } => self.amend(id, account, price, qty, sink),
        }
    }

    fn amend(&mut self, id: u64, account: u32, price: i64, qty: i64, sink: &mut impl FillSink) {
        let Some(o) = self.orders.get(&id).copied() else {
            return;
        };
        if o.account != account || price <= 0 || qty <= 0 || (price == o.price && qty == o.qty) {
            return;
        }
        if price == o.price && qty < o.qty {
            self.orders.get_mut(&id).expect("present").qty = qty;
            return;
        }
        self.remove(id);
        let (left, stop) = self.take(id, account, o.side, price, qty, true, sink);
        if left > 0 && stop == Stop::Done {
            self.rest(id, account, o.side, price, left);
        }
    }

    fn rest(&mut self, id: u64, account: u32, side: Side, price: i64, qty: i64) {
        let levels = match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        levels.entry(price).or_default().push_back(id);
        self.orders.insert(
            id,
            RefOrder {
                account,
                side,
                price,
                qty,
            },
        );
    }

    fn remove(&mut self, id: u64) {
        let o = self.orders.remove(&id).expect("removing a resting order");
        let levels = match o.side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        let queue = levels.get_mut(&o.price).expect("resting order has a level");
        let at = queue
            .iter()
            .position(|x| *x == id)
            .expect("resting order is queued");
        queue.remove(at);
        if queue.is_empty() {
            levels.remove(&o.price);
        }
    }

    /// Matches a taker; returns its open quantity left and how it stopped.
    #[allow(clippy::too_many_arguments)]
    fn take(
        &mut self,
        taker: u64,
        account: u32,
        side: Side,
        limit: i64,
        mut qty: i64,
        expire_on_self_trade: bool,
        sink: &mut impl FillSink,
    ) -> (i64, Stop) {
        let mut fills = 0u32;
        let fills_max = self.fills_per_taker_max;
        let Self {
            bids, asks, orders, ..
        } = self;
        while qty > 0 {
            let mut level = match side {
                Side::Buy => match asks.first_entry() {
                    Some(e) if *e.key() <= limit => e,
                    _ => break,
                },
                Side::Sell => match bids.last_entry() {
                    Some(e) if *e.key() >= limit => e,
                    _ => break,
                },
            };
            let price = *level.key();
            let queue = level.get_mut();
            while qty > 0 {
                let Some(&maker) = queue.front() else {
                    break;
                };
                let m = orders.get_mut(&maker).expect("queued order is indexed");
                if expire_on_self_trade && m.account == account {
                    return (qty, Stop::Expired);
                }
                if fills >= fills_max {
                    return (qty, Stop::Expired);
                }
                let q = qty.min(m.qty);
                m.qty -= q;
                qty -= q;
                fills += 1;
                let left = m.qty;
                sink.fill(maker, taker, price, q, left);
                if left == 0 {
                    queue.pop_front();
                    orders.remove(&maker);
                }
            }
            if queue.is_empty() {
                level.remove();
            }
        }
        (qty, Stop::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(id: u64, account: u32, side: Side, price: i64, qty: i64) -> Op {
        Op::Add {
            id,
            account,
            side,
            price,
            qty,
            tif: Tif::Gtc,
        }
    }

    #[test]
    fn price_time_priority_and_maker_price() {
        let mut b = RefBook::new();
        let mut t = FillTally::default();
        b.apply(&add(2, 1, Side::Sell, 101, 5), &mut t);
        b.apply(&add(3, 2, Side::Sell, 100, 5), &mut t);
        b.apply(&add(4, 3, Side::Sell, 100, 5), &mut t);
        b.apply(&add(5, 4, Side::Buy, 101, 12), &mut t);
        let mut want = FillTally::default();
        want.record(3, 5, 100, 5);
        want.record(4, 5, 100, 5);
        want.record(2, 5, 101, 2);
        assert_eq!(t, want);
        assert_eq!(b.order(2).map(|o| o.qty), Some(3));
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn amend_expires_at_own_order() {
        let mut b = RefBook::new();
        let mut t = FillTally::default();
        b.apply(&add(2, 7, Side::Sell, 100, 5), &mut t);
        b.apply(&add(3, 7, Side::Buy, 90, 5), &mut t);
        b.apply(
            &Op::Amend {
                id: 3,
                account: 7,
                price: 100,
                qty: 5,
            },
            &mut t,
        );
        assert_eq!(t.fills, 0);
        assert!(b.order(3).is_none());
        assert!(b.order(2).is_some());
    }
}
