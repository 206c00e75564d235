//! Per-market risk parameters: margin tiers, fees, the liquidation waterfall, funding and mark.
//!
//! A market without risk parameters is a *matching-only* market: orders, fills and positions,
//! but no money moves (no margin, fees, PnL or liquidation). Benchmarks of the bare matching
//! core use those. Every choice here, and the venue it follows, is written up in
//! `docs/RISK.md`.

use crate::reject::Reject;
use cascade_risk::margin::{MarginTiers, TierSpec, LEVERAGE_MAX};
use cascade_risk::{Ppm, Quote};

/// How auto-deleveraging picks counterparties.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum AdlPolicy {
    /// Opposite positions ranked by PnL% × effective leverage (PnL% / leverage when losing),
    /// ties by account id, each closed in full before the next (BitMEX, Binance, Hyperliquid).
    Queue,
    /// Every opposite position gives up the same fraction of its size (rounded down, the
    /// remainder taken in ranking order): a haircut shared by all, as risk researchers propose.
    ProRata,
    /// No auto-deleveraging: what the insurance fund cannot cover stays as bad debt.
    Off,
}

/// Where the mark price comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum MarkSource {
    /// Median of (index + smoothed basis, median(bid, ask, last), external mark), as
    /// Hyperliquid and Binance.
    Median,
    /// The index (oracle) price itself, as dYdX v4.
    Index,
}

/// Which price a funding payment's notional uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum FundingNotional {
    /// The index (oracle) price, as Hyperliquid and dYdX.
    Index,
    /// The mark price, as Binance.
    Mark,
}

/// The risk configuration of one market.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RiskParams {
    /// Maintenance margin tiers with deductions, and maximum leverage per tier.
    pub tiers: MarginTiers,
    /// Maker fee; negative is a rebate.
    pub fee_ppm_maker: i32,
    /// Taker fee.
    pub fee_ppm_taker: i32,
    /// Liquidation fee on the notional of book liquidation fills, capped at the surplus above
    /// the bankruptcy price (dYdX), paid to the insurance fund.
    pub liquidation_fee_ppm: u32,
    /// Positions whose notional is above this are liquidated through the book in slices.
    pub slice_notional_min: Quote,
    /// Fraction of the position one slice closes.
    pub slice_ppm: u32,
    /// Time between slices.
    pub cooldown_ns: u64,
    /// The backstop vault takes the position over when equity falls below this fraction of
    /// maintenance margin (Hyperliquid: two thirds). 0 turns the backstop off.
    pub backstop_ppm: u32,
    /// How far past the bankruptcy price (as a fraction of the mark) an insurance-fund-backed
    /// liquidation order may fill; the fund pays the difference.
    pub insurance_slippage_ppm: u32,
    /// Auto-deleveraging policy.
    pub adl: AdlPolicy,
    /// How often the sequencer sends a `FundingTick` for this market (8 h at Binance, 1 h at
    /// Hyperliquid and dYdX). The rates below are per interval.
    pub funding_interval_ns: u64,
    /// Funding interest rate per funding interval, in parts per billion (0.01% = 100_000).
    pub funding_interest_ppb: i64,
    /// Clamp on `interest − premium` (0.05% = 500_000 ppb).
    pub funding_clamp_ppb: i64,
    /// Cap on the absolute funding rate per interval.
    pub funding_cap_ppb: i64,
    /// Notional whose average fill price defines the impact bid and ask.
    pub funding_impact_notional: Quote,
    /// Price used for the payment notional.
    pub funding_notional: FundingNotional,
    /// Where the mark comes from.
    pub mark_source: MarkSource,
    /// Weight of each new basis sample in the mark's smoothed basis.
    pub mark_basis_ppm: u32,
    /// Largest mark move per index update (0: no clamp).
    pub mark_clamp_ppm: u32,
    /// Largest absolute position, in lots.
    pub position_lots_max: i64,
}

impl RiskParams {
    /// Checks the parameters.
    ///
    /// # Errors
    /// [`Reject::InvalidRiskParams`].
    pub fn validate(&self) -> Result<(), Reject> {
        let ok = self.fee_ppm_taker >= 0
            && self.fee_ppm_taker <= 100_000
            && self.fee_ppm_maker <= self.fee_ppm_taker
            // A maker rebate is paid out of the taker fee of the same fill.
            && self.fee_ppm_maker.checked_neg().is_some_and(|r| r <= self.fee_ppm_taker)
            && self.liquidation_fee_ppm <= 100_000
            && self.slice_notional_min.0 >= 0
            && self.slice_ppm > 0
            && self.slice_ppm <= 1_000_000
            && self.backstop_ppm <= 1_000_000
            && self.insurance_slippage_ppm < 1_000_000
            && self.funding_clamp_ppb >= 0
            && self.funding_cap_ppb >= 0
            && self.funding_impact_notional.0 > 0
            && self.mark_basis_ppm <= 1_000_000
            && self.mark_clamp_ppm < 1_000_000
            && self.position_lots_max > 0
            && self.funding_interval_ns > 0
            // A 0% maintenance tier would never liquidate: the waterfall runs on
            // `equity ≤ maintenance` with maintenance above zero, so a bankrupt position in it
            // would keep its negative equity. Rates never fall with size, so the first decides.
            && self.tiers.tiers().first().is_some_and(|t| t.mmr().get() > 0);
        if ok {
            Ok(())
        } else {
            Err(Reject::InvalidRiskParams)
        }
    }

    /// The first tier's maximum leverage: the most any position in this market can have.
    #[must_use]
    pub fn leverage_max(&self) -> u32 {
        self.tiers.tiers().first().map_or(1, |t| t.leverage_max())
    }

    /// Defaults shared by the presets: Hyperliquid-like liquidation (20% slices above 100k USD,
    /// 30 s cooldown, backstop below two thirds of maintenance), Binance-like fees and funding.
    fn venue_defaults(tiers: MarginTiers, position_lots_max: i64) -> Self {
        Self {
            tiers,
            fee_ppm_maker: 200,
            fee_ppm_taker: 500,
            liquidation_fee_ppm: 5_000,
            // 100,000 USD at 1e-6 USD per quantum.
            slice_notional_min: Quote(100_000_000_000),
            slice_ppm: 200_000,
            cooldown_ns: 30_000_000_000,
            backstop_ppm: 666_667,
            insurance_slippage_ppm: 20_000,
            adl: AdlPolicy::Queue,
            funding_interval_ns: 8 * 3_600 * 1_000_000_000,
            funding_interest_ppb: 100_000,
            funding_clamp_ppb: 500_000,
            funding_cap_ppb: 30_000_000,
            // 10,000 USD.
            funding_impact_notional: Quote(10_000_000_000),
            funding_notional: FundingNotional::Mark,
            mark_source: MarkSource::Median,
            mark_basis_ppm: 100_000,
            mark_clamp_ppm: 0,
            position_lots_max,
        }
    }

    /// BTC-PERP: tiers from 1001x on the first 10,000 USD up to 20x above 5M USD (a 1001x
    /// first tier as the 1001x venues offer, then Binance-like brackets). Quote quantum 1e-6 USD.
    #[must_use]
    pub fn btc_perp() -> Self {
        Self::venue_defaults(btc_tiers(), 100_000_000)
    }

    /// ETH-PERP: as BTC-PERP with a 500x first tier.
    #[must_use]
    pub fn eth_perp() -> Self {
        Self::venue_defaults(eth_tiers(), 100_000_000)
    }

    /// A plain market for tests: one flat tier of `mmr_ppm` up to `leverage_max`, no fees, no
    /// slicing, backstop off, queue ADL.
    ///
    /// # Panics
    /// If the rate and leverage are not a valid tier (a test bug, not input).
    #[must_use]
    pub fn simple(mmr_ppm: i32, leverage_max: u32) -> Self {
        let tiers = MarginTiers::new(&[TierSpec::new(Quote(0), Ppm(mmr_ppm), leverage_max)])
            .expect("a valid single tier");
        let mut p = Self::venue_defaults(tiers, 1_000_000_000);
        p.fee_ppm_maker = 0;
        p.fee_ppm_taker = 0;
        p.liquidation_fee_ppm = 0;
        p.slice_notional_min = Quote(i64::MAX);
        p.backstop_ppm = 0;
        p.funding_impact_notional = Quote(1);
        p
    }
}

fn usd(x: i64) -> Quote {
    Quote(x * 1_000_000)
}

fn btc_tiers() -> MarginTiers {
    // mmr × max leverage stays below 100% in every row (the validation rule), and the rate
    // at 1001x (0.05%) is half the initial margin (0.0999%), as Hyperliquid sets MMR = IM/2.
    MarginTiers::new(&[
        TierSpec::new(usd(0), Ppm(500), LEVERAGE_MAX),
        TierSpec::new(usd(10_000), Ppm(4_000), 125),
        TierSpec::new(usd(50_000), Ppm(5_000), 100),
        TierSpec::new(usd(250_000), Ppm(10_000), 50),
        TierSpec::new(usd(1_000_000), Ppm(25_000), 20),
        TierSpec::new(usd(5_000_000), Ppm(50_000), 10),
    ])
    .expect("the embedded BTC-PERP tiers are valid")
}

fn eth_tiers() -> MarginTiers {
    MarginTiers::new(&[
        TierSpec::new(usd(0), Ppm(1_000), 500),
        TierSpec::new(usd(10_000), Ppm(5_000), 100),
        TierSpec::new(usd(100_000), Ppm(6_500), 75),
        TierSpec::new(usd(500_000), Ppm(10_000), 50),
        TierSpec::new(usd(1_000_000), Ppm(20_000), 25),
        TierSpec::new(usd(5_000_000), Ppm(50_000), 10),
    ])
    .expect("the embedded ETH-PERP tiers are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_validate() {
        assert_eq!(RiskParams::btc_perp().validate(), Ok(()));
        assert_eq!(RiskParams::eth_perp().validate(), Ok(()));
        assert_eq!(RiskParams::simple(10_000, 50).validate(), Ok(()));
        assert_eq!(RiskParams::btc_perp().leverage_max(), 1001);
    }

    #[test]
    fn rebate_larger_than_taker_fee_is_refused() {
        let mut p = RiskParams::simple(10_000, 50);
        p.fee_ppm_taker = 100;
        p.fee_ppm_maker = -200;
        assert_eq!(p.validate(), Err(Reject::InvalidRiskParams));
    }
}
