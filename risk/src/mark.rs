//! The mark price: a median of three estimates, smoothed and clamped.
//!
//! # Formula (Hyperliquid's, with Binance's smoothed basis)
//! `mark = median(index + smoothed basis, median(best bid, best ask, last trade), external mark)`
//! - the smoothed basis is an integer EMA of `(best bid + best ask)/2 − index` ([`BasisEma`]),
//!   Binance's `P2 = index + MA(basis)` and Hyperliquid's `oracle + EMA(mid − oracle)`;
//! - the book estimate is the median of whichever of bid, ask and last trade exist;
//! - the external mark (for example the median of other venues' perp mids) is optional.
//!
//! A median of two values is their mean; of one, the value itself. Hyperliquid adds a fourth
//! input when only two exist; Cascade takes the mean instead (documented in `docs/RISK.md`).
//!
//! Each update may then move the mark at most `clamp` (ppm) away from the previous mark, as the
//! HIP-3 deployers do (±50 bps or ±1% per update): a thin book cannot push the mark past many
//! liquidation prices in one step.
//!
//! # Units
//! Prices are ticks. Intermediate values are in sub-ticks of [`SUBTICKS_PER_TICK`] so averaging
//! and smoothing lose nothing that matters.
//!
//! # Rounding
//! The mark is not a payment, so it rounds to the nearest sub-tick or tick with ties to even:
//! neutral between longs and shorts, and deterministic. The clamp bounds round inward.

use crate::error::{checked, to_i64, RiskError};
use crate::num::{div_round, Ppm, Price, Rounding};

/// Sub-ticks per tick for the basis and for averaging.
pub const SUBTICKS_PER_TICK: i128 = 1_000_000;

const PPM_ONE: i128 = 1_000_000;

/// Divides rounding to the nearest integer, ties to even. `None` on a zero divisor or overflow.
fn div_nearest_even(numerator: i128, denominator: i128) -> Option<i128> {
    let floor = div_round(numerator, denominator, Rounding::Floor)?;
    // 0 ≤ remainder < |denominator| after flooring (sign of the denominator folded in).
    let remainder = numerator.checked_sub(floor.checked_mul(denominator)?)?;
    let (remainder, divisor) = if denominator < 0 {
        (remainder.checked_neg()?, denominator.checked_neg()?)
    } else {
        (remainder, denominator)
    };
    let twice = remainder.checked_mul(2)?;
    let round_up = twice > divisor || (twice == divisor && floor % 2 != 0);
    if round_up {
        floor.checked_add(1)
    } else {
        Some(floor)
    }
}

/// An exponential moving average of the basis `mid − index`, in sub-ticks.
///
/// # Invariants
/// Unseeded until the first sample, which it then equals. Each later sample moves it by
/// `alpha·(sample − ema)`, rounded to the nearest sub-tick (ties to even).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct BasisEma {
    basis_subticks: i128,
    samples: u64,
}

impl BasisEma {
    /// An unseeded average (basis 0 until the first sample).
    #[must_use]
    pub const fn new() -> Self {
        Self {
            basis_subticks: 0,
            samples: 0,
        }
    }

    /// The smoothed basis in sub-ticks (0 before the first sample).
    #[must_use]
    pub const fn basis_subticks(&self) -> i128 {
        self.basis_subticks
    }

    /// Samples taken so far.
    #[must_use]
    pub const fn samples(&self) -> u64 {
        self.samples
    }

    /// The average after one more sample of `(best_bid + best_ask)/2 − index`.
    ///
    /// # Rounding
    /// As [`Self::updated_with_sample`]; the mid itself is exact in sub-ticks.
    ///
    /// # Errors
    /// [`RiskError::InvalidInput`] when a price is not positive or the book is crossed; as
    /// [`Self::updated_with_sample`] otherwise.
    pub fn updated(
        self,
        index: Price,
        best_bid: Price,
        best_ask: Price,
        alpha: Ppm,
    ) -> Result<Self, RiskError> {
        if index.get() <= 0 || best_bid.get() <= 0 || best_ask.get() <= 0 {
            return Err(RiskError::InvalidInput("prices must be positive"));
        }
        if best_bid > best_ask {
            return Err(RiskError::InvalidInput("best bid is above best ask"));
        }
        // Prices < 2^63 and SUBTICKS_PER_TICK < 2^20: every term is < 2^84.
        let mid = (i128::from(best_bid.get()) + i128::from(best_ask.get())) * SUBTICKS_PER_TICK / 2;
        let sample = mid - i128::from(index.get()) * SUBTICKS_PER_TICK;
        self.updated_with_sample(sample, alpha)
    }

    /// The average after one more sample (in sub-ticks), with weight `alpha` per sample
    /// (`alpha = 1e6` keeps only the latest sample).
    ///
    /// # Rounding
    /// The step `alpha·(sample − ema)/1e6` rounds to the nearest sub-tick, ties to even.
    ///
    /// # Errors
    /// [`RiskError::InvalidInput`] when `alpha` is outside `1..=1e6` ppm;
    /// [`RiskError::Overflow`] when the sample is beyond ±2^100 sub-ticks.
    pub fn updated_with_sample(self, sample_subticks: i128, alpha: Ppm) -> Result<Self, RiskError> {
        let alpha = i128::from(alpha.get());
        if !(1..=PPM_ONE).contains(&alpha) {
            return Err(RiskError::InvalidInput("alpha must be in (0, 100%]"));
        }
        if sample_subticks.unsigned_abs() > 1 << 100 {
            return Err(RiskError::Overflow);
        }
        let samples = self.samples.saturating_add(1);
        if self.samples == 0 {
            return Ok(Self {
                basis_subticks: sample_subticks,
                samples,
            });
        }
        // Both values are ≤ 2^100 in magnitude: the difference is < 2^101 and × alpha < 2^121.
        let step = checked(div_nearest_even(
            (sample_subticks - self.basis_subticks) * alpha,
            PPM_ONE,
        ))?;
        let basis_subticks = self.basis_subticks + step;
        // The EMA moves toward the sample and never past it.
        assert!(
            (basis_subticks - self.basis_subticks) * (sample_subticks - basis_subticks) >= 0,
            "invariant: the EMA step stays between the old value and the sample"
        );
        Ok(Self {
            basis_subticks,
            samples,
        })
    }
}

/// The inputs of one mark-price update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MarkInputs {
    /// Index (oracle) price in ticks.
    pub index: Price,
    /// Smoothed basis in sub-ticks ([`BasisEma::basis_subticks`]).
    pub basis_subticks: i128,
    /// Best bid on the book, if any.
    pub best_bid: Option<Price>,
    /// Best ask on the book, if any.
    pub best_ask: Option<Price>,
    /// Last trade price, if any.
    pub last_trade: Option<Price>,
    /// External perp mark (other venues), when supplied.
    pub external_mark: Option<Price>,
}

/// Median of up to three values as `numerator / denominator` (a mean for two values).
fn median(values: &[i128]) -> Option<(i128, i128)> {
    let mut sorted = [0i128; 3];
    let count = values.len().min(3);
    sorted[..count].copy_from_slice(&values[..count]);
    let sorted = &mut sorted[..count];
    sorted.sort_unstable();
    match sorted {
        [] => None,
        [only] => Some((*only, 1)),
        [low, high] => Some((*low + *high, 2)),
        [_, middle, _] => Some((*middle, 1)),
        _ => unreachable!("at most three values"),
    }
}

/// The mark price: the median of (index + smoothed basis, the book's median of bid/ask/last,
/// the external mark), then clamped to `previous ± clamp` when both are given.
///
/// # Rounding
/// The median is computed in sub-ticks and rounded once to the nearest tick, ties to even. The
/// clamp band is `[ceil(previous·(1 − clamp)), floor(previous·(1 + clamp))]`, rounded inward.
/// The result is at least one tick.
///
/// # Errors
/// [`RiskError::InvalidInput`] when a price is not positive, the book is crossed, or `clamp` is
/// negative; [`RiskError::Overflow`] when the result does not fit.
pub fn mark_price(
    inputs: &MarkInputs,
    previous: Option<Price>,
    clamp: Option<Ppm>,
) -> Result<Price, RiskError> {
    let prices = [
        Some(inputs.index),
        inputs.best_bid,
        inputs.best_ask,
        inputs.last_trade,
        inputs.external_mark,
        previous,
    ];
    if prices.iter().flatten().any(|p| p.get() <= 0) {
        return Err(RiskError::InvalidInput("prices must be positive"));
    }
    if let (Some(bid), Some(ask)) = (inputs.best_bid, inputs.best_ask) {
        if bid > ask {
            return Err(RiskError::InvalidInput("best bid is above best ask"));
        }
    }
    let sub = |p: Price| i128::from(p.get()) * SUBTICKS_PER_TICK;
    if inputs.basis_subticks.unsigned_abs() > 1 << 100 {
        return Err(RiskError::Overflow);
    }
    let smoothed = sub(inputs.index) + inputs.basis_subticks;
    // Fixed arrays, not vectors: a mark update allocates nothing.
    let mut book = [0i128; 3];
    let mut book_count = 0;
    for price in [inputs.best_bid, inputs.best_ask, inputs.last_trade]
        .into_iter()
        .flatten()
    {
        book[book_count] = sub(price);
        book_count += 1;
    }
    let mut candidates = [smoothed, 0, 0];
    let mut count = 1;
    if let Some((numerator, denominator)) = median(&book[..book_count]) {
        // The book median of two values is their mean, rounded to the nearest sub-tick.
        candidates[count] = checked(div_nearest_even(numerator, denominator))?;
        count += 1;
    }
    if let Some(external) = inputs.external_mark {
        candidates[count] = sub(external);
        count += 1;
    }
    let (numerator, denominator) =
        median(&candidates[..count]).expect("invariant: at least the index");
    let ticks = checked(div_nearest_even(numerator, denominator * SUBTICKS_PER_TICK))?;
    let mut mark = ticks.max(1);
    if let (Some(previous), Some(clamp)) = (previous, clamp) {
        let (low, high) = clamp_band(previous, clamp)?;
        mark = mark.clamp(i128::from(low.get()), i128::from(high.get()));
    }
    Ok(Price(to_i64(mark)?))
}

/// The band `[ceil(previous·(1 − clamp)), floor(previous·(1 + clamp))]` a mark update may move
/// within, never below one tick.
///
/// # Rounding
/// Inward: the lower bound up, the upper bound down. The band always contains `previous`.
///
/// # Errors
/// [`RiskError::InvalidInput`] when `previous` is not positive or `clamp` is negative;
/// [`RiskError::Overflow`] when the upper bound does not fit.
pub fn clamp_band(previous: Price, clamp: Ppm) -> Result<(Price, Price), RiskError> {
    if previous.get() <= 0 {
        return Err(RiskError::InvalidInput("previous mark must be positive"));
    }
    let clamp = i128::from(clamp.get());
    if clamp < 0 {
        return Err(RiskError::InvalidInput("clamp must not be negative"));
    }
    let p = i128::from(previous.get());
    let low = checked(div_round(p * (PPM_ONE - clamp), PPM_ONE, Rounding::Ceil))?.max(1);
    let high = checked(div_round(p * (PPM_ONE + clamp), PPM_ONE, Rounding::Floor))?;
    let high = Price(to_i64(high)?);
    let low = Price(to_i64(low.min(p))?);
    assert!(
        low <= previous,
        "invariant: the band contains the previous mark"
    );
    assert!(
        previous <= high,
        "invariant: the band contains the previous mark"
    );
    Ok((low, high))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn inputs(index: i64) -> MarkInputs {
        MarkInputs {
            index: Price(index),
            basis_subticks: 0,
            best_bid: None,
            best_ask: None,
            last_trade: None,
            external_mark: None,
        }
    }

    #[test]
    fn nearest_even_rounding() {
        assert_eq!(div_nearest_even(5, 2), Some(2));
        assert_eq!(div_nearest_even(7, 2), Some(4));
        assert_eq!(div_nearest_even(-5, 2), Some(-2));
        assert_eq!(div_nearest_even(-7, 2), Some(-4));
        assert_eq!(div_nearest_even(10, 3), Some(3));
        assert_eq!(div_nearest_even(11, 3), Some(4));
        assert_eq!(div_nearest_even(-11, 3), Some(-4));
        assert_eq!(div_nearest_even(5, -2), Some(-2));
        assert_eq!(div_nearest_even(1, 0), None);
    }

    /// Hyperliquid mark (RISK-REFERENCE §2.1): the median of (oracle + EMA(mid − oracle),
    /// median(bid, ask, last), CEX perp mids).
    #[test]
    fn hyperliquid_mark_is_the_median_of_three() {
        let mut m = inputs(10_000);
        m.basis_subticks = 5 * SUBTICKS_PER_TICK; // oracle + basis = 10,005
        m.best_bid = Some(Price(10_010));
        m.best_ask = Some(Price(10_012));
        m.last_trade = Some(Price(10_050)); // book median = 10,012
        m.external_mark = Some(Price(10_008));
        assert_eq!(mark_price(&m, None, None), Ok(Price(10_008)));
        // Without the external mark: mean of 10,005 and 10,012 = 10,008.5 → 10,008 (even).
        m.external_mark = None;
        assert_eq!(mark_price(&m, None, None), Ok(Price(10_008)));
        // Only the index and basis.
        let mut m = inputs(10_000);
        m.basis_subticks = -SUBTICKS_PER_TICK / 2 - 1; // 9,999.499999 → 9,999
        assert_eq!(mark_price(&m, None, None), Ok(Price(9_999)));
    }

    /// A manipulated last trade alone cannot move the mark: it is one of three book inputs and
    /// the book is one of three estimates.
    #[test]
    fn one_bad_print_does_not_move_the_mark() {
        let mut m = inputs(50_000);
        m.best_bid = Some(Price(49_999));
        m.best_ask = Some(Price(50_001));
        m.last_trade = Some(Price(1));
        m.external_mark = Some(Price(50_000));
        assert_eq!(mark_price(&m, None, None), Ok(Price(50_000)));
    }

    /// HIP-3 guardrail (trade.xyz ±50 bps per update, RISK-REFERENCE §2.1).
    #[test]
    fn clamp_limits_each_update() {
        let mut m = inputs(11_000);
        m.external_mark = Some(Price(11_000));
        assert_eq!(
            mark_price(&m, Some(Price(10_000)), Some(Ppm(5_000))),
            Ok(Price(10_050))
        );
        let m = inputs(9_000);
        assert_eq!(
            mark_price(&m, Some(Price(10_000)), Some(Ppm(5_000))),
            Ok(Price(9_950))
        );
        // Bounds round inward: 101·(1 ± 0.5%) = [100.495, 101.505] → [101, 101].
        assert_eq!(
            clamp_band(Price(101), Ppm(5_000)),
            Ok((Price(101), Price(101)))
        );
        assert_eq!(
            clamp_band(Price(1), Ppm(1_000_000)),
            Ok((Price(1), Price(2)))
        );
    }

    #[test]
    fn ema_seeds_then_smooths() {
        let ema = BasisEma::new();
        let ema = ema
            .updated(Price(100), Price(101), Price(103), Ppm(100_000))
            .expect("valid");
        // First sample: mid 102 − index 100 = 2 ticks.
        assert_eq!(ema.basis_subticks(), 2 * SUBTICKS_PER_TICK);
        let ema = ema
            .updated(Price(100), Price(99), Price(101), Ppm(100_000))
            .expect("valid");
        // 2 + 10%·(0 − 2) = 1.8 ticks.
        assert_eq!(ema.basis_subticks(), 1_800_000);
        assert_eq!(ema.samples(), 2);
        assert!(ema
            .updated(Price(100), Price(102), Price(101), Ppm(1))
            .is_err());
        assert!(ema.updated_with_sample(0, Ppm(0)).is_err());
        assert!(ema.updated_with_sample(i128::MAX, Ppm(1)).is_err());
    }

    #[test]
    fn invalid_inputs_are_rejected() {
        let mut m = inputs(100);
        m.best_bid = Some(Price(101));
        m.best_ask = Some(Price(100));
        assert!(mark_price(&m, None, None).is_err());
        assert!(mark_price(&inputs(0), None, None).is_err());
        assert!(mark_price(&inputs(10), Some(Price(10)), Some(Ppm(-1))).is_err());
    }

    proptest! {
        #[test]
        fn ema_converges_to_a_constant_sample(
            start in -1_000_000_000i128..1_000_000_000, target in -1_000_000_000i128..1_000_000_000,
            alpha in 1_000i32..=1_000_000
        ) {
            let mut ema = BasisEma::new().updated_with_sample(start, Ppm(alpha)).expect("valid");
            let mut last_gap = (ema.basis_subticks() - target).abs();
            for _ in 0..50 {
                ema = ema.updated_with_sample(target, Ppm(alpha)).expect("valid");
                let gap = (ema.basis_subticks() - target).abs();
                prop_assert!(gap <= last_gap);
                last_gap = gap;
            }
        }

        #[test]
        fn mark_lies_within_its_inputs_and_band(
            index in 1i64..1_000_000, bid in 1i64..1_000_000, spread in 0i64..1_000,
            last in 1i64..1_000_000, external in proptest::option::of(1i64..1_000_000),
            basis in -1_000_000_000i128..1_000_000_000,
            previous in 1i64..1_000_000, clamp in 0i32..100_000
        ) {
            let m = MarkInputs {
                index: Price(index),
                basis_subticks: basis,
                best_bid: Some(Price(bid)),
                best_ask: Some(Price(bid + spread)),
                last_trade: Some(Price(last)),
                external_mark: external.map(Price),
            };
            let free = mark_price(&m, None, None).expect("valid").get();
            let smoothed = (i128::from(index) * SUBTICKS_PER_TICK + basis) / SUBTICKS_PER_TICK;
            let mut lo = i128::from(bid.min(last)).min(smoothed - 1);
            let mut hi = i128::from((bid + spread).max(last)).max(smoothed + 1);
            if let Some(e) = external {
                lo = lo.min(i128::from(e));
                hi = hi.max(i128::from(e));
            }
            prop_assert!(i128::from(free) >= lo.max(1) && i128::from(free) <= hi);
            let clamped = mark_price(&m, Some(Price(previous)), Some(Ppm(clamp))).expect("valid");
            let (low, high) = clamp_band(Price(previous), Ppm(clamp)).expect("valid");
            prop_assert!(low <= clamped && clamped <= high);
        }
    }
}
