//! The leveraged population: seeded, drawn account by account in id order.
//!
//! Each account draws, in this order: side (long with probability `long_fraction`), leverage
//! (log-uniform on `leverage_min..=leverage_max`, or from `leverage_choices`), notional
//! (log-uniform on `notional_usd_min..=notional_usd_max`), margin mode (isolated with
//! probability `isolated_fraction`) and entry step (uniform over `entry_window_s`). The
//! generator is SplitMix64 and the log-uniform draws use a power function written here from
//! `+ − × ÷` only, so the population is the same on every platform (no libm).

use crate::scenario::PopulationConfig;

/// One account of the population, before it enters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Member {
    /// Long (true) or short.
    pub long: bool,
    /// Leverage asked for (capped at entry by the market's tiers and `max_leverage`).
    pub leverage: u32,
    /// Position notional in USD at entry.
    pub notional_usd: f64,
    /// Isolated (true) or cross margin.
    pub isolated: bool,
    /// Step (second of the path) at which it opens its position.
    pub entry_step: u32,
}

/// SplitMix64 (Steele, Lea, Flood 2014): small, fast, and the same everywhere.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` with 53 bits.
    #[allow(clippy::cast_precision_loss)]
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `ln x` for `x > 0`, from basic operations only (exponent split, then the atanh series).
#[must_use]
pub fn ln(x: f64) -> f64 {
    assert!(x > 0.0 && x.is_finite(), "ln of a positive finite number");
    let (mut m, mut k) = (x, 0i32);
    while m >= 2.0 {
        m /= 2.0;
        k += 1;
    }
    while m < 1.0 {
        m *= 2.0;
        k -= 1;
    }
    // m in [1, 2): ln m = 2·atanh(z), z = (m−1)/(m+1) ≤ 1/3, so 30 terms are far past f64.
    let z = (m - 1.0) / (m + 1.0);
    let z2 = z * z;
    let (mut term, mut sum) = (z, 0.0);
    for n in 0..30 {
        sum += term / f64::from(2 * n + 1);
        term *= z2;
    }
    f64::from(k) * std::f64::consts::LN_2 + 2.0 * sum
}

/// `e^y` from basic operations only (halving, Taylor series, squaring).
#[must_use]
pub fn exp(y: f64) -> f64 {
    assert!(y.abs() < 700.0, "exp argument in range");
    let mut r = y;
    let mut halvings = 0;
    while r.abs() > 0.01 {
        r /= 2.0;
        halvings += 1;
    }
    let (mut term, mut sum) = (1.0, 1.0);
    for n in 1..20 {
        term *= r / f64::from(n);
        sum += term;
    }
    for _ in 0..halvings {
        sum *= sum;
    }
    sum
}

fn log_uniform(rng: &mut SplitMix64, lo: f64, hi: f64) -> f64 {
    if hi <= lo {
        return lo;
    }
    let u = rng.unit();
    (lo * exp(u * ln(hi / lo))).clamp(lo, hi)
}

/// Draws the population.
#[must_use]
pub fn draw(cfg: &PopulationConfig, seed: u64) -> Vec<Member> {
    let mut rng = SplitMix64::new(seed);
    let total_weight: f64 = cfg.leverage_choices.iter().map(|(_, w)| w).sum();
    (0..cfg.accounts)
        .map(|_| {
            let long = rng.unit() < cfg.long_fraction;
            let leverage = if cfg.leverage_choices.is_empty() {
                let l = log_uniform(
                    &mut rng,
                    f64::from(cfg.leverage_min),
                    f64::from(cfg.leverage_max),
                );
                // In 1..=1001 by the clamp in log_uniform.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let l = l.round() as u32;
                l
            } else {
                let mut pick = rng.unit() * total_weight;
                let mut chosen = cfg.leverage_choices[0].0;
                for (l, w) in &cfg.leverage_choices {
                    chosen = *l;
                    if pick < *w {
                        break;
                    }
                    pick -= w;
                }
                chosen
            };
            let notional_usd = log_uniform(&mut rng, cfg.notional_usd_min, cfg.notional_usd_max);
            let isolated = rng.unit() < cfg.isolated_fraction;
            // Below entry_window_s by construction.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let entry_step = (rng.unit() * f64::from(cfg.entry_window_s)) as u32;
            Member {
                long,
                leverage,
                notional_usd,
                isolated,
                entry_step,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_and_exp_match_the_library_closely() {
        for x in [1e-6, 0.5, 1.0, 2.0, 7.3, 1001.0, 1e9] {
            assert!(
                (ln(x) - x.ln()).abs() < 1e-12 * x.ln().abs().max(1.0),
                "ln {x}"
            );
        }
        for y in [-5.0, -0.3, 0.0, 0.7, 6.9, 20.0] {
            assert!((exp(y) - y.exp()).abs() < 1e-11 * y.exp(), "exp {y}");
        }
    }

    #[test]
    fn draws_are_seeded_and_in_range() {
        let cfg = PopulationConfig {
            accounts: 2_000,
            leverage_min: 2,
            leverage_max: 1001,
            leverage_choices: vec![],
            notional_usd_min: 10.0,
            notional_usd_max: 10_000.0,
            long_fraction: 0.7,
            isolated_fraction: 0.25,
            entry_window_s: 30,
        };
        let a = draw(&cfg, 9);
        assert_eq!(a, draw(&cfg, 9));
        assert_ne!(a, draw(&cfg, 10));
        assert!(a.iter().all(|m| (2..=1001).contains(&m.leverage)));
        assert!(a
            .iter()
            .all(|m| (10.0..=10_000.0).contains(&m.notional_usd)));
        assert!(a.iter().all(|m| m.entry_step < 30));
        let longs = a.iter().filter(|m| m.long).count();
        assert!(
            (1_300..1_500).contains(&longs),
            "{longs} longs of 2000 at 0.7"
        );
        // Log-uniform: about half the draws below the geometric mean (sqrt(2·1001) ≈ 45).
        let low = a.iter().filter(|m| m.leverage < 45).count();
        assert!((850..1_150).contains(&low), "{low} below 45x");
    }
}
