//! The index path: one index price (in ticks) per one-second step.
//!
//! - `shock`: flat at `start_usd`, then a linear move of `shock_pct` over `shock_over_s`
//!   seconds from `shock_at_s`, then a linear give-back of `recover_pct` of the move by the end.
//! - `binance-mark`: a Binance `markPrice@1s` capture, sampled each second (the last message at
//!   or before the step; the first step is the first message).
//! - `candles`: OHLC candles, each walked open → high → low → close when it closed down (open →
//!   low → high → close otherwise), a third of the candle per leg, linearly per second. The
//!   order within a candle is not recorded; this is the usual convention and it is documented
//!   as such in `docs/STRESS.md`.

use crate::data::{self, Inputs};
use crate::decimal::Decimal;
use crate::scenario::PathConfig;
use crate::{Error, Result};

/// The path in ticks, and the wall time of its first step when it comes from a recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexPath {
    /// Index per step, ticks.
    pub ticks: Vec<i64>,
    /// Epoch ms of step 0 for recorded paths (to align recorded trades).
    pub start_ms: Option<u64>,
}

fn to_ticks(usd: f64, tick: f64) -> Result<i64> {
    let t = (usd / tick).round();
    if !(1.0..9.0e15).contains(&t) {
        return Err(Error(format!(
            "index {usd} USD is out of range for the tick"
        )));
    }
    // In range: checked just above.
    #[allow(clippy::cast_possible_truncation)]
    Ok(t as i64)
}

/// Builds the path.
///
/// # Errors
/// Inputs missing or malformed, or a price out of range.
pub fn build(cfg: &PathConfig, inputs: &Inputs, tick: Decimal) -> Result<IndexPath> {
    let tick_f = tick.to_f64();
    match cfg.kind.as_str() {
        "shock" => {
            let n = cfg.duration_s as usize;
            let (at, over) = (cfg.shock_at_s as usize, cfg.shock_over_s as usize);
            let moved = cfg.start_usd * (1.0 + cfg.shock_pct / 100.0);
            let back = (cfg.start_usd - moved) * cfg.recover_pct / 100.0;
            let mut ticks = Vec::with_capacity(n);
            for t in 0..n {
                let usd = if t < at {
                    cfg.start_usd
                } else if t < at + over {
                    let f = ratio(t - at + 1, over);
                    cfg.start_usd + (moved - cfg.start_usd) * f
                } else {
                    let rest = n.saturating_sub(at + over).max(1);
                    moved + back * ratio(t + 1 - (at + over), rest)
                };
                ticks.push(to_ticks(usd, tick_f)?);
            }
            Ok(IndexPath {
                ticks,
                start_ms: None,
            })
        }
        "binance-mark" => {
            let marks = data::read_marks(inputs, &cfg.file, cfg.field == "index")?;
            let first = marks[0].ts_ms;
            let last = marks.iter().map(|m| m.ts_ms).max().unwrap_or(first);
            let steps = usize::try_from((last - first) / 1000 + 1)
                .map_err(|_| Error::msg("path too long"))?;
            let mut ticks = Vec::with_capacity(steps);
            let mut i = 0;
            for s in 0..steps as u64 {
                let t = first + s * 1000;
                while i + 1 < marks.len() && marks[i + 1].ts_ms <= t {
                    i += 1;
                }
                ticks.push(marks[i].price.div_round(tick)?);
            }
            Ok(IndexPath {
                ticks,
                start_ms: Some(first),
            })
        }
        "candles" => {
            let candles = data::read_candles(inputs, &cfg.file, &cfg.from, &cfg.to)?;
            let per_leg = (cfg.candle_s / 3) as usize;
            let mut ticks = Vec::new();
            for c in &candles {
                let [o, h, l, close] = c.ohlc;
                let legs = if close < o {
                    [(o, h), (h, l), (l, close)]
                } else {
                    [(o, l), (l, h), (h, close)]
                };
                for (a, b) in legs {
                    for k in 0..per_leg {
                        ticks.push(to_ticks(a + (b - a) * ratio(k + 1, per_leg), tick_f)?);
                    }
                }
            }
            Ok(IndexPath {
                ticks,
                start_ms: None,
            })
        }
        other => Err(Error(format!("unknown path.kind {other:?}"))),
    }
}

#[allow(clippy::cast_precision_loss)]
fn ratio(a: usize, b: usize) -> f64 {
    a as f64 / b.max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decimal::parse;

    fn shock(pct: f64) -> PathConfig {
        PathConfig {
            kind: "shock".into(),
            start_usd: 28_000.0,
            duration_s: 100,
            shock_at_s: 10,
            shock_pct: pct,
            shock_over_s: 5,
            recover_pct: 0.0,
            file: String::new(),
            field: "mark".into(),
            from: String::new(),
            to: String::new(),
            candle_s: 0,
        }
    }

    #[test]
    fn shock_moves_by_the_percentage_over_its_span() {
        let inputs = Inputs {
            data_dir: ".".into(),
            base_dir: ".".into(),
        };
        let p = build(&shock(-3.0), &inputs, parse("0.1").expect("tick")).expect("path");
        assert_eq!(p.ticks.len(), 100);
        assert_eq!(p.ticks[9], 280_000);
        assert!(p.ticks[10] < 280_000);
        assert_eq!(p.ticks[14], 271_600);
        assert_eq!(p.ticks[99], 271_600);
    }
}
