//! The crate's layering: `src/lib.rs` lists the modules in data-flow order, and no module
//! imports one listed after it (so the module graph has no cycle).

use std::path::{Path, PathBuf};

/// The top-level modules in the order `lib.rs` declares them.
fn declared_order(root: &Path) -> Vec<String> {
    let lib = std::fs::read_to_string(root.join("src/lib.rs")).expect("read src/lib.rs");
    lib.lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("pub mod ")
                .or(l.trim().strip_prefix("mod "))
        })
        .map(|m| m.trim_end_matches(';').to_owned())
        .collect()
}

/// Every `.rs` file of a module: `src/NAME.rs`, or everything under `src/NAME/`.
fn files_of(root: &Path, module: &str) -> Vec<PathBuf> {
    let file = root.join(format!("src/{module}.rs"));
    if file.exists() {
        return vec![file];
    }
    let mut out = Vec::new();
    let mut dirs = vec![root.join("src").join(module)];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("read module folder") {
            let p = e.expect("folder entry").path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out
}

/// The top-level modules named after `crate::` in `src` (`crate::a::b`, `crate::{a, b}`).
fn imported(src: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    for (i, _) in src.match_indices("crate::") {
        let rest = &src[i + "crate::".len()..];
        match rest.strip_prefix('{') {
            Some(group) => {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                out.extend(group.split(',').map(|g| ident(g.trim())));
            }
            None => out.push(ident(rest)),
        }
    }
    out.retain(|m| !m.is_empty());
    out
}

#[test]
fn no_module_imports_one_listed_after_it_in_lib_rs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let order = declared_order(root);
    assert!(order.len() > 10, "lib.rs lists {order:?}");
    let mut upward = Vec::new();
    for (pos, module) in order.iter().enumerate() {
        for file in files_of(root, module) {
            let text = std::fs::read_to_string(&file).expect("read source");
            // Unit tests may reach anywhere; only the module's own code counts.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for used in imported(code) {
                if order
                    .iter()
                    .position(|m| *m == used)
                    .is_some_and(|p| p > pos)
                {
                    upward.push(format!("{} imports crate::{used}", file.display()));
                }
            }
        }
    }
    upward.sort();
    upward.dedup();
    assert!(
        upward.is_empty(),
        "imports against the data flow:\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_import_scanner_sees_both_forms() {
    let src = "use crate::api::Client;\nuse crate::{fetch, sink::Format};\nx = crate::time::now();";
    assert_eq!(imported(src), ["api", "fetch", "sink", "time"]);
}
