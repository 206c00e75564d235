//! Venue decimal strings to integer ticks and lots, exactly.
//!
//! Venues print prices and sizes as decimal text, sometimes in exponent form (Bitstamp writes
//! `2.6e-06` BTC). Parsing never rounds: a value that is not a whole number of units is an
//! error, so an import cannot silently move an order's price or size.

use cascade_gateway::decimal::{parse_scaled, DecimalError, DECIMALS_MAX};

/// Parses `text` (optionally with an `e±N` exponent) as a whole number of `10^-decimals` units.
///
/// # Errors
/// A message naming the text when it is not a number, not a whole number of units, or does not
/// fit an `i64`.
pub fn parse_units(text: &str, decimals: u8) -> Result<i64, String> {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => {
            let exp: i32 = text[at + 1..]
                .parse()
                .map_err(|_| format!("bad exponent in {text:?}"))?;
            (&text[..at], exp)
        }
        None => (text, 0),
    };
    let places = i32::from(decimals) + exponent;
    if !(0..=i32::from(DECIMALS_MAX)).contains(&places) {
        return Err(format!(
            "{text:?} is out of range for {decimals} decimal places"
        ));
    }
    // In range 0..=18 just above.
    let places = u8::try_from(places).unwrap_or(DECIMALS_MAX);
    parse_scaled(mantissa, places).map_err(|e| match e {
        DecimalError::ExcessPrecision { .. } => {
            format!("{text:?} is not a whole number of 1e-{decimals} units")
        }
        other => format!("{text:?}: {other}"),
    })
}

/// Rounds a decimal string to the nearest whole number of `10^-decimals` units, half away from
/// zero. Only for reference prices a venue publishes at a finer precision than its tick (mark
/// and index prices), never for orders.
///
/// # Errors
/// As [`parse_units`] for text that is not a number.
pub fn round_units(text: &str, decimals: u8) -> Result<i64, String> {
    if !text.is_ascii() {
        return Err(format!("{text:?} is not a decimal number"));
    }
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let keep = usize::from(decimals).min(frac.len());
    let truncated = format!("{int}.{}", &frac[..keep]);
    let mut units = parse_units(truncated.trim_end_matches('.'), decimals)?;
    if frac.as_bytes().get(keep).is_some_and(|d| *d >= b'5') {
        units = if text.starts_with('-') {
            units.checked_sub(1)
        } else {
            units.checked_add(1)
        }
        .ok_or_else(|| format!("{text:?} overflows"))?;
    }
    Ok(units)
}

/// Decimal places written after the point: `"28145.10"` has 2. Venues pad prices and sizes to
/// the instrument's precision, so this reads the tick or lot size off the data.
#[must_use]
pub fn places(text: &str) -> u8 {
    text.split_once('.')
        .map_or(0, |(_, f)| u8::try_from(f.len()).unwrap_or(u8::MAX))
}

/// The fewest decimal places that hold `text` exactly: `"100.50"` needs 1, `"2.6e-06"` needs 7,
/// `"1200"` needs 0. For formats that do not pad numbers to the instrument's precision.
#[must_use]
pub fn decimals_needed(text: &str) -> u8 {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], text[at + 1..].parse::<i32>().unwrap_or(0)),
        None => (text, 0),
    };
    let frac = mantissa
        .split_once('.')
        .map_or("", |(_, f)| f.trim_end_matches('0'));
    let places = i32::try_from(frac.len())
        .unwrap_or(i32::MAX)
        .saturating_sub(exponent);
    u8::try_from(places.clamp(0, i32::from(u8::MAX))).unwrap_or(u8::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_exponent_forms() {
        assert_eq!(parse_units("78319.0", 0), Ok(78_319));
        assert_eq!(parse_units("0.121", 8), Ok(12_100_000));
        assert_eq!(parse_units("2.6e-06", 8), Ok(260));
        assert_eq!(parse_units("1E2", 0), Ok(100));
        assert!(parse_units("1.5", 0).is_err());
        assert!(parse_units("1e-9", 8).is_err());
        assert!(parse_units("abc", 2).is_err());
        assert!(parse_units("1e-99", 2).is_err());
    }

    #[test]
    fn rounding_half_away_from_zero() {
        assert_eq!(round_units("28155.10000000", 2), Ok(2_815_510));
        assert_eq!(round_units("28165.04857143", 2), Ok(2_816_505));
        assert_eq!(round_units("28165.04457143", 2), Ok(2_816_504));
        assert_eq!(round_units("7", 2), Ok(700));
        assert_eq!(places("28145.10"), 2);
        assert_eq!(places("3"), 0);
        assert!(round_units("1.é5", 2).is_err());
        assert_eq!(decimals_needed("100.50"), 1);
        assert_eq!(decimals_needed("2.6e-06"), 7);
        assert_eq!(decimals_needed("1200"), 0);
        assert_eq!(decimals_needed("1.5e3"), 0);
    }
}
