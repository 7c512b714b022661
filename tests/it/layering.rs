//! The crate's structure, measured: `src/lib.rs` lists the modules in data-flow order and
//! no module imports one listed after it (so the module graph has no cycle); every source
//! file says its job in a first `//!` line and is at most 450 lines; no function is over 80.

use std::path::{Path, PathBuf};

use syn::visit::Visit;

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
    rs_files(&root.join("src").join(module))
}

/// Every `.rs` file under `dir`, sorted.
pub(crate) fn rs_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("read source folder") {
            let p = e.expect("folder entry").path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
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

/// The most lines a file under `src/` may have, counted as `wc -l` does (newlines), unit
/// tests in it included.
const MAX_FILE_LINES: usize = 450;

/// The most lines a function may span, from the line of its `fn` keyword to the line of its
/// closing brace, both included; its doc comment and attributes are not counted. Unit
/// tests themselves (`#[test]`) are left out, their helpers are not; a nested function
/// counts on its own and inside its parent.
const MAX_FN_LINES: usize = 80;

/// Files allowed over [`MAX_FILE_LINES`] for now, with why. An entry that is no longer over
/// fails the test, so the list only shrinks.
const LONG_FILES: &[(&str, &str)] = &[];

/// Functions (`file::name`, `file::Type::name` in an `impl`) allowed over [`MAX_FN_LINES`]
/// for now, with why. An entry that is no longer over fails the test.
const LONG_FNS: &[(&str, &str)] = &[];

/// Every `.rs` file under `src/`, sorted.
fn sources(root: &Path) -> Vec<PathBuf> {
    rs_files(&root.join("src"))
}

/// `path` relative to the crate root, with `/` separators.
fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).expect("under the crate root");
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Each function's name (`Type::name` inside an `impl`) and its length in lines.
#[derive(Default)]
struct Lengths {
    impl_of: Vec<String>,
    found: Vec<(String, usize)>,
}

impl Lengths {
    fn record(&mut self, name: &syn::Ident, fn_token: &syn::token::Fn, block: &syn::Block) {
        let first = fn_token.span.start().line;
        let last = block.brace_token.span.close().end().line;
        let name = match self.impl_of.last() {
            Some(ty) => format!("{ty}::{name}"),
            None => name.to_string(),
        };
        self.found.push((name, last + 1 - first));
    }
}

impl<'a> Visit<'a> for Lengths {
    fn visit_item_impl(&mut self, i: &'a syn::ItemImpl) {
        let ty = match &*i.self_ty {
            syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        };
        self.impl_of.push(ty.unwrap_or_else(|| "impl".into()));
        syn::visit::visit_item_impl(self, i);
        self.impl_of.pop();
    }

    fn visit_item_fn(&mut self, f: &'a syn::ItemFn) {
        if !is_test(&f.attrs) {
            self.record(&f.sig.ident, &f.sig.fn_token, &f.block);
        }
        syn::visit::visit_item_fn(self, f);
    }

    fn visit_impl_item_fn(&mut self, f: &'a syn::ImplItemFn) {
        self.record(&f.sig.ident, &f.sig.fn_token, &f.block);
        syn::visit::visit_impl_item_fn(self, f);
    }

    fn visit_trait_item_fn(&mut self, f: &'a syn::TraitItemFn) {
        if let Some(block) = &f.default {
            self.record(&f.sig.ident, &f.sig.fn_token, block);
        }
        syn::visit::visit_trait_item_fn(self, f);
    }
}

/// Whether these are a test's attributes (`#[test]`, `#[tokio::test]`): a test reads as a
/// script top to bottom and is not held to the limit, its helpers are.
fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs
        .iter()
        .any(|a| a.path().segments.last().is_some_and(|s| s.ident == "test"))
}

/// Every function of `src` with its length in lines.
fn function_lengths(src: &str) -> Vec<(String, usize)> {
    let file = syn::parse_file(src).expect("parse a source file");
    let mut lengths = Lengths::default();
    lengths.visit_file(&file);
    lengths.found
}

/// What is over `max` and not allowed, and the allowed entries that are not over any more.
fn over_limit(measured: &[(String, usize)], max: usize, allowed: &[(&str, &str)]) -> Vec<String> {
    let mut wrong: Vec<String> = measured
        .iter()
        .filter(|(name, n)| *n > max && !allowed.iter().any(|(a, _)| a == name))
        .map(|(name, n)| format!("{name}: {n} lines, over {max}"))
        .collect();
    for (name, why) in allowed {
        if !measured.iter().any(|(m, n)| m == name && *n > max) {
            wrong.push(format!(
                "{name} is allowed over {max} ({why}) but is not: take it off the list"
            ));
        }
    }
    wrong
}

#[test]
fn every_source_file_says_its_job_and_is_at_most_450_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = sources(root);
    assert!(files.len() > 50, "{} files under src/", files.len());
    let mut measured = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read source");
        assert!(
            text.starts_with("//!"),
            "{} does not start with a //! line saying its job",
            file.display()
        );
        measured.push((relative(root, file), text.matches('\n').count()));
    }
    let wrong = over_limit(&measured, MAX_FILE_LINES, LONG_FILES);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn no_function_in_src_is_over_80_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut measured = Vec::new();
    for file in sources(root) {
        let text = std::fs::read_to_string(&file).expect("read source");
        let rel = relative(root, &file);
        for (name, n) in function_lengths(&text) {
            measured.push((format!("{rel}::{name}"), n));
        }
    }
    assert!(measured.len() > 500, "{} functions found", measured.len());
    let wrong = over_limit(&measured, MAX_FN_LINES, LONG_FNS);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_function_is_measured_from_fn_to_its_closing_brace() {
    let src = "/// doc\n#[inline]\npub fn one() {\n    let x = 1;\n}\n\nstruct S;\n\nimpl S {\n    fn two(&self) {\n        fn inner() {}\n        inner();\n    }\n}\n\n#[test]\nfn long_test() {\n}\n";
    let found = function_lengths(src);
    assert_eq!(
        found,
        [
            ("one".into(), 3),
            ("S::two".into(), 4),
            ("S::inner".into(), 1)
        ]
    );
}

#[test]
fn an_allowed_entry_that_is_no_longer_over_the_limit_fails() {
    let measured = [("a::f".to_owned(), 81), ("a::g".to_owned(), 80)];
    assert_eq!(
        over_limit(&measured, 80, &[("a::f", "why")]),
        Vec::<String>::new()
    );
    assert_eq!(over_limit(&measured, 80, &[]), ["a::f: 81 lines, over 80"]);
    assert_eq!(
        over_limit(&measured, 80, &[("a::f", "why"), ("a::g", "why")]).len(),
        1
    );
}
