//! The event-level oracle for tests, the simulator and the fuzzers (the `sim` feature; the
//! engine itself never uses it).
//!
//! The state audit ([`crate::invariants`]) sees one moment; this oracle follows each command's
//! events and checks what only the sequence shows. It keeps its own copy of every position,
//! moved by events alone, so a position the engine changed without saying so is caught.
//!
//! # Checks, after every command
//! - The state audit: books, indexes, open interest, money conservation, triggers.
//! - Positions replayed from `Trade`, `Backstop` and `Deleveraged` events equal the engine's,
//!   and the insurance fund replayed from `InsuranceFund` events equals the treasury's.
//! - Reduce-only orders (the engine's liquidation orders included) never increase a position
//!   or flip its side.
//! - No liquidation order (the book stage's, or the insurance stage's after it) fills worse than
//!   the bankruptcy price the account had when it was sent (`equity` and `mark` of
//!   `LiquidationStarted`, moved by the liquidation's own fills and fund transfers since),
//!   except as the insurance stage's order, which needs a fund and after which the fund pays
//!   exactly the net shortfall of the order's fills (or everything it has).
//! - Auto-deleveraging takes opposite positions, never the liquidated account's own, in
//!   ranking order (ranks strictly increase, at one price). A rank is a place in the queue the
//!   command ranked once for its (market, side) (docs/RISK.md, "ADL queues"), so within one
//!   command a rank always names the same account and an account keeps its rank. Under the
//!   queue policy every counterparty but the last of a liquidation is closed in full; the
//!   command's first ADL of a queue takes rank 0; a later one never goes back, and may pass
//!   over a rank only if the oracle never saw it or its position has since closed or flipped.
//! - Under the queue policy the oracle ranks each queue again at the command's first ADL of it:
//!   every position on that side, scored by `cascade_risk::adl::adl_score` at the command's
//!   mark from the state the previous command left (accounts the command named before the
//!   ranking, or all after funding, are unknown). A counterparty ranks no earlier than the
//!   known positions above it, exactly there when all are known, and none above it may be one
//!   the command never touched.
//! - `LiquidationEnded`: `closed` matches the positions, `CLOSED` means flat, and negative
//!   equity only with `BAD_DEBT` and `INSURANCE_EXHAUSTED` and an empty fund.
//! - Funding dust is `paid − received` and never negative.
//! - No margin pool with an open position is left below zero equity, unless its waterfall is
//!   under way (a cooldown, or a crossed trigger waiting for the next command's budget), ended
//!   in this command, or once ended in bad debt.

use crate::command::{Command, Sequenced, Side};
use crate::event::{outcome, Event, InsuranceReason};
use crate::risk_params::AdlPolicy;
use crate::state::{Engine, LIQUIDATION_ORDER_BIT};
use cascade_risk::adl::{adl_score, queue_order, AdlCandidate, AdlScore};
use cascade_risk::{PositionSize, Price, Quote};
use core::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// Counts of what the checked streams exercised, so a test can insist the generator reached
/// the interesting paths.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Commands checked.
    pub commands: u64,
    /// Trades.
    pub trades: u64,
    /// Liquidations started.
    pub liquidations: u64,
    /// Fills of the engine's liquidation orders.
    pub liquidation_fills: u64,
    /// Backstop take-overs.
    pub backstops: u64,
    /// Insurance fund shortfall payments.
    pub shortfalls: u64,
    /// Auto-deleveraging fills.
    pub deleveraged: u64,
    /// Liquidations that ended in bad debt.
    pub bad_debt: u64,
    /// Funding settlements.
    pub fundings: u64,
    /// Fills of reduce-only orders.
    pub reduce_only_fills: u64,
    /// Liquidation orders after a liquidation's first, each bounded by the bankruptcy price
    /// the account had when it was sent.
    pub later_liquidation_orders: u64,
    /// Queue ADL fills whose counterparty's rank the oracle recomputed from the scores.
    pub adl_ranked: u64,
    /// Of those, fills of queues the oracle recomputed whole (the rank itself checked).
    pub adl_ranked_exact: u64,
}

/// One liquidation in progress, from `LiquidationStarted` to `LiquidationEnded`.
#[derive(Clone, Copy, Debug)]
struct Span {
    account: u32,
    market: u16,
    size0: i64,
    quote_per_tick_lot: i128,
    price_max: i128,
    /// The mark the liquidation started at, and the pool's equity at it, moved by the
    /// liquidation's own fills and fund transfers since.
    mark: i64,
    equity: i128,
    /// The liquidation order being followed, and the bankruptcy price when it was sent (from
    /// `equity` and the position then).
    order: Option<u64>,
    bankrupt: i64,
    /// Σ (bankruptcy − price) × lots × c of the order's fills (long; mirrored for short).
    order_shortfall: i128,
    order_worse: bool,
    /// The fund's shortfall payment right after the order: (paid, fund balance after).
    order_paid: Option<(i128, i64)>,
    /// Another liquidation order or stage began after the order.
    order_done: bool,
    /// The insurance fund when the order was sent.
    fund_at_order: i64,
    last_rank: Option<u32>,
    adl_price: Option<i64>,
    /// A queue counterparty left with a position before a later one was taken.
    queue_gap: Option<u32>,
}

/// Follows a stream command by command; see the module documentation.
#[derive(Clone, Debug, Default)]
pub struct Oracle {
    positions: BTreeMap<(u32, u16), i64>,
    reduce_only: BTreeSet<u64>,
    fund: i64,
    coverage: Coverage,
    /// Accounts a liquidation left in bad debt (negative equity the fund could not cover).
    bad_debt: BTreeSet<u32>,
    /// Accounts whose liquidation ended in the command being checked.
    ended_now: BTreeSet<u32>,
    /// The ADL queues seen in the command being checked, by (market, side of the positions
    /// queued).
    adl_queues: BTreeMap<(u16, i64), QueueSeen>,
    /// The state the previous command left, for ranking ADL queues independently.
    before: Before,
    /// Accounts named by the events of the command being checked so far (all of them when
    /// funding settled, which moves every position of a market without naming it).
    named: BTreeSet<u32>,
    named_all: bool,
    /// Accounts named anywhere in the command being checked.
    named_in_command: BTreeSet<u32>,
}

/// What the previous command left: each open position's (quote, mode, isolated margin), each
/// account's cross equity and each market's mark.
#[derive(Clone, Debug, Default)]
struct Before {
    positions: BTreeMap<(u32, u16), (i64, crate::account::MarginMode, i64)>,
    cross_equity: BTreeMap<u32, i128>,
    marks: BTreeMap<u16, i64>,
}

/// What a command's ADL fills have shown of one of its queues.
#[derive(Clone, Debug, Default)]
struct QueueSeen {
    /// Account at each rank seen.
    by_rank: BTreeMap<u32, u32>,
    /// Rank of each account seen.
    rank_of: BTreeMap<u32, u32>,
    /// The last rank taken under the queue policy.
    last: Option<u32>,
    /// The queue recomputed at the ranking: the positions on the queue's side whose state the
    /// oracle knows then (their accounts untouched by the command so far), in queue order.
    known: Vec<AdlCandidate<u32>>,
    /// Every position of the queue's side was known, so `known` is the whole queue.
    exact: bool,
}

type Check = Result<(), String>;

macro_rules! ensure {
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err(format!($($arg)+));
        }
    };
}

impl Oracle {
    /// An oracle for an engine that has applied nothing yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// What the checked commands exercised.
    #[must_use]
    pub fn coverage(&self) -> Coverage {
        self.coverage
    }

    /// Checks one command: `events` are what `engine.apply(cmd)` returned, `engine` the state
    /// after it.
    ///
    /// # Errors
    /// The first broken rule, naming the command.
    pub fn check(&mut self, engine: &Engine, cmd: &Sequenced<Command>, events: &[Event]) -> Check {
        self.coverage.commands += 1;
        self.ended_now.clear();
        self.adl_queues.clear();
        self.named.clear();
        self.named_all = false;
        self.named_in_command.clear();
        for e in events {
            if let Some(a) = named(e) {
                self.named_in_command.extend(a.into_iter().flatten());
            }
        }
        let result = engine
            .audit()
            .and_then(|()| self.follow(engine, cmd, events))
            .and_then(|()| self.compare(engine))
            .and_then(|()| self.no_negative_equity_left(engine));
        self.remember(engine);
        result.map_err(|e| format!("after seq {} ({:?}): {e}", cmd.seq, cmd.command))
    }

    /// Keeps what this command left for the next one's ADL rankings.
    fn remember(&mut self, engine: &Engine) {
        let b = &mut self.before;
        b.positions.clear();
        b.cross_equity.clear();
        b.marks.clear();
        for p in engine.accounts().all_positions() {
            if p.size == 0 {
                continue;
            }
            b.positions
                .insert((p.account, p.market), (p.quote, p.mode, p.isolated_margin));
            if p.mode == crate::account::MarginMode::Cross {
                b.cross_equity
                    .entry(p.account)
                    .or_insert_with(|| engine.health(crate::AccountId(p.account)).equity);
            }
            if let Some(mark) = mark_of(engine, p.market) {
                b.marks.insert(p.market, mark);
            }
        }
    }

    /// The ADL score of `account`'s position in `market` at the ranking, computed from the
    /// previous command's state, or `None` when the command may have changed that state before
    /// the ranking (the account was named, funding settled, or a mark appeared).
    fn known_score(&self, engine: &Engine, account: u32, market: u16) -> Option<AdlScore> {
        if self.named_all || self.named.contains(&account) {
            return None;
        }
        let size = self.pos(account, market);
        let &(quote, mode, iso) = self.before.positions.get(&(account, market))?;
        let spec = engine.market(crate::MarketId(market))?.spec;
        let c = spec.quote_per_tick_lot;
        let mark = mark_of(engine, market)?;
        let value = |size: i64, quote: i64, mark: i64, c: i64| {
            i128::from(size) * i128::from(mark) * i128::from(c) + i128::from(quote)
        };
        let equity = if mode == crate::account::MarginMode::Isolated {
            i128::from(iso) + value(size, quote, mark, c)
        } else {
            // The cross equity then, moved by every mark that moved since.
            let mut eq = *self.before.cross_equity.get(&account)?;
            for (&(a, m), &(_, mode, _)) in self.before.positions.range((account, 0)..) {
                if a != account {
                    break;
                }
                if mode != crate::account::MarginMode::Cross {
                    continue;
                }
                let (then, now) = (*self.before.marks.get(&m)?, mark_of(engine, m)?);
                let cm = engine.market(crate::MarketId(m))?.spec.quote_per_tick_lot;
                eq += i128::from(self.pos(a, m)) * i128::from(now - then) * i128::from(cm);
            }
            eq
        };
        // As the engine takes it: the entry price is the quote balance per lot, floored.
        let per_lot = i128::from(size.abs()) * i128::from(c);
        let entry = i64::try_from(i128::from(quote).abs() / per_lot)
            .unwrap_or(1)
            .max(1);
        let equity =
            Quote(i64::try_from(equity.clamp(i128::from(i64::MIN), i128::from(i64::MAX))).ok()?);
        Some(
            adl_score(PositionSize(size), Price(entry), Price(mark), equity, c)
                .map_or(AdlScore(i128::MIN), |s| s),
        )
    }

    fn pos(&self, account: u32, market: u16) -> i64 {
        self.positions.get(&(account, market)).copied().unwrap_or(0)
    }

    fn set(&mut self, account: u32, market: u16, size: i64) {
        if size == 0 {
            self.positions.remove(&(account, market));
        } else {
            self.positions.insert((account, market), size);
        }
    }

    fn follow(&mut self, engine: &Engine, cmd: &Sequenced<Command>, events: &[Event]) -> Check {
        let placed_reduce_only = matches!(&cmd.command, Command::Place(o) if o.reduce_only);
        let adl_policy_changes = matches!(&cmd.command, Command::SetRiskParams { .. });
        let mut span: Option<Span> = None;
        for e in events {
            match *e {
                Event::Accepted { order_id, .. } if placed_reduce_only => {
                    self.reduce_only.insert(order_id.0);
                }
                Event::Cancelled { order_id, .. } => {
                    self.reduce_only.remove(&order_id.0);
                }
                Event::Trade { .. } => self.trade(e, &mut span)?,
                Event::Backstop {
                    account,
                    vault,
                    market,
                    size,
                    ..
                } => {
                    self.coverage.backstops += 1;
                    let before = self.pos(account.0, market.0);
                    ensure!(
                        before == size,
                        "backstop took {size} lots of {account:?} holding {before}"
                    );
                    self.set(account.0, market.0, 0);
                    let v = self.pos(vault.0, market.0) + size;
                    self.set(vault.0, market.0, v);
                    if let Some(s) = span.as_mut() {
                        s.order_done |= s.order.is_some();
                    }
                }
                Event::InsuranceFund {
                    account,
                    delta,
                    balance,
                    reason,
                } => {
                    ensure!(
                        i128::from(self.fund) + i128::from(delta.0) == i128::from(balance.0),
                        "insurance fund {} + {} != balance {}",
                        self.fund,
                        delta.0,
                        balance.0
                    );
                    ensure!(balance.0 >= 0, "insurance fund below zero: {}", balance.0);
                    self.fund = balance.0;
                    if let Some(s) = span.as_mut().filter(|s| {
                        s.account == account.0
                            && matches!(
                                reason,
                                InsuranceReason::Shortfall | InsuranceReason::LiquidationFee
                            )
                    }) {
                        // The fee comes out of the pool, a shortfall payment goes into it.
                        s.equity -= i128::from(delta.0);
                    }
                    if reason == InsuranceReason::Shortfall {
                        self.coverage.shortfalls += 1;
                        ensure!(delta.0 <= 0, "a shortfall paid into the fund: {e:?}");
                        if let Some(s) = span.as_mut().filter(|s| s.account == account.0) {
                            if s.order.is_some() && !s.order_done && s.order_paid.is_none() {
                                s.order_paid = Some((-i128::from(delta.0), balance.0));
                            }
                        }
                    }
                }
                Event::LiquidationStarted {
                    account,
                    market,
                    equity,
                    mark,
                    ..
                } => {
                    ensure!(span.is_none(), "a liquidation started inside another");
                    self.coverage.liquidations += 1;
                    span = Some(self.start(engine, account.0, market.0, equity.0, mark.0)?);
                }
                Event::Deleveraged { .. } => {
                    let policy = engine
                        .market(crate::MarketId(match *e {
                            Event::Deleveraged { market, .. } => market.0,
                            _ => 0,
                        }))
                        .and_then(|m| m.risk.as_ref())
                        .map(|r| r.params.adl);
                    let queue = policy == Some(AdlPolicy::Queue) && !adl_policy_changes;
                    self.deleveraged(engine, e, span.as_mut(), queue)?;
                }
                Event::LiquidationEnded { .. } => {
                    let s = span
                        .take()
                        .ok_or("a liquidation ended that never started")?;
                    self.end(e, &s)?;
                }
                Event::Funding {
                    paid,
                    received,
                    dust,
                    ..
                } => {
                    self.coverage.fundings += 1;
                    ensure!(
                        dust.0 >= 0
                            && i128::from(paid.0) - i128::from(received.0) == i128::from(dust.0),
                        "funding dust {} != paid {} − received {}",
                        dust.0,
                        paid.0,
                        received.0
                    );
                }
                _ => {}
            }
            match named(e) {
                Some(a) => self.named.extend(a.into_iter().flatten()),
                None => self.named_all = true,
            }
        }
        ensure!(span.is_none(), "a liquidation never ended");
        Ok(())
    }

    fn trade(&mut self, e: &Event, span: &mut Option<Span>) -> Check {
        let Event::Trade {
            market,
            maker_order,
            taker_order,
            maker_account,
            taker_account,
            taker_side,
            price,
            qty,
            maker_open,
        } = *e
        else {
            return Ok(());
        };
        self.coverage.trades += 1;
        ensure!(qty.0 > 0, "a trade of {} lots", qty.0);
        let m = market.0;
        let (maker, taker) = (maker_account.0, taker_account.0);
        let before = (self.pos(maker, m), self.pos(taker, m));
        let signed = taker_side.sign() * qty.0;
        self.set(taker, m, self.pos(taker, m) + signed);
        self.set(maker, m, self.pos(maker, m) - signed);
        let after = (self.pos(maker, m), self.pos(taker, m));
        let liquidation = taker_order.0 & LIQUIDATION_ORDER_BIT != 0;
        if self.reduce_only.contains(&maker_order.0) {
            self.coverage.reduce_only_fills += 1;
            reduces(before.0, after.0, maker_order.0)?;
        }
        if liquidation || self.reduce_only.contains(&taker_order.0) {
            self.coverage.reduce_only_fills += 1;
            reduces(before.1, after.1, taker_order.0)?;
        }
        if maker_open.0 == 0 {
            self.reduce_only.remove(&maker_order.0);
        }
        if !liquidation {
            return Ok(());
        }
        self.coverage.liquidation_fills += 1;
        let Some(s) = span.as_mut() else {
            return Err("a liquidation order traded outside a liquidation".into());
        };
        ensure!(
            s.account == taker && s.market == m,
            "liquidation order of {taker} in market {m} inside the liquidation of {} in {}",
            s.account,
            s.market
        );
        if s.order != Some(taker_order.0) {
            // A new order (the insurance stage's after the book stage's): the last one is
            // complete, and this one is bounded by the bankruptcy price the account has now.
            if s.order.is_some() {
                order_bound(s)?;
                self.coverage.later_liquidation_orders += 1;
            }
            s.bankrupt = bankruptcy(
                before.1,
                s.equity,
                s.mark,
                s.quote_per_tick_lot,
                s.price_max,
            )?;
            s.order = Some(taker_order.0);
            s.order_shortfall = 0;
            s.order_worse = false;
            s.order_paid = None;
            s.order_done = false;
            s.fund_at_order = self.fund;
        }
        // A long is sold: each lot below bankruptcy is a shortfall; a short is bought back.
        let (per_lot, realized) = match taker_side {
            Side::Sell => (s.bankrupt - price.0, price.0 - s.mark),
            Side::Buy => (price.0 - s.bankrupt, s.mark - price.0),
        };
        // Traded away at the price instead of valued at the mark (liquidation orders pay no
        // taker fee).
        s.equity += i128::from(realized) * i128::from(qty.0) * s.quote_per_tick_lot;
        s.order_worse |= per_lot > 0;
        s.order_shortfall += i128::from(per_lot) * i128::from(qty.0) * s.quote_per_tick_lot;
        Ok(())
    }

    fn start(
        &self,
        engine: &Engine,
        account: u32,
        market: u16,
        equity: i64,
        mark: i64,
    ) -> Result<Span, String> {
        let size0 = self.pos(account, market);
        ensure!(
            size0 != 0,
            "liquidation of a flat position: {account} in {market}"
        );
        let spec = engine
            .market(crate::MarketId(market))
            .ok_or("liquidation in an unknown market")?
            .spec;
        Ok(Span {
            account,
            market,
            size0,
            quote_per_tick_lot: i128::from(spec.quote_per_tick_lot),
            price_max: i128::from(spec.price_max.0),
            mark,
            equity: i128::from(equity),
            order: None,
            bankrupt: 0,
            order_shortfall: 0,
            order_worse: false,
            order_paid: None,
            order_done: false,
            fund_at_order: self.fund,
            last_rank: None,
            adl_price: None,
            queue_gap: None,
        })
    }

    fn deleveraged(
        &mut self,
        engine: &Engine,
        e: &Event,
        span: Option<&mut Span>,
        queue: bool,
    ) -> Check {
        let Event::Deleveraged {
            account,
            counterparty,
            market,
            qty,
            price,
            rank,
        } = *e
        else {
            return Ok(());
        };
        self.coverage.deleveraged += 1;
        let s = span.ok_or("deleveraged outside a liquidation")?;
        ensure!(
            s.account == account.0 && s.market == market.0,
            "ADL of {account:?} inside the liquidation of {}",
            s.account
        );
        ensure!(
            counterparty != account,
            "ADL against the liquidated account itself"
        );
        let (liq, cp) = (
            self.pos(account.0, market.0),
            self.pos(counterparty.0, market.0),
        );
        ensure!(
            qty.0 > 0 && liq.abs() >= qty.0 && cp.abs() >= qty.0 && liq.signum() == -cp.signum(),
            "ADL of {} lots between {liq} and counterparty {cp}",
            qty.0
        );
        ensure!(
            s.last_rank.is_none_or(|r| r < rank),
            "ADL rank {rank} after {:?}",
            s.last_rank
        );
        ensure!(
            s.adl_price.is_none_or(|p| p == price.0),
            "ADL at two prices in one liquidation"
        );
        let side = cp.signum();
        if queue && !self.adl_queues.contains_key(&(market.0, side)) {
            // The command ranks this queue now: every position on its side, at the mark.
            let mut known = Vec::new();
            let mut exact = true;
            for (&(a, m), &size) in &self.positions {
                if m != market.0 || size.signum() != side {
                    continue;
                }
                match self.known_score(engine, a, m) {
                    Some(score) => known.push(AdlCandidate { account: a, score }),
                    None => exact = false,
                }
            }
            known.sort_unstable_by(queue_order);
            let q = self.adl_queues.entry((market.0, side)).or_default();
            q.known = known;
            q.exact = exact;
        }
        let seen = self.adl_queues.entry((market.0, side)).or_default();
        ensure!(
            seen.by_rank.get(&rank).is_none_or(|a| *a == counterparty.0)
                && seen.rank_of.get(&counterparty.0).is_none_or(|r| *r == rank),
            "ADL rank {rank} of {counterparty:?} disagrees with the command's queue"
        );
        if queue {
            self.ranked_in_order(market.0, side, counterparty.0, rank)?;
        }
        let seen = self.adl_queues.entry((market.0, side)).or_default();
        seen.by_rank.insert(rank, counterparty.0);
        seen.rank_of.insert(counterparty.0, rank);
        if queue {
            ensure!(
                s.queue_gap.is_none(),
                "queue ADL took rank {rank} after rank {:?} kept a position",
                s.queue_gap
            );
            let from = seen.last.unwrap_or(0);
            ensure!(
                rank >= from && (seen.last.is_some() || rank == 0),
                "queue ADL took rank {rank} after rank {:?} in this command",
                seen.last
            );
            // Every rank passed over (the last one taken included, when the walk moved on
            // from it) must be a position that is no longer on the queue's side.
            let passed: Vec<u32> = seen.by_rank.range(from..rank).map(|(_, a)| *a).collect();
            seen.last = Some(rank);
            for a in passed {
                let now = self.pos(a, market.0);
                ensure!(
                    now.signum() != side,
                    "queue ADL passed over account {a} still holding {now} to take rank {rank}"
                );
            }
        }
        s.last_rank = Some(rank);
        s.adl_price = Some(price.0);
        s.order_done |= s.order.is_some();
        let step = liq.signum() * qty.0;
        self.set(account.0, market.0, liq - step);
        self.set(counterparty.0, market.0, cp + step);
        if cp + step != 0 {
            s.queue_gap = Some(rank);
        }
        Ok(())
    }

    /// The queue counterparty `cp` taken at `rank` sits where the independent ranking puts it,
    /// and no position ranked before it was passed over while open: one the command never
    /// touched kept its whole position throughout, so the walk had to take it first.
    fn ranked_in_order(&mut self, market: u16, side: i64, cp: u32, rank: u32) -> Check {
        let Some(q) = self.adl_queues.get(&(market, side)) else {
            return Ok(());
        };
        let Some(k) = q.known.iter().position(|c| c.account == cp) else {
            ensure!(
                !q.exact,
                "queue ADL took account {cp}, which held no position on the queue's side"
            );
            return Ok(());
        };
        let at = u32::try_from(k).map_err(|e| e.to_string())?;
        self.coverage.adl_ranked += 1;
        self.coverage.adl_ranked_exact += u64::from(q.exact);
        ensure!(
            at <= rank && (!q.exact || at == rank),
            "queue ADL took account {cp} at rank {rank}; recomputed, it ranks {at}{}",
            if q.exact { "" } else { " or later" }
        );
        let me = q.known[k];
        for c in &q.known[..k] {
            ensure!(
                self.named_in_command.contains(&c.account) || queue_order(c, &me) != Ordering::Less,
                "queue ADL took account {cp} (score {}) over account {} (score {}), which kept \
                 its position",
                me.score.0,
                c.account,
                c.score.0
            );
        }
        Ok(())
    }

    fn end(&mut self, e: &Event, s: &Span) -> Check {
        let Event::LiquidationEnded {
            account,
            market,
            outcome: bits,
            closed,
            equity,
            haircut,
            haircut_min,
            ..
        } = *e
        else {
            return Ok(());
        };
        ensure!(
            account.0 == s.account && market.0 == s.market,
            "liquidation of {} ended as {account:?}",
            s.account
        );
        let now = self.pos(s.account, s.market);
        ensure!(
            closed.0 == s.size0.abs() - now.abs() && now.signum() != -s.size0.signum(),
            "closed {} but the position went {} → {now}",
            closed.0,
            s.size0
        );
        ensure!(
            (bits & outcome::CLOSED != 0) == (now == 0),
            "outcome {bits:#b} with position {now}"
        );
        ensure!(
            haircut.0 >= 0 && haircut_min.0 >= 0,
            "negative haircut: {e:?}"
        );
        self.ended_now.insert(s.account);
        if equity.0 < 0 {
            self.coverage.bad_debt += 1;
            self.bad_debt.insert(s.account);
            ensure!(
                bits & outcome::BAD_DEBT != 0 && bits & outcome::INSURANCE_EXHAUSTED != 0,
                "negative equity {} not flagged: {e:?}",
                equity.0
            );
            ensure!(
                self.fund == 0,
                "bad debt {} left while the insurance fund holds {}",
                equity.0,
                self.fund
            );
        } else {
            ensure!(
                bits & outcome::BAD_DEBT == 0,
                "bad debt flagged at equity {}",
                equity.0
            );
        }
        if s.order.is_some() {
            order_bound(s)?;
        }
        Ok(())
    }

    /// After a command, no margin pool is below zero unless its waterfall is still under way
    /// (a cooldown, or a crossed trigger left for the next command when the per-command
    /// liquidation budget ran out), just ended, or left bad debt: a bankrupt account the engine
    /// has not noticed is a stale or missing trigger.
    fn no_negative_equity_left(&self, engine: &Engine) -> Check {
        let accounts = engine.accounts();
        for a in 0..u32::try_from(accounts.len()).map_err(|e| e.to_string())? {
            if self.bad_debt.contains(&a) || self.ended_now.contains(&a) {
                continue;
            }
            // Under way: cooling down, or filed with a crossed trigger (the command's budget,
            // which cooldown re-checks also spend, ran out before it).
            let mut pending = false;
            let mut cross_open = false;
            for h in accounts.positions_of(a) {
                let p = accounts.get(h);
                let Some(m) = engine.market(crate::MarketId(p.market)) else {
                    continue;
                };
                let Some((risk, mark)) = m.risk.as_ref().and_then(|r| Some((r, r.mark?))) else {
                    continue;
                };
                if p.size == 0 {
                    continue;
                }
                let meta = &accounts.heap_meta;
                let crossed = match meta.get(h as usize) {
                    Some(t) if p.size > 0 => risk.longs.contains(meta, h) && mark.0 <= t.price,
                    Some(t) => risk.shorts.contains(meta, h) && mark.0 >= t.price,
                    None => false,
                };
                let under_way = p.cooldown_until_ns > 0 || crossed;
                pending |= under_way;
                if p.mode == crate::account::MarginMode::Isolated {
                    let equity = i128::from(p.isolated_margin)
                        + crate::margin::value(p, mark.0, m.spec.quote_per_tick_lot);
                    ensure!(
                        equity >= 0 || under_way,
                        "account {a}: isolated position in market {} left at equity {equity}",
                        p.market
                    );
                } else {
                    cross_open = true;
                }
            }
            let equity = engine.health(crate::AccountId(a)).equity;
            ensure!(
                !cross_open || equity >= 0 || pending,
                "account {a}: cross equity {equity} left below zero with open positions"
            );
        }
        Ok(())
    }

    fn compare(&self, engine: &Engine) -> Check {
        for p in engine.accounts().all_positions() {
            let mine = self.pos(p.account, p.market);
            ensure!(
                mine == p.size,
                "account {} market {}: position {} but events say {mine}",
                p.account,
                p.market,
                p.size
            );
        }
        for ((account, market), size) in &self.positions {
            let theirs = engine.position(crate::AccountId(*account), crate::MarketId(*market));
            ensure!(
                theirs == *size,
                "account {account} market {market}: events say {size}, engine {theirs}"
            );
        }
        ensure!(
            self.fund == engine.treasury().insurance_fund,
            "insurance fund {} but events say {}",
            engine.treasury().insurance_fund,
            self.fund
        );
        Ok(())
    }
}

/// The mark of a market, if it has one.
fn mark_of(engine: &Engine, market: u16) -> Option<i64> {
    engine
        .market(crate::MarketId(market))?
        .risk
        .as_ref()?
        .mark
        .map(|m| m.0)
}

/// The accounts whose positions or balances an event may have moved; `None` when it may have
/// moved unnamed ones (funding settles a whole market).
fn named(e: &Event) -> Option<[Option<u32>; 2]> {
    let one = |a: crate::AccountId| Some([Some(a.0), None]);
    match *e {
        Event::Funding { .. } => None,
        Event::Trade {
            maker_account,
            taker_account,
            ..
        } => Some([Some(maker_account.0), Some(taker_account.0)]),
        Event::Backstop { account, vault, .. } => Some([Some(account.0), Some(vault.0)]),
        Event::Deleveraged {
            account,
            counterparty,
            ..
        } => Some([Some(account.0), Some(counterparty.0)]),
        Event::Accepted { account, .. }
        | Event::Rested { account, .. }
        | Event::Cancelled { account, .. }
        | Event::Reduced { account, .. }
        | Event::Replaced { account, .. }
        | Event::Deposited { account, .. }
        | Event::Withdrawn { account, .. }
        | Event::LeverageSet { account, .. }
        | Event::MarginModeSet { account, .. }
        | Event::IsolatedMarginSet { account, .. }
        | Event::InsuranceFund { account, .. }
        | Event::LiquidationStarted { account, .. }
        | Event::LiquidationEnded { account, .. } => one(account),
        _ => Some([None, None]),
    }
}

fn reduces(before: i64, after: i64, order: u64) -> Check {
    ensure!(
        after.abs() <= before.abs() && after.signum() != -before.signum(),
        "reduce-only order {order:#x} moved the position {before} → {after}"
    );
    Ok(())
}

/// Where the pool's equity is zero with a position of `size` at price p and everything else as
/// at the mark: equity + size·(p − mark)·c = 0, rounded against the account and clamped to
/// `1..=price_max`.
fn bankruptcy(size: i64, equity: i128, mark: i64, c: i128, price_max: i128) -> Result<i64, String> {
    ensure!(size != 0, "a liquidation order for a flat position");
    let per_tick = i128::from(size) * c;
    let exact_num = i128::from(mark) * per_tick - equity;
    let b = if size > 0 {
        div_ceil(exact_num, per_tick)
    } else {
        div_floor(exact_num, per_tick)
    };
    i64::try_from(b.clamp(1, price_max)).map_err(|e| e.to_string())
}

/// A liquidation order fills past the bankruptcy price it was sent at only as the insurance
/// stage's order (a book-stage order is limited to it), which needs a fund and pays the net
/// shortfall of its fills at once; fills better than bankruptcy in the same order offset worse
/// ones.
fn order_bound(s: &Span) -> Check {
    if !s.order_worse {
        return Ok(());
    }
    ensure!(
        s.fund_at_order > 0,
        "liquidation filled past bankruptcy {} with an empty insurance fund",
        s.bankrupt
    );
    // Netting to zero or better, the order costs the fund nothing; a payment after it is for
    // negative equity left at the end (the waterfall's last step).
    if s.order_shortfall > 0 {
        let Some((paid, balance)) = s.order_paid else {
            return Err(format!(
                "liquidation filled past bankruptcy {} (shortfall {}) with no fund payment",
                s.bankrupt, s.order_shortfall
            ));
        };
        ensure!(
            paid == s.order_shortfall || (paid < s.order_shortfall && balance == 0),
            "the fund paid {paid} for a shortfall of {} past bankruptcy {}",
            s.order_shortfall,
            s.bankrupt
        );
    }
    Ok(())
}

fn div_floor(n: i128, d: i128) -> i128 {
    let q = n / d;
    if (n % d != 0) && ((n < 0) != (d < 0)) {
        q - 1
    } else {
        q
    }
}

fn div_ceil(n: i128, d: i128) -> i128 {
    -div_floor(-n, d)
}

/// Applies a stream to a fresh engine with the oracle after every command, then replays it on
/// a second engine: same events and the same `state_hash()` (determinism).
///
/// # Errors
/// The first broken rule, or the first divergence of the replay.
pub fn run_checked(
    limits: crate::Limits,
    stream: &[Sequenced<Command>],
) -> Result<(u64, Coverage), String> {
    let mut engine = Engine::new(limits);
    let mut replay = Engine::new(limits);
    let mut oracle = Oracle::new();
    for cmd in stream {
        let events = engine.apply(cmd).to_vec();
        oracle.check(&engine, cmd, &events)?;
        let again = replay.apply(cmd);
        ensure!(
            again == events.as_slice(),
            "replay of seq {} gave other events: {again:?} != {events:?}",
            cmd.seq
        );
    }
    let (a, b) = (engine.state_hash(), replay.state_hash());
    ensure!(a == b, "replay hash {b:#x} != {a:#x}");
    Ok((a, oracle.coverage()))
}
