//! Fixed-point numbers: every unit named, every product in `i128`, every division rounded on
//! purpose.
//!
//! # Layout
//! - [`Price`]: ticks (`i64`, > 0 when valid). The tick size lives in the market spec.
//! - [`Qty`]: lots (`i64`, > 0 when valid). The lot size lives in the market spec.
//! - [`PositionSize`]: signed lots, long > 0.
//! - [`Quote`]: quote quantums (for example 1e-6 USDC), signed.
//! - [`Ppm`]: a rate in parts per million.
//! - [`FundingIndex`]: cumulative funding per lot, in quote quantums scaled by
//!   [`FundingIndex::SCALE`].
//!
//! # Rounding
//! Every division names its rounding with [`Rounding`]. The rule is that rounding always goes
//! against the account: margin requirements round up, payouts round down. The remainder ("dust")
//! belongs to the insurance fund.
//!
//! # Invariants
//! Values are plain integers; validity (positivity, ranges) is checked at the boundary where a
//! command enters the engine. Helpers here are `checked`: they return `None` on overflow or on a
//! zero divisor instead of wrapping or panicking.

use core::fmt;

macro_rules! newtype {
    ($(#[$meta:meta])* $name:ident($inner:ty)) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
        #[repr(transparent)]
        pub struct $name(pub $inner);

        impl $name {
            /// The zero value.
            pub const ZERO: Self = Self(0);

            /// Returns the raw integer.
            #[inline]
            #[must_use]
            pub const fn get(self) -> $inner {
                self.0
            }

            /// Adds, returning `None` on overflow.
            #[inline]
            #[must_use]
            pub fn checked_add(self, rhs: Self) -> Option<Self> {
                self.0.checked_add(rhs.0).map(Self)
            }

            /// Subtracts, returning `None` on overflow.
            #[inline]
            #[must_use]
            pub fn checked_sub(self, rhs: Self) -> Option<Self> {
                self.0.checked_sub(rhs.0).map(Self)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

newtype!(
    /// A price in ticks of the market's tick size. Valid prices are strictly positive.
    Price(i64)
);
newtype!(
    /// A quantity in lots of the market's lot size. Valid order quantities are strictly positive.
    Qty(i64)
);
newtype!(
    /// A signed position size in lots: long is positive, short negative.
    PositionSize(i64)
);
newtype!(
    /// An amount of quote currency in quantums (for example 1e-6 USDC). Signed: it can be a debit.
    Quote(i64)
);
newtype!(
    /// A rate in parts per million (1_000_000 = 100%).
    Ppm(i32)
);
newtype!(
    /// Cumulative funding per lot in quote quantums, scaled by [`FundingIndex::SCALE`].
    FundingIndex(i128)
);

impl Ppm {
    /// One whole (100%).
    pub const ONE: i64 = 1_000_000;
}

impl FundingIndex {
    /// Fixed-point scale of the index: 1e9 sub-quantums per quantum.
    pub const SCALE: i128 = 1_000_000_000;
}

impl Qty {
    /// Returns the quantity as a long position of that size.
    #[inline]
    #[must_use]
    pub const fn as_long(self) -> PositionSize {
        PositionSize(self.0)
    }
}

impl PositionSize {
    /// Returns the absolute size in lots.
    ///
    /// # Panics
    /// Never for sizes produced by the engine: they are bounded by open-interest limits far
    /// below `i64::MAX`, so `i64::MIN` cannot occur.
    #[inline]
    #[must_use]
    pub fn abs(self) -> Qty {
        Qty(self
            .0
            .checked_abs()
            .expect("invariant: position size is never i64::MIN"))
    }
}

/// Which way a division rounds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Rounding {
    /// Toward negative infinity.
    Floor,
    /// Toward positive infinity.
    Ceil,
}

/// Computes `a * b / d` in `i128` with the named rounding.
///
/// Returns `None` when `d == 0`, or when the product `a·b` or the result does not fit in
/// `i128` — even if the quotient would (`mul_div(2^100, 2^100, 2^100)` is `None`). For `i64`
/// inputs the product always fits, so only `d == 0` gives `None`.
///
/// # Rounding
/// Exact floor or ceiling of the true rational result, for any signs.
#[inline]
#[must_use]
pub fn mul_div(a: i128, b: i128, d: i128, rounding: Rounding) -> Option<i128> {
    let n = a.checked_mul(b)?;
    div_round(n, d, rounding)
}

/// Divides with the named rounding; `None` on a zero divisor or overflow.
#[inline]
#[must_use]
pub fn div_round(n: i128, d: i128, rounding: Rounding) -> Option<i128> {
    // Money figures nearly always fit in 64 bits: a 64-bit division is a single instruction
    // where the 128-bit one is a library call several times slower. The one 64-bit overflow
    // (`i64::MIN / -1`, whose quotient fits in i128) and a zero divisor fall through to the
    // 128-bit path, so results are the same.
    if let (Ok(n64), Ok(d64)) = (i64::try_from(n), i64::try_from(d)) {
        if let (Some(q), Some(r)) = (n64.checked_div(d64), n64.checked_rem(d64)) {
            return round_quotient(i128::from(q), r != 0, (r < 0) != (d64 < 0), rounding);
        }
    }
    let q = n.checked_div(d)?;
    let r = n.checked_rem(d)?;
    if r == 0 {
        return Some(q);
    }
    // Truncation rounded toward zero; the true quotient is negative exactly when the remainder
    // and divisor have opposite signs.
    round_quotient(q, true, (r < 0) != (d < 0), rounding)
}

/// Moves a truncated quotient `q` to the named rounding: by one step away from zero's side
/// when the division left a remainder and the true quotient lies on that side.
#[inline]
fn round_quotient(q: i128, inexact: bool, negative: bool, rounding: Rounding) -> Option<i128> {
    if !inexact {
        return Some(q);
    }
    match (rounding, negative) {
        (Rounding::Floor, true) => q.checked_sub(1),
        (Rounding::Ceil, false) => q.checked_add(1),
        _ => Some(q),
    }
}

/// Computes `a * b / d` for `i64` inputs and narrows to `i64`.
///
/// Returns `None` on a zero divisor or when the result does not fit in `i64`.
#[inline]
#[must_use]
pub fn mul_div_i64(a: i64, b: i64, d: i64, rounding: Rounding) -> Option<i64> {
    let wide = mul_div(i128::from(a), i128::from(b), i128::from(d), rounding)?;
    i64::try_from(wide).ok()
}

/// Computes `a * b * c` exactly and narrows to `i64`; `None` when it does not fit.
///
/// This is the notional of `price` ticks × `qty` lots × quantums per tick-lot, computed for
/// every limit order: two checked 64-bit products when they fit (a handful of instructions),
/// the 128-bit product only when one overflows (some 40). The answers are the same: an
/// intermediate overflow with a non-zero third factor means the product does not fit either,
/// and the 128-bit path gets the zero factor cases right.
#[inline]
#[must_use]
pub fn mul3_i64(a: i64, b: i64, c: i64) -> Option<i64> {
    match a.checked_mul(b) {
        Some(ab) => ab.checked_mul(c),
        None => mul3_i64_wide(a, b, c),
    }
}

/// [`mul3_i64`] through `i128`, for the products whose first factor pair overflows.
#[cold]
#[inline(never)]
fn mul3_i64_wide(a: i64, b: i64, c: i64) -> Option<i64> {
    let wide = i128::from(a)
        .checked_mul(i128::from(b))?
        .checked_mul(i128::from(c))?;
    i64::try_from(wide).ok()
}

/// Applies a ppm rate to an amount: `amount * ppm / 1e6` with the named rounding.
#[inline]
#[must_use]
pub fn apply_ppm(amount: i64, ppm: i64, rounding: Rounding) -> Option<i64> {
    mul_div_i64(amount, ppm, Ppm::ONE, rounding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn div_round_all_signs() {
        assert_eq!(div_round(7, 2, Rounding::Floor), Some(3));
        assert_eq!(div_round(7, 2, Rounding::Ceil), Some(4));
        assert_eq!(div_round(-7, 2, Rounding::Floor), Some(-4));
        assert_eq!(div_round(-7, 2, Rounding::Ceil), Some(-3));
        assert_eq!(div_round(7, -2, Rounding::Floor), Some(-4));
        assert_eq!(div_round(-7, -2, Rounding::Ceil), Some(4));
        assert_eq!(div_round(6, 3, Rounding::Ceil), Some(2));
        assert_eq!(div_round(1, 0, Rounding::Floor), None);
        assert_eq!(div_round(i128::MIN, -1, Rounding::Floor), None);
    }

    /// Found by the money_math fuzz target's big-integer oracle: the documentation promised
    /// `None` only for a result that does not fit, but an overflowing product gives `None` too.
    #[test]
    fn mul_div_is_none_when_the_product_overflows_even_if_the_quotient_fits() {
        let big = 1i128 << 100;
        assert_eq!(mul_div(big, big, big, Rounding::Floor), None);
        assert_eq!(mul_div(big, 1, big, Rounding::Floor), Some(1));
        assert_eq!(
            mul_div(
                i128::from(i64::MIN),
                i128::from(i64::MIN),
                1,
                Rounding::Ceil
            ),
            Some(1i128 << 126)
        );
    }

    #[test]
    fn narrowing_overflow_is_none() {
        assert_eq!(mul_div_i64(i64::MAX, 2, 1, Rounding::Floor), None);
        assert_eq!(mul_div_i64(i64::MAX, 2, 2, Rounding::Floor), Some(i64::MAX));
        assert_eq!(mul3_i64(i64::MAX, 1, 2), None);
        assert_eq!(
            mul3_i64(1_000_000, 1_000_000, 1_000),
            Some(1_000_000_000_000_000)
        );
    }

    #[test]
    fn apply_ppm_rounds_against_the_account() {
        // 0.05% of 1001 quantums is 0.5005: a fee (requirement) rounds up, a rebate down.
        assert_eq!(apply_ppm(1001, 500, Rounding::Ceil), Some(1));
        assert_eq!(apply_ppm(1001, 500, Rounding::Floor), Some(0));
        assert_eq!(apply_ppm(-1001, 500, Rounding::Floor), Some(-1));
    }

    proptest! {
        #[test]
        fn div_round_matches_definition_in_64_bits(
            n in prop_oneof![any::<i64>(), -1_000i64..1_000],
            d in prop_oneof![any::<i64>(), -10i64..10, Just(-1i64)],
        ) {
            prop_assume!(d != 0);
            let (n, d) = (i128::from(n), i128::from(d));
            let floor = div_round(n, d, Rounding::Floor).expect("fits in i128");
            let ceil = div_round(n, d, Rounding::Ceil).expect("fits in i128");
            prop_assert_eq!(floor, n.div_euclid(d) - i128::from(d < 0 && n.rem_euclid(d) != 0));
            prop_assert_eq!(ceil, -(-n).div_euclid(d) + i128::from(d < 0 && (-n).rem_euclid(d) != 0));
        }

        #[test]
        fn mul_div_matches_definition(a in any::<i64>(), b in any::<i64>(), d in any::<i64>()) {
            prop_assume!(d != 0);
            let (a, b, d) = (i128::from(a), i128::from(b), i128::from(d));
            let floor = mul_div(a, b, d, Rounding::Floor).expect("i64 products fit in i128");
            let ceil = mul_div(a, b, d, Rounding::Ceil).expect("i64 products fit in i128");
            let n = a * b;
            // floor * d <= n < (floor + 1) * d for d > 0, mirrored for d < 0.
            if d > 0 {
                prop_assert!(floor * d <= n && n < (floor + 1) * d);
                prop_assert!(ceil * d >= n && n > (ceil - 1) * d);
            } else {
                prop_assert!(floor * d >= n && n > (floor + 1) * d);
                prop_assert!(ceil * d <= n && n < (ceil - 1) * d);
            }
            prop_assert!(ceil - floor <= 1);
        }

        /// The 64-bit fast path gives the exact product's answer, zero and sign cases included.
        #[test]
        fn mul3_matches_the_wide_product(
            a in prop_oneof![any::<i64>(), -3i64..3, Just(i64::MIN), Just(i64::MAX)],
            b in prop_oneof![any::<i64>(), -3i64..3, Just(i64::MIN)],
            c in prop_oneof![any::<i64>(), -3i64..3, Just(-1i64)],
        ) {
            let exact = i128::from(a).checked_mul(i128::from(b)).and_then(|ab| {
                ab.checked_mul(i128::from(c))
            });
            let expected = exact.and_then(|v| i64::try_from(v).ok());
            prop_assert_eq!(mul3_i64(a, b, c), expected);
        }
    }
}
