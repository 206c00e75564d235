//! Latency-distribution plots as SVG: latency against percentile on HdrHistogram's usual
//! "1/(1−q)" axis, so the tail (p99.9, p99.99) gets as much room as the median.
//!
//! The SVG is written by hand: a plotting crate would pull in font discovery (fontconfig) for
//! its text, and a plot of a few polylines needs none of it. Text is left to the viewer's
//! default sans-serif font.

use hdrhistogram::Histogram;
use std::fmt::Write as _;
use std::path::Path;

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 520.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 200.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;
/// The x axis runs to 1/(1−q) = 10^X_DECADES (p99.9999).
const X_DECADES: f64 = 6.0;
const COLOURS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
];

/// One line of the plot.
pub struct Series<'a> {
    /// Legend label.
    pub label: String,
    /// Latency samples, ns.
    pub histogram: &'a Histogram<u64>,
}

fn x_of(q: f64) -> f64 {
    let decades = if q >= 1.0 {
        X_DECADES
    } else {
        (1.0 / (1.0 - q)).log10().min(X_DECADES)
    };
    LEFT + decades / X_DECADES * (WIDTH - LEFT - RIGHT)
}

/// The SVG text of a percentile-distribution plot of `series` (latency on a log axis).
#[must_use]
pub fn svg(title: &str, series: &[Series<'_>]) -> String {
    let max = series
        .iter()
        .map(|s| s.histogram.max())
        .max()
        .unwrap_or(1)
        .max(10);
    let min = series
        .iter()
        .filter(|s| !s.histogram.is_empty())
        .map(|s| s.histogram.min())
        .min()
        .unwrap_or(1)
        .max(1);
    // Plot arithmetic only.
    #[allow(clippy::cast_precision_loss)]
    let (lo, hi) = (
        (min as f64).log10().floor(),
        (max as f64)
            .log10()
            .ceil()
            .max((min as f64).log10().floor() + 1.0),
    );
    let y_of = |ns: f64| {
        let l = ns.max(1.0).log10();
        HEIGHT - BOTTOM - (l - lo) / (hi - lo) * (HEIGHT - TOP - BOTTOM)
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="24" font-size="15" text-anchor="middle">{}</text>"#,
        (WIDTH - RIGHT + LEFT) / 2.0,
        escape(title)
    );
    // Grid and axis labels: one line per decade of latency and of percentile.
    #[allow(clippy::cast_possible_truncation)]
    for d in (lo as i32)..=(hi as i32) {
        let y = y_of(10f64.powi(d));
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            crate::report::fmt_ns(10u64.pow(d.unsigned_abs()))
        );
    }
    for (q, label) in [
        (0.0, "0%"),
        (0.9, "90%"),
        (0.99, "99%"),
        (0.999, "99.9%"),
        (0.9999, "99.99%"),
        (0.99999, "99.999%"),
        (0.999_999, "99.9999%"),
    ] {
        let x = x_of(q);
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{}" stroke="#ddd"/><text x="{x:.1}" y="{}" text-anchor="middle">{label}</text>"##,
            HEIGHT - BOTTOM,
            HEIGHT - BOTTOM + 18.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">percentile</text><text x="16" y="{}" transform="rotate(-90 16 {})" text-anchor="middle">latency</text>"#,
        (WIDTH - RIGHT + LEFT) / 2.0,
        HEIGHT - 14.0,
        HEIGHT / 2.0,
        HEIGHT / 2.0
    );
    for (i, ser) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let mut points = String::new();
        for v in ser.histogram.iter_quantiles(4) {
            #[allow(clippy::cast_precision_loss)]
            let y = y_of(v.value_iterated_to() as f64);
            let _ = write!(points, "{:.1},{:.1} ", x_of(v.quantile_iterated_to()), y);
        }
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            points.trim_end()
        );
        #[allow(clippy::cast_precision_loss)]
        let ly = TOP + 10.0 + 20.0 * i as f64;
        let lx = WIDTH - RIGHT + 12.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{colour}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#,
            lx + 20.0,
            lx + 26.0,
            ly + 4.0,
            escape(&ser.label)
        );
    }
    let _ = writeln!(s, "</svg>");
    s
}

/// Writes [`svg`] to `path`.
///
/// # Errors
/// If the file cannot be written.
pub fn write_svg(path: &Path, title: &str, series: &[Series<'_>]) -> std::io::Result<()> {
    std::fs::write(path, svg(title, series))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_polyline_per_series_and_escaped_labels() {
        let mut a = crate::report::histogram();
        let mut b = crate::report::histogram();
        for v in 1..=1000 {
            a.record(v * 1000).expect("in range");
            b.record(v * 10).expect("in range");
        }
        let text = svg(
            "order→ack <loopback>",
            &[
                Series {
                    label: "server".into(),
                    histogram: &a,
                },
                Series {
                    label: "floor & co".into(),
                    histogram: &b,
                },
            ],
        );
        assert!(text.starts_with("<svg "));
        assert!(text.trim_end().ends_with("</svg>"));
        assert_eq!(text.matches("<polyline").count(), 2);
        assert!(text.contains("order→ack &lt;loopback&gt;"));
        assert!(text.contains("floor &amp; co"));
        assert!(text.contains("99.99%"));
        assert!(!text.contains("NaN"));
    }
}
