//! The scenario file: TOML, documented in `docs/STRESS.md`.
//!
//! Every table denies unknown keys, so a misspelt parameter is an error rather than a silent
//! default. Overrides (`--set key=value`, `--sweep key=a,b`) edit the parsed TOML by dotted
//! path before it is checked, so they go through exactly the same validation as the file.

use crate::{Error, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A whole scenario.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Name, used in reports and output folder names.
    pub name: String,
    /// Seed of the population generator.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// What the scenario needs from outside the repository, said in the error when missing.
    #[serde(default)]
    pub description: String,
    /// The market.
    #[serde(default)]
    pub market: MarketConfig,
    /// The leveraged accounts.
    pub population: PopulationConfig,
    /// Resting depth and the market makers' rules.
    pub liquidity: LiquidityConfig,
    /// The index path.
    pub path: PathConfig,
    /// Exogenous taker flow.
    #[serde(default)]
    pub flow: FlowConfig,
    /// Insurance fund, backstop vault, ADL policy.
    #[serde(default)]
    pub waterfall: WaterfallConfig,
    /// The folder the scenario file is in; relative input paths start there.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

fn default_seed() -> u64 {
    1
}

/// The market: contract units and the risk preset.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MarketConfig {
    /// Symbol (at most 8 ASCII characters).
    pub symbol: String,
    /// Tick size in USD, a decimal string.
    pub tick: String,
    /// Lot size in the base asset, a decimal string.
    pub lot: String,
    /// Margin tiers: `btc` (the BTC-PERP preset, 1001x first tier) or `eth` (500x).
    pub tiers: String,
    /// Where the mark comes from: `median` (index + basis and the book, so liquidations feed
    /// back into the mark) or `index` (the path is the mark).
    pub mark: String,
    /// Caps every tier's maximum leverage (the `max_leverage` sweep key).
    pub max_leverage: u32,
}

impl Default for MarketConfig {
    fn default() -> Self {
        Self {
            symbol: "BTC-PERP".into(),
            tick: "0.1".into(),
            lot: "0.001".into(),
            tiers: "btc".into(),
            mark: "median".into(),
            max_leverage: 1001,
        }
    }
}

/// The leveraged population.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PopulationConfig {
    /// Number of accounts.
    pub accounts: u32,
    /// Leverage drawn log-uniformly between these (inclusive), unless `leverage_choices`.
    #[serde(default = "one")]
    pub leverage_min: u32,
    /// Upper end of the leverage draw.
    #[serde(default = "thousand_one")]
    pub leverage_max: u32,
    /// `[[leverage, weight], ...]`: a discrete distribution instead of the log-uniform one.
    #[serde(default)]
    pub leverage_choices: Vec<(u32, f64)>,
    /// Position notional in USD, drawn log-uniformly between these.
    pub notional_usd_min: f64,
    /// Upper end of the notional draw.
    pub notional_usd_max: f64,
    /// Fraction of accounts that are long.
    #[serde(default = "half")]
    pub long_fraction: f64,
    /// Fraction of accounts on isolated margin (the rest cross).
    #[serde(default)]
    pub isolated_fraction: f64,
    /// Entry times are uniform over the first this many seconds of the path.
    #[serde(default)]
    pub entry_window_s: u32,
}

fn one() -> u32 {
    1
}
fn thousand_one() -> u32 {
    1001
}
fn half() -> f64 {
    0.5
}

/// Resting depth and the market makers.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LiquidityConfig {
    /// The book snapshot: `embedded:btcusdt-20230404` (shipped), a CSV `side,price,qty` path,
    /// or `shared:<path under the shared data folder>` to a Binance REST depth capture.
    pub snapshot: String,
    /// Base scale of the snapshot's notional for this market (a BTC book on another asset).
    #[serde(default = "unit")]
    pub scale: f64,
    /// What-if multiplier of the depth (the `depth` sweep key; 0.67 = October 2025's loss).
    #[serde(default = "unit")]
    pub depth: f64,
    /// Snapshot levels are merged into buckets this many basis points wide.
    #[serde(default = "unit")]
    pub bucket_bps: f64,
    /// Makers requote every this many seconds.
    #[serde(default = "one")]
    pub requote_s: u32,
    /// Trailing window of the realized volatility the makers watch.
    #[serde(default = "sixty")]
    pub vol_window_s: u32,
    /// Every 100 bps of window volatility widens every offset by this fraction.
    #[serde(default)]
    pub widen_per_100bps: f64,
    /// Volatility (bps over the window) at which makers start pulling size.
    #[serde(default = "f_max")]
    pub withdraw_start_bps: f64,
    /// Volatility at which they have pulled `withdraw_max`.
    #[serde(default = "f_max")]
    pub withdraw_full_bps: f64,
    /// The most size they pull (0..=1).
    #[serde(default)]
    pub withdraw_max: f64,
    /// Makers' capital in USD.
    #[serde(default = "maker_capital")]
    pub maker_capital_usd: f64,
}

fn unit() -> f64 {
    1.0
}
fn sixty() -> u32 {
    60
}
fn f_max() -> f64 {
    1e12
}
fn maker_capital() -> f64 {
    1e9
}

/// The index path.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PathConfig {
    /// `shock`, `binance-mark` or `candles`.
    pub kind: String,
    /// shock: starting index in USD.
    #[serde(default)]
    pub start_usd: f64,
    /// shock: length in seconds.
    #[serde(default)]
    pub duration_s: u32,
    /// shock: when the move starts.
    #[serde(default)]
    pub shock_at_s: u32,
    /// shock: the move in percent (−3 = a 3% drop).
    #[serde(default)]
    pub shock_pct: f64,
    /// shock: seconds the move takes (linear).
    #[serde(default = "one")]
    pub shock_over_s: u32,
    /// shock: percent of the move given back by the end (linear after the shock).
    #[serde(default)]
    pub recover_pct: f64,
    /// binance-mark / candles: the input file.
    #[serde(default)]
    pub file: String,
    /// binance-mark: `mark` (field `p`) or `index` (field `i`).
    #[serde(default = "mark_field")]
    pub field: String,
    /// candles: first candle time (inclusive, ISO prefix as in the file).
    #[serde(default)]
    pub from: String,
    /// candles: last candle time (inclusive).
    #[serde(default)]
    pub to: String,
    /// candles: seconds per candle.
    #[serde(default)]
    pub candle_s: u32,
}

fn mark_field() -> String {
    "mark".into()
}

/// Exogenous taker flow from recorded trades.
#[derive(Clone, Debug, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct FlowConfig {
    /// A Binance trade capture (`shared:...` or a path); empty: no flow.
    #[serde(default)]
    pub trades: String,
    /// Multiplier of the recorded quantities.
    #[serde(default)]
    pub scale: f64,
}

/// The waterfall's funding and policy.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct WaterfallConfig {
    /// Insurance fund at the start, USD.
    pub insurance_fund_usd: f64,
    /// Backstop vault capital, USD (0: no backstop).
    pub backstop_usd: f64,
    /// `queue`, `pro-rata` or `off`.
    pub adl: String,
}

impl Default for WaterfallConfig {
    fn default() -> Self {
        Self {
            insurance_fund_usd: 0.0,
            backstop_usd: 0.0,
            adl: "queue".into(),
        }
    }
}

/// Short names of sweep keys for their dotted paths.
const ALIASES: &[(&str, &str)] = &[
    ("max_leverage", "market.max_leverage"),
    ("depth", "liquidity.depth"),
    ("adl", "waterfall.adl"),
    ("accounts", "population.accounts"),
    ("seed", "seed"),
    ("shock_pct", "path.shock_pct"),
    ("duration_s", "path.duration_s"),
    ("insurance_fund_usd", "waterfall.insurance_fund_usd"),
    ("backstop_usd", "waterfall.backstop_usd"),
];

/// The dotted path a key names (an alias or the path itself).
#[must_use]
pub fn key_path(key: &str) -> &str {
    ALIASES
        .iter()
        .find(|(k, _)| *k == key)
        .map_or(key, |(_, p)| p)
}

/// Parses an override value as TOML (number, boolean) or else as a bare string.
fn override_value(raw: &str) -> toml::Value {
    let doc = format!("v = {raw}");
    match toml::from_str::<toml::Table>(&doc) {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.into())),
        Err(_) => toml::Value::String(raw.into()),
    }
}

/// Sets `key` (an alias or dotted path) to `raw` in a parsed scenario.
///
/// # Errors
/// The path runs through a value that is not a table.
pub fn set(doc: &mut toml::Table, key: &str, raw: &str) -> Result<()> {
    let path = key_path(key);
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap_or("");
    let mut table = doc;
    for p in parts {
        // A table the file leaves out (all defaults) is created.
        table = table
            .entry(p)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .ok_or_else(|| Error(format!("--set/--sweep {key}: {p:?} is not a table")))?;
    }
    if last.is_empty() {
        return Err(Error(format!("--set/--sweep: empty key in {key:?}")));
    }
    // A value the file writes as a string (a tick, a policy) stays a string.
    let value = match table.get(last) {
        Some(toml::Value::String(_)) => toml::Value::String(raw.into()),
        _ => override_value(raw),
    };
    table.insert(last.to_string(), value);
    Ok(())
}

/// Parses a scenario from text, applies overrides, and checks it.
///
/// # Errors
/// TOML syntax, unknown keys, wrong types, or a value out of range, each named.
pub fn parse(text: &str, base_dir: &Path, overrides: &[(String, String)]) -> Result<Scenario> {
    let mut doc: toml::Table =
        toml::from_str(text).map_err(|e| Error(format!("scenario is not valid TOML: {e}")))?;
    for (k, v) in overrides {
        set(&mut doc, k, v)?;
    }
    let mut s: Scenario = toml::Value::Table(doc)
        .try_into()
        .map_err(|e| Error(format!("scenario: {e}")))?;
    s.base_dir = base_dir.to_path_buf();
    s.validate()?;
    Ok(s)
}

/// Reads and parses a scenario file.
///
/// # Errors
/// The file cannot be read, or [`parse`] fails (the message names the file).
pub fn load(file: &Path, overrides: &[(String, String)]) -> Result<Scenario> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error(format!("cannot read scenario {}: {e}", file.display())))?;
    let base = file.parent().unwrap_or(Path::new(".")).to_path_buf();
    parse(&text, &base, overrides).map_err(|e| Error(format!("{}: {e}", file.display())))
}

fn check(ok: bool, what: &str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error(format!("invalid scenario: {what}")))
    }
}

fn fraction(x: f64) -> bool {
    (0.0..=1.0).contains(&x)
}

impl Scenario {
    /// Checks ranges and names.
    ///
    /// # Errors
    /// The first value out of range, named.
    pub fn validate(&self) -> Result<()> {
        let p = &self.population;
        check(!self.name.is_empty(), "name must not be empty")?;
        check(
            (1..=1001).contains(&self.market.max_leverage),
            "market.max_leverage must be 1..=1001",
        )?;
        check(
            matches!(self.market.tiers.as_str(), "btc" | "eth"),
            "market.tiers must be \"btc\" or \"eth\"",
        )?;
        check(
            matches!(self.market.mark.as_str(), "median" | "index"),
            "market.mark must be \"median\" or \"index\"",
        )?;
        check(
            p.accounts <= 4_000_000,
            "population.accounts must be at most 4,000,000",
        )?;
        check(
            p.leverage_min >= 1 && p.leverage_min <= p.leverage_max && p.leverage_max <= 1001,
            "population leverage must satisfy 1 <= leverage_min <= leverage_max <= 1001",
        )?;
        check(
            p.leverage_choices
                .iter()
                .all(|(l, w)| (1..=1001).contains(l) && w.is_finite() && *w >= 0.0)
                && (p.leverage_choices.is_empty()
                    || p.leverage_choices.iter().any(|(_, w)| *w > 0.0)),
            "population.leverage_choices must be [leverage 1..=1001, weight >= 0] pairs, some weight > 0",
        )?;
        check(
            p.notional_usd_min >= 5.0
                && p.notional_usd_min <= p.notional_usd_max
                && p.notional_usd_max <= 1e9,
            "population notional must satisfy 5 <= notional_usd_min <= notional_usd_max <= 1e9",
        )?;
        check(
            fraction(p.long_fraction),
            "population.long_fraction must be in 0..=1",
        )?;
        check(
            fraction(p.isolated_fraction),
            "population.isolated_fraction must be in 0..=1",
        )?;
        let l = &self.liquidity;
        check(
            l.scale > 0.0 && l.scale <= 1e6,
            "liquidity.scale must be in (0, 1e6]",
        )?;
        check(
            l.depth > 0.0 && l.depth <= 100.0,
            "liquidity.depth must be in (0, 100]",
        )?;
        check(
            l.bucket_bps > 0.0 && l.bucket_bps <= 100.0,
            "liquidity.bucket_bps must be in (0, 100]",
        )?;
        check(l.requote_s >= 1, "liquidity.requote_s must be at least 1")?;
        check(
            l.vol_window_s >= 2,
            "liquidity.vol_window_s must be at least 2",
        )?;
        check(
            l.widen_per_100bps >= 0.0 && l.widen_per_100bps <= 100.0,
            "liquidity.widen_per_100bps must be in 0..=100",
        )?;
        check(
            l.withdraw_start_bps >= 0.0
                && (l.withdraw_max == 0.0 || l.withdraw_start_bps < l.withdraw_full_bps),
            "liquidity.withdraw_start_bps must be >= 0 and below withdraw_full_bps when withdraw_max > 0",
        )?;
        check(
            fraction(l.withdraw_max),
            "liquidity.withdraw_max must be in 0..=1",
        )?;
        check(
            l.maker_capital_usd > 0.0 && l.maker_capital_usd <= 1e11,
            "liquidity.maker_capital_usd must be in (0, 1e11]",
        )?;
        check(
            matches!(
                self.path.kind.as_str(),
                "shock" | "binance-mark" | "candles"
            ),
            "path.kind must be \"shock\", \"binance-mark\" or \"candles\"",
        )?;
        if self.path.kind == "shock" {
            let s = &self.path;
            check(s.start_usd > 0.0, "path.start_usd must be positive")?;
            check(
                (1..=86_400 * 7).contains(&s.duration_s),
                "path.duration_s must be 1..=604800",
            )?;
            check(
                s.shock_pct > -90.0 && s.shock_pct < 900.0,
                "path.shock_pct must be in (-90, 900)",
            )?;
            check(s.shock_over_s >= 1, "path.shock_over_s must be at least 1")?;
            check(
                (0.0..=100.0).contains(&s.recover_pct),
                "path.recover_pct must be in 0..=100",
            )?;
        } else {
            check(
                !self.path.file.is_empty(),
                "path.file is required for this path.kind",
            )?;
        }
        if self.path.kind == "binance-mark" {
            check(
                matches!(self.path.field.as_str(), "mark" | "index"),
                "path.field must be \"mark\" or \"index\"",
            )?;
        }
        if self.path.kind == "candles" {
            check(self.path.candle_s >= 3, "path.candle_s must be at least 3")?;
        }
        check(
            self.flow.trades.is_empty() || (self.flow.scale > 0.0 && self.flow.scale <= 1e6),
            "flow.scale must be in (0, 1e6] when flow.trades is set",
        )?;
        let w = &self.waterfall;
        check(
            (0.0..=1e11).contains(&w.insurance_fund_usd) && (0.0..=1e11).contains(&w.backstop_usd),
            "waterfall amounts must be in 0..=1e11 USD",
        )?;
        check(
            matches!(w.adl.as_str(), "queue" | "pro-rata" | "off"),
            "waterfall.adl must be \"queue\", \"pro-rata\" or \"off\"",
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
name = "t"
[population]
accounts = 10
notional_usd_min = 100
notional_usd_max = 1000
[liquidity]
snapshot = "embedded:btcusdt-20230404"
[path]
kind = "shock"
start_usd = 28000
duration_s = 60
shock_pct = -3
"#;

    #[test]
    fn minimal_scenario_parses_with_defaults() {
        let s = parse(MINIMAL, Path::new("."), &[]).expect("valid");
        assert_eq!(s.market.max_leverage, 1001);
        assert_eq!(s.waterfall.adl, "queue");
        assert!((s.liquidity.depth - 1.0).abs() < f64::EPSILON);
    }

    #[test]
    fn overrides_use_aliases_and_types() {
        let o = vec![
            ("max_leverage".to_string(), "20".to_string()),
            ("adl".to_string(), "pro-rata".to_string()),
            ("depth".to_string(), "0.67".to_string()),
        ];
        let s = parse(MINIMAL, Path::new("."), &o).expect("valid");
        assert_eq!(s.market.max_leverage, 20);
        assert_eq!(s.waterfall.adl, "pro-rata");
        assert!((s.liquidity.depth - 0.67).abs() < 1e-12);
    }

    #[test]
    fn bad_input_is_a_named_error() {
        let typo = MINIMAL.replace("accounts = 10", "acounts = 10");
        let e = parse(&typo, Path::new("."), &[]).expect_err("unknown key");
        assert!(e.0.contains("acounts"), "{e}");
        let e = parse(MINIMAL, Path::new("."), &[("adl".into(), "lottery".into())])
            .expect_err("bad policy");
        assert!(e.0.contains("waterfall.adl"), "{e}");
        let e = parse("name = ", Path::new("."), &[]).expect_err("syntax");
        assert!(e.0.contains("TOML"), "{e}");
        let e = parse(MINIMAL, Path::new("."), &[("nosuch.x".into(), "1".into())])
            .expect_err("bad path");
        assert!(e.0.contains("nosuch"), "{e}");
    }
}
