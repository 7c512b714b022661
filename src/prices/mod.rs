//! The price table: the bundled price history, the dated files `prices update` wrote and
//! `--prices FILE`, layered into one table; and the lookup that prices a row (model × window
//! × day), saying when the day a price changed is unknown. With the exact money types.

mod file;
pub mod history;
pub(crate) mod money;
pub mod page;
pub mod store;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

pub use self::money::{Rate, Usd};
use crate::error::UsageError;

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
    /// First UTC day (days since 1970-01-01) the entry is in force; `None` = always before
    /// the next entry. Derived from `effective_from` and `seen` (see [`history`]).
    pub from: Option<i64>,
    /// The day the price is known to have started, as the file gives it (`effective_from`).
    pub effective_from: Option<i64>,
    /// The first and last days this price was seen on Sail's page (`seen`); `None` for a
    /// price file entry that is not an observation.
    pub seen: Option<(i64, i64)>,
    /// Uncached input tokens, per 1M.
    pub input: Rate,
    /// Cached input tokens, per 1M.
    pub cached_input: Rate,
    /// Output tokens (reasoning included), per 1M.
    pub output: Rate,
    /// Version of the file the entry came from.
    pub version: String,
    /// Where the price was seen or taken from.
    pub source: Option<String>,
    /// The price file it came from (`bundled prices/sail.toml` or a path).
    pub file: String,
}

impl Entry {
    /// The day that orders entries of one model × window: `effective_from`, else `seen`.
    pub(crate) fn date_key(&self) -> Option<i64> {
        self.effective_from.or(self.seen.map(|s| s.0))
    }

    /// True when both entries charge the same for every kind of token.
    pub(crate) fn same_rates(&self, o: &Entry) -> bool {
        (self.input, self.cached_input, self.output) == (o.input, o.cached_input, o.output)
    }

    /// What billed tokens `[input − cached, cached, output]` cost at this entry.
    pub fn cost(&self, billed: &[i64; 3]) -> Usd {
        let rates = [self.input, self.cached_input, self.output];
        billed.iter().zip(rates).map(|(t, r)| r.times(*t)).sum()
    }
}

/// Where a layer of the table came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file (`bundled prices/sail.toml`, a file of `prices update` or `--prices`).
    pub file: String,
    /// Its `version`.
    pub version: String,
    /// Its `source`, if it gave one.
    pub source: Option<String>,
}

/// A checked price table, possibly several files layered (see `PriceTable::load`).
#[derive(Debug, Clone)]
pub struct PriceTable {
    /// The files layered into this table, bundled first.
    pub layers: Vec<Origin>,
    default_window: Option<String>,
    /// Alias → window whose price applies.
    pub aliases: BTreeMap<String, String>,
    /// (model, window) → entries sorted by `from`, oldest first.
    entries: Entries,
}

/// The entry that prices a row: the answer of [`PriceTable::lookup`].
#[derive(Debug, Clone, Copy)]
pub struct Match<'a> {
    /// The price entry in force (under the rule of [`history`] when `uncertain`).
    pub entry: &'a Entry,
    /// True when the row's window reached the entry through an alias.
    pub via_alias: bool,
    /// When the row's day lies between two observations of this model × window that
    /// disagree (the day of the change is unknown): the later observation, the other price
    /// the row may have been billed at. The row is priced at `entry` (the earlier one).
    pub uncertain: Option<&'a Entry>,
}

/// What billed tokens cost under a [`Match`]: the figure, and its range when uncertain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Priced {
    /// At the entry in force.
    pub usd: Usd,
    /// (low, high) over the two prices the row may have been billed at, when uncertain.
    pub range: Option<(Usd, Usd)>,
}

impl Match<'_> {
    /// What billed tokens `[input − cached, cached, output]` cost, with the range when the
    /// price is uncertain.
    pub fn cost(&self, billed: &[i64; 3]) -> Priced {
        let usd = self.entry.cost(billed);
        let range = self.uncertain.map(|other| {
            let alt = other.cost(billed);
            (usd.min(alt), usd.max(alt))
        });
        Priced { usd, range }
    }
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

    /// The table in force for every command: the bundled history, then the dated files
    /// `prices update` wrote (oldest first, each an observation added to the history), then
    /// `--prices FILE` when given (its entries replace a model × window's whole history).
    pub(crate) fn load(overrides: Option<&Path>) -> anyhow::Result<PriceTable> {
        let mut table = PriceTable::installed()?;
        let Some(path) = overrides else {
            return Ok(table);
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            UsageError::new(format!("cannot read --prices '{}': {e}", path.display()))
        })?;
        let over = PriceTable::parse(&text, &path.display().to_string())?;
        table = table.merge(over)?;
        Ok(table)
    }

    /// The bundled history with every file of the prices folder ([`store::dir`]) added.
    pub fn installed() -> anyhow::Result<PriceTable> {
        let mut all = PriceTable::installed_versions()?;
        Ok(all.pop().unwrap_or_else(PriceTable::bundled))
    }

    /// The bundled table, then the same with the prices folder's files added one by one,
    /// oldest first: every table this program would have written into an export before.
    pub(crate) fn installed_versions() -> anyhow::Result<Vec<PriceTable>> {
        let mut all = vec![PriceTable::bundled()];
        for path in store::files(store::dir().as_deref())? {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| UsageError::new(format!("cannot read '{}': {e}", path.display())))?;
            let file = PriceTable::parse(&text, &path.display().to_string())?;
            let newest = all.last().cloned().unwrap_or_else(PriceTable::bundled);
            all.push(newest.add_history(file));
        }
        Ok(all)
    }

    /// Parses and checks one price file; `name` is used in error messages.
    pub fn parse(text: &str, name: &str) -> Result<PriceTable, UsageError> {
        let bad = |line: Option<usize>, what: String| {
            let at = line.map(|l| format!(" line {l}")).unwrap_or_default();
            UsageError::new(format!(
                "price file '{name}'{at}: {what}; fix the file (format: see docs/reference.md) or pass another --prices FILE"
            ))
        };
        let p = file::parse(text, name).map_err(|(l, w)| bad(l, w))?;
        let mut table = PriceTable {
            layers: vec![Origin {
                file: name.to_owned(),
                version: p.raw.version,
                source: p.raw.source,
            }],
            default_window: p.default_window,
            aliases: p.aliases,
            entries: p.entries,
        };
        table.check_aliases().map_err(|w| bad(None, w))?;
        table.entries.values_mut().for_each(history::settle);
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
        self.aliases.extend(over.aliases);
        let named = |m: &str, w: &str| over.entries.contains_key(&(m.to_owned(), w.to_owned()));
        let mut moved = Entries::new();
        for ((model, window), mut list) in over.entries.clone() {
            // An entry under a name that is now an alias (`balanced`, from price files written
            // when it was the name of Sail's default window) prices its target, unless the
            // same file prices the target itself.
            let window = match self.aliases.get(&window) {
                Some(target) if !named(&model, target) => target.clone(),
                _ => window,
            };
            list.iter_mut().for_each(|e| e.window.clone_from(&window));
            moved.insert((model, window), list);
        }
        self.entries.extend(moved);
        self.default_window = over.default_window.or(self.default_window);
        self.layers.extend(over.layers);
        self.check_aliases().map_err(|w| {
            UsageError::new(format!(
                "price file '{file}': {w}; fix the file or pass another --prices FILE"
            ))
        })?;
        Ok(self)
    }

    /// This table with `later`'s entries added to each model × window's history (a later
    /// observation of the same day replaces ours); aliases and default window are ours.
    pub fn add_history(mut self, later: PriceTable) -> PriceTable {
        for (key, list) in later.entries {
            let mine = self.entries.entry(key).or_default();
            mine.extend(list);
            history::settle(mine);
        }
        self.layers.extend(later.layers);
        self
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

    /// The version of the top layer (the `--prices` file if any, else the newest).
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

    /// Every model × window's history, sorted by model and window.
    pub fn histories(&self) -> Vec<&[Entry]> {
        let mut all: Vec<_> = self.entries.iter().collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all.into_iter().map(|(_, v)| v.as_slice()).collect()
    }

    /// The history of one model × window, oldest first (empty when it has none).
    pub fn history(&self, model: &str, window: &str) -> &[Entry] {
        self.entries
            .get(&(model.to_owned(), window.to_owned()))
            .map_or(&[], Vec::as_slice)
    }

    /// The entry pricing `model` in (normalised) `window` on UTC `day` (days since
    /// 1970-01-01; `None`: the newest). Tried in order: the window itself, its alias, then
    /// `*`; for each, the newest entry in force that day. `None` when nothing applies: the
    /// row is unpriced. `uncertain` is set when the day falls where the change day is
    /// unknown (see [`history`]); [`Match::cost`] then gives the range.
    pub fn lookup(&self, model: &str, window: &str, day: Option<i64>) -> Option<Match<'_>> {
        let alias = self.aliases.get(window).map(String::as_str);
        let tries = [
            (Some(window), false),
            (alias, true),
            (Some(ANY_WINDOW), false),
        ];
        tries.into_iter().find_map(|(w, via_alias)| {
            let list = self.entries.get(&(model.to_owned(), w?.to_owned()))?;
            let (entry, uncertain) = history::in_force(list, day)?;
            Some(Match {
                entry,
                via_alias,
                uncertain,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::PriceTable;

    #[test]
    fn a_price_file_naming_balanced_prices_standard_rows() {
        let file =
            "version = \"mine\"\n[[price]]\nmodel = \"zai-org/GLM-5.3\"\nwindow = \"balanced\"\n\
                    input = 9.0\ncached_input = 1.0\noutput = 20.0\n";
        let table = PriceTable::bundled()
            .merge(PriceTable::parse(file, "mine.toml").unwrap())
            .unwrap();
        let m = table.lookup("zai-org/GLM-5.3", "standard", None).unwrap();
        assert_eq!(
            (m.entry.input.usd(), m.entry.window.as_str()),
            (9.0, "standard")
        );
        // A file that prices standard too keeps its balanced entry apart.
        let both = format!("{file}[[price]]\nmodel = \"zai-org/GLM-5.3\"\nwindow = \"standard\"\ninput = 3.0\ncached_input = 1.0\noutput = 20.0\n");
        let table = PriceTable::bundled()
            .merge(PriceTable::parse(&both, "mine.toml").unwrap())
            .unwrap();
        let m = table.lookup("zai-org/GLM-5.3", "standard", None).unwrap();
        assert_eq!(m.entry.input.usd(), 3.0);
    }
}
