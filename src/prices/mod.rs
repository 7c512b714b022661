//! The price table: parsing and checking a price file (TOML), merging `--prices` over the
//! bundled file, and finding the entry that prices a row (model × window × day); with the
//! exact money types it is written in.

pub(crate) mod money;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

pub use self::money::{Rate, Usd};
use crate::error::UsageError;
use crate::time::day;

/// The bundled price file, embedded at build time.
pub(crate) const BUNDLED: &str = include_str!("../../prices/sail.toml");
/// The name the bundled file goes by in messages and reports.
pub(crate) const BUNDLED_NAME: &str = "bundled prices/sail.toml";
/// The window a price entry may name to cover every window of its model.
pub(crate) const ANY_WINDOW: &str = "*";
/// The window assumed for rows with none when no price file names one (Sail's batch default).
pub(crate) const FALLBACK_DEFAULT_WINDOW: &str = "standard";

/// Price entries by (model, window), oldest first.
type Entries = HashMap<(String, String), Vec<Entry>>;

/// One price entry: what a model costs in one window from a date on.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Model id, exactly as the API reports it.
    pub model: String,
    /// Normalised window name, or `*`.
    pub window: String,
    /// First UTC day (days since 1970-01-01) the entry is in force; `None` = always.
    pub from: Option<i64>,
    /// Uncached input tokens, per 1M.
    pub input: Rate,
    /// Cached input tokens, per 1M.
    pub cached_input: Rate,
    /// Output tokens (reasoning included), per 1M.
    pub output: Rate,
    /// Version of the file the entry came from.
    pub version: String,
}

/// Where a layer of the table came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file (`bundled prices/sail.toml` or the `--prices` path).
    pub file: String,
    /// Its `version`.
    pub version: String,
    /// Its `source`, if it gave one.
    pub source: Option<String>,
}

/// A checked price table, possibly several files merged (later ones win per model × window).
#[derive(Debug, Clone)]
pub struct PriceTable {
    /// The files merged into this table, bundled first.
    pub layers: Vec<Origin>,
    default_window: Option<String>,
    /// Alias → window whose price applies.
    pub aliases: BTreeMap<String, String>,
    /// (model, window) → entries sorted by `from`, oldest first.
    entries: Entries,
}

/// The entry that priced a row, and the window name it was found under.
#[derive(Debug, Clone, Copy)]
pub struct Match<'a> {
    /// The price entry.
    pub entry: &'a Entry,
    /// True when the row's window reached the entry through an alias.
    pub via_alias: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    version: String,
    source: Option<String>,
    default_window: Option<String>,
    #[serde(default)]
    window_aliases: BTreeMap<String, String>,
    #[serde(default)]
    price: Vec<Spanned<RawPrice>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrice {
    model: String,
    window: String,
    input: Spanned<f64>,
    cached_input: Spanned<f64>,
    output: Spanned<f64>,
    effective_from: Option<Spanned<toml::Value>>,
}

/// Normalises a window name the way SQL `lower(trim(x))` does: ASCII lowercase, spaces trimmed.
pub(crate) fn normalize_window(w: &str) -> String {
    w.trim_matches(' ').to_ascii_lowercase()
}

impl PriceTable {
    /// The bundled table.
    pub fn bundled() -> PriceTable {
        PriceTable::parse(BUNDLED, BUNDLED_NAME).expect("the bundled price file is valid")
    }

    /// The bundled table with `--prices FILE` merged over it when given.
    pub(crate) fn load(overrides: Option<&Path>) -> anyhow::Result<PriceTable> {
        let base = PriceTable::bundled();
        let Some(path) = overrides else {
            return Ok(base);
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            UsageError::new(format!("cannot read --prices '{}': {e}", path.display()))
        })?;
        let over = PriceTable::parse(&text, &path.display().to_string())?;
        Ok(base.merge(over)?)
    }

    /// Parses and checks one price file; `name` is used in error messages.
    pub fn parse(text: &str, name: &str) -> Result<PriceTable, UsageError> {
        let bad = |line: Option<usize>, what: String| {
            let at = line.map(|l| format!(" line {l}")).unwrap_or_default();
            UsageError::new(format!(
                "price file '{name}'{at}: {what}; fix the file (format: see the README) or pass another --prices FILE"
            ))
        };
        let line_of = |at: usize| text[..at.min(text.len())].matches('\n').count() + 1;
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(s.start));
            bad(line, e.message().trim_end().to_owned())
        })?;
        if raw.version.trim().is_empty() {
            return Err(bad(None, "`version` is empty".into()));
        }
        let entries = read_entries(&raw, line_of).map_err(|(l, w)| bad(Some(l), w))?;
        let aliases = read_aliases(&raw).map_err(|w| bad(None, w))?;
        let default_window = match raw.default_window.as_deref().map(normalize_window) {
            Some(w) if w.is_empty() || w == ANY_WINDOW => {
                return Err(bad(None, "`default_window` must name a window".into()))
            }
            other => other,
        };
        let table = PriceTable {
            layers: vec![Origin {
                file: name.to_owned(),
                version: raw.version,
                source: raw.source,
            }],
            default_window,
            aliases,
            entries,
        };
        table.check_aliases().map_err(|w| bad(None, w))?;
        Ok(table)
    }

    /// This table with `over` merged on top: `over`'s entries for a model × window replace
    /// ours for that pair (whole history); its aliases and default window win.
    pub fn merge(mut self, over: PriceTable) -> Result<PriceTable, UsageError> {
        let file = over
            .layers
            .last()
            .map(|o| o.file.clone())
            .unwrap_or_default();
        self.entries.extend(over.entries);
        self.aliases.extend(over.aliases);
        self.default_window = over.default_window.or(self.default_window);
        self.layers.extend(over.layers);
        self.check_aliases().map_err(|w| {
            UsageError::new(format!(
                "price file '{file}': {w}; fix the file or pass another --prices FILE"
            ))
        })?;
        Ok(self)
    }

    /// Aliases point at final windows: no alias targets another alias.
    fn check_aliases(&self) -> Result<(), String> {
        for (alias, target) in &self.aliases {
            if self.aliases.contains_key(target) {
                return Err(format!(
                    "window alias '{alias}' points to '{target}', which is itself an alias; point it at the final window"
                ));
            }
        }
        Ok(())
    }

    /// The window assumed for rows with none.
    pub fn default_window(&self) -> &str {
        self.default_window
            .as_deref()
            .unwrap_or(FALLBACK_DEFAULT_WINDOW)
    }

    /// The version of the top layer (the `--prices` file if any, else the bundled one).
    pub(crate) fn version(&self) -> &str {
        self.layers.last().map_or("", |o| o.version.as_str())
    }

    /// The source of the top layer.
    pub(crate) fn source(&self) -> Option<&str> {
        self.layers.last().and_then(|o| o.source.as_deref())
    }

    /// Every entry, sorted by model, window and date (for writing the table into SQLite).
    pub(crate) fn entries(&self) -> Vec<&Entry> {
        let mut all: Vec<&Entry> = self.entries.values().flatten().collect();
        all.sort_by(|a, b| (&a.model, &a.window, a.from).cmp(&(&b.model, &b.window, b.from)));
        all
    }

    /// The entry pricing `model` in (normalised) `window` on UTC `day` (`None`: the newest).
    /// Tried in order: the window itself, its alias, then `*`; for each, the newest entry
    /// in force that day. `None` when nothing applies: the row is unpriced.
    pub fn lookup(&self, model: &str, window: &str, day: Option<i64>) -> Option<Match<'_>> {
        let alias = self.aliases.get(window).map(String::as_str);
        let tries = [
            (Some(window), false),
            (alias, true),
            (Some(ANY_WINDOW), false),
        ];
        tries.into_iter().find_map(|(w, via_alias)| {
            let list = self.entries.get(&(model.to_owned(), w?.to_owned()))?;
            let entry = list.iter().rev().find(|e| match (e.from, day) {
                (Some(from), Some(d)) => from <= d,
                _ => true,
            })?;
            Some(Match { entry, via_alias })
        })
    }
}

/// Checks one `[[price]]` table; the error gives the offending field's byte offset (when
/// known) and says which field is wrong and why.
fn check_entry(p: &RawPrice, version: &str) -> Result<Entry, (Option<usize>, String)> {
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
    let from = match &p.effective_from {
        None => None,
        Some(v) => Some(effective_day(v.get_ref()).ok_or_else(|| {
            (Some(v.span().start), format!(
                "[[price]] model '{model}' window '{window}': `effective_from` = {} must be a date \"YYYY-MM-DD\"",
                v.get_ref()
            ))
        })?),
    };
    Ok(Entry {
        input: rate("input", &p.input)?,
        cached_input: rate("cached_input", &p.cached_input)?,
        output: rate("output", &p.output)?,
        model,
        window,
        from,
        version: version.to_owned(),
    })
}

/// `effective_from` as a quoted `"YYYY-MM-DD"` or a bare TOML date.
fn effective_day(v: &toml::Value) -> Option<i64> {
    match v {
        toml::Value::String(s) => day::parse(s.trim()),
        toml::Value::Datetime(dt) if dt.time.is_none() && dt.offset.is_none() => {
            day::parse(&dt.to_string())
        }
        _ => None,
    }
}

/// The `[[price]]` entries of a file, checked, by model × window, oldest first. An error is
/// (line, what is wrong).
fn read_entries(
    raw: &RawFile,
    line_of: impl Fn(usize) -> usize,
) -> Result<Entries, (usize, String)> {
    let mut entries = Entries::new();
    for spanned in &raw.price {
        let start = spanned.span().start;
        let entry = check_entry(spanned.get_ref(), &raw.version)
            .map_err(|(at, w)| (line_of(at.unwrap_or(start)), w))?;
        let key = (entry.model.clone(), entry.window.clone());
        let list = entries.entry(key).or_default();
        if list.iter().any(|e| e.from == entry.from) {
            return Err((
                line_of(start),
                format!(
                    "a second [[price]] for model '{}' window '{}' with the same effective_from",
                    entry.model, entry.window
                ),
            ));
        }
        list.push(entry);
    }
    for list in entries.values_mut() {
        list.sort_by_key(|e| e.from);
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
