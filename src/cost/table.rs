//! The report as a text table, for a terminal or as Markdown. A terminal table shows the
//! columns that fit its width, most useful first, and never wraps a cell: a number or a model
//! name is printed whole or its column is left out (and named under the table). What could
//! mislead is in the cells that are always shown: a cost that leaves requests out says so
//! (`$0.1302 + 17 unpriced`), and a window some rows only got by default is marked
//! (`standard*`, explained under the table).

use comfy_table::{presets, Cell, CellAlignment, ColumnConstraint, Table};

use super::report::{Key, Report, Totals};
use crate::prices::Usd;

/// How wide a text table may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    /// Every column, however wide (`--wide`; Markdown always).
    All,
    /// The columns that fit in this many characters; the keys, `requests` and `cost` are
    /// always shown, even when they alone are wider.
    Fit(usize),
}

/// One figure of the table: its header and how a group's totals print in it.
struct Metric {
    header: &'static str,
    cell: fn(&Totals) -> String,
}

/// Every figure, in the order the columns are printed.
const METRICS: [Metric; 12] = [
    metric("requests", |t| grouped(t.requests as i64)),
    metric("input", |t| grouped(t.input_tokens)),
    metric("cached", |t| grouped(t.input_cached_tokens)),
    metric("output", |t| grouped(t.output_tokens)),
    metric("reasoning", |t| grouped(t.output_reasoning_tokens)),
    metric("cost", cost),
    metric("at asap", |t| money(t.asap_cost_usd())),
    metric("saved", |t| money(t.savings_usd())),
    metric("cache hit", |t| pct(t.cache_hit_ratio())),
    metric("reasoning %", |t| pct(t.reasoning_share())),
    metric("unpriced", |t| grouped(t.unpriced_requests() as i64)),
    metric("anomalies", |t| grouped(t.anomalies.sum() as i64)),
];

const fn metric(header: &'static str, cell: fn(&Totals) -> String) -> Metric {
    Metric { header, cell }
}

/// Indexes into [`METRICS`], most useful first: a narrow table shows a prefix of this list,
/// at least its first [`ALWAYS`] entries (requests, cost).
const PRIORITY: [usize; 12] = [0, 5, 1, 3, 7, 10, 2, 4, 6, 8, 9, 11];
const ALWAYS: usize = 2;

/// The header of a key's column: `window` is what people call it, and 11 characters less.
fn key_header(k: &Key) -> &str {
    match k {
        Key::CompletionWindow => "window",
        k => k.name(),
    }
}

/// What marks a window that rows without one were priced in (the default), and how Markdown
/// writes it.
pub(crate) const ASSUMED: &str = "*";
const ASSUMED_MARKDOWN: &str = "\\*";

/// The key cells of a group: `(none)` for no value, the window marked when some of the
/// group's rows had none.
fn key_cells(report: &Report, key: &[Option<String>], t: &Totals, markdown: bool) -> Vec<String> {
    let mark = if markdown { ASSUMED_MARKDOWN } else { ASSUMED };
    report
        .keys
        .iter()
        .zip(key)
        .map(|(k, v)| match (k, v) {
            (_, None) => "(none)".to_owned(),
            (Key::CompletionWindow, Some(w)) if t.assumed_window_requests > 0 => {
                format!("{w}{mark}")
            }
            (_, Some(v)) => v.clone(),
        })
        .collect()
}

/// The table (UTF-8 boxes, or Markdown), then `notes`, one a line.
pub(super) fn render(report: &Report, notes: Vec<String>, markdown: bool, width: Width) -> String {
    let mut table = Table::new();
    table.load_style(if markdown {
        presets::ASCII_MARKDOWN
    } else {
        presets::UTF8_FULL_CONDENSED
    });
    let mut header: Vec<&str> = report.keys.iter().map(key_header).collect();
    header.extend(METRICS.iter().map(|m| m.header));
    table.set_header(header);
    for g in &report.groups {
        let key = key_cells(report, &g.key, &g.totals, markdown);
        table.add_row(row(key.iter().map(String::as_str), &g.totals));
    }
    let total = if markdown { "**total**" } else { "total" };
    let total_key = (0..report.keys.len()).map(|i| if i == 0 { total } else { "" });
    table.add_row(row(total_key, &report.total));

    let nkeys = report.keys.len();
    let shown = match width {
        Width::All => [true; METRICS.len()],
        Width::Fit(budget) => fitting(&table.column_max_content_widths(), nkeys, budget),
    };
    let mut hidden = Vec::new();
    for (i, m) in METRICS.iter().enumerate().filter(|(i, _)| !shown[*i]) {
        if let Some(col) = table.column_mut(nkeys + i) {
            col.set_constraint(ColumnConstraint::Hidden);
        }
        hidden.push(m.header);
    }
    let prefix = if markdown { "> " } else { "" };
    let mut out = format!("{table}\n");
    for n in notes {
        out.push_str(&format!("{prefix}{n}\n"));
    }
    if let (Width::Fit(budget), false) = (width, hidden.is_empty()) {
        out.push_str(&format!(
            "columns left out to fit {budget} characters: {}; --wide shows them all\n",
            hidden.join(", ")
        ));
    }
    out
}

/// One line: the keys left-aligned, the figures right-aligned.
fn row<'a>(key: impl Iterator<Item = &'a str>, t: &Totals) -> Vec<Cell> {
    key.map(Cell::new)
        .chain(
            METRICS
                .iter()
                .map(|m| Cell::new((m.cell)(t)).set_alignment(CellAlignment::Right)),
        )
        .collect()
}

/// Which metrics fit in `budget` characters next to the keys, given each column's widest
/// cell: a column takes its content plus one space each side plus one border, and the
/// table one border more.
fn fitting(widths: &[u16], nkeys: usize, budget: usize) -> [bool; METRICS.len()] {
    let col = |i: usize| usize::from(widths.get(i).copied().unwrap_or(1)) + 3;
    let mut used = 1 + (0..nkeys).map(col).sum::<usize>();
    let mut shown = [false; METRICS.len()];
    for (rank, &m) in PRIORITY.iter().enumerate() {
        let w = col(nkeys + m);
        if rank >= ALWAYS && used + w > budget {
            break;
        }
        used += w;
        shown[m] = true;
    }
    shown
}

/// Thousands separators: 1234567 → "1,234,567".
pub(super) fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// The cost, and the requests it leaves out when there are any: `$0.1302 + 17 unpriced`
/// (`— + 17 unpriced` when none is priced).
fn cost(t: &Totals) -> String {
    match t.unpriced_requests() {
        0 => money(t.cost_usd()),
        n => format!("{} + {} unpriced", money(t.cost_usd()), grouped(n as i64)),
    }
}

fn money(v: Option<Usd>) -> String {
    v.map_or_else(
        || "—".to_owned(),
        |u| match u.rounded(4).strip_prefix('-') {
            Some(abs) => format!("-${abs}"),
            None => format!("${}", u.rounded(4)),
        },
    )
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_owned(), |x| format!("{:.1}%", x * 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_has_a_rank_once() {
        let mut seen = PRIORITY;
        seen.sort_unstable();
        assert_eq!(seen, std::array::from_fn(|i| i));
    }

    #[test]
    fn a_narrow_budget_keeps_requests_and_cost_and_a_wide_one_keeps_all() {
        let widths = [20u16; 14];
        let narrow = fitting(&widths, 2, 10);
        assert_eq!(narrow.iter().filter(|s| **s).count(), 2);
        assert!(narrow[0] && narrow[5]);
        assert_eq!(fitting(&widths, 2, 1000), [true; 12]);
        // keys 2·23 + 1 = 47; requests and cost 46 more = 93; input fits in 116, not 115.
        assert!(fitting(&widths, 2, 116)[1]);
        assert!(!fitting(&widths, 2, 115)[1]);
    }
}
