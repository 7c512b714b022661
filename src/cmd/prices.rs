//! `sail-export prices`: the price table in force on a day, each entry with its source and
//! the days it covers; `prices update`: Sail's pricing page read into today's price file of
//! the prices folder, with what changed against the prices in force.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::cli::{PricesAction, PricesArgs, PricesUpdateArgs};
use crate::error::{exit, UsageError};
use crate::prices::history::{span_at, Span};
use crate::prices::{page, store, Entry, PriceTable};
use crate::time::{day, now_unix};

/// Runs `prices` or `prices update`; returns the exit code.
pub(crate) async fn run(args: PricesArgs) -> anyhow::Result<i32> {
    match args.action {
        Some(PricesAction::Update(u)) => update(u).await,
        None => show(&args),
    }
}

/// Today, as a UTC day.
fn today() -> i64 {
    day::of_unix(now_unix())
}

/// Prints the table in force on `--at` (default today).
fn show(args: &PricesArgs) -> anyhow::Result<i32> {
    let at = match &args.at {
        Some(d) => day::parse(d.trim()).ok_or_else(|| {
            UsageError::new(format!(
                "--at '{d}' is not a date; use YYYY-MM-DD (a UTC day, e.g. 2026-08-15)"
            ))
        })?,
        None => today(),
    };
    let table = PriceTable::load(args.prices.as_deref())?;
    let spans: Vec<Span<'_>> = table
        .histories()
        .into_iter()
        .filter_map(|h| span_at(h, at))
        .collect();
    let text = if args.json {
        format!(
            "{}\n",
            serde_json::to_string_pretty(&to_json(&table, at, &spans))?
        )
    } else {
        to_text(&table, at, &spans)
    };
    std::io::Write::write_all(&mut crate::out::Stdout, text.as_bytes())?;
    Ok(exit::OK)
}

/// A day, or `fallback` for none.
fn date(d: Option<i64>, fallback: &str) -> String {
    d.map_or_else(|| fallback.to_owned(), day::format)
}

/// The three prices of an entry as `in / cached / out`.
fn rates(e: &Entry) -> String {
    format!("{} / {} / {}", e.input, e.cached_input, e.output)
}

/// What an entry was seen as: `seen 2026-08-01` or `seen 2026-08-01 … 2026-10-07`.
fn seen(e: &Entry) -> String {
    match e.seen {
        Some((a, b)) if a == b => format!("seen {}", day::format(a)),
        Some((a, b)) => format!("seen {} … {}", day::format(a), day::format(b)),
        None => "not an observation".to_owned(),
    }
}

fn to_text(table: &PriceTable, at: i64, spans: &[Span<'_>]) -> String {
    let mut t = comfy_table::Table::new();
    t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
    t.set_header([
        "model", "window", "input", "cached", "output", "in force", "seen", "source",
    ]);
    for s in spans {
        let e = s.entry;
        let until = s.until.map(|u| day::format(u - 1));
        t.add_row([
            e.model.clone(),
            e.window.clone(),
            e.input.to_string(),
            e.cached_input.to_string(),
            e.output.to_string(),
            format!(
                "{} – {}",
                date(e.from, "any day"),
                until.as_deref().unwrap_or("now")
            ),
            seen(e).trim_start_matches("seen ").to_owned(),
            format!("{} ({})", e.source.as_deref().unwrap_or("-"), e.file),
        ]);
    }
    let mut out = format!(
        "prices in force on {} (UTC), USD per 1M tokens\n{t}\n",
        day::format(at)
    );
    for s in spans {
        if let Some((first, next)) = s.unknown_change {
            let _ = writeln!(
                out,
                "warning: {} × '{}': {} was {}, {} {}; the day it changed is unknown, so rows of {} – {} are priced at the earlier price and counted as uncertain in reports",
                s.entry.model,
                s.entry.window,
                rates(s.entry),
                seen(s.entry),
                rates(next),
                seen(next),
                day::format(first),
                date(next.from.map(|f| f - 1), "now"),
            );
        }
    }
    let aliases: Vec<String> = table
        .aliases
        .iter()
        .map(|(a, w)| format!("{a} → {w}"))
        .collect();
    let _ = writeln!(out, "window aliases: {}", aliases.join(", "));
    let _ = writeln!(
        out,
        "rows with no window are priced as '{}'",
        table.default_window()
    );
    let files: Vec<String> = table
        .layers
        .iter()
        .map(|o| format!("{} [{}]", o.file, o.version))
        .collect();
    let _ = writeln!(out, "price files: {}", files.join(", "));
    out
}

fn entry_json(e: &Entry) -> Value {
    json!({
        "input": e.input.usd(),
        "cached_input": e.cached_input.usd(),
        "output": e.output.usd(),
        "seen_first": e.seen.map(|s| day::format(s.0)),
        "seen_last": e.seen.map(|s| day::format(s.1)),
        "effective_from": e.effective_from.map(day::format),
        "source": e.source,
        "file": e.file,
        "version": e.version,
    })
}

fn to_json(table: &PriceTable, at: i64, spans: &[Span<'_>]) -> Value {
    let prices: Vec<Value> = spans
        .iter()
        .map(|s| {
            let mut v = entry_json(s.entry);
            v["model"] = json!(s.entry.model);
            v["window"] = json!(s.entry.window);
            v["in_force_from"] = json!(s.entry.from.map(day::format));
            v["in_force_until"] = json!(s.until.map(day::format));
            v["unknown_change"] = s.unknown_change.map_or(Value::Null, |(first, next)| {
                json!({"from": day::format(first), "until": next.from.map(day::format), "next": entry_json(next)})
            });
            v
        })
        .collect();
    let files: Vec<Value> = table
        .layers
        .iter()
        .map(|o| json!({"file": o.file, "version": o.version, "source": o.source}))
        .collect();
    json!({
        "at": day::format(at),
        "prices": prices,
        "window_aliases": table.aliases,
        "default_window": table.default_window(),
        "files": files,
    })
}

/// Reads the page, checks it, writes today's file and prints what changed.
async fn update(args: PricesUpdateArgs) -> anyhow::Result<i32> {
    let url = args.from.trim();
    let text = fetch(url, args.timeout).await?;
    let rows = page::parse(&text).map_err(|why| {
        anyhow::anyhow!(
            "the pricing page at {url} does not read as a price list: {why}; nothing was written \
             (if Sail changed its page, write a price file by hand and pass it with --prices FILE)"
        )
    })?;
    let now = today();
    let body = store::render(&rows, now, url);
    // What is written must read back as the same prices.
    PriceTable::parse(&body, "the new price file").context("the page's prices")?;
    let dir = store::dir().ok_or_else(|| {
        anyhow::anyhow!(
            "no config folder to write prices into (no HOME); set {}",
            store::DIR_ENV
        )
    })?;
    let before = PriceTable::installed()?;
    let report = changes(&before, &rows, now);
    let path = store::write(&dir, &store::file_name(now), &body)?;
    let mut out = format!(
        "read {} prices of {} models from {url}\n{report}",
        rows.len(),
        count_models(&rows)
    );
    let _ = writeln!(
        out,
        "wrote {}: cost, reconcile and new exports price rows from {} on by it",
        path.display(),
        day::format(now)
    );
    std::io::Write::write_all(&mut crate::out::Stdout, out.as_bytes())?;
    Ok(exit::OK)
}

fn count_models(rows: &[page::Row]) -> usize {
    let mut m: Vec<&str> = rows.iter().map(|r| r.model.as_str()).collect();
    m.sort_unstable();
    m.dedup();
    m.len()
}

/// The page's rows against the prices in force on `now`: changed, new, and not on the page.
fn changes(before: &PriceTable, rows: &[page::Row], now: i64) -> String {
    let mut out = String::new();
    let mut changed = 0;
    for r in rows {
        let old = span_at(before.history(&r.model, &r.window), now).map(|s| s.entry);
        let new = format!("{} / {} / {}", r.input, r.cached_input, r.output);
        match old {
            None => {
                let _ = writeln!(out, "new: {} × '{}': {new}", r.model, r.window);
                changed += 1;
            }
            Some(e)
                if (e.input, e.cached_input, e.output) != (r.input, r.cached_input, r.output) =>
            {
                let _ = writeln!(
                    out,
                    "changed: {} × '{}': {} → {new} (in force: {}, {})",
                    r.model,
                    r.window,
                    rates(e),
                    seen(e),
                    e.file
                );
                changed += 1;
            }
            Some(_) => {}
        }
    }
    let mut gone = 0;
    for h in before.histories() {
        let Some(s) = span_at(h, now) else { continue };
        let e = s.entry;
        if e.window == "*"
            || rows
                .iter()
                .any(|r| r.model == e.model && r.window == e.window)
        {
            continue;
        }
        let _ = writeln!(
            out,
            "not on the page: {} × '{}' (still priced at {}, {})",
            e.model,
            e.window,
            rates(e),
            seen(e)
        );
        gone += 1;
    }
    if changed == 0 {
        let _ = writeln!(
            out,
            "no change: every price on the page is the one in force{}",
            if gone > 0 {
                " (some prices in force are not on the page)"
            } else {
                ""
            }
        );
    }
    out
}

/// GETs the page: its text, or an error naming the URL and what went wrong.
async fn fetch(url: &str, timeout: f64) -> anyhow::Result<String> {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(
            UsageError::new(format!("--from '{url}' must be an http:// or https:// URL")).into(),
        );
    }
    crate::api::tls::install_provider();
    let client = reqwest::Client::builder()
        .tls_certs_merge(crate::api::tls::extra_roots(&[]))
        .user_agent(concat!("sail-export/", env!("CARGO_PKG_VERSION")))
        .timeout(Duration::from_secs_f64(timeout.max(0.1)))
        .build()
        .context("building the HTTP client")?;
    let resp = client
        .get(url)
        .send()
        .await
        .with_context(|| format!("reading the pricing page {url}"))?;
    let status = resp.status();
    if !status.is_success() {
        bail!("reading the pricing page {url}: HTTP {status}; nothing was written");
    }
    resp.text()
        .await
        .with_context(|| format!("reading the pricing page {url}"))
}
