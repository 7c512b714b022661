//! The custom_ids to export: read from a text, JSONL or CSV manifest (or stdin), with line
//! numbers kept for warnings and errors.

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;

use anyhow::{anyhow, Context};

use crate::error::UsageError;
use crate::ids::IdList;

/// The ids of a manifest, de-duplicated in first-seen order, and what was odd about them.
#[derive(Debug, Default)]
pub struct Manifest {
    /// Unique ids, in the order first seen.
    pub ids: IdList,
    /// How many repeated entries were dropped.
    pub duplicates: usize,
    /// Line numbers (1-based) of ids outside Sail's documented pattern.
    pub unusual_lines: Vec<usize>,
}

/// Sail's documented custom_id pattern: `^[a-z0-9][a-z0-9_-]{0,63}$`.
pub(crate) fn is_documented_id(id: &str) -> bool {
    let b = id.as_bytes();
    let ok = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty()
        && b.len() <= 64
        && ok(&b[0])
        && b[1..].iter().all(|c| ok(c) || *c == b'_' || *c == b'-')
}

/// The formats a manifest can be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Text,
    Jsonl,
    Csv,
}

impl Manifest {
    /// Reads `path` (`-` for stdin). The format follows the extension: `.jsonl`/`.ndjson`,
    /// `.csv`, anything else text; stdin is text unless its first entry starts with `{`.
    pub fn read(path: &Path) -> anyhow::Result<Manifest> {
        let name = path.display().to_string();
        let bytes = if name == "-" {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf).map_err(|e| {
                UsageError::new(format!("cannot read the manifest from stdin: {e}"))
            })?;
            buf
        } else {
            std::fs::read(path).map_err(|e| {
                UsageError::new(format!(
                    "cannot read manifest '{name}': {e} (check -m/--manifest)"
                ))
            })?
        };
        if u32::try_from(bytes.len()).is_err() {
            return Err(UsageError::new(format!(
                "manifest '{name}' is larger than 4 GiB; a batch holds at most 100,000 ids"
            ))
            .into());
        }
        let text = String::from_utf8(bytes)
            .map_err(|e| UsageError::new(format!("manifest '{name}' is not UTF-8 text: {e}")))?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let format = match ext.as_deref() {
            Some("jsonl" | "ndjson") => Format::Jsonl,
            Some("csv") => Format::Csv,
            _ if name == "-" && text.trim_start().starts_with('{') => Format::Jsonl,
            _ => Format::Text,
        };
        let bad = |e: anyhow::Error| UsageError::new(format!("manifest '{name}': {e:#}"));
        let manifest = match format {
            Format::Text => Manifest::from_entries(text_entries(text)),
            Format::Jsonl => jsonl_entries(text).map_err(bad)?.manifest(),
            Format::Csv => csv_entries(text).map_err(bad)?.manifest(),
        };
        if manifest.ids.is_empty() {
            return Err(UsageError::new(format!("manifest '{name}' has no custom_ids")).into());
        }
        Ok(manifest)
    }

    /// Builds a manifest from `(line, id)` pairs: duplicates dropped, unusual ids noted.
    /// Duplicates are found over borrowed ids and the kept ones are copied into one
    /// [`IdList`], so a 100,000-id manifest costs a few large blocks, not a block per id.
    pub(crate) fn from_entries<'a>(
        entries: impl IntoIterator<Item = (usize, &'a str)>,
    ) -> Manifest {
        let entries = entries.into_iter();
        let mut seen = HashSet::with_capacity(entries.size_hint().0);
        let mut m = Manifest::default();
        for (line, id) in entries {
            if !seen.insert(id) {
                m.duplicates += 1;
                continue;
            }
            if !is_documented_id(id) {
                m.unusual_lines.push(line);
            }
            m.ids.push(id);
        }
        m.ids.shrink_to_fit();
        m
    }

    /// Warnings worth printing once (duplicates, ids outside the documented pattern).
    pub(crate) fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.duplicates > 0 {
            out.push(format!(
                "{} duplicate custom_id entries in the manifest; each id is fetched once",
                self.duplicates
            ));
        }
        if !self.unusual_lines.is_empty() {
            let shown: Vec<String> = self
                .unusual_lines
                .iter()
                .take(20)
                .map(usize::to_string)
                .collect();
            let more = self.unusual_lines.len().saturating_sub(20);
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            out.push(format!(
                "{} custom_ids do not match Sail's pattern ^[a-z0-9][a-z0-9_-]{{0,63}}$ (lines {}{more}); \
                 they are fetched anyway, percent-encoded",
                self.unusual_lines.len(),
                shown.join(", ")
            ));
        }
        out
    }
}

/// One id per line; blank lines and `#` comments skipped; whitespace (and CR) trimmed.
fn text_entries(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
}

/// Ids read out of a structured manifest, with the line each came from.
#[derive(Debug, Default)]
struct Entries {
    lines: Vec<usize>,
    ids: IdList,
}

impl Entries {
    fn push(&mut self, line: usize, id: &str) {
        self.lines.push(line);
        self.ids.push(id);
    }

    fn manifest(&self) -> Manifest {
        Manifest::from_entries(self.lines.iter().copied().zip(&self.ids))
    }

    #[cfg(test)]
    fn pairs(&self) -> Vec<(usize, &str)> {
        self.lines.iter().copied().zip(&self.ids).collect()
    }
}

/// JSON objects, one a line, each with a string `custom_id` (e.g. the submitted batch file).
fn jsonl_entries(text: &str) -> anyhow::Result<Entries> {
    let mut out = Entries::default();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| anyhow!("line {n}: not JSON ({e})"))?;
        match v.get("custom_id") {
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => out.push(n, s.trim()),
            Some(_) => return Err(anyhow!("line {n}: custom_id is not a non-empty string")),
            None => return Err(anyhow!("line {n}: no custom_id field")),
        }
    }
    Ok(out)
}

/// CSV with a header row naming a `custom_id` column.
fn csv_entries(text: &str) -> anyhow::Result<Entries> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = rdr.headers().context("reading the CSV header")?.clone();
    let col = headers
        .iter()
        .position(|h| h.trim() == "custom_id")
        .ok_or_else(|| anyhow!("no 'custom_id' column in the CSV header (line 1)"))?;
    let mut out = Entries::default();
    let mut rec = csv::StringRecord::new();
    while rdr.read_record(&mut rec).map_err(|e| anyhow!("{e}"))? {
        let n = rec.position().map_or(0, |p| p.line() as usize);
        match rec.get(col).map(str::trim) {
            Some(id) if !id.is_empty() => out.push(n, id),
            _ => return Err(anyhow!("line {n}: empty custom_id")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_pattern() {
        for ok in ["a", "req-1", "0_x", &"a".repeat(64)] {
            assert!(is_documented_id(ok), "{ok}");
        }
        for bad in ["", "A1", "-a", "a/b", "a b", &"a".repeat(65), "é"] {
            assert!(!is_documented_id(bad), "{bad}");
        }
    }

    #[test]
    fn text_skips_blanks_comments_and_trims_crlf() {
        let e: Vec<_> = text_entries("a\r\n\n  # note\n b \r\n").collect();
        assert_eq!(e, vec![(1, "a"), (4, "b")]);
    }

    #[test]
    fn duplicates_are_counted_and_unusual_ids_noted_by_line() {
        let m = Manifest::from_entries([(1, "a"), (2, "B"), (3, "a")]);
        assert_eq!(m.ids.iter().collect::<Vec<_>>(), vec!["a", "B"]);
        assert_eq!(m.duplicates, 1);
        assert_eq!(m.unusual_lines, vec![2]);
        let w = m.warnings().join("\n");
        assert!(w.contains("1 duplicate"), "{w}");
        assert!(w.contains("lines 2"), "{w}");
    }

    #[test]
    fn jsonl_and_csv_name_the_bad_line() {
        let e = jsonl_entries("{\"custom_id\":\"a\"}\n\n{\"x\":1}\n").unwrap_err();
        assert!(e.to_string().contains("line 3"), "{e}");
        let ok = csv_entries("n,custom_id\n1,a\n2,b\n").unwrap();
        assert_eq!(ok.pairs(), vec![(2, "a"), (3, "b")]);
        let e = csv_entries("id\n1\n").unwrap_err();
        assert!(e.to_string().contains("custom_id"), "{e}");
    }
}
