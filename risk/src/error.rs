//! The one error type of the risk functions.
//!
//! Risk functions are pure: they either return a value or say which input they refuse. None of
//! them panics on input; a result that does not fit its integer type is [`RiskError::Overflow`].

use core::fmt;

/// Why a risk function refused its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RiskError {
    /// An intermediate or the result does not fit its integer type.
    Overflow,
    /// An input is outside the function's documented domain; the text names the input.
    InvalidInput(&'static str),
    /// A margin tier table breaks a validation rule; the text names the rule.
    InvalidTiers(&'static str),
    /// The requested leverage is above the maximum of the tier the notional falls in.
    LeverageAboveMax {
        /// The leverage asked for.
        leverage: u32,
        /// The tier's maximum.
        leverage_max: u32,
    },
}

impl fmt::Display for RiskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Overflow => f.write_str("arithmetic overflow: the inputs are out of range"),
            Self::InvalidInput(what) => write!(f, "invalid input: {what}"),
            Self::InvalidTiers(what) => write!(f, "invalid margin tiers: {what}"),
            Self::LeverageAboveMax {
                leverage,
                leverage_max,
            } => write!(
                f,
                "leverage {leverage}x is above the tier maximum of {leverage_max}x"
            ),
        }
    }
}

impl std::error::Error for RiskError {}

/// Narrows an `i128` to `i64`, mapping overflow to [`RiskError::Overflow`].
pub(crate) fn to_i64(value: i128) -> Result<i64, RiskError> {
    i64::try_from(value).map_err(|_| RiskError::Overflow)
}

/// Lifts an `Option` from a checked helper into a [`RiskError::Overflow`].
pub(crate) fn checked<T>(value: Option<T>) -> Result<T, RiskError> {
    value.ok_or(RiskError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_problem() {
        assert_eq!(
            RiskError::InvalidInput("size is zero").to_string(),
            "invalid input: size is zero"
        );
        assert_eq!(
            RiskError::LeverageAboveMax {
                leverage: 200,
                leverage_max: 125
            }
            .to_string(),
            "leverage 200x is above the tier maximum of 125x"
        );
        assert_eq!(to_i64(i128::from(i64::MAX) + 1), Err(RiskError::Overflow));
        assert_eq!(checked(None::<i64>), Err(RiskError::Overflow));
    }
}
