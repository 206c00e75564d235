//! One run of a scenario through `Engine::apply`.
//!
//! # Accounts
//! `0` the market makers, `1` the seeding counterparty, `2` the exogenous taker flow, `3` the
//! backstop vault, then the population from `4`.
//!
//! # Population set-up
//! An account enters at its entry step at the mark price then: it deposits its initial margin
//! plus the taker fee (`notional / leverage`, rounded up), sets its leverage (capped by
//! `max_leverage` and the tier of its notional) and margin mode, and sends an IOC at the mark.
//! The seeding counterparty rests the other side of all entrants of a step in one order (the
//! rest of the market: basis traders and low-leverage holders, funded at three times the
//! population's notional), so opening a million positions costs about four commands each.
//! The makers' ladder is off the book while entrants cross, so they trade only with it.
//!
//! # One step (one second)
//! 1. Requote when due (every `requote_s` steps, and on every step with entrants): the makers
//!    cancel everything; entrants cross; the makers quote the ladder around the mark.
//! 2. `SetIndexPrice` with the path's index: the engine marks, and liquidates whoever crossed.
//! 3. The step's recorded taker flow: one market IOC buy and one sell from the flow account.
//! 4. A row of the time series.
//!
//! The engine liquidates at most `liquidations_per_command_max` (4,096) positions per command;
//! the rest go first in the next commands, as in the server.

use crate::data::{self, Inputs};
use crate::decimal::{self, Decimal};
use crate::liquidity::{Makers, Profile, Quote as LadderQuote};
use crate::path::{self, IndexPath};
use crate::population::{self, Member};
use crate::report::{Row, StageTotals, Summary};
use crate::scenario::Scenario;
use crate::{Error, Result};
use cascade_engine::account::MarginMode;
use cascade_engine::event::{outcome, stage};
use cascade_engine::risk_params::{AdlPolicy, MarkSource, RiskParams};
use cascade_engine::state::LIQUIDATION_ORDER_BIT;
use cascade_engine::{
    AccountId, Command, DecimalStep, Engine, Event, Limits, MarketId, MarketSpec, NewOrder,
    Sequenced, Side, TimeInForce,
};
use cascade_risk::margin::{MarginTiers, TierSpec};
use cascade_risk::{Price, Quote};
use std::path::PathBuf;

/// The market maker account.
pub const MAKER: u32 = 0;
/// The seeding counterparty.
pub const SEED: u32 = 1;
/// The exogenous taker flow.
pub const FLOW: u32 = 2;
/// The backstop vault.
pub const VAULT: u32 = 3;
/// The first population account.
pub const FIRST: u32 = 4;
/// The one market.
pub const MARKET: MarketId = MarketId(0);
/// Quote quantums per USD (1e-6 USD).
pub const USD: i64 = 1_000_000;

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The shared data folder for `shared:` inputs.
    pub data_dir: PathBuf,
    /// Draw a progress bar on the terminal.
    pub progress: bool,
    /// Also run without the population, for the amplification factor.
    pub baseline: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            data_dir: data::default_data_dir(),
            progress: false,
            baseline: true,
        }
    }
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The summary.
    pub summary: Summary,
    /// One row per step.
    pub series: Vec<Row>,
    /// Per population member (in draw order): whether it was liquidated at least once.
    pub liquidated: Vec<bool>,
}

fn usd_to_quote(usd: f64) -> Result<i64> {
    let q = (usd * 1e6).round();
    if !(0.0..4.0e17).contains(&q) {
        return Err(Error(format!("amount {usd} USD out of range")));
    }
    // In range: checked above.
    #[allow(clippy::cast_possible_truncation)]
    Ok(q as i64)
}

/// Quantums as USD, for the report.
#[must_use]
#[allow(clippy::cast_precision_loss)]
pub fn quote_usd(q: i128) -> f64 {
    q as f64 / 1e6
}

fn step_of(d: &Decimal) -> Result<DecimalStep> {
    Ok(DecimalStep {
        mantissa: i64::try_from(d.mantissa).map_err(|_| Error::msg("step too large"))?,
        scale: u8::try_from(d.scale).map_err(|_| Error::msg("step has too many decimals"))?,
    })
}

/// The market spec of a scenario, sized for the path's highest price.
///
/// # Errors
/// A tick or lot that is not a whole number of quantums per tick-lot, or a bad symbol.
pub fn market_spec(s: &Scenario, price_high: i64) -> Result<MarketSpec> {
    let tick = decimal::parse(&s.market.tick)?;
    let lot = decimal::parse(&s.market.lot)?;
    if tick.mantissa <= 0 || lot.mantissa <= 0 {
        return Err(Error::msg("market.tick and market.lot must be positive"));
    }
    // quote_per_tick_lot = tick × lot × 1e6 quantums, which must be whole.
    let num = tick
        .mantissa
        .checked_mul(lot.mantissa)
        .and_then(|x| x.checked_mul(1_000_000))
        .ok_or_else(|| Error::msg("market.tick × market.lot is too large"))?;
    let den = 10i128
        .checked_pow(tick.scale + lot.scale)
        .ok_or_else(|| Error::msg("market.tick/lot have too many decimals"))?;
    if num % den != 0 || num / den == 0 {
        return Err(Error::msg(
            "market.tick × market.lot must be a whole number of 1e-6 USD quantums",
        ));
    }
    let qptl = i64::try_from(num / den).map_err(|_| Error::msg("tick × lot too large"))?;
    let symbol = MarketSpec::symbol_from_str(&s.market.symbol)
        .ok_or_else(|| Error::msg("market.symbol must be 1 to 8 printable ASCII characters"))?;
    let price_max = price_high.saturating_mul(10).max(1_000);
    let qty_max = (i64::MAX / 4 / price_max / qptl).min(1_000_000_000_000);
    if qty_max < 1_000 {
        return Err(Error::msg(
            "the path's prices are too high for this tick and lot",
        ));
    }
    let spec = MarketSpec {
        id: MARKET,
        symbol,
        tick: step_of(&tick)?,
        lot: step_of(&lot)?,
        quote_per_tick_lot: qptl,
        notional_min: Quote(0),
        price_max: Price(price_max),
        qty_max: cascade_risk::Qty(qty_max),
        band_ppm: 100_000,
        market_protection_ppm: 50_000,
    };
    spec.validate(1 << 16)
        .map_err(|r| Error(format!("market spec refused: {r:?}")))?;
    Ok(spec)
}

/// The risk parameters: the preset's tiers capped at `max_leverage`, the mark source and the
/// ADL policy of the scenario.
///
/// # Errors
/// Tiers that do not validate after capping.
pub fn risk_params(s: &Scenario, position_lots_max: i64) -> Result<RiskParams> {
    let mut p = if s.market.tiers == "eth" {
        RiskParams::eth_perp()
    } else {
        RiskParams::btc_perp()
    };
    let rows: Vec<TierSpec> = p
        .tiers
        .tiers()
        .iter()
        .map(|t| {
            TierSpec::new(
                t.notional_floor(),
                t.mmr(),
                t.leverage_max().min(s.market.max_leverage),
            )
        })
        .collect();
    p.tiers = MarginTiers::new(&rows).map_err(|e| Error(format!("capped tiers: {e:?}")))?;
    p.mark_source = if s.market.mark == "index" {
        MarkSource::Index
    } else {
        MarkSource::Median
    };
    p.adl = match s.waterfall.adl.as_str() {
        "pro-rata" => AdlPolicy::ProRata,
        "off" => AdlPolicy::Off,
        _ => AdlPolicy::Queue,
    };
    p.position_lots_max = position_lots_max;
    p.validate()
        .map_err(|r| Error(format!("risk parameters refused: {r:?}")))?;
    Ok(p)
}

/// The liquidation in progress, between `LiquidationStarted` and `LiquidationEnded`.
#[derive(Clone, Copy, Debug, Default)]
struct Open {
    account: u32,
    deep: bool,
    first_order: Option<u64>,
    first_quote: i128,
    later_quote: i128,
    backstop_quote: i128,
    adl_quote: i128,
    /// Lots filled in any stage.
    lots: i64,
}

/// Totals over the run, fed by events.
#[derive(Clone, Debug, Default)]
struct Tally {
    open: Open,
    book: StageTotals,
    backstop: StageTotals,
    insurance: StageTotals,
    adl: StageTotals,
    started: u64,
    liquidated: Vec<bool>,
    adl_fills: u64,
    haircut: i128,
    haircut_min: i128,
    bad_debt: u64,
    bad_debt_quote: i128,
    /// Σ `closed` of `LiquidationEnded`.
    closed_lots: i64,
    /// Σ lots filled in the stages.
    stage_lots: i64,
    step_started: u64,
    step_quote: i128,
    step_adl_fills: u64,
    step_low: i64,
    step_high: i64,
    last_trade: i64,
    insurance_min: i64,
    maker_rejects: u64,
    flow_rejects: u64,
    flow_trades: u64,
    entries_rejected: u64,
    entered: u64,
}

impl Tally {
    fn trade(&mut self, e: &Event, c: i64) {
        let Event::Trade {
            taker_order,
            taker_account,
            price,
            qty,
            ..
        } = *e
        else {
            return;
        };
        self.last_trade = price.0;
        self.step_low = self.step_low.min(price.0);
        self.step_high = self.step_high.max(price.0);
        if taker_order.0 & LIQUIDATION_ORDER_BIT != 0 && taker_account.0 == self.open.account {
            let q = i128::from(price.0) * i128::from(qty.0) * i128::from(c);
            self.open.lots += qty.0;
            match self.open.first_order {
                None => {
                    self.open.first_order = Some(taker_order.0);
                    self.open.first_quote += q;
                }
                Some(id) if id == taker_order.0 => self.open.first_quote += q,
                Some(_) => self.open.later_quote += q,
            }
        }
    }

    fn see(&mut self, events: &[Event], c: i64, backstop_ppm: i128) {
        for e in events {
            match *e {
                Event::Trade { .. } => self.trade(e, c),
                Event::LiquidationStarted {
                    account,
                    equity,
                    maintenance,
                    ..
                } => {
                    self.started += 1;
                    self.step_started += 1;
                    if let Some(seen) = self.liquidated.get_mut(account.0 as usize) {
                        *seen = true;
                    }
                    // The engine skips the book stage for a position this deep when a vault
                    // exists (`is_deep`), so its one liquidation order is the insurance one.
                    let deep = backstop_ppm > 0
                        && maintenance.0 > 0
                        && i128::from(equity.0) * 1_000_000
                            < backstop_ppm * i128::from(maintenance.0);
                    self.open = Open {
                        account: account.0,
                        deep,
                        ..Open::default()
                    };
                }
                Event::Backstop { size, price, .. } => {
                    self.open.lots += size.abs();
                    self.open.backstop_quote +=
                        i128::from(size.abs()) * i128::from(price.0) * i128::from(c);
                }
                Event::Deleveraged { qty, price, .. } => {
                    self.adl_fills += 1;
                    self.step_adl_fills += 1;
                    self.open.lots += qty.0;
                    self.open.adl_quote += i128::from(qty.0) * i128::from(price.0) * i128::from(c);
                }
                Event::LiquidationEnded {
                    stage: last,
                    outcome: bits,
                    closed,
                    equity,
                    haircut,
                    haircut_min,
                    ..
                } => {
                    self.closed_lots += closed.0;
                    self.end(last, bits, equity.0, haircut.0, haircut_min.0);
                }
                _ => {}
            }
        }
    }

    fn end(&mut self, last: u8, bits: u8, equity: i64, haircut: i64, haircut_min: i64) {
        let o = self.open;
        // Stage of each liquidation order (module docs of `report`): with two orders the
        // second is the insurance one; with one, it is the insurance order when the book
        // stage was skipped (deep, with a vault) and the waterfall reached insurance.
        let (book, insurance) = if o.later_quote > 0 {
            (o.first_quote, o.later_quote)
        } else if o.deep && last >= stage::INSURANCE {
            (0, o.first_quote)
        } else {
            (o.first_quote, 0)
        };
        self.book.add(book);
        self.insurance.add(insurance);
        self.backstop.add(o.backstop_quote);
        self.adl.add(o.adl_quote);
        self.step_quote += book + insurance + o.backstop_quote + o.adl_quote;
        self.stage_lots += o.lots;
        self.haircut += i128::from(haircut);
        self.haircut_min += i128::from(haircut_min);
        if bits & outcome::BAD_DEBT != 0 {
            self.bad_debt += 1;
            self.bad_debt_quote += i128::from(equity).min(0).abs();
        }
        self.open = Open::default();
    }
}

/// The engine with its sequence and clock, and the tally of what it emitted.
struct Sim {
    engine: Engine,
    seq: u64,
    step: u64,
    sub: u64,
    tally: Tally,
    c: i64,
    backstop_ppm: i128,
}

/// Whether the events hold a reject.
fn rejected(events: &[Event]) -> bool {
    events.iter().any(|e| matches!(e, Event::Rejected { .. }))
}

impl Sim {
    /// Applies a command at the current step; returns whether it was rejected.
    fn apply(&mut self, command: Command) -> bool {
        self.seq += 1;
        self.sub = (self.sub + 1).min(999_999_999);
        let cmd = Sequenced {
            seq: self.seq,
            ts_ns: self.step * 1_000_000_000 + self.sub,
            command,
        };
        let events = self.engine.apply(&cmd);
        let bad = rejected(events);
        self.tally.see(events, self.c, self.backstop_ppm);
        self.tally.insurance_min = self
            .tally
            .insurance_min
            .min(self.engine.treasury().insurance_fund);
        bad
    }

    /// Applies a set-up command that must not be rejected.
    fn must(&mut self, command: Command, what: &str) -> Result<()> {
        if self.apply(command) {
            return Err(Error(format!("set-up refused by the engine: {what}")));
        }
        Ok(())
    }

    fn mark(&self) -> i64 {
        self.engine
            .market(MARKET)
            .and_then(|m| m.risk.as_ref())
            .and_then(|r| r.mark)
            .map_or(0, |p| p.0)
    }
}

fn deposit(account: u32, amount: i64) -> Command {
    Command::Deposit {
        account: AccountId(account),
        amount: Quote(amount),
    }
}

fn leverage(account: u32, leverage: u32) -> Command {
    Command::SetLeverage {
        account: AccountId(account),
        market: MARKET,
        leverage: u16::try_from(leverage).unwrap_or(1),
    }
}

/// Everything a run needs that does not change while it runs.
struct Setup<'a> {
    s: &'a Scenario,
    spec: MarketSpec,
    params: RiskParams,
    path: IndexPath,
    members: Vec<Member>,
    /// Member indexes by entry step.
    entries: Vec<Vec<u32>>,
    flow: Vec<(i64, i64)>,
    tick_usd: f64,
    lot: f64,
}

/// Builds the inputs of a run.
fn prepare<'a>(s: &'a Scenario, inputs: &Inputs) -> Result<(Setup<'a>, Profile)> {
    let tick = decimal::parse(&s.market.tick)?;
    let lot = decimal::parse(&s.market.lot)?;
    let path = path::build(&s.path, inputs, tick)?;
    if path.ticks.is_empty() {
        return Err(Error::msg("the price path is empty"));
    }
    if path.ticks.iter().any(|t| *t < 1) {
        return Err(Error::msg("the price path has a price below one tick"));
    }
    let high = path.ticks.iter().copied().max().unwrap_or(1);
    let spec = market_spec(s, high)?;
    let params = risk_params(s, spec.qty_max.0)?;
    let levels = data::read_depth(inputs, &s.liquidity.snapshot)?;
    let profile = Profile::from_snapshot(&levels, s.liquidity.bucket_bps);
    let members = population::draw(&s.population, s.seed);
    let steps = path.ticks.len();
    let mut entries = vec![Vec::new(); steps];
    for (i, m) in members.iter().enumerate() {
        let step = (m.entry_step as usize).min(steps - 1);
        entries[step].push(u32::try_from(i).map_err(|_| Error::msg("too many accounts"))?);
    }
    let flow = flow_per_step(s, inputs, &path, lot)?;
    Ok((
        Setup {
            s,
            spec,
            params,
            path,
            members,
            entries,
            flow,
            tick_usd: tick.to_f64(),
            lot: lot.to_f64(),
        },
        profile,
    ))
}

/// Recorded taker quantity per step, (buy lots, sell lots): trades at `(t − start) / 1 s`,
/// `start` the path's first step when the path is recorded, else the first trade.
fn flow_per_step(
    s: &Scenario,
    inputs: &Inputs,
    path: &IndexPath,
    lot: Decimal,
) -> Result<Vec<(i64, i64)>> {
    let mut out = vec![(0i64, 0i64); path.ticks.len()];
    if s.flow.trades.is_empty() {
        return Ok(out);
    }
    let trades = data::read_trades(inputs, &s.flow.trades)?;
    let Some(first) = trades.first() else {
        return Ok(out);
    };
    let start = path.start_ms.unwrap_or(first.ts_ms);
    // Quantities are summed exactly in lot units ×1e6 of scale, then scaled once per step.
    let mut exact = vec![(0i128, 0i128); path.ticks.len()];
    for t in &trades {
        let Some(step) = t.ts_ms.checked_sub(start).map(|d| d / 1000) else {
            continue;
        };
        let Some(slot) = usize::try_from(step).ok().and_then(|i| exact.get_mut(i)) else {
            continue;
        };
        // qty / lot × 1e6, floored; a quantity too large to scale is an input error.
        let scaled = |m: i128, e: u32| 10i128.checked_pow(e).and_then(|p| m.checked_mul(p));
        let lots_e6 = scaled(t.qty.mantissa, lot.scale)
            .and_then(|x| x.checked_mul(1_000_000))
            .zip(scaled(lot.mantissa, t.qty.scale))
            .map(|(a, b)| a / b)
            .ok_or_else(|| Error(format!("{}: trade quantity out of range", s.flow.trades)))?;
        if t.taker_buy {
            slot.0 = slot.0.saturating_add(lots_e6);
        } else {
            slot.1 = slot.1.saturating_add(lots_e6);
        }
    }
    for (o, e) in out.iter_mut().zip(&exact) {
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        let scale = |x: i128| ((x as f64) * s.flow.scale / 1e6).round().min(1e15) as i64;
        *o = (scale(e.0), scale(e.1));
    }
    Ok(out)
}

/// Runs a scenario once, with its population (or none, for the baseline).
///
/// # Errors
/// Inputs missing or malformed, or a set-up command the engine refuses.
pub fn run_once(s: &Scenario, opts: &RunOptions, with_population: bool) -> Result<Outcome> {
    let inputs = Inputs {
        data_dir: opts.data_dir.clone(),
        base_dir: s.base_dir.clone(),
    };
    let (mut setup, profile) = prepare(s, &inputs)?;
    if !with_population {
        setup.members.clear();
        setup.entries.iter_mut().for_each(Vec::clear);
    }
    let n = u32::try_from(setup.members.len()).map_err(|_| Error::msg("too many accounts"))?;
    let limits = Limits {
        accounts_max: n + FIRST,
        positions_max: n + FIRST,
        orders_max: 1 << 16,
        orders_per_account_max: 1 << 15,
        levels_per_side_max: 1 << 16,
        cooldowns_max: n + FIRST,
        ..Limits::DEFAULT
    };
    let makers = Makers::new(&s.liquidity, profile);
    let bar = progress_bar(opts.progress && with_population, setup.path.ticks.len());
    let out = simulate(&setup, limits, makers, &bar);
    bar.finish_and_clear();
    out
}

fn progress_bar(show: bool, steps: usize) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(steps as u64);
    let style = indicatif::ProgressStyle::with_template(
        "{spinner} {msg} [{bar:40}] {pos}/{len} s of path, {elapsed} (eta {eta})",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar
}

fn simulate(
    setup: &Setup<'_>,
    limits: Limits,
    mut makers: Makers,
    bar: &indicatif::ProgressBar,
) -> Result<Outcome> {
    let s = setup.s;
    let n = setup.members.len();
    let backstop_on = s.waterfall.backstop_usd > 0.0;
    let mut sim = Sim {
        engine: Engine::new(limits),
        seq: 0,
        step: 0,
        sub: 0,
        tally: Tally {
            liquidated: vec![false; n + FIRST as usize],
            insurance_min: i64::MAX,
            step_low: i64::MAX,
            step_high: i64::MIN,
            ..Tally::default()
        },
        c: setup.spec.quote_per_tick_lot,
        backstop_ppm: if backstop_on {
            i128::from(setup.params.backstop_ppm)
        } else {
            0
        },
    };
    sim.must(Command::AddMarket(Box::new(setup.spec)), "add market")?;
    sim.must(
        Command::SetRiskParams {
            market: MARKET,
            params: Box::new(setup.params.clone()),
        },
        "risk parameters",
    )?;
    let index0 = setup.path.ticks[0];
    sim.must(
        Command::SetIndexPrice {
            market: MARKET,
            index: Price(index0),
            external_mark: None,
        },
        "first index",
    )?;
    let population_usd: f64 = setup.members.iter().map(|m| m.notional_usd).sum();
    let maker_capital = usd_to_quote(s.liquidity.maker_capital_usd)?;
    sim.must(deposit(MAKER, maker_capital), "maker deposit")?;
    sim.must(
        leverage(MAKER, setup.params.leverage_max().min(20)),
        "maker leverage",
    )?;
    sim.must(
        deposit(SEED, usd_to_quote(population_usd * 3.0 + 1e6)?),
        "seed deposit",
    )?;
    sim.must(
        leverage(SEED, setup.params.leverage_max().min(10)),
        "seed leverage",
    )?;
    sim.must(deposit(FLOW, usd_to_quote(1e9)?), "flow deposit")?;
    sim.must(
        leverage(FLOW, setup.params.leverage_max().min(10)),
        "flow leverage",
    )?;
    let vault_capital = usd_to_quote(s.waterfall.backstop_usd)?;
    if vault_capital > 0 {
        sim.must(deposit(VAULT, vault_capital), "vault deposit")?;
        sim.must(
            leverage(VAULT, setup.params.leverage_max().min(20)),
            "vault leverage",
        )?;
        sim.must(
            Command::SetBackstopAccount {
                account: Some(AccountId(VAULT)),
            },
            "backstop vault",
        )?;
    }
    let fund = usd_to_quote(s.waterfall.insurance_fund_usd)?;
    if fund > 0 {
        sim.must(
            Command::InsuranceDeposit {
                amount: Quote(fund),
            },
            "insurance fund",
        )?;
    }
    let fund_start = sim.engine.treasury().insurance_fund;
    sim.tally.insurance_min = fund_start;

    let mut rows = Vec::with_capacity(setup.path.ticks.len());
    let mut ladder: Vec<LadderQuote> = Vec::new();
    let (mut peak, mut drawdown_ppm) = (index0, 0i64);
    for (t, &index) in setup.path.ticks.iter().enumerate() {
        sim.step = t as u64;
        sim.sub = 0;
        sim.tally.step_started = 0;
        sim.tally.step_quote = 0;
        sim.tally.step_adl_fills = 0;
        sim.tally.step_low = i64::MAX;
        sim.tally.step_high = i64::MIN;
        let entrants = &setup.entries[t];
        let requote = t % s.liquidity.requote_s as usize == 0 || !entrants.is_empty();
        if requote {
            sim.apply(Command::MassCancelAccount {
                account: AccountId(MAKER),
                market: None,
            });
        }
        if !entrants.is_empty() {
            bar.set_message(format!("{} accounts entering", entrants.len()));
            enter(&mut sim, setup, entrants)?;
            bar.set_message("");
        }
        makers.observe(index);
        if requote {
            makers.quotes(index, setup.tick_usd, setup.lot, &mut ladder);
            for q in &ladder {
                let o = NewOrder::limit(MAKER, MARKET.0, q.side, q.price, q.lots);
                if sim.apply(Command::Place(o)) {
                    sim.tally.maker_rejects += 1;
                }
            }
        }
        sim.apply(Command::SetIndexPrice {
            market: MARKET,
            index: Price(index),
            external_mark: None,
        });
        let (buy, sell) = setup.flow[t];
        for (side, lots) in [(Side::Buy, buy), (Side::Sell, sell)] {
            if lots > 0 {
                let o = NewOrder::market_order(FLOW, MARKET.0, side, lots);
                if sim.apply(Command::Place(o)) {
                    sim.tally.flow_rejects += 1;
                } else {
                    sim.tally.flow_trades += 1;
                }
            }
        }
        let mark = sim.mark();
        let low = sim.tally.step_low.min(mark);
        let high = sim.tally.step_high.max(mark);
        peak = peak.max(high);
        if peak > 0 {
            // ppm of the peak; both fit in i64 with room (prices below 2^40 ticks).
            drawdown_ppm = drawdown_ppm.max((peak - low) * 1_000_000 / peak);
        }
        rows.push(row(&sim, setup, t, index, mark, low, &makers));
        bar.inc(1);
    }
    finish(sim, setup, rows, fund_start, drawdown_ppm)
}

/// Opens the positions of the members entering at this step (module docs).
fn enter(sim: &mut Sim, setup: &Setup<'_>, entrants: &[u32]) -> Result<()> {
    let mark = sim.mark();
    let c = setup.spec.quote_per_tick_lot;
    let params = &setup.params;
    for long in [true, false] {
        let side_members = entrants
            .iter()
            .copied()
            .filter(|&i| setup.members[i as usize].long == long);
        let mut orders: Vec<(u32, i64)> = Vec::new();
        for i in side_members {
            let m = setup.members[i as usize];
            let account = FIRST + i;
            let notional_target = usd_to_quote(m.notional_usd)?;
            let lots = (notional_target / (mark * c)).max(1);
            let notional = lots * mark * c;
            let tier_max = params.tiers.max_leverage(Quote(notional)).unwrap_or(1);
            let lev = m.leverage.min(tier_max).max(1);
            // Initial margin rounded up, plus the taker fee of the entry, rounded up.
            let im = (notional + i64::from(lev) - 1) / i64::from(lev);
            let fee = (i128::from(notional) * i128::from(params.fee_ppm_taker.max(0)) + 999_999)
                / 1_000_000;
            let fee = i64::try_from(fee).map_err(|_| Error::msg("fee out of range"))?;
            let ok = !sim.apply(deposit(account, im + fee))
                && !sim.apply(leverage(account, lev))
                && (!m.isolated
                    || (!sim.apply(Command::SetMarginMode {
                        account: AccountId(account),
                        market: MARKET,
                        mode: MarginMode::Isolated,
                    }) && !sim.apply(Command::TransferIsolatedMargin {
                        account: AccountId(account),
                        market: MARKET,
                        amount: Quote(im + fee),
                    })));
            if ok {
                orders.push((account, lots));
            } else {
                sim.tally.entries_rejected += 1;
            }
        }
        if orders.is_empty() {
            continue;
        }
        let total: i64 = orders.iter().map(|o| o.1).sum();
        let seed_side = if long { Side::Sell } else { Side::Buy };
        let qty_max = setup.spec.qty_max.0;
        let mut left = total;
        while left > 0 {
            let q = left.min(qty_max);
            let o = NewOrder::limit(SEED, MARKET.0, seed_side, mark, q);
            if sim.apply(Command::Place(o)) {
                return Err(Error(format!(
                    "the seeding counterparty could not rest {q} lots at {mark}: population too \
                     large for the market's position limit"
                )));
            }
            left -= q;
        }
        let side = seed_side.opposite();
        for (account, lots) in orders {
            let o = NewOrder::limit(account, MARKET.0, side, mark, lots).with_tif(TimeInForce::Ioc);
            if sim.apply(Command::Place(o)) || sim.engine.position(AccountId(account), MARKET) == 0
            {
                sim.tally.entries_rejected += 1;
            } else {
                sim.tally.entered += 1;
            }
        }
        sim.apply(Command::MassCancelAccount {
            account: AccountId(SEED),
            market: None,
        });
    }
    Ok(())
}

/// Notional in USD within 1% of the mid (of the mark when a side is empty), both sides.
fn depth_1pct_usd(engine: &Engine, mark: i64) -> f64 {
    let Some(m) = engine.market(MARKET) else {
        return 0.0;
    };
    let (bid, ask) = (m.book.best_price(Side::Buy), m.book.best_price(Side::Sell));
    let mid = match (bid, ask) {
        (Some(b), Some(a)) => (b + a) / 2,
        _ => mark,
    };
    let (lo, hi) = (mid - mid / 100, mid + mid / 100);
    let c = i128::from(m.spec.quote_per_tick_lot);
    let mut q: i128 = 0;
    for l in m.book.levels(Side::Buy) {
        if l.price < lo {
            break;
        }
        q += i128::from(l.price) * i128::from(l.qty_total) * c;
    }
    for l in m.book.levels(Side::Sell) {
        if l.price > hi {
            break;
        }
        q += i128::from(l.price) * i128::from(l.qty_total) * c;
    }
    quote_usd(q)
}

fn row(
    sim: &Sim,
    setup: &Setup<'_>,
    t: usize,
    index: i64,
    mark: i64,
    low: i64,
    makers: &Makers,
) -> Row {
    let m = sim.engine.market(MARKET);
    let book = |side| m.and_then(|m| m.book.best_price(side)).unwrap_or(0);
    #[allow(clippy::cast_precision_loss)]
    let usd = |ticks: i64| ticks as f64 * setup.tick_usd;
    Row {
        t_s: t as u64,
        index_usd: usd(index),
        mark_usd: usd(mark),
        low_usd: usd(low),
        last_trade_usd: usd(sim.tally.last_trade),
        best_bid_usd: usd(book(Side::Buy)),
        best_ask_usd: usd(book(Side::Sell)),
        depth_1pct_usd: depth_1pct_usd(&sim.engine, mark),
        liquidations: sim.tally.step_started,
        liquidated_usd: quote_usd(sim.tally.step_quote),
        adl_fills: sim.tally.step_adl_fills,
        insurance_fund_usd: quote_usd(i128::from(sim.engine.treasury().insurance_fund)),
        open_interest: m.map_or(0, |m| m.open_interest),
        vol_bps: makers.vol_bps(),
        withdrawn: makers.withdrawn(),
    }
}

fn finish(
    sim: Sim,
    setup: &Setup<'_>,
    rows: Vec<Row>,
    fund_start: i64,
    drawdown_ppm: i64,
) -> Result<Outcome> {
    let s = setup.s;
    let e = &sim.engine;
    let t = &sim.tally;
    let vault_capital = usd_to_quote(s.waterfall.backstop_usd)?;
    let vault_pnl = if vault_capital > 0 {
        e.health(AccountId(VAULT)).equity - i128::from(vault_capital)
    } else {
        0
    };
    let audit = match e.audit() {
        Ok(()) => "ok".to_string(),
        Err(err) => err,
    };
    let members = &setup.members;
    let summary = Summary {
        scenario: s.name.clone(),
        seed: s.seed,
        steps: rows.len() as u64,
        max_leverage: s.market.max_leverage,
        depth: s.liquidity.depth,
        adl_policy: s.waterfall.adl.clone(),
        accounts: members.len() as u64,
        longs: members.iter().filter(|m| m.long).count() as u64,
        isolated: members.iter().filter(|m| m.isolated).count() as u64,
        entered: t.entered,
        entries_rejected: t.entries_rejected,
        population_notional_usd: members.iter().map(|m| m.notional_usd).sum::<f64>() + 0.0,
        liquidations: t.started,
        accounts_liquidated: t.liquidated.iter().filter(|x| **x).count() as u64,
        liquidated_usd: quote_usd(
            t.book.quote + t.backstop.quote + t.insurance.quote + t.adl.quote,
        ),
        book: t.book.clone(),
        backstop: t.backstop.clone(),
        insurance: t.insurance.clone(),
        adl: t.adl.clone(),
        liquidated_lots: t.closed_lots,
        unattributed_lots: t.closed_lots - t.stage_lots,
        bad_debt_count: t.bad_debt,
        bad_debt_usd: quote_usd(t.bad_debt_quote),
        insurance_fund_start_usd: quote_usd(i128::from(fund_start)),
        insurance_fund_min_usd: quote_usd(i128::from(t.insurance_min)),
        insurance_fund_end_usd: quote_usd(i128::from(e.treasury().insurance_fund)),
        backstop_capital_usd: quote_usd(i128::from(vault_capital)),
        backstop_pnl_usd: quote_usd(vault_pnl),
        adl_fills: t.adl_fills,
        adl_haircut_usd: quote_usd(t.haircut),
        adl_haircut_min_usd: quote_usd(t.haircut_min),
        adl_overshoot_usd: quote_usd(t.haircut - t.haircut_min),
        #[allow(clippy::cast_precision_loss)]
        max_drawdown_pct: drawdown_ppm as f64 / 10_000.0,
        baseline_max_drawdown_pct: None,
        amplification: None,
        maker_rejects: t.maker_rejects,
        flow_orders: t.flow_trades,
        flow_rejects: t.flow_rejects,
        open_interest_end: e.market(MARKET).map_or(0, |m| m.open_interest),
        audit,
        state_hash: format!("{:016x}", e.state_hash()),
    };
    let liquidated = t.liquidated.get(FIRST as usize..).unwrap_or(&[]).to_vec();
    Ok(Outcome {
        summary,
        series: rows,
        liquidated,
    })
}

/// Runs a scenario and, when asked, its baseline without the population; fills in the
/// amplification factor (drawdown with / drawdown without).
///
/// # Errors
/// As [`run_once`].
pub fn run(s: &Scenario, opts: &RunOptions) -> Result<Outcome> {
    let mut out = run_once(s, opts, true)?;
    if opts.baseline {
        let base = run_once(s, opts, false)?;
        let b = base.summary.max_drawdown_pct;
        out.summary.baseline_max_drawdown_pct = Some(b);
        out.summary.amplification = (b > 0.0).then(|| out.summary.max_drawdown_pct / b);
    }
    Ok(out)
}
