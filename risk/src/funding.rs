//! Funding: premium, rate, interval scaling, cap, and exact settlement with dust.
//!
//! # Formula (Binance, Bybit, BitMEX, Hyperliquid)
//! - `P = (max(0, impact_bid − index) − max(0, index − impact_ask)) / index`, sampled and
//!   averaged over the funding period ([`premium`], [`average_premium`]);
//! - `F = P̄ + clamp(I − P̄, −0.05%, +0.05%)` per base interval (8 h), with interest `I`
//!   (0.01% per 8 h at every venue listed in RISK-REFERENCE.md);
//! - scaled to the settlement interval, `F·interval/base` (Binance `F/(8/N)`, Hyperliquid pays
//!   hourly at ⅛ of the 8 h rate), then capped (Hyperliquid 4%/h, Binance a per-symbol cap).
//!
//! A positive rate means longs pay shorts.
//!
//! # Units
//! Rates are [`FundingRate`]s: signed parts per billion (1e-9). Hyperliquid's hourly rate
//! 0.11875% is 1,187,500 ppb; in ppm it would be 1,187.5 and lose the half.
//! [`FundingIndex`] uses the same 1e9 scale per lot, so `Δindex = price·quote_per_tick_lot·rate`
//! exactly.
//!
//! # Rounding
//! Every payment is rounded against the account: the signed change to the account's balance
//! `−size·price·quote_per_tick_lot·rate / 1e9` is floored, so a payer pays up and a receiver
//! receives down. Because long and short open interest are equal, the exact payments sum to zero,
//! so the rounded ones sum to at most zero: payers pay at least what receivers get, and the
//! difference (the dust, less than one quantum per position) goes to the insurance fund.
//! Premiums and rates round toward zero, so mirrored books give mirrored rates.

use crate::error::{checked, to_i64, RiskError};
use crate::num::{div_round, FundingIndex, PositionSize, Price, Qty, Quote, Rounding};

/// A funding or premium rate in signed parts per billion (1e-9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FundingRate(pub i64);

impl FundingRate {
    /// Parts per billion in one whole (100%).
    pub const SCALE: i64 = 1_000_000_000;
    /// Zero.
    pub const ZERO: Self = Self(0);

    /// The raw value in parts per billion.
    #[must_use]
    pub const fn get(self) -> i64 {
        self.0
    }

    /// A rate from parts per million (exact: 1 ppm = 1,000 ppb).
    #[must_use]
    pub const fn from_ppm(ppm: i32) -> Self {
        // |ppm| < 2^31, × 1,000 < 2^41: no overflow.
        Self(ppm as i64 * 1_000)
    }
}

// The funding index and the rate share a scale, so an index delta is an exact product.
const _: () = assert!(FundingIndex::SCALE == FundingRate::SCALE as i128);

const SCALE: i128 = FundingRate::SCALE as i128;

/// Rounds toward zero.
fn div_toward_zero(numerator: i128, denominator: i128) -> Option<i128> {
    let negative = (numerator < 0) != (denominator < 0);
    let rounding = if negative {
        Rounding::Ceil
    } else {
        Rounding::Floor
    };
    div_round(numerator, denominator, rounding)
}

/// Funding parameters of a market.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FundingParams {
    /// Interest rate `I` per base interval.
    pub interest: FundingRate,
    /// Bound on `I − P̄` (0.05% at every venue listed).
    pub premium_clamp: FundingRate,
    /// Bound on the absolute rate per settlement interval.
    pub cap: FundingRate,
    /// Interval the formula is stated for, in seconds (8 h).
    pub base_interval_secs: u32,
    /// Interval between settlements, in seconds.
    pub interval_secs: u32,
}

impl FundingParams {
    /// Hyperliquid: 0.01% per 8 h interest, ±0.05% clamp, paid hourly at ⅛ of the 8 h rate,
    /// capped at 4% per hour.
    #[must_use]
    pub const fn hyperliquid() -> Self {
        Self {
            interest: FundingRate(100_000),
            premium_clamp: FundingRate(500_000),
            cap: FundingRate(40_000_000),
            base_interval_secs: 8 * 3_600,
            interval_secs: 3_600,
        }
    }

    /// Binance (default 8 h interval): 0.01% interest, ±0.05% clamp, and a per-symbol cap; the
    /// ±3% given as an example in RISK-REFERENCE.md is used here.
    #[must_use]
    pub const fn binance() -> Self {
        Self {
            interest: FundingRate(100_000),
            premium_clamp: FundingRate(500_000),
            cap: FundingRate(30_000_000),
            base_interval_secs: 8 * 3_600,
            interval_secs: 8 * 3_600,
        }
    }

    /// The rate charged per settlement interval for an average premium `P̄`:
    /// `cap(scale(P̄ + clamp(I − P̄, ±clamp)))`.
    ///
    /// # Rounding
    /// Toward zero in the interval scaling ([`rate_for_interval`]); the rest is exact.
    ///
    /// # Errors
    /// [`RiskError::InvalidInput`] for a negative clamp or cap or a zero base interval;
    /// [`RiskError::Overflow`] when a rate does not fit.
    pub fn interval_rate(&self, average_premium: FundingRate) -> Result<FundingRate, RiskError> {
        if self.premium_clamp.get() < 0 || self.cap.get() < 0 {
            return Err(RiskError::InvalidInput(
                "clamp and cap must not be negative",
            ));
        }
        let base = funding_rate(average_premium, self.interest, self.premium_clamp)?;
        let scaled = rate_for_interval(base, self.interval_secs, self.base_interval_secs)?;
        Ok(FundingRate(
            scaled.get().clamp(-self.cap.get(), self.cap.get()),
        ))
    }
}

/// Premium index `(max(0, impact_bid − index) − max(0, index − impact_ask)) / index`.
///
/// # Rounding
/// Toward zero, to the part per billion.
///
/// # Errors
/// [`RiskError::InvalidInput`] when a price is not positive or `impact_bid > impact_ask`.
pub fn premium(
    impact_bid: Price,
    impact_ask: Price,
    index: Price,
) -> Result<FundingRate, RiskError> {
    if impact_bid.get() <= 0 || impact_ask.get() <= 0 || index.get() <= 0 {
        return Err(RiskError::InvalidInput("prices must be positive"));
    }
    if impact_bid > impact_ask {
        return Err(RiskError::InvalidInput("impact bid is above impact ask"));
    }
    let (bid, ask, idx) = (
        i128::from(impact_bid.get()),
        i128::from(impact_ask.get()),
        i128::from(index.get()),
    );
    // At most one of the two terms is non-zero because bid ≤ ask.
    let difference = (bid - idx).max(0) - (idx - ask).max(0);
    let rate = checked(div_toward_zero(difference * SCALE, idx))?;
    Ok(FundingRate(to_i64(rate)?))
}

/// Mean of premium samples (Binance and Hyperliquid average equally spaced samples).
///
/// # Rounding
/// Toward zero.
///
/// # Errors
/// [`RiskError::InvalidInput`] when there are no samples.
pub fn average_premium(samples: &[FundingRate]) -> Result<FundingRate, RiskError> {
    if samples.is_empty() {
        return Err(RiskError::InvalidInput("no premium samples"));
    }
    // Each sample is < 2^63 and there are < 2^64 of them: the sum is < 2^127.
    let sum: i128 = samples.iter().map(|s| i128::from(s.get())).sum();
    let count = checked(i128::try_from(samples.len()).ok())?;
    let mean = checked(div_toward_zero(sum, count))?;
    Ok(FundingRate(to_i64(mean)?))
}

/// `F = P̄ + clamp(I − P̄, −clamp, +clamp)`.
///
/// # Rounding
/// None: exact.
///
/// # Errors
/// [`RiskError::InvalidInput`] for a negative clamp; [`RiskError::Overflow`] when `F` does
/// not fit.
pub fn funding_rate(
    average_premium: FundingRate,
    interest: FundingRate,
    clamp: FundingRate,
) -> Result<FundingRate, RiskError> {
    if clamp.get() < 0 {
        return Err(RiskError::InvalidInput("clamp must not be negative"));
    }
    let p = i128::from(average_premium.get());
    let adjustment =
        (i128::from(interest.get()) - p).clamp(-i128::from(clamp.get()), i128::from(clamp.get()));
    Ok(FundingRate(to_i64(p + adjustment)?))
}

/// Scales a rate stated per `base_interval_secs` to `interval_secs`: `rate·interval/base`.
///
/// # Rounding
/// Toward zero.
///
/// # Errors
/// [`RiskError::InvalidInput`] when `base_interval_secs` is 0.
pub fn rate_for_interval(
    rate: FundingRate,
    interval_secs: u32,
    base_interval_secs: u32,
) -> Result<FundingRate, RiskError> {
    if base_interval_secs == 0 {
        return Err(RiskError::InvalidInput("base interval is zero"));
    }
    let scaled = checked(div_toward_zero(
        i128::from(rate.get()) * i128::from(interval_secs),
        i128::from(base_interval_secs),
    ))?;
    Ok(FundingRate(to_i64(scaled)?))
}

/// Impact price: the average price of filling `impact_notional` quote quantums against
/// `levels` (best first), the last level filled partly (fractional lots allowed).
/// Returns `None` when the levels hold less than the impact notional.
///
/// # Rounding
/// An impact bid (`bid_side`) rounds down, an impact ask up: the premium never looks larger
/// than the book supports.
///
/// # Errors
/// [`RiskError::InvalidInput`] for a non-positive impact notional, price, quantity or
/// `quote_per_tick_lot`; [`RiskError::Overflow`] when a level's notional does not fit.
pub fn impact_price(
    levels: &[(Price, Qty)],
    impact_notional: Quote,
    quote_per_tick_lot: i64,
    bid_side: bool,
) -> Result<Option<Price>, RiskError> {
    if impact_notional.get() <= 0 || quote_per_tick_lot <= 0 {
        return Err(RiskError::InvalidInput(
            "impact notional and quote_per_tick_lot must be positive",
        ));
    }
    let target = i128::from(impact_notional.get());
    let q = i128::from(quote_per_tick_lot);
    let (mut filled_notional, mut filled_lots) = (0i128, 0i128);
    for &(price, qty) in levels {
        if price.get() <= 0 || qty.get() <= 0 {
            return Err(RiskError::InvalidInput(
                "level price and quantity must be positive",
            ));
        }
        let p = i128::from(price.get());
        let level_notional = checked(
            p.checked_mul(i128::from(qty.get()))
                .and_then(|v| v.checked_mul(q)),
        )?;
        let remaining = target - filled_notional;
        if level_notional < remaining {
            filled_notional += level_notional;
            filled_lots += i128::from(qty.get());
            continue;
        }
        // Average = target / (q·(filled_lots + remaining/(p·q))) = target·p / (q·filled_lots·p + remaining).
        let numerator = checked(target.checked_mul(p))?;
        let denominator = checked(
            q.checked_mul(filled_lots)
                .and_then(|v| v.checked_mul(p))
                .and_then(|v| v.checked_add(remaining)),
        )?;
        let rounding = if bid_side {
            Rounding::Floor
        } else {
            Rounding::Ceil
        };
        let average = checked(div_round(numerator, denominator, rounding))?;
        return Ok(Some(Price(to_i64(average)?)));
    }
    Ok(None)
}

/// The change of the funding index over one settlement: `price·quote_per_tick_lot·rate`, in
/// quote quantums per lot × 1e9.
///
/// # Rounding
/// None: exact.
///
/// # Errors
/// [`RiskError::Overflow`] when the product does not fit.
pub fn funding_index_delta(
    price: Price,
    quote_per_tick_lot: i64,
    rate: FundingRate,
) -> Result<FundingIndex, RiskError> {
    let per_lot = i128::from(price.get()) * i128::from(quote_per_tick_lot);
    Ok(FundingIndex(checked(
        per_lot.checked_mul(i128::from(rate.get())),
    )?))
}

/// Funding owed by a position between two index values, as the signed change to the account's
/// balance: `−size·(now − then)/1e9`.
///
/// # Rounding
/// Floor of the signed change: a payer pays up, a receiver receives down.
///
/// # Errors
/// [`RiskError::Overflow`] when the payment does not fit.
pub fn funding_owed(
    size: PositionSize,
    index_now: FundingIndex,
    index_then: FundingIndex,
) -> Result<Quote, RiskError> {
    let delta = checked(index_now.get().checked_sub(index_then.get()))?;
    let owed = checked(
        delta
            .checked_mul(-i128::from(size.get()))
            .and_then(|v| div_round(v, SCALE, Rounding::Floor)),
    )?;
    Ok(Quote(to_i64(owed)?))
}

/// Funding payment of one position for one settlement, as the signed change to its balance:
/// `−size·price·quote_per_tick_lot·rate/1e9`. Equal to [`funding_owed`] over one
/// [`funding_index_delta`].
///
/// # Rounding
/// Floor of the signed change: against the account.
///
/// # Errors
/// [`RiskError::Overflow`] when the notional or the payment does not fit.
pub fn funding_payment(
    size: PositionSize,
    price: Price,
    quote_per_tick_lot: i64,
    rate: FundingRate,
) -> Result<Quote, RiskError> {
    let delta = funding_index_delta(price, quote_per_tick_lot, rate)?;
    funding_owed(size, delta, FundingIndex::ZERO)
}

/// The result of settling funding across a market.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FundingSettlement<A> {
    /// Each account's signed balance change, in input order.
    pub payments: Vec<(A, Quote)>,
    /// What payers paid beyond what receivers got (≥ 0): for the insurance fund.
    pub dust: Quote,
}

/// Settles funding for every position of a market (see [`settle_funding_into`]).
///
/// # Rounding
/// As [`funding_payment`]; the dust is returned.
///
/// # Errors
/// As [`settle_funding_into`].
pub fn settle_funding<A: Copy>(
    positions: &[(A, PositionSize)],
    price: Price,
    quote_per_tick_lot: i64,
    rate: FundingRate,
) -> Result<FundingSettlement<A>, RiskError> {
    let mut payments = Vec::with_capacity(positions.len());
    let dust = settle_funding_into(positions, price, quote_per_tick_lot, rate, &mut payments)?;
    Ok(FundingSettlement { payments, dust })
}

/// Settles funding for every position of a market into `payments` (cleared first, so a caller
/// can reuse its buffer), and returns the dust: `−Σ payments`, in `0..positions.len()`.
///
/// # Rounding
/// Each payment as [`funding_payment`]. The exact payments sum to zero because the sizes do,
/// so the floored ones sum to `−dust ≤ 0`: payers pay at least what receivers get.
///
/// # Errors
/// [`RiskError::InvalidInput`] when the sizes do not sum to zero (long open interest must equal
/// short open interest); [`RiskError::Overflow`] as [`funding_payment`]. On error `payments`
/// holds a prefix and should be discarded.
pub fn settle_funding_into<A: Copy>(
    positions: &[(A, PositionSize)],
    price: Price,
    quote_per_tick_lot: i64,
    rate: FundingRate,
    payments: &mut Vec<(A, Quote)>,
) -> Result<Quote, RiskError> {
    payments.clear();
    let net: i128 = positions.iter().map(|(_, s)| i128::from(s.get())).sum();
    if net != 0 {
        return Err(RiskError::InvalidInput(
            "position sizes must sum to zero (long OI = short OI)",
        ));
    }
    let delta = funding_index_delta(price, quote_per_tick_lot, rate)?;
    let mut total: i128 = 0;
    for &(account, size) in positions {
        let payment = funding_owed(size, delta, FundingIndex::ZERO)?;
        total += i128::from(payment.get());
        payments.push((account, payment));
    }
    let dust = -total;
    assert!(
        dust >= 0,
        "invariant: floored payments never sum above zero"
    );
    assert!(
        dust < i128::try_from(positions.len()).unwrap_or(i128::MAX).max(1),
        "invariant: less than one quantum of dust per position"
    );
    Ok(Quote(to_i64(dust)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RISK-REFERENCE §3 example 8 (BitMEX funding, ONDOUSDT): P = −0.00184, I = 0.01%:
    /// F = −0.00184 + clamp(0.00194, ±0.0005) = −0.00134.
    #[test]
    fn bitmex_funding_example() {
        let f = funding_rate(
            FundingRate(-1_840_000),
            FundingRate::from_ppm(100),
            FundingRate::from_ppm(500),
        );
        assert_eq!(f, Ok(FundingRate(-1_340_000)));
        // The 8h premium −0.001839566 (mean of minutely samples) gives the same clamp.
        let f = funding_rate(
            FundingRate(-1_839_566),
            FundingRate(100_000),
            FundingRate(500_000),
        );
        assert_eq!(f, Ok(FundingRate(-1_339_566)));
    }

    /// RISK-REFERENCE §3 example 9 (Hyperliquid funding): impact bid 10,100, oracle 10,000 →
    /// premium 1%; 8 h rate 1% + clamp(0.01% − 1%) = 0.95%; hourly 0.11875%; a 10 BTC long pays
    /// 118.75 USDC per hour at an oracle of 10,000.
    #[test]
    fn hyperliquid_funding_example() {
        // Tick 0.01 USD: 10,000 USD = 1,000,000 ticks.
        let p = premium(Price(1_010_000), Price(1_011_000), Price(1_000_000));
        assert_eq!(p, Ok(FundingRate(10_000_000)));
        let params = FundingParams::hyperliquid();
        let eight_hour = funding_rate(
            FundingRate(10_000_000),
            params.interest,
            params.premium_clamp,
        );
        assert_eq!(eight_hour, Ok(FundingRate(9_500_000)));
        let hourly = params.interval_rate(FundingRate(10_000_000));
        assert_eq!(hourly, Ok(FundingRate(1_187_500)));
        // Lot 0.001 BTC and quantum 1e-6 USD: 0.01 × 0.001 / 1e-6 = 10 quantums per tick-lot.
        let paid = funding_payment(
            PositionSize(10_000),
            Price(1_000_000),
            10,
            FundingRate(1_187_500),
        );
        assert_eq!(paid, Ok(Quote(-118_750_000)));
        let received = funding_payment(
            PositionSize(-10_000),
            Price(1_000_000),
            10,
            FundingRate(1_187_500),
        );
        assert_eq!(received, Ok(Quote(118_750_000)));
    }

    #[test]
    fn premium_is_signed_and_symmetric() {
        // Impact ask below the index: negative premium.
        assert_eq!(
            premium(Price(98), Price(99), Price(100)),
            Ok(FundingRate(-10_000_000))
        );
        // Index inside the impact spread: zero.
        assert_eq!(
            premium(Price(99), Price(101), Price(100)),
            Ok(FundingRate(0))
        );
        // Rounding toward zero on both sides: ±1/3.
        assert_eq!(
            premium(Price(4), Price(5), Price(3)),
            Ok(FundingRate(333_333_333))
        );
        assert_eq!(
            premium(Price(1), Price(2), Price(3)),
            Ok(FundingRate(-333_333_333))
        );
        assert!(premium(Price(5), Price(4), Price(3)).is_err());
        assert!(premium(Price(0), Price(4), Price(3)).is_err());
    }

    #[test]
    fn cap_and_interval_scaling() {
        let mut params = FundingParams::binance();
        params.interval_secs = 4 * 3_600;
        // A 10% premium: F = 10% − 0.05%, halved for 4 h: 4.975%, capped at 3%.
        assert_eq!(
            params.interval_rate(FundingRate(100_000_000)),
            Ok(FundingRate(30_000_000))
        );
        assert_eq!(
            params.interval_rate(FundingRate(-100_000_000)),
            Ok(FundingRate(-30_000_000))
        );
        // A quiet market pays the interest: F = I, halved for 4 h.
        assert_eq!(
            params.interval_rate(FundingRate(0)),
            Ok(FundingRate(50_000))
        );
        assert_eq!(
            rate_for_interval(FundingRate(-7), 1, 2),
            Ok(FundingRate(-3))
        );
        assert!(rate_for_interval(FundingRate(1), 1, 0).is_err());
        assert_eq!(
            average_premium(&[FundingRate(1), FundingRate(2), FundingRate(-6)]),
            Ok(FundingRate(-1))
        );
        assert!(average_premium(&[]).is_err());
    }

    #[test]
    fn impact_price_walks_the_book() {
        let q = 1;
        let asks = [(Price(100), Qty(10)), (Price(110), Qty(10))];
        // 1,000 fills the first level exactly: average 100.
        assert_eq!(
            impact_price(&asks, Quote(1_000), q, false),
            Ok(Some(Price(100)))
        );
        // 1,550: 10 lots at 100 and 5 at 110: 1,550/15 = 103.33 → 104 for an ask.
        assert_eq!(
            impact_price(&asks, Quote(1_550), q, false),
            Ok(Some(Price(104)))
        );
        assert_eq!(
            impact_price(&asks, Quote(1_550), q, true),
            Ok(Some(Price(103)))
        );
        assert_eq!(impact_price(&asks, Quote(2_101), q, false), Ok(None));
        assert!(impact_price(&asks, Quote(0), q, false).is_err());
    }

    #[test]
    fn settlement_requires_balanced_open_interest() {
        let positions = [(1u32, PositionSize(3)), (2, PositionSize(-2))];
        assert!(settle_funding(&positions, Price(100), 1, FundingRate(1)).is_err());
        // 3 lots at 7 quantums and 1e-3: ±0.021 quantum per position. Each receiver gets 0,
        // the payer pays 1: dust 1.
        let positions = [
            (1u32, PositionSize(3)),
            (2, PositionSize(-1)),
            (3, PositionSize(-2)),
        ];
        let settled = settle_funding(&positions, Price(7), 1, FundingRate(1_000_000));
        let settled = settled.expect("valid");
        assert_eq!(
            settled.payments,
            vec![(1, Quote(-1)), (2, Quote(0)), (3, Quote(0))]
        );
        assert_eq!(settled.dust, Quote(1));
    }

    proptest! {
        #[test]
        fn payers_pay_at_least_what_receivers_get(
            sizes in prop::collection::vec(-1_000_000i64..1_000_000, 1..20),
            price in 1i64..10_000_000, q in 1i64..1_000, rate in -50_000_000i64..50_000_000
        ) {
            let mut positions: Vec<(usize, PositionSize)> =
                sizes.iter().enumerate().map(|(i, &s)| (i, PositionSize(s))).collect();
            let net: i64 = sizes.iter().sum();
            positions.push((sizes.len(), PositionSize(-net)));
            let settled = settle_funding(&positions, Price(price), q, FundingRate(rate))
                .expect("valid");
            let paid: i64 = settled.payments.iter().map(|(_, p)| p.get()).sum();
            prop_assert_eq!(paid + settled.dust.get(), 0);
            prop_assert!(settled.dust.get() >= 0);
            prop_assert!(usize::try_from(settled.dust.get()).expect("≥ 0") < positions.len());
            for (&(_, size), &(_, payment)) in positions.iter().zip(&settled.payments) {
                // Against the account: the change is at most the exact value.
                let exact = -i128::from(size.get()) * i128::from(price) * i128::from(q)
                    * i128::from(rate);
                prop_assert!(i128::from(payment.get()) * SCALE <= exact);
                prop_assert!((i128::from(payment.get()) + 1) * SCALE > exact);
            }
        }

        #[test]
        fn index_accrual_matches_per_interval_payments(
            size in -1_000_000i64..1_000_000, price in 1i64..10_000_000, q in 1i64..1_000,
            rates in prop::collection::vec(-5_000_000i64..5_000_000, 1..10)
        ) {
            // Summing the index, then rounding once, is never worse for the account than
            // rounding every interval (floor(a) + floor(b) ≤ floor(a + b)).
            let mut index = FundingIndex::ZERO;
            let mut per_interval = 0i64;
            for &rate in &rates {
                let delta = funding_index_delta(Price(price), q, FundingRate(rate)).expect("fits");
                index = FundingIndex(index.get() + delta.get());
                per_interval += funding_payment(PositionSize(size), Price(price), q, FundingRate(rate))
                    .expect("fits").get();
            }
            let once = funding_owed(PositionSize(size), index, FundingIndex::ZERO).expect("fits");
            prop_assert!(per_interval <= once.get());
            prop_assert!(once.get() - per_interval < i64::try_from(rates.len()).expect("small"));
        }
    }
}
