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
        let events = self.step(Command::AddMarket(Box::new(spec)));
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

/// SplitMix64: a tiny, seeded, portable PRNG, so streams are the same on every machine.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (slightly biased for huge `n`, which is fine for tests).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        let span = u64::try_from(hi - lo + 1).expect("lo <= hi");
        lo + i64::try_from(self.below(span)).expect("span fits")
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One of the items, uniformly.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        let i = usize::try_from(self.below(items.len() as u64)).expect("index fits");
        items[i]
    }
}

/// The BTC-PERP reference price random streams start from (50,000.0 USD).
pub const BTC_MID: i64 = 500_000;
/// The unit market's mid price in random streams.
pub const UNIT_MID: i64 = 1_000;
/// Accounts that trade in random streams.
pub const STREAM_ACCOUNTS: u64 = 40;

/// A realistic random command stream: it creates the unit market and BTC-PERP, then mixes
/// GTC, IOC, FOK, post-only (both policies), market and reduce-only orders with every
/// self-trade mode, cancels and amends of live orders, mass cancels, reference price moves,
/// and a few invalid commands. Orders cluster around the mid so they often cross.
///
/// The stream is generated against its own engine, to pick live order ids, so it is a pure
/// function of the seed and the engine's (deterministic) behaviour.
#[must_use]
pub fn random_stream(seed: u64, commands: usize) -> Vec<Sequenced<Command>> {
    let mut rng = Rng::new(seed);
    let mut engine = Engine::new(Limits::SMALL);
    let mut out = Vec::with_capacity(commands);
    let mut live: Vec<(u64, u32)> = Vec::new();
    let (mut seq, mut ts_ns) = (0u64, 1_700_000_000_000_000_000u64);
    for i in 0..commands {
        let command = match i {
            0 => Command::AddMarket(Box::new(MarketSpec::unit(MarketId(UNIT), "UNIT"))),
            1 => Command::AddMarket(Box::new(MarketSpec::btc_perp(MarketId(BTC)))),
            2 => Command::SetReferencePrice {
                market: MarketId(BTC),
                price: cascade_risk::Price(BTC_MID),
            },
            _ => random_command(&mut rng, &engine, &mut live),
        };
        // Sequence numbers sometimes skip, as after a sequencer's rejected message.
        seq += if rng.chance(2) { rng.below(5) + 2 } else { 1 };
        ts_ns += rng.below(1_000_000);
        let cmd = Sequenced {
            seq,
            ts_ns,
            command,
        };
        for e in engine.apply(&cmd) {
            if let Event::Rested {
                order_id, account, ..
            } = *e
            {
                live.push((order_id.0, account.0));
            }
        }
        out.push(cmd);
    }
    out
}

/// A live order id and its owner, dropping ids that are gone.
fn pick_live(rng: &mut Rng, engine: &Engine, live: &mut Vec<(u64, u32)>) -> Option<(u64, u32)> {
    while !live.is_empty() {
        let i = usize::try_from(rng.below(live.len() as u64)).expect("index fits");
        let (id, account) = live[i];
        if engine.order(OrderId(id)).is_some() {
            return Some((id, account));
        }
        live.swap_remove(i);
    }
    None
}

fn random_command(rng: &mut Rng, engine: &Engine, live: &mut Vec<(u64, u32)>) -> Command {
    let roll = rng.below(1_000);
    if roll < 620 {
        return Command::Place(random_order(rng, engine));
    }
    if roll < 900 {
        let Some((id, mut account)) = pick_live(rng, engine, live) else {
            return Command::Place(random_order(rng, engine));
        };
        if rng.chance(3) {
            account = (account + 1) % 40;
        }
        let order_id = OrderId(id);
        let account = AccountId(account);
        if roll < 750 {
            return Command::Cancel { account, order_id };
        }
        let o = engine.order(order_id).expect("picked live");
        let price = if rng.chance(50) {
            o.price
        } else {
            o.price + rng.range(-3, 3)
        };
        let qty = if rng.chance(50) {
            (o.qty_open - 1).max(1)
        } else {
            rng.range(1, 20)
        };
        return Command::Amend {
            account,
            order_id,
            price: cascade_risk::Price(price),
            qty: cascade_risk::Qty(qty),
        };
    }
    if roll < 980 {
        return Command::Place(random_order(rng, engine));
    }
    if roll < 990 {
        return Command::MassCancelAccount {
            account: AccountId(u32::try_from(rng.below(STREAM_ACCOUNTS)).expect("small")),
            market: rng.chance(50).then(|| MarketId(rng.pick(&[UNIT, BTC]))),
        };
    }
    if roll < 992 {
        return Command::MassCancelMarket {
            market: MarketId(rng.pick(&[UNIT, BTC])),
        };
    }
    Command::SetReferencePrice {
        market: MarketId(BTC),
        price: cascade_risk::Price(BTC_MID + rng.range(-2_000, 2_000)),
    }
}

fn random_order(rng: &mut Rng, engine: &Engine) -> NewOrder {
    use cascade_engine::{OrderKind, SelfTradePrevention, TimeInForce};
    let market = if rng.chance(70) { UNIT } else { BTC };
    let account = u32::try_from(rng.below(STREAM_ACCOUNTS)).expect("small");
    let mut side = rng.pick(&[Side::Buy, Side::Sell]);
    let reduce_only = rng.chance(8);
    if reduce_only {
        match engine
            .position(AccountId(account), MarketId(market))
            .signum()
        {
            1 => side = Side::Sell,
            -1 => side = Side::Buy,
            _ => {}
        }
    }
    let (mid, depth) = if market == UNIT {
        (UNIT_MID, 12)
    } else {
        (BTC_MID, 30)
    };
    let price = mid - side.sign() * rng.range(-3, depth);
    let mut order = NewOrder::limit(account, market, side, price, rng.range(1, 20));
    order.client_ref = rng.next_u64();
    order.reduce_only = reduce_only;
    order.tif = rng.pick(&[
        TimeInForce::Gtc,
        TimeInForce::Gtc,
        TimeInForce::Gtc,
        TimeInForce::Gtc,
        TimeInForce::Ioc,
        TimeInForce::Fok,
        TimeInForce::PostOnly,
        TimeInForce::PostOnlySlide,
    ]);
    if rng.chance(8) {
        order.kind = OrderKind::Market;
        order.tif = rng.pick(&[TimeInForce::Ioc, TimeInForce::Ioc, TimeInForce::Fok]);
    }
    order.stp = if rng.chance(70) {
        SelfTradePrevention::Allow
    } else {
        rng.pick(&[
            SelfTradePrevention::ExpireTaker,
            SelfTradePrevention::ExpireMaker,
            SelfTradePrevention::ExpireBoth,
        ])
    };
    // A few invalid orders: every one must be a clean reject.
    if rng.chance(2) {
        match rng.below(6) {
            0 => order.qty = cascade_risk::Qty(0),
            1 => order.price = cascade_risk::Price(-1),
            2 => order.price = cascade_risk::Price(i64::MAX),
            3 => order.qty = cascade_risk::Qty(i64::MAX),
            4 => order.account = AccountId(u32::MAX),
            _ => order.market = MarketId(9),
        }
    }
    order
}

/// Commands that set up market 0 as a unit market with a single 1% maintenance tier, the index
/// as mark, no fees, no backstop and no insurance fund, and `policy` for ADL.
pub fn adl_market(policy: cascade_engine::risk_params::AdlPolicy) -> Vec<Command> {
    use cascade_engine::risk_params::{MarkSource, RiskParams};
    let mut params = RiskParams::simple(10_000, 50);
    params.mark_source = MarkSource::Index;
    params.adl = policy;
    vec![
        Command::AddMarket(Box::new(MarketSpec::unit(MarketId(0), "T"))),
        Command::SetRiskParams {
            market: MarketId(0),
            params: Box::new(params),
        },
    ]
}

/// Where a generated ADL cascade puts its accounts and what it opens.
#[derive(Clone, Copy, Debug)]
pub struct AdlCascade {
    /// First account id used; longs come first, then shorts.
    pub first: u32,
    /// 50x longs, each bankrupt after the gap.
    pub longs: u32,
    /// Shorts, `short_lots` each; short `k` enters at `1000 + k % 10` with `1000 + 37·k` of
    /// collateral, so their ADL scores differ (and some tie on price).
    pub shorts: u32,
    /// Lots per short; `shorts × short_lots` must divide evenly among the longs.
    pub short_lots: i64,
}

impl AdlCascade {
    /// Account id of long `i`.
    pub fn long(&self, i: u32) -> u32 {
        self.first + i
    }

    /// Account id of short `k`.
    pub fn short(&self, k: u32) -> u32 {
        self.first + self.longs + k
    }

    /// Lots each long buys.
    pub fn long_lots(&self) -> i64 {
        let total = i64::from(self.shorts) * self.short_lots;
        assert_eq!(total % i64::from(self.longs), 0, "lots must split evenly");
        total / i64::from(self.longs)
    }

    /// Commands opening the positions at index 1000: the shorts rest their asks, the longs
    /// (40 of collateral a lot, 50x) lift them. Nothing rests after.
    pub fn open(&self) -> Vec<Command> {
        let mut out = vec![Command::SetIndexPrice {
            market: MarketId(0),
            index: cascade_risk::Price(1_000),
            external_mark: None,
        }];
        let lots = self.long_lots();
        for k in 0..self.shorts {
            out.push(Command::Deposit {
                account: AccountId(self.short(k)),
                amount: cascade_risk::Quote(1_000 + 37 * i64::from(k)),
            });
            let price = 1_000 + i64::from(k % 10);
            out.push(Command::Place(sell(self.short(k), price, self.short_lots)));
        }
        for i in 0..self.longs {
            let a = self.long(i);
            out.push(Command::Deposit {
                account: AccountId(a),
                amount: cascade_risk::Quote(40 * lots),
            });
            out.push(Command::SetLeverage {
                account: AccountId(a),
                market: MarketId(0),
                leverage: 50,
            });
            out.push(Command::Place(buy(a, 1_009, lots)));
        }
        out
    }

    /// The gap that bankrupts every long at once: index 900 with no bids on the book.
    pub fn gap() -> Command {
        Command::SetIndexPrice {
            market: MarketId(0),
            index: cascade_risk::Price(900),
            external_mark: None,
        }
    }
}
