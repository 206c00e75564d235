//! The risk crate's money arithmetic against an independent big-integer oracle (`num-bigint`):
//! `mul_div`/`div_round` and the `i64` helpers, fees, funding payments and settlement dust,
//! bankruptcy and liquidation prices, liquidation proceeds, and ADL allocation. Every result
//! must equal the exact rational answer rounded as documented, and every overflow must be an
//! error, never a wrap or a panic.
//!
//! Run on stable: `cargo fuzz run money_math -s none`.
#![no_main]

use arbitrary::{Result, Unstructured};
use cascade_risk::adl::{allocate_pro_rata, allocate_queue};
use cascade_risk::funding::{funding_payment, settle_funding};
use cascade_risk::insurance::liquidation_proceeds;
use cascade_risk::liquidation::{bankruptcy_price, is_liquidatable, liquidation_price, trade_fee};
use cascade_risk::num::{apply_ppm, div_round, mul3_i64, mul_div, mul_div_i64, Rounding};
use cascade_risk::{
    FundingRate, IsolatedPosition, MarginTiers, PositionSize, Ppm, Price, Quote, RiskError,
};
use libfuzzer_sys::fuzz_target;
use num_bigint::BigInt;
use num_integer::Integer;

fn big<T: Into<BigInt>>(x: T) -> BigInt {
    x.into()
}

/// Exact `n / d` rounded as named (d ≠ 0).
fn div(n: &BigInt, d: &BigInt, rounding: Rounding) -> BigInt {
    match rounding {
        Rounding::Floor => n.div_floor(d),
        Rounding::Ceil => -((-n).div_floor(d)),
    }
}

fn fits_i64(x: &BigInt) -> Option<i64> {
    i64::try_from(x.clone()).ok()
}

fn fits_i128(x: &BigInt) -> Option<i128> {
    i128::try_from(x.clone()).ok()
}

/// Edge-biased `i64`: zero, ±1, the extremes and their neighbours, powers of ten, or anything.
fn int(u: &mut Unstructured<'_>) -> Result<i64> {
    Ok(match u.int_in_range(0..=11u8)? {
        0 => 0,
        1 => 1,
        2 => -1,
        3 => i64::MAX,
        4 => i64::MIN,
        5 => i64::MAX - 1,
        6 => i64::MIN + 1,
        7 => 10i64.pow(u.int_in_range(0..=18u32)?) * if u.arbitrary()? { 1 } else { -1 },
        _ => u.arbitrary()?,
    })
}

fn wide(u: &mut Unstructured<'_>) -> Result<i128> {
    Ok(match u.int_in_range(0..=5u8)? {
        0 => i128::MAX,
        1 => i128::MIN,
        2 => i128::from(int(u)?) * i128::from(int(u)?),
        _ => i128::from(int(u)?),
    })
}

fn rounding(u: &mut Unstructured<'_>) -> Result<Rounding> {
    Ok(if u.arbitrary()? {
        Rounding::Floor
    } else {
        Rounding::Ceil
    })
}

fn check_mul_div(u: &mut Unstructured<'_>) -> Result<()> {
    let (a, b, d, r) = (wide(u)?, wide(u)?, wide(u)?, rounding(u)?);
    let product = big(a) * big(b);
    // Documented: None on a zero divisor, or when a·b or the result does not fit in i128.
    let want = if d == 0 || fits_i128(&product).is_none() {
        None
    } else {
        fits_i128(&div(&product, &big(d), r))
    };
    assert_eq!(mul_div(a, b, d, r), want, "mul_div({a}, {b}, {d}, {r:?})");
    let want = if d == 0 {
        None
    } else {
        fits_i128(&div(&big(a), &big(d), r))
    };
    assert_eq!(div_round(a, d, r), want, "div_round({a}, {d}, {r:?})");
    Ok(())
}

fn check_i64_helpers(u: &mut Unstructured<'_>) -> Result<()> {
    let (a, b, c, r) = (int(u)?, int(u)?, int(u)?, rounding(u)?);
    let want = (c != 0)
        .then(|| fits_i64(&div(&(big(a) * big(b)), &big(c), r)))
        .flatten();
    assert_eq!(mul_div_i64(a, b, c, r), want, "mul_div_i64({a}, {b}, {c})");
    assert_eq!(mul3_i64(a, b, c), fits_i64(&(big(a) * big(b) * big(c))));
    let want = fits_i64(&div(&(big(a) * big(b)), &big(1_000_000), r));
    assert_eq!(apply_ppm(a, b, r), want, "apply_ppm({a}, {b})");
    Ok(())
}

fn check_fee(u: &mut Unstructured<'_>) -> Result<()> {
    let notional = int(u)?;
    let rate: i32 = u.arbitrary()?;
    let got = trade_fee(Quote(notional), Ppm(rate));
    if notional < 0 {
        assert!(matches!(got, Err(RiskError::InvalidInput(_))), "{got:?}");
        return Ok(());
    }
    // A fee rounds up, a rebate toward zero: both the ceiling.
    let want = fits_i64(&div(
        &(big(notional) * big(rate)),
        &big(1_000_000),
        Rounding::Ceil,
    ));
    match want {
        Some(w) => assert_eq!(got, Ok(Quote(w)), "fee of {notional} at {rate}"),
        None => assert!(
            got.is_err(),
            "fee of {notional} at {rate} overflowed as {got:?}"
        ),
    }
    Ok(())
}

fn check_funding(u: &mut Unstructured<'_>) -> Result<()> {
    let (size, price, c, rate) = (int(u)?, int(u)?, int(u)?, int(u)?);
    let got = funding_payment(PositionSize(size), Price(price), c, FundingRate(rate));
    let exact = -big(size) * big(price) * big(c) * big(rate);
    // The intermediate per-lot index must fit in i128 (price·c·rate), and the result in i64.
    let index = big(price) * big(c) * big(rate);
    let index_fits = fits_i128(&index).is_some() && fits_i128(&(index * -big(size))).is_some();
    let want = index_fits
        .then(|| fits_i64(&div(&exact, &big(1_000_000_000), Rounding::Floor)))
        .flatten();
    match want {
        Some(w) => assert_eq!(got, Ok(Quote(w)), "funding {size}·{price}·{c}·{rate}"),
        None => assert!(
            got.is_err(),
            "funding {size}·{price}·{c}·{rate} gave {got:?}"
        ),
    }
    // Settlement across a zero-sum set of positions: dust = −Σ payments, in 0..n.
    let n = u.int_in_range(1..=6usize)?;
    let mut sizes: Vec<(u32, PositionSize)> = Vec::with_capacity(n + 1);
    let mut net = 0i64;
    for i in 0..n {
        let s = i64::from(u.arbitrary::<i32>()?);
        net += s;
        sizes.push((i as u32, PositionSize(s)));
    }
    sizes.push((n as u32, PositionSize(-net)));
    let (price, c, rate) = (
        u.int_in_range(1..=1_000_000_000)?,
        u.int_in_range(1..=10_000)?,
        u.int_in_range(-100_000_000..=100_000_000)?,
    );
    if let Ok(s) = settle_funding(&sizes, Price(price), c, FundingRate(rate)) {
        let total: i128 = s.payments.iter().map(|(_, q)| i128::from(q.0)).sum();
        assert_eq!(i128::from(s.dust.0), -total);
        assert!(s.dust.0 >= 0 && (s.dust.0 as usize) < sizes.len());
    }
    Ok(())
}

/// Bankruptcy: the tick where margin + size·(p − entry)·c crosses zero, rounded against the
/// account, as `None` or the axis end when no positive i64 tick is it.
fn check_bankruptcy(u: &mut Unstructured<'_>) -> Result<()> {
    let size = int(u)?;
    let entry = int(u)?;
    let margin = int(u)?;
    let c = *u.choose(&[1, 7, 100, 10_000, i64::MAX])?;
    let pos = IsolatedPosition {
        size: PositionSize(size),
        entry: Price(entry),
        margin: Quote(margin),
    };
    let got = bankruptcy_price(&pos, c);
    if size == 0 || entry <= 0 {
        assert!(matches!(got, Err(RiskError::InvalidInput(_))), "{got:?}");
        return Ok(());
    }
    let lots = big(size).magnitude().clone();
    let cost = BigInt::from(lots.clone()) * big(entry) * big(c);
    if fits_i64(&cost).is_none() {
        assert!(got.is_err(), "entry notional {cost} overflowed as {got:?}");
        return Ok(());
    }
    let per_tick = BigInt::from(lots) * big(c);
    let tick = if size > 0 {
        div(&(cost - big(margin)), &per_tick, Rounding::Ceil)
    } else {
        div(&(cost + big(margin)), &per_tick, Rounding::Floor)
    };
    let want = if size > 0 {
        (tick >= big(1)).then(|| Price(fits_i64(&tick).unwrap_or(i64::MAX)))
    } else if tick > big(i64::MAX) {
        None
    } else {
        Some(Price(fits_i64(&tick.max(big(1))).expect("clamped")))
    };
    assert_eq!(got, Ok(want), "bankruptcy of {pos:?} at c={c}");
    Ok(())
}

/// Liquidation price on one flat tier, against an independent big-integer predicate
/// `margin + size·(m − entry)·c ≤ ceil(|size|·m·c·mmr / 1e6)`: liquidatable one tick past the
/// price, not one tick before it.
fn check_liquidation_price(u: &mut Unstructured<'_>) -> Result<()> {
    let size = i64::from(u.arbitrary::<i32>()?);
    let entry = u.int_in_range(1..=1_000_000_000i64)?;
    let margin = int(u)?.clamp(-(1 << 60), 1 << 60);
    let c = *u.choose(&[1, 7, 100])?;
    let leverage = u.int_in_range(1..=1_001u32)?;
    let mmr = u.int_in_range(0..=(999_999 / leverage as i32))?;
    let Ok(tiers) = MarginTiers::flat(Ppm(mmr)) else {
        return Ok(());
    };
    if size == 0 {
        return Ok(());
    }
    let pos = IsolatedPosition {
        size: PositionSize(size),
        entry: Price(entry),
        margin: Quote(margin),
    };
    let liquidatable = |m: i64| -> bool {
        let equity = big(margin) + big(size) * (big(m) - big(entry)) * big(c);
        let notional = big(size.unsigned_abs()) * big(m) * big(c);
        equity <= div(&(notional * big(mmr)), &big(1_000_000), Rounding::Ceil)
    };
    let Ok(got) = liquidation_price(&pos, &tiers, c) else {
        return Ok(());
    };
    // Only prices whose notional fits i64 are meaningful to the engine.
    let in_range = |m: Option<i64>| -> Option<i64> {
        let m = m.filter(|m| *m >= 1)?;
        (big(size.unsigned_abs()) * big(m) * big(c) <= big(i64::MAX)).then_some(m)
    };
    match got {
        Some(Price(l)) if size > 0 => {
            if let Some(m) = in_range(l.checked_sub(1)) {
                assert!(liquidatable(m), "long {pos:?} not liquidatable below {l}");
            }
            if let Some(m) = in_range(l.checked_add(1)) {
                assert!(!liquidatable(m), "long {pos:?} liquidatable above {l}");
            }
        }
        Some(Price(l)) => {
            if let Some(m) = in_range(l.checked_add(1)) {
                assert!(liquidatable(m), "short {pos:?} not liquidatable above {l}");
            }
            if let Some(m) = in_range(l.checked_sub(1)) {
                assert!(!liquidatable(m), "short {pos:?} liquidatable below {l}");
            }
        }
        None => {
            for m in [1, entry, 2 * entry] {
                if in_range(Some(m)).is_some() {
                    if let Ok(l) = is_liquidatable(&pos, Price(m), &tiers, c) {
                        assert!(!l, "{pos:?} has no liquidation price but is at {m}");
                    }
                }
            }
        }
    }
    Ok(())
}

fn check_proceeds(u: &mut Unstructured<'_>) -> Result<()> {
    let (close, bankrupt) = (int(u)?, int(u)?);
    let fee_max = u.int_in_range(0..=1_000_000)?;
    let Ok(p) = liquidation_proceeds(Quote(close), Quote(bankrupt), Ppm(fee_max)) else {
        assert!(fits_i64(&(big(close) - big(bankrupt))).is_none());
        return Ok(());
    };
    let delta = big(close) - big(bankrupt);
    // What the fund gains plus what the account gets back is exactly the surplus (or the fund
    // pays exactly the deficit).
    assert_eq!(big(p.fund_delta.0) + big(p.account_credit.0), delta);
    assert!(p.account_credit.0 >= 0);
    if delta > big(0) {
        let fee = div(
            &(big(close.unsigned_abs()) * big(fee_max)),
            &big(1_000_000),
            Rounding::Ceil,
        );
        assert_eq!(big(p.fund_delta.0), fee.min(delta));
    }
    Ok(())
}

fn check_allocation(u: &mut Unstructured<'_>) -> Result<()> {
    let n = u.int_in_range(0..=8usize)?;
    let mut weights = Vec::with_capacity(n);
    for _ in 0..n {
        weights.push(match u.int_in_range(0..=3u8)? {
            0 => 0,
            1 => i64::MAX / 8,
            _ => u.int_in_range(0..=1_000_000)?,
        });
    }
    let sum: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    let total = u.int_in_range(0..=i64::try_from(sum).unwrap_or(i64::MAX))?;
    let queue = allocate_queue(total, &weights).expect("total ≤ Σ weights");
    let pro = allocate_pro_rata(total, &weights).expect("total ≤ Σ weights");
    for shares in [&queue, &pro] {
        assert_eq!(
            shares.iter().map(|s| i128::from(*s)).sum::<i128>(),
            i128::from(total)
        );
        assert!(shares.iter().zip(&weights).all(|(s, w)| *s >= 0 && s <= w));
    }
    for (s, w) in pro.iter().zip(&weights) {
        // Within one unit of the exact share total·w/Σw.
        let exact_num = big(total) * big(*w);
        let lo = div(&exact_num, &big(sum.max(1)), Rounding::Floor);
        assert!(
            big(*s) == lo || big(*s) == lo + 1,
            "pro-rata share {s} of weight {w}"
        );
    }
    Ok(())
}

fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    while !u.is_empty() {
        match u.int_in_range(0..=7u8)? {
            0 => check_mul_div(&mut u)?,
            1 => check_i64_helpers(&mut u)?,
            2 => check_fee(&mut u)?,
            3 => check_funding(&mut u)?,
            4 => check_bankruptcy(&mut u)?,
            5 => check_liquidation_price(&mut u)?,
            6 => check_proceeds(&mut u)?,
            _ => check_allocation(&mut u)?,
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
