//! A tiny harness for the engine's integration tests: an engine with [`Limits::SMALL`] (or
//! custom limits), markets created through sequenced commands, and [`Harness::step`], which
//! stamps increasing sequence numbers and runs the O(N) invariant audit after every command.
//!
//! Each test binary uses a different subset of these helpers, so unused ones are allowed here
//! rather than warned about in every binary that does not need them.
#![allow(dead_code)]

use cascade_engine::{
    AccountId, CancelReason, Command, Engine, Event, Limits, MarketId, MarketSpec, NewOrder,
    OrderId, Reject, Sequenced, Side,
};

/// The unit market every test uses by default: plain integer prices and quantities.
pub const UNIT: u16 = 0;
/// The BTC-PERP market (tick 0.1 USD, lot 0.001 BTC) where a test asks for it.
pub const BTC: u16 = 1;

/// An engine plus the next sequence number to stamp.
#[derive(Clone, Debug)]
pub struct Harness {
    /// The engine under test.
    pub engine: Engine,
    /// Sequence number of the last command stamped.
    pub seq: u64,
}

impl Harness {
    /// An engine with `Limits::SMALL` and the unit market `UNIT`.
    #[must_use]
    pub fn new() -> Self {
        Self::with_limits(Limits::SMALL)
    }

    /// An engine with `Limits::SMALL`, the unit market `UNIT` and BTC-PERP as `BTC`.
    #[must_use]
    pub fn with_btc() -> Self {
        let mut h = Self::new();
        h.add_market(MarketSpec::btc_perp(MarketId(BTC)));
        h
    }

    /// An engine with custom limits and the unit market `UNIT`.
    #[must_use]
    pub fn with_limits(limits: Limits) -> Self {
        let mut h = Self::bare(limits);
        h.add_market(MarketSpec::unit(MarketId(UNIT), "UNIT"));
        h
    }

    /// An engine with no market.
    #[must_use]
    pub fn bare(limits: Limits) -> Self {
        Self {
            engine: Engine::new(limits),
            seq: 0,
        }
    }

    /// Adds a market and checks it was accepted.
    pub fn add_market(&mut self, spec: MarketSpec) {
        let events = self.step(Command::AddMarket(spec));
        assert_eq!(events, vec![Event::MarketAdded { market: spec.id }]);
    }

    /// The sequence number the next command gets, which is also the id of the order it places.
    #[must_use]
    pub fn next_id(&self) -> OrderId {
        OrderId(self.seq + 1)
    }

    /// The command wrapped with the next sequence number (without applying it).
    pub fn stamp(&mut self, command: Command) -> Sequenced<Command> {
        self.seq += 1;
        Sequenced {
            seq: self.seq,
            ts_ns: self.seq * 1_000,
            command,
        }
    }

    /// Applies an already stamped command, then audits every invariant.
    ///
    /// # Panics
    /// If the audit fails, naming the sequence number and the broken invariant.
    pub fn apply(&mut self, cmd: &Sequenced<Command>) -> Vec<Event> {
        let events = self.engine.apply(cmd).to_vec();
        if let Err(e) = self.engine.audit() {
            panic!("audit failed after seq {}: {e}\ncommand: {cmd:?}", cmd.seq);
        }
        events
    }

    /// Stamps the next sequence number on a command, applies it and audits.
    pub fn step(&mut self, command: Command) -> Vec<Event> {
        let cmd = self.stamp(command);
        self.apply(&cmd)
    }

    /// Places an order; its id is the returned sequence number.
    pub fn place(&mut self, order: NewOrder) -> (OrderId, Vec<Event>) {
        let id = self.next_id();
        (id, self.step(Command::Place(order)))
    }

    /// Places an order that must rest in full without trading; returns its id.
    pub fn rest(&mut self, order: NewOrder) -> OrderId {
        let (id, events) = self.place(order);
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::Rested { order_id, qty, .. }
                if *order_id == id && *qty == order.qty)),
            "expected {order:?} to rest in full, got {events:?}"
        );
        assert!(trades(&events).is_empty(), "expected no trades: {events:?}");
        id
    }

    /// Cancels an order.
    pub fn cancel(&mut self, account: u32, id: OrderId) -> Vec<Event> {
        self.step(Command::Cancel {
            account: AccountId(account),
            order_id: id,
        })
    }

    /// Amends an order.
    pub fn amend(&mut self, account: u32, id: OrderId, price: i64, qty: i64) -> Vec<Event> {
        self.step(Command::Amend {
            account: AccountId(account),
            order_id: id,
            price: cascade_risk::Price(price),
            qty: cascade_risk::Qty(qty),
        })
    }

    /// Position of `account` in `market`.
    #[must_use]
    pub fn position(&self, account: u32, market: u16) -> i64 {
        self.engine.position(AccountId(account), MarketId(market))
    }

    /// Open interest of `market`.
    #[must_use]
    pub fn open_interest(&self, market: u16) -> i64 {
        self.engine
            .market(MarketId(market))
            .expect("market exists")
            .open_interest
    }

    /// One side of a book, best level first: `(price, [(order id, open qty)])` in time priority.
    #[must_use]
    pub fn side(&self, market: u16, side: Side) -> Vec<(i64, Vec<(u64, i64)>)> {
        book_side(&self.engine, market, side)
    }

    /// The book as `(bids, asks)`, each `[(price, total qty)]` best first.
    #[must_use]
    pub fn depth(&self, market: u16) -> (Depth, Depth) {
        let m = self.engine.market(MarketId(market)).expect("market exists");
        let levels = |side| {
            m.book
                .levels(side)
                .map(|l| (l.price, l.qty_total))
                .collect()
        };
        (levels(Side::Buy), levels(Side::Sell))
    }

    /// Applies `command`, asserts it was rejected with `reason` as its only event, and that it
    /// changed nothing but the sequence number: the state hash equals that of a copy of the
    /// engine that applied a command known to change nothing at the same sequence number.
    pub fn assert_rejected_without_effect(&mut self, command: Command, reason: Reject) {
        let before_books = self.snapshot();
        let mut control = self.engine.clone();
        let cmd = self.stamp(command);
        let events = self.apply(&cmd);
        assert!(
            matches!(events.as_slice(), [Event::Rejected { reason: r, .. }] if *r == reason),
            "expected only a {reason} reject for {cmd:?}, got {events:?}"
        );
        // Order id 0 is never assigned, so cancelling it is a reject that changes nothing.
        let noop = Sequenced {
            seq: cmd.seq,
            ts_ns: cmd.ts_ns,
            command: Command::Cancel {
                account: AccountId(0),
                order_id: OrderId(0),
            },
        };
        let control_events = control.apply(&noop).to_vec();
        assert!(matches!(
            control_events.as_slice(),
            [Event::Rejected {
                reason: Reject::UnknownOrder,
                ..
            }]
        ));
        assert_eq!(
            self.engine.state_hash(),
            control.state_hash(),
            "reject {reason} changed state"
        );
        assert_eq!(
            self.snapshot(),
            before_books,
            "reject {reason} changed a book"
        );
    }

    /// Every book and the positions of the first accounts, for before/after comparisons.
    #[must_use]
    pub fn snapshot(&self) -> Vec<String> {
        let mut out = Vec::new();
        for m in self.engine.markets() {
            let id = m.spec.id.0;
            out.push(format!(
                "{id} bids {:?} asks {:?} oi {} ref {:?}",
                self.side(id, Side::Buy),
                self.side(id, Side::Sell),
                m.open_interest,
                m.reference
            ));
            let positions: Vec<i64> = (0..16).map(|a| self.position(a, id)).collect();
            out.push(format!("{id} positions {positions:?}"));
        }
        out
    }
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

/// One side of a market's book, best level first, orders in time priority.
#[must_use]
pub fn book_side(engine: &Engine, market: u16, side: Side) -> Vec<(i64, Vec<(u64, i64)>)> {
    let m = engine.market(MarketId(market)).expect("market exists");
    m.book
        .levels(side)
        .map(|level| {
            let mut orders = Vec::new();
            let mut slot = level.head;
            while slot != cascade_engine::book::NIL {
                let o = engine.orders().get(slot);
                orders.push((o.id, o.qty_open));
                slot = o.next;
            }
            (level.price, orders)
        })
        .collect()
}

/// One side's levels as `(price, total qty)`, best first.
pub type Depth = Vec<(i64, i64)>;

/// A trade reduced to what matching decides: `(maker id, taker id, price, qty)`.
pub type Fill = (u64, u64, i64, i64);

/// The trades among `events`, in order.
#[must_use]
pub fn trades(events: &[Event]) -> Vec<Fill> {
    events
        .iter()
        .filter_map(|e| match *e {
            Event::Trade {
                maker_order,
                taker_order,
                price,
                qty,
                ..
            } => Some((maker_order.0, taker_order.0, price.0, qty.0)),
            _ => None,
        })
        .collect()
}

/// The cancels among `events`: `(order id, qty, reason)`.
#[must_use]
pub fn cancels(events: &[Event]) -> Vec<(u64, i64, CancelReason)> {
    events
        .iter()
        .filter_map(|e| match *e {
            Event::Cancelled {
                order_id,
                qty,
                reason,
                ..
            } => Some((order_id.0, qty.0, reason)),
            _ => None,
        })
        .collect()
}

/// The reject reason, if the command was rejected.
#[must_use]
pub fn rejected(events: &[Event]) -> Option<Reject> {
    events.iter().find_map(|e| match *e {
        Event::Rejected { reason, .. } => Some(reason),
        _ => None,
    })
}

/// A GTC limit order on the unit market.
#[must_use]
pub fn gtc(account: u32, side: Side, price: i64, qty: i64) -> NewOrder {
    NewOrder::limit(account, UNIT, side, price, qty)
}

/// A buy GTC limit order on the unit market.
#[must_use]
pub fn buy(account: u32, price: i64, qty: i64) -> NewOrder {
    gtc(account, Side::Buy, price, qty)
}

/// A sell GTC limit order on the unit market.
#[must_use]
pub fn sell(account: u32, price: i64, qty: i64) -> NewOrder {
    gtc(account, Side::Sell, price, qty)
}
