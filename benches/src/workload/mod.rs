//! The standard workloads: engine-neutral operation streams, each a pure function of its
//! parameters and seed.
//!
//! # Layout
//! - [`Op`]: one operation (add, market, cancel, amend) that turns into one engine
//!   [`Command`](cascade_engine::Command) and can be fed to any order book.
//! - [`mix`], [`xc`], [`quantcup`]: the three standard workloads.
//! - [`Workload::without_amends`]: the peer subset (amend as cancel + add).
//!
//! # Invariants
//! Operation `i` of a stream is applied with sequence number `i + FIRST_SEQ` (sequence 1 creates
//! the market), and Cascade gives an order the sequence number of the command that placed it.
//! Every generator therefore numbers the order placed by operation `i` as `i + FIRST_SEQ`, so
//! every engine reports the same ids and the trade checksums compare. [`Workload::check_ids`]
//! asserts it.

mod live;
pub mod mix;
pub mod quantcup;
pub mod xc;

use cascade_engine::Side;
use std::collections::HashMap;
use std::fmt;

/// Sequence number of a stream's first operation: sequence 1 creates the market.
pub const FIRST_SEQ: u64 = 2;

/// Time in force of a limit order in a workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tif {
    /// Rests what does not fill.
    Gtc,
    /// Expires what does not fill at once.
    Ioc,
}

/// One engine-neutral operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// A limit order.
    Add {
        /// Order id (= the operation's sequence number).
        id: u64,
        /// Owner.
        account: u32,
        /// Side.
        side: Side,
        /// Limit price in ticks (> 0).
        price: i64,
        /// Quantity in lots (> 0).
        qty: i64,
        /// Time in force.
        tif: Tif,
    },
    /// A market order (immediate or cancel).
    Market {
        /// Order id (= the operation's sequence number).
        id: u64,
        /// Owner.
        account: u32,
        /// Side.
        side: Side,
        /// Quantity in lots (> 0).
        qty: i64,
    },
    /// Cancels an order; a no-op when it is no longer resting.
    Cancel {
        /// Order to cancel.
        id: u64,
        /// Its owner (Cascade checks ownership; peers ignore it).
        account: u32,
    },
    /// Changes a resting order's price and open quantity (Cascade semantics: same price and
    /// smaller size keeps priority; anything else loses it and may trade).
    Amend {
        /// Order to amend.
        id: u64,
        /// Its owner.
        account: u32,
        /// New limit price.
        price: i64,
        /// New open quantity.
        qty: i64,
    },
}

/// Operation counts of a stream, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpCounts {
    /// GTC limit adds.
    pub gtc: u64,
    /// IOC limit adds.
    pub ioc: u64,
    /// Market orders.
    pub market: u64,
    /// Cancels.
    pub cancel: u64,
    /// Amends.
    pub amend: u64,
}

impl OpCounts {
    /// Counts the operations of a stream.
    #[must_use]
    pub fn of(ops: &[Op]) -> Self {
        let mut c = Self::default();
        for op in ops {
            match op {
                Op::Add { tif: Tif::Gtc, .. } => c.gtc += 1,
                Op::Add { tif: Tif::Ioc, .. } => c.ioc += 1,
                Op::Market { .. } => c.market += 1,
                Op::Cancel { .. } => c.cancel += 1,
                Op::Amend { .. } => c.amend += 1,
            }
        }
        c
    }

    fn total(&self) -> u64 {
        self.gtc + self.ioc + self.market + self.cancel + self.amend
    }
}

impl fmt::Display for OpCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.total().max(1);
        // Tenths of a percent, in integers.
        let pct = |n: u64| {
            let t = n * 1000 / total;
            format!("{}.{}%", t / 10, t % 10)
        };
        write!(
            f,
            "gtc {} ioc {} market {} cancel {} amend {}",
            pct(self.gtc),
            pct(self.ioc),
            pct(self.market),
            pct(self.cancel),
            pct(self.amend)
        )
    }
}

/// A named, seeded stream of operations.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Short name (`mix`, `xc`, `quantcup`).
    pub name: &'static str,
    /// The seed it was generated with (0 for recorded feeds).
    pub seed: u64,
    /// Its parameters, in words.
    pub description: String,
    /// The operations.
    pub ops: Vec<Op>,
}

impl Workload {
    /// The order id that operation `index` places, if it places one.
    #[must_use]
    pub fn id_at(index: usize) -> u64 {
        u64::try_from(index).expect("index fits u64") + FIRST_SEQ
    }

    /// Operation counts.
    #[must_use]
    pub fn counts(&self) -> OpCounts {
        OpCounts::of(&self.ops)
    }

    /// Checks the numbering invariant of the module docs.
    ///
    /// # Panics
    /// If an add or market order is not numbered with its sequence number.
    pub fn check_ids(&self) {
        for (i, op) in self.ops.iter().enumerate() {
            if let Op::Add { id, .. } | Op::Market { id, .. } = op {
                assert_eq!(*id, Self::id_at(i), "op {i} of {} misnumbered", self.name);
            }
        }
    }

    /// The first `n` operations (for the small-input test mode).
    #[must_use]
    pub fn truncated(&self, n: usize) -> Self {
        let mut w = self.clone();
        w.ops.truncate(n);
        w
    }

    /// The stream in the subset every peer book supports: each amend becomes a cancel followed
    /// by a GTC add of the new price and quantity under a new id (the sequence number it now
    /// has), and later operations on the order use the new id. Orders are renumbered so the
    /// numbering invariant holds. Run every engine of a comparison, Cascade included, on this
    /// stream, so that their fills compare.
    #[must_use]
    pub fn without_amends(&self) -> Self {
        let mut ops = Vec::with_capacity(self.ops.len() + self.ops.len() / 8);
        // Original id -> current id, and current id -> side.
        let mut alias: HashMap<u64, u64> = HashMap::new();
        let mut sides: HashMap<u64, Side> = HashMap::new();
        let current = |alias: &HashMap<u64, u64>, id: u64| alias.get(&id).copied().unwrap_or(0);
        for op in &self.ops {
            let next_id = Self::id_at(ops.len());
            match *op {
                Op::Add {
                    id,
                    account,
                    side,
                    price,
                    qty,
                    tif,
                } => {
                    alias.insert(id, next_id);
                    sides.insert(next_id, side);
                    ops.push(Op::Add {
                        id: next_id,
                        account,
                        side,
                        price,
                        qty,
                        tif,
                    });
                }
                Op::Market {
                    id,
                    account,
                    side,
                    qty,
                } => {
                    alias.insert(id, next_id);
                    ops.push(Op::Market {
                        id: next_id,
                        account,
                        side,
                        qty,
                    });
                }
                Op::Cancel { id, account } => ops.push(Op::Cancel {
                    id: current(&alias, id),
                    account,
                }),
                Op::Amend {
                    id,
                    account,
                    price,
                    qty,
                } => {
                    let old = current(&alias, id);
                    let Some(side) = sides.get(&old).copied() else {
                        // An amend of an order never placed does nothing anywhere.
                        continue;
                    };
                    ops.push(Op::Cancel { id: old, account });
                    let new_id = Self::id_at(ops.len());
                    alias.insert(id, new_id);
                    sides.insert(new_id, side);
                    ops.push(Op::Add {
                        id: new_id,
                        account,
                        side,
                        price,
                        qty,
                        tif: Tif::Gtc,
                    });
                }
            }
        }
        let w = Self {
            name: self.name,
            seed: self.seed,
            description: format!("{} (amend as cancel + add)", self.description),
            ops,
        };
        w.check_ids();
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_amends_renumbers_and_follows_ids() {
        let w = Workload {
            name: "t",
            seed: 0,
            description: String::new(),
            ops: vec![
                Op::Add {
                    id: 2,
                    account: 1,
                    side: Side::Buy,
                    price: 10,
                    qty: 5,
                    tif: Tif::Gtc,
                },
                Op::Amend {
                    id: 2,
                    account: 1,
                    price: 11,
                    qty: 4,
                },
                Op::Cancel { id: 2, account: 1 },
            ],
        };
        let p = w.without_amends();
        assert_eq!(
            p.ops,
            vec![
                Op::Add {
                    id: 2,
                    account: 1,
                    side: Side::Buy,
                    price: 10,
                    qty: 5,
                    tif: Tif::Gtc
                },
                Op::Cancel { id: 2, account: 1 },
                Op::Add {
                    id: 4,
                    account: 1,
                    side: Side::Buy,
                    price: 11,
                    qty: 4,
                    tif: Tif::Gtc
                },
                Op::Cancel { id: 4, account: 1 },
            ]
        );
    }
}
