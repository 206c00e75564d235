//! Cascade as a benchmark subject: operations become sequenced engine commands once, before
//! timing, and the timed loop is `Engine::apply` plus reading its events.

use crate::fills::FillTally;
use crate::harness::Book;
use crate::workload::{Op, Tif, FIRST_SEQ};
use cascade_engine::{
    AccountId, Command, Engine, Event, Limits, MarketId, MarketSpec, NewOrder, OrderId, Sequenced,
    TimeInForce,
};
use cascade_risk::{Price, Qty};
use std::sync::atomic::{AtomicU32, Ordering};

/// The market every workload trades: a unit market (price = ticks, qty = lots, no band, no
/// minimum notional).
pub const MARKET: MarketId = MarketId(0);

/// Resting-order capacity of the engines [`Book::new`] builds; 0 means
/// `Limits::DEFAULT.orders_max`. Process configuration (`cascade bench --orders-max`): it sizes
/// memory and cannot change fills.
static ORDERS_MAX: AtomicU32 = AtomicU32::new(0);

/// Sets the resting-order capacity of the engines built from now on (0: the default).
pub fn set_orders_max(n: u32) {
    ORDERS_MAX.store(n, Ordering::Relaxed);
}

/// The limits [`Book::new`] builds engines with: `Limits::DEFAULT`, with `orders_max` as set.
#[must_use]
pub fn limits() -> Limits {
    match ORDERS_MAX.load(Ordering::Relaxed) {
        0 => Limits::DEFAULT,
        n => Limits {
            orders_max: n,
            ..Limits::DEFAULT
        },
    }
}

/// Cascade's engine with one unit market.
#[derive(Debug)]
pub struct Cascade {
    engine: Engine,
}

impl Cascade {
    /// An engine sized by `limits`, with the benchmark market created (sequence 1).
    ///
    /// # Panics
    /// If the market cannot be created.
    #[must_use]
    pub fn with_limits(limits: Limits) -> Self {
        let mut engine = Engine::new(limits);
        let events = engine.apply(&Sequenced {
            seq: 1,
            ts_ns: 1,
            command: Command::AddMarket(Box::new(MarketSpec::unit(MARKET, "BENCH"))),
        });
        assert!(
            matches!(events, [Event::MarketAdded { .. }]),
            "creating the benchmark market: {events:?}"
        );
        Self { engine }
    }

    /// The engine.
    #[must_use]
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The engine, to apply commands directly (tools that need every event).
    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }
}

/// The engine command for one operation.
#[must_use]
pub fn command(op: &Op) -> Command {
    match *op {
        Op::Add {
            account,
            side,
            price,
            qty,
            tif,
            ..
        } => {
            let o = NewOrder::limit(account, MARKET.0, side, price, qty);
            Command::Place(match tif {
                Tif::Gtc => o,
                Tif::Ioc => o.with_tif(TimeInForce::Ioc),
            })
        }
        Op::Market {
            account, side, qty, ..
        } => Command::Place(NewOrder::market_order(account, MARKET.0, side, qty)),
        Op::Cancel { id, account } => Command::Cancel {
            account: AccountId(account),
            order_id: OrderId(id),
        },
        Op::Amend {
            id,
            account,
            price,
            qty,
        } => Command::Amend {
            account: AccountId(account),
            order_id: OrderId(id),
            price: Price(price),
            qty: Qty(qty),
        },
    }
}

/// The sequenced commands for a stream: operation `i` gets sequence `i + FIRST_SEQ`, and its
/// timestamp is its sequence number (the engine only needs it not to go backwards).
#[must_use]
pub fn commands(ops: &[Op]) -> Vec<Sequenced<Command>> {
    ops.iter()
        .zip(FIRST_SEQ..)
        .map(|(op, seq)| Sequenced {
            seq,
            ts_ns: seq,
            command: command(op),
        })
        .collect()
}

impl Book for Cascade {
    type Input = Sequenced<Command>;
    const NAME: &'static str = "cascade";

    fn prepare(ops: &[Op]) -> Vec<Self::Input> {
        commands(ops)
    }

    fn new() -> Self {
        Self::with_limits(limits())
    }

    #[inline]
    fn apply(&mut self, cmd: &Self::Input, tally: &mut FillTally) {
        for e in self.engine.apply(cmd) {
            if let Event::Trade {
                maker_order,
                taker_order,
                price,
                qty,
                ..
            } = e
            {
                tally.record(
                    maker_order.0,
                    taker_order.0,
                    price.0.unsigned_abs(),
                    qty.0.unsigned_abs(),
                );
            }
        }
    }
}
