//! A million accounts holding positions, and mark-price updates that liquidate nobody.
//!
//! # Population
//! Accounts `0..n` trade in pairs at 50,000 USD: pair `k` is a long (`2k`) and a short
//! (`2k + 1`) of `1 + k % 3` lots (0.001 BTC each), each funded with 5.00 to 25.00 USD per lot
//! (`5 + (k % 2001) / 100` USD): effective leverage 2x to 10x, so liquidation prices spread
//! from about 45,000 down to 25,000 USD for the longs and 55,000 up to 75,000 USD for the
//! shorts, and both trigger heaps hold `n / 2` positions. The short rests a GTC sell, the long
//! takes it with an IOC buy: four commands a pair. Account `n` is a market maker that then
//! quotes `levels` bids and asks 1 USD apart from 49,999 / 50,001 USD, 10 lots each (the
//! funding impact notional of 10,000 USD is reached 20 levels deep, so every index update
//! walks about 20 levels a side for its premium sample).
//!
//! # Mark updates
//! `SetIndexPrice` commands (the mark is the index) on a seeded random walk of ±20 ticks
//! (±2 USD) a step, kept within ±500 ticks (±0.1%) of 50,000 USD: far from every trigger, so
//! each update must emit exactly one `MarkPrice` event and liquidate nobody. That is checked
//! inside the timed loop (one slice-length and discriminant test per update).

use super::{index_command, limits_for, nanos, Driver, MARKET, PRICE_50K, USD};
use crate::harness::{self, Latency};
use crate::rng::SplitMix64;
use cascade_engine::{Command, Event, Limits, NewOrder, Sequenced, Side, TimeInForce};
use hdrhistogram::Histogram;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Parameters of the population.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PopulationParams {
    /// Accounts holding positions (even).
    pub accounts: u32,
    /// Price levels the market maker quotes on each side.
    pub levels: u32,
    /// `Limits::orders_max` (0: 65,536).
    pub orders_max: u32,
}

impl Default for PopulationParams {
    fn default() -> Self {
        Self {
            accounts: 1_000_000,
            levels: 100,
            orders_max: 0,
        }
    }
}

/// A built population.
#[derive(Debug)]
pub struct Population {
    /// The engine and its sequence.
    pub driver: Driver,
    /// What it was built with.
    pub params: PopulationParams,
    /// The limits of the engine.
    pub limits: Limits,
    /// Commands applied to build it.
    pub commands: u64,
    /// Wall time of the build.
    pub build: Duration,
    /// Last index of the mark-update walk, in ticks from 50,000 USD.
    offset: i64,
    rng: SplitMix64,
}

/// Builds the population (module docs).
///
/// # Panics
/// If `accounts` is odd or zero, or a setup command is rejected or does not trade.
#[must_use]
pub fn build(p: &PopulationParams) -> Population {
    assert!(
        p.accounts >= 2 && p.accounts % 2 == 0,
        "accounts must be even"
    );
    let start = Instant::now();
    let n = p.accounts;
    let limits = limits_for(
        n + 1,
        p.orders_max,
        Limits::DEFAULT.liquidations_per_command_max,
    );
    let mut d = Driver::new(limits);
    d.btc_market(PRICE_50K);
    for k in 0..n / 2 {
        let (long, short) = (2 * k, 2 * k + 1);
        let lots = 1 + i64::from(k % 3);
        let per_lot = 5 * USD + i64::from(k % 2001) * USD / 100;
        d.deposit(long, lots * per_lot);
        d.deposit(short, lots * per_lot);
        d.must(Command::Place(NewOrder::limit(
            short,
            MARKET.0,
            Side::Sell,
            PRICE_50K,
            lots,
        )));
        let events = d.must(Command::Place(
            NewOrder::limit(long, MARKET.0, Side::Buy, PRICE_50K, lots).with_tif(TimeInForce::Ioc),
        ));
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::Trade { qty, .. } if qty.0 == lots)),
            "pair {k} did not trade: {events:?}"
        );
    }
    let mm = n;
    d.deposit(mm, 10_000_000 * USD);
    for level in 1..=i64::from(p.levels) {
        for (side, price) in [
            (Side::Buy, PRICE_50K - 10 * level),
            (Side::Sell, PRICE_50K + 10 * level),
        ] {
            d.must(Command::Place(NewOrder::limit(
                mm, MARKET.0, side, price, 10,
            )));
        }
    }
    let commands = d.next_seq() - 1;
    Population {
        driver: d,
        params: p.clone(),
        limits,
        commands,
        build: start.elapsed(),
        offset: 0,
        rng: SplitMix64::new(42),
    }
}

/// What the population looks like (checked after the build).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Accounts with a non-zero position.
    pub positions: u64,
    /// Long positions in the trigger heap.
    pub longs_indexed: usize,
    /// Short positions in the trigger heap.
    pub shorts_indexed: usize,
    /// Resting orders of the market maker.
    pub resting: u32,
}

impl Population {
    /// The population's shape, read from the engine.
    ///
    /// # Panics
    /// If the market is not margined.
    #[must_use]
    pub fn shape(&self) -> Shape {
        let e = &self.driver.engine;
        let m = e.market(MARKET).expect("market exists");
        let risk = m.risk.as_ref().expect("margined");
        Shape {
            positions: e.accounts().positions_in(MARKET.0).count() as u64,
            longs_indexed: risk.longs.len(),
            shorts_indexed: risk.shorts.len(),
            resting: e.accounts().orders_open(self.params.accounts),
        }
    }

    /// Checks the shape: every account holds a position and is indexed in a trigger heap, the
    /// market maker's quotes rest.
    ///
    /// # Errors
    /// The first failed check.
    pub fn check_shape(&self) -> Result<Shape, String> {
        let s = self.shape();
        let n = u64::from(self.params.accounts);
        let half = self.params.accounts as usize / 2;
        if s.positions != n || s.longs_indexed != half || s.shorts_indexed != half {
            return Err(format!("population shape {s:?}, expected {n} positions"));
        }
        if s.resting != 2 * self.params.levels {
            return Err(format!("market maker rests {} orders", s.resting));
        }
        Ok(s)
    }

    /// The next `count` index updates of the walk, sequenced.
    pub fn next_updates(&mut self, count: usize) -> Vec<Sequenced<Command>> {
        (0..count)
            .map(|_| {
                let mut next = self.offset + self.rng.range(-20, 20);
                if next.abs() > 500 {
                    next = self.offset - (next - self.offset);
                }
                self.offset = next;
                self.driver.sequence(index_command(PRICE_50K + next))
            })
            .collect()
    }
}

/// Odd events seen in a pass: anything but exactly one `MarkPrice` per update.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Oddities {
    /// Updates that emitted anything but exactly one `MarkPrice`.
    pub updates: u64,
    /// `LiquidationStarted` events among them.
    pub liquidations: u64,
    /// `Rejected` events among them.
    pub rejects: u64,
}

impl Oddities {
    /// Notes the events of one update.
    #[inline]
    pub fn see(&mut self, events: &[Event]) {
        if events.len() == 1 && matches!(events[0], Event::MarkPrice { .. }) {
            return;
        }
        self.updates += 1;
        for e in events {
            match e {
                Event::LiquidationStarted { .. } => self.liquidations += 1,
                Event::Rejected { .. } => self.rejects += 1,
                _ => {}
            }
        }
    }
}

/// Timings and checks of the mark updates.
#[derive(Clone, Debug)]
pub struct MarkUpdates {
    /// Updates per pass.
    pub per_pass: usize,
    /// ns per update of each timed pass, ascending.
    pub ns_per_update: Vec<f64>,
    /// Per-update latency of one more pass.
    pub latency: Latency,
    /// Odd events over every pass (warm-up, timed, latency).
    pub oddities: Oddities,
    /// Bytes allocated over the timed passes, when a meter is available.
    pub allocated: Option<i64>,
}

impl MarkUpdates {
    /// Median ns per update.
    #[must_use]
    pub fn median(&self) -> f64 {
        harness::median(&self.ns_per_update)
    }

    /// The checks: one `MarkPrice` per update, no liquidation, no allocation.
    ///
    /// # Errors
    /// The first failed check.
    pub fn check(&self) -> Result<(), String> {
        if self.oddities != Oddities::default() {
            return Err(format!("mark updates emitted more: {:?}", self.oddities));
        }
        match self.allocated {
            Some(b) if b != 0 => Err(format!("mark updates allocated {b} bytes")),
            _ => Ok(()),
        }
    }
}

/// Times `per_pass` index updates `reps` times (after one untimed warm-up pass), then one more
/// pass with each update timed. `meter` reads the bytes allocated by the process now (or
/// `None`); it is read around the timed passes.
pub fn mark_updates(
    pop: &mut Population,
    per_pass: usize,
    reps: usize,
    meter: fn() -> Option<u64>,
) -> MarkUpdates {
    let mut odd = Oddities::default();
    let warm = pop.next_updates(per_pass);
    for c in &warm {
        odd.see(pop.driver.engine.apply(c));
    }
    drop(warm);
    let passes: Vec<Vec<Sequenced<Command>>> = (0..reps.max(1))
        .map(|_| pop.next_updates(per_pass))
        .collect();
    let mut ns = Vec::with_capacity(passes.len());
    let before = meter();
    for pass in &passes {
        let engine = &mut pop.driver.engine;
        let start = Instant::now();
        for c in pass {
            odd.see(engine.apply(c));
        }
        ns.push(nanos(start.elapsed()) / per_pass.max(1) as f64);
    }
    let after = meter();
    drop(passes);
    let allocated = before
        .zip(after)
        .map(|(b, a)| i64::try_from(a).unwrap_or(i64::MAX) - i64::try_from(b).unwrap_or(i64::MAX));
    let last = pop.next_updates(per_pass);
    let mut histogram =
        Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).expect("valid histogram bounds");
    let engine = &mut pop.driver.engine;
    for c in &last {
        let start = Instant::now();
        let events = engine.apply(c);
        let elapsed = start.elapsed();
        odd.see(black_box(events));
        histogram.saturating_record(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX).max(1));
    }
    ns.sort_by(f64::total_cmp);
    MarkUpdates {
        per_pass,
        ns_per_update: ns,
        latency: Latency {
            histogram,
            timer_overhead_ns: harness::timer_overhead_ns(),
        },
        oddities: odd,
        allocated,
    }
}
