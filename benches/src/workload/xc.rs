//! `xc`: the exchange-core test mix.
//!
//! An integer re-implementation of exchange-core's `TestOrdersGenerator` (Apache-2.0; the
//! single-symbol benchmark of its README: 1 symbol, ~1K resting orders on ~750 levels, about
//! 9% GTC, 3% IOC, 6% cancel and 82% move), with this crate's PRNG instead of
//! `java.util.Random`, so the stream is not bit-identical to exchange-core's, but it follows
//! the same rules:
//! - Reference price 100,000 ticks; deviation 5,000 (5%); IOC bounds `[75,000, 125,000]`.
//! - Every 512 operations the generator re-reads the book's orders per side and compares them
//!   with the target (500 a side). Side: 50/50. While a side lacks orders by more than 375
//!   (or before the book first fills) it places (q < 2 of 2); while it lacks some, `q` is
//!   drawn from 10, otherwise from 40.
//! - `q < 2`: place. A lacking side gets a GTC order of `1 + a·b·c` lots (`a, b, c` in `0..6`)
//!   at `last trade ± p`, on the passive side, where `p` averages four draws below
//!   `1 + u²·5000` (`u` uniform in `[0, 1)`); a full side gets an IOC of the same size at the
//!   far bound.
//! - `q = 2`: cancel one of the 512 oldest live orders; otherwise move one of them 1% of the
//!   way toward the last trade price (at least one tick; a random tick when already there).
//!   A move is an amend at the order's open size: it loses priority and trades if it crosses.
//! - Accounts: 1,000, drawn uniformly. The last trade price is clamped to the IOC bounds.
//!
//! The first ~1,000 operations fill the book (exchange-core runs them before timing; here they
//! are part of the stream, under 0.2% of it).

use super::live::Shadow;
use super::{Op, Tif, Workload};
use crate::rng::SplitMix64;
use cascade_engine::Side;

/// Parameters of `xc`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XcParams {
    /// Operations.
    pub ops: usize,
    /// Seed.
    pub seed: u64,
    /// Accounts.
    pub accounts: u32,
    /// Target resting orders, both sides together.
    pub target_orders: usize,
    /// Reference price in ticks.
    pub price: i64,
}

impl Default for XcParams {
    fn default() -> Self {
        Self {
            ops: 1_000_000,
            seed: 42,
            accounts: 1_000,
            target_orders: 1_000,
            price: 100_000,
        }
    }
}

/// How often the generator re-reads the book size, as exchange-core does.
const CHECK_EVERY: usize = 512;
/// Moves and cancels pick among this many of the oldest live orders.
const PICK_AMONG: usize = 512;

/// Generates `xc`.
#[must_use]
#[allow(clippy::too_many_lines)]
pub fn generate(p: &XcParams) -> Workload {
    let mut rng = SplitMix64::new(p.seed);
    let mut shadow = Shadow::default();
    let deviation = (p.price / 20).min(10_000);
    let (price_min, price_max) = (p.price - deviation * 5, p.price + deviation * 5);
    let half = i64::try_from(p.target_orders / 2).expect("fits");
    let fast_fill_threshold = half.min(i64::try_from(CHECK_EVERY).expect("fits")) * 3 / 4;
    let (mut size_bid, mut size_ask) = (0i64, 0i64);
    let mut filled = false;
    let mut next_check = CHECK_EVERY.min(p.target_orders + 1);
    let mut last_trade = p.price;
    let mut ops = Vec::with_capacity(p.ops);
    while ops.len() < p.ops {
        let i = ops.len();
        if i >= next_check {
            next_check += CHECK_EVERY.min(p.target_orders + 1);
            size_bid = i64::try_from(shadow.book.orders_on(Side::Buy)).expect("fits");
            size_ask = i64::try_from(shadow.book.orders_on(Side::Sell)).expect("fits");
        }
        let side = if rng.below(4) >= 2 {
            Side::Buy
        } else {
            Side::Sell
        };
        let lack = half
            - match side {
                Side::Buy => size_bid,
                Side::Sell => size_ask,
            };
        let fast = !filled || lack > fast_fill_threshold;
        let grow = lack > 0;
        if !filled && !grow {
            filled = true;
        }
        let q = rng.below(match (grow, fast) {
            (true, true) => 2,
            (true, false) => 10,
            (false, _) => 40,
        });
        let id = Workload::id_at(i);
        let op = if q < 2 {
            let account = u32::try_from(rng.below(u64::from(p.accounts))).expect("fits");
            let qty = 1 + i64::try_from(rng.below(6) * rng.below(6) * rng.below(6)).expect("fits");
            if grow {
                let u = u128::from(rng.next_u64() >> 32);
                let spread =
                    1 + i64::try_from((u * u * u128::from(deviation.unsigned_abs())) >> 64)
                        .expect("below deviation");
                let spread_u = spread.unsigned_abs();
                let sum: u64 = (0..4).map(|_| rng.below(spread_u)).sum();
                let mut offset = i64::try_from(sum / 4).expect("fits") * 2 - spread;
                // Bids below the last trade, asks above it.
                if (offset > 0) ^ (side == Side::Sell) {
                    offset = -offset;
                }
                Op::Add {
                    id,
                    account,
                    side,
                    price: (last_trade + offset).max(1),
                    qty,
                    tif: Tif::Gtc,
                }
            } else {
                Op::Add {
                    id,
                    account,
                    side,
                    price: match side {
                        Side::Buy => price_max,
                        Side::Sell => price_min,
                    },
                    qty,
                    tif: Tif::Ioc,
                }
            }
        } else {
            let among = shadow.live_len().min(PICK_AMONG);
            if among == 0 {
                // exchange-core draws again; so do we.
                continue;
            }
            let target = shadow
                .nth_oldest(rng.index(among))
                .expect("fewer than live_len");
            let o = *shadow.book.order(target).expect("live orders rest");
            if q == 2 {
                Op::Cancel {
                    id: target,
                    account: o.account,
                }
            } else {
                let gap = last_trade - o.price;
                let step = match gap.signum() {
                    -1 => gap.div_euclid(100),
                    1 => (gap + 99) / 100,
                    _ => {
                        if rng.chance(1, 2) {
                            1
                        } else {
                            -1
                        }
                    }
                };
                Op::Amend {
                    id: target,
                    account: o.account,
                    price: (o.price + step).max(1),
                    qty: o.qty,
                }
            }
        };
        shadow.apply(&op);
        if let Some(t) = shadow.last_trade.take() {
            last_trade = t.clamp(price_min, price_max);
        }
        ops.push(op);
    }
    Workload {
        name: "xc",
        seed: p.seed,
        description: format!(
            "{} ops, seed {}: exchange-core test mix (GTC/IOC/cancel/move), {} accounts, \
             ~{} resting orders around {} ticks",
            p.ops, p.seed, p.accounts, p.target_orders, p.price
        ),
        ops,
    }
}
