//! The simulator's pricing page (`GET /pricing.md`, no key needed, like Sail's docs): the
//! bundled prices in force today, in the structure `prices update` reads (one `<tbody
//! data-model>` per model, one row per window with `data-window` cells and an `aria-label`
//! giving the three prices). `?break=number|structure|empty` serves a page that must be
//! refused, for the tests.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use axum::extract::Query;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

use crate::prices::{Entry, PriceTable, ANY_WINDOW};
use crate::time::{day, now_unix};

/// The label the page shows for a window id.
fn label(window: &str) -> String {
    match window {
        "asap" => "Default (ASAP)".to_owned(),
        "standard" => "Balanced".to_owned(),
        "flex" => "Flex".to_owned(),
        other => other.to_owned(),
    }
}

/// Windows in the page's order.
fn order(window: &str) -> u8 {
    match window {
        "asap" => 0,
        "standard" => 1,
        "flex" => 2,
        _ => 3,
    }
}

/// The page for `table` on UTC `today`: every model × window with a price in force.
pub fn page(table: &PriceTable, today: i64) -> String {
    let mut models: BTreeMap<&str, Vec<&Entry>> = BTreeMap::new();
    for e in table.entries() {
        if e.window == ANY_WINDOW {
            continue;
        }
        let now = table.lookup(&e.model, &e.window, Some(today));
        if now.is_some_and(|m| std::ptr::eq(m.entry, e) && !m.via_alias) {
            models.entry(&e.model).or_default().push(e);
        }
    }
    let mut s = String::from(
        "# Pricing (simulated)\n\nPer-token prices of the simulated account, USD per 1M tokens.\n",
    );
    for (model, mut rows) in models {
        rows.sort_by_key(|e| order(&e.window));
        let name = model.rsplit('/').next().unwrap_or(model);
        let _ = write!(
            s,
            "\n## {name}\n\n<table class=\"prices\">\n<thead><tr><th>Window</th><th>Input</th><th>Cached</th><th>Output</th></tr></thead>\n<tbody class=\"price-rows\" data-model=\"{model}\">\n"
        );
        for e in rows {
            let (w, l) = (&e.window, label(&e.window));
            let _ = writeln!(
                s,
                "<tr aria-label=\"{name} {l} pricing: input ${}, cached ${}, output ${} per 1M tokens.\">\
                 <td data-window=\"{w}\">{l}</td><td data-window=\"{w}\">${}</td>\
                 <td data-window=\"{w}\">${}</td><td data-window=\"{w}\">${}</td></tr>",
                e.input, e.cached_input, e.output, e.input, e.cached_input, e.output
            );
        }
        s.push_str("</tbody>\n</table>\n");
    }
    s
}

/// `page` with its first input price replaced by `TBA`.
fn not_a_number(page: &str) -> String {
    let Some(at) = page.find("input $").map(|i| i + "input $".len()) else {
        return page.to_owned();
    };
    let end = page[at..].find(',').map_or(page.len(), |i| at + i);
    format!("{}TBA{}", &page[..at], &page[end..])
}

/// `GET /pricing.md[?break=number|structure|empty]`.
pub(crate) async fn serve(Query(q): Query<HashMap<String, String>>) -> Response {
    let today = day::of_unix(now_unix());
    let good = page(&PriceTable::bundled(), today);
    let body = match q.get("break").map(String::as_str) {
        // A price that is not a number.
        Some("number") => not_a_number(&good),
        // The tables lost the attribute naming their model.
        Some("structure") => good.replace("data-model", "data-name"),
        // Tables, no rows.
        Some("empty") => {
            let kept = good.lines().filter(|l| !l.starts_with("<tr aria-label"));
            kept.collect::<Vec<_>>().join("\n")
        }
        _ => good,
    };
    ([(CONTENT_TYPE, "text/markdown; charset=utf-8")], body).into_response()
}
