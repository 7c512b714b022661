//! Regenerates the docs made from the clap definition: the man pages under `docs/man/` and
//! the marked blocks of `docs/reference.md`. Run it after changing a command's arguments or
//! help, and commit what it writes; `cargo test` fails while they differ.
//!
//! ```sh
//! cargo run --example gen_docs
//! ```

mod docs;

use std::path::Path;

fn main() -> Result<(), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = docs::generate(root)?;
    let man = root.join(docs::MAN_DIR);
    std::fs::create_dir_all(&man).map_err(|e| e.to_string())?;
    // A page of a command that is gone goes too.
    for entry in std::fs::read_dir(&man).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let stale = !files.iter().any(|f| root.join(&f.path) == path);
        if stale && path.extension().is_some_and(|e| e == "1") {
            std::fs::remove_file(&path).map_err(|e| e.to_string())?;
            println!("removed {}", path.display());
        }
    }
    for f in &files {
        let path = root.join(&f.path);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(f.text.as_str()) {
            std::fs::write(&path, &f.text).map_err(|e| format!("{}: {e}", path.display()))?;
            println!("wrote {}", f.path.display());
        }
    }
    Ok(())
}
