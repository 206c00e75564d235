//! Isolated positions: equity, unrealized PnL, fees, and the liquidation and bankruptcy prices.
//!
//! # Units
//! Prices are ticks, sizes lots, money quote quantums. `quote_per_tick_lot` (from the market
//! spec) is the number of quote quantums in one lot at one tick, so the notional of `s` lots at
//! `m` ticks is `s·m·quote_per_tick_lot`.
//!
//! # Convention (Binance and Hyperliquid)
//! The maintenance margin is taken on the notional **at the mark price**, from the tier whose
//! range contains that notional. A position is *liquidatable* at mark `m` when
//! `equity(m) ≤ MM(m)`, with `MM` rounded up to the quantum ([`is_liquidatable`]).
//!
//! # Liquidation price
//! The trigger is "the mark reaches the liquidation price": a long is liquidated when the mark
//! is at or below `L`, a short when it is at or above `L`. `L` is solved exactly in integers,
//! tier by tier, and rounded to the tick **against the account** (a long's up, a short's down),
//! so that:
//! - `L` is at or before the exact real solution of `equity = MM` (seen from the entry), so
//!   `equity(L) ≥ MM_exact(L)`;
//! - every tick at which [`is_liquidatable`] holds is at or past `L`: the trigger never fires
//!   late;
//! - the tick one step past `L` is liquidatable: the trigger fires at most one tick early.
//!
//! So the price trigger fires at the first tick where `equity ≤ MM`, or one tick earlier when
//! the exact crossing falls strictly between two ticks.
//!
//! # Bankruptcy price
//! The price at which equity is zero, rounded the same way (a long's up, a short's down, as
//! Bybit does and as dYdX rounds its bankruptcy quote): a close at the bankruptcy price never
//! leaves the account negative, so the insurance fund never pays because of rounding.

use crate::error::{checked, to_i64, RiskError};
use crate::margin::MarginTiers;
use crate::num::{div_round, PositionSize, Ppm, Price, Quote, Rounding};

/// Ppm units in one whole, as `i128` (the scale of the exact maintenance margin).
const PPM_ONE: i128 = 1_000_000;

/// An isolated position: its signed size, entry price and the margin assigned to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IsolatedPosition {
    /// Signed size in lots: long > 0, short < 0. Never 0 for a position.
    pub size: PositionSize,
    /// Entry price in ticks (> 0).
    pub entry: Price,
    /// Margin assigned to the position, in quote quantums (wallet balance of the position).
    pub margin: Quote,
}

/// Notional of `size` lots at `price` ticks, in quote quantums: `|size|·price·quote_per_tick_lot`.
///
/// # Rounding
/// None: exact.
///
/// # Errors
/// [`RiskError::Overflow`] when the notional does not fit in `i64`;
/// [`RiskError::InvalidInput`] when `quote_per_tick_lot` is not positive.
pub fn notional(
    size: PositionSize,
    price: Price,
    quote_per_tick_lot: i64,
) -> Result<Quote, RiskError> {
    if quote_per_tick_lot <= 0 {
        return Err(RiskError::InvalidInput(
            "quote_per_tick_lot must be positive",
        ));
    }
    let lots = i128::from(size.get()).abs();
    // Each factor is < 2^64 in magnitude, so the first product is < 2^127; the second is checked.
    let wide =
        checked((lots * i128::from(price.get())).checked_mul(i128::from(quote_per_tick_lot)))?;
    Ok(Quote(to_i64(wide)?))
}

/// Unrealized PnL of `size` lots entered at `entry` and marked at `mark`:
/// `size·(mark − entry)·quote_per_tick_lot`.
///
/// # Rounding
/// None: with prices in whole ticks the PnL is an exact number of quantums.
///
/// # Errors
/// [`RiskError::Overflow`] when the PnL does not fit in `i64`;
/// [`RiskError::InvalidInput`] when `quote_per_tick_lot` is not positive.
pub fn unrealized_pnl(
    size: PositionSize,
    entry: Price,
    mark: Price,
    quote_per_tick_lot: i64,
) -> Result<Quote, RiskError> {
    if quote_per_tick_lot <= 0 {
        return Err(RiskError::InvalidInput(
            "quote_per_tick_lot must be positive",
        ));
    }
    let move_ticks = i128::from(mark.get()) - i128::from(entry.get());
    let wide = checked(
        i128::from(size.get())
            .checked_mul(move_ticks)
            .and_then(|v| v.checked_mul(i128::from(quote_per_tick_lot))),
    )?;
    Ok(Quote(to_i64(wide)?))
}

/// Equity of an isolated position at `mark`: margin plus unrealized PnL.
///
/// # Rounding
/// None: exact.
///
/// # Errors
/// As [`unrealized_pnl`], and [`RiskError::Overflow`] when the sum does not fit.
pub fn equity(
    position: &IsolatedPosition,
    mark: Price,
    quote_per_tick_lot: i64,
) -> Result<Quote, RiskError> {
    let pnl = unrealized_pnl(position.size, position.entry, mark, quote_per_tick_lot)?;
    checked(position.margin.checked_add(pnl))
}

/// Whether the position is liquidatable at `mark`: `equity(mark) ≤ MM(notional at mark)`.
///
/// # Rounding
/// `MM` is rounded up ([`MarginTiers::maintenance_margin`]); equality counts as liquidatable
/// (Binance: margin ratio reaching 100%). Both go against the account.
///
/// # Errors
/// As [`equity`] and [`notional`]; [`RiskError::InvalidInput`] for a zero size.
pub fn is_liquidatable(
    position: &IsolatedPosition,
    mark: Price,
    tiers: &MarginTiers,
    quote_per_tick_lot: i64,
) -> Result<bool, RiskError> {
    validate(position, quote_per_tick_lot)?;
    let equity = equity(position, mark, quote_per_tick_lot)?;
    let mm = tiers.maintenance_margin(notional(position.size, mark, quote_per_tick_lot)?)?;
    Ok(equity <= mm)
}

fn validate(position: &IsolatedPosition, quote_per_tick_lot: i64) -> Result<(), RiskError> {
    if position.size.get() == 0 {
        return Err(RiskError::InvalidInput("position size is zero"));
    }
    if position.entry.get() <= 0 {
        return Err(RiskError::InvalidInput("entry price must be positive"));
    }
    if quote_per_tick_lot <= 0 {
        return Err(RiskError::InvalidInput(
            "quote_per_tick_lot must be positive",
        ));
    }
    Ok(())
}

/// The position in notional space: `u = |size|·q` quantums per tick, `cost = u·entry`.
#[derive(Clone, Copy)]
struct Line {
    long: bool,
    per_tick: i128,
    cost: i128,
    margin: i128,
}

impl Line {
    fn new(position: &IsolatedPosition, quote_per_tick_lot: i64) -> Result<Self, RiskError> {
        validate(position, quote_per_tick_lot)?;
        // The entry notional must fit in i64 (MarketSpec::validate guarantees it for valid
        // orders); then per_tick ≤ cost < 2^63 because entry ≥ 1.
        let cost = notional(position.size, position.entry, quote_per_tick_lot)?;
        let per_tick = i128::from(position.size.get()).abs() * i128::from(quote_per_tick_lot);
        Ok(Self {
            long: position.size.get() > 0,
            per_tick,
            cost: i128::from(cost.get()),
            margin: i128::from(position.margin.get()),
        })
    }

    /// `g(n) = 1e6·equity(n) − MM_scaled(n)` at notional `n`, using the tier that contains it.
    /// Increasing in `n` for a long, decreasing for a short.
    fn gap(&self, notional: Quote, tiers: &MarginTiers) -> Result<i128, RiskError> {
        let n = i128::from(notional.get());
        // |margin|, cost and n are < 2^63: the equity is < 2^65 and × 1e6 < 2^85.
        let equity = if self.long {
            self.margin - self.cost + n
        } else {
            self.margin + self.cost - n
        };
        Ok(PPM_ONE * equity - tiers.maintenance_margin_scaled(notional)?)
    }

    /// The notional `n` where `g(n) = target`, as `numerator / denominator` (denominator > 0),
    /// solved on the tier that contains the root.
    fn root(&self, tiers: &MarginTiers, target: i128) -> Result<(i128, i128), RiskError> {
        // g is continuous and strictly monotonic, so the root lies in the last tier whose floor
        // is still on the near side of the target (the first tier when none is).
        let mut chosen = &tiers.tiers()[0];
        for tier in &tiers.tiers()[1..] {
            let g = self.gap(tier.notional_floor(), tiers)?;
            let before_root = if self.long { g < target } else { g > target };
            if !before_root {
                break;
            }
            chosen = tier;
        }
        let mmr = i128::from(chosen.mmr().get());
        let deduction = chosen.deduction_scaled();
        // Long:  1e6·(margin − cost + n) − n·mmr + D = t  ⇒  n = (t − 1e6·(margin − cost) − D) / (1e6 − mmr)
        // Short: 1e6·(margin + cost − n) − n·mmr + D = t  ⇒  n = (1e6·(margin + cost) + D − t) / (1e6 + mmr)
        // Magnitudes: 1e6·2^64 + D (< 2^89) + t: < 2^91.
        let (numerator, denominator) = if self.long {
            (
                target - PPM_ONE * (self.margin - self.cost) - deduction,
                PPM_ONE - mmr,
            )
        } else {
            (
                PPM_ONE * (self.margin + self.cost) + deduction - target,
                PPM_ONE + mmr,
            )
        };
        assert!(denominator > 0, "invariant: 0 ≤ mmr < 100%");
        Ok((numerator, denominator))
    }

    /// Rounds a notional `numerator / denominator` to a tick: `n / per_tick`.
    fn to_tick(self, root: (i128, i128), rounding: Rounding) -> Result<i128, RiskError> {
        // denominator ≤ 2·1e6 and per_tick < 2^63: the product is < 2^84.
        checked(div_round(root.0, root.1 * self.per_tick, rounding))
    }
}

/// Converts a solved tick to the trigger price: `None` when no representable positive tick
/// triggers, the far end of the axis when every tick does.
fn clamp_trigger(long: bool, tick: i128) -> Option<Price> {
    let tick_max = i128::from(i64::MAX);
    if long {
        // A long triggers at marks ≤ tick.
        if tick < 1 {
            None
        } else {
            Some(Price(
                i64::try_from(tick.min(tick_max)).expect("invariant: clamped to i64"),
            ))
        }
    } else if tick > tick_max {
        // A short triggers at marks ≥ tick.
        None
    } else {
        Some(Price(
            i64::try_from(tick.max(1)).expect("invariant: clamped to i64"),
        ))
    }
}

/// Liquidation price of an isolated position: the mark at which `equity = MM`, with `MM` taken
/// on the notional at that mark from the tier containing it (Binance/Hyperliquid convention).
/// A long is liquidated when the mark is at or below it, a short when at or above it.
///
/// Returns `None` when no positive `i64` tick triggers (for example a 1x long). Returns
/// `Price(1)` for a short (or `Price(i64::MAX)` for a long) that is liquidatable at every price.
///
/// # Rounding
/// To the tick against the account: a long's price up, a short's down, from the exact rational
/// solution; and never on the far side of the first tick at which [`is_liquidatable`] holds.
/// So `is_liquidatable(L ± 1)` is true one tick past `L` and false one tick before it, and
/// `equity(L) ≥ MM_exact(L)`.
///
/// # Errors
/// [`RiskError::InvalidInput`] for a zero size, a non-positive entry or `quote_per_tick_lot`;
/// [`RiskError::Overflow`] when the entry notional does not fit in `i64`.
pub fn liquidation_price(
    position: &IsolatedPosition,
    tiers: &MarginTiers,
    quote_per_tick_lot: i64,
) -> Result<Option<Price>, RiskError> {
    let line = Line::new(position, quote_per_tick_lot)?;
    // Exact crossing: g = 0. The last liquidatable tick with MM rounded up: g ≤ 1e6 − 1
    // (equity ≤ ceil(X / 1e6) ⇔ 1e6·equity − X ≤ 1e6 − 1 for integers).
    let exact = line.root(tiers, 0)?;
    let rounded_mm = line.root(tiers, PPM_ONE - 1)?;
    let tick = if line.long {
        let against = line.to_tick(exact, Rounding::Ceil)?;
        let first_liquidatable = line.to_tick(rounded_mm, Rounding::Floor)?;
        against.max(first_liquidatable)
    } else {
        let against = line.to_tick(exact, Rounding::Floor)?;
        let first_liquidatable = line.to_tick(rounded_mm, Rounding::Ceil)?;
        against.min(first_liquidatable)
    };
    Ok(clamp_trigger(line.long, tick))
}

/// Bankruptcy price of an isolated position: the mark at which its equity is zero,
/// `entry ∓ margin / (|size|·quote_per_tick_lot)`.
///
/// Returns `None` when no positive `i64` tick reaches it (a long with margin ≥ its notional);
/// `Price(1)` / `Price(i64::MAX)` when the position is already bankrupt at every price.
///
/// # Rounding
/// To the tick against the account: a long's up, a short's down (Bybit). Closing at this price
/// leaves equity ≥ 0, so the insurance fund never pays because of rounding.
///
/// # Errors
/// As [`liquidation_price`].
pub fn bankruptcy_price(
    position: &IsolatedPosition,
    quote_per_tick_lot: i64,
) -> Result<Option<Price>, RiskError> {
    let line = Line::new(position, quote_per_tick_lot)?;
    let tick = if line.long {
        // margin − cost + n = 0 ⇒ n = cost − margin.
        line.to_tick((line.cost - line.margin, 1), Rounding::Ceil)?
    } else {
        // margin + cost − n = 0 ⇒ n = cost + margin.
        line.to_tick((line.cost + line.margin, 1), Rounding::Floor)?
    };
    Ok(clamp_trigger(line.long, tick))
}

/// Whether a fill provides or takes liquidity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liquidity {
    /// The resting order.
    Maker,
    /// The incoming order.
    Taker,
}

/// Maker and taker fee rates. A negative maker rate is a rebate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeeSchedule {
    maker: Ppm,
    taker: Ppm,
}

impl FeeSchedule {
    /// Validates a schedule: the taker rate is in `0..=100%`, the maker rate in
    /// `−taker..=100%`, so a maker rebate never exceeds the taker fee of the same fill and the
    /// venue never pays out more than it collects.
    ///
    /// # Errors
    /// [`RiskError::InvalidInput`] naming the rule broken.
    pub fn new(maker: Ppm, taker: Ppm) -> Result<Self, RiskError> {
        let one = Ppm::ONE;
        let (m, t) = (i64::from(maker.get()), i64::from(taker.get()));
        if !(0..=one).contains(&t) {
            return Err(RiskError::InvalidInput("taker fee must be in [0, 100%]"));
        }
        if m > one || m < -t {
            return Err(RiskError::InvalidInput(
                "maker fee must be in [-taker fee, 100%]",
            ));
        }
        Ok(Self { maker, taker })
    }

    /// The rate for the given side of a fill.
    #[must_use]
    pub const fn rate(&self, liquidity: Liquidity) -> Ppm {
        match liquidity {
            Liquidity::Maker => self.maker,
            Liquidity::Taker => self.taker,
        }
    }

    /// The fee charged on a fill of `notional` (see [`trade_fee`]).
    ///
    /// # Rounding
    /// As [`trade_fee`].
    ///
    /// # Errors
    /// As [`trade_fee`].
    pub fn fee(&self, notional: Quote, liquidity: Liquidity) -> Result<Quote, RiskError> {
        trade_fee(notional, self.rate(liquidity))
    }
}

/// Fee charged on a fill of `notional` at `rate`: positive is a debit to the account, negative a
/// rebate (credit).
///
/// # Rounding
/// Up (toward +∞): a fee rounds up, a rebate rounds toward zero. Both against the account.
///
/// # Errors
/// [`RiskError::InvalidInput`] when `notional` is negative; [`RiskError::Overflow`] never for
/// `|rate| ≤ 100%`, otherwise when the fee does not fit.
pub fn trade_fee(notional: Quote, rate: Ppm) -> Result<Quote, RiskError> {
    if notional.get() < 0 {
        return Err(RiskError::InvalidInput("notional is negative"));
    }
    let fee = checked(div_round(
        i128::from(notional.get()) * i128::from(rate.get()),
        PPM_ONE,
        Rounding::Ceil,
    ))?;
    Ok(Quote(to_i64(fee)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::margin::TierSpec;
    use proptest::prelude::*;

    const USD: i64 = 1_000_000;

    /// A market with a 0.01 USD tick and a 0.0001 BTC lot: 1 quantum per tick-lot.
    const Q_CENT_BPS: i64 = 1;

    fn long(lots: i64, entry: i64, margin: i64) -> IsolatedPosition {
        IsolatedPosition {
            size: PositionSize(lots),
            entry: Price(entry),
            margin: Quote(margin),
        }
    }

    fn short(lots: i64, entry: i64, margin: i64) -> IsolatedPosition {
        long(-lots, entry, margin)
    }

    fn flat(mmr: i32) -> MarginTiers {
        MarginTiers::flat(Ppm(mmr)).expect("valid rate")
    }

    fn binance_btcusdt_2021() -> MarginTiers {
        let rows: Vec<TierSpec> = [
            (0, 4_000, 125),
            (50_000, 5_000, 100),
            (250_000, 10_000, 50),
            (1_000_000, 25_000, 20),
            (10_000_000, 50_000, 10),
            (20_000_000, 100_000, 5),
        ]
        .iter()
        .map(|&(f, m, l)| TierSpec::new(Quote(f * USD), Ppm(m), l))
        .collect();
        MarginTiers::new(&rows).expect("valid")
    }

    /// RISK-REFERENCE §3 example 6 (BitMEX liquidation): long 1 contract at $100.00,
    /// liquidation $99.50, bankruptcy $99.00: margin $1.00 (100x) and MM 0.5% taken at the mark.
    /// The exact crossing is 99/0.995 = 99.4975…, which rounds up to 99.50 for a long.
    #[test]
    fn bitmex_liquidation_example() {
        // Tick 0.01 USD, lot 1 contract (1 USD of notional per USD of price): 10,000 quantums
        // per tick-lot.
        let position = long(1, 10_000, USD);
        let tiers = flat(5_000);
        assert_eq!(
            liquidation_price(&position, &tiers, 10_000),
            Ok(Some(Price(9_950)))
        );
        assert_eq!(bankruptcy_price(&position, 10_000), Ok(Some(Price(9_900))));
        // XBTUSD's 0.5 USD tick: 500,000 quantums per tick-lot; 99.50 and 99.00 again.
        let position = long(1, 200, USD);
        assert_eq!(
            liquidation_price(&position, &tiers, 500_000),
            Ok(Some(Price(199)))
        );
        assert_eq!(bankruptcy_price(&position, 500_000), Ok(Some(Price(198))));
    }

    /// RISK-REFERENCE §3 example 3 (Bybit bankruptcy): the bankruptcy price "rounded up to the
    /// 0.5 tick for longs and down for shorts" — 7,735.37… becomes 7,735.50. Bybit's example is
    /// an inverse contract; this is the same rounding on a linear one with an exact crossing at
    /// 7,735.37: 1 BTC long at 7,890.00 with 154.63 USD of margin.
    #[test]
    fn bybit_bankruptcy_rounding_example() {
        // Tick 0.5 USD, lot 1 BTC: 500,000 quantums per tick-lot.
        let q = 500_000;
        let position = long(1, 15_780, 154_630_000);
        assert_eq!(bankruptcy_price(&position, q), Ok(Some(Price(15_471)))); // 7,735.50
                                                                             // Mirror: a short at 7,890.00 with 154.63 of margin goes bankrupt at 8,044.63, which
                                                                             // rounds down to 8,044.50.
        let position = short(1, 15_780, 154_630_000);
        assert_eq!(bankruptcy_price(&position, q), Ok(Some(Price(16_089))));
    }

    /// Binance isolated liquidation price (RISK-REFERENCE §2.2):
    /// `LP = (WB + cum − side·pos·EP) / (pos·MMR − side·pos)`, recomputed with the bracket the
    /// result falls in. Long 10 BTC at 50,000 with 25,000 USDT (tier 3: 1%, cum 1,300):
    /// (25,000 + 1,300 − 500,000)/(0.1 − 10) = 47,848.4848… → 47,848.49.
    #[test]
    fn binance_isolated_liquidation_formula() {
        let tiers = binance_btcusdt_2021();
        // Tick 0.01, lot 0.0001 BTC: 1 quantum per tick-lot; 10 BTC = 100,000 lots.
        let position = long(100_000, 5_000_000, 25_000 * USD);
        let price = liquidation_price(&position, &tiers, Q_CENT_BPS);
        assert_eq!(price, Ok(Some(Price(4_784_849))));
        // Short 10 BTC at 50,000 with 25,000: (25,000 + 1,300 + 500,000)/(0.1 + 10)
        // = 52,108.9108… → 52,108.91 (rounded down).
        let position = short(100_000, 5_000_000, 25_000 * USD);
        let price = liquidation_price(&position, &tiers, Q_CENT_BPS);
        assert_eq!(price, Ok(Some(Price(5_210_891))));
    }

    /// Binance: "if the liquidation price falls in a different bracket, recompute with that
    /// bracket's MMR and cum". Long 6 BTC at 50,000 (300,000 notional, tier 3) with 60,000:
    /// tier 3 would give 40,185.18 (notional 241,111, tier 2); tier 2 (0.5%, cum 50) gives
    /// (60,000 + 50 − 300,000)/(0.03 − 6) = 40,192.6298… → 40,192.63.
    #[test]
    fn binance_liquidation_recomputed_in_the_bracket_it_falls_in() {
        let tiers = binance_btcusdt_2021();
        let position = long(60_000, 5_000_000, 60_000 * USD);
        let price = liquidation_price(&position, &tiers, Q_CENT_BPS).expect("valid");
        assert_eq!(price, Some(Price(4_019_263)));
        let notional = notional(position.size, Price(4_019_263), Q_CENT_BPS).expect("fits");
        assert_eq!(tiers.tier_index(notional), Ok(1));
    }

    /// Hyperliquid (RISK-REFERENCE §2.3): `liq = price − side·margin_available/size/(1 − l·side)`
    /// with `margin_available = margin − MM_required` at entry. BTC 40x: l = 1.25%. Long 1 BTC at
    /// 60,000 with 3,000: 60,000 − 2,250/0.9875 = 57,721.5189… → 57,721.52.
    #[test]
    fn hyperliquid_liquidation_formula() {
        let position = long(10_000, 6_000_000, 3_000 * USD);
        let price = liquidation_price(&position, &flat(12_500), Q_CENT_BPS);
        assert_eq!(price, Ok(Some(Price(5_772_152))));
        // Short: 60,000 + 2,250/1.0125 = 62,222.2222… → 62,222.22.
        let position = short(10_000, 6_000_000, 3_000 * USD);
        let price = liquidation_price(&position, &flat(12_500), Q_CENT_BPS);
        assert_eq!(price, Ok(Some(Price(6_222_222))));
    }

    /// 1001x on the tiny first tier of the Binance-like table: 0.1 BTC at 100,000.0 (tick 0.1,
    /// lot 0.001: 100 quantums per tick-lot) with the initial margin at 1001x. The liquidation
    /// price is less than 0.05% below the entry.
    #[test]
    fn leverage_1001x_liquidates_within_five_basis_points() {
        let tiers = MarginTiers::binance_like_btc_perp();
        let q = 100;
        let entry = 1_000_000;
        let n = notional(PositionSize(100), Price(entry), q).expect("fits");
        assert_eq!(n, Quote(10_000 * USD));
        let im = tiers.initial_margin(n, 1001).expect("allowed");
        let position = long(100, entry, im.get());
        let liq = liquidation_price(&position, &tiers, q)
            .expect("valid")
            .expect("a 1001x long has a liquidation price");
        // (10,000 − 9.99001)/0.9995 = 9,995.0075 USD per 0.1 BTC: 99,950.07… → 99,950.1.
        assert_eq!(liq, Price(999_501));
        assert!((entry - liq.get()) * 2_000 < entry);
        assert!(!is_liquidatable(&position, Price(entry), &tiers, q).expect("valid"));
    }

    #[test]
    fn fully_collateralized_long_never_liquidates_and_edges_clamp() {
        let tiers = flat(5_000);
        // 1x long: margin equals the notional.
        let position = long(10, 100, 1_000);
        assert_eq!(liquidation_price(&position, &tiers, 1), Ok(None));
        assert_eq!(bankruptcy_price(&position, 1), Ok(None));
        // A short with a margin debt beyond its notional is liquidatable everywhere.
        let position = short(10, 100, -2_000);
        assert_eq!(liquidation_price(&position, &tiers, 1), Ok(Some(Price(1))));
        assert_eq!(bankruptcy_price(&position, 1), Ok(Some(Price(1))));
        // A short whose bankruptcy price is beyond i64 ticks never goes bankrupt there; its
        // liquidation price is (margin + cost)·1e6/1.005e6.
        let position = short(1, 100, i64::MAX - 10);
        assert_eq!(bankruptcy_price(&position, 1), Ok(None));
        let expected = (i128::from(i64::MAX) + 90) * 1_000_000 / 1_005_000;
        let expected = Price(i64::try_from(expected).expect("fits"));
        assert_eq!(liquidation_price(&position, &tiers, 1), Ok(Some(expected)));
    }

    #[test]
    fn invalid_positions_are_rejected() {
        let tiers = flat(5_000);
        let bad = [long(0, 100, 10), long(1, 0, 10)];
        for position in bad {
            assert!(matches!(
                liquidation_price(&position, &tiers, 1),
                Err(RiskError::InvalidInput(_))
            ));
            assert!(bankruptcy_price(&position, 1).is_err());
        }
        assert!(liquidation_price(&long(1, 100, 10), &tiers, 0).is_err());
        assert_eq!(
            liquidation_price(&long(i64::MAX, i64::MAX, 10), &tiers, 1),
            Err(RiskError::Overflow)
        );
        assert_eq!(
            unrealized_pnl(PositionSize(i64::MAX), Price(1), Price(i64::MAX), 2),
            Err(RiskError::Overflow)
        );
    }

    #[test]
    fn pnl_and_equity_are_exact() {
        // Long 3 lots from 100 to 90 at 5 quantums per tick-lot: −150.
        assert_eq!(
            unrealized_pnl(PositionSize(3), Price(100), Price(90), 5),
            Ok(Quote(-150))
        );
        assert_eq!(
            unrealized_pnl(PositionSize(-3), Price(100), Price(90), 5),
            Ok(Quote(150))
        );
        assert_eq!(equity(&long(3, 100, 200), Price(90), 5), Ok(Quote(50)));
        assert_eq!(notional(PositionSize(-3), Price(90), 5), Ok(Quote(1_350)));
    }

    #[test]
    fn fees_round_against_the_account() {
        // 0.05% of 1,001 is 0.5005: a fee rounds up, a rebate toward zero.
        assert_eq!(trade_fee(Quote(1_001), Ppm(500)), Ok(Quote(1)));
        assert_eq!(trade_fee(Quote(1_001), Ppm(-500)), Ok(Quote(0)));
        assert_eq!(trade_fee(Quote(3_000), Ppm(-500)), Ok(Quote(-1)));
        assert!(trade_fee(Quote(-1), Ppm(1)).is_err());
        let fees = FeeSchedule::new(Ppm(-100), Ppm(500)).expect("valid");
        assert_eq!(fees.fee(Quote(1_000_000), Liquidity::Taker), Ok(Quote(500)));
        assert_eq!(
            fees.fee(Quote(1_000_000), Liquidity::Maker),
            Ok(Quote(-100))
        );
        assert!(FeeSchedule::new(Ppm(-600), Ppm(500)).is_err());
        assert!(FeeSchedule::new(Ppm(0), Ppm(-1)).is_err());
    }

    fn arb_tiers() -> impl Strategy<Value = MarginTiers> {
        prop::collection::vec((1i64..10_000_000_000, 0i32..40_000), 1..6).prop_map(|steps| {
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

    fn arb_position() -> impl Strategy<Value = (IsolatedPosition, i64)> {
        (
            1i64..1_000_000,
            any::<bool>(),
            1i64..10_000_000,
            1i64..1_000,
            0u32..=2_000_000,
        )
            .prop_map(|(lots, is_long, entry, q, margin_ppm)| {
                let cost = lots * entry * q;
                // Margin from 0 to 2× the notional.
                let margin = i64::try_from(i128::from(cost) * i128::from(margin_ppm) / 1_000_000)
                    .expect("fits");
                let size = if is_long { lots } else { -lots };
                (
                    IsolatedPosition {
                        size: PositionSize(size),
                        entry: Price(entry),
                        margin: Quote(margin),
                    },
                    q,
                )
            })
    }

    fn liquidatable(p: &IsolatedPosition, mark: i64, tiers: &MarginTiers, q: i64) -> bool {
        is_liquidatable(p, Price(mark), tiers, q).expect("in range")
    }

    proptest! {
        #[test]
        fn liquidation_price_is_the_first_liquidatable_tick_or_one_earlier(
            (position, q) in arb_position(), tiers in arb_tiers()
        ) {
            let liq = liquidation_price(&position, &tiers, q).expect("valid");
            let long = position.size.get() > 0;
            match liq {
                None => {
                    prop_assert!(long);
                    prop_assert!(!liquidatable(&position, 1, &tiers, q));
                }
                Some(Price(l)) => {
                    // Against the account: at L, equity ≥ exact MM.
                    let n = notional(position.size, Price(l), q).expect("fits");
                    let exact = tiers.maintenance_margin_scaled(n).expect("valid");
                    let eq = i128::from(equity(&position, Price(l), q).expect("fits").get());
                    if (long && l < i64::MAX) || (!long && l > 1) {
                        prop_assert!(eq * PPM_ONE >= exact);
                    }
                    // Never late: the tick before L (towards the entry) is not liquidatable.
                    let before = if long { l + 1 } else { l - 1 };
                    if before >= 1 {
                        prop_assert!(!liquidatable(&position, before, &tiers, q));
                    }
                    // At most one tick early: the tick past L is liquidatable.
                    let past = if long { l - 1 } else { l + 1 };
                    if past >= 1 {
                        prop_assert!(liquidatable(&position, past, &tiers, q));
                    }
                }
            }
        }

        #[test]
        fn bankruptcy_price_never_leaves_a_deficit(
            (position, q) in arb_position(), tiers in arb_tiers()
        ) {
            let long = position.size.get() > 0;
            let bankrupt = bankruptcy_price(&position, q).expect("valid");
            match bankrupt {
                None => prop_assert!(long && equity(&position, Price(1), q).expect("fits").get() >= 0),
                Some(Price(b)) => {
                    // Closing at the bankruptcy price leaves equity ≥ 0; one tick worse is < 0.
                    prop_assert!(equity(&position, Price(b), q).expect("fits").get() >= 0);
                    let worse = if long { b - 1 } else { b + 1 };
                    if worse >= 1 {
                        prop_assert!(equity(&position, Price(worse), q).expect("fits").get() < 0);
                    }
                    // Liquidation comes first: a long's liquidation price is at or above it.
                    let liq = liquidation_price(&position, &tiers, q).expect("valid");
                    let liq = liq.expect("a bankrupt-able position is liquidatable").get();
                    let ordered = if long { liq >= b } else { liq <= b };
                    prop_assert!(ordered);
                }
            }
        }

        #[test]
        fn fees_never_favour_the_account(n in 0i64..i64::MAX / 2, rate in -1_000_000i32..=1_000_000) {
            let fee = i128::from(trade_fee(Quote(n), Ppm(rate)).expect("fits").get());
            let exact = i128::from(n) * i128::from(rate);
            prop_assert!(fee * PPM_ONE >= exact);
            prop_assert!((fee - 1) * PPM_ONE < exact);
        }
    }
}
