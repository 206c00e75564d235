//! A liquidation cascade: `n` leveraged longs, one index move that crosses every trigger.
//!
//! # Setup
//! Accounts `0..n` each buy 1 lot (0.001 BTC, 50 USD) at 50,000 USD at 50x leverage from a
//! seller (account `n`, 10M USD, one resting ask), funded with 1.000 to 1.499 USD
//! (`1 + (i % 500) / 1000` USD): initial margin is 1 USD, liquidation prices lie between
//! about 49,024 and 48,525 USD, bankruptcy prices between 49,000 and 48,501 USD. Then:
//! - [`Closer::Book`]: account `n + 1` rests deep bids from 49,100.0 USD down, one tick apart,
//!   enough lots for every long and all of them above every bankruptcy price; each long is
//!   closed by the engine's liquidation IOC through the book (stage 2) and pays the
//!   liquidation fee out of its surplus.
//! - [`Closer::Backstop`]: no bids; account `n + 1` is the backstop vault (10M USD, or more for
//!   large `n`), which takes every long over at its bankruptcy price (stage 3).
//!
//! `liquidations_per_command_max` is `n`, so one command may liquidate them all.
//!
//! # Timed
//! One `SetIndexPrice` to 48,400 USD (−3.2%), below every trigger, on a copy of the prepared
//! engine (`Engine::clone` keeps every preallocated capacity); the copy is made outside the
//! timed region. Events are read after the clock stops: every liquidation must start and end,
//! each ending `CLOSED` or `HEALTHY`, every long must be flat, and the copies must agree on
//! the events and the state hash. The full invariant audit runs once, on the last copy.

use super::{index_command, limits_for, nanos, spread, Driver, MARKET, PRICE_50K, USD};
use cascade_engine::event::outcome;
use cascade_engine::{AccountId, Command, Event, Limits, NewOrder, Sequenced, Side, TimeInForce};
use std::time::{Duration, Instant};

/// Who takes the liquidated positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closer {
    /// Deep bids in the book.
    Book,
    /// The backstop vault.
    Backstop,
}

impl Closer {
    /// Short name for tables.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Closer::Book => "book (deep bids)",
            Closer::Backstop => "backstop vault",
        }
    }
}

/// The index the crash moves to: 48,400.0 USD.
pub const CRASH_INDEX: i64 = 484_000;

/// Parameters of the cascade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CascadeParams {
    /// Leveraged longs.
    pub longs: u32,
    /// Who takes them.
    pub closer: Closer,
    /// `Limits::orders_max` (0: 65,536).
    pub orders_max: u32,
}

/// An engine ready for the crash.
#[derive(Debug)]
pub struct Prepared {
    /// The engine and its sequence.
    pub driver: Driver,
    /// The crash command (sequenced after the setup).
    pub crash: Sequenced<Command>,
    /// Its limits.
    pub limits: Limits,
    /// Commands applied to set it up.
    pub commands: u64,
    /// Wall time of the setup.
    pub build: Duration,
}

/// Sets the cascade up (module docs).
///
/// # Panics
/// If `longs` is zero or a setup command is rejected or does not trade.
#[must_use]
pub fn prepare(p: &CascadeParams) -> Prepared {
    assert!(p.longs > 0, "a cascade needs longs");
    let start = Instant::now();
    let n = p.longs;
    let (seller, closer) = (n, n + 1);
    let limits = limits_for(n + 2, p.orders_max, n);
    let mut d = Driver::new(limits);
    d.btc_market(PRICE_50K);
    d.deposit(seller, 10_000_000 * USD);
    d.must(Command::Place(NewOrder::limit(
        seller,
        MARKET.0,
        Side::Sell,
        PRICE_50K,
        i64::from(n),
    )));
    for i in 0..n {
        d.deposit(i, USD + i64::from(i % 500) * USD / 1_000);
        d.must(Command::SetLeverage {
            account: AccountId(i),
            market: MARKET,
            leverage: 50,
        });
        let events = d.must(Command::Place(
            NewOrder::limit(i, MARKET.0, Side::Buy, PRICE_50K, 1).with_tif(TimeInForce::Ioc),
        ));
        assert!(
            events.iter().any(|e| matches!(e, Event::Trade { .. })),
            "long {i} did not trade: {events:?}"
        );
    }
    let vault_usd = 10_000_000i64.max(100 * i64::from(n));
    d.deposit(closer, vault_usd * USD);
    match p.closer {
        Closer::Book => {
            // At most 900 levels below 49,100.0 USD, so the lowest bid stays above 49,000.0
            // USD, the highest bankruptcy price.
            let per_level = 100u64.max(u64::from(n).div_ceil(900));
            let levels = i64::try_from(u64::from(n).div_ceil(per_level)).expect("≤ n");
            let per_level = i64::try_from(per_level).expect("≤ n");
            for j in 0..levels {
                d.must(Command::Place(NewOrder::limit(
                    closer,
                    MARKET.0,
                    Side::Buy,
                    491_000 - j,
                    per_level,
                )));
            }
        }
        Closer::Backstop => {
            d.must(Command::SetBackstopAccount {
                account: Some(AccountId(closer)),
            });
        }
    }
    let commands = d.next_seq() - 1;
    let crash = d.sequence(index_command(CRASH_INDEX));
    Prepared {
        driver: d,
        crash,
        limits,
        commands,
        build: start.elapsed(),
    }
}

/// What one crash did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Events the command emitted.
    pub events: usize,
    /// `LiquidationStarted` events.
    pub started: u64,
    /// `LiquidationEnded` events.
    pub ended: u64,
    /// Of which ended with the position closed.
    pub closed: u64,
    /// Of which ended healthy with some position left.
    pub healthy: u64,
    /// Of which ended otherwise (bad debt, no liquidity, cooldown, ADL).
    pub other: u64,
    /// Trades (book liquidation fills).
    pub trades: u64,
    /// Backstop takeovers.
    pub backstops: u64,
    /// Rejects.
    pub rejects: u64,
    /// Longs still holding a position afterwards.
    pub longs_open: u64,
    /// The engine's state hash afterwards.
    pub state_hash: u64,
}

/// The crash, timed on copies of the prepared engine.
#[derive(Clone, Debug)]
pub struct CascadeResult {
    /// What was measured.
    pub params: CascadeParams,
    /// Milliseconds of the crash command per timed repetition, ascending.
    pub ms: Vec<f64>,
    /// Milliseconds of the untimed warm-up's crash, on a fresh copy (an engine's first
    /// cascade).
    pub cold_ms: f64,
    /// What the first (untimed warm-up) copy's crash did.
    pub tally: Tally,
    /// Whether every copy did exactly that.
    pub deterministic: bool,
    /// The full audit of the last copy.
    pub audit: Result<(), String>,
    /// Setup commands and time.
    pub commands: u64,
    /// Setup wall time.
    pub build: Duration,
    /// Limits of the engine.
    pub limits: Limits,
}

impl CascadeResult {
    /// Median, minimum and maximum milliseconds.
    #[must_use]
    pub fn ms_spread(&self) -> (f64, f64, f64) {
        let mut v = self.ms.clone();
        spread(&mut v)
    }

    /// The checks of the module docs.
    ///
    /// # Errors
    /// The first failed check.
    pub fn check(&self) -> Result<(), String> {
        let t = &self.tally;
        let n = u64::from(self.params.longs);
        if t.started != n || t.ended != n {
            return Err(format!(
                "{n} longs, {} started, {} ended",
                t.started, t.ended
            ));
        }
        if t.closed + t.healthy != n || t.other != 0 {
            return Err(format!(
                "outcomes: {} closed, {} healthy, {} other",
                t.closed, t.healthy, t.other
            ));
        }
        if t.rejects != 0 || t.longs_open != t.healthy {
            return Err(format!(
                "{} rejects, {} longs open",
                t.rejects, t.longs_open
            ));
        }
        let taken = match self.params.closer {
            Closer::Book => t.trades,
            Closer::Backstop => t.backstops,
        };
        if taken < t.closed {
            return Err(format!("{taken} takeovers for {} closed", t.closed));
        }
        if !self.deterministic {
            return Err("copies of the same engine disagree".into());
        }
        self.audit.clone().map_err(|e| format!("audit: {e}"))
    }
}

fn tally(events: &[Event]) -> Tally {
    let mut t = Tally {
        events: events.len(),
        ..Tally::default()
    };
    for e in events {
        match e {
            Event::LiquidationStarted { .. } => t.started += 1,
            Event::LiquidationEnded { outcome: o, .. } => {
                t.ended += 1;
                let bad = outcome::BAD_DEBT
                    | outcome::INSURANCE_EXHAUSTED
                    | outcome::ADL_EXHAUSTED
                    | outcome::COOLDOWN
                    | outcome::NO_LIQUIDITY;
                if o & bad != 0 {
                    t.other += 1;
                } else if o & outcome::CLOSED != 0 {
                    t.closed += 1;
                } else if o & outcome::HEALTHY != 0 {
                    t.healthy += 1;
                } else {
                    t.other += 1;
                }
            }
            Event::Trade { .. } => t.trades += 1,
            Event::Backstop { .. } => t.backstops += 1,
            Event::Rejected { .. } => t.rejects += 1,
            _ => {}
        }
    }
    t
}

/// Prepares the cascade and times the crash on `reps` copies after one untimed warm-up copy.
#[must_use]
pub fn measure(p: &CascadeParams, reps: usize) -> CascadeResult {
    let prepared = prepare(p);
    let mut first: Option<Tally> = None;
    let mut deterministic = true;
    let mut ms = Vec::new();
    let mut audit = Ok(());
    let reps = reps.max(1);
    // One copy, refreshed in place for each repetition, so the timed repetitions measure the
    // engine and not the allocator; the first, fresh copy's time (an engine's first cascade)
    // is kept apart.
    let mut engine = prepared.driver.engine.clone();
    let mut cold_ms = 0.0;
    for rep in 0..=reps {
        if rep > 0 {
            engine.clone_from(&prepared.driver.engine);
        }
        let start = Instant::now();
        let events = engine.apply(&prepared.crash);
        let elapsed = start.elapsed();
        let mut t = tally(events);
        t.longs_open = (0..p.longs)
            .filter(|i| engine.position(AccountId(*i), MARKET) != 0)
            .count() as u64;
        t.state_hash = engine.state_hash();
        if rep > 0 {
            ms.push(nanos(elapsed) / 1e6);
        } else {
            cold_ms = nanos(elapsed) / 1e6;
        }
        match &first {
            None => first = Some(t),
            Some(f) => deterministic &= *f == t,
        }
        if rep == reps {
            audit = engine.audit();
        }
    }
    ms.sort_by(f64::total_cmp);
    CascadeResult {
        params: *p,
        ms,
        cold_ms,
        tally: first.unwrap_or_default(),
        deterministic,
        audit,
        commands: prepared.commands,
        build: prepared.build,
        limits: prepared.limits,
    }
}
