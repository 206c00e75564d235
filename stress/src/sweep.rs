//! Sweeps: every combination of a few parameters, one comparison table and chart.
//!
//! `--sweep max_leverage=1001,100,20 depth=1.0,0.67 adl=queue,pro-rata` runs 3 × 2 × 2 = 12
//! scenarios, in the order of the arguments with the last varying fastest. Keys are the
//! aliases of `scenario::key_path` or any dotted path of the scenario file.

use crate::report::Summary;
use crate::run::{self, RunOptions};
use crate::scenario::{self, Scenario};
use crate::{Error, Result};
use std::fmt::Write as _;
use std::path::Path;

/// One swept parameter and its values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Axis {
    /// Key (alias or dotted path).
    pub key: String,
    /// Values, as written.
    pub values: Vec<String>,
}

/// Parses `key=a,b,c`.
///
/// # Errors
/// No `=`, an empty key or an empty value.
pub fn parse_axis(arg: &str) -> Result<Axis> {
    let (key, values) = arg
        .split_once('=')
        .ok_or_else(|| Error(format!("--sweep {arg:?}: expected key=value,value,...")))?;
    let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).collect();
    if key.trim().is_empty() || values.iter().any(String::is_empty) {
        return Err(Error(format!("--sweep {arg:?}: empty key or value")));
    }
    Ok(Axis {
        key: key.trim().to_string(),
        values,
    })
}

/// Every combination, each a list of overrides (last axis fastest).
#[must_use]
pub fn combinations(axes: &[Axis]) -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for a in axes {
        let mut next = Vec::with_capacity(out.len() * a.values.len());
        for prefix in &out {
            for v in &a.values {
                let mut c = prefix.clone();
                c.push((a.key.clone(), v.clone()));
                next.push(c);
            }
        }
        out = next;
    }
    out
}

/// One combination's result.
#[derive(Clone, Debug)]
pub struct Case {
    /// The overrides.
    pub overrides: Vec<(String, String)>,
    /// Its summary.
    pub summary: Summary,
}

/// Loads the scenario once per combination (with `base` overrides first) and runs each.
///
/// # Errors
/// A combination that does not parse or run; the message names it.
pub fn run(
    file: &Path,
    base: &[(String, String)],
    axes: &[Axis],
    opts: &RunOptions,
    mut each: impl FnMut(&Case, &run::Outcome),
) -> Result<Vec<Case>> {
    let mut cases = Vec::new();
    for combo in combinations(axes) {
        let mut all = base.to_vec();
        all.extend(combo.iter().cloned());
        let s: Scenario = scenario::load(file, &all)?;
        let out = run::run(&s, opts).map_err(|e| Error(format!("{}: {e}", label(&combo))))?;
        let case = Case {
            overrides: combo,
            summary: out.summary.clone(),
        };
        each(&case, &out);
        cases.push(case);
    }
    Ok(cases)
}

/// `key=value key=value`.
#[must_use]
pub fn label(overrides: &[(String, String)]) -> String {
    overrides
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The comparison table.
#[must_use]
pub fn table(cases: &[Case]) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{:>3}  {:<44}{:>8}{:>16}{:>14}{:>14}{:>8}{:>14}{:>14}{:>8}",
        "#",
        "combination",
        "liqs",
        "liquidated USD",
        "fund min",
        "fund end",
        "ADL",
        "haircut",
        "overshoot",
        "amplif"
    );
    for (i, c) in cases.iter().enumerate() {
        let s = &c.summary;
        let _ = writeln!(
            o,
            "{:>3}  {:<44}{:>8}{:>16.0}{:>14.0}{:>14.0}{:>8}{:>14.0}{:>14.0}{:>8}",
            i + 1,
            label(&c.overrides),
            s.liquidations,
            s.liquidated_usd,
            s.insurance_fund_min_usd,
            s.insurance_fund_end_usd,
            s.adl_fills,
            s.adl_haircut_usd,
            s.adl_overshoot_usd,
            s.amplification
                .map_or_else(|| "n/a".into(), |a| format!("{a:.3}"))
        );
    }
    o
}

/// The comparison as JSON: each combination's overrides and summary.
#[must_use]
pub fn json(cases: &[Case]) -> String {
    let v: Vec<serde_json::Value> = cases
        .iter()
        .map(|c| {
            serde_json::json!({
                "overrides": c.overrides.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
                "summary": c.summary,
            })
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}

/// The comparison chart: liquidated notional, insurance fund minimum, ADL haircut and the
/// amplification factor per combination.
#[must_use]
pub fn chart(cases: &[Case]) -> String {
    let labels: Vec<String> = cases.iter().map(|c| label(&c.overrides)).collect();
    let col = |f: fn(&Summary) -> f64| cases.iter().map(|c| f(&c.summary)).collect::<Vec<f64>>();
    crate::svg::comparison(
        &labels,
        &[
            ("liquidated notional (USD)", col(|s| s.liquidated_usd)),
            (
                "insurance fund minimum (USD)",
                col(|s| s.insurance_fund_min_usd),
            ),
            ("ADL haircut (USD)", col(|s| s.adl_haircut_usd)),
            (
                "amplification factor",
                col(|s| s.amplification.unwrap_or(0.0)),
            ),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_combination_last_axis_fastest() {
        let axes = [
            parse_axis("max_leverage=1001,100,20").expect("axis"),
            parse_axis("depth=1.0,0.67").expect("axis"),
            parse_axis("adl=queue,pro-rata").expect("axis"),
        ];
        let c = combinations(&axes);
        assert_eq!(c.len(), 12);
        assert_eq!(label(&c[0]), "max_leverage=1001 depth=1.0 adl=queue");
        assert_eq!(label(&c[1]), "max_leverage=1001 depth=1.0 adl=pro-rata");
        assert_eq!(label(&c[11]), "max_leverage=20 depth=0.67 adl=pro-rata");
        let unique: std::collections::BTreeSet<String> = c.iter().map(|x| label(x)).collect();
        assert_eq!(unique.len(), 12);
    }

    #[test]
    fn malformed_axes_are_errors() {
        assert!(parse_axis("depth").is_err());
        assert!(parse_axis("=1,2").is_err());
        assert!(parse_axis("depth=1,,2").is_err());
    }
}
