//! A small seeded PRNG, written here so a workload is a pure function of its seed on any machine
//! and any version of any dependency.
//!
//! SplitMix64 (Steele, Lea and Flood, 2014): one 64-bit add and a three-step mix per draw. It
//! passes BigCrush, which is far more than a workload generator needs, and it has no state to
//! seed badly. Bounded draws use Lemire's multiply-high reduction; its bias (below 2^-32 for
//! the small bounds used here) does not matter for a workload, and it is the same on every
//! machine, which does.

/// SplitMix64.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator whose whole output is fixed by `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A draw from `0..n`.
    ///
    /// # Panics
    /// If `n` is zero.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0) has no value");
        let wide = u128::from(self.next_u64()) * u128::from(n);
        u64::try_from(wide >> 64).expect("high half of a u128 fits u64")
    }

    /// A draw from `0..n` as `usize`.
    #[inline]
    pub fn index(&mut self, n: usize) -> usize {
        let n64 = u64::try_from(n).expect("usize fits u64");
        usize::try_from(self.below(n64)).expect("a draw below a usize fits usize")
    }

    /// A draw from `lo..=hi`.
    ///
    /// # Panics
    /// If `lo > hi`.
    #[inline]
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        assert!(lo <= hi, "empty range {lo}..={hi}");
        let span = u64::try_from(hi - lo).expect("hi >= lo") + 1;
        lo + i64::try_from(self.below(span)).expect("a draw below an i64 span fits i64")
    }

    /// True with probability `num / den`.
    #[inline]
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_reference_values() {
        // First outputs for seed 1234567, from the reference C implementation.
        let mut r = SplitMix64::new(1_234_567);
        assert_eq!(r.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(r.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn bounded_draws_stay_in_range() {
        let mut r = SplitMix64::new(7);
        for _ in 0..10_000 {
            let x = r.range(-3, 5);
            assert!((-3..=5).contains(&x));
            assert!(r.below(10) < 10);
        }
    }
}
