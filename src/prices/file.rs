//! Reading one price file (TOML): its `[[price]]` entries, `[sources]`, `[window_aliases]`
//! and `default_window`, each checked, with the line of what is wrong in the error.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::{normalize_window, Entries, Entry, Rate, ANY_WINDOW};
use crate::time::day;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    pub(super) version: String,
    pub(super) source: Option<String>,
    pub(super) default_window: Option<String>,
    /// Day a page was seen (`YYYY-MM-DD`) → where it was seen.
    #[serde(default)]
    pub(super) sources: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) window_aliases: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) price: Vec<Spanned<RawPrice>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPrice {
    model: String,
    window: String,
    input: Spanned<f64>,
    cached_input: Spanned<f64>,
    output: Spanned<f64>,
    effective_from: Option<Spanned<toml::Value>>,
    seen: Option<Spanned<toml::Value>>,
    source: Option<String>,
}

/// What one file says, before it is layered into a table.
pub(super) struct Parsed {
    pub(super) raw: RawFile,
    pub(super) entries: Entries,
    pub(super) aliases: BTreeMap<String, String>,
    pub(super) default_window: Option<String>,
}

/// Parses and checks one price file; an error is (line, what is wrong).
pub(super) fn parse(text: &str, name: &str) -> Result<Parsed, (Option<usize>, String)> {
    let line_of = |at: usize| text[..at.min(text.len())].matches('\n').count() + 1;
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        (
            e.span().map(|s| line_of(s.start)),
            e.message().trim_end().to_owned(),
        )
    })?;
    if raw.version.trim().is_empty() {
        return Err((None, "`version` is empty".into()));
    }
    for d in raw.sources.keys() {
        if day::parse(d).is_none() {
            return Err((
                None,
                format!("[sources] key '{d}' must be a date \"YYYY-MM-DD\""),
            ));
        }
    }
    let entries = read_entries(&raw, name, line_of).map_err(|(l, w)| (Some(l), w))?;
    let aliases = read_aliases(&raw).map_err(|w| (None, w))?;
    let default_window = match raw.default_window.as_deref().map(normalize_window) {
        Some(w) if w.is_empty() || w == ANY_WINDOW => {
            return Err((None, "`default_window` must name a window".into()))
        }
        other => other,
    };
    Ok(Parsed {
        raw,
        entries,
        aliases,
        default_window,
    })
}

/// Checks one `[[price]]` table; the error gives the offending field's byte offset (when
/// known) and says which field is wrong and why.
fn check_entry(p: &RawPrice, raw: &RawFile, file: &str) -> Result<Entry, (Option<usize>, String)> {
    let model = p.model.trim().to_owned();
    let window = normalize_window(&p.window);
    if model.is_empty() {
        return Err((None, "[[price]] has an empty `model`".into()));
    }
    if window.is_empty() {
        return Err((
            None,
            format!("[[price]] for model '{model}' has an empty `window`"),
        ));
    }
    let rate = |field: &str, v: &Spanned<f64>| {
        Rate::from_usd(*v.get_ref()).ok_or_else(|| {
            (Some(v.span().start), format!(
                "[[price]] model '{model}' window '{window}': `{field}` = {} must be a non-negative USD-per-1M-tokens price with at most 9 decimals",
                v.get_ref()
            ))
        })
    };
    let date = |field: &str, v: &Option<Spanned<toml::Value>>| {
        match v {
        None => Ok(None),
        Some(v) => effective_day(v.get_ref()).map(Some).ok_or_else(|| {
            (Some(v.span().start), format!(
                "[[price]] model '{model}' window '{window}': `{field}` = {} must be a date \"YYYY-MM-DD\"",
                v.get_ref()
            ))
        }),
    }
    };
    let seen = date("seen", &p.seen)?;
    let source = p
        .source
        .clone()
        .or_else(|| seen.and_then(|s| raw.sources.get(&day::format(s)).cloned()))
        .or_else(|| raw.source.clone());
    Ok(Entry {
        input: rate("input", &p.input)?,
        cached_input: rate("cached_input", &p.cached_input)?,
        output: rate("output", &p.output)?,
        effective_from: date("effective_from", &p.effective_from)?,
        from: None,
        seen: seen.map(|s| (s, s)),
        model,
        window,
        version: raw.version.clone(),
        source,
        file: file.to_owned(),
    })
}

/// A date as a quoted `"YYYY-MM-DD"` or a bare TOML date.
fn effective_day(v: &toml::Value) -> Option<i64> {
    match v {
        toml::Value::String(s) => day::parse(s.trim()),
        toml::Value::Datetime(dt) if dt.time.is_none() && dt.offset.is_none() => {
            day::parse(&dt.to_string())
        }
        _ => None,
    }
}

/// The `[[price]]` entries of a file, checked, by model × window. An error is (line, what
/// is wrong).
fn read_entries(
    raw: &RawFile,
    file: &str,
    line_of: impl Fn(usize) -> usize,
) -> Result<Entries, (usize, String)> {
    let mut entries = Entries::new();
    for spanned in &raw.price {
        let start = spanned.span().start;
        let entry = check_entry(spanned.get_ref(), raw, file)
            .map_err(|(at, w)| (line_of(at.unwrap_or(start)), w))?;
        let key = (entry.model.clone(), entry.window.clone());
        let list = entries.entry(key).or_default();
        if list.iter().any(|e| e.date_key() == entry.date_key()) {
            return Err((
                line_of(start),
                format!(
                    "a second [[price]] for model '{}' window '{}' with the same effective_from and seen",
                    entry.model, entry.window
                ),
            ));
        }
        list.push(entry);
    }
    Ok(entries)
}

/// The `[window_aliases]` of a file, normalised: alias → window.
fn read_aliases(raw: &RawFile) -> Result<BTreeMap<String, String>, String> {
    let mut aliases = BTreeMap::new();
    for (alias, target) in &raw.window_aliases {
        let (a, t) = (normalize_window(alias), normalize_window(target));
        if a.is_empty() || t.is_empty() || a == ANY_WINDOW || t == ANY_WINDOW {
            return Err(format!(
                "[window_aliases] '{alias}' = '{target}': names must be real windows, not empty or '*'"
            ));
        }
        aliases.insert(a, t);
    }
    Ok(aliases)
}
