//! The man pages and the reference's option tables are what the code makes now: a help text
//! or an argument changed without regenerating them fails here, with the command to run.

use std::path::Path;

#[path = "../../../examples/gen_docs/docs.rs"]
mod gen_docs;

use gen_docs::{MAN_DIR, REGENERATE};

/// The lines where `have` differs from `want` (common head and tail left out, at most 6
/// of each), as `-` / `+` lines.
fn difference(path: &Path, have: &str, want: &str) -> String {
    let (h, w): (Vec<&str>, Vec<&str>) = (have.lines().collect(), want.lines().collect());
    let head = h.iter().zip(&w).take_while(|(a, b)| a == b).count();
    let tail = h[head..]
        .iter()
        .rev()
        .zip(w[head..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let mut out = format!(
        "--- {0} (checked in)\n+++ {0} (made from the code)\n@@ line {1} @@",
        path.display(),
        head + 1
    );
    for (sign, lines) in [('-', &h), ('+', &w)] {
        for l in lines[head..lines.len() - tail].iter().take(6) {
            out.push_str(&format!("\n{sign}{l}"));
        }
    }
    out
}

#[test]
fn the_man_pages_and_the_reference_are_what_the_code_makes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = gen_docs::generate(root).unwrap_or_else(|e| panic!("{e}"));
    let mut stale = Vec::new();
    for f in &files {
        let have = std::fs::read_to_string(root.join(&f.path)).unwrap_or_default();
        if have != f.text {
            stale.push(difference(&f.path, &have, &f.text));
        }
    }
    for entry in std::fs::read_dir(root.join(MAN_DIR)).unwrap() {
        let path = entry.unwrap().path();
        if !files.iter().any(|f| root.join(&f.path) == path) {
            stale.push(format!("{} is the page of no command", path.display()));
        }
    }
    assert!(
        stale.is_empty(),
        "the generated docs differ from the code:\n\n{}\n\nrun `{REGENERATE}` and commit what it writes",
        stale.join("\n\n")
    );
}

#[test]
fn every_command_has_a_man_page_and_its_options_in_the_reference() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = gen_docs::generate(root).unwrap_or_else(|e| panic!("{e}"));
    let reference = &files.last().unwrap().text;
    for (sub, option) in [
        ("fetch", "| `--format sqlite\\|parquet\\|dataset` |"),
        ("fetch", "[--shard K/N]"),
        ("cost", "| `--since WHEN` |"),
        ("sync", "| `--since WHEN` |"),
        ("load", "sail-export load "),
        ("demo", "sail-export demo "),
        ("prices update", "sail-export prices update "),
        ("reconcile", "| `--range 7d\\|30d\\|period` |"),
    ] {
        let file = format!("sail-export-{}.1", sub.replace(' ', "-"));
        let page = Path::new(MAN_DIR).join(file);
        assert!(
            files.iter().any(|f| f.path == page),
            "no {}",
            page.display()
        );
        let block = reference
            .split(&format!("<!-- BEGIN GENERATED `{sub}` "))
            .nth(1)
            .and_then(|b| b.split("<!-- END GENERATED").next())
            .unwrap_or_else(|| panic!("no block for {sub}"));
        assert!(block.contains(option), "{sub} lacks {option}:\n{block}");
    }
}
