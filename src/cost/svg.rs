//! A small SVG writer for the HTML report's charts: stacked columns over a time axis and
//! labelled horizontal bars. Colours are CSS classes (`s0`…`s7`, `paid`, `saved`, …) that
//! the page's stylesheet fills, so one chart reads in light mode, dark mode and on paper;
//! every text is escaped, every mark carries its exact figure in a `<title>` tooltip.

use std::fmt::Write as _;

/// The width of every chart, in SVG units (the page scales it to its column).
const WIDTH: f64 = 760.0;
/// Room left of a column chart's plot for the value axis.
const AXIS: f64 = 70.0;
/// Room left of a bar chart's bars for the row labels.
const LABEL: f64 = 230.0;
/// Width of a character of a figure right of a bar, at the charts' 12 px (a bound for
/// digits and the usual letters of a system sans-serif).
const CHAR: f64 = 7.0;
/// Height of one bar row.
const ROW: f64 = 22.0;
/// Longest label printed whole; longer ones are cut (the tooltip has them whole).
const LABEL_CHARS: usize = 32;

/// `s` with `&`, `<`, `>`, `"` and `'` escaped: safe in text and in quoted attributes.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `s` cut to `max` characters, with an ellipsis when cut.
pub(crate) fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut cut: String = s.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// One series of a column chart: a name (for the legend) and one value per column.
pub(crate) struct Series {
    /// Shown in the legend and the tooltips.
    pub name: String,
    /// One value per column, in column order.
    pub values: Vec<f64>,
}

/// One segment of a bar: its CSS class, its length in the chart's unit, its tooltip.
pub(crate) struct Part {
    /// The CSS class that colours it.
    pub class: &'static str,
    /// Its length, in the unit of the chart's `max`.
    pub value: f64,
    /// Its tooltip.
    pub title: String,
}

/// One row of a bar chart: a label, segments laid end to end, and the figure after them.
pub(crate) struct Bar {
    /// Left of the bar (cut to [`LABEL_CHARS`]; whole in the tooltip).
    pub label: String,
    /// The segments, left to right.
    pub parts: Vec<Part>,
    /// Printed right of the bar.
    pub figure: String,
}

/// Round tick steps for an axis from 0 to `max`: about five, each 1, 2 or 5 × 10ⁿ.
fn ticks(max: f64) -> Vec<f64> {
    if max <= 0.0 || !max.is_finite() {
        return vec![0.0];
    }
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    (0..)
        .map(|i| i as f64 * step)
        .take_while(|t| *t <= max + step * 0.999)
        .collect()
}

fn open(height: f64, label: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" \
         role=\"img\" aria-label=\"{}\">",
        esc(label)
    )
}

/// Stacked columns, one per category (a day or a month), one colour per series (`s0`…),
/// with a value axis printed by `fmt`. `label` names the chart for screen readers.
pub(crate) fn columns(
    label: &str,
    categories: &[String],
    series: &[Series],
    fmt: fn(f64) -> String,
) -> String {
    let (height, bottom, top) = (300.0, 28.0, 10.0);
    let plot_h = height - bottom - top;
    let plot_w = WIDTH - AXIS - 10.0;
    let total = |i: usize| series.iter().map(|s| s.values[i].max(0.0)).sum::<f64>();
    let max = (0..categories.len()).map(total).fold(0.0, f64::max);
    let ticks = ticks(max);
    let top_value = ticks.last().copied().unwrap_or(1.0).max(f64::MIN_POSITIVE);
    let y = |v: f64| top + plot_h - v / top_value * plot_h;
    let mut s = open(height, label);
    for t in &ticks {
        let (right, at, text_x) = (WIDTH - 10.0, y(*t), AXIS - 6.0);
        let _ = write!(
            s,
            "<line class=\"grid\" x1=\"{AXIS}\" x2=\"{right}\" y1=\"{at:.1}\" y2=\"{at:.1}\"/>\
             <text class=\"axis\" x=\"{text_x}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            at + 4.0,
            esc(&fmt(*t))
        );
    }
    let n = categories.len().max(1) as f64;
    let slot = plot_w / n;
    let bar = (slot * 0.8).clamp(1.0, 48.0);
    // Labels far enough apart not to overlap: every k-th category.
    let widest = categories.iter().map(|c| c.chars().count()).max();
    let room = widest.unwrap_or(0) as f64 * CHAR + 8.0;
    let every = ((room / slot).ceil() as usize).max(1);
    for (i, cat) in categories.iter().enumerate() {
        let x = AXIS + i as f64 * slot + (slot - bar) / 2.0;
        let mut base = 0.0;
        for (k, se) in series.iter().enumerate() {
            let v = se.values[i].max(0.0);
            if v <= 0.0 {
                continue;
            }
            let _ = write!(
                s,
                "<rect class=\"s{}\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{bar:.1}\" height=\"{:.1}\">\
                 <title>{} · {}: {}</title></rect>",
                k % 8,
                y(base + v),
                (y(base) - y(base + v)).max(0.5),
                esc(cat),
                esc(&se.name),
                esc(&fmt(v))
            );
            base += v;
        }
        if i % every == 0 {
            let _ = write!(
                s,
                "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                x + bar / 2.0,
                height - 8.0,
                esc(cat)
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// Horizontal bars, one row each: the label, the segments scaled so that `max` fills the
/// bar area, and the figure. `label` names the chart for screen readers.
pub(crate) fn bars(label: &str, rows: &[Bar], max: f64) -> String {
    let height = rows.len().max(1) as f64 * ROW + 4.0;
    let longest = rows.iter().map(|r| r.figure.chars().count()).max();
    let span = WIDTH - LABEL - 12.0 - longest.unwrap_or(0) as f64 * CHAR;
    let scale = if max > 0.0 { span / max } else { 0.0 };
    let mut s = open(height, label);
    for (i, row) in rows.iter().enumerate() {
        let y = 2.0 + i as f64 * ROW;
        let _ = write!(
            s,
            "<text class=\"label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}<title>{}</title></text>",
            LABEL - 8.0,
            y + 15.0,
            esc(&clip(&row.label, LABEL_CHARS)),
            esc(&row.label)
        );
        let mut x = LABEL;
        for p in &row.parts {
            let w = (p.value.max(0.0) * scale).min(span);
            if w <= 0.0 {
                continue;
            }
            let _ = write!(
                s,
                "<rect class=\"{}\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\">\
                 <title>{}</title></rect>",
                p.class,
                y + 3.0,
                w.max(0.5),
                ROW - 6.0,
                esc(&p.title)
            );
            x += w;
        }
        let _ = write!(
            s,
            "<text class=\"figure\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            x + 6.0,
            y + 15.0,
            esc(&row.figure)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_attributes_are_escaped() {
        assert_eq!(
            esc("<script>a&b</script>\"'"),
            "&lt;script&gt;a&amp;b&lt;/script&gt;&quot;&#39;"
        );
        let chart = bars(
            "<x>",
            &[Bar {
                label: "<script>alert(1)</script>".into(),
                parts: vec![Part {
                    class: "paid",
                    value: 1.0,
                    title: "<b>".into(),
                }],
                figure: "<i>".into(),
            }],
            1.0,
        );
        assert!(!chart.contains("<script>") && !chart.contains("<b>") && !chart.contains("<i>"));
        assert!(chart.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }

    #[test]
    fn ticks_are_round_and_cover_the_maximum() {
        assert_eq!(ticks(9.3), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(ticks(0.0), vec![0.0]);
        let t = ticks(1234.0);
        assert!(*t.last().unwrap() >= 1234.0 && t.len() <= 7, "{t:?}");
    }

    #[test]
    fn a_long_label_is_cut_with_an_ellipsis() {
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
    }

    #[test]
    fn columns_stack_each_series_once_per_category_with_a_value() {
        let cats = vec!["09-21".to_owned(), "09-22".to_owned()];
        let series = vec![
            Series {
                name: "a".into(),
                values: vec![1.0, 0.0],
            },
            Series {
                name: "b".into(),
                values: vec![2.0, 3.0],
            },
        ];
        let chart = columns("spend", &cats, &series, |v| format!("{v}"));
        assert_eq!(chart.matches("<rect class=\"s0\"").count(), 1);
        assert_eq!(chart.matches("<rect class=\"s1\"").count(), 2);
        assert!(chart.contains("<title>09-22 · b: 3</title>"));
    }
}
