//! Risk benchmarks (issue 3): the matching workload on a margined market, mark-price updates
//! over a million positions, a liquidation cascade, and memory per account.
//!
//! # Layout
//! - [`xc`]: the `xc` stream through an engine whose market is margined (every account funded,
//!   the index set), checked against the reference book and the unmargined run.
//! - [`population`]: a million accounts holding positions, built in pairs, and timed
//!   `SetIndexPrice` updates that liquidate nobody.
//! - [`cascade`]: 100,000 leveraged longs and one index move that crosses every trigger,
//!   closed through deep bids or taken over by a backstop vault.
//! - [`memory`]: allocated bytes per account, measured and broken down.
//! - [`report`]: `cascade bench --workload risk`.
//!
//! Every scenario returns its checks with its timings; `check()` turns them into an error, so
//! the command line and the small-input tests assert the same things.
//!
//! # Units
//! The population and the cascade trade BTC-PERP: ticks of 0.1 USD, lots of 0.001 BTC,
//! quantums of 1e-6 USD; the mark is the index (`MarkSource::Index`) so it is set exactly by
//! the benchmark, and trading fees are zero. The `xc` stream trades a unit market (price =
//! ticks, quantity = lots, one quantum per tick-lot) with `RiskParams::simple(10_000, 50)`.

pub mod cascade;
pub mod memory;
pub mod population;
pub mod report;
pub mod xc;

use cascade_engine::risk_params::{MarkSource, RiskParams};
use cascade_engine::{AccountId, Command, Engine, Event, Limits, MarketId, Sequenced};
use cascade_risk::{Price, Quote};

/// The one market of the population and cascade engines.
pub const MARKET: MarketId = MarketId(0);

/// Quote quantums per USD.
pub const USD: i64 = 1_000_000;

/// 50,000.0 USD per BTC in BTC-PERP ticks of 0.1 USD.
pub const PRICE_50K: i64 = 500_000;

/// BTC-PERP risk parameters as the benchmarks use them: the preset's tiers, liquidation and
/// funding settings, with the mark equal to the index and no trading fees.
#[must_use]
pub fn btc_params() -> RiskParams {
    let mut p = RiskParams::btc_perp();
    p.mark_source = MarkSource::Index;
    p.fee_ppm_maker = 0;
    p.fee_ppm_taker = 0;
    p
}

/// Limits for an engine of `accounts` accounts with one position each: `Limits::DEFAULT` with
/// the account and position capacities set, `orders_max` as given (0: 65,536, since these
/// scenarios rest at most a few thousand orders), and room for `liquidations` per command.
#[must_use]
pub fn limits_for(accounts: u32, orders_max: u32, liquidations: u32) -> Limits {
    Limits {
        accounts_max: accounts,
        positions_max: accounts,
        orders_max: if orders_max == 0 { 65_536 } else { orders_max },
        liquidations_per_command_max: liquidations.max(1),
        ..Limits::DEFAULT
    }
}

/// An engine plus the next sequence number: setup commands are sequenced in order, time = seq.
#[derive(Debug)]
pub struct Driver {
    /// The engine.
    pub engine: Engine,
    seq: u64,
}

impl Driver {
    /// A fresh engine.
    #[must_use]
    pub fn new(limits: Limits) -> Self {
        Self {
            engine: Engine::new(limits),
            seq: 0,
        }
    }

    /// The sequence number the next command gets.
    #[must_use]
    pub fn next_seq(&self) -> u64 {
        self.seq + 1
    }

    /// Reserves the next sequence number and wraps `command` in it (for commands built ahead
    /// of a timed region).
    pub fn sequence(&mut self, command: Command) -> Sequenced<Command> {
        self.seq += 1;
        Sequenced {
            seq: self.seq,
            ts_ns: self.seq,
            command,
        }
    }

    /// Applies the next command.
    pub fn apply(&mut self, command: Command) -> &[Event] {
        let cmd = self.sequence(command);
        self.engine.apply(&cmd)
    }

    /// Applies the next command; setup must not be rejected.
    ///
    /// # Panics
    /// If the engine rejects the command: the scenario is set up wrong.
    pub fn must(&mut self, command: Command) -> &[Event] {
        let seq = self.next_seq();
        let events = self.apply(command);
        if let Some(e) = events.iter().find(|e| matches!(e, Event::Rejected { .. })) {
            panic!("setup command {seq} rejected: {e:?}");
        }
        events
    }

    /// Creates the BTC-PERP market with [`btc_params`] and sets the index.
    pub fn btc_market(&mut self, index: i64) {
        self.must(Command::AddMarket(Box::new(
            cascade_engine::MarketSpec::btc_perp(MARKET),
        )));
        self.must(Command::SetRiskParams {
            market: MARKET,
            params: Box::new(btc_params()),
        });
        self.must(index_command(index));
    }

    /// Deposits `amount` quantums to `account`.
    pub fn deposit(&mut self, account: u32, amount: i64) {
        self.must(Command::Deposit {
            account: AccountId(account),
            amount: Quote(amount),
        });
    }
}

/// A `SetIndexPrice` for [`MARKET`].
#[must_use]
pub fn index_command(index: i64) -> Command {
    Command::SetIndexPrice {
        market: MARKET,
        index: Price(index),
        external_mark: None,
    }
}

/// Nanoseconds as `f64`, for reporting.
#[must_use]
pub fn nanos(d: std::time::Duration) -> f64 {
    // Benchmark arithmetic, not money.
    #[allow(clippy::cast_precision_loss)]
    let v = d.as_nanos() as f64;
    v
}

/// Median, minimum and maximum of samples (sorted in place).
#[must_use]
pub fn spread(samples: &mut [f64]) -> (f64, f64, f64) {
    samples.sort_by(f64::total_cmp);
    (
        crate::harness::median(samples),
        samples.first().copied().unwrap_or(f64::NAN),
        samples.last().copied().unwrap_or(f64::NAN),
    )
}

/// The O(accounts) part of the engine's audit that the benchmarks can afford on a million
/// accounts: money conservation to the quantum (Σ collateral + Σ isolated margin + Σ quote
/// balances + insurance fund + fee pool = deposits − withdrawals) and open interest (Σ longs =
/// Σ shorts = the market's open interest).
///
/// # Errors
/// The first broken law.
pub fn conservation(engine: &Engine) -> Result<(), String> {
    let accounts = engine.accounts();
    let mut held: i128 = (0..u32::try_from(accounts.len()).unwrap_or(u32::MAX))
        .map(|a| i128::from(accounts.collateral(a)))
        .sum();
    let (mut long, mut short) = (0i128, 0i128);
    for p in accounts.all_positions() {
        held += i128::from(p.isolated_margin) + i128::from(p.quote);
        if p.market == MARKET.0 {
            if p.size > 0 {
                long += i128::from(p.size);
            } else {
                short -= i128::from(p.size);
            }
        }
    }
    let t = engine.treasury();
    held += i128::from(t.insurance_fund) + i128::from(t.fee_pool);
    let net = i128::from(t.deposits) - i128::from(t.withdrawals);
    if held != net {
        return Err(format!(
            "money: held {held} != deposits - withdrawals {net}"
        ));
    }
    let oi = engine
        .market(MARKET)
        .map_or(0, |m| i128::from(m.open_interest));
    if long != short || long != oi {
        return Err(format!(
            "open interest: longs {long}, shorts {short}, market {oi}"
        ));
    }
    Ok(())
}
