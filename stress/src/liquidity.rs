//! The market makers: a ladder shaped like a real book snapshot, around the mark, that widens
//! and thins as volatility rises.
//!
//! # The ladder
//! The snapshot's levels are measured from its mid (`|price − mid| / mid`) and merged into
//! buckets `bucket_bps` wide (a level goes to the bucket whose outer edge it does not pass);
//! each bucket keeps its USD notional. The makers quote one order per bucket and side at the
//! bucket's outer edge, sized `notional × scale × depth × (1 − withdrawn)`.
//!
//! # The rules (documented in `docs/STRESS.md`)
//! - Anchor: the step's index. Makers price off the index (other venues, spot) and hedge
//!   there; anchoring on the venue's own mark would let the mark drift from the index for good,
//!   since the mark's book input would then follow the mark itself. Liquidations feed back
//!   through what they leave of the book until the next requote: the mark's book input.
//! - Volatility: `vol = sqrt(Σ r²)` over the last `vol_window_s` one-second index returns, in
//!   basis points of the window (not annualised).
//! - Widening: every offset is multiplied by `1 + widen_per_100bps × vol / 100`.
//! - Withdrawal: the makers pull `withdraw_max × clamp((vol − start)/(full − start), 0, 1)` of
//!   every bucket's size.
//! - Requote: every `requote_s` steps the makers cancel everything and quote afresh, so what
//!   liquidations took is refilled only then.

use crate::data::DepthLevel;
use crate::scenario::LiquidityConfig;
use cascade_engine::Side;
use std::collections::VecDeque;

/// One bucket of the profile: distance from mid (fraction) and USD notional.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    /// Distance of the bucket's outer edge from mid, as a fraction of mid.
    pub offset: f64,
    /// Notional in USD.
    pub notional_usd: f64,
}

/// The book shape, per side (0 bids, 1 asks), nearest bucket first.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    /// Buckets per side.
    pub sides: [Vec<Bucket>; 2],
}

impl Profile {
    /// Buckets a snapshot.
    #[must_use]
    pub fn from_snapshot(levels: &[DepthLevel], bucket_bps: f64) -> Self {
        let best = |bid: bool| {
            let prices = levels
                .iter()
                .filter(|l| l.bid == bid)
                .map(|l| l.price.to_f64());
            if bid {
                prices.fold(f64::MIN, f64::max)
            } else {
                prices.fold(f64::MAX, f64::min)
            }
        };
        let mid = (best(true) + best(false)) / 2.0;
        let mut sides: [Vec<Bucket>; 2] = [Vec::new(), Vec::new()];
        for l in levels {
            let price = l.price.to_f64();
            let bps = (price - mid).abs() / mid * 10_000.0;
            // At least bucket 1: a quote is never at the mid itself.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let k = ((bps / bucket_bps).ceil() as usize).max(1);
            let side = &mut sides[usize::from(!l.bid)];
            if side.len() < k {
                side.resize(
                    k,
                    Bucket {
                        offset: 0.0,
                        notional_usd: 0.0,
                    },
                );
            }
            side[k - 1].notional_usd += price * l.qty.to_f64();
        }
        for side in &mut sides {
            for (i, b) in side.iter_mut().enumerate() {
                #[allow(clippy::cast_precision_loss)]
                let edge = (i + 1) as f64 * bucket_bps / 10_000.0;
                b.offset = edge;
            }
            side.retain(|b| b.notional_usd > 0.0);
        }
        Self { sides }
    }

    /// Total USD notional within `fraction` of mid on a side.
    #[must_use]
    pub fn notional_within(&self, side: Side, fraction: f64) -> f64 {
        self.sides[side.index()]
            .iter()
            .filter(|b| b.offset <= fraction)
            .map(|b| b.notional_usd)
            .sum()
    }
}

/// The makers' state: the trailing returns they watch.
#[derive(Clone, Debug)]
pub struct Makers {
    cfg: LiquidityConfig,
    profile: Profile,
    returns_sq: VecDeque<f64>,
    sum_sq: f64,
    last_index: Option<i64>,
}

/// One quote of the ladder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quote {
    /// Side.
    pub side: Side,
    /// Price, ticks.
    pub price: i64,
    /// Size, lots.
    pub lots: i64,
}

impl Makers {
    /// Makers quoting `profile` by the rules in `cfg`.
    #[must_use]
    pub fn new(cfg: &LiquidityConfig, profile: Profile) -> Self {
        Self {
            cfg: cfg.clone(),
            profile,
            returns_sq: VecDeque::with_capacity(cfg.vol_window_s as usize + 1),
            sum_sq: 0.0,
            last_index: None,
        }
    }

    /// Notes the index of a new step.
    pub fn observe(&mut self, index: i64) {
        if let Some(prev) = self.last_index {
            #[allow(clippy::cast_precision_loss)]
            let r = (index - prev) as f64 / prev as f64;
            self.returns_sq.push_back(r * r);
            self.sum_sq += r * r;
            if self.returns_sq.len() > self.cfg.vol_window_s as usize {
                let old = self.returns_sq.pop_front().unwrap_or(0.0);
                self.sum_sq -= old;
            }
        }
        self.last_index = Some(index);
    }

    /// Realized volatility over the window, basis points.
    #[must_use]
    pub fn vol_bps(&self) -> f64 {
        // Recomputed from the window (not the running sum) so rounding never accumulates.
        let s: f64 = self.returns_sq.iter().sum();
        // An empty float sum is −0.0, and `max` may keep either zero: say +0.0 explicitly so
        // the report prints the same under every optimisation level.
        if s > 0.0 {
            s.sqrt() * 10_000.0
        } else {
            0.0
        }
    }

    /// The fraction of size withdrawn at the current volatility.
    #[must_use]
    pub fn withdrawn(&self) -> f64 {
        let c = &self.cfg;
        let x =
            (self.vol_bps() - c.withdraw_start_bps) / (c.withdraw_full_bps - c.withdraw_start_bps);
        if x > 0.0 {
            x.min(1.0) * c.withdraw_max
        } else {
            0.0
        }
    }

    /// The ladder around `anchor` (ticks) for a market of `tick_usd` and `lot` base units,
    /// written into `out` (cleared first).
    pub fn quotes(&self, anchor: i64, tick_usd: f64, lot: f64, out: &mut Vec<Quote>) {
        out.clear();
        let c = &self.cfg;
        let widen = 1.0 + c.widen_per_100bps * self.vol_bps() / 100.0;
        let keep = c.scale * c.depth * (1.0 - self.withdrawn());
        #[allow(clippy::cast_precision_loss)]
        let anchor_f = anchor as f64;
        for side in [Side::Buy, Side::Sell] {
            for b in &self.profile.sides[side.index()] {
                let off = b.offset * widen;
                let raw = match side {
                    Side::Buy => (anchor_f * (1.0 - off)).floor(),
                    Side::Sell => (anchor_f * (1.0 + off)).ceil(),
                };
                // The ladder's values are far inside i64 (prices within ±100% of the anchor).
                #[allow(clippy::cast_possible_truncation)]
                let price = match side {
                    Side::Buy => (raw as i64).min(anchor - 1),
                    Side::Sell => (raw as i64).max(anchor + 1),
                };
                if price <= 0 {
                    continue;
                }
                #[allow(clippy::cast_precision_loss)]
                let price_usd = price as f64 * tick_usd;
                let lots_f = (b.notional_usd * keep / (price_usd * lot)).floor();
                #[allow(clippy::cast_possible_truncation)]
                let lots = lots_f.min(1e15) as i64;
                if lots > 0 {
                    out.push(Quote { side, price, lots });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{read_depth, Inputs};

    fn cfg() -> LiquidityConfig {
        crate::scenario::parse(
            r#"
name = "t"
[population]
accounts = 0
notional_usd_min = 10
notional_usd_max = 10
[liquidity]
snapshot = "embedded:btcusdt-20230404"
widen_per_100bps = 1.0
withdraw_start_bps = 50
withdraw_full_bps = 150
withdraw_max = 0.8
[path]
kind = "shock"
start_usd = 1
duration_s = 1
"#,
            std::path::Path::new("."),
            &[],
        )
        .expect("valid")
        .liquidity
    }

    fn embedded() -> Profile {
        let inputs = Inputs {
            data_dir: ".".into(),
            base_dir: ".".into(),
        };
        let levels = read_depth(&inputs, "embedded:btcusdt-20230404").expect("embedded");
        assert_eq!(levels.len(), 2_000);
        Profile::from_snapshot(&levels, 1.0)
    }

    #[test]
    fn embedded_snapshot_keeps_its_depth() {
        let p = embedded();
        // The snapshot holds about 48.2M USD of bids and 39.9M of asks, all within 0.5%.
        let bids = p.notional_within(Side::Buy, 0.005);
        let asks = p.notional_within(Side::Sell, 0.005);
        assert!((48.0e6..48.5e6).contains(&bids), "{bids}");
        assert!((39.7e6..40.2e6).contains(&asks), "{asks}");
        assert!(p.sides[0][0].offset > 0.0);
    }

    #[test]
    fn makers_widen_and_withdraw_with_volatility() {
        let mut m = Makers::new(&cfg(), embedded());
        let mut calm = Vec::new();
        m.observe(281_000);
        m.observe(281_001);
        m.quotes(281_000, 0.1, 0.001, &mut calm);
        assert!(m.withdrawn() < 1e-9);
        // A 1% drop in one step: 100 bps of volatility, half-way to full withdrawal.
        m.observe(278_191);
        let mut stressed = Vec::new();
        m.quotes(278_191, 0.1, 0.001, &mut stressed);
        assert!((m.withdrawn() - 0.4).abs() < 0.01, "{}", m.withdrawn());
        let lots = |q: &[Quote]| q.iter().map(|q| q.lots).sum::<i64>();
        assert!(lots(&stressed) * 10 < lots(&calm) * 7, "size pulled");
        let best_bid = |q: &[Quote], a: i64| {
            q.iter()
                .filter(|q| q.side == Side::Buy)
                .map(|q| a - q.price)
                .min()
                .unwrap_or(0)
        };
        assert!(
            best_bid(&stressed, 278_191) >= best_bid(&calm, 281_000),
            "spread widened"
        );
        assert!(calm
            .iter()
            .all(|q| (q.side == Side::Buy) == (q.price < 281_000)));
    }
}
