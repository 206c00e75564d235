//! `mix`: the synthetic steady-state workload.
//!
//! # The mix
//! Each operation is drawn independently (seeded SplitMix64):
//! - **50% limit add (GTC)**: side 50/50, price `mid ∓ d` with `d` uniform in `-10..=200` (bids
//!   below mid, asks above; up to 10 ticks through mid, so about 5% of adds are marketable),
//!   quantity uniform in `1..=100` lots, account uniform in `0..1000`;
//! - **35% cancel** of a live order drawn uniformly (by its owner);
//! - **10% aggressive**: half IOC limit at `mid ± 0..=50` ticks through mid, half market
//!   orders; quantity `max(1, u · live / target)` with `u` uniform in `1..=150`, which holds
//!   the book near `target` resting orders (about 1.5 orders' worth at the target);
//! - **5% amend** of a live order drawn uniformly: half a size-down in place (keeps priority),
//!   half a move to a fresh price on its side at its open size (loses priority, may trade).
//!
//! `mid` starts at 1,000,000 ticks and moves ±1 tick with probability 1/16 per operation,
//! reflecting at ±100 ticks from the start, so the book is stationary: it neither drifts nor
//! grows. A cancel or amend drawn while the book is empty (the first few operations) becomes an
//! add. Cancels and amends always target live orders, so they all do real work.
//!
//! # Defaults
//! 1,000,000 operations, seed 42, target 5,000 resting orders (about 400 levels).

use super::live::Shadow;
use super::{Op, Tif, Workload};
use crate::rng::SplitMix64;
use cascade_engine::Side;

/// Parameters of `mix`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MixParams {
    /// Operations.
    pub ops: usize,
    /// Seed.
    pub seed: u64,
    /// Accounts (`0..accounts`).
    pub accounts: u32,
    /// Starting mid price in ticks.
    pub center: i64,
    /// How far mid may wander from `center`, in ticks.
    pub mid_range: i64,
    /// Farthest a passive add rests from mid, in ticks.
    pub depth: i64,
    /// Farthest an add reaches through mid, in ticks.
    pub through: i64,
    /// Resting orders the aggressive flow holds the book at.
    pub target_orders: usize,
    /// Largest add, in lots.
    pub qty_max: i64,
    /// Largest aggressive order at the target book size, in lots.
    pub aggressive_qty_max: i64,
}

impl Default for MixParams {
    fn default() -> Self {
        Self {
            ops: 1_000_000,
            seed: 42,
            accounts: 1_000,
            center: 1_000_000,
            mid_range: 100,
            depth: 200,
            through: 10,
            target_orders: 5_000,
            qty_max: 100,
            aggressive_qty_max: 150,
        }
    }
}

struct Gen<'a> {
    p: &'a MixParams,
    rng: SplitMix64,
    mid: i64,
    shadow: Shadow,
}

impl Gen<'_> {
    fn side(&mut self) -> Side {
        if self.rng.chance(1, 2) {
            Side::Buy
        } else {
            Side::Sell
        }
    }

    fn account(&mut self) -> u32 {
        u32::try_from(self.rng.below(u64::from(self.p.accounts))).expect("below a u32")
    }

    /// A passive-ish price on `side`: `d` ticks behind mid, `d` in `-through..=depth`.
    fn price(&mut self, side: Side) -> i64 {
        let d = self.rng.range(-self.p.through, self.p.depth);
        match side {
            Side::Buy => self.mid - d,
            Side::Sell => self.mid + d,
        }
    }

    fn step_mid(&mut self) {
        if self.rng.chance(1, 16) {
            let step = if self.rng.chance(1, 2) { 1 } else { -1 };
            let next = self.mid + step;
            self.mid = if (next - self.p.center).abs() > self.p.mid_range {
                self.mid - step
            } else {
                next
            };
        }
    }

    fn add(&mut self, id: u64) -> Op {
        let side = self.side();
        Op::Add {
            id,
            account: self.account(),
            side,
            price: self.price(side),
            qty: self.rng.range(1, self.p.qty_max),
            tif: Tif::Gtc,
        }
    }

    fn aggressive(&mut self, id: u64) -> Op {
        let side = self.side();
        let base = self.rng.range(1, self.p.aggressive_qty_max);
        let live = i64::try_from(self.shadow.live_len()).expect("fits");
        let target = i64::try_from(self.p.target_orders.max(1)).expect("fits");
        let qty = (base * live / target).max(1);
        let account = self.account();
        if self.rng.chance(1, 2) {
            let through = self.rng.range(0, 50);
            let price = match side {
                Side::Buy => self.mid + through,
                Side::Sell => self.mid - through,
            };
            Op::Add {
                id,
                account,
                side,
                price,
                qty,
                tif: Tif::Ioc,
            }
        } else {
            Op::Market {
                id,
                account,
                side,
                qty,
            }
        }
    }

    fn pick_live(&mut self) -> u64 {
        let i = self.rng.index(self.shadow.live_len());
        self.shadow.live_at(i)
    }

    fn cancel(&mut self) -> Op {
        let id = self.pick_live();
        let o = *self.shadow.book.order(id).expect("live orders rest");
        Op::Cancel {
            id,
            account: o.account,
        }
    }

    fn amend(&mut self) -> Op {
        let id = self.pick_live();
        let o = *self.shadow.book.order(id).expect("live orders rest");
        if o.qty > 1 && self.rng.chance(1, 2) {
            return Op::Amend {
                id,
                account: o.account,
                price: o.price,
                qty: self.rng.range(1, o.qty - 1),
            };
        }
        let mut price = self.price(o.side);
        if price == o.price {
            price -= o.side.sign();
        }
        Op::Amend {
            id,
            account: o.account,
            price,
            qty: o.qty,
        }
    }
}

/// Generates `mix`.
#[must_use]
pub fn generate(p: &MixParams) -> Workload {
    let mut g = Gen {
        p,
        rng: SplitMix64::new(p.seed),
        mid: p.center,
        shadow: Shadow::default(),
    };
    let mut ops = Vec::with_capacity(p.ops);
    for i in 0..p.ops {
        g.step_mid();
        let id = Workload::id_at(i);
        let r = g.rng.below(100);
        let empty = g.shadow.live_len() == 0;
        // A cancel or amend needs a live order; before there is one it is an add.
        let op = if r < 50 || (empty && !(85..95).contains(&r)) {
            g.add(id)
        } else if r < 85 {
            g.cancel()
        } else if r < 95 {
            g.aggressive(id)
        } else {
            g.amend()
        };
        g.shadow.apply(&op);
        ops.push(op);
    }
    Workload {
        name: "mix",
        seed: p.seed,
        description: format!(
            "{} ops, seed {}: 50% add (mid -10..+200 ticks), 35% cancel, 10% IOC/market, \
             5% amend; {} accounts, book held near {} orders",
            p.ops, p.seed, p.accounts, p.target_orders
        ),
        ops,
    }
}
