//! The liquidation waterfall and auto-deleveraging.
//!
//! # Ordering
//! At the end of every command the engine takes liquidatable positions in a fixed order:
//! first the cooldown list (in the order positions entered it), then each market by id, longs
//! by descending trigger price then shorts by ascending trigger price, ties by account id. At
//! most `liquidations_per_command_max` start per command; the rest stay crossed in their heaps
//! and go first in the next command. ADL candidates are ranked by score, ties by account id.
//!
//! # ADL queues
//! A command ranks the queue of a (market, side) once, when its first liquidation reaches
//! ADL, at that command's mark, over the side's open positions at that moment; every later ADL
//! of the same command walks that queue on from where the last one stopped, passing over
//! positions that have closed or flipped since (or that belong to the liquidated account).
//! Venues publish ADL queues as periodic snapshots, not per fill (Binance's ADL quantile,
//! `GET /fapi/v1/adlQuantile`, updates every 30 s), so a per-command snapshot is the same
//! contract at a finer grain, and it turns a cascade of k ADL'd liquidations over n
//! positions from O(k·n log n) into O(n log n + k + fills) under the queue policy
//! (O(n log n + k·n) pro rata, where every remaining position has a share). Positions opened
//! during the command wait for the next command's ranking. A `Deleveraged` event's `rank` is the
//! counterparty's 0-based place in that snapshot: within one liquidation ranks strictly
//! increase, and every rank skipped belonged to a position already closed, flipped or taken
//! when it was reached; under the queue policy they also never decrease across the command.
//! Pro-rata shares are computed over the snapshot's remaining positions, at their sizes now,
//! so each pro-rata liquidation starts again from the first position still open.
//!
//! # Stages (each emits events with the money it moves)
//! 1. Cancel the account's orders (all markets for cross margin, this market for isolated) and
//!    re-check.
//! 2. Book: an IOC reduce-only order at the bankruptcy price, so no fill is worse than
//!    bankruptcy; positions above `slice_notional_min` go in `slice_ppm` slices with
//!    `cooldown_ns` between them. The liquidation fee is `min(fee × notional, surplus above
//!    bankruptcy)` (dYdX), paid to the insurance fund.
//! 3. Backstop: when equity is below `backstop_ppm` of maintenance (or the book could not
//!    take the position), the backstop vault takes the rest over at the bankruptcy price, if it
//!    stays healthy doing so (a loss cap, as Hyperliquid added after JELLY).
//! 4. Insurance: an IOC through the book past bankruptcy, down to `insurance_slippage_ppm`
//!    from the mark and no further than the insurance fund can pay for; the fund pays the
//!    shortfall.
//! 5. ADL, only when the position is bankrupt (equity below zero at the mark; one that merely
//!    lacks liquidity waits a cooldown and tries again): the rest is closed against opposite
//!    positions at the bankruptcy price, ranked
//!    (queue) or shared (pro-rata). The event reports the haircut taken against the mark and
//!    the minimum that would have covered what the insurance fund could not.
//!
//! Finally, negative equity is paid by the insurance fund as far as it goes; what remains is
//! bad debt, and `LiquidationEnded` says so.

use crate::account::{MarginMode, ACCOUNT_IN_LIQUIDATION};
use crate::command::{AccountId, SelfTradePrevention, Side};
use crate::event::{outcome, stage, Event, InsuranceReason};
use crate::margin::{maintenance, value, MarketRisk};
use crate::market::MarketId;
use crate::reject::CancelReason;
use crate::risk_params::AdlPolicy;
use crate::state::{Engine, Taker, LIQUIDATION_ORDER_BIT};
use crate::trigger::HeapMeta;
use cascade_risk::adl::{adl_score, sort_queue, AdlCandidate, AdlScore};
use cascade_risk::num::{div_round, Rounding};
use cascade_risk::{PositionSize, Price, Qty, Quote};

fn to_quote(x: i128) -> Quote {
    Quote(i64::try_from(x.clamp(i128::from(i64::MIN), i128::from(i64::MAX))).expect("clamped"))
}

/// One ranked ADL candidate: its score and (account, position handle). Queue order compares
/// the account id after the score, and an account has one position per market, so the order is
/// total within a queue.
pub(crate) type AdlEntry = AdlCandidate<(u32, u32)>;

/// One (market, side) queue ranked during the current command: `adl_queue[start..end]`, of
/// which the entries before `next` are closed, flipped or taken.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AdlSegment {
    market: u16,
    /// The side of the positions queued: +1 longs, −1 shorts.
    sign: i64,
    start: u32,
    end: u32,
    next: u32,
}

/// The liquidated side of ADL fills.
struct AdlFill {
    account: u32,
    market: u16,
    long: bool,
    price: i64,
    /// Per lot, what the counterparty gives up against the mark (in ticks).
    against_mark: i64,
    c: i64,
    /// Where the queue starts in `adl_queue`, for ranks.
    start: u32,
}

/// The scalar risk parameters the waterfall reads, copied out of the market's parameters: a
/// clone of those would copy their margin tiers, a heap allocation per liquidation.
#[derive(Clone, Copy, Debug)]
struct StageParams {
    slice_notional_min: i64,
    slice_ppm: u32,
    cooldown_ns: u64,
    liquidation_fee_ppm: u32,
    backstop_ppm: u32,
    insurance_slippage_ppm: u32,
    adl: AdlPolicy,
}

impl StageParams {
    fn of(p: &crate::risk_params::RiskParams) -> Self {
        Self {
            slice_notional_min: p.slice_notional_min.0,
            slice_ppm: p.slice_ppm,
            cooldown_ns: p.cooldown_ns,
            liquidation_fee_ppm: p.liquidation_fee_ppm,
            backstop_ppm: p.backstop_ppm,
            insurance_slippage_ppm: p.insurance_slippage_ppm,
            adl: p.adl,
        }
    }
}

/// What one liquidation did, for its closing event.
#[derive(Clone, Copy, Debug, Default)]
struct Outcome {
    stage: u8,
    bits: u8,
    haircut: i128,
    haircut_min: i128,
    /// Nothing could close the position and the cooldown list had no room for it to wait:
    /// it is set aside for the rest of the command's pass.
    stuck: bool,
}

impl Engine {
    /// Starts the liquidations that are due, up to the per-command limit.
    pub(crate) fn run_liquidations(&mut self) {
        if self.margined == 0 {
            return;
        }
        // ADL queues are ranked at most once per command, at its marks: last command's are
        // stale.
        self.adl_queue.clear();
        self.adl_segments.clear();
        let mut budget = self.limits().liquidations_per_command_max;
        self.run_cooldowns(&mut budget);
        // Markets in id order. Stepping through all `markets_max` slots on every command cost
        // more than the rest of the risk work of a command that does not fill, so: first,
        // without indexing and stopping at the last margined market (the others have no
        // triggers), the first margined market with a position due. Nearly always there is
        // none and the pass ends here. Markets before it have nothing due, and nothing changes
        // before the walk below reaches it, so starting there is the same walk.
        let meta = &self.accounts.heap_meta;
        let first = self
            .markets
            .iter()
            .enumerate()
            .filter_map(|(i, m)| Some((i, m.as_ref()?.risk.as_ref()?)))
            .take(usize::from(self.margined))
            .find(|(_, risk)| Self::due(risk, meta).is_some());
        let Some((first, _)) = first else {
            return;
        };
        // An upper bound from `first` on: the walk may look at a few empty slots more.
        let mut margined_left = self.margined;
        for mi in first..self.markets.len() {
            if margined_left == 0 {
                break;
            }
            let Some(risk) = self.markets[mi].as_ref().and_then(|m| m.risk.as_ref()) else {
                continue;
            };
            margined_left -= 1;
            // One look at the heap tops before the indexed lookups of the loop.
            if Self::due(risk, &self.accounts.heap_meta).is_none() {
                continue;
            }
            while budget > 0 {
                let Some(h) = self.next_liquidatable(mi) else {
                    break;
                };
                budget -= 1;
                if self.liquidate(h) {
                    self.set_aside(mi, h);
                }
            }
        }
        self.file_set_aside();
    }

    /// Takes a stuck position out of its market's trigger heaps for the rest of the pass, so
    /// that the pass moves on to the next due position instead of taking it again until the
    /// budget is spent (it would stay at the top: nothing about it changed).
    fn set_aside(&mut self, mi: usize, h: u32) {
        let Some(risk) = self.markets[mi].as_mut().and_then(|m| m.risk.as_mut()) else {
            return;
        };
        let meta = &mut self.accounts.heap_meta;
        risk.longs.remove_if_member(meta, h);
        risk.shorts.remove_if_member(meta, h);
        // One per budget unit spent, and the list holds `liquidations_per_command_max`.
        if self.set_aside.len() < self.set_aside.capacity() {
            self.set_aside.push(h);
        }
    }

    /// Files the positions set aside during the pass again: they are due and are tried again
    /// by the next command's pass (once, unless the cooldown list has room by then).
    fn file_set_aside(&mut self) {
        while let Some(h) = self.set_aside.pop() {
            self.refresh_position(h);
        }
    }

    fn next_liquidatable(&self, mi: usize) -> Option<u32> {
        let risk = self.markets[mi].as_ref()?.risk.as_ref()?;
        Self::due(risk, &self.accounts.heap_meta)
    }

    /// The first position of a market whose trigger the mark has reached, if any.
    #[inline]
    fn due(risk: &MarketRisk, meta: &[HeapMeta]) -> Option<u32> {
        let mark = risk.mark?.0;
        if let Some((h, trigger)) = risk.longs.top(meta) {
            if mark <= trigger {
                return Some(h);
            }
        }
        if let Some((h, trigger)) = risk.shorts.top(meta) {
            if mark >= trigger {
                return Some(h);
            }
        }
        None
    }

    fn run_cooldowns(&mut self, budget: &mut u32) {
        let now = self.last_ts_ns();
        let mut i = 0;
        while i < self.cooldowns.len() && *budget > 0 {
            let h = self.cooldowns[i];
            let p = *self.accounts.get(h);
            // A deep account goes to the backstop without waiting, when the vault would take it.
            let early = self.is_deep(h) && self.backstop_would_take(h);
            if p.size != 0 && now < p.cooldown_until_ns && !early {
                i += 1;
                continue;
            }
            self.cooldowns.remove(i);
            self.accounts.get_mut(h).cooldown_until_ns = 0;
            self.clear_liquidation_flag(p.account);
            if p.size == 0 {
                self.refresh_account(p.account);
                continue;
            }
            *budget -= 1;
            if self.pool_health(h).liquidatable() {
                self.liquidate(h);
            } else {
                self.refresh_account(p.account);
            }
        }
    }

    fn clear_liquidation_flag(&mut self, account: u32) {
        let still = self
            .cooldowns
            .iter()
            .any(|h| self.accounts.get(*h).account == account);
        if !still {
            self.accounts.flags[account as usize] &= !ACCOUNT_IN_LIQUIDATION;
        }
    }

    /// Whether the backstop vault would take this position over now.
    fn backstop_would_take(&self, h: u32) -> bool {
        let p = self.accounts.get(h);
        let Some(vault) = self.backstop.filter(|v| *v != p.account) else {
            return false;
        };
        let Some(vh) = self.accounts.find(vault, p.market) else {
            // No record yet: a fresh, flat vault position.
            return self.accounts.has_room();
        };
        self.vault_stays_healthy(vh, p.size, self.bankruptcy(h))
    }

    /// Equity below the backstop fraction of maintenance margin (with a vault to take over).
    fn is_deep(&self, h: u32) -> bool {
        let p = self.accounts.get(h);
        let Some(risk) = self.markets[usize::from(p.market)]
            .as_ref()
            .and_then(|m| m.risk.as_ref())
        else {
            return false;
        };
        let ppm = i128::from(risk.params.backstop_ppm);
        if ppm == 0 || self.backstop.is_none_or(|v| v == p.account) {
            return false;
        }
        let pool = self.pool_health(h);
        pool.maintenance > 0 && pool.equity * 1_000_000 < ppm * pool.maintenance
    }

    /// Runs the waterfall for the account whose position `h` is due. Returns whether the
    /// position it worked on is stuck (see `Outcome::stuck`).
    fn liquidate(&mut self, h: u32) -> bool {
        let p = *self.accounts.get(h);
        let (account, market) = (p.account, p.market);
        let Some((_, mark)) = Self::marked(&self.markets, market) else {
            return false;
        };
        let pool = self.pool_health(h);
        if !pool.liquidatable() {
            // The trigger was stale (another input moved): refile it and move on.
            self.refresh_account(account);
            let risk = self.markets[usize::from(market)]
                .as_mut()
                .and_then(|m| m.risk.as_mut());
            if let Some(risk) = risk {
                let meta = &mut self.accounts.heap_meta;
                risk.longs.remove_if_member(meta, h);
                risk.shorts.remove_if_member(meta, h);
            }
            return false;
        }
        // A cross account is liquidated starting from its biggest loser, whichever position's
        // trigger fired: that position's bankruptcy price (the others at their marks) lies on
        // the losing side of its mark, so ADL counterparties pay for the loss that caused it.
        let target = if p.mode == MarginMode::Cross {
            self.worst_cross_position(account).unwrap_or(h)
        } else {
            h
        };
        let tp = *self.accounts.get(target);
        let (tm, tmark) = Self::marked(&self.markets, tp.market).unwrap_or((
            self.markets[usize::from(market)].as_ref().expect("exists"),
            mark,
        ));
        let params = StageParams::of(&tm.risk.as_ref().expect("marked").params);
        let c = tm.spec.quote_per_tick_lot;
        self.events.push(Event::LiquidationStarted {
            account: AccountId(account),
            market: MarketId(tp.market),
            equity: to_quote(pool.equity),
            maintenance: to_quote(pool.maintenance),
            mark: Price(tmark),
        });
        let size0 = tp.size.abs();
        let mut out = Outcome {
            stage: stage::CANCEL,
            ..Outcome::default()
        };
        let only = (p.mode == MarginMode::Isolated).then_some(market);
        self.cancel_account_orders(account, only, CancelReason::Liquidation);
        if self.pool_health(target).liquidatable() {
            self.waterfall(target, tmark, c, &params, &mut out);
        }
        self.finish(target, size0, &mut out);
        out.stuck
    }

    /// The account's cross position with the lowest value at its mark (ties: lowest market
    /// id), among marked markets.
    fn worst_cross_position(&self, account: u32) -> Option<u32> {
        let mut best: Option<(i128, u16, u32)> = None;
        for h in self.accounts.positions_of(account) {
            let p = self.accounts.get(h);
            if p.size == 0 || p.mode != MarginMode::Cross {
                continue;
            }
            let Some((m, mark)) = Self::marked(&self.markets, p.market) else {
                continue;
            };
            let v = value(p, mark, m.spec.quote_per_tick_lot);
            if best.is_none_or(|(bv, bm, _)| (v, p.market) < (bv, bm)) {
                best = Some((v, p.market, h));
            }
        }
        best.map(|(_, _, h)| h)
    }

    fn waterfall(&mut self, h: u32, mark: i64, c: i64, params: &StageParams, out: &mut Outcome) {
        let now = self.last_ts_ns();
        let p = *self.accounts.get(h);
        let mut book_failed = false;
        if !self.is_deep(h) && p.cooldown_until_ns <= now {
            out.stage = stage::BOOK;
            let bankrupt = self.bankruptcy(h);
            let size = p.size.abs();
            let notional = i128::from(size) * i128::from(mark) * i128::from(c);
            let sliced = notional > i128::from(params.slice_notional_min)
                && params.cooldown_ns > 0
                && self.cooldowns.len() < self.cooldowns.capacity();
            let qty = if sliced {
                let q = div_round(
                    i128::from(size) * i128::from(params.slice_ppm),
                    1_000_000,
                    Rounding::Ceil,
                )
                .expect("constant divisor");
                i64::try_from(q).expect("≤ size").clamp(1, size)
            } else {
                size
            };
            let (filled, ticks) = self.liquidation_order(h, qty, bankrupt);
            if filled > 0 {
                self.charge_liquidation_fee(
                    h,
                    filled,
                    ticks,
                    bankrupt,
                    c,
                    params.liquidation_fee_ppm,
                );
            }
            let after = *self.accounts.get(h);
            if after.size == 0 || !self.pool_health(h).liquidatable() {
                return;
            }
            book_failed = filled < qty;
            if sliced && !book_failed && !self.is_deep(h) {
                self.start_cooldown(h, now.saturating_add(params.cooldown_ns));
                out.bits |= outcome::COOLDOWN;
                return;
            }
        }
        if params.backstop_ppm > 0 && (self.is_deep(h) || book_failed) {
            if let Some(vault) = self.backstop.filter(|v| *v != p.account) {
                out.stage = stage::BACKSTOP;
                let bankrupt = self.bankruptcy(h);
                if self.backstop_take(h, vault, bankrupt) {
                    return;
                }
            }
        }
        if self.treasury.insurance_fund > 0 {
            out.stage = stage::INSURANCE;
            self.insurance_order(h, mark, c, params.insurance_slippage_ppm);
            if self.accounts.get(h).size == 0 {
                return;
            }
        }
        // Auto-deleveraging is for bankrupt positions only (Hyperliquid: account value < 0;
        // dYdX: TNC < 0): a position that is merely short of liquidity waits for it.
        if params.adl != AdlPolicy::Off && self.pool_health(h).equity < 0 {
            out.stage = stage::ADL;
            let bankrupt = self.bankruptcy(h);
            let deficit = (-self.pool_health(h).equity).max(0);
            out.haircut_min = (deficit - i128::from(self.treasury.insurance_fund)).max(0);
            out.haircut = self.deleverage(h, bankrupt, mark, c, params.adl);
            let left = self.pool_health(h).equity;
            if left > 0 && self.accounts.get(h).size == 0 {
                let dust = i64::try_from(left).expect("dust ≤ one tick per lot");
                self.fund_transfer(h, dust, InsuranceReason::AdlDust);
            }
        }
    }

    /// Sends a reduce-only IOC for the position at `limit`; returns lots filled and
    /// Σ price × lots of the fills.
    fn liquidation_order(&mut self, h: u32, qty: i64, limit: i64) -> (i64, i128) {
        let p = *self.accounts.get(h);
        self.liquidation_orders += 1;
        let side = if p.size > 0 { Side::Sell } else { Side::Buy };
        let mut taker = Taker {
            id: LIQUIDATION_ORDER_BIT | self.liquidation_orders,
            account: p.account,
            position: h,
            market: p.market,
            side,
            limit,
            qty,
            reduce_only: true,
            stp: SelfTradePrevention::ExpireMaker,
            fills: 0,
            filled_ticks: 0,
        };
        self.match_taker(&mut taker);
        self.after_fills(p.account, p.market);
        (qty - taker.qty, taker.filled_ticks)
    }

    /// Takes the liquidation fee out of the surplus of fills better than bankruptcy.
    fn charge_liquidation_fee(
        &mut self,
        h: u32,
        lots: i64,
        ticks: i128,
        bankrupt: i64,
        c: i64,
        fee_ppm: u32,
    ) {
        let p = *self.accounts.get(h);
        let c128 = i128::from(c);
        let quote = ticks * c128;
        let at_bankruptcy = i128::from(bankrupt) * i128::from(lots) * c128;
        // The position closed is the opposite of the order: a long sold above bankruptcy.
        let sold = p.size > 0 || (p.size == 0 && quote >= at_bankruptcy);
        let surplus = if sold {
            quote - at_bankruptcy
        } else {
            at_bankruptcy - quote
        };
        let fee =
            div_round(quote * i128::from(fee_ppm), 1_000_000, Rounding::Ceil).expect("constant");
        let fee = fee.min(surplus).max(0);
        if fee == 0 {
            return;
        }
        let fee = i64::try_from(fee).expect("fee ≤ notional");
        self.fund_transfer(h, fee, InsuranceReason::LiquidationFee);
    }

    /// Moves `amount` from a position's margin pool to the insurance fund (negative: from the
    /// fund to the pool) and reports it.
    fn fund_transfer(&mut self, h: u32, amount: i64, reason: InsuranceReason) {
        let account = self.accounts.get(h).account;
        self.move_from_pool(h, amount);
        self.treasury.insurance_fund += amount;
        assert!(
            self.treasury.insurance_fund >= 0,
            "invariant: the fund never pays past zero"
        );
        self.events.push(Event::InsuranceFund {
            account: AccountId(account),
            delta: Quote(amount),
            balance: Quote(self.treasury.insurance_fund),
            reason,
        });
    }

    /// Debits a position's margin pool (collateral, or isolated margin).
    fn move_from_pool(&mut self, h: u32, amount: i64) {
        let p = self.accounts.get_mut(h);
        if p.mode == MarginMode::Isolated {
            p.isolated_margin -= amount;
        } else {
            let a = p.account as usize;
            self.accounts.collateral[a] -= amount;
        }
    }

    fn start_cooldown(&mut self, h: u32, until: u64) {
        let p = self.accounts.get_mut(h);
        p.cooldown_until_ns = until.max(1);
        let account = p.account;
        self.accounts.flags[account as usize] |= ACCOUNT_IN_LIQUIDATION;
        self.cooldowns.push(h);
        self.refresh_position(h);
    }

    /// The backstop vault takes the whole position at the bankruptcy price, if it stays out of
    /// liquidation itself.
    fn backstop_take(&mut self, h: u32, vault: u32, bankrupt: i64) -> bool {
        let p = *self.accounts.get(h);
        let m = self.markets[usize::from(p.market)]
            .as_ref()
            .expect("exists");
        let lev = crate::margin::default_leverage(m);
        let Some(vh) = self.accounts.find_or_create(vault, p.market, lev) else {
            return false;
        };
        if !self.vault_stays_healthy(vh, p.size, bankrupt) {
            return false;
        }
        let size = p.size;
        let (side_vault, side_liq) = if size > 0 {
            (Side::Buy, Side::Sell)
        } else {
            (Side::Sell, Side::Buy)
        };
        let mi = usize::from(p.market);
        let m = self.markets[mi].as_mut().expect("exists");
        Self::settle_side(
            m,
            &mut self.accounts,
            &mut self.treasury,
            vault,
            side_vault,
            size.abs(),
            bankrupt,
            None,
        );
        Self::settle_side(
            m,
            &mut self.accounts,
            &mut self.treasury,
            p.account,
            side_liq,
            size.abs(),
            bankrupt,
            None,
        );
        self.events.push(Event::Backstop {
            account: AccountId(p.account),
            vault: AccountId(vault),
            market: MarketId(p.market),
            size,
            price: Price(bankrupt),
        });
        self.refresh_account(vault);
        true
    }

    /// Whether the vault stays healthy after taking `size` lots at `price`: its position
    /// record is changed on a copy of the figures, not in place.
    fn vault_stays_healthy(&self, vh: u32, size: i64, price: i64) -> bool {
        let v = *self.accounts.get(vh);
        let Some((m, mark)) = Self::marked(&self.markets, v.market) else {
            return false;
        };
        let c = m.spec.quote_per_tick_lot;
        let params = &m.risk.as_ref().expect("marked").params;
        let mut after = v;
        after.size += size;
        if after.size.abs() > params.position_lots_max {
            return false;
        }
        after.quote -= size * price * c;
        let pool = self.pool_health(vh);
        let equity = pool.equity - value(&v, mark, c) + value(&after, mark, c);
        let mm = pool.maintenance - i128::from(maintenance(&v, params, mark, c))
            + i128::from(maintenance(&after, params, mark, c));
        equity > mm
    }

    /// Closes through the book past bankruptcy, as far as the insurance fund can pay, and pays
    /// the shortfall of those fills at once, so the rest keeps its bankruptcy price.
    ///
    /// The book is walked first to find how many lots the fund can afford level by level
    /// (never past `insurance_slippage_ppm` from the mark); one IOC then takes exactly those.
    fn insurance_order(&mut self, h: u32, mark: i64, c: i64, slippage_ppm: u32) {
        let p = *self.accounts.get(h);
        let bankrupt = self.bankruptcy(h);
        let long = p.size > 0;
        let k = i128::from(slippage_ppm);
        let bound = if long {
            div_round(
                i128::from(mark) * (1_000_000 - k),
                1_000_000,
                Rounding::Ceil,
            )
        } else {
            div_round(
                i128::from(mark) * (1_000_000 + k),
                1_000_000,
                Rounding::Floor,
            )
        }
        .expect("constant divisor");
        let m = self.markets[usize::from(p.market)]
            .as_ref()
            .expect("exists");
        let side = if long { Side::Buy } else { Side::Sell };
        let mut fund = i128::from(self.treasury.insurance_fund);
        let (mut lots, mut limit) = (0i64, bankrupt);
        let mut remaining = p.size.abs();
        for level in m.book.levels(side) {
            let price = i128::from(level.price);
            let beyond = if long { price < bound } else { price > bound };
            if remaining == 0 || beyond {
                break;
            }
            // What each lot at this level costs the fund (0 when not worse than bankruptcy).
            let per_lot = (if long {
                i128::from(bankrupt) - price
            } else {
                price - i128::from(bankrupt)
            })
            .max(0)
                * i128::from(c);
            let affordable = if per_lot == 0 {
                i128::from(remaining)
            } else {
                fund / per_lot
            };
            let take = i64::try_from(
                affordable
                    .min(i128::from(level.qty_total))
                    .min(i128::from(remaining)),
            )
            .expect("≤ remaining");
            if take == 0 {
                break;
            }
            fund -= per_lot * i128::from(take);
            lots += take;
            remaining -= take;
            limit = level.price;
        }
        if lots == 0 {
            return;
        }
        let (filled, ticks) = self.liquidation_order(h, lots, limit);
        let at_bankruptcy = i128::from(bankrupt) * i128::from(filled) * i128::from(c);
        let received = ticks * i128::from(c);
        let shortfall = if long {
            at_bankruptcy - received
        } else {
            received - at_bankruptcy
        };
        if shortfall > 0 {
            let pay = i64::try_from(shortfall.min(i128::from(self.treasury.insurance_fund)))
                .expect("≤ fund");
            self.fund_transfer(h, -pay, InsuranceReason::Shortfall);
        }
    }

    /// Auto-deleverages the rest of a position at `bankrupt`; returns the haircut taken from
    /// counterparties against the mark. Scores and the queue order come from the risk crate
    /// (`adl_score`, `sort_queue`); the shares follow `allocate_queue` or `allocate_pro_rata`,
    /// computed in place over the command's queue so that no command allocates.
    fn deleverage(&mut self, h: u32, bankrupt: i64, mark: i64, c: i64, policy: AdlPolicy) -> i128 {
        let p = *self.accounts.get(h);
        if p.size == 0 {
            return 0;
        }
        // Never outside the market's price band around the mark: when an account's deficit
        // is larger than this position could recover at any sane price (its loss was realized
        // elsewhere), counterparties here give up at most the band and the rest is bad debt.
        let bankrupt = {
            let m = self.markets[usize::from(p.market)]
                .as_ref()
                .expect("exists");
            bankrupt.clamp(m.band_low, m.band_high)
        };
        let sign = -p.size.signum();
        let si = self.adl_segment(p.market, sign, mark, c);
        let seg = self.adl_segments[si];
        // The head of the queue that earlier liquidations of this command took (or that closed
        // or flipped since the ranking) is passed over once, for the rest of the command.
        let mut first = seg.next;
        while first < seg.end && self.adl_weight(first, p.account, sign) == 0 {
            first += 1;
        }
        self.adl_segments[si].next = first;
        let fill = AdlFill {
            account: p.account,
            market: p.market,
            long: p.size > 0,
            price: bankrupt,
            against_mark: if p.size > 0 {
                bankrupt - mark
            } else {
                mark - bankrupt
            },
            c,
            start: seg.start,
        };
        let want = p.size.abs();
        let mut haircut = 0i128;
        if policy == AdlPolicy::ProRata {
            // Shares of the remaining queue in proportion to each position now, rounded as
            // `allocate_pro_rata` rounds: floors, then one lot each, in queue order, to the
            // positions whose exact share was not whole.
            let mut sum = 0i128;
            for i in first..seg.end {
                sum += i128::from(self.adl_weight(i, p.account, sign));
            }
            let total = i128::from(want).min(sum);
            if total == 0 {
                return 0;
            }
            let mut floors = 0i128;
            for i in first..seg.end {
                floors += total * i128::from(self.adl_weight(i, p.account, sign)) / sum;
            }
            let mut remainder = total - floors;
            for i in first..seg.end {
                let w = i128::from(self.adl_weight(i, p.account, sign));
                let exact = total * w;
                let mut take = exact / sum;
                if remainder > 0 && exact % sum != 0 {
                    take += 1;
                    remainder -= 1;
                }
                if take > 0 {
                    let take = i64::try_from(take).expect("≤ the position's size");
                    haircut += self.adl_fill(&fill, i, take);
                }
            }
        } else {
            // The queue: each position in turn, as much of it as is still needed.
            let mut remaining = want;
            let mut i = first;
            let mut last = first;
            while remaining > 0 && i < seg.end {
                let take = self.adl_weight(i, p.account, sign).min(remaining);
                if take > 0 {
                    haircut += self.adl_fill(&fill, i, take);
                    remaining -= take;
                    last = i;
                }
                i += 1;
            }
            // Everything before the last position taken was taken or passed over: the next
            // liquidation starts there, even if one of those positions reopens meanwhile, so
            // queue ranks never go back within a command.
            self.adl_segments[si].next = last;
        }
        haircut
    }

    /// Lots that queue entry `i` can still give: its position now, if it still lies on the
    /// queue's side and is not the liquidated account's own (0 otherwise).
    fn adl_weight(&self, i: u32, liquidated: u32, sign: i64) -> i64 {
        let (account, ch) = self.adl_queue[i as usize].account;
        let size = self.accounts.get(ch).size;
        if account == liquidated || size.signum() != sign {
            0
        } else {
            size.abs()
        }
    }

    /// Closes `take` lots of the liquidated position against queue entry `i`; returns the
    /// haircut the counterparty took against the mark.
    fn adl_fill(&mut self, f: &AdlFill, i: u32, take: i64) -> i128 {
        let (cp_account, _) = self.adl_queue[i as usize].account;
        let (side_liq, side_cp) = if f.long {
            (Side::Sell, Side::Buy)
        } else {
            (Side::Buy, Side::Sell)
        };
        let m = self.markets[usize::from(f.market)]
            .as_mut()
            .expect("exists");
        Self::settle_side(
            m,
            &mut self.accounts,
            &mut self.treasury,
            f.account,
            side_liq,
            take,
            f.price,
            None,
        );
        Self::settle_side(
            m,
            &mut self.accounts,
            &mut self.treasury,
            cp_account,
            side_cp,
            take,
            f.price,
            None,
        );
        self.events.push(Event::Deleveraged {
            account: AccountId(f.account),
            counterparty: AccountId(cp_account),
            market: MarketId(f.market),
            qty: Qty(take),
            price: Price(f.price),
            rank: i - f.start,
        });
        self.refresh_account(cp_account);
        (i128::from(f.against_mark) * i128::from(take) * i128::from(f.c)).max(0)
    }

    /// The command's ADL queue of the `sign` side (+1 longs, −1 shorts) of `market`: ranked
    /// now if this command has not ranked it yet, at `mark`, over every open position of that
    /// side (BitMEX's PnL% × effective leverage, PnL% / leverage when losing; ties by account
    /// id). Returns its index in `adl_segments`.
    ///
    /// # Complexity
    /// O(records in the market + n log n) for the first call of a command, O(queues ranked)
    /// after; no allocation: an open position sits in one queue when ranked, and `adl_queue`
    /// has room for every record (see its field for the one exception).
    fn adl_segment(&mut self, market: u16, sign: i64, mark: i64, c: i64) -> usize {
        if let Some(i) = self
            .adl_segments
            .iter()
            .position(|s| s.market == market && s.sign == sign)
        {
            return i;
        }
        let mut queue = core::mem::take(&mut self.adl_queue);
        let start = queue.len();
        for ch in self.accounts.market_positions(market) {
            let cand = self.accounts.get(ch);
            if cand.size == 0 || cand.size.signum() != sign {
                continue;
            }
            queue.push(AdlCandidate {
                account: (cand.account, ch),
                score: AdlScore(self.adl_score_of(ch, mark, c)),
            });
        }
        sort_queue(&mut queue[start..]);
        let (start, end) = (
            u32::try_from(start).expect("≤ positions_max"),
            u32::try_from(queue.len()).expect("≤ positions_max"),
        );
        self.adl_queue = queue;
        self.adl_segments.push(AdlSegment {
            market,
            sign,
            start,
            end,
            next: start,
        });
        self.adl_segments.len() - 1
    }

    /// A position's ADL score; its entry price is the quote balance per lot, rounded.
    pub(crate) fn adl_score_of(&self, ch: u32, mark: i64, c: i64) -> i128 {
        let cand = self.accounts.get(ch);
        let per_lot = i128::from(cand.size.abs()) * i128::from(c);
        let entry = div_round(i128::from(cand.quote).abs(), per_lot, Rounding::Floor)
            .and_then(|e| i64::try_from(e).ok())
            .unwrap_or(1)
            .max(1);
        let equity = to_quote(self.pool_health(ch).equity);
        adl_score(
            PositionSize(cand.size),
            Price(entry),
            Price(mark),
            equity,
            c,
        )
        .map_or(i128::MIN, |s| s.0)
    }

    /// Pays negative equity from the insurance fund and emits the closing event.
    fn finish(&mut self, h: u32, size0: i64, out: &mut Outcome) {
        let pool = self.pool_health(h);
        if pool.equity < 0 {
            let deficit = -pool.equity;
            let pay = deficit.min(i128::from(self.treasury.insurance_fund));
            if pay > 0 {
                let pay = i64::try_from(pay).expect("≤ fund");
                self.fund_transfer(h, -pay, InsuranceReason::Shortfall);
            }
            if deficit > pay {
                out.bits |= outcome::BAD_DEBT | outcome::INSURANCE_EXHAUSTED;
            }
        }
        let p = *self.accounts.get(h);
        if p.mode == MarginMode::Isolated
            && p.size == 0
            && p.isolated_margin > 0
            && p.order_qty_buy == 0
            && p.order_qty_sell == 0
        {
            let back = core::mem::take(&mut self.accounts.get_mut(h).isolated_margin);
            self.accounts.collateral[p.account as usize] += back;
        }
        let pool = self.pool_health(h);
        if p.size == 0 {
            out.bits |= outcome::CLOSED;
        } else if !pool.liquidatable() {
            out.bits |= outcome::HEALTHY;
        } else if out.bits & outcome::COOLDOWN == 0 {
            out.bits |= if pool.equity < 0 {
                outcome::ADL_EXHAUSTED
            } else {
                outcome::NO_LIQUIDITY
            };
            // Nothing more can be done now: wait a cooldown rather than retry every command.
            if self.cooldowns.len() < self.cooldowns.capacity() {
                let wait = self.markets[usize::from(p.market)]
                    .as_ref()
                    .and_then(|m| m.risk.as_ref())
                    .map_or(1, |r| r.params.cooldown_ns.max(1));
                let until = self.last_ts_ns().saturating_add(wait);
                self.start_cooldown(h, until);
            } else {
                out.stuck = true;
            }
        }
        self.refresh_account(p.account);
        self.events.push(Event::LiquidationEnded {
            account: AccountId(p.account),
            market: MarketId(p.market),
            stage: out.stage,
            outcome: out.bits,
            closed: Qty(size0 - p.size.abs()),
            equity: to_quote(pool.equity),
            haircut: to_quote(out.haircut),
            haircut_min: to_quote(out.haircut_min),
        });
    }
}

impl Engine {
    /// The ADL indicator of a position: 1 to 5 lights, 5 for the top 20% of its side's queue
    /// (BitMEX's lights, Binance's quantile), ranked as auto-deleveraging would rank it now.
    /// `None` for a flat position or an unmarked market.
    ///
    /// The rank is the one the position would take in a queue ranked now (same scores, same
    /// candidates: the side's open positions in the market), which is how the next command
    /// ranks it unless the mark or the position changes first.
    ///
    /// # Complexity
    /// O(position records in the market): computed on request, never on the hot path.
    #[must_use]
    pub fn adl_indicator(&self, account: AccountId, market: MarketId) -> Option<u8> {
        if account.0 >= self.limits().accounts_max {
            return None;
        }
        let h = self.accounts.find(account.0, market.0)?;
        let p = self.accounts.get(h);
        let (m, mark) = Self::marked(&self.markets, market.0)?;
        if p.size == 0 {
            return None;
        }
        let c = m.spec.quote_per_tick_lot;
        let mine = AdlCandidate {
            account: account.0,
            score: AdlScore(self.adl_score_of(h, mark, c)),
        };
        let mut ahead = 0usize;
        let mut count = 0usize;
        for qh in self.accounts.market_positions(market.0) {
            let q = self.accounts.get(qh);
            if q.size == 0 || q.size.signum() != p.size.signum() {
                continue;
            }
            count += 1;
            let other = AdlCandidate {
                account: q.account,
                score: AdlScore(self.adl_score_of(qh, mark, c)),
            };
            if cascade_risk::adl::queue_order(&other, &mine) == core::cmp::Ordering::Less {
                ahead += 1;
            }
        }
        cascade_risk::adl::indicator_lights(ahead, count).ok()
    }
}
