//! The prices folder: where `prices update` writes one dated price file per day it read
//! Sail's page (`sail-YYYY-MM-DD.toml`), and which every command layers over the bundled
//! history. `SAIL_EXPORT_PRICES_DIR` overrides the folder.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::page::Row;
use crate::time::day;

/// The variable naming the prices folder, over the platform's config folder.
pub const DIR_ENV: &str = "SAIL_EXPORT_PRICES_DIR";

/// The prices folder: `$SAIL_EXPORT_PRICES_DIR`; else `sail-export/prices` in the user's
/// config folder (`$XDG_CONFIG_HOME`, else `~/.config`; `%APPDATA%` on Windows). `None`
/// when none can be told (no home).
pub fn dir() -> Option<PathBuf> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = var(DIR_ENV) {
        return Some(d);
    }
    let config = if cfg!(windows) {
        var("APPDATA")
    } else {
        var("XDG_CONFIG_HOME")
            .filter(|p| p.is_absolute())
            .or_else(|| var("HOME").map(|h| h.join(".config")))
    };
    config.map(|c| c.join("sail-export").join("prices"))
}

/// The file name of the page read on `day`.
pub fn file_name(day: i64) -> String {
    format!("sail-{}.toml", day::format(day))
}

/// The dated price files of `dir`, oldest first; none when it is `None` or absent. Other
/// files in it are left alone.
pub(crate) fn files(dir: Option<&Path>) -> anyhow::Result<Vec<PathBuf>> {
    let Some(dir) = dir else {
        return Ok(Vec::new());
    };
    let read = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        // Another user's folder (a report run as someone else): priced without it, and said.
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            eprintln!(
                "warning: cannot read the prices folder '{}' ({e}); pricing with the bundled prices only (set {DIR_ENV} to another folder)",
                dir.display()
            );
            return Ok(Vec::new());
        }
        Err(e) => {
            return Err(e).with_context(|| format!("reading the prices folder '{}'", dir.display()))
        }
    };
    let mut found: Vec<(i64, PathBuf)> = Vec::new();
    for entry in read {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let date = name
            .strip_prefix("sail-")
            .and_then(|n| n.strip_suffix(".toml"));
        if let Some(d) = date.and_then(day::parse) {
            found.push((d, path));
        }
    }
    found.sort();
    Ok(found.into_iter().map(|(_, p)| p).collect())
}

/// The price file of the page read on `day` from `url`: every row, `seen` that day.
pub fn render(rows: &[Row], day: i64, url: &str) -> String {
    let date = day::format(day);
    let mut s = format!(
        "# Sail's pricing page, read by `sail-export prices update` on {date} from {url}.\n\
         # USD per 1M tokens; format: docs/reference.md (Price files).\n\n\
         version = \"{date}\"\nsource = {}\n",
        toml_string(url)
    );
    for r in rows {
        let _ = write!(
            s,
            "\n[[price]]\nmodel = {}\nwindow = {}\ninput = {}\ncached_input = {}\noutput = {}\nseen = \"{date}\"\n",
            toml_string(&r.model),
            toml_string(&r.window),
            r.input,
            r.cached_input,
            r.output
        );
    }
    s
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// Writes `text` as `name` in `dir` (created when missing), through a temporary file renamed
/// into place, so a reader never sees half a file. Returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the prices folder '{}'", dir.display()))?;
    let path = dir.join(name);
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("writing into '{}'", dir.display()))?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())?;
    tmp.persist(&path)
        .with_context(|| format!("writing '{}'", path.display()))?;
    Ok(path)
}
