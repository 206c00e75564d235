//! Plots as hand-written SVG: no font or image library, so they build on a bare machine.
//!
//! Text is left to the viewer's default sans-serif font (SVG `<text>`), which every browser
//! has. Long series are reduced to at most `POINTS_MAX` points (lines keep each bucket's last
//! value, bars sum their bucket), so a one-hour run stays a small file.

use crate::report::{Row, Summary};
use std::fmt::Write as _;

const WIDTH: f64 = 960.0;
const PANEL_HEIGHT: f64 = 180.0;
const LEFT: f64 = 90.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 30.0;
const POINTS_MAX: usize = 1_200;
const COLOURS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e"];

/// One line (or bar series) of a panel.
struct Series<'a> {
    name: &'a str,
    values: Vec<f64>,
    bars: bool,
}

fn reduce(values: &[f64], bars: bool) -> Vec<f64> {
    if values.len() <= POINTS_MAX {
        return values.to_vec();
    }
    let k = values.len().div_ceil(POINTS_MAX);
    values
        .chunks(k)
        .map(|c| {
            if bars {
                c.iter().sum()
            } else {
                c.last().copied().unwrap_or(0.0)
            }
        })
        .collect()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn label(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.2}B", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.4}")
    }
}

#[allow(clippy::cast_precision_loss)]
fn panel(out: &mut String, top: f64, title: &str, x_label: &str, series: &[Series<'_>]) {
    let h = PANEL_HEIGHT - 50.0;
    let w = WIDTH - LEFT - RIGHT;
    let reduced: Vec<Vec<f64>> = series.iter().map(|s| reduce(&s.values, s.bars)).collect();
    let all = reduced
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite() && *v != 0.0);
    let (mut lo, mut hi) = all.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    if series.iter().any(|s| s.bars) || lo > hi {
        lo = lo.min(0.0);
    }
    if lo > hi {
        (lo, hi) = (0.0, 1.0);
    }
    if (hi - lo).abs() < f64::EPSILON {
        hi = lo + 1.0;
    }
    let _ = writeln!(
        out,
        "<text x=\"{LEFT}\" y=\"{:.1}\" font-size=\"14\" font-weight=\"bold\">{}</text>",
        top - 8.0,
        escape(title)
    );
    let _ = writeln!(
        out,
        "<rect x=\"{LEFT}\" y=\"{top:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"none\" stroke=\"#888\"/>"
    );
    for (i, v) in [hi, (hi + lo) / 2.0, lo].iter().enumerate() {
        let y = top + h * i as f64 / 2.0;
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            LEFT - 6.0,
            y + 4.0,
            label(*v)
        );
    }
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
        LEFT + w,
        top + h + 14.0,
        escape(x_label)
    );
    for (si, (s, vals)) in series.iter().zip(&reduced).enumerate() {
        let colour = COLOURS[si % COLOURS.len()];
        let n = vals.len().max(1) as f64;
        let y_of = |v: f64| top + h - (v - lo) / (hi - lo) * h;
        if s.bars {
            let bw = (w / n).max(0.5);
            for (i, v) in vals.iter().enumerate() {
                if *v > 0.0 {
                    let x = LEFT + w * i as f64 / n;
                    let y = y_of(*v);
                    let _ = writeln!(
                        out,
                        "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.2}\" height=\"{:.1}\" fill=\"{colour}\"/>",
                        (top + h - y).max(0.5)
                    );
                }
            }
        } else {
            let mut pts = String::new();
            for (i, v) in vals.iter().enumerate() {
                if v.is_finite() && *v != 0.0 {
                    let x = LEFT + w * i as f64 / (n - 1.0).max(1.0);
                    let _ = write!(pts, "{x:.1},{:.1} ", y_of(*v));
                }
            }
            let _ = writeln!(
                out,
                "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.2\" points=\"{}\"/>",
                pts.trim_end()
            );
        }
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"{colour}\">{}</text>",
            LEFT + 10.0 + 150.0 * si as f64,
            top + 14.0,
            escape(s.name)
        );
    }
}

fn document(panels: usize, extra: f64, body: &str) -> String {
    #[allow(clippy::cast_precision_loss)]
    let height = TOP + PANEL_HEIGHT * panels as f64 + extra;
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         font-family=\"sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n{body}</svg>\n"
    )
}

/// Price, liquidations per second, insurance fund and depth at 1%, one panel each.
#[must_use]
pub fn timeseries(summary: &Summary, rows: &[Row]) -> String {
    let col = |f: fn(&Row) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
    let mut body = String::new();
    let x = format!("seconds (0 to {})", rows.len());
    let panels: [(String, Vec<Series<'_>>); 4] = [
        (
            format!("{}: price (USD)", summary.scenario),
            vec![
                Series {
                    name: "index",
                    values: col(|r| r.index_usd),
                    bars: false,
                },
                Series {
                    name: "mark",
                    values: col(|r| r.mark_usd),
                    bars: false,
                },
                Series {
                    name: "step low (trades, mark)",
                    values: col(|r| r.low_usd),
                    bars: false,
                },
            ],
        ),
        (
            "liquidations per second".to_string(),
            vec![Series {
                name: "liquidations started",
                #[allow(clippy::cast_precision_loss)]
                values: col(|r| r.liquidations as f64),
                bars: true,
            }],
        ),
        (
            "insurance fund (USD)".to_string(),
            vec![Series {
                name: "balance",
                values: col(|r| r.insurance_fund_usd),
                bars: false,
            }],
        ),
        (
            "resting depth within 1% of mid (USD, both sides)".to_string(),
            vec![Series {
                name: "depth at 1%",
                values: col(|r| r.depth_1pct_usd),
                bars: false,
            }],
        ),
    ];
    for (i, (title, series)) in panels.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let top = TOP + PANEL_HEIGHT * i as f64;
        panel(&mut body, top, title, &x, series);
    }
    document(4, 0.0, &body)
}

/// One bar panel per metric, one bar per sweep combination, numbered; the legend under the
/// panels says which combination each number is.
#[must_use]
pub fn comparison(labels: &[String], metrics: &[(&str, Vec<f64>)]) -> String {
    let mut body = String::new();
    #[allow(clippy::cast_precision_loss)]
    let n = labels.len().max(1) as f64;
    for (i, (name, values)) in metrics.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let top = TOP + PANEL_HEIGHT * i as f64;
        let series = [Series {
            name,
            values: values.clone(),
            bars: true,
        }];
        panel(&mut body, top, name, "", &series);
        for (j, v) in values.iter().enumerate() {
            #[allow(clippy::cast_precision_loss)]
            let cx = LEFT + (WIDTH - LEFT - RIGHT) * (j as f64 + 0.5) / n;
            let _ = writeln!(
                body,
                "<text x=\"{cx:.1}\" y=\"{:.1}\" font-size=\"9\" text-anchor=\"middle\">{} ({})</text>",
                top + PANEL_HEIGHT - 38.0,
                j + 1,
                label(*v)
            );
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let legend_top = TOP + PANEL_HEIGHT * metrics.len() as f64;
    for (j, l) in labels.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let y = legend_top + 14.0 * j as f64;
        let _ = writeln!(
            body,
            "<text x=\"{LEFT}\" y=\"{y:.1}\" font-size=\"11\">{}: {}</text>",
            j + 1,
            escape(l)
        );
    }
    #[allow(clippy::cast_precision_loss)]
    let legend = 14.0 * labels.len() as f64;
    document(metrics.len(), legend, &body)
}
