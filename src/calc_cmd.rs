//! `cascade calc`: the risk calculators on decimal inputs, JSON on stdout.
//!
//! Decimals are parsed and printed exactly by `cascade_gateway::decimal`; everything in between
//! is the engine's own integer risk code (`cascade_risk`), not a copy of it.
//!
//! # Units
//! - quote amounts (margin, notional, tier floors, results): quantums of 1e-6 of the quote
//!   currency, so at most 6 decimal places;
//! - prices: whole ticks of `--tick` (default 0.01);
//! - sizes: whole lots of `--lot` (default 0.0001);
//! - rates: a fraction with up to 6 decimals (`0.005`) or a percentage with up to 4 (`0.5%`).
//!
//! One tick × one lot must be a whole number of quote quantums (0.01 × 0.0001 = 1e-6: one).
//! More precision than a unit holds is an error, never rounded away.

use anyhow::{anyhow, bail, Context, Result};
use cascade_engine::DecimalStep;
use cascade_gateway::decimal::{
    format_ppm, format_scaled, format_step, format_steps, parse_ppm, parse_scaled, parse_step,
    parse_steps, QUOTE_DECIMALS,
};
use cascade_risk::liquidation::{bankruptcy_price, liquidation_price, notional, IsolatedPosition};
use cascade_risk::margin::{leverage_max_for_mmr, MarginTiers, TierSpec};
use cascade_risk::{PositionSize, Ppm, Price, Quote};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Value};

/// Units shared by the calculators, for `--help`.
const UNITS_HELP: &str = "Units: quote amounts have 6 decimals (quantum 1e-6); prices are whole \
ticks of --tick (default 0.01); sizes whole lots of --lot (default 0.0001); tick × lot must be a \
whole number of quantums. Rates are fractions (0.005, up to 6 decimals) or percentages (0.5%, up \
to 4). Excess precision is an error, never rounded. Tiers are FLOOR:MMR[:MAX_LEVERAGE],... with \
the first FLOOR 0; a tier covers notionals above its floor up to the next floor; a missing max \
leverage is the highest whose initial margin exceeds the MMR (at most 1001). Output is JSON with \
decimals as strings; margins round up, and a long's prices round up, a short's down (against the \
account).";

/// Flags of `cascade calc`.
#[derive(Args, Debug)]
#[command(after_help = UNITS_HELP)]
pub struct CalcArgs {
    /// Which calculator.
    #[command(subcommand)]
    pub command: CalcCmd,
}

/// The calculators.
#[derive(Subcommand, Debug)]
pub enum CalcCmd {
    /// Liquidation and bankruptcy prices of an isolated position, maintenance margin taken on
    /// the notional at the mark price (Binance/Hyperliquid convention).
    #[command(after_help = UNITS_HELP)]
    LiqPrice(LiqPriceArgs),
    /// Maintenance margin, rate and deduction of a notional under a tier table.
    #[command(after_help = UNITS_HELP)]
    MaintMargin(MaintMarginArgs),
}

/// Position side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PositionSide {
    /// Long: positive size.
    Long,
    /// Short: negative size.
    Short,
}

/// Flags of `cascade calc liq-price`.
#[derive(Args, Debug, Clone)]
pub struct LiqPriceArgs {
    /// Position side.
    #[arg(long, value_enum)]
    pub side: PositionSide,
    /// Entry price (a whole number of ticks).
    #[arg(long)]
    pub entry: String,
    /// Position size in base units, positive (a whole number of lots).
    #[arg(long)]
    pub size: String,
    /// Isolated margin in quote (6 decimals).
    #[arg(long, allow_hyphen_values = true)]
    pub margin: String,
    /// Flat maintenance margin rate, e.g. 0.005 or 0.5%.
    #[arg(long, conflicts_with = "tiers", required_unless_present = "tiers")]
    pub mmr: Option<String>,
    /// Tier table FLOOR:MMR[:MAX_LEVERAGE],... (floors in quote).
    #[arg(long)]
    pub tiers: Option<String>,
    /// Tick size.
    #[arg(long, default_value = "0.01")]
    pub tick: String,
    /// Lot size.
    #[arg(long, default_value = "0.0001")]
    pub lot: String,
    /// Mark price at which to report the maintenance margin (default: the entry price).
    #[arg(long)]
    pub mark: Option<String>,
}

/// Flags of `cascade calc maint-margin`.
#[derive(Args, Debug, Clone)]
pub struct MaintMarginArgs {
    /// Position notional in quote (6 decimals).
    #[arg(long)]
    pub notional: String,
    /// Tier table FLOOR:MMR[:MAX_LEVERAGE],... (floors in quote).
    #[arg(long, conflicts_with = "mmr", required_unless_present = "mmr")]
    pub tiers: Option<String>,
    /// Flat maintenance margin rate instead of tiers.
    #[arg(long)]
    pub mmr: Option<String>,
}

/// Runs a calculator and prints its JSON result.
///
/// # Errors
/// An input does not parse or is out of range; the message names it.
pub fn run(args: &CalcArgs) -> Result<()> {
    let value = match &args.command {
        CalcCmd::LiqPrice(a) => liq_price(a)?,
        CalcCmd::MaintMargin(a) => maint_margin(a)?,
    };
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}

fn quote_text(quote: Quote) -> String {
    format_scaled(i128::from(quote.get()), QUOTE_DECIMALS)
}

fn parse_quote(text: &str, what: &str) -> Result<Quote> {
    let quantums = parse_scaled(text, QUOTE_DECIMALS).with_context(|| format!("--{what}"))?;
    Ok(Quote(quantums))
}

fn parse_rate(text: &str, what: &str) -> Result<Ppm> {
    Ok(Ppm(parse_ppm(text).with_context(|| format!("--{what}"))?))
}

/// Parses `FLOOR:MMR[:MAX_LEVERAGE],...` into a validated table.
///
/// # Errors
/// A malformed entry, or a table that breaks a tier rule.
pub fn parse_tiers(text: &str) -> Result<MarginTiers> {
    let mut rows = Vec::new();
    for (i, entry) in text.split(',').enumerate() {
        let parts: Vec<&str> = entry.split(':').collect();
        let (floor, mmr, leverage) = match parts.as_slice() {
            [floor, mmr] => (*floor, *mmr, None),
            [floor, mmr, leverage] => (*floor, *mmr, Some(*leverage)),
            _ => bail!(
                "--tiers entry {}: `{entry}` is not FLOOR:MMR[:MAX_LEVERAGE]",
                i + 1
            ),
        };
        let context = || format!("--tiers entry {}", i + 1);
        let floor = Quote(parse_scaled(floor, QUOTE_DECIMALS).with_context(context)?);
        let mmr = Ppm(parse_ppm(mmr).with_context(context)?);
        let leverage_max = match leverage {
            Some(text) => text
                .strip_suffix(['x', 'X'])
                .unwrap_or(text)
                .parse::<u32>()
                .with_context(|| format!("{}: max leverage `{text}`", context()))?,
            None => leverage_max_for_mmr(mmr).map_err(|e| anyhow!("{}: {e}", context()))?,
        };
        rows.push(TierSpec::new(floor, mmr, leverage_max));
    }
    MarginTiers::new(&rows).map_err(|e| anyhow!("--tiers: {e}"))
}

fn tiers_from(tiers: Option<&str>, mmr: Option<&str>) -> Result<MarginTiers> {
    match (tiers, mmr) {
        (Some(tiers), None) => parse_tiers(tiers),
        (None, Some(mmr)) => {
            MarginTiers::flat(parse_rate(mmr, "mmr")?).map_err(|e| anyhow!("--mmr: {e}"))
        }
        _ => bail!("give exactly one of --tiers and --mmr"),
    }
}

/// Quote quantums in one tick × one lot; an error when that is not a whole number.
fn quote_per_tick_lot(tick: DecimalStep, lot: DecimalStep) -> Result<i64> {
    let mantissa = i128::from(tick.mantissa) * i128::from(lot.mantissa);
    let exponent = i32::from(QUOTE_DECIMALS) - i32::from(tick.scale) - i32::from(lot.scale);
    let q = if exponent >= 0 {
        mantissa.checked_mul(10i128.pow(exponent.unsigned_abs()))
    } else {
        let divisor = 10i128.pow(exponent.unsigned_abs());
        (mantissa % divisor == 0).then(|| mantissa / divisor)
    };
    q.and_then(|q| i64::try_from(q).ok()).ok_or_else(|| {
        anyhow!(
            "tick {} × lot {} is not a whole number of 1e-6 quote quantums; use a coarser \
             --lot or --tick",
            format_step(tick),
            format_step(lot)
        )
    })
}

/// `cascade calc liq-price` as a library call: the JSON it prints.
///
/// # Errors
/// An input does not parse, is out of range, or the position is invalid.
pub fn liq_price(args: &LiqPriceArgs) -> Result<Value> {
    let tick = parse_step(&args.tick).context("--tick")?;
    let lot = parse_step(&args.lot).context("--lot")?;
    let q = quote_per_tick_lot(tick, lot)?;
    let entry = Price(parse_steps(&args.entry, tick).context("--entry")?);
    let lots = parse_steps(&args.size, lot).context("--size")?;
    if entry.get() <= 0 || lots <= 0 {
        bail!("--entry and --size must be positive");
    }
    let margin = parse_quote(&args.margin, "margin")?;
    let tiers = tiers_from(args.tiers.as_deref(), args.mmr.as_deref())?;
    let mark = match &args.mark {
        Some(text) => Price(parse_steps(text, tick).context("--mark")?),
        None => entry,
    };
    if mark.get() <= 0 {
        bail!("--mark must be positive");
    }
    let size = PositionSize(match args.side {
        PositionSide::Long => lots,
        PositionSide::Short => -lots,
    });
    let position = IsolatedPosition {
        size,
        entry,
        margin,
    };
    let liquidation = liquidation_price(&position, &tiers, q)?;
    let bankruptcy = bankruptcy_price(&position, q)?;
    let mark_notional = notional(size, mark, q)?;
    let tier = tiers.tier(mark_notional)?;
    let maintenance = tiers.maintenance_margin(mark_notional)?;
    let at_liquidation = match liquidation {
        Some(price) => Some(quote_text(
            tiers.maintenance_margin(notional(size, price, q)?)?,
        )),
        None => None,
    };
    let price_text = |p: Option<Price>| p.map(|p| format_steps(p.get(), tick));
    Ok(json!({
        "side": match args.side { PositionSide::Long => "long", PositionSide::Short => "short" },
        "entry_price": format_steps(entry.get(), tick),
        "size": format_steps(lots, lot),
        "margin": quote_text(margin),
        "mark_price": format_steps(mark.get(), tick),
        "notional": quote_text(mark_notional),
        "maintenance_margin": quote_text(maintenance),
        "mmr": format_ppm(i64::from(tier.mmr().get())),
        "liquidation_price": price_text(liquidation),
        "bankruptcy_price": price_text(bankruptcy),
        "maintenance_margin_at_liquidation": at_liquidation,
        "units": {
            "tick": format_step(tick),
            "lot": format_step(lot),
            "quote_quantum": format_scaled(1, QUOTE_DECIMALS),
            "quote_per_tick_lot": q,
        },
    }))
}

/// `cascade calc maint-margin` as a library call: the JSON it prints.
///
/// # Errors
/// An input does not parse or is out of range.
pub fn maint_margin(args: &MaintMarginArgs) -> Result<Value> {
    let notional = parse_quote(&args.notional, "notional")?;
    if notional.get() < 0 {
        bail!("--notional must not be negative");
    }
    let tiers = tiers_from(args.tiers.as_deref(), args.mmr.as_deref())?;
    let index = tiers.tier_index(notional)?;
    let tier = tiers.tier(notional)?;
    let maintenance = tiers.maintenance_margin(notional)?;
    Ok(json!({
        "notional": quote_text(notional),
        "maintenance_margin": quote_text(maintenance),
        "mmr": format_ppm(i64::from(tier.mmr().get())),
        "deduction": quote_text(tier.deduction()),
        "tier": index + 1,
        "max_leverage": tier.leverage_max(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn liq(side: PositionSide, entry: &str, size: &str, margin: &str) -> LiqPriceArgs {
        LiqPriceArgs {
            side,
            entry: entry.into(),
            size: size.into(),
            margin: margin.into(),
            mmr: None,
            tiers: None,
            tick: "0.01".into(),
            lot: "0.0001".into(),
            mark: None,
        }
    }

    /// RISK-REFERENCE §3 example 6 (BitMEX liquidation): long 1 contract at $100.00 with $1.00
    /// of margin and 0.5% MM → liquidation $99.50, bankruptcy $99.00.
    #[test]
    fn bitmex_liquidation_example_through_the_cli() {
        let mut args = liq(PositionSide::Long, "100.00", "1", "1");
        args.mmr = Some("0.5%".into());
        let out = liq_price(&args).expect("valid");
        assert_eq!(out["liquidation_price"], "99.50");
        assert_eq!(out["bankruptcy_price"], "99.00");
        assert_eq!(out["maintenance_margin"], "0.500000");
        assert_eq!(out["maintenance_margin_at_liquidation"], "0.497500");
        assert_eq!(out["mmr"], "0.005000");
        assert_eq!(out["units"]["quote_per_tick_lot"], 1);
        // With XBTUSD's 0.5 tick and 1-contract lots.
        args.tick = "0.5".into();
        args.lot = "1".into();
        args.entry = "100".into();
        let out = liq_price(&args).expect("valid");
        assert_eq!(out["liquidation_price"], "99.5");
        assert_eq!(out["bankruptcy_price"], "99.0");
    }

    /// RISK-REFERENCE §3 example 12 (Binance maintenance amount, COIN-M BTCUSD level 5):
    /// 50·(5% − 2.5%) + 0.56 = 1.81; at 60 BTC of notional MM = 60·5% − 1.81 = 1.19.
    #[test]
    fn binance_maintenance_amount_example_through_the_cli() {
        let args = MaintMarginArgs {
            notional: "60".into(),
            tiers: Some("0:0.4%:125,10:0.5%:100,20:1%:50,30:2.5%:20,50:5%:10".into()),
            mmr: None,
        };
        let out = maint_margin(&args).expect("valid");
        assert_eq!(out["deduction"], "1.810000");
        assert_eq!(out["maintenance_margin"], "1.190000");
        assert_eq!(out["mmr"], "0.050000");
        assert_eq!(out["tier"], 5);
        assert_eq!(out["max_leverage"], 10);
    }

    /// Binance isolated liquidation with brackets (RISK-REFERENCE §2.2): short 10 BTC at
    /// 50,000 with 25,000 USDT under the 2021 BTCUSDT brackets: 52,108.9108… → 52,108.91.
    #[test]
    fn binance_tiered_short_through_the_cli() {
        let mut args = liq(PositionSide::Short, "50000", "10", "25000");
        args.tiers = Some("0:0.004,50000:0.005,250000:0.01,1000000:0.025".into());
        let out = liq_price(&args).expect("valid");
        assert_eq!(out["liquidation_price"], "52108.91");
        assert_eq!(out["bankruptcy_price"], "52500.00");
        assert_eq!(out["mmr"], "0.010000");
    }

    #[test]
    fn clear_errors() {
        let mut args = liq(PositionSide::Long, "100.001", "1", "1");
        args.mmr = Some("0.005".into());
        let err = format!("{:#}", liq_price(&args).expect_err("excess precision"));
        assert!(err.contains("--entry"), "{err}");
        assert!(err.contains("not a multiple of the step 0.01"), "{err}");
        let mut args = liq(PositionSide::Long, "100", "1", "1.0000001");
        args.mmr = Some("0.005".into());
        let err = format!("{:#}", liq_price(&args).expect_err("excess precision"));
        assert!(err.contains("excess precision"), "{err}");
        let mut args = liq(PositionSide::Long, "100", "1", "1");
        args.mmr = Some("0.005".into());
        args.lot = "0.00001".into();
        let err = format!("{:#}", liq_price(&args).expect_err("sub-quantum tick-lot"));
        assert!(err.contains("not a whole number of 1e-6"), "{err}");
        let err = format!("{:#}", parse_tiers("5:0.01").expect_err("first floor"));
        assert!(err.contains("first notional floor must be 0"), "{err}");
        let err = format!("{:#}", parse_tiers("0:0.01:x").expect_err("leverage"));
        assert!(err.contains("max leverage"), "{err}");
        assert_eq!(
            parse_tiers("0:0.5%").expect("valid").tiers()[0].leverage_max(),
            199
        );
    }
}
