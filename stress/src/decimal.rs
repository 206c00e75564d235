//! Exact decimal strings to integers, for recorded prices and quantities.
//!
//! Recorded data carries decimal strings ("28145.10"); they become ticks and lots by exact
//! integer arithmetic, so no input value passes through a float on its way into the engine.

use crate::{Error, Result};

/// A decimal `mantissa × 10^-scale`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decimal {
    /// Signed digits.
    pub mantissa: i128,
    /// Decimal places.
    pub scale: u32,
}

/// Parses a plain decimal string (`-12.340`, `5`, `.5`); no exponent.
///
/// # Errors
/// Anything else, or more than 30 digits.
pub fn parse(s: &str) -> Result<Decimal> {
    let t = s.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let digits = int.len() + frac.len();
    if digits == 0 || digits > 30 || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(Error(format!("not a decimal number: {s:?}")));
    }
    let mut m: i128 = 0;
    for b in int.bytes().chain(frac.bytes()) {
        m = m * 10 + i128::from(b - b'0');
    }
    let scale = u32::try_from(frac.len()).map_err(|_| Error(format!("too long: {s:?}")))?;
    Ok(Decimal {
        mantissa: if neg { -m } else { m },
        scale,
    })
}

impl Decimal {
    /// `self / step`, rounded to the nearest integer (ties away from zero).
    ///
    /// # Errors
    /// A zero step or a result outside `i64`.
    pub fn div_round(self, step: Decimal) -> Result<i64> {
        if step.mantissa <= 0 {
            return Err(Error::msg("step must be positive"));
        }
        // Bring both to the larger scale: a / b = (a·10^(s−sa)) / (b·10^(s−sb)).
        let s = self.scale.max(step.scale);
        let range = || Error(format!("value out of range: {self:?} / {step:?}"));
        let a = self
            .mantissa
            .checked_mul(pow10(s - self.scale)?)
            .ok_or_else(range)?;
        let b = step
            .mantissa
            .checked_mul(pow10(s - step.scale)?)
            .ok_or_else(range)?;
        let twice = a.abs().checked_mul(2).and_then(|x| x.checked_add(b));
        let q = twice.ok_or_else(range)? / b.checked_mul(2).ok_or_else(range)?;
        let q = if a < 0 { -q } else { q };
        i64::try_from(q).map_err(|_| range())
    }

    /// The value as a float, for reporting and the makers' ladder only.
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn to_f64(self) -> f64 {
        self.mantissa as f64 / 10f64.powi(i32::try_from(self.scale).unwrap_or(0))
    }
}

fn pow10(e: u32) -> Result<i128> {
    10i128
        .checked_pow(e)
        .ok_or_else(|| Error::msg("decimal scale too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_become_ticks_exactly() {
        let tick = parse("0.1").expect("valid");
        assert_eq!(
            parse("28145.10").and_then(|p| p.div_round(tick)),
            Ok(281_451)
        );
        assert_eq!(
            parse("0.5764").and_then(|p| p.div_round(parse("0.0001")?)),
            Ok(5_764)
        );
        assert_eq!(
            parse("3").and_then(|p| p.div_round(parse("0.001")?)),
            Ok(3_000)
        );
        // Half a lot rounds away from zero.
        assert_eq!(
            parse("0.0005").and_then(|p| p.div_round(parse("0.001")?)),
            Ok(1)
        );
    }

    #[test]
    fn junk_is_an_error() {
        for bad in ["", "-", "1e5", "12.3.4", "abc", "."] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
    }
}
