//! Auto-deleveraging: ranking, indicator lights, allocation, and a drawdown trigger.
//!
//! # Ranking (BitMEX, copied by Binance, MEXC and others)
//! - profitable: `score = PnL% × EL`; losing: `score = PnL% / EL` (BitMEX);
//! - `PnL% = unrealized PnL / |entry notional|`;
//! - `EL = |mark notional| / equity` (BitMEX's `|MarkValue| / (MarkValue − BankruptValue)`: for
//!   an isolated position the distance to bankruptcy is its equity).
//!
//! The highest score is deleveraged first; equal scores go by ascending account id, so the queue
//! is a total order and a function of state alone. Longs and shorts are ranked separately (the
//! caller ranks only the side opposite to the bankrupt position).
//!
//! # Units and rounding
//! Scores are fixed point with [`SCORE_SCALE`] (1e9). Every division floors; a score is an order,
//! not a payment. Scores too large for `i128` saturate, which only merges the order of positions
//! beyond any realistic leverage; the account id still orders them.
//!
//! # Allocation
//! [`allocate_queue`] fills candidates greedily in queue order (BitMEX, Binance, Hyperliquid).
//! [`allocate_pro_rata`] splits across all candidates in proportion to their weights (the
//! risk-aware alternative argued for after 10 October 2025), in integers: each gets the floor of
//! its exact share, and the remainder goes one unit at a time in queue order to candidates
//! whose exact share was not whole. Both sum exactly to the total.

use core::cmp::Ordering;

use crate::error::{checked, to_i64, RiskError};
use crate::liquidation::{notional, unrealized_pnl};
use crate::num::{div_round, PositionSize, Ppm, Price, Quote, Rounding};

/// Fixed-point scale of ADL scores.
pub const SCORE_SCALE: i128 = 1_000_000_000;

const PPM_ONE: i128 = 1_000_000;

/// An ADL ranking score, scaled by [`SCORE_SCALE`]. Higher is deleveraged first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct AdlScore(pub i128);

/// A position's ADL score (BitMEX): `PnL% × EL` when profitable, `PnL% / EL` when losing.
///
/// A non-positive equity counts as infinite effective leverage.
///
/// # Rounding
/// Floor at each step (`PnL%`, `EL`, then the score); saturating at `i128::MAX` for a
/// profitable score too large to represent.
///
/// # Errors
/// [`RiskError::InvalidInput`] for a zero size, non-positive prices or `quote_per_tick_lot`;
/// [`RiskError::Overflow`] when a notional does not fit in `i64`.
pub fn adl_score(
    size: PositionSize,
    entry: Price,
    mark: Price,
    equity: Quote,
    quote_per_tick_lot: i64,
) -> Result<AdlScore, RiskError> {
    if size.get() == 0 || entry.get() <= 0 || mark.get() <= 0 {
        return Err(RiskError::InvalidInput(
            "size must be non-zero and prices positive",
        ));
    }
    let entry_notional = i128::from(notional(size, entry, quote_per_tick_lot)?.get());
    let mark_notional = i128::from(notional(size, mark, quote_per_tick_lot)?.get());
    let pnl = i128::from(unrealized_pnl(size, entry, mark, quote_per_tick_lot)?.get());
    // |pnl| < 2^64 and SCORE_SCALE < 2^30: the products below are < 2^94.
    let pnl_pct = checked(div_round(
        pnl * SCORE_SCALE,
        entry_notional,
        Rounding::Floor,
    ))?;
    let leverage = if equity.get() <= 0 {
        i128::MAX
    } else {
        checked(div_round(
            mark_notional * SCORE_SCALE,
            i128::from(equity.get()),
            Rounding::Floor,
        ))?
        .max(1)
    };
    let score = if pnl >= 0 {
        pnl_pct
            .checked_mul(leverage)
            .map_or(i128::MAX, |v| v / SCORE_SCALE)
    } else {
        // pnl_pct·SCORE_SCALE < 2^124 in magnitude; leverage ≥ 1.
        checked(div_round(pnl_pct * SCORE_SCALE, leverage, Rounding::Floor))?
    };
    Ok(AdlScore(score))
}

/// An ADL candidate: an account and its score.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdlCandidate<A> {
    /// The account holding the position.
    pub account: A,
    /// Its score.
    pub score: AdlScore,
}

/// Queue order: higher score first, then lower account id. A total order when account ids are
/// unique.
#[must_use]
pub fn queue_order<A: Ord>(a: &AdlCandidate<A>, b: &AdlCandidate<A>) -> Ordering {
    b.score
        .cmp(&a.score)
        .then_with(|| a.account.cmp(&b.account))
}

/// Sorts candidates into queue order ([`queue_order`]).
pub fn sort_queue<A: Ord>(candidates: &mut [AdlCandidate<A>]) {
    // The order is total (unique account ids), so an unstable sort is deterministic.
    candidates.sort_unstable_by(queue_order);
}

/// ADL indicator lights (1..=5) for the candidate at `rank` (0 = first deleveraged) of `count`:
/// five lights for the top 20%, one for the bottom 20% (BitMEX's 5 lights in 20% steps;
/// Binance's quantile `rank/N`).
///
/// # Rounding
/// The quantile `5·rank/count` floors, so a boundary rank gets the higher light count.
///
/// # Errors
/// [`RiskError::InvalidInput`] when `rank ≥ count`.
pub fn indicator_lights(rank: usize, count: usize) -> Result<u8, RiskError> {
    if rank >= count {
        return Err(RiskError::InvalidInput("rank must be below count"));
    }
    // rank < count ≤ usize::MAX: 5·rank fits in u128.
    let quantile = 5 * rank as u128 / count as u128;
    let lights = 5 - u8::try_from(quantile).expect("invariant: quantile < 5");
    assert!((1..=5).contains(&lights), "invariant: 1..=5 lights");
    Ok(lights)
}

fn validate_allocation(total: i64, weights: &[i64]) -> Result<i128, RiskError> {
    if total < 0 {
        return Err(RiskError::InvalidInput("total must not be negative"));
    }
    if weights.iter().any(|&w| w < 0) {
        return Err(RiskError::InvalidInput("weights must not be negative"));
    }
    let sum: i128 = weights.iter().map(|&w| i128::from(w)).sum();
    if i128::from(total) > sum {
        return Err(RiskError::InvalidInput(
            "total exceeds the sum of the weights",
        ));
    }
    Ok(sum)
}

/// Fills `total` greedily in queue order: each candidate takes `min(weight, remaining)`.
///
/// # Rounding
/// None: integer and exact.
///
/// # Errors
/// [`RiskError::InvalidInput`] when `total` or a weight is negative, or `total` exceeds the sum
/// of the weights.
pub fn allocate_queue(total: i64, weights: &[i64]) -> Result<Vec<i64>, RiskError> {
    validate_allocation(total, weights)?;
    let mut remaining = total;
    let shares: Vec<i64> = weights
        .iter()
        .map(|&w| {
            let take = w.min(remaining);
            remaining -= take;
            take
        })
        .collect();
    assert_eq!(remaining, 0, "invariant: total ≤ Σ weights");
    Ok(shares)
}

/// Splits `total` across candidates in proportion to `weights` (given in queue order).
///
/// # Rounding
/// Each share is `floor(total·w/W)`; the remainder (fewer units than candidates) goes one unit
/// each, in queue order, to candidates whose exact share was not whole. So the shares sum to
/// `total` exactly, each is within one unit of its exact share, and none exceeds its weight.
///
/// # Errors
/// As [`allocate_queue`].
pub fn allocate_pro_rata(total: i64, weights: &[i64]) -> Result<Vec<i64>, RiskError> {
    let sum = validate_allocation(total, weights)?;
    if total == 0 {
        return Ok(vec![0; weights.len()]);
    }
    let total_wide = i128::from(total);
    let mut shares = Vec::with_capacity(weights.len());
    let mut fractional = Vec::with_capacity(weights.len());
    let mut given: i128 = 0;
    for &w in weights {
        // total, w < 2^63: the product is < 2^126; sum > 0 because total ≤ sum and total > 0.
        let exact = total_wide * i128::from(w);
        let share = exact / sum;
        given += share;
        shares.push(to_i64(share)?);
        fractional.push(exact % sum != 0);
    }
    let mut remainder = total_wide - given;
    for (share, has_fraction) in shares.iter_mut().zip(&fractional) {
        if remainder == 0 {
            break;
        }
        if *has_fraction {
            *share += 1;
            remainder -= 1;
        }
    }
    assert_eq!(
        remainder, 0,
        "invariant: fewer remainder units than fractional shares"
    );
    Ok(shares)
}

/// A pool's PnL over the window as a ratio of its starting balance, in ppm (Bybit's
/// `pnlRatio`).
///
/// # Rounding
/// Floor: a drawdown never looks smaller than it is.
///
/// # Errors
/// [`RiskError::InvalidInput`] when `balance_start` is not positive.
pub fn drawdown_ratio(balance_start: Quote, pnl: Quote) -> Result<i64, RiskError> {
    if balance_start.get() <= 0 {
        return Err(RiskError::InvalidInput("starting balance must be positive"));
    }
    let ratio = checked(div_round(
        i128::from(pnl.get()) * PPM_ONE,
        i128::from(balance_start.get()),
        Rounding::Floor,
    ))?;
    to_i64(ratio)
}

/// Bybit's drawdown trigger: when `pnl / balance_start` is below `trigger` (e.g. −30%), ADL
/// runs, and the deleveraged side subsidizes the pool back to exactly `trigger`. Returns the
/// subsidy, or `None` when ADL does not trigger.
///
/// # Rounding
/// The subsidy `trigger·balance_start − pnl` rounds up: the pool is restored at least to the
/// trigger.
///
/// # Errors
/// [`RiskError::InvalidInput`] when `balance_start` is not positive or `trigger` is positive.
pub fn drawdown_subsidy(
    balance_start: Quote,
    pnl: Quote,
    trigger: Ppm,
) -> Result<Option<Quote>, RiskError> {
    if balance_start.get() <= 0 {
        return Err(RiskError::InvalidInput("starting balance must be positive"));
    }
    if trigger.get() > 0 {
        return Err(RiskError::InvalidInput("trigger must not be positive"));
    }
    let floor_scaled = i128::from(trigger.get()) * i128::from(balance_start.get());
    let pnl_scaled = i128::from(pnl.get()) * PPM_ONE;
    if pnl_scaled >= floor_scaled {
        return Ok(None);
    }
    let subsidy = checked(div_round(
        floor_scaled - pnl_scaled,
        PPM_ONE,
        Rounding::Ceil,
    ))?;
    assert!(subsidy > 0, "invariant: triggered only below the floor");
    Ok(Some(Quote(to_i64(subsidy)?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const USD: i64 = 1_000_000;

    /// BitMEX ADL ranking (RISK-REFERENCE §2.5): PnL% × EL when profitable, PnL% / EL when
    /// losing. Short 1 lot at 100 with 10 of margin, mark 90: PnL +10 (10%), equity 20, mark
    /// notional 90, EL 4.5: score 0.45.
    #[test]
    fn bitmex_ranking_formula() {
        let score = adl_score(PositionSize(-1), Price(100), Price(90), Quote(20), 1);
        assert_eq!(score, Ok(AdlScore(450_000_000)));
        // Losing long 1 at 100 marked 90 with 20 of margin (equity 10): PnL% −10%, EL 9:
        // score −0.1/9 = −0.0111… → floor −11,111,112.
        let score = adl_score(PositionSize(1), Price(100), Price(90), Quote(10), 1);
        assert_eq!(score, Ok(AdlScore(-11_111_112)));
        // Higher leverage ranks a winner higher: same PnL, half the equity.
        let low = adl_score(PositionSize(-1), Price(100), Price(90), Quote(40), 1).expect("ok");
        let high = adl_score(PositionSize(-1), Price(100), Price(90), Quote(20), 1).expect("ok");
        assert!(high > low);
        // Non-positive equity: infinite leverage.
        let broke = adl_score(PositionSize(1), Price(100), Price(90), Quote(0), 1);
        assert_eq!(broke, Ok(AdlScore(-1)));
        assert!(adl_score(PositionSize(0), Price(100), Price(90), Quote(1), 1).is_err());
    }

    #[test]
    fn queue_orders_by_score_then_account() {
        let mut queue = vec![
            AdlCandidate {
                account: 3u32,
                score: AdlScore(5),
            },
            AdlCandidate {
                account: 1,
                score: AdlScore(5),
            },
            AdlCandidate {
                account: 2,
                score: AdlScore(9),
            },
            AdlCandidate {
                account: 0,
                score: AdlScore(-1),
            },
        ];
        sort_queue(&mut queue);
        let accounts: Vec<u32> = queue.iter().map(|c| c.account).collect();
        assert_eq!(accounts, vec![2, 1, 3, 0]);
    }

    /// BitMEX: 5 lights in 20% steps.
    #[test]
    fn bitmex_indicator_lights() {
        let lights: Vec<u8> = (0..10)
            .map(|r| indicator_lights(r, 10).expect("ok"))
            .collect();
        assert_eq!(lights, vec![5, 5, 4, 4, 3, 3, 2, 2, 1, 1]);
        assert_eq!(indicator_lights(0, 1), Ok(5));
        assert!(indicator_lights(3, 3).is_err());
    }

    /// RISK-REFERENCE §3 example 18 (OKX clawback, 2018): a shortfall socialized pro rata
    /// across profitable traders (~18% of gains). Here 180 over gains of 500, 300 and 200.
    #[test]
    fn okx_pro_rata_clawback_example() {
        assert_eq!(
            allocate_pro_rata(180, &[500, 300, 200]),
            Ok(vec![90, 54, 36])
        );
        // Remainders go in queue order to inexact shares: 10 over 3 equal weights.
        assert_eq!(allocate_pro_rata(10, &[7, 7, 7]), Ok(vec![4, 3, 3]));
        // Whole shares never take a remainder unit: 3 over [2, 2, 1, 1] → exact 1, 1, .5, .5.
        assert_eq!(allocate_pro_rata(3, &[2, 2, 1, 1]), Ok(vec![1, 1, 1, 0]));
        assert_eq!(allocate_queue(10, &[4, 4, 4]), Ok(vec![4, 4, 2]));
        assert!(allocate_pro_rata(10, &[4, 4]).is_err());
        assert!(allocate_pro_rata(-1, &[4]).is_err());
        assert!(allocate_queue(1, &[-1, 4]).is_err());
        assert_eq!(allocate_pro_rata(0, &[]), Ok(vec![]));
    }

    /// RISK-REFERENCE §3 example 4 (Bybit ADL drawdown trigger): pool starting at 1M, A loses
    /// 350K (pnlRatio −35% < −30%): ADL triggers and the ADL'd users subsidize 50K so A stays at
    /// −30%. ADL stops once the ratio is above −25%.
    #[test]
    fn bybit_drawdown_trigger_example() {
        let start = Quote(1_000_000 * USD);
        let pnl = Quote(-350_000 * USD);
        assert_eq!(drawdown_ratio(start, pnl), Ok(-350_000));
        assert_eq!(
            drawdown_subsidy(start, pnl, Ppm(-300_000)),
            Ok(Some(Quote(50_000 * USD)))
        );
        assert_eq!(
            drawdown_subsidy(start, Quote(-290_000 * USD), Ppm(-300_000)),
            Ok(None)
        );
        let after = drawdown_ratio(start, Quote(-240_000 * USD)).expect("ok");
        assert!(after > -250_000);
        assert!(drawdown_subsidy(Quote(0), pnl, Ppm(-1)).is_err());
        assert!(drawdown_subsidy(start, pnl, Ppm(1)).is_err());
    }

    proptest! {
        #[test]
        fn pro_rata_sums_exactly_and_stays_within_a_unit(
            weights in prop::collection::vec(0i64..1_000_000_000, 1..30), fraction in 0u32..=1_000
        ) {
            let sum: i64 = weights.iter().sum();
            let total = i64::try_from(i128::from(sum) * i128::from(fraction) / 1_000)
                .expect("fits");
            let shares = allocate_pro_rata(total, &weights).expect("valid");
            prop_assert_eq!(shares.iter().sum::<i64>(), total);
            for (&share, &w) in shares.iter().zip(&weights) {
                prop_assert!(share >= 0 && share <= w);
                let exact = i128::from(total) * i128::from(w);
                let scaled = i128::from(share) * i128::from(sum.max(1));
                prop_assert!((scaled - exact).abs() < i128::from(sum.max(1)));
            }
            let queue = allocate_queue(total, &weights).expect("valid");
            prop_assert_eq!(queue.iter().sum::<i64>(), total);
        }

        #[test]
        fn queue_order_is_total_and_deterministic(
            scores in prop::collection::vec(-5i128..5, 1..40)
        ) {
            let mut a: Vec<AdlCandidate<usize>> = scores
                .iter()
                .enumerate()
                .map(|(i, &s)| AdlCandidate { account: i, score: AdlScore(s) })
                .collect();
            let mut b = a.clone();
            b.reverse();
            sort_queue(&mut a);
            sort_queue(&mut b);
            prop_assert_eq!(&a, &b);
            for pair in a.windows(2) {
                prop_assert_eq!(queue_order(&pair[0], &pair[1]), Ordering::Less);
            }
        }

        #[test]
        fn winners_outrank_losers(
            entry in 2i64..1_000_000, up in 1i64..1_000_000, down_permille in 0i64..1_000,
            margin in 1i64..1_000_000_000
        ) {
            // A loss of 1 tick up to 99.9% of the entry, so the mark stays positive.
            let down = (entry * down_permille / 1_000).clamp(1, entry - 1);
            let winner = adl_score(PositionSize(10), Price(entry), Price(entry + up), Quote(margin), 1)
                .expect("ok");
            let loser = adl_score(PositionSize(10), Price(entry), Price(entry - down), Quote(margin), 1)
                .expect("ok");
            prop_assert!(winner >= AdlScore(0));
            prop_assert!(loser < AdlScore(0) || loser == AdlScore(0));
            prop_assert!(winner > loser || (winner == AdlScore(0) && loser == AdlScore(0)));
        }
    }
}
