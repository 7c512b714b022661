//! `cost --format html`: the report as one self-contained page — inline CSS and SVG, no
//! script, no font, no request of any kind (a Content-Security-Policy forbids them) — with
//! charts of spend per day by model, spend and savings by window against asap, cache hits
//! per model, the most expensive requests, spend by label and the unpriced share. Its size
//! depends on the number of days, models, windows and labels shown (each capped), never on
//! the rows.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use anyhow::Context;

use super::charts::{self, money, name};
use super::render::notes;
use super::report::{Key, Report};
use super::svg::esc;
use super::table::grouped;
use super::top::{self, Costly};
use crate::prices::{PriceTable, Usd};
use crate::time::Span;

/// How many of the most expensive requests the report lists.
pub(crate) const TOP: usize = 20;

/// The grouping of the "spend by label" chart: the batch's label (its id when it has none,
/// which is why the batch is a key too).
pub(crate) fn label_key() -> Key {
    Key::Label
}

/// The keys the HTML report is scanned by: every chart is a fold of these groups (their
/// order is the `charts` indexes).
pub(crate) fn keys() -> Vec<Key> {
    vec![
        Key::Model,
        Key::CompletionWindow,
        Key::Day,
        label_key(),
        Key::BatchId,
    ]
}

/// Requests whose price changed on an unknown day between two observations of the price
/// table: how many, and what they cost at the lower and the higher price.
pub(crate) struct Uncertain {
    /// Requests in such a span.
    pub requests: u64,
    /// Their cost at the lower price.
    pub low: Usd,
    /// Their cost at the higher price.
    pub high: Usd,
}

/// The report's uncertain share: requests priced where the change day of their price is
/// unknown, with the low and high cost; `None` when there are none.
fn uncertain(report: &Report) -> Option<Uncertain> {
    let t = &report.total;
    (t.uncertain_requests > 0).then_some(Uncertain {
        requests: t.uncertain_requests,
        low: t.uncertain_range.0,
        high: t.uncertain_range.1,
    })
}

/// The most expensive requests, in full.
fn top_table(top: &[Costly]) -> String {
    let mut s = String::from(
        "<table><thead><tr><th>custom_id</th><th>batch</th><th>model</th><th>window</th>\
         <th class=\"n\">input</th><th class=\"n\">output</th><th class=\"n\">cost</th></tr></thead><tbody>",
    );
    for c in top {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            esc(&c.custom_id),
            esc(&c.batch_id),
            esc(&name(&c.model)),
            esc(&c.window),
            grouped(c.tokens[0]),
            grouped(c.tokens[1]),
            money(c.cost)
        );
    }
    s.push_str("</tbody></table>");
    s
}

/// The figures at the top of the page.
fn summary(report: &Report) -> String {
    let t = &report.total;
    let cost = t.cost_usd().map_or("—".to_owned(), money);
    let saved = match (t.savings_usd(), t.savings_ratio()) {
        (Some(s), Some(r)) => format!("{} ({:.1}%)", money(s), r * 100.0),
        (Some(s), None) => money(s),
        _ => "—".to_owned(),
    };
    let cache = t
        .cache_hit_ratio()
        .map_or("—".to_owned(), |r| format!("{:.1}%", r * 100.0));
    let cards = [
        ("cost", cost),
        ("requests", grouped(t.requests as i64)),
        ("saved against asap", saved),
        ("cache hits", cache),
    ];
    let mut s = String::from("<div class=\"cards\">");
    for (k, v) in cards {
        let _ = write!(s, "<div><span>{}</span><b>{}</b></div>", esc(k), esc(&v));
    }
    s.push_str("</div>");
    s
}

fn legend(names: &[String]) -> String {
    let mut s = String::from("<ul class=\"legend\">");
    for (i, n) in names.iter().enumerate() {
        let _ = write!(s, "<li><i class=\"sw s{}\"></i>{}</li>", i % 8, esc(n));
    }
    s.push_str("</ul>");
    s
}

fn section(out: &mut String, id: &str, title: &str, note: &str, body: &str) {
    let _ = write!(
        out,
        "<section id=\"{id}\"><h2>{}</h2><p class=\"note\">{}</p>{body}</section>",
        esc(title),
        esc(note)
    );
}

/// The whole page. `title` names the export; `notes` are the report's notes (prices used,
/// warnings, assumptions), printed under the charts.
pub(crate) fn render(report: &Report, title: &str, notes: &[String], top: &[Costly]) -> String {
    let mut body = format!("<h1>Cost of {}</h1>{}", esc(title), summary(report));
    let (days, names) = charts::spend_over_time(report);
    let key = label_key();
    let label = key.name();
    let charts: [(&str, &str, String, String); 6] = [
        (
            "spend-over-time",
            "Spend over time, by model",
            "Priced requests, by the UTC day of created_at.".into(),
            format!("{days}{}", legend(&names)),
        ),
        (
            "windows",
            "Spend and savings by window",
            "Paid, and saved against asap's price for the same tokens.".into(),
            charts::windows_chart(report),
        ),
        (
            "cache",
            "Cache-hit ratio per model",
            "Cached input tokens over input tokens.".into(),
            charts::cache_chart(report),
        ),
        (
            "labels",
            "Spend by label",
            format!("Grouped by {label}."),
            charts::labels_chart(report),
        ),
        (
            "shares",
            "Unpriced and uncertain",
            "Requests left out of the cost, or priced where the price is not known for sure."
                .into(),
            charts::shares_chart(report, uncertain(report)),
        ),
        (
            "top",
            "The most expensive requests",
            format!("The {TOP} dearest priced requests."),
            format!("{}{}", charts::top_chart(top), top_table(top)),
        ),
    ];
    for (id, h, note, chart) in &charts {
        section(&mut body, id, h, note, chart);
    }
    body.push_str("<section id=\"notes\"><h2>Notes</h2><ul>");
    for n in notes {
        let _ = write!(body, "<li>{}</li>", esc(n));
    }
    body.push_str("</ul></section>");
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <title>Cost of {}</title><style>{CSS}</style></head><body>{body}</body></html>\n",
        esc(title)
    )
}

/// The page's stylesheet: light by default, dark where the reader prefers it on screen,
/// light and unclipped on paper. Colours: the Okabe–Ito palette, told apart by
/// colour-blind readers.
const CSS: &str = include_str!("html.css");

/// The page for a report of the export at `export`: its most expensive requests read (only
/// `batch`'s and those created in `span`, like the report), its notes, its charts.
pub(crate) fn page(
    report: &Report,
    prices: &PriceTable,
    export: &Path,
    batch: Option<&str>,
    span: Span,
) -> anyhow::Result<String> {
    let top = top::most_expensive(export, prices, batch, span, TOP)?;
    let title = export.file_name().map_or_else(
        || export.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Ok(render(report, &title, &notes(report, prices), &top))
}

/// Writes the page to `file` (saying so on stderr), or to `stdout` without one.
pub(crate) fn write(page: &str, file: Option<&Path>, stdout: &mut dyn Write) -> anyhow::Result<()> {
    match file {
        Some(f) => {
            std::fs::write(f, page).with_context(|| format!("writing '{}'", f.display()))?;
            eprintln!(
                "wrote the report to '{}' ({} bytes)",
                f.display(),
                page.len()
            );
        }
        None => stdout
            .write_all(page.as_bytes())
            .context("writing the report")?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::report::{self, Totals};
    use crate::cost::scan::{Bucket, Scan};

    /// A scan with far more distinct values than any chart names: 400 days, 60 models,
    /// 3 windows, 5,000 labels of 64 characters; and 20 top requests with 64-character ids.
    fn sprawling() -> (Report, Vec<Costly>) {
        let prices = PriceTable::bundled();
        let priced = [
            "Qwen/Qwen3.6-35B-A3B",
            "deepseek-ai/DeepSeek-V4-Flash-0731",
            "deepseek-ai/DeepSeek-V4-Pro-0813",
            "deepseek-ai/DeepSeek-V4.1-Flash",
            "google/gemma-4-12B-it",
            "google/gemma-4-31B-it",
            "moonshotai/Kimi-K2.6",
            "moonshotai/Kimi-K3",
            "nvidia/Gemma-4-31B-IT-NVFP4",
            "openai/gpt-oss-120b",
            "zai-org/GLM-5.3",
            "zai-org/GLM-5.3-Flash",
        ];
        let models: Vec<String> = (0..60)
            .map(|i| match priced.get(i) {
                Some(m) => (*m).to_owned(),
                None => format!("acme/in-house-model-{i:02}"),
            })
            .collect();
        let buckets = (0..100_000u64).map(|i| {
            let mut totals = Totals {
                requests: 10,
                ..Totals::default()
            };
            totals.input_tokens = 1_000_000 + i as i64;
            totals.input_cached_tokens = (i % 1_000) as i64 * 1_000;
            Bucket {
                model: Some(models[(i % 60) as usize].clone()),
                window: Some(["asap", "flex", "standard"][(i % 3) as usize].into()),
                day: Some(20_000 + (i % 400) as i64),
                batch_id: Some(format!("batch_{:0>58}", i % 5_000)),
                status: None,
                meta: Vec::new(),
                billed: [900_000, 100_000, 50_000 + i as i64],
                usage_rows: 10,
                totals,
            }
        });
        let labels = (0..5_000).map(|i| (format!("batch_{i:0>58}"), format!("label-{i:0>58}")));
        let scan = Scan {
            buckets: buckets.collect(),
            not_fetched: 0,
            labels: labels.collect(),
        };
        let report = report::build(scan, &prices, &keys(), None);
        let top = (0..TOP as i128).map(|i| Costly {
            cost: Usd::default(),
            batch_id: format!("batch_{i:0>58}"),
            custom_id: format!("{i:x<64}"),
            model: Some(models[0].clone()),
            window: "flex".into(),
            tokens: [i as i64, 0],
        });
        (report, top.collect())
    }

    #[test]
    fn the_page_stays_small_however_many_days_models_and_labels_the_rows_have() {
        let (report, top) = sprawling();
        let notes = notes(&report, &PriceTable::bundled());
        let page = render(&report, "export.sqlite", &notes, &top);
        // Months, not 400 days; 7 models and the others; 20 labels and the others. The
        // bound: one column a month, 8 series, 21 labels, 20 models, 20 requests.
        assert!(page.contains("spend per month by model"));
        assert!(page.contains("other models") && page.contains("4980 others"));
        eprintln!("a page of 100,000 buckets: {} bytes", page.len());
        assert!(page.len() < 200_000, "{} bytes", page.len());
    }
}
