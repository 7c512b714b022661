//! What an output is lives in `sink/`: outside it, only `cli` maps clap's `--format` onto
//! `sink::Format`, and nothing reaches into the dataset sink's insides. So a new output
//! format touches `sink/` and the one `match` in `cli` (docs/design.md, "Adding an output
//! format").

use std::path::Path;

use crate::layering::rs_files;

/// The lines of the crate's code outside `sink/` and `cli/` that decide by the output
/// format or reach into `sink::dataset`: a `Format::Parquet` or `Format::Dataset` anywhere,
/// a `Format::Sqlite` that is a pattern (followed by `=>` or `|`), a `.format()` compared.
fn format_decisions(root: &Path) -> Vec<String> {
    let src = root.join("src");
    let mut found = Vec::new();
    for file in rs_files(&src) {
        let rel = file.strip_prefix(&src).expect("under src");
        if rel.starts_with("sink") || rel.starts_with("cli") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read source");
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (n, line) in code.lines().enumerate() {
            let l = line.trim();
            let sqlite_pattern = l.match_indices("Format::Sqlite").any(|(i, m)| {
                let after = l[i + m.len()..].trim_start();
                after.starts_with("=>") || after.starts_with('|')
            });
            if l.contains("Format::Parquet")
                || l.contains("Format::Dataset")
                || sqlite_pattern
                || l.contains("format() ==")
                || l.contains("sink::dataset")
            {
                found.push(format!("{}:{}: {l}", rel.display(), n + 1));
            }
        }
    }
    found
}

#[test]
fn only_sink_and_the_one_match_in_cli_decide_by_the_output_format() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let found = format_decisions(root);
    assert!(
        found.is_empty(),
        "decided by the output format outside sink/ and cli/:\n{}",
        found.join("\n")
    );
    let maps = rs_files(&root.join("src/cli")).iter().any(|f| {
        let text = std::fs::read_to_string(f).expect("read source");
        text.contains("OutputFormat::Dataset => sink::Format::Dataset")
    });
    assert!(maps, "cli maps --format onto sink::Format");
}
