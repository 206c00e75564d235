//! Decimal strings to and from integer units (ticks, lots, quote quantums, ppm), exactly.
//!
//! Decimal text exists only at the edges (config, CLI, JSON output); the engine and the risk
//! functions see integers. Parsing never rounds: a value with more decimal places than its unit
//! can hold, or that is not a whole number of steps, is an error that says so. No floats.
//!
//! # Grammar
//! `[+|-] digits [. digits]`, or `[+|-] . digits`: ASCII digits, at most one point, no exponent,
//! no separators, no surrounding whitespace. Trailing zeros beyond the unit's precision are
//! accepted (`1.2300` is two decimal places' worth).

use core::fmt;

use cascade_engine::DecimalStep;

/// Decimal places of quote amounts at the edges: one quantum is 1e-6 of the quote currency.
pub const QUOTE_DECIMALS: u8 = 6;

/// The most decimal places a unit may have (`10^18` fits in `i64`).
pub const DECIMALS_MAX: u8 = 18;

/// Why a decimal string was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecimalError {
    /// The text is empty or only a sign.
    Empty,
    /// A character that is not a digit, a leading sign or a single point.
    InvalidCharacter {
        /// The text.
        text: String,
        /// The offending character.
        found: char,
    },
    /// More significant decimal places than the unit holds.
    ExcessPrecision {
        /// The text.
        text: String,
        /// Decimal places the unit holds.
        decimals_max: u8,
    },
    /// Not a whole number of steps (for example 0.3 with a 0.5 tick).
    NotAMultiple {
        /// The text.
        text: String,
        /// The step, as decimal text.
        step: String,
    },
    /// The value does not fit in `i64` units.
    Overflow {
        /// The text.
        text: String,
    },
    /// A unit that cannot be represented (zero or negative step, too many decimals).
    InvalidUnit,
}

impl fmt::Display for DecimalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty number"),
            Self::InvalidCharacter { text, found } => {
                write!(f, "`{text}` is not a decimal number (unexpected {found:?})")
            }
            Self::ExcessPrecision { text, decimals_max } => write!(
                f,
                "`{text}` has more than {decimals_max} decimal place(s): excess precision"
            ),
            Self::NotAMultiple { text, step } => {
                write!(f, "`{text}` is not a multiple of the step {step}")
            }
            Self::Overflow { text } => write!(f, "`{text}` is out of range"),
            Self::InvalidUnit => {
                f.write_str("invalid unit: the step must be positive with at most 18 decimals")
            }
        }
    }
}

impl std::error::Error for DecimalError {}

fn pow10(exponent: u8) -> i128 {
    10i128.pow(u32::from(exponent))
}

/// Parses `text` as an integer number of `10^-decimals` units: `"1.25"` with 2 decimals is 125.
///
/// # Errors
/// [`DecimalError::ExcessPrecision`] when a non-zero digit lies beyond `decimals` places;
/// [`DecimalError::Overflow`] beyond `i64`; [`DecimalError::Empty`] and
/// [`DecimalError::InvalidCharacter`] for text outside the grammar;
/// [`DecimalError::InvalidUnit`] when `decimals` exceeds [`DECIMALS_MAX`].
pub fn parse_scaled(text: &str, decimals: u8) -> Result<i64, DecimalError> {
    if decimals > DECIMALS_MAX {
        return Err(DecimalError::InvalidUnit);
    }
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (integer, fraction) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    if integer.is_empty() && fraction.is_none_or(str::is_empty) {
        return Err(DecimalError::Empty);
    }
    if fraction == Some("") {
        return Err(DecimalError::InvalidCharacter {
            text: text.to_owned(),
            found: '.',
        });
    }
    let bad = integer
        .chars()
        .chain(fraction.unwrap_or("").chars())
        .find(|c| !c.is_ascii_digit());
    if let Some(found) = bad {
        return Err(DecimalError::InvalidCharacter {
            text: text.to_owned(),
            found,
        });
    }
    let overflow = || DecimalError::Overflow {
        text: text.to_owned(),
    };
    let mut value: i128 = 0;
    for digit in integer.bytes() {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i128::from(digit - b'0')))
            .filter(|v| *v <= i128::from(i64::MAX) + 1)
            .ok_or_else(overflow)?;
    }
    let fraction = fraction.unwrap_or("");
    let (kept, dropped) = fraction.split_at(fraction.len().min(usize::from(decimals)));
    if dropped.bytes().any(|d| d != b'0') {
        return Err(DecimalError::ExcessPrecision {
            text: text.to_owned(),
            decimals_max: decimals,
        });
    }
    // value ≤ 2^63 and 10^18 < 2^60: the product is < 2^123.
    value *= pow10(decimals);
    let mut fraction_value: i128 = 0;
    for digit in kept.bytes() {
        fraction_value = fraction_value * 10 + i128::from(digit - b'0');
    }
    let missing = decimals - u8::try_from(kept.len()).expect("invariant: ≤ 18 digits kept");
    value += fraction_value * pow10(missing);
    if negative {
        value = -value;
    }
    i64::try_from(value).map_err(|_| overflow())
}

fn check_step(step: DecimalStep) -> Result<(), DecimalError> {
    if step.mantissa <= 0 || step.scale > DECIMALS_MAX {
        return Err(DecimalError::InvalidUnit);
    }
    Ok(())
}

/// Parses `text` as a whole number of `step`s: `"7735.5"` with a 0.5 tick is 15,471 ticks.
///
/// # Errors
/// As [`parse_scaled`] at the step's scale, plus [`DecimalError::NotAMultiple`] when the value
/// is not a whole number of steps and [`DecimalError::InvalidUnit`] for an invalid step.
pub fn parse_steps(text: &str, step: DecimalStep) -> Result<i64, DecimalError> {
    check_step(step)?;
    let scaled = match parse_scaled(text, step.scale) {
        Err(DecimalError::ExcessPrecision { .. }) => {
            return Err(DecimalError::NotAMultiple {
                text: text.to_owned(),
                step: format_step(step),
            })
        }
        other => other?,
    };
    if scaled % step.mantissa != 0 {
        return Err(DecimalError::NotAMultiple {
            text: text.to_owned(),
            step: format_step(step),
        });
    }
    Ok(scaled / step.mantissa)
}

/// Parses a rate as ppm. Accepts a fraction (`"0.004"`, up to 6 decimals) or a percentage
/// (`"0.4%"`, up to 4 decimals): both are 4,000 ppm.
///
/// # Errors
/// As [`parse_scaled`]; [`DecimalError::Overflow`] beyond `i32`.
pub fn parse_ppm(text: &str) -> Result<i32, DecimalError> {
    let ppm = match text.strip_suffix('%') {
        Some(percent) => parse_scaled(percent, 4).map_err(|e| retext(e, text))?,
        None => parse_scaled(text, 6)?,
    };
    i32::try_from(ppm).map_err(|_| DecimalError::Overflow {
        text: text.to_owned(),
    })
}

/// Puts the caller's full text back into an error raised on a part of it.
fn retext(error: DecimalError, full: &str) -> DecimalError {
    let text = full.to_owned();
    match error {
        DecimalError::InvalidCharacter { found, .. } => {
            DecimalError::InvalidCharacter { text, found }
        }
        DecimalError::ExcessPrecision { decimals_max, .. } => {
            DecimalError::ExcessPrecision { text, decimals_max }
        }
        DecimalError::NotAMultiple { step, .. } => DecimalError::NotAMultiple { text, step },
        DecimalError::Overflow { .. } => DecimalError::Overflow { text },
        other => other,
    }
}

/// Formats `value` units of `10^-decimals` with exactly `decimals` places: 125 with 2 decimals is
/// `"1.25"`, −5 with 3 is `"-0.005"`.
///
/// # Panics
/// Never: `decimals` above 38 is clamped to 38, where any `i128` still fits.
#[must_use]
pub fn format_scaled(value: i128, decimals: u8) -> String {
    let decimals = decimals.min(38);
    let digits = value.unsigned_abs().to_string();
    let width = usize::from(decimals) + 1;
    let padded = format!("{digits:0>width$}");
    let (integer, fraction) = padded.split_at(padded.len() - usize::from(decimals));
    let sign = if value < 0 { "-" } else { "" };
    if fraction.is_empty() {
        format!("{sign}{integer}")
    } else {
        format!("{sign}{integer}.{fraction}")
    }
}

/// Formats a count of `step`s: 15,471 ticks of 0.5 is `"7735.5"`.
#[must_use]
pub fn format_steps(count: i64, step: DecimalStep) -> String {
    // |count| < 2^63 and mantissa < 2^63: the product is < 2^126.
    format_scaled(i128::from(count) * i128::from(step.mantissa), step.scale)
}

/// Formats a step itself: `{5, 1}` is `"0.5"`.
#[must_use]
pub fn format_step(step: DecimalStep) -> String {
    format_steps(1, step)
}

/// Formats ppm as a fraction with 6 decimals: 4,000 is `"0.004000"`.
#[must_use]
pub fn format_ppm(ppm: i64) -> String {
    format_scaled(i128::from(ppm), 6)
}

/// Parses a step such as a tick size: `"0.5"` is `{mantissa 5, scale 1}`, `"0.01"` is
/// `{1, 2}`, `"25"` is `{25, 0}`. Trailing fractional zeros are dropped.
///
/// # Errors
/// As [`parse_scaled`]; [`DecimalError::ExcessPrecision`] beyond [`DECIMALS_MAX`] significant
/// places; [`DecimalError::InvalidUnit`] when the step is not positive.
pub fn parse_step(text: &str) -> Result<DecimalStep, DecimalError> {
    // The scale is the number of significant fractional digits, so the mantissa is as small as
    // it can be and any i64 step fits.
    let significant = text
        .split_once('.')
        .map_or(0, |(_, fraction)| fraction.trim_end_matches('0').len());
    let scale = u8::try_from(significant)
        .ok()
        .filter(|s| *s <= DECIMALS_MAX)
        .ok_or_else(|| DecimalError::ExcessPrecision {
            text: text.to_owned(),
            decimals_max: DECIMALS_MAX,
        })?;
    let mantissa = parse_scaled(text, scale)?;
    if mantissa <= 0 {
        return Err(DecimalError::InvalidUnit);
    }
    Ok(DecimalStep { mantissa, scale })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(mantissa: i64, scale: u8) -> DecimalStep {
        DecimalStep { mantissa, scale }
    }

    #[test]
    fn parses_exactly() {
        assert_eq!(parse_scaled("1.25", 2), Ok(125));
        assert_eq!(parse_scaled("1.2500", 2), Ok(125));
        assert_eq!(parse_scaled("-0.005", 3), Ok(-5));
        assert_eq!(parse_scaled("+7", 0), Ok(7));
        assert_eq!(parse_scaled(".5", 1), Ok(5));
        assert_eq!(parse_scaled("0", 6), Ok(0));
        assert_eq!(parse_scaled("000123.4", 1), Ok(1_234));
        assert_eq!(parse_scaled("9223372036854775807", 0), Ok(i64::MAX));
        assert_eq!(parse_scaled("-9223372036854775808", 0), Ok(i64::MIN));
        assert_eq!(parse_scaled("9223372.036854775807", 12), Ok(i64::MAX));
    }

    #[test]
    fn rejects_with_a_clear_error() {
        assert_eq!(parse_scaled("", 2), Err(DecimalError::Empty));
        assert_eq!(parse_scaled("-", 2), Err(DecimalError::Empty));
        assert_eq!(parse_scaled(".", 2), Err(DecimalError::Empty));
        assert!(matches!(
            parse_scaled("1.", 2),
            Err(DecimalError::InvalidCharacter { .. })
        ));
        assert!(matches!(
            parse_scaled("1e5", 2),
            Err(DecimalError::InvalidCharacter { found: 'e', .. })
        ));
        assert!(matches!(
            parse_scaled(" 1", 2),
            Err(DecimalError::InvalidCharacter { .. })
        ));
        assert!(matches!(
            parse_scaled("1.2.3", 2),
            Err(DecimalError::InvalidCharacter { .. })
        ));
        assert!(matches!(
            parse_scaled("1,000", 2),
            Err(DecimalError::InvalidCharacter { .. })
        ));
        assert!(matches!(
            parse_scaled("--1", 2),
            Err(DecimalError::InvalidCharacter { .. })
        ));
        let excess = parse_scaled("1.235", 2).expect_err("three places");
        assert_eq!(
            excess.to_string(),
            "`1.235` has more than 2 decimal place(s): excess precision"
        );
        assert!(matches!(
            parse_scaled("9223372036854775808", 0),
            Err(DecimalError::Overflow { .. })
        ));
        assert!(matches!(
            parse_scaled("99999999999999999999999999999999999999999", 0),
            Err(DecimalError::Overflow { .. })
        ));
        assert!(matches!(
            parse_scaled("10", 18),
            Err(DecimalError::Overflow { .. })
        ));
        assert_eq!(parse_scaled("1", 19), Err(DecimalError::InvalidUnit));
    }

    #[test]
    fn steps_and_ppm() {
        assert_eq!(parse_steps("7735.5", step(5, 1)), Ok(15_471));
        assert_eq!(parse_steps("100.00", step(1, 2)), Ok(10_000));
        let err = parse_steps("7735.3", step(5, 1)).expect_err("not a half");
        assert_eq!(
            err.to_string(),
            "`7735.3` is not a multiple of the step 0.5"
        );
        assert!(matches!(
            parse_steps("1.001", step(1, 2)),
            Err(DecimalError::NotAMultiple { .. })
        ));
        assert_eq!(parse_steps("1", step(0, 2)), Err(DecimalError::InvalidUnit));
        assert_eq!(parse_ppm("0.004"), Ok(4_000));
        assert_eq!(parse_ppm("0.4%"), Ok(4_000));
        assert_eq!(parse_ppm("0.0001%"), Ok(1));
        assert!(matches!(
            parse_ppm("0.00001%"),
            Err(DecimalError::ExcessPrecision { ref text, .. }) if text == "0.00001%"
        ));
        assert!(matches!(
            parse_ppm("5000"),
            Err(DecimalError::Overflow { .. })
        ));
        assert_eq!(parse_step("0.5"), Ok(step(5, 1)));
        assert_eq!(parse_step("0.010"), Ok(step(1, 2)));
        assert_eq!(parse_step("25"), Ok(step(25, 0)));
        assert_eq!(parse_step("0"), Err(DecimalError::InvalidUnit));
        assert_eq!(parse_step("-0.5"), Err(DecimalError::InvalidUnit));
        assert!(parse_step("0.0000000000000000001").is_err());
    }

    #[test]
    fn formats_exactly() {
        assert_eq!(format_scaled(125, 2), "1.25");
        assert_eq!(format_scaled(-5, 3), "-0.005");
        assert_eq!(format_scaled(0, 2), "0.00");
        assert_eq!(format_scaled(42, 0), "42");
        assert_eq!(
            format_scaled(i128::from(i64::MIN), 6),
            "-9223372036854.775808"
        );
        assert_eq!(format_steps(15_471, step(5, 1)), "7735.5");
        assert_eq!(format_steps(9_950, step(1, 2)), "99.50");
        assert_eq!(format_ppm(4_000), "0.004000");
        assert_eq!(format_step(step(1, 4)), "0.0001");
    }

    #[test]
    fn round_trips() {
        for value in [0i64, 1, -1, 99, 100, 12_345, i64::MAX, i64::MIN, -7_000_001] {
            for decimals in [0u8, 1, 2, 6, 9] {
                let text = format_scaled(i128::from(value), decimals);
                assert_eq!(parse_scaled(&text, decimals), Ok(value), "{text}");
            }
        }
    }
}
