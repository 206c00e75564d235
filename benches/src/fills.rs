//! What every engine in a comparison must agree on: how many fills, how much traded, and a
//! checksum of the trades in the order they happened.

use std::fmt;

/// Fill count, traded quantity and an order-sensitive checksum of `(maker id, taker id, price,
/// qty)` per fill.
///
/// The checksum folds each field with an FxHash-style rotate-xor-multiply: cheap enough to run
/// inside a timed loop (every engine pays it for every fill), stable across machines and
/// builds, and sensitive to order, so two engines that print the same trades in another order
/// disagree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FillTally {
    /// Fills (one per maker order touched).
    pub fills: u64,
    /// Traded quantity in lots.
    pub qty: u64,
    /// Checksum of the fills in order.
    pub checksum: u64,
}

const FOLD_MULTIPLIER: u64 = 0x517C_C1B7_2722_0A95;

#[inline]
fn fold(h: u64, v: u64) -> u64 {
    (h.rotate_left(5) ^ v).wrapping_mul(FOLD_MULTIPLIER)
}

impl FillTally {
    /// Records one fill.
    #[inline]
    pub fn record(&mut self, maker: u64, taker: u64, price: u64, qty: u64) {
        self.fills += 1;
        self.qty += qty;
        let mut h = fold(self.checksum, maker);
        h = fold(h, taker);
        h = fold(h, price);
        self.checksum = fold(h, qty);
    }

    /// Records one fill whose ids the engine does not report: count and quantity only.
    #[inline]
    pub fn record_anonymous(&mut self, qty: u64) {
        self.fills += 1;
        self.qty += qty;
    }
}

impl fmt::Display for FillTally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "fills {} qty {} checksum {:016x}",
            self.fills, self.qty, self.checksum
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_depends_on_order() {
        let mut a = FillTally::default();
        a.record(1, 2, 100, 5);
        a.record(3, 2, 101, 1);
        let mut b = FillTally::default();
        b.record(3, 2, 101, 1);
        b.record(1, 2, 100, 5);
        assert_eq!((a.fills, a.qty), (b.fills, b.qty));
        assert_ne!(a.checksum, b.checksum);
    }
}
