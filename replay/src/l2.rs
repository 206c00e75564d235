//! Level-by-level (L2) venue data as engine order flow, shared by the L2 importers.
//!
//! A venue's L2 feed gives the total size at each price, not orders. [`L2Flow`] keeps the
//! venue's book as given ([`Book`]) and turns it into engine commands: each price level is one
//! post-only order of the makers' account, brought to the level's new total by a cancel, an
//! amend or a new order; trades become IOC orders of the takers' account. It also keeps a copy
//! of what the engine holds ([`Mirror`]), so it knows every order id, never sends a level that
//! would cross the engine's book, and predicts which taker orders will find too little
//! liquidity, which [`TakerCheck`] then confirms against the engine.

use std::collections::BTreeMap;

use cascade_engine::{
    AccountId, Command, Event, MarketId, NewOrder, OrderId, OrderKind, SelfTradePrevention,
    Sequenced, Side, TimeInForce,
};
use cascade_risk::{Price, Qty};
use serde_json::json;

use crate::replay::Checker;
use crate::Sequencer;

/// The one market of an L2 import.
pub const MARKET: MarketId = MarketId(0);

/// Best bid and ask, price and size; `None` for an empty side.
pub type Bbo = [Option<(i64, i64)>; 2];

/// The venue's L2 book, rebuilt.
#[derive(Default)]
pub struct Book {
    sides: [BTreeMap<i64, i64>; 2],
}

impl Book {
    /// Sets a level's total size (0 removes it).
    pub fn set(&mut self, side: Side, px: i64, qty: i64) {
        if qty == 0 {
            self.sides[side.index()].remove(&px);
        } else {
            self.sides[side.index()].insert(px, qty);
        }
    }

    /// Best bid and ask, price and size.
    #[must_use]
    pub fn bbo(&self) -> Bbo {
        let bid = self.sides[0].iter().next_back().map(|(p, q)| (*p, *q));
        let ask = self.sides[1].iter().next().map(|(p, q)| (*p, *q));
        [bid, ask]
    }
}

/// The engine's copy of the venue's liquidity: one order per level, as the engine holds it
/// (taker flow shrinks it between depth updates).
#[derive(Default)]
struct Mirror {
    sides: [BTreeMap<i64, (u64, i64)>; 2],
}

impl Mirror {
    fn best(&self, side: Side) -> Option<i64> {
        match side {
            Side::Buy => self.sides[0].keys().next_back().copied(),
            Side::Sell => self.sides[1].keys().next().copied(),
        }
    }

    /// Whether an order at `px` on `side` would trade against the other side.
    fn crosses(&self, side: Side, px: i64) -> bool {
        match (side, self.best(side.opposite())) {
            (Side::Buy, Some(ask)) => px >= ask,
            (Side::Sell, Some(bid)) => px <= bid,
            (_, None) => false,
        }
    }

    /// Applies a taker IOC as the engine will: best level first, up to the limit. Returns the
    /// quantity left unfilled.
    fn take(&mut self, taker: Side, limit: i64, mut qty: i64) -> i64 {
        let book = &mut self.sides[taker.opposite().index()];
        while qty > 0 {
            let best = match taker {
                Side::Buy => book.iter_mut().next(),
                Side::Sell => book.iter_mut().next_back(),
            };
            let Some((&px, level)) = best else { break };
            let reachable = match taker {
                Side::Buy => px <= limit,
                Side::Sell => px >= limit,
            };
            if !reachable {
                break;
            }
            let fill = qty.min(level.1);
            level.1 -= fill;
            qty -= fill;
            if level.1 == 0 {
                book.remove(&px);
            }
        }
        qty
    }
}

/// Turns level updates and trades into sequenced commands.
pub struct L2Flow {
    /// The commands so far.
    pub seq: Sequencer,
    /// The venue's book as given.
    pub book: Book,
    /// What the importer counted, for the report.
    pub counts: BTreeMap<&'static str, u64>,
    mirror: Mirror,
    makers: AccountId,
    takers: AccountId,
}

impl L2Flow {
    /// An empty flow: resting liquidity belongs to `makers`, trades to `takers`.
    #[must_use]
    pub fn new(makers: AccountId, takers: AccountId) -> Self {
        Self {
            seq: Sequencer::default(),
            book: Book::default(),
            counts: BTreeMap::new(),
            mirror: Mirror::default(),
            makers,
            takers,
        }
    }

    /// Adds one to a report counter.
    pub fn count(&mut self, what: &'static str) {
        *self.counts.entry(what).or_default() += 1;
    }

    fn place(&mut self, ts: u64, side: Side, px: i64, qty: i64) {
        if self.mirror.crosses(side, px) {
            self.count("levels_not_placed_crossing");
            return;
        }
        let order = NewOrder {
            account: self.makers,
            market: MARKET,
            client_ref: 0,
            side,
            kind: OrderKind::Limit,
            price: Price(px),
            qty: Qty(qty),
            tif: TimeInForce::PostOnly,
            reduce_only: false,
            stp: SelfTradePrevention::Allow,
        };
        let id = self.seq.push(ts, Command::Place(order));
        self.mirror.sides[side.index()].insert(px, (id, qty));
    }

    /// Brings the engine's level at `px` to `qty`.
    fn level(&mut self, ts: u64, side: Side, px: i64, qty: i64) {
        match self.mirror.sides[side.index()].get(&px).copied() {
            Some((id, _)) if qty == 0 => {
                self.seq.push(
                    ts,
                    Command::Cancel {
                        account: self.makers,
                        order_id: OrderId(id),
                    },
                );
                self.mirror.sides[side.index()].remove(&px);
            }
            Some((_, held)) if held == qty => {}
            Some((id, _)) => {
                self.seq.push(
                    ts,
                    Command::Amend {
                        account: self.makers,
                        order_id: OrderId(id),
                        price: Price(px),
                        qty: Qty(qty),
                    },
                );
                self.mirror.sides[side.index()].insert(px, (id, qty));
            }
            None if qty > 0 => self.place(ts, side, px, qty),
            None => {}
        }
    }

    /// Applies one message's level updates `(side, price, new total)` to the book and the
    /// engine.
    pub fn apply_levels(&mut self, ts: u64, levels: &[(Side, i64, i64)]) {
        for &(side, px, qty) in levels {
            self.book.set(side, px, qty);
        }
        // Removals and shrinks first, so no new level meets a stale one on the other side.
        let (shrink, grow): (Vec<_>, Vec<_>) =
            levels.iter().partition(|(side, px, qty)| {
                match self.mirror.sides[side.index()].get(px) {
                    Some((_, held)) => *qty <= *held,
                    None => *qty == 0,
                }
            });
        for &(side, px, qty) in shrink.iter().chain(grow.iter()) {
            self.level(ts, side, px, qty);
        }
    }

    /// Removes every level (a venue snapshot that replaces the book follows).
    pub fn clear(&mut self, ts: u64) {
        let mut levels = Vec::new();
        for side in [Side::Buy, Side::Sell] {
            for &px in self.book.sides[side.index()].keys() {
                levels.push((side, px, 0));
            }
            for &px in self.mirror.sides[side.index()].keys() {
                levels.push((side, px, 0));
            }
        }
        self.apply_levels(ts, &levels);
    }

    /// A venue trade as taker flow: an IOC at the trade price for the trade size.
    pub fn taker(&mut self, ts: u64, side: Side, px: i64, qty: i64) {
        let order = NewOrder {
            account: self.takers,
            market: MARKET,
            client_ref: 0,
            side,
            kind: OrderKind::Limit,
            price: Price(px),
            qty: Qty(qty),
            tif: TimeInForce::Ioc,
            reduce_only: false,
            stp: SelfTradePrevention::Allow,
        };
        self.seq.push(ts, Command::Place(order));
        if self.mirror.take(side, px, qty) > 0 {
            // A level update already took this liquidity away: venues send book updates and
            // trade prints on separate streams.
            self.count("trades_short_of_liquidity");
        }
        self.count("trades_replayed");
    }
}

/// Counts the takers' orders and those the engine filled in full.
pub struct TakerCheck {
    takers: AccountId,
    orders: u64,
    filled: u64,
}

impl TakerCheck {
    /// Watches the orders of `takers`.
    #[must_use]
    pub fn new(takers: AccountId) -> Self {
        Self {
            takers,
            orders: 0,
            filled: 0,
        }
    }
}

impl Checker for TakerCheck {
    fn observe(&mut self, cmd: &Sequenced<Command>, events: &[Event]) {
        let Command::Place(o) = &cmd.command else {
            return;
        };
        if o.account != self.takers {
            return;
        }
        self.orders += 1;
        let filled: i64 = events
            .iter()
            .map(|e| match e {
                Event::Trade { qty, .. } => qty.0,
                _ => 0,
            })
            .sum();
        if filled == o.qty.0 {
            self.filled += 1;
        }
    }

    fn finish(&self) -> serde_json::Value {
        json!({
            "taker_orders": self.orders,
            "taker_orders_filled_in_full": self.filled,
        })
    }
}
