//! Differential test: random command streams run against Cascade and against a naive reference
//! book written here (a `Vec` of orders and linear scans, obviously correct), which implements
//! the same documented semantics: price-time priority, GTC/IOC/FOK, post-only reject and slide,
//! market orders with a protection band, reduce-only clamps, self-trade prevention (including
//! `Allow`), amend priority rules, cancel and mass cancel.
//!
//! After every command the two must agree on every event that matters (accepts, rejects with
//! their codes, trades with maker, taker, price and quantity, rests, cancels with reasons,
//! reductions and replacements, in order), on the resting book order by order, and on every
//! position. The engine's `BookLevel` events, applied to an L2 book, must reproduce its depth,
//! and `audit()` must pass after every command.

mod common;

use cascade_engine::{
    AccountId, CancelReason, Command, Event, Limits, MarketId, MarketSpec, NewOrder, OrderId,
    OrderKind, Reject, SelfTradePrevention, Side, TimeInForce,
};
use cascade_risk::{Price, Qty};
use common::{book_side, Harness};
use proptest::prelude::*;
use std::collections::BTreeMap;

const MARKET: u16 = 0;
const ACCOUNTS_MAX: u32 = 1_024;
const PRICE_MAX: i64 = 1_000_000_000;
const QTY_MAX: i64 = 1_000_000_000;
/// Market orders may walk 3% from the best opposite price.
const PROTECTION_PPM: i64 = 30_000;

/// What the reference and the engine are compared on: every event but the L2 updates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Out {
    Rejected(Reject),
    Accepted {
        id: u64,
        price: i64,
        qty: i64,
    },
    Trade {
        maker: u64,
        taker: u64,
        price: i64,
        qty: i64,
    },
    Rested {
        id: u64,
        price: i64,
        qty: i64,
    },
    Cancelled {
        id: u64,
        qty: i64,
        reason: CancelReason,
    },
    Reduced {
        id: u64,
        qty: i64,
    },
    Replaced {
        id: u64,
        price: i64,
        qty: i64,
    },
}

fn outs(events: &[Event]) -> Vec<Out> {
    events
        .iter()
        .filter_map(|e| match *e {
            Event::Rejected { reason, .. } => Some(Out::Rejected(reason)),
            Event::Accepted {
                order_id,
                price,
                qty,
                ..
            } => Some(Out::Accepted {
                id: order_id.0,
                price: price.0,
                qty: qty.0,
            }),
            Event::Trade {
                maker_order,
                taker_order,
                price,
                qty,
                ..
            } => Some(Out::Trade {
                maker: maker_order.0,
                taker: taker_order.0,
                price: price.0,
                qty: qty.0,
            }),
            Event::Rested {
                order_id,
                price,
                qty,
                ..
            } => Some(Out::Rested {
                id: order_id.0,
                price: price.0,
                qty: qty.0,
            }),
            Event::Cancelled {
                order_id,
                qty,
                reason,
                ..
            } => Some(Out::Cancelled {
                id: order_id.0,
                qty: qty.0,
                reason,
            }),
            Event::Reduced { order_id, qty, .. } => Some(Out::Reduced {
                id: order_id.0,
                qty: qty.0,
            }),
            Event::Replaced {
                order_id,
                price,
                qty,
                ..
            } => Some(Out::Replaced {
                id: order_id.0,
                price: price.0,
                qty: qty.0,
            }),
            // Matching-only markets: no money, mark or liquidation events can occur.
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The reference book.

#[derive(Clone, Copy, Debug)]
struct RefOrder {
    id: u64,
    account: u32,
    side: Side,
    price: i64,
    qty: i64,
    /// Arrival at its current place in the queue: smaller goes first at equal price.
    time: u64,
    reduce_only: bool,
    post_only: bool,
    slide: bool,
}

#[derive(Clone, Copy, Debug)]
struct RefTaker {
    id: u64,
    account: u32,
    side: Side,
    limit: i64,
    qty: i64,
    reduce_only: bool,
    stp: SelfTradePrevention,
    fills: u32,
}

#[derive(Clone, Debug)]
struct Reference {
    limits: Limits,
    orders: Vec<RefOrder>,
    positions: BTreeMap<u32, i64>,
    time: u64,
    out: Vec<Out>,
}

fn crosses(side: Side, limit: i64, maker_price: i64) -> bool {
    match side {
        Side::Buy => maker_price <= limit,
        Side::Sell => maker_price >= limit,
    }
}

fn reducible(position: i64, side: Side) -> i64 {
    match side {
        Side::Buy => (-position).max(0),
        Side::Sell => position.max(0),
    }
}

fn better(side: Side, a: i64, b: i64) -> bool {
    match side {
        Side::Buy => a > b,
        Side::Sell => a < b,
    }
}

fn validate(price: i64, qty: i64) -> Result<(), Reject> {
    if qty <= 0 {
        return Err(Reject::QtyNotPositive);
    }
    if qty > QTY_MAX {
        return Err(Reject::QtyAboveMax);
    }
    if price <= 0 {
        return Err(Reject::PriceNotPositive);
    }
    if price > PRICE_MAX {
        return Err(Reject::PriceAboveMax);
    }
    Ok(())
}

impl Reference {
    fn new(limits: Limits) -> Self {
        Self {
            limits,
            orders: Vec::new(),
            positions: BTreeMap::new(),
            time: 0,
            out: Vec::new(),
        }
    }

    /// Price levels on `side`.
    fn depth(&self, side: Side) -> usize {
        let mut prices: Vec<i64> = self
            .orders
            .iter()
            .filter(|o| o.side == side)
            .map(|o| o.price)
            .collect();
        prices.sort_unstable();
        prices.dedup();
        prices.len()
    }

    fn has_level(&self, side: Side, price: i64) -> bool {
        self.orders
            .iter()
            .any(|o| o.side == side && o.price == price)
    }

    /// Room for one more resting order of `account` at `price`.
    fn check_room(&self, account: u32, side: Side, price: i64) -> Result<(), Reject> {
        let open = self.orders.iter().filter(|o| o.account == account).count();
        if open >= self.limits.orders_per_account_max as usize {
            return Err(Reject::OrdersPerAccountLimit);
        }
        if self.orders.len() >= self.limits.orders_max as usize {
            return Err(Reject::OrdersLimit);
        }
        if self.depth(side) >= self.limits.levels_per_side_max as usize
            && !self.has_level(side, price)
        {
            return Err(Reject::LevelsLimit);
        }
        Ok(())
    }

    fn position(&self, account: u32) -> i64 {
        self.positions.get(&account).copied().unwrap_or(0)
    }

    /// Index of the order first in priority on `side`: best price, then earliest.
    fn best(&self, side: Side) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, o) in self.orders.iter().enumerate() {
            if o.side != side {
                continue;
            }
            let first = match best {
                None => true,
                Some(b) => {
                    let b = &self.orders[b];
                    better(side, o.price, b.price) || (o.price == b.price && o.time < b.time)
                }
            };
            if first {
                best = Some(i);
            }
        }
        best
    }

    fn best_price(&self, side: Side) -> Option<i64> {
        self.best(side).map(|i| self.orders[i].price)
    }

    fn find(&self, id: u64) -> Option<usize> {
        self.orders.iter().position(|o| o.id == id)
    }

    fn remove(&mut self, i: usize, reason: CancelReason) {
        let o = self.orders.remove(i);
        self.out.push(Out::Cancelled {
            id: o.id,
            qty: o.qty,
            reason,
        });
    }

    fn rest(&mut self, mut o: RefOrder) {
        self.time += 1;
        o.time = self.time;
        self.out.push(Out::Rested {
            id: o.id,
            price: o.price,
            qty: o.qty,
        });
        self.orders.push(o);
    }

    fn settle(&mut self, account: u32, side: Side, qty: i64) {
        *self.positions.entry(account).or_insert(0) += side.sign() * qty;
    }

    /// Matches until filled, no longer crossing, or expired; returns the expiry reason.
    fn match_taker(&mut self, t: &mut RefTaker) -> Option<CancelReason> {
        while t.qty > 0 {
            let i = self.best(t.side.opposite())?;
            let maker = self.orders[i];
            if !crosses(t.side, t.limit, maker.price) {
                return None;
            }
            // Every maker acted on (filled, or cancelled by self-trade prevention or a
            // reduce-only clamp) counts against the fills limit.
            if t.fills >= self.limits.fills_per_taker_max {
                return Some(CancelReason::FillsLimit);
            }
            if maker.account == t.account && t.stp != SelfTradePrevention::Allow {
                if t.stp == SelfTradePrevention::ExpireTaker {
                    return Some(CancelReason::SelfTradeTaker);
                }
                t.fills += 1;
                self.remove(i, CancelReason::SelfTradeMaker);
                if t.stp == SelfTradePrevention::ExpireBoth {
                    return Some(CancelReason::SelfTradeTaker);
                }
                continue;
            }
            let mut qty = t.qty.min(maker.qty);
            if t.reduce_only {
                let r = reducible(self.position(t.account), t.side);
                if r == 0 {
                    return Some(CancelReason::ReduceOnlyClamp);
                }
                qty = qty.min(r);
            }
            if maker.reduce_only {
                let r = reducible(self.position(maker.account), maker.side);
                if r == 0 {
                    t.fills += 1;
                    self.remove(i, CancelReason::ReduceOnlyClamp);
                    continue;
                }
                qty = qty.min(r);
            }
            self.settle(maker.account, maker.side, qty);
            self.settle(t.account, t.side, qty);
            self.out.push(Out::Trade {
                maker: maker.id,
                taker: t.id,
                price: maker.price,
                qty,
            });
            self.orders[i].qty -= qty;
            if self.orders[i].qty == 0 {
                self.orders.remove(i);
            }
            t.qty -= qty;
            t.fills += 1;
        }
        None
    }

    fn place(&mut self, id: u64, o: &NewOrder) {
        if let Err(r) = self.try_place(id, o) {
            self.out.push(Out::Rejected(r));
        }
    }

    fn try_place(&mut self, id: u64, o: &NewOrder) -> Result<(), Reject> {
        if o.account.0 >= ACCOUNTS_MAX {
            return Err(Reject::UnknownAccount);
        }
        let opposite_best = self.best_price(o.side.opposite());
        let mut limit = match o.kind {
            OrderKind::Limit => {
                validate(o.price.0, o.qty.0)?;
                o.price.0
            }
            OrderKind::Market => {
                if !matches!(o.tif, TimeInForce::Ioc | TimeInForce::Fok) {
                    return Err(Reject::InvalidTimeInForce);
                }
                if o.qty.0 <= 0 {
                    return Err(Reject::QtyNotPositive);
                }
                let best = opposite_best.ok_or(Reject::NoLiquidity)?;
                // Rounded toward the best price.
                let bound = match o.side {
                    Side::Buy => (best * (1_000_000 + PROTECTION_PPM)).div_euclid(1_000_000),
                    Side::Sell => -(-best * (1_000_000 - PROTECTION_PPM)).div_euclid(1_000_000),
                };
                bound.clamp(1, PRICE_MAX)
            }
        };
        let mut qty = o.qty.0;
        if o.reduce_only {
            let r = reducible(self.position(o.account.0), o.side);
            if r == 0 {
                return Err(Reject::ReduceOnlyWouldIncrease);
            }
            qty = qty.min(r);
        }
        let post_only = matches!(o.tif, TimeInForce::PostOnly | TimeInForce::PostOnlySlide);
        if post_only {
            if let Some(best) = opposite_best.filter(|b| crosses(o.side, limit, *b)) {
                if o.tif == TimeInForce::PostOnly {
                    return Err(Reject::PostOnlyWouldCross);
                }
                limit = best - o.side.sign();
                if limit <= 0 {
                    return Err(Reject::PostOnlyNoPrice);
                }
                validate(limit, qty)?;
            }
        }
        let rests = o.tif == TimeInForce::Gtc || post_only;
        if rests {
            self.check_room(o.account.0, o.side, limit)?;
        }
        let mut taker = RefTaker {
            id,
            account: o.account.0,
            side: o.side,
            limit,
            qty,
            reduce_only: o.reduce_only,
            stp: o.stp,
            fills: 0,
        };
        let mut next = self.clone();
        next.out.push(Out::Accepted {
            id,
            price: limit,
            qty,
        });
        let stop = if post_only {
            None
        } else {
            next.match_taker(&mut taker)
        };
        // Fill or kill: the obvious definition, by trying it on a copy.
        if o.tif == TimeInForce::Fok && taker.qty > 0 {
            return Err(Reject::FokNotFillable);
        }
        *self = next;
        if taker.qty == 0 {
            return Ok(());
        }
        match stop {
            None if rests => self.rest(RefOrder {
                id,
                account: o.account.0,
                side: o.side,
                price: limit,
                qty: taker.qty,
                time: 0,
                reduce_only: o.reduce_only,
                post_only: o.tif == TimeInForce::PostOnly,
                slide: o.tif == TimeInForce::PostOnlySlide,
            }),
            _ => self.out.push(Out::Cancelled {
                id,
                qty: taker.qty,
                reason: stop.unwrap_or(CancelReason::ImmediateRemainder),
            }),
        }
        Ok(())
    }

    fn owned(&self, account: u32, id: u64) -> Result<usize, Reject> {
        if account >= ACCOUNTS_MAX {
            return Err(Reject::UnknownAccount);
        }
        let i = self.find(id).ok_or(Reject::UnknownOrder)?;
        if self.orders[i].account != account {
            return Err(Reject::NotOrderOwner);
        }
        Ok(i)
    }

    fn cancel(&mut self, account: u32, id: u64) {
        match self.owned(account, id) {
            Ok(i) => self.remove(i, CancelReason::UserRequested),
            Err(r) => self.out.push(Out::Rejected(r)),
        }
    }

    fn amend(&mut self, account: u32, id: u64, price: i64, qty: i64) {
        if let Err(r) = self.try_amend(account, id, price, qty) {
            self.out.push(Out::Rejected(r));
        }
    }

    fn try_amend(&mut self, account: u32, id: u64, price: i64, qty: i64) -> Result<(), Reject> {
        let i = self.owned(account, id)?;
        let o = self.orders[i];
        validate(price, qty)?;
        let mut qty = qty;
        if o.reduce_only {
            let r = reducible(self.position(account), o.side);
            if r == 0 {
                return Err(Reject::ReduceOnlyWouldIncrease);
            }
            qty = qty.min(r);
        }
        if price == o.price && qty == o.qty {
            return Err(Reject::AmendNoChange);
        }
        if price == o.price && qty < o.qty {
            // Size down in place: the order keeps its time.
            self.orders[i].qty = qty;
            self.out.push(Out::Reduced { id, qty });
            return Ok(());
        }
        let mut price = price;
        if let Some(best) = self
            .best_price(o.side.opposite())
            .filter(|b| crosses(o.side, price, *b))
        {
            if o.post_only {
                return Err(Reject::PostOnlyWouldCross);
            }
            if o.slide {
                price = best - o.side.sign();
                if price <= 0 {
                    return Err(Reject::PostOnlyNoPrice);
                }
                validate(price, qty)?;
            }
        }
        let alone = self
            .orders
            .iter()
            .filter(|x| x.side == o.side && x.price == o.price)
            .count()
            == 1;
        if !alone
            && self.depth(o.side) >= self.limits.levels_per_side_max as usize
            && !self.has_level(o.side, price)
        {
            return Err(Reject::LevelsLimit);
        }
        // Loses its place: leaves the book, re-enters as a taker that never trades with its own
        // account, and rests what is left at the back of its new price.
        self.orders.remove(i);
        self.out.push(Out::Replaced { id, price, qty });
        let mut taker = RefTaker {
            id,
            account,
            side: o.side,
            limit: price,
            qty,
            reduce_only: o.reduce_only,
            stp: SelfTradePrevention::ExpireTaker,
            fills: 0,
        };
        let stop = self.match_taker(&mut taker);
        if taker.qty > 0 && stop.is_none() {
            self.rest(RefOrder {
                price,
                qty: taker.qty,
                ..o
            });
        } else if taker.qty > 0 {
            self.out.push(Out::Cancelled {
                id,
                qty: taker.qty,
                reason: stop.unwrap_or(CancelReason::ImmediateRemainder),
            });
        }
        Ok(())
    }

    fn mass_cancel_account(&mut self, account: u32) {
        // Most recently placed first.
        while let Some(i) = (0..self.orders.len())
            .filter(|i| self.orders[*i].account == account)
            .max_by_key(|i| self.orders[*i].id)
        {
            self.remove(i, CancelReason::MassCancel);
        }
    }

    fn mass_cancel_market(&mut self) {
        for side in [Side::Buy, Side::Sell] {
            while let Some(i) = self.best(side) {
                self.remove(i, CancelReason::MassCancel);
            }
        }
    }

    /// One side as the engine shows it: levels best first, orders in priority.
    fn side(&self, side: Side) -> Vec<(i64, Vec<(u64, i64)>)> {
        let mut orders: Vec<&RefOrder> = self.orders.iter().filter(|o| o.side == side).collect();
        orders.sort_by_key(|o| (side.sign() * -o.price, o.time));
        let mut levels: Vec<(i64, Vec<(u64, i64)>)> = Vec::new();
        for o in orders {
            match levels.last_mut() {
                Some((price, queue)) if *price == o.price => queue.push((o.id, o.qty)),
                _ => levels.push((o.price, vec![(o.id, o.qty)])),
            }
        }
        levels
    }
}

// ---------------------------------------------------------------------------------------------
// Random streams.

#[derive(Clone, Debug)]
enum Op {
    Place {
        account: u32,
        side: Side,
        kind: u8,
        /// Ticks behind 100 on the order's own side (negative: through 100).
        offset: i64,
        qty: i64,
        reduce_only: bool,
        stp: u8,
    },
    Cancel {
        pick: usize,
        live: bool,
        foreign: bool,
    },
    Amend {
        pick: usize,
        live: bool,
        foreign: bool,
        price_move: i64,
        qty: i64,
    },
    MassCancelAccount {
        account: u32,
        all_markets: bool,
    },
    MassCancelMarket,
}

fn qty() -> impl Strategy<Value = i64> {
    prop_oneof![30 => 1i64..=10, 1 => Just(0), 1 => Just(-3)]
}

/// Order kinds, weighted toward orders that rest so the book has depth: `order` decodes them.
fn kind() -> impl Strategy<Value = u8> {
    prop_oneof![
        6 => Just(0u8),
        2 => Just(2u8),
        2 => Just(3u8),
        1 => Just(4u8),
        1 => Just(5u8),
        2 => Just(6u8),
        1 => Just(7u8),
        1 => Just(8u8),
    ]
}

fn op(accounts: u32) -> impl Strategy<Value = Op> {
    let side = prop_oneof![Just(Side::Buy), Just(Side::Sell)];
    let price_move = prop_oneof![2 => Just(0i64), 3 => -4i64..=4];
    let picked = || {
        (
            any::<usize>(),
            proptest::bool::weighted(0.85),
            proptest::bool::weighted(0.08),
        )
    };
    prop_oneof![
        // Bids mostly below 100 and asks mostly above, overlapping by a few ticks: books build
        // depth and still cross often.
        56 => (0..accounts, side, kind(), -2i64..=5, qty(), proptest::bool::weighted(0.3), 0u8..4)
            .prop_map(|(account, side, kind, offset, qty, reduce_only, stp)| Op::Place {
                account, side, kind, offset, qty, reduce_only, stp,
            }),
        12 => picked().prop_map(|(pick, live, foreign)| Op::Cancel { pick, live, foreign }),
        18 => (picked(), price_move, qty()).prop_map(|((pick, live, foreign), price_move, qty)| {
            Op::Amend { pick, live, foreign, price_move, qty }
        }),
        1 => (0..accounts, any::<bool>())
            .prop_map(|(account, all_markets)| Op::MassCancelAccount { account, all_markets }),
        1 => Just(Op::MassCancelMarket),
    ]
}

fn order(account: u32, side: Side, kind: u8, price: i64, qty: i64, ro: bool, stp: u8) -> NewOrder {
    let mut o = NewOrder::limit(account, MARKET, side, price, qty);
    (o.kind, o.tif) = match kind {
        0 | 1 => (OrderKind::Limit, TimeInForce::Gtc),
        2 => (OrderKind::Limit, TimeInForce::Ioc),
        3 => (OrderKind::Limit, TimeInForce::Fok),
        4 => (OrderKind::Limit, TimeInForce::PostOnly),
        5 => (OrderKind::Limit, TimeInForce::PostOnlySlide),
        6 => (OrderKind::Market, TimeInForce::Ioc),
        7 => (OrderKind::Market, TimeInForce::Fok),
        _ => (OrderKind::Market, TimeInForce::Gtc),
    };
    o.reduce_only = ro;
    o.stp = match stp {
        0 => SelfTradePrevention::Allow,
        1 => SelfTradePrevention::ExpireTaker,
        2 => SelfTradePrevention::ExpireMaker,
        _ => SelfTradePrevention::ExpireBoth,
    };
    o
}

/// Turns an op into a command, picking order ids among those placed so far.
fn command(op: &Op, accounts: u32, placed: &[(u64, u32)], reference: &Reference) -> Command {
    // Mostly an order still resting, sometimes any order ever placed (filled, cancelled).
    let pick = |pick: usize, live: bool, foreign: bool| -> (u64, u32) {
        let (id, owner) = if live && !reference.orders.is_empty() {
            let o = &reference.orders[pick % reference.orders.len()];
            (o.id, o.account)
        } else if placed.is_empty() {
            (1_000_000, 0)
        } else {
            placed[pick % placed.len()]
        };
        let account = if foreign {
            (owner + 1) % accounts
        } else {
            owner
        };
        (id, account)
    };
    match *op {
        Op::Place {
            account,
            side,
            kind,
            offset,
            qty,
            reduce_only,
            stp,
        } => {
            // A reduce-only order mostly takes the side that reduces, so that it is not just
            // rejected.
            let position = reference.position(account);
            let side = match (reduce_only, position.signum()) {
                (true, 1) => Side::Sell,
                (true, -1) => Side::Buy,
                _ => side,
            };
            let price = 100 - side.sign() * offset;
            Command::Place(order(account, side, kind, price, qty, reduce_only, stp))
        }
        Op::Cancel {
            pick: p,
            live,
            foreign,
        } => {
            let (id, account) = pick(p, live, foreign);
            Command::Cancel {
                account: AccountId(account),
                order_id: OrderId(id),
            }
        }
        Op::Amend {
            pick: p,
            live,
            foreign,
            price_move,
            qty,
        } => {
            let (id, account) = pick(p, live, foreign);
            let price = reference
                .find(id)
                .map_or(100, |i| reference.orders[i].price);
            Command::Amend {
                account: AccountId(account),
                order_id: OrderId(id),
                price: Price(price + price_move),
                qty: Qty(qty),
            }
        }
        Op::MassCancelAccount {
            account,
            all_markets,
        } => Command::MassCancelAccount {
            account: AccountId(account),
            market: (!all_markets).then_some(MarketId(MARKET)),
        },
        Op::MassCancelMarket => Command::MassCancelMarket {
            market: MarketId(MARKET),
        },
    }
}

fn apply_reference(reference: &mut Reference, seq: u64, cmd: &Command) {
    match *cmd {
        Command::Place(ref o) => reference.place(seq, o),
        Command::Cancel { account, order_id } => reference.cancel(account.0, order_id.0),
        Command::Amend {
            account,
            order_id,
            price,
            qty,
        } => reference.amend(account.0, order_id.0, price.0, qty.0),
        Command::MassCancelAccount { account, .. } => reference.mass_cancel_account(account.0),
        Command::MassCancelMarket { .. } => reference.mass_cancel_market(),
        _ => unreachable!("streams hold only order commands"),
    }
}

/// Applies `BookLevel` events to an L2 book keyed by `(side, price)`.
fn apply_levels(l2: &mut BTreeMap<(u8, i64), (i64, u32)>, events: &[Event]) {
    for e in events {
        if let Event::BookLevel {
            side,
            price,
            qty,
            orders,
            ..
        } = *e
        {
            let key = (side as u8, price.0);
            if qty.0 == 0 {
                assert_eq!(orders, 0, "an empty level has no orders");
                assert!(
                    l2.remove(&key).is_some(),
                    "removed level {key:?} was never added"
                );
            } else {
                l2.insert(key, (qty.0, orders));
            }
        }
    }
}

fn run(limits: Limits, accounts: u32, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut spec = MarketSpec::unit(MarketId(MARKET), "DIFF");
    spec.market_protection_ppm = u32::try_from(PROTECTION_PPM).expect("small");
    let mut h = Harness::bare(limits);
    h.add_market(spec);
    let mut reference = Reference::new(limits);
    let mut placed: Vec<(u64, u32)> = Vec::new();
    let mut l2 = BTreeMap::new();
    for (step, op) in ops.iter().enumerate() {
        let cmd = command(op, accounts, &placed, &reference);
        let seq = h.next_id().0;
        let events = h.step(cmd.clone());
        reference.out.clear();
        apply_reference(&mut reference, seq, &cmd);
        prop_assert_eq!(
            outs(&events),
            reference.out.clone(),
            "step {} command {:?}",
            step,
            cmd
        );
        if let Command::Place(o) = &cmd {
            if matches!(events.first(), Some(Event::Accepted { .. })) {
                placed.push((seq, o.account.0));
            }
        }
        for side in [Side::Buy, Side::Sell] {
            prop_assert_eq!(
                book_side(&h.engine, MARKET, side),
                reference.side(side),
                "{:?} side after step {} command {:?}",
                side,
                step,
                cmd
            );
        }
        for account in 0..accounts {
            prop_assert_eq!(h.position(account, MARKET), reference.position(account));
        }
        apply_levels(&mut l2, &events);
        let (bids, asks) = h.depth(MARKET);
        let from_feed: Vec<(i64, i64)> = l2
            .iter()
            .filter(|((side, _), _)| *side == Side::Buy as u8)
            .rev()
            .map(|((_, price), (qty, _))| (*price, *qty))
            .collect();
        prop_assert_eq!(from_feed, bids, "L2 feed bids after step {}", step);
        let from_feed: Vec<(i64, i64)> = l2
            .iter()
            .filter(|((side, _), _)| *side == Side::Sell as u8)
            .map(|((_, price), (qty, _))| (*price, *qty))
            .collect();
        prop_assert_eq!(from_feed, asks, "L2 feed asks after step {}", step);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn engine_matches_reference_book(
        (accounts, ops) in (2u32..=6).prop_flat_map(|n| (Just(n), proptest::collection::vec(op(n), 1..160)))
    ) {
        run(Limits::SMALL, accounts, &ops)?;
    }

    /// The same at limits small enough that random streams hit every one of them: orders per
    /// account and in all, levels per side, fills per taker (including FOK dry runs).
    #[test]
    fn engine_matches_reference_book_at_tight_limits(
        (accounts, ops) in (2u32..=4).prop_flat_map(|n| (Just(n), proptest::collection::vec(op(n), 1..120)))
    ) {
        run(TIGHT, accounts, &ops)?;
    }
}

/// Limits that random streams of a few accounts run into all the time.
const TIGHT: Limits = Limits {
    markets_max: 1,
    accounts_max: ACCOUNTS_MAX,
    orders_max: 9,
    orders_per_account_max: 4,
    levels_per_side_max: 3,
    fills_per_taker_max: 2,
    ..Limits::SMALL
};

/// Streams the random ones rarely build: long queues at one price with every kind of order.
#[test]
fn engine_matches_reference_on_a_crowded_single_price() {
    let mut ops = Vec::new();
    for i in 0..60u32 {
        ops.push(Op::Place {
            account: i % 4,
            side: if i % 3 == 0 { Side::Buy } else { Side::Sell },
            kind: u8::try_from(i % 9).expect("small"),
            offset: i64::from(i % 2),
            qty: i64::from(i % 5) + 1,
            reduce_only: i % 7 == 0,
            stp: u8::try_from(i % 4).expect("small"),
        });
        if i % 5 == 4 {
            ops.push(Op::Amend {
                pick: i as usize,
                live: true,
                foreign: false,
                price_move: i64::from(i % 3) - 1,
                qty: 3,
            });
        }
    }
    ops.push(Op::MassCancelAccount {
        account: 1,
        all_markets: true,
    });
    ops.push(Op::MassCancelMarket);
    run(Limits::SMALL, 4, &ops).expect("engine agrees with the reference");
    run(TIGHT, 4, &ops).expect("engine agrees with the reference at tight limits");
}
