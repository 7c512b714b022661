//! A reconciliation as a text table with a sentence per finding, or as one JSON object.

use comfy_table::{presets, Cell, CellAlignment, Table};
use serde_json::{json, Value};

use super::{Explanation, Line, Reconciliation, Verdict};
use crate::time::day;

/// `1234567` as `1,234,567`.
fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

/// Cents as dollars, `$12.34`.
fn dollars(cents: f64) -> String {
    format!("${:.2}", cents / 100.0)
}

/// A share as a percentage, rounded down to 0.1 %, so a share short of all shows below 100 %.
fn pct(share: Option<f64>) -> String {
    share.map_or_else(
        || "-".to_owned(),
        |s| format!("{:.1}%", (s * 1000.0).floor() / 10.0),
    )
}

/// The text report: the table of the lines the exports hold tokens of, then one sentence
/// per such line that is not plain agreement, then what was left out (the lines billed
/// with none of it exported are summed in one note; `--json` lists them).
pub fn text(r: &Reconciliation) -> String {
    let mut table = Table::new();
    table.load_style(presets::UTF8_FULL_CONDENSED);
    table.set_header([
        "day",
        "model",
        "billed",
        "billed tokens",
        "exported tokens",
        "covered",
        "computed",
        "verdict",
    ]);
    let shown = || r.lines.iter().filter(|l| l.verdict != Verdict::NotExported);
    for l in shown() {
        let b = l.billed.as_ref();
        let cells = [
            day::format(l.day),
            l.model.clone(),
            b.and_then(|b| b.cents)
                .map_or_else(|| "-".to_owned(), dollars),
            b.and_then(|b| b.all_tokens())
                .map_or_else(|| "-".to_owned(), grouped),
            grouped(l.exported.all_tokens()),
            pct(l.coverage),
            dollars(l.exported.cents()),
            l.verdict.name().to_owned(),
        ];
        table.add_row(cells.into_iter().enumerate().map(|(i, c)| {
            let cell = Cell::new(c);
            if (2..7).contains(&i) {
                cell.set_alignment(CellAlignment::Right)
            } else {
                cell
            }
        }));
    }
    let mut out = format!("{table}\n");
    for l in shown() {
        if let Some(s) = finding(l) {
            out.push_str(&format!("{} {}: {s}\n", day::format(l.day), l.model));
        }
    }
    for note in notes(r) {
        out.push_str(&note);
        out.push('\n');
    }
    out
}

/// What a line means, in a sentence; `None` for plain agreement.
fn finding(l: &Line) -> Option<String> {
    let b = l.billed.as_ref();
    let billed = b
        .and_then(|b| b.cents)
        .map_or_else(|| "-".to_owned(), dollars);
    let computed = dollars(l.exported.cents());
    Some(match l.verdict {
        Verdict::Agrees => return None,
        Verdict::WrongPrice => format!(
            "the exports hold every billed token, but cost {computed} against {billed} billed: \
             the price table is wrong for this model and day; {}",
            explain_text(l.explanation.as_ref()?)
        ),
        Verdict::Unpriced => format!(
            "the exports hold every billed token, but {} requests have no price; add them with --prices FILE",
            l.exported.unpriced_requests
        ),
        Verdict::Partial => format!(
            "the exports hold {} of the billed tokens ({computed} of {billed}): the rest was \
             not exported (another key, a batch not exported, or a request outside the Batch API)",
            pct(l.coverage)
        ),
        Verdict::OverBill => format!(
            "the exports hold {} of the billed tokens yet cost {computed}, more than the {billed} \
             billed for all of them: a price in the table is too high",
            pct(l.coverage)
        ),
        Verdict::NotExported => return None,
        Verdict::NotBilled => format!(
            "the exports hold {} tokens more than billed (rows exported twice, or not billed on this UTC day)",
            grouped(l.exported.all_tokens() - b.and_then(|b| b.all_tokens()).unwrap_or(0))
        ),
        Verdict::RangeEdge => "the first day of a rolling range may be cut short; not judged".to_owned(),
        Verdict::Unreadable => "the bill's line has no readable tokens or cents; not judged".to_owned(),
    })
}

fn explain_text(x: &Explanation) -> String {
    let windows: Vec<String> = x
        .scaled
        .iter()
        .map(|s| {
            let [i, c, o] = s.prices;
            format!("{} input {i:.3} / cached {c:.3} / output {o:.3}", s.window)
        })
        .collect();
    let mut out = format!(
        "the bill is {:.4}x the table's prices, i.e. {} USD per 1M tokens",
        x.factor,
        windows.join("; ")
    );
    if let Some(w) = &x.matching_window {
        out.push_str(&format!(
            " (every token at the table's `{w}` price makes the bill to the cent)"
        ));
    }
    out
}

/// What was not compared, and the verdict overall.
fn notes(r: &Reconciliation) -> Vec<String> {
    let mut out = Vec::new();
    match r.span {
        Some((a, b)) => out.push(format!(
            "range {}: the bill covers {} to {} (UTC)",
            r.range,
            day::format(a),
            day::format(b)
        )),
        None => out.push(format!("range {}: the bill has no days", r.range)),
    }
    let missing: Vec<&Line> = r
        .lines
        .iter()
        .filter(|l| l.verdict == Verdict::NotExported)
        .collect();
    if let (Some(first), Some(last)) = (missing.first(), missing.last()) {
        let cents: f64 = missing
            .iter()
            .filter_map(|l| l.billed.as_ref()?.cents)
            .sum();
        out.push(format!(
            "{} day x model lines billed {} in all ({} to {}) have none of their tokens in the exports (--json lists them)",
            missing.len(),
            dollars(cents),
            day::format(first.day),
            day::format(last.day)
        ));
    }
    if r.outside_requests > 0 {
        out.push(format!(
            "{} exported requests fall outside those days and were not compared",
            r.outside_requests
        ));
    }
    if r.unplaced_requests > 0 {
        out.push(format!(
            "{} exported requests have no model or created_at and were not compared",
            r.unplaced_requests
        ));
    }
    if r.unreadable_days > 0 {
        out.push(format!(
            "{} days of the bill have no readable date and were left out",
            r.unreadable_days
        ));
    }
    let bad = r.lines.iter().filter(|l| l.verdict.disagrees()).count();
    out.push(match bad {
        0 => "everything the exports fully cover agrees with the bill".to_owned(),
        1 => "1 day x model line disagrees with the bill".to_owned(),
        n => format!("{n} day x model lines disagree with the bill"),
    });
    out
}

/// The JSON report.
pub fn json(r: &Reconciliation, exit_code: i32) -> Value {
    let lines: Vec<Value> = r.lines.iter().map(line_json).collect();
    json!({
        "range": r.range,
        "first_day": r.span.map(|(a, _)| day::format(a)),
        "last_day": r.span.map(|(_, b)| day::format(b)),
        "lines": lines,
        "disagreements": r.lines.iter().filter(|l| l.verdict.disagrees()).count(),
        "outside_range_requests": r.outside_requests,
        "unplaced_requests": r.unplaced_requests,
        "unreadable_days": r.unreadable_days,
        "exit_code": exit_code,
    })
}

fn line_json(l: &Line) -> Value {
    let b = l.billed.as_ref();
    let e = &l.exported;
    let [input, cached, output] = e.tokens;
    json!({
        "day": day::format(l.day),
        "model": l.model,
        "billed_cents": b.and_then(|b| b.cents),
        "billed_tokens": b.and_then(|b| b.all_tokens()),
        "billed_input_tokens": b.and_then(|b| b.input_tokens),
        "billed_cached_tokens": b.and_then(|b| b.cached_tokens),
        "billed_output_tokens": b.and_then(|b| b.output_tokens),
        "exported_requests": e.requests,
        "exported_tokens": e.all_tokens(),
        "exported_input_tokens": input,
        "exported_cached_tokens": cached,
        "exported_output_tokens": output,
        "computed_usd": e.cost.to_f64(),
        "computed_cents": e.cents(),
        "unpriced_requests": e.unpriced_requests,
        "coverage": l.coverage,
        "verdict": l.verdict.name(),
        "explanation": l.explanation.as_ref().map(|x| json!({
            "factor": x.factor,
            "prices": x.scaled.iter().map(|s| json!({
                "window": s.window,
                "input": s.prices[0],
                "cached_input": s.prices[1],
                "output": s.prices[2],
            })).collect::<Vec<_>>(),
            "matching_window": x.matching_window,
        })),
    })
}
