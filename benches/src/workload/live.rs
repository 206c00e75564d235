//! The generators' view of the book: the reference book plus the set of live order ids, with
//! O(1) uniform sampling, insertion and removal.

use crate::reference::{FillSink, RefBook};
use crate::workload::Op;
use std::collections::BTreeSet;

/// What a generator knows about the book it is writing for.
#[derive(Debug, Default)]
pub(crate) struct Shadow {
    pub(crate) book: RefBook,
    /// Live order ids, in no particular order.
    live: Vec<u64>,
    /// Position of each id in `live` (`u32::MAX`: not live), indexed by id.
    position: Vec<u32>,
    /// Live order ids by age (ids grow with time; an amend keeps its id and its place).
    oldest: BTreeSet<u64>,
    /// Price of the last trade.
    pub(crate) last_trade: Option<i64>,
}

/// Collects the makers a command filled out of the book.
#[derive(Default)]
struct Gone {
    makers: Vec<u64>,
    last_price: Option<i64>,
}

impl FillSink for Gone {
    fn fill(&mut self, maker: u64, _taker: u64, price: i64, _qty: i64, maker_left: i64) {
        if maker_left == 0 {
            self.makers.push(maker);
        }
        self.last_price = Some(price);
    }
}

impl Shadow {
    /// Live orders.
    pub(crate) fn live_len(&self) -> usize {
        self.live.len()
    }

    /// A uniformly drawn live order id.
    pub(crate) fn live_at(&self, i: usize) -> u64 {
        self.live[i]
    }

    /// The `k`-th oldest live order.
    pub(crate) fn nth_oldest(&self, k: usize) -> Option<u64> {
        self.oldest.iter().nth(k).copied()
    }

    /// Applies an operation to the shadow book and updates the live set.
    pub(crate) fn apply(&mut self, op: &Op) {
        let mut gone = Gone::default();
        self.book.apply(op, &mut gone);
        for m in gone.makers {
            self.unlive(m);
        }
        if gone.last_price.is_some() {
            self.last_trade = gone.last_price;
        }
        match *op {
            Op::Add { id, .. } | Op::Amend { id, .. } | Op::Cancel { id, .. } => {
                if self.book.order(id).is_some() {
                    self.make_live(id);
                } else {
                    self.unlive(id);
                }
            }
            Op::Market { .. } => {}
        }
    }

    fn slot(&mut self, id: u64) -> &mut u32 {
        let i = usize::try_from(id).expect("ids fit usize");
        if i >= self.position.len() {
            self.position.resize((i + 1).next_power_of_two(), u32::MAX);
        }
        &mut self.position[i]
    }

    fn make_live(&mut self, id: u64) {
        let n = u32::try_from(self.live.len()).expect("live orders fit u32");
        let slot = self.slot(id);
        if *slot == u32::MAX {
            *slot = n;
            self.live.push(id);
            self.oldest.insert(id);
        }
    }

    fn unlive(&mut self, id: u64) {
        let slot = self.slot(id);
        let at = *slot;
        if at == u32::MAX {
            return;
        }
        *slot = u32::MAX;
        self.oldest.remove(&id);
        let at = at as usize;
        self.live.swap_remove(at);
        if at < self.live.len() {
            let moved = self.live[at];
            *self.slot(moved) = u32::try_from(at).expect("fits");
        }
    }
}
