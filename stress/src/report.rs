//! The report: a summary (JSON and a table), the time series (CSV), the plots (`svg`).
//!
//! # Stages
//! Liquidated notional is counted per waterfall stage from the engine's events: book-stage
//! and insurance-stage fills are the `Trade`s of the engine's liquidation orders (the second
//! order of a liquidation is the insurance one; a single order is the insurance one when the
//! position was deep enough for the engine to skip the book stage, with a vault, and the
//! waterfall reached insurance), backstop from `Backstop`, ADL from `Deleveraged`, all at
//! their fill prices. A stage's count is the number of liquidations that filled in it.
//!
//! # Drawdown and amplification
//! Each step's low is the lowest of the mark and every trade price in the step; the maximum
//! drawdown is the largest fall from the running high (of marks and trades) to a low. The
//! amplification factor is the run's maximum drawdown over the same scenario's without the
//! population (same path, makers and flow).

use crate::run::quote_usd;
use serde::Serialize;
use std::fmt::Write as _;

/// Notional and count of one waterfall stage.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct StageTotals {
    /// Liquidations that filled in this stage.
    pub count: u64,
    /// Notional filled, USD.
    pub notional_usd: f64,
    /// The same, in quantums (exact).
    #[serde(skip)]
    pub quote: i128,
}

impl StageTotals {
    /// Adds one liquidation's fills in this stage (nothing when zero).
    pub fn add(&mut self, quote: i128) {
        if quote > 0 {
            self.count += 1;
            self.quote += quote;
            self.notional_usd = quote_usd(self.quote);
        }
    }
}

/// What a run did.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// Population seed.
    pub seed: u64,
    /// Steps (seconds) of the path.
    pub steps: u64,
    /// Leverage cap.
    pub max_leverage: u32,
    /// Depth multiplier.
    pub depth: f64,
    /// ADL policy.
    pub adl_policy: String,
    /// Population size.
    pub accounts: u64,
    /// Longs in it.
    pub longs: u64,
    /// Isolated-margin accounts in it.
    pub isolated: u64,
    /// Accounts whose position opened.
    pub entered: u64,
    /// Accounts the engine refused at entry.
    pub entries_rejected: u64,
    /// Σ drawn notional, USD.
    pub population_notional_usd: f64,
    /// Liquidations started (a sliced position counts each slice).
    pub liquidations: u64,
    /// Distinct accounts liquidated.
    pub accounts_liquidated: u64,
    /// Notional liquidated over all stages, USD.
    pub liquidated_usd: f64,
    /// Stage 2: through the book, never worse than bankruptcy.
    pub book: StageTotals,
    /// Stage 3: taken over by the backstop vault.
    pub backstop: StageTotals,
    /// Stage 4: through the book past bankruptcy, the fund paying.
    pub insurance: StageTotals,
    /// Stage 5: auto-deleveraged.
    pub adl: StageTotals,
    /// Lots the liquidations closed (Σ `closed` of `LiquidationEnded`).
    pub liquidated_lots: i64,
    /// Closed lots not found in any stage's fills (0 unless the stage accounting missed some).
    pub unattributed_lots: i64,
    /// Liquidations that ended with bad debt.
    pub bad_debt_count: u64,
    /// Bad debt left, USD.
    pub bad_debt_usd: f64,
    /// Insurance fund at the start, USD.
    pub insurance_fund_start_usd: f64,
    /// Its lowest balance after any command, USD.
    pub insurance_fund_min_usd: f64,
    /// Its balance at the end, USD.
    pub insurance_fund_end_usd: f64,
    /// Backstop vault capital, USD.
    pub backstop_capital_usd: f64,
    /// The vault's equity at the final mark minus its capital, USD.
    pub backstop_pnl_usd: f64,
    /// `Deleveraged` events.
    pub adl_fills: u64,
    /// What ADL counterparties gave up against the mark, USD.
    pub adl_haircut_usd: f64,
    /// The least that would have covered what the fund could not, USD.
    pub adl_haircut_min_usd: f64,
    /// Haircut taken beyond that minimum, USD.
    pub adl_overshoot_usd: f64,
    /// Maximum drawdown of the price (marks and trades), percent.
    pub max_drawdown_pct: f64,
    /// The same without the population, percent.
    pub baseline_max_drawdown_pct: Option<f64>,
    /// `max_drawdown_pct / baseline_max_drawdown_pct`.
    pub amplification: Option<f64>,
    /// Maker quotes the engine refused (margin, band).
    pub maker_rejects: u64,
    /// Flow orders that traded.
    pub flow_orders: u64,
    /// Flow orders refused (no liquidity, margin).
    pub flow_rejects: u64,
    /// Open interest at the end, lots.
    pub open_interest_end: i64,
    /// The engine's full invariant audit at the end (`ok` or the broken invariant).
    pub audit: String,
    /// `Engine::state_hash()` at the end.
    pub state_hash: String,
}

/// One step of the time series.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Seconds from the start of the path.
    pub t_s: u64,
    /// Index.
    pub index_usd: f64,
    /// Mark after the step.
    pub mark_usd: f64,
    /// Lowest of mark and trades in the step.
    pub low_usd: f64,
    /// Last trade so far.
    pub last_trade_usd: f64,
    /// Best bid after the step (0: none).
    pub best_bid_usd: f64,
    /// Best ask after the step (0: none).
    pub best_ask_usd: f64,
    /// Resting notional within 1% of mid, both sides.
    pub depth_1pct_usd: f64,
    /// Liquidations started in the step.
    pub liquidations: u64,
    /// Notional liquidated in the step.
    pub liquidated_usd: f64,
    /// ADL fills in the step.
    pub adl_fills: u64,
    /// Insurance fund after the step.
    pub insurance_fund_usd: f64,
    /// Open interest, lots.
    pub open_interest: i64,
    /// The makers' volatility, bps.
    pub vol_bps: f64,
    /// Fraction of size the makers pulled.
    pub withdrawn: f64,
}

/// The summary as pretty JSON (deterministic: fields in declaration order).
#[must_use]
pub fn json(s: &Summary) -> String {
    let mut out =
        serde_json::to_string_pretty(s).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    out.push('\n');
    out
}

/// The time series as CSV.
#[must_use]
pub fn csv(rows: &[Row]) -> String {
    let mut out = String::from(
        "t_s,index_usd,mark_usd,low_usd,last_trade_usd,best_bid_usd,best_ask_usd,depth_1pct_usd,\
         liquidations,liquidated_usd,adl_fills,insurance_fund_usd,open_interest_lots,vol_bps,\
         maker_withdrawn\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{:.2},{},{:.2},{},{:.6},{},{:.3},{:.4}",
            r.t_s,
            r.index_usd,
            r.mark_usd,
            r.low_usd,
            r.last_trade_usd,
            r.best_bid_usd,
            r.best_ask_usd,
            r.depth_1pct_usd,
            r.liquidations,
            r.liquidated_usd,
            r.adl_fills,
            r.insurance_fund_usd,
            r.open_interest,
            r.vol_bps,
            r.withdrawn
        );
    }
    out
}

fn money(x: f64) -> String {
    let neg = x < 0.0;
    let whole = format!("{:.0}", x.abs());
    let mut grouped = String::new();
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    format!("{}{grouped}", if neg { "-" } else { "" })
}

fn opt(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "n/a".to_string(), |v| format!("{v:.digits$}"))
}

/// The summary as a readable table.
#[must_use]
pub fn table(s: &Summary) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "scenario {}  seed {}  {} s  max leverage {}x  depth x{}  ADL {}",
        s.scenario, s.seed, s.steps, s.max_leverage, s.depth, s.adl_policy
    );
    let _ = writeln!(
        o,
        "population {} accounts ({} long, {} isolated), {} entered, {} refused, {} USD notional",
        s.accounts,
        s.longs,
        s.isolated,
        s.entered,
        s.entries_rejected,
        money(s.population_notional_usd)
    );
    let _ = writeln!(
        o,
        "\n{:<34}{:>12}{:>20}",
        "liquidations by stage", "count", "notional USD"
    );
    for (name, st) in [
        ("2 book (within bankruptcy)", &s.book),
        ("3 backstop vault", &s.backstop),
        ("4 insurance fund (past bankruptcy)", &s.insurance),
        ("5 auto-deleveraging", &s.adl),
    ] {
        let _ = writeln!(
            o,
            "{name:<34}{:>12}{:>20}",
            st.count,
            money(st.notional_usd)
        );
    }
    let _ = writeln!(
        o,
        "{:<34}{:>12}{:>20}",
        "total (liquidations started)",
        s.liquidations,
        money(s.liquidated_usd)
    );
    let lines = [
        ("accounts liquidated", s.accounts_liquidated.to_string()),
        (
            "lots closed (not found in a stage)",
            format!("{} ({})", s.liquidated_lots, s.unattributed_lots),
        ),
        (
            "bad debt",
            format!(
                "{} USD in {} liquidations",
                money(s.bad_debt_usd),
                s.bad_debt_count
            ),
        ),
        (
            "insurance fund start / min / end",
            format!(
                "{} / {} / {} USD",
                money(s.insurance_fund_start_usd),
                money(s.insurance_fund_min_usd),
                money(s.insurance_fund_end_usd)
            ),
        ),
        (
            "backstop vault capital / PnL",
            format!(
                "{} / {} USD",
                money(s.backstop_capital_usd),
                money(s.backstop_pnl_usd)
            ),
        ),
        ("ADL fills", s.adl_fills.to_string()),
        (
            "ADL haircut taken / minimum / overshoot",
            format!(
                "{} / {} / {} USD",
                money(s.adl_haircut_usd),
                money(s.adl_haircut_min_usd),
                money(s.adl_overshoot_usd)
            ),
        ),
        (
            "max drawdown / without population",
            format!(
                "{:.3}% / {}%",
                s.max_drawdown_pct,
                opt(s.baseline_max_drawdown_pct, 3)
            ),
        ),
        ("amplification factor", opt(s.amplification, 3)),
        (
            "maker quotes refused / flow orders (refused)",
            format!(
                "{} / {} ({})",
                s.maker_rejects, s.flow_orders, s.flow_rejects
            ),
        ),
        (
            "engine audit / state hash",
            format!("{} / {}", s.audit, s.state_hash),
        ),
    ];
    o.push('\n');
    for (k, v) in lines {
        let _ = writeln!(o, "{k:<46}{v}");
    }
    o
}
