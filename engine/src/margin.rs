//! Margin: account health, the pre-trade check, and the liquidation trigger index.
//!
//! # Layout
//! [`MarketRisk`] is the risk half of a market: its [`RiskParams`], index and mark prices, the
//! smoothed basis and funding samples, and two [`TriggerHeap`]s of liquidation prices (longs,
//! shorts).
//!
//! # Money
//! A position's value at the mark is `size × mark × quote_per_tick_lot + quote` (see
//! `account.rs`). Cross equity is collateral plus the values of the account's cross positions;
//! an isolated position's equity is its isolated margin plus its value. Maintenance margin comes
//! from the market's tiers on the notional at the mark (Binance/Hyperliquid). An account (or
//! isolated position) is liquidatable when its maintenance margin is positive and its equity is
//! at or below it.
//!
//! Initial margin counts resting orders: a position's *exposure* is the larger of
//! `|size + resting buys|` and `|size − resting sells|` lots, and its initial margin is
//! `exposure × mark × quote_per_tick_lot / leverage`, rounded up, with the leverage capped by
//! the tier of that notional (Hyperliquid-style: the larger side's orders count). An order that
//! does not raise exposure needs no margin; one that does must leave equity ≥ initial margin of
//! every position plus the order's open loss against the mark (Binance's "cost").
//!
//! # Complexity
//! Health and the pre-trade check are O(positions of the account). A trigger is solved in
//! O(tiers) ([`line_trigger`]: closed form on its tier, one division, proved by the
//! predicate). A mark update that liquidates nobody is O(1) per market (a look at the top of
//! each heap), plus O(accounts with cross positions in several markets), whose triggers depend
//! on more than one mark and are recomputed on every mark update.

use crate::account::{Accounts, MarginMode, Position};
use crate::book::NIL;
use crate::command::Side;
use crate::reject::Reject;
use crate::risk_params::RiskParams;
use crate::state::{Engine, Market};
use crate::trigger::{HeapOrder, TriggerHeap};
use cascade_risk::liquidation::{bankruptcy_price, IsolatedPosition};
use cascade_risk::margin::MarginTiers;
use cascade_risk::mark::BasisEma;
use cascade_risk::{PositionSize, Price, Quote};

/// The risk half of a margined market.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MarketRisk {
    /// Parameters.
    pub params: RiskParams,
    /// Last index (oracle) price.
    pub index: Option<Price>,
    /// Mark price.
    pub mark: Option<Price>,
    /// Smoothed basis (book mid − index).
    pub basis: BasisEma,
    /// Sum of premium samples since the last funding, in parts per billion.
    pub premium_sum_ppb: i128,
    /// Number of premium samples since the last funding.
    pub premium_samples: u32,
    /// Rate of the last funding interval, in parts per billion.
    pub funding_rate_ppb: i64,
    /// Long positions by liquidation price (highest first).
    pub longs: TriggerHeap,
    /// Short positions by liquidation price (lowest first).
    pub shorts: TriggerHeap,
}

impl MarketRisk {
    /// Fresh risk state for a market.
    #[must_use]
    pub fn new(params: RiskParams, capacity: usize) -> Self {
        Self {
            params,
            index: None,
            mark: None,
            basis: BasisEma::new(),
            premium_sum_ppb: 0,
            premium_samples: 0,
            funding_rate_ppb: 0,
            longs: TriggerHeap::new(HeapOrder::MaxFirst, capacity),
            shorts: TriggerHeap::new(HeapOrder::MinFirst, capacity),
        }
    }
}

/// Margin figures of an account's cross positions (or of one isolated position).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Health {
    /// Equity: collateral (or isolated margin) plus position values at the mark.
    pub equity: i128,
    /// Maintenance margin.
    pub maintenance: i128,
    /// Initial margin of positions and resting orders.
    pub initial: i128,
}

impl Health {
    /// Whether the liquidation waterfall must run.
    #[must_use]
    pub fn liquidatable(&self) -> bool {
        self.maintenance > 0 && self.equity <= self.maintenance
    }
}

/// The leverage new positions start with: 20x (Binance's default), capped by the market.
#[must_use]
pub fn default_leverage(m: &Market) -> u16 {
    m.risk.as_ref().map_or(1, |r| {
        u16::try_from(r.params.leverage_max().min(20)).unwrap_or(1)
    })
}

/// Checks the lots a position could reach if every resting order on one side filled (plus a
/// new order of `buy` or `sell` lots) against the position limit.
///
/// # Errors
/// [`Reject::PositionAboveMax`].
#[inline]
pub fn check_reach(base: &Position, buy: i64, sell: i64, lots_max: i64) -> Result<(), Reject> {
    if reach_over(base, reach(base, buy, sell), buy, sell, lots_max) {
        return Err(Reject::PositionAboveMax);
    }
    Ok(())
}

/// The position with every resting buy filled (plus `buy` lots) and with every resting sell
/// filled (plus `sell`), in 64 bits; `None` if a sum overflows (never within the limits).
#[inline(always)]
fn reach(p: &Position, buy: i64, sell: i64) -> Option<(i64, i64)> {
    let up = p.size.checked_add(p.order_qty_buy)?.checked_add(buy)?;
    let down = p.size.checked_sub(p.order_qty_sell)?.checked_sub(sell)?;
    Some((up, down))
}

/// Whether [`reach`]'s sums pass `lots_max` on either side. Every order runs this, so the
/// sums are 64-bit; on an overflow the 128-bit sums, which cannot overflow, decide, so the
/// answer is the one exact arithmetic gives.
#[inline(always)]
fn reach_over(p: &Position, sums: Option<(i64, i64)>, buy: i64, sell: i64, lots_max: i64) -> bool {
    match sums {
        // `-down` and `-lots_max` cannot overflow there: the 64-bit form of the same test.
        Some((up, down)) if lots_max >= 0 => up > lots_max || down < -lots_max,
        Some((up, down)) => i128::from(up).max(-i128::from(down)) > i128::from(lots_max),
        None => {
            let up = i128::from(p.size) + i128::from(p.order_qty_buy) + i128::from(buy);
            let down = i128::from(p.size) - i128::from(p.order_qty_sell) - i128::from(sell);
            up.max(-down) > i128::from(lots_max)
        }
    }
}

/// Lots a position could reach if all its resting orders on one side filled.
// Always: the pre-trade check calls it twice for every order, and as a call (the validation it
// sits in is too large for the inliner) the call costs as much as the body.
#[inline(always)]
#[must_use]
pub fn exposure(p: &Position, extra_buy: i64, extra_sell: i64) -> i64 {
    let up = (p.size + p.order_qty_buy + extra_buy).abs();
    let down = (p.size - p.order_qty_sell - extra_sell).abs();
    up.max(down)
}

/// Value of a position at `mark`: its unrealized PnL.
#[must_use]
#[inline]
pub fn value(p: &Position, mark: i64, c: i64) -> i128 {
    mul3_wide(p.size, mark, c) + i128::from(p.quote)
}

/// `a × b × c` exactly: two 64-bit checked products when they fit (within the spec they do),
/// the 128-bit product otherwise. A checked 128-bit product chain is some 40 instructions.
#[inline]
fn mul3_wide(a: i64, b: i64, c: i64) -> i128 {
    match a.checked_mul(b).and_then(|v| v.checked_mul(c)) {
        Some(v) => i128::from(v),
        None => i128::from(a) * i128::from(b) * i128::from(c),
    }
}

/// Notional of `lots` at `mark`, in quantums.
///
/// # Panics
/// Never for positions within `position_lots_max ≤ qty_max`: the market spec proves
/// `qty_max × price_max × quote_per_tick_lot` fits in `i64`.
#[must_use]
#[inline]
pub fn notional(lots: i64, mark: i64, c: i64) -> i64 {
    // `mul3_i64` takes two 64-bit checked products and the 128-bit one only out of line.
    cascade_risk::num::mul3_i64(lots.abs(), mark, c).expect("invariant: notional fits (spec)")
}

/// Maintenance margin of a position at `mark`.
#[must_use]
pub fn maintenance(p: &Position, params: &RiskParams, mark: i64, c: i64) -> i64 {
    if p.size == 0 {
        return 0;
    }
    params
        .tiers
        .maintenance_margin(Quote(notional(p.size, mark, c)))
        .expect("invariant: notionals are non-negative")
        .0
}

/// Initial margin of a position's exposure (with extra order lots) at `mark`.
#[must_use]
#[inline]
pub fn initial(p: &Position, params: &RiskParams, mark: i64, c: i64, buy: i64, sell: i64) -> i64 {
    let n = notional(exposure(p, buy, sell), mark, c);
    if n == 0 {
        return 0;
    }
    let tier_max = params
        .tiers
        .max_leverage(Quote(n))
        .expect("invariant: non-negative");
    // `n` is a non-negative i64 and the leverage at least 1, so the quotient rounded up fits
    // in i64 and is at most `n`: a 64-bit division gives the same result as a 128-bit one at a
    // fraction of the cost (this runs on every risk-increasing order).
    let leverage = i64::from(u32::from(p.leverage.max(1)).min(tier_max).max(1));
    n / leverage + i64::from(n % leverage != 0)
}

impl Engine {
    /// The margined market and its mark, if the market is margined and marked.
    pub(crate) fn marked(markets: &[Option<Market>], market: u16) -> Option<(&Market, i64)> {
        let m = markets[usize::from(market)].as_ref()?;
        let mark = m.risk.as_ref()?.mark?;
        Some((m, mark.0))
    }

    /// Health of an account's cross positions (`isolated = None`) or of one isolated position.
    pub(crate) fn health_of(
        markets: &[Option<Market>],
        accounts: &Accounts,
        account: u32,
        isolated: Option<u32>,
    ) -> Health {
        let mut h = Health::default();
        if let Some(handle) = isolated {
            let p = accounts.get(handle);
            h.equity = i128::from(p.isolated_margin);
            Self::add_to_health(&mut h, markets, p);
            return h;
        }
        h.equity = i128::from(accounts.collateral(account));
        for handle in accounts.positions_of(account) {
            let p = accounts.get(handle);
            if p.mode == MarginMode::Cross {
                Self::add_to_health(&mut h, markets, p);
            }
        }
        h
    }

    fn add_to_health(h: &mut Health, markets: &[Option<Market>], p: &Position) {
        if let Some((m, mark)) = Self::marked(markets, p.market) {
            let risk = m.risk.as_ref().expect("marked markets have risk");
            let c = m.spec.quote_per_tick_lot;
            h.equity += value(p, mark, c);
            h.maintenance += i128::from(maintenance(p, &risk.params, mark, c));
            h.initial += i128::from(initial(p, &risk.params, mark, c, 0, 0));
        } else {
            // Unmarked or matching-only markets carry no money.
            h.equity += i128::from(p.quote);
        }
    }

    /// Health of the margin pool a position draws on: its account's cross pool, or itself.
    pub(crate) fn pool_health(&self, handle: u32) -> Health {
        let p = self.accounts.get(handle);
        let iso = (p.mode == MarginMode::Isolated).then_some(handle);
        Self::health_of(&self.markets, &self.accounts, p.account, iso)
    }

    /// Checks that an order of `qty` lots on `side` at `limit` keeps the account within its
    /// initial margin, and within the market's position limit. `base` is the position the
    /// order joins (a fresh one when `handle` is `None`), whose resting orders on `side`
    /// already count `held` of the lots (an amended order's old size: the record is read in
    /// place rather than copied with the old order taken out).
    ///
    /// # Errors
    /// [`Reject::NoMarkPrice`], [`Reject::PositionAboveMax`], [`Reject::InsufficientMargin`].
    // Inlined into the validation of places and amends: nine in ten orders on a busy book do
    // not raise the position's exposure and leave here after a few comparisons; only the rest
    // call the out-of-line pool computation.
    #[inline(always)]
    pub(crate) fn check_order_margin(
        &self,
        base: &Position,
        handle: Option<u32>,
        side: Side,
        qty: i64,
        held: i64,
        limit: i64,
    ) -> Result<(), Reject> {
        let m = self.markets[usize::from(base.market)]
            .as_ref()
            .expect("invariant: market exists");
        // Both non-negative: the difference cannot overflow.
        let added = qty - held;
        let (buy, sell) = match side {
            Side::Buy => (added, 0),
            Side::Sell => (0, added),
        };
        // Exposure is bounded in every market: in a margined market by the position limit,
        // which keeps notionals inside i64 (see MarketSpec::validate); in a matching-only
        // market, which moves no money, by a quarter of i64 so sizes cannot overflow.
        let lots_max = m
            .risk
            .as_ref()
            .map_or(i64::MAX / 4, |r| r.params.position_lots_max);
        // The sums serve the position limit and the exposure both.
        let sums = reach(base, buy, sell);
        if reach_over(base, sums, buy, sell, lots_max) {
            return Err(Reject::PositionAboveMax);
        }
        let Some(risk) = m.risk.as_ref() else {
            return Ok(());
        };
        let mark = risk.mark.ok_or(Reject::NoMarkPrice)?.0;
        // Read in place: copying the 80-byte record cost more than the whole comparison.
        let exposure_real = match handle {
            Some(h) => exposure(self.accounts.get(h), 0, 0),
            None => 0,
        };
        let exposure_new = match sums {
            Some((up, down)) => up.abs().max(down.abs()),
            None => exposure(base, buy, sell),
        };
        if exposure_new <= exposure_real {
            return Ok(());
        }
        self.check_pool_margin(m, base, handle, side, qty, added, limit, mark)
    }

    /// The pool half of [`Self::check_order_margin`], for an order that raises exposure:
    /// equity against the initial margin of every position plus the order's open loss.
    #[inline(never)]
    #[allow(clippy::too_many_arguments)] // the caller's already-read market and mark
    fn check_pool_margin(
        &self,
        m: &Market,
        base: &Position,
        handle: Option<u32>,
        side: Side,
        qty: i64,
        added: i64,
        limit: i64,
        mark: i64,
    ) -> Result<(), Reject> {
        let Some(risk) = m.risk.as_ref() else {
            return Ok(());
        };
        // The exposure counts the lots the order adds; its open loss, all of its lots.
        let (buy, sell) = match side {
            Side::Buy => (added, 0),
            Side::Sell => (0, added),
        };
        let c = m.spec.quote_per_tick_lot;
        let open_loss = match side {
            Side::Buy => (limit - mark).max(0),
            Side::Sell => (mark - limit).max(0),
        };
        let open_loss = mul3_wide(open_loss, qty, c);
        // Equity and the initial margin of the pool's other positions; maintenance is not
        // needed here, and this position's own requirement is replaced by the new one.
        let (mut equity, mut others_initial) = (0i128, 0i128);
        if base.mode == MarginMode::Isolated {
            if let Some(h) = handle {
                let p = self.accounts.get(h);
                equity = i128::from(p.isolated_margin) + value(p, mark, c);
            }
        } else {
            equity = i128::from(self.accounts.collateral(base.account));
            for h in self.accounts.positions_of(base.account) {
                let p = self.accounts.get(h);
                if p.mode != MarginMode::Cross {
                    continue;
                }
                match Self::marked(&self.markets, p.market) {
                    Some((pm, pmark)) => {
                        let pc = pm.spec.quote_per_tick_lot;
                        equity += value(p, pmark, pc);
                        if Some(h) != handle {
                            let params = &pm.risk.as_ref().expect("marked").params;
                            others_initial += i128::from(initial(p, params, pmark, pc, 0, 0));
                        }
                    }
                    None => equity += i128::from(p.quote),
                }
            }
        }
        let im_new = initial(base, &risk.params, mark, c, buy, sell);
        let required = others_initial + i128::from(im_new) + open_loss;
        if equity < required {
            return Err(Reject::InsufficientMargin);
        }
        Ok(())
    }

    /// The balance `B` with `equity(P) = B + size × P × c` for a position, other cross
    /// positions held at their marks; with `with_others_maintenance`, the other positions'
    /// maintenance margins are subtracted too (for the liquidation price).
    fn line_balance(&self, handle: u32, with_others_maintenance: bool) -> i128 {
        let p = self.accounts.get(handle);
        if p.mode == MarginMode::Isolated {
            return i128::from(p.isolated_margin) + i128::from(p.quote);
        }
        let mut b = i128::from(self.accounts.collateral(p.account)) + i128::from(p.quote);
        for other in self.accounts.positions_of(p.account) {
            let o = self.accounts.get(other);
            if other == handle || o.mode != MarginMode::Cross {
                continue;
            }
            match Self::marked(&self.markets, o.market) {
                Some((m, mark)) => {
                    let c = m.spec.quote_per_tick_lot;
                    b += value(o, mark, c);
                    if with_others_maintenance {
                        let params = &m.risk.as_ref().expect("marked").params;
                        b -= i128::from(maintenance(o, params, mark, c));
                    }
                }
                None => b += i128::from(o.quote),
            }
        }
        b
    }

    /// The risk crate's isolated-position form of a line `B + size × P × c`: entry 1 tick and
    /// the margin that gives the same line.
    fn as_isolated(size: i64, balance: i128, c: i64) -> IsolatedPosition {
        let per_tick = i128::from(size) * i128::from(c);
        // Long: margin − cost + n with cost = |size|·c·1; short: margin + cost − n.
        let margin = balance + per_tick;
        let margin = margin.clamp(i128::from(i64::MIN / 2), i128::from(i64::MAX / 2));
        IsolatedPosition {
            size: PositionSize(size),
            entry: Price(1),
            margin: Quote(i64::try_from(margin).expect("clamped")),
        }
    }

    /// Liquidation trigger of a position: for a long the highest mark at which it is
    /// liquidatable (it is at every mark at or below), for a short the lowest (at or above).
    /// `None`: never liquidatable at a valid price. See [`line_trigger`].
    pub(crate) fn trigger_price(&self, handle: u32) -> Option<i64> {
        let p = self.accounts.get(handle);
        let (m, _) = Self::marked(&self.markets, p.market)?;
        if p.size == 0 {
            return None;
        }
        let c = m.spec.quote_per_tick_lot;
        let params = &m.risk.as_ref().expect("marked").params;
        let balance = self.line_balance(handle, true);
        line_trigger(balance, p.size, c, &params.tiers, m.spec.price_max.0)
    }

    /// Bankruptcy price of a position: where its pool's equity is zero, other cross positions
    /// at their marks. Rounded against the account (a long's up, a short's down), within
    /// `1..=price_max`.
    pub(crate) fn bankruptcy(&self, handle: u32) -> i64 {
        let p = self.accounts.get(handle);
        let m = self.markets[usize::from(p.market)]
            .as_ref()
            .expect("invariant: market exists");
        let c = m.spec.quote_per_tick_lot;
        let line = Self::as_isolated(p.size, self.line_balance(handle, false), c);
        let price_max = m.spec.price_max.0;
        match bankruptcy_price(&line, c).ok().flatten() {
            Some(Price(b)) => b.clamp(1, price_max),
            // No positive tick makes a long bankrupt: it can be sold at any price.
            None if p.size > 0 => 1,
            None => price_max,
        }
    }

    /// Recomputes the liquidation triggers of every position of an account.
    pub(crate) fn refresh_account(&mut self, account: u32) {
        let mut h = self.accounts.position_head[account as usize];
        while h != NIL {
            self.refresh_position(h);
            h = self.accounts.get(h).next;
        }
    }

    /// Recomputes one position's trigger and files it in its market's heap.
    pub(crate) fn refresh_position(&mut self, handle: u32) {
        let trigger = self.trigger_price(handle);
        let p = self.accounts.get(handle);
        // The fields needed, not the 80-byte record.
        let (market, size, account, cooling) =
            (p.market, p.size, p.account, p.cooldown_until_ns > 0);
        let Some(m) = self.markets[usize::from(market)].as_mut() else {
            return;
        };
        let Some(risk) = m.risk.as_mut() else { return };
        let meta = &mut self.accounts.heap_meta;
        // A position is in at most one heap: the one of its side, where its key is moved in
        // place (a fill rarely changes the side, and a move is a fraction of a removal and an
        // insertion); it leaves the other.
        let (own, other) = if size > 0 {
            (&mut risk.longs, &mut risk.shorts)
        } else {
            (&mut risk.shorts, &mut risk.longs)
        };
        other.remove_if_member(meta, handle);
        let in_cooldown =
            self.accounts.flags[account as usize] & crate::account::ACCOUNT_IN_LIQUIDATION != 0
                && cooling;
        match trigger {
            // A flat position has no trigger, so it leaves both heaps.
            Some(t) if !in_cooldown => own.upsert(meta, handle, t, account),
            _ => own.remove_if_member(meta, handle),
        }
    }
}

/// Ppm units in one whole, the scale of the exact maintenance margin.
const PPM_ONE: i128 = 1_000_000;

/// The trigger of the line `equity(P) = balance + size × P × c` (other cross positions held at
/// their marks, their maintenance margins in `balance`): the exact boundary of
/// [`liquidatable_at`] within `1..=price_max`, as the waterfall sees it.
///
/// A fill changes the size, so every refresh solves again; the solve is one division on the
/// tier that holds the boundary ([`boundary_guess`]) and two evaluations of the predicate,
/// neither of which divides. The predicate, not the guess, decides: a guess off by any amount
/// only costs the walk or the binary search of [`exact_trigger`].
pub(crate) fn line_trigger(
    balance: i128,
    size: i64,
    c: i64,
    tiers: &MarginTiers,
    price_max: i64,
) -> Option<i64> {
    // |balance| is a sum of a few i64s: scaled by 1e6 it is < 2^90. Usually it fits in i64,
    // and a widened i64 times 1e6 needs no overflow check (a 128-bit checked product is some
    // 30 instructions).
    let base = match i64::try_from(balance) {
        Ok(b) => i128::from(b) * PPM_ONE,
        Err(_) => balance * PPM_ONE,
    };
    let long = size > 0;
    let pred = |price: i64| liquidatable_at(base, size, price, c, tiers);
    let t = boundary_guess(base, size, c, tiers).clamp(1, price_max);
    // The guess is nearly always the boundary, and two tests prove it: the predicate holds at
    // `t` and not one tick further. That it holds somewhere (what `exact_trigger` checks
    // first) follows: a short's predicate holds at every price above one where it holds; a
    // long's gap is smaller at 1 than at `t`, and its margin is positive at 1 when the first
    // tier's rate is (the margin never falls as the notional rises).
    if pred(t) {
        let boundary = if long {
            t == price_max || !pred(t + 1)
        } else {
            t == 1 || !pred(t - 1)
        };
        if boundary && (!long || tiers.tiers()[0].mmr().get() > 0) {
            return Some(t);
        }
    } else if t == if long { 1 } else { price_max } {
        // Not liquidatable at the near end of the axis (a long at 1, a short at `price_max`):
        // `exact_trigger`'s first test, which answers no trigger.
        return None;
    }
    exact_trigger(long, Some(t), price_max, pred)
}

/// Whether the line is liquidatable at `price`: maintenance margin `MM` (rounded up, as the
/// waterfall takes it) positive and `equity ≤ MM`. `base` is `1e6 × balance`.
///
/// Division-free: with `X` the exact margin in ppm units, `MM = ⌈X / 1e6⌉`, and for an integer
/// equity `e`, `e ≤ ⌈X / 1e6⌉ ⇔ 1e6·e − X < 1e6`; `MM > 0 ⇔ X > 0`.
///
/// The predicate is monotone in the price (for a long, true on `1..=t` once true at 1; for a
/// short, true on `t..`): the gap `1e6·equity − X` moves strictly one way because
/// `mmr < 100%` and `MM` is continuous in the notional, and `X` never falls as the notional
/// rises.
// Always: two or three tests per refresh, each as much call overhead as arithmetic.
#[inline(always)]
fn liquidatable_at(base: i128, size: i64, price: i64, c: i64, tiers: &MarginTiers) -> bool {
    let n = notional(size, price, c);
    let x = tiers
        .maintenance_margin_scaled(Quote(n))
        .expect("invariant: notionals are non-negative");
    // The position's value is ± its notional; widened from i64, its product with 1e6 cannot
    // overflow (the compiler sees that and checks nothing).
    let value = if size > 0 { n } else { -n };
    x > 0 && base + PPM_ONE * i128::from(value) - x < PPM_ONE
}

/// The boundary of [`liquidatable_at`] in closed form, not clamped to the price range: on the
/// tier `t` that holds it, `g(P) = 1e6·equity(P) − X(P)` is linear,
/// `1e6·balance + D_t + u·P·(1e6 − mmr_t)` for a long and `1e6·balance + D_t −
/// u·P·(1e6 + mmr_t)` for a short (`u = |size|·c`, `D_t` the tier's deduction), and the
/// boundary is where `g ≤ 1e6 − 1` starts to hold. The tier is the last one whose floor is
/// still on the near side of the boundary (the gap is monotone in the notional).
fn boundary_guess(base: i128, size: i64, c: i64, tiers: &MarginTiers) -> i64 {
    let long = size > 0;
    // The notional at one tick: within the spec, as every notional of the position is.
    let u = i128::from(notional(size, 1, c));
    let target = PPM_ONE - 1;
    let all = tiers.tiers();
    let mut chosen = &all[0];
    for tier in &all[1..] {
        // The margin is continuous, so the floor's value is the same on either tier.
        let floor = i128::from(tier.notional_floor().get());
        let x = floor * i128::from(tier.mmr().get()) - tier.deduction_scaled();
        let g = if long {
            base + PPM_ONE * floor - x
        } else {
            base - PPM_ONE * floor - x
        };
        let before = if long { g < target } else { g > target };
        if !before {
            break;
        }
        chosen = tier;
    }
    // The slope's factor as an i64 (|mmr| < 1e6), so its product with the widened i64 `u`
    // needs no overflow check.
    let mmr = i64::from(chosen.mmr().get());
    let deduction = chosen.deduction_scaled();
    let tick = if long {
        // Largest P with base + D + u·P·(1e6 − mmr) ≤ target.
        div_floor(target - base - deduction, u * i128::from(1_000_000 - mmr))
    } else {
        // Smallest P with base + D − u·P·(1e6 + mmr) ≤ target.
        -div_floor(target - base - deduction, u * i128::from(1_000_000 + mmr))
    };
    i64::try_from(tick.clamp(1, i128::from(i64::MAX))).expect("invariant: clamped to i64")
}

/// `⌊num / den⌋` for `den > 0`, in 64 bits when both fit (the usual case: a 128-bit division
/// is a library call many times slower).
#[inline]
fn div_floor(num: i128, den: i128) -> i128 {
    match (i64::try_from(num), i64::try_from(den)) {
        (Ok(n), Ok(d)) => i128::from(n.div_euclid(d)),
        _ => num.div_euclid(den),
    }
}

/// Moves a solved trigger to the exact boundary of `pred` within `1..=price_max`: for a long
/// the highest price where `pred` holds (it holds below), for a short the lowest (it holds
/// above). Falls back to a binary search when the guess is far off.
fn exact_trigger(
    long: bool,
    guess: Option<i64>,
    price_max: i64,
    pred: impl Fn(i64) -> bool,
) -> Option<i64> {
    // For a long, pred is true on [1, t]; for a short, on [t, price_max].
    let holds_somewhere = if long { pred(1) } else { pred(price_max) };
    if !holds_somewhere {
        return None;
    }
    let mut t = guess
        .unwrap_or(if long { 1 } else { price_max })
        .clamp(1, price_max);
    for _ in 0..4 {
        if long {
            if !pred(t) {
                t -= 1;
            } else if t < price_max && pred(t + 1) {
                t += 1;
            } else {
                return Some(t);
            }
        } else if !pred(t) {
            t += 1;
        } else if t > 1 && pred(t - 1) {
            t -= 1;
        } else {
            return Some(t);
        }
        if !(1..=price_max).contains(&t) {
            break;
        }
    }
    // Binary search for the boundary.
    let (mut lo, mut hi) = (1i64, price_max);
    if long {
        // Largest t with pred(t): pred(lo) holds.
        while lo < hi {
            let mid = lo + (hi - lo + 1) / 2;
            if pred(mid) {
                lo = mid
            } else {
                hi = mid - 1
            }
        }
        Some(lo)
    } else {
        // Smallest t with pred(t): pred(hi) holds.
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if pred(mid) {
                hi = mid
            } else {
                lo = mid + 1
            }
        }
        Some(hi)
    }
}

#[cfg(test)]
mod tests {
    use super::{exact_trigger, line_trigger, notional, reach, reach_over};
    use crate::account::Position;
    use cascade_risk::margin::{MarginTiers, TierSpec};
    use cascade_risk::{Ppm, Quote};
    use proptest::prelude::*;

    /// The trigger as first written: the boundary of `equity ≤ ⌈X / 1e6⌉ ∧ MM > 0`, with the
    /// margin divided out, found by binary search from no guess.
    fn reference(
        balance: i128,
        size: i64,
        c: i64,
        tiers: &MarginTiers,
        price_max: i64,
    ) -> Option<i64> {
        let pred = |price: i64| -> bool {
            let n = notional(size, price, c);
            let mm = tiers
                .maintenance_margin(Quote(n))
                .map_or(i128::MAX, |q| i128::from(q.0));
            balance + i128::from(size) * i128::from(price) * i128::from(c) <= mm && mm > 0
        };
        exact_trigger(size > 0, None, price_max, pred)
    }

    fn tiered() -> MarginTiers {
        MarginTiers::new(&[
            TierSpec::new(Quote(0), Ppm(500), 1001),
            TierSpec::new(Quote(10_000_000), Ppm(4_000), 125),
            TierSpec::new(Quote(50_000_000), Ppm(5_000), 100),
            TierSpec::new(Quote(250_000_000), Ppm(10_000), 50),
            TierSpec::new(Quote(1_000_000_000), Ppm(25_000), 20),
        ])
        .expect("valid")
    }

    proptest! {
        #[test]
        fn line_trigger_is_the_exact_boundary(
            entry in 1i64..1_000_000,
            margin_pct in -5i128..120,
            size in -5_000i64..5_000,
            c in 1i64..4,
            flat_mmr in prop_oneof![Just(0i32), 0i32..200_000],
            use_tiers: bool,
            // Balances past i64 take the 128-bit paths of the scale and the division.
            extra in prop_oneof![4 => Just(0i128), 1 => Just(1i128 << 70), 1 => Just(-(1i128 << 70))],
        ) {
            prop_assume!(size != 0);
            // A position entered at `entry` with a margin of a share of its notional (beyond
            // it and below zero too), so the boundary lands inside the price range and out.
            let value = i128::from(size) * i128::from(entry) * i128::from(c);
            let balance = value.abs() * margin_pct / 100 - value + extra;
            let tiers = if use_tiers {
                tiered()
            } else {
                MarginTiers::new(&[TierSpec::new(Quote(0), Ppm(flat_mmr), 1)]).expect("valid")
            };
            let price_max = 1_000_000;
            prop_assert_eq!(
                line_trigger(balance, size, c, &tiers, price_max),
                reference(balance, size, c, &tiers, price_max)
            );
        }
    }

    proptest! {
        /// The 64-bit reach test answers as the exact (128-bit) sums do, at the edges of `i64`
        /// and for any limit, negative ones included.
        #[test]
        fn reach_over_is_exact(
            size in prop_oneof![any::<i64>(), -100i64..100],
            resting in prop_oneof![0i64..100, 0i64..i64::MAX],
            extra in prop_oneof![0i64..100, 0i64..i64::MAX],
            buy_side: bool,
            lots_max in prop_oneof![any::<i64>(), 0i64..200, Just(i64::MAX / 4)],
        ) {
            let mut p = Position::fresh(1, 0, 1);
            p.size = size;
            let (buy, sell) = if buy_side { (extra, 0) } else { (0, extra) };
            if buy_side { p.order_qty_buy = resting } else { p.order_qty_sell = resting }
            let up = i128::from(size) + i128::from(p.order_qty_buy) + i128::from(buy);
            let down = i128::from(size) - i128::from(p.order_qty_sell) - i128::from(sell);
            let exact = up.max(-down) > i128::from(lots_max);
            prop_assert_eq!(reach_over(&p, reach(&p, buy, sell), buy, sell, lots_max), exact);
        }
    }

    #[test]
    fn exact_trigger_finds_the_boundary_from_any_guess() {
        let long = |p: i64| p <= 984;
        for guess in [None, Some(1), Some(983), Some(984), Some(985), Some(2000)] {
            assert_eq!(
                exact_trigger(true, guess, 10_000, long),
                Some(984),
                "{guess:?}"
            );
        }
        let short = |p: i64| p >= 1016;
        for guess in [None, Some(1), Some(1015), Some(1017), Some(9_999)] {
            assert_eq!(
                exact_trigger(false, guess, 10_000, short),
                Some(1016),
                "{guess:?}"
            );
        }
        assert_eq!(exact_trigger(true, Some(5), 10_000, |_| false), None);
        assert_eq!(exact_trigger(true, Some(5), 10_000, |_| true), Some(10_000));
    }
}
