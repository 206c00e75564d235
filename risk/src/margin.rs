//! Margin tiers: maintenance margin continuous in notional, initial margin, maximum leverage.
//!
//! # Layout
//! A [`MarginTiers`] table is built once from [`TierSpec`] rows (notional floor, maintenance
//! margin rate, maximum leverage) and validated. Tier `i` covers notionals in
//! `(floor_i, floor_{i+1}]`, the first tier also covers 0: Binance's brackets read
//! "0 < Position ≤ 50,000", so a notional exactly on a floor still gets the lower tier's
//! leverage. The maintenance margin is the same on either side of a floor (see below), so the
//! convention only matters for the maximum leverage.
//!
//! # The deduction (Binance "maintenance amount", Hyperliquid "deduction")
//! `MM(n) = n·mmr_t − deduction_t`, with `deduction_0 = 0` and
//! `deduction_t = deduction_{t−1} + floor_t·(mmr_t − mmr_{t−1})`. This makes `MM` continuous and
//! non-decreasing in the notional `n`: a tax bracket, not a step. The deduction is kept exactly,
//! in quote quantums × 1e6 (ppm units), so continuity holds to the last quantum; only the final
//! `MM` is rounded, up.
//!
//! # Invariants
//! Checked by [`MarginTiers::new`]: at least one and at most [`TIERS_MAX`] tiers; the first floor
//! is 0; floors strictly increase; `0 ≤ mmr < 100%` and non-decreasing; max leverage in
//! `1..=`[`LEVERAGE_MAX`] and non-increasing; and `mmr × leverage_max < 100%`, so a position
//! opened at the tier's maximum leverage is not liquidatable at its opening price.

use crate::error::{checked, to_i64, RiskError};
use crate::num::{div_round, Ppm, Quote, Rounding};

/// The highest leverage any tier may allow.
pub const LEVERAGE_MAX: u32 = 1001;

/// The most tiers a table may have.
pub const TIERS_MAX: usize = 64;

/// Ppm units in one whole, as `i128` for the wide products below.
const PPM_ONE: i128 = 1_000_000;

/// One row of a tier table as written in a venue's documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TierSpec {
    /// Lower bound of the tier's notional range, in quote quantums (exclusive, except 0).
    pub notional_floor: Quote,
    /// Maintenance margin rate.
    pub mmr: Ppm,
    /// Highest leverage allowed for a position whose notional falls in this tier.
    pub leverage_max: u32,
}

impl TierSpec {
    /// A row with the given floor, rate and maximum leverage.
    #[must_use]
    pub const fn new(notional_floor: Quote, mmr: Ppm, leverage_max: u32) -> Self {
        Self {
            notional_floor,
            mmr,
            leverage_max,
        }
    }
}

/// A validated tier with its deduction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MarginTier {
    spec: TierSpec,
    /// `Σ floor_j·(mmr_j − mmr_{j−1})` for `j ≤ t`, in quote quantums × 1e6.
    deduction_scaled: i128,
}

impl MarginTier {
    /// Lower bound of the tier's notional range, in quote quantums.
    #[must_use]
    pub const fn notional_floor(&self) -> Quote {
        self.spec.notional_floor
    }

    /// Maintenance margin rate.
    #[must_use]
    pub const fn mmr(&self) -> Ppm {
        self.spec.mmr
    }

    /// Highest leverage allowed in this tier.
    #[must_use]
    pub const fn leverage_max(&self) -> u32 {
        self.spec.leverage_max
    }

    /// The exact deduction in quote quantums × 1e6.
    #[must_use]
    pub const fn deduction_scaled(&self) -> i128 {
        self.deduction_scaled
    }

    /// The deduction (Binance's "maintenance amount") in quote quantums, for display.
    ///
    /// # Rounding
    /// Down: the deduction lowers a requirement, so its displayed value never overstates it.
    /// [`MarginTiers::maintenance_margin`] uses the exact value, so `n·mmr − deduction` computed
    /// from this display value may exceed the true margin by less than one quantum.
    #[must_use]
    pub fn deduction(&self) -> Quote {
        // The deduction is at most `n·mmr` at the tier's floor, an `i64` × 1e6; dividing by 1e6
        // brings it back into `i64`.
        let quantums = div_round(self.deduction_scaled, PPM_ONE, Rounding::Floor)
            .expect("invariant: the divisor is a non-zero constant");
        Quote(i64::try_from(quantums).expect("invariant: deduction ≤ floor·mmr fits in i64"))
    }
}

/// A validated margin tier table. See the module documentation for the rules.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MarginTiers {
    tiers: Vec<MarginTier>,
}

impl MarginTiers {
    /// Validates `rows` and computes each tier's deduction.
    ///
    /// # Errors
    /// [`RiskError::InvalidTiers`] naming the first rule broken (see the module documentation).
    pub fn new(rows: &[TierSpec]) -> Result<Self, RiskError> {
        let first = rows.first().ok_or(RiskError::InvalidTiers("no tiers"))?;
        if rows.len() > TIERS_MAX {
            return Err(RiskError::InvalidTiers("more than TIERS_MAX tiers"));
        }
        if first.notional_floor != Quote::ZERO {
            return Err(RiskError::InvalidTiers(
                "the first notional floor must be 0",
            ));
        }
        let mut tiers = Vec::with_capacity(rows.len());
        let mut deduction_scaled: i128 = 0;
        for (i, row) in rows.iter().enumerate() {
            validate_row(row)?;
            if let Some(prev) = i.checked_sub(1).and_then(|p| rows.get(p)) {
                if row.notional_floor <= prev.notional_floor {
                    return Err(RiskError::InvalidTiers("notional floors must increase"));
                }
                if row.mmr < prev.mmr {
                    return Err(RiskError::InvalidTiers("mmr must not decrease"));
                }
                if row.leverage_max > prev.leverage_max {
                    return Err(RiskError::InvalidTiers("max leverage must not increase"));
                }
                // floor < 2^63 and the mmr step < 2^20, so each term is < 2^83 and the sum of at
                // most 64 terms is < 2^89: no overflow in i128.
                let step = i128::from(row.mmr.get()) - i128::from(prev.mmr.get());
                deduction_scaled += i128::from(row.notional_floor.get()) * step;
            }
            tiers.push(MarginTier {
                spec: *row,
                deduction_scaled,
            });
        }
        assert_eq!(tiers.len(), rows.len(), "invariant: one tier per row");
        Ok(Self { tiers })
    }

    /// A single-tier table with a flat maintenance margin rate, allowing the highest leverage
    /// whose initial margin stays above it ([`leverage_max_for_mmr`]).
    ///
    /// # Errors
    /// [`RiskError::InvalidTiers`] when `mmr` is outside `0..100%`.
    pub fn flat(mmr: Ppm) -> Result<Self, RiskError> {
        let leverage_max = leverage_max_for_mmr(mmr)?;
        Self::new(&[TierSpec::new(Quote::ZERO, mmr, leverage_max)])
    }

    /// The tiers, lowest notional first.
    #[must_use]
    pub fn tiers(&self) -> &[MarginTier] {
        &self.tiers
    }

    /// Index of the tier whose range `(floor_i, floor_{i+1}]` contains `notional` (tier 0 for 0).
    ///
    /// # Errors
    /// [`RiskError::InvalidInput`] when `notional` is negative.
    pub fn tier_index(&self, notional: Quote) -> Result<usize, RiskError> {
        if notional.get() < 0 {
            return Err(RiskError::InvalidInput("notional is negative"));
        }
        // Floors strictly increase, so the tiers with a floor below the notional are a prefix.
        let below = self
            .tiers
            .partition_point(|t| t.notional_floor() < notional);
        Ok(below.saturating_sub(1))
    }

    /// The tier whose range contains `notional`.
    ///
    /// # Errors
    /// [`RiskError::InvalidInput`] when `notional` is negative.
    pub fn tier(&self, notional: Quote) -> Result<&MarginTier, RiskError> {
        let index = self.tier_index(notional)?;
        Ok(self
            .tiers
            .get(index)
            .expect("invariant: tier_index is within the table"))
    }

    /// Exact maintenance margin `n·mmr − deduction` in quote quantums × 1e6.
    ///
    /// # Rounding
    /// None: the value is exact. It is never negative, because `MM` is continuous,
    /// non-decreasing and 0 at a notional of 0.
    ///
    /// # Errors
    /// [`RiskError::InvalidInput`] when `notional` is negative.
    pub fn maintenance_margin_scaled(&self, notional: Quote) -> Result<i128, RiskError> {
        let tier = self.tier(notional)?;
        // notional < 2^63 and mmr < 2^20: the product is < 2^83.
        let scaled =
            i128::from(notional.get()) * i128::from(tier.mmr().get()) - tier.deduction_scaled;
        assert!(
            scaled >= 0,
            "invariant: the maintenance margin is never negative"
        );
        Ok(scaled)
    }

    /// Maintenance margin for a position of `notional` quote quantums (notional at the mark
    /// price): `notional·mmr(tier) − deduction(tier)`.
    ///
    /// # Rounding
    /// Up to the quantum: a requirement.
    ///
    /// # Errors
    /// [`RiskError::InvalidInput`] when `notional` is negative.
    pub fn maintenance_margin(&self, notional: Quote) -> Result<Quote, RiskError> {
        let scaled = self.maintenance_margin_scaled(notional)?;
        let quantums = checked(div_round(scaled, PPM_ONE, Rounding::Ceil))?;
        let mm = to_i64(quantums)?;
        assert!(
            mm <= notional.get(),
            "invariant: mmr < 100% so MM ≤ notional"
        );
        Ok(Quote(mm))
    }

    /// Highest leverage allowed for a position of `notional` quote quantums.
    ///
    /// # Errors
    /// [`RiskError::InvalidInput`] when `notional` is negative.
    pub fn max_leverage(&self, notional: Quote) -> Result<u32, RiskError> {
        Ok(self.tier(notional)?.leverage_max())
    }

    /// Initial margin at `leverage` for a position of `notional`, after checking the leverage
    /// against the tier's maximum.
    ///
    /// # Rounding
    /// Up to the quantum, as [`initial_margin`].
    ///
    /// # Errors
    /// [`RiskError::LeverageAboveMax`] when `leverage` exceeds [`Self::max_leverage`];
    /// otherwise as [`initial_margin`].
    pub fn initial_margin(&self, notional: Quote, leverage: u32) -> Result<Quote, RiskError> {
        let leverage_max = self.max_leverage(notional)?;
        if leverage > leverage_max {
            return Err(RiskError::LeverageAboveMax {
                leverage,
                leverage_max,
            });
        }
        initial_margin(notional, leverage)
    }
}

fn validate_row(row: &TierSpec) -> Result<(), RiskError> {
    if row.notional_floor.get() < 0 {
        return Err(RiskError::InvalidTiers("a notional floor is negative"));
    }
    if row.mmr.get() < 0 || i128::from(row.mmr.get()) >= PPM_ONE {
        return Err(RiskError::InvalidTiers("mmr must be in [0, 100%)"));
    }
    if row.leverage_max == 0 || row.leverage_max > LEVERAGE_MAX {
        return Err(RiskError::InvalidTiers("max leverage must be in 1..=1001"));
    }
    if i128::from(row.mmr.get()) * i128::from(row.leverage_max) >= PPM_ONE {
        return Err(RiskError::InvalidTiers(
            "mmr × max leverage must be below 100% (MM below IM at max leverage)",
        ));
    }
    Ok(())
}

/// Initial margin `notional / leverage`.
///
/// # Rounding
/// Up to the quantum: a requirement.
///
/// # Errors
/// [`RiskError::InvalidInput`] when `notional` is negative or `leverage` is 0.
pub fn initial_margin(notional: Quote, leverage: u32) -> Result<Quote, RiskError> {
    if notional.get() < 0 {
        return Err(RiskError::InvalidInput("notional is negative"));
    }
    if leverage == 0 {
        return Err(RiskError::InvalidInput("leverage is 0"));
    }
    let quantums = checked(div_round(
        i128::from(notional.get()),
        i128::from(leverage),
        Rounding::Ceil,
    ))?;
    Ok(Quote(to_i64(quantums)?))
}

/// The highest leverage in `1..=`[`LEVERAGE_MAX`] whose initial margin rate stays strictly above
/// `mmr` (`mmr × leverage < 100%`): the leverage a flat-rate table allows.
///
/// # Errors
/// [`RiskError::InvalidTiers`] when `mmr` is outside `0..100%`.
pub fn leverage_max_for_mmr(mmr: Ppm) -> Result<u32, RiskError> {
    let mmr = i128::from(mmr.get());
    if !(0..PPM_ONE).contains(&mmr) {
        return Err(RiskError::InvalidTiers("mmr must be in [0, 100%)"));
    }
    if mmr == 0 {
        return Ok(LEVERAGE_MAX);
    }
    // The largest L with mmr·L < 1e6 is ceil(1e6 / mmr) − 1, which is ≥ 1 for mmr < 1e6.
    let bound = checked(div_round(PPM_ONE, mmr, Rounding::Ceil))? - 1;
    let leverage = bound.min(i128::from(LEVERAGE_MAX));
    Ok(u32::try_from(leverage).expect("invariant: 1 ≤ leverage ≤ 1001"))
}

/// One US dollar in quote quantums of 1e-6 (the embedded markets' quantum).
const USD: i64 = 1_000_000;

/// Builds a default table; the rows are constants checked by tests.
fn default_table(rows: &[(i64, i32, u32)]) -> MarginTiers {
    let specs: Vec<TierSpec> = rows
        .iter()
        .map(|&(floor_usd, mmr_ppm, leverage)| {
            TierSpec::new(Quote(floor_usd * USD), Ppm(mmr_ppm), leverage)
        })
        .collect();
    MarginTiers::new(&specs).expect("invariant: the embedded tier tables are valid")
}

impl MarginTiers {
    /// BTC-PERP, Binance-like: Binance's BTCUSDT brackets as announced on 2021-03-18 (125x at
    /// 0.40% up to 50,000 USD … 1x at 50% above 300M), with one tiny 1001x tier in front
    /// (0–10,000 USD at 0.05% MMR, a Cascade choice after the 1001x venues, not a Binance
    /// number). Floors are in 1e-6 USD quantums.
    #[must_use]
    pub fn binance_like_btc_perp() -> Self {
        default_table(&[
            (0, 500, 1001),
            (10_000, 4_000, 125),
            (50_000, 5_000, 100),
            (250_000, 10_000, 50),
            (1_000_000, 25_000, 20),
            (10_000_000, 50_000, 10),
            (20_000_000, 100_000, 5),
            (50_000_000, 125_000, 4),
            (100_000_000, 150_000, 3),
            (200_000_000, 250_000, 2),
            (300_000_000, 500_000, 1),
        ])
    }

    /// ETH-PERP, Binance-like: the shape of Binance's 2021 ETHUSDT brackets (100x at 0.50% up
    /// to 10,000 USD … 1x at 50% above 50M; unconfirmed against a primary source), with a
    /// tiny 1001x tier in front (0–5,000 USD at 0.05% MMR, a Cascade choice).
    #[must_use]
    pub fn binance_like_eth_perp() -> Self {
        default_table(&[
            (0, 500, 1001),
            (5_000, 5_000, 100),
            (10_000, 6_500, 75),
            (100_000, 10_000, 50),
            (500_000, 20_000, 25),
            (1_000_000, 50_000, 10),
            (2_000_000, 100_000, 5),
            (5_000_000, 125_000, 4),
            (10_000_000, 150_000, 3),
            (20_000_000, 250_000, 2),
            (50_000_000, 500_000, 1),
        ])
    }

    /// BTC-PERP, Hyperliquid-like: Hyperliquid mainnet BTC (40x up to 150M USD, 20x above) with
    /// `mmr = ½ · 1/max_leverage` (1.25%, 2.5%), with a tiny 1001x tier in front (0–10,000 USD
    /// at 0.05% ≈ ½/1001 rounded up, a Cascade choice).
    #[must_use]
    pub fn hyperliquid_like_btc_perp() -> Self {
        default_table(&[
            (0, 500, 1001),
            (10_000, 12_500, 40),
            (150_000_000, 25_000, 20),
        ])
    }

    /// ETH-PERP, Hyperliquid-like: Hyperliquid mainnet ETH (25x up to 100M USD, 15x above),
    /// `mmr = ½ · 1/max_leverage` (2%, 3.3334% rounded up from 3.3333…%), with a tiny 1001x
    /// tier in front (0–5,000 USD at 0.05%, a Cascade choice).
    #[must_use]
    pub fn hyperliquid_like_eth_perp() -> Self {
        default_table(&[
            (0, 500, 1001),
            (5_000, 20_000, 25),
            (100_000_000, 33_334, 15),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn usd(v: i64) -> Quote {
        Quote(v * USD)
    }

    fn table(rows: &[(i64, i32, u32)]) -> MarginTiers {
        let specs: Vec<TierSpec> = rows
            .iter()
            .map(|&(f, m, l)| TierSpec::new(Quote(f), Ppm(m), l))
            .collect();
        MarginTiers::new(&specs).expect("valid test table")
    }

    /// Binance BTCUSDT brackets (announcement 2021-03-18), without Cascade's 1001x tier.
    fn binance_btcusdt_2021() -> MarginTiers {
        table(&[
            (0, 4_000, 125),
            (50_000 * USD, 5_000, 100),
            (250_000 * USD, 10_000, 50),
            (1_000_000 * USD, 25_000, 20),
            (10_000_000 * USD, 50_000, 10),
            (20_000_000 * USD, 100_000, 5),
            (50_000_000 * USD, 125_000, 4),
            (100_000_000 * USD, 150_000, 3),
            (200_000_000 * USD, 250_000, 2),
            (300_000_000 * USD, 500_000, 1),
        ])
    }

    /// RISK-REFERENCE §3 example 12 (Binance maintenance amount, COIN-M BTCUSD level 5):
    /// `50 BTC·(5% − 2.5%) + 0.56 BTC = 1.81 BTC`. The brackets are BTCUSD's before the 2021
    /// adjustment (0.40/0.50/1.00/2.50/5.00% at 0/10/20/30/50 BTC); quantums are satoshis.
    #[test]
    fn binance_tier_maintenance_example() {
        let btc = 100_000_000;
        let tiers = table(&[
            (0, 4_000, 125),
            (10 * btc, 5_000, 100),
            (20 * btc, 10_000, 50),
            (30 * btc, 25_000, 20),
            (50 * btc, 50_000, 10),
        ]);
        let deductions: Vec<i64> = tiers.tiers().iter().map(|t| t.deduction().get()).collect();
        // 0, 0.01, 0.11, 0.56, 1.81 BTC.
        assert_eq!(
            deductions,
            vec![0, 1_000_000, 11_000_000, 56_000_000, 181_000_000]
        );
        // 60 BTC of notional: 60·5% − 1.81 = 1.19 BTC.
        assert_eq!(
            tiers.maintenance_margin(Quote(60 * btc)),
            Ok(Quote(119_000_000))
        );
        assert_eq!(tiers.tier_index(Quote(60 * btc)), Ok(4));
        assert_eq!(tiers.max_leverage(Quote(60 * btc)), Ok(10));
    }

    /// Binance BTCUSDT 2021 brackets: the published "maintenance amount" column (0, 50, 1,300,
    /// 16,300, 266,300, 1,266,300, 2,516,300, 5,016,300, 25,016,300, 100,016,300 USDT) follows
    /// from the floors and rates.
    #[test]
    fn binance_btcusdt_cum_column() {
        let cums: Vec<i64> = binance_btcusdt_2021()
            .tiers()
            .iter()
            .map(|t| t.deduction().get() / USD)
            .collect();
        assert_eq!(
            cums,
            vec![
                0,
                50,
                1_300,
                16_300,
                266_300,
                1_266_300,
                2_516_300,
                5_016_300,
                25_016_300,
                100_016_300
            ]
        );
        // "125x, only on tier 1 (BTCUSDT ≤ 50k notional)": 50,000 exactly is still tier 1.
        let tiers = binance_btcusdt_2021();
        assert_eq!(tiers.max_leverage(usd(50_000)), Ok(125));
        assert_eq!(tiers.max_leverage(Quote(50_000 * USD + 1)), Ok(100));
    }

    /// Hyperliquid margin tiers (RISK-REFERENCE §2.2): `mmr = ½·(1/maxLev)` and
    /// `deduction(n) = deduction(n−1) + lowerBound(n)·(mmr(n) − mmr(n−1))`. BTC: 40x to 150M,
    /// 20x above, so the deduction of the second tier is 150M·1.25% = 1,875,000 USD.
    #[test]
    fn hyperliquid_tier_deduction_example() {
        let tiers = table(&[(0, 12_500, 40), (150_000_000 * USD, 25_000, 20)]);
        assert_eq!(tiers.tiers()[1].deduction(), usd(1_875_000));
        // 200M notional: 200M·2.5% − 1.875M = 3.125M.
        assert_eq!(
            tiers.maintenance_margin(usd(200_000_000)),
            Ok(usd(3_125_000))
        );
        // Continuous at the boundary: 150M·1.25% = 1.875M on both sides.
        assert_eq!(
            tiers.maintenance_margin(usd(150_000_000)),
            Ok(usd(1_875_000))
        );
    }

    /// BitMEX risk limits (RISK-REFERENCE §3 example 7): base MM 0.50%, so 180 XBT needs
    /// 0.90 XBT. Only the base step is reproducible: BitMEX applies a stepped rate to the whole
    /// position, which Cascade's continuous tiers deliberately do not.
    #[test]
    fn bitmex_base_risk_limit_maintenance_example() {
        let xbt = 100_000_000;
        let tiers = MarginTiers::flat(Ppm(5_000)).expect("valid");
        assert_eq!(
            tiers.maintenance_margin(Quote(180 * xbt)),
            Ok(Quote(90_000_000))
        );
    }

    #[test]
    fn embedded_tables_validate_and_offer_1001x_on_a_tiny_first_tier() {
        for tiers in [
            MarginTiers::binance_like_btc_perp(),
            MarginTiers::binance_like_eth_perp(),
            MarginTiers::hyperliquid_like_btc_perp(),
            MarginTiers::hyperliquid_like_eth_perp(),
        ] {
            assert_eq!(tiers.max_leverage(usd(1_000)), Ok(1001));
            assert!(tiers.max_leverage(usd(20_000)).expect("valid") <= 125);
        }
        // Binance-like BTC: above the 1001x tier every deduction is Binance's plus the constant
        // 10,000·(0.40% − 0.05%) = 35 USD from the extra first tier.
        let ours = MarginTiers::binance_like_btc_perp();
        let theirs = binance_btcusdt_2021();
        for (a, b) in ours.tiers()[1..].iter().zip(theirs.tiers()) {
            assert_eq!(a.deduction().get() - b.deduction().get(), 35 * USD);
        }
    }

    #[test]
    fn validation_names_the_broken_rule() {
        let err = |rows: &[TierSpec]| match MarginTiers::new(rows) {
            Err(RiskError::InvalidTiers(why)) => why,
            other => panic!("expected a tier error, got {other:?}"),
        };
        let row = |f: i64, m: i32, l: u32| TierSpec::new(Quote(f), Ppm(m), l);
        assert_eq!(err(&[]), "no tiers");
        assert_eq!(
            err(&[row(1, 100, 10)]),
            "the first notional floor must be 0"
        );
        assert_eq!(
            err(&[row(0, 100, 10), row(0, 200, 5)]),
            "notional floors must increase"
        );
        assert_eq!(
            err(&[row(0, 200, 10), row(5, 100, 5)]),
            "mmr must not decrease"
        );
        assert_eq!(
            err(&[row(0, 100, 10), row(5, 200, 20)]),
            "max leverage must not increase"
        );
        assert_eq!(err(&[row(0, 100, 0)]), "max leverage must be in 1..=1001");
        assert_eq!(
            err(&[row(0, 100, 1002)]),
            "max leverage must be in 1..=1001"
        );
        assert_eq!(err(&[row(0, 1_000_000, 1)]), "mmr must be in [0, 100%)");
        assert_eq!(err(&[row(0, -1, 1)]), "mmr must be in [0, 100%)");
        assert_eq!(
            err(&[row(0, 1_000, 1000)]),
            "mmr × max leverage must be below 100% (MM below IM at max leverage)"
        );
        let many = vec![row(0, 0, 1); TIERS_MAX + 1];
        assert_eq!(err(&many), "more than TIERS_MAX tiers");
        let ok = MarginTiers::new(&[row(0, 999, 1001)]).expect("999·1001 < 1e6");
        assert_eq!(ok.tiers().len(), 1);
    }

    #[test]
    fn initial_margin_rounds_up_and_checks_leverage() {
        assert_eq!(initial_margin(Quote(1001), 1001), Ok(Quote(1)));
        assert_eq!(initial_margin(Quote(1002), 1001), Ok(Quote(2)));
        assert_eq!(initial_margin(Quote(0), 10), Ok(Quote(0)));
        assert!(initial_margin(Quote(5), 0).is_err());
        assert!(initial_margin(Quote(-5), 2).is_err());
        let tiers = MarginTiers::binance_like_btc_perp();
        assert_eq!(
            tiers.initial_margin(usd(10_000), 1001),
            Ok(Quote(9_990_010))
        );
        assert_eq!(
            tiers.initial_margin(usd(60_000), 125),
            Err(RiskError::LeverageAboveMax {
                leverage: 125,
                leverage_max: 100
            })
        );
        assert!(tiers.maintenance_margin(Quote(-1)).is_err());
    }

    #[test]
    fn flat_leverage_is_the_highest_with_im_above_mm() {
        assert_eq!(leverage_max_for_mmr(Ppm(5_000)), Ok(199));
        assert_eq!(leverage_max_for_mmr(Ppm(4_000)), Ok(249));
        assert_eq!(leverage_max_for_mmr(Ppm(3_000)), Ok(333));
        assert_eq!(leverage_max_for_mmr(Ppm(500)), Ok(1001));
        assert_eq!(leverage_max_for_mmr(Ppm(0)), Ok(1001));
        assert_eq!(leverage_max_for_mmr(Ppm(999_999)), Ok(1));
        assert!(leverage_max_for_mmr(Ppm(1_000_000)).is_err());
    }

    /// Arbitrary valid tables: increasing floors, non-decreasing rates.
    fn arb_tiers() -> impl Strategy<Value = MarginTiers> {
        prop::collection::vec((1i64..1_000_000_000_000, 0i32..20_000), 1..8).prop_map(|steps| {
            let mut rows = Vec::new();
            let (mut floor, mut mmr) = (0i64, 0i32);
            for (i, (floor_step, mmr_step)) in steps.into_iter().enumerate() {
                if i > 0 {
                    floor += floor_step;
                }
                mmr += mmr_step;
                rows.push(TierSpec::new(Quote(floor), Ppm(mmr), 1));
            }
            MarginTiers::new(&rows).expect("constructed valid")
        })
    }

    proptest! {
        #[test]
        fn maintenance_margin_is_monotonic(
            tiers in arb_tiers(), a in 0i64..1_000_000_000_000_000, b in 0i64..1_000_000_000_000_000
        ) {
            let (lo, hi) = (a.min(b), a.max(b));
            let mm_lo = tiers.maintenance_margin(Quote(lo)).expect("valid");
            let mm_hi = tiers.maintenance_margin(Quote(hi)).expect("valid");
            prop_assert!(mm_lo <= mm_hi);
            // The rate never exceeds the top tier's: MM ≤ ceil(n·mmr_max).
            let mmr_max = i128::from(tiers.tiers().last().expect("non-empty").mmr().get());
            let bound = div_round(i128::from(hi) * mmr_max, PPM_ONE, Rounding::Ceil)
                .expect("fits");
            prop_assert!(i128::from(mm_hi.get()) <= bound);
        }

        #[test]
        fn maintenance_margin_is_continuous_at_every_floor(tiers in arb_tiers()) {
            for (i, tier) in tiers.tiers().iter().enumerate().skip(1) {
                let floor = tier.notional_floor();
                let below = &tiers.tiers()[i - 1];
                // At the floor, the lower tier's line and this tier's line agree exactly.
                let n = i128::from(floor.get());
                let lower_line = n * i128::from(below.mmr().get()) - below.deduction_scaled();
                let upper_line = n * i128::from(tier.mmr().get()) - tier.deduction_scaled();
                prop_assert_eq!(lower_line, upper_line);
                prop_assert_eq!(tiers.maintenance_margin_scaled(floor), Ok(lower_line));
                // One quantum either side moves MM by at most one quantum (mmr < 100%).
                let at = tiers.maintenance_margin(floor).expect("valid").get();
                let after = tiers.maintenance_margin(Quote(floor.get() + 1)).expect("valid").get();
                let before = tiers.maintenance_margin(Quote(floor.get() - 1)).expect("valid").get();
                prop_assert!((0..=1).contains(&(after - at)));
                prop_assert!((0..=1).contains(&(at - before)));
            }
        }

        #[test]
        fn maintenance_margin_rounds_up(tiers in arb_tiers(), n in 0i64..1_000_000_000_000_000) {
            let exact = tiers.maintenance_margin_scaled(Quote(n)).expect("valid");
            let mm = i128::from(tiers.maintenance_margin(Quote(n)).expect("valid").get());
            prop_assert!(mm * PPM_ONE >= exact);
            prop_assert!((mm - 1) * PPM_ONE < exact);
        }

        #[test]
        fn initial_margin_covers_the_notional(n in 0i64..i64::MAX, lev in 1u32..=1001) {
            let im = i128::from(initial_margin(Quote(n), lev).expect("valid").get());
            prop_assert!(im * i128::from(lev) >= i128::from(n));
            prop_assert!((im - 1) * i128::from(lev) < i128::from(n));
        }
    }
}
