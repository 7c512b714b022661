//! The docs made from the clap definition, so help, man pages and reference cannot disagree:
//! one man page per command under `docs/man/`, and the synopsis and option table of each
//! command in `docs/reference.md`, between markers that leave the prose around them alone.
//! Shared by `examples/gen_docs` (which writes them) and the test that checks them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction, Command, CommandFactory};
use sail_export::cli::Cli;

/// The one command that regenerates every generated file.
pub const REGENERATE: &str = "cargo run --example gen_docs";
/// Where the man pages go, from the repository root.
pub const MAN_DIR: &str = "docs/man";
/// The reference whose marked blocks are generated.
pub const REFERENCE: &str = "docs/reference.md";
/// Synopsis lines wrap before this many characters.
const WIDTH: usize = 92;

/// A generated file: its path from the repository root and its text.
pub struct File {
    /// Path from the repository root.
    pub path: PathBuf,
    /// The text it must hold.
    pub text: String,
}

/// The clap definition as the binary has it, `help` subcommand left out.
fn command() -> Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// Every generated file, made from the code and the reference now under `root`: an error
/// when the reference lacks a command's markers.
pub fn generate(root: &Path) -> Result<Vec<File>, String> {
    let cmd = command();
    let mut files = man_pages(&cmd)?;
    let reference = std::fs::read_to_string(root.join(REFERENCE))
        .map_err(|e| format!("reading {REFERENCE}: {e}"))?;
    files.push(File {
        path: PathBuf::from(REFERENCE),
        text: fill_reference(&reference, &cmd)?,
    });
    Ok(files)
}

/// Every command that is not hidden, nested ones (`prices update`) after their parent, each
/// with its name as typed after `sail-export` (empty for the top level).
fn commands(cmd: &Command) -> Vec<(String, &Command)> {
    let mut all = vec![(String::new(), cmd)];
    let mut i = 0;
    while i < all.len() {
        let (name, c) = all[i].clone();
        let subs = c.get_subcommands().filter(|s| !s.is_hide_set());
        let nested: Vec<(String, &Command)> = subs
            .map(|s| (format!("{name} {}", s.get_name()).trim().to_owned(), s))
            .collect();
        all.splice(i + 1..i + 1, nested);
        i += 1;
    }
    all
}

/// `sail-export.1` and one `sail-export-COMMAND.1` per command (`sail-export-prices-update.1`
/// for a nested one).
fn man_pages(cmd: &Command) -> Result<Vec<File>, String> {
    let mut pages = Vec::new();
    for (_, c) in commands(cmd) {
        let man = clap_mangen::Man::new(c.clone());
        let mut text = Vec::new();
        man.render(&mut text).map_err(|e| e.to_string())?;
        pages.push(File {
            path: Path::new(MAN_DIR).join(man.get_filename()),
            text: String::from_utf8(text).map_err(|e| e.to_string())?,
        });
    }
    Ok(pages)
}

fn begin(name: &str) -> String {
    format!("<!-- BEGIN GENERATED `{name}` by `{REGENERATE}` from the help in src/cli/: edit it there -->")
}

fn end(name: &str) -> String {
    format!("<!-- END GENERATED `{name}` -->")
}

/// The reference with each command's block (and the top-level one, named `sail-export`)
/// replaced by the synopsis and table made now.
fn fill_reference(reference: &str, cmd: &Command) -> Result<String, String> {
    let mut text = reference.to_owned();
    for (typed, c) in commands(cmd) {
        let name = if typed.is_empty() {
            c.get_name()
        } else {
            &typed
        };
        let (b, e) = (begin(name), end(name));
        let missing = || {
            format!("{REFERENCE} has no block for `{name}`: add the two lines\n{b}\n{e}\nwhere its options belong")
        };
        let start = text.find(&b).ok_or_else(missing)? + b.len();
        let stop = start + text[start..].find(&e).ok_or_else(missing)?;
        let block = match typed.is_empty() {
            true => top_block(c),
            false => command_block(&typed, c),
        };
        text.replace_range(start..stop, &format!("\n{block}"));
    }
    Ok(text)
}

/// The options every command takes (`-q`, `-v`).
fn top_block(cmd: &Command) -> String {
    let globals: Vec<&Arg> = cmd.get_arguments().filter(|a| shown(a)).collect();
    let synopsis = format!("sail-export {} COMMAND", usage(&globals));
    format!("```\n{synopsis}\n```\n\n{}", table(&globals))
}

/// A command's synopsis and option table (the options every command takes are left to the
/// top-level block).
fn command_block(typed: &str, c: &Command) -> String {
    let args: Vec<&Arg> = c
        .get_arguments()
        .filter(|a| shown(a) && !a.is_global_set())
        .collect();
    let (positional, options): (Vec<&Arg>, Vec<&Arg>) =
        args.iter().partition(|a| a.is_positional());
    let mut words = vec![format!("sail-export {typed}")];
    words.extend(positional.iter().chain(&options).map(|a| word(a)));
    let mut synopsis = String::new();
    let mut line = String::new();
    for w in words {
        if !line.is_empty() && line.len() + 1 + w.len() > WIDTH {
            writeln!(synopsis, "{line}").unwrap();
            line = "    ".to_owned();
        } else if !line.is_empty() && line != "    " {
            line.push(' ');
        }
        line.push_str(&w);
    }
    synopsis.push_str(&line);
    format!("```\n{synopsis}\n```\n\n{}", table(&args))
}

/// Whether an argument is documented (not hidden, not clap's own help and version).
fn shown(a: &Arg) -> bool {
    !a.is_hide_set()
        && !matches!(
            a.get_action(),
            ArgAction::Help | ArgAction::HelpLong | ArgAction::Version
        )
}

fn usage(args: &[&Arg]) -> String {
    args.iter().map(|a| word(a)).collect::<Vec<_>>().join(" ")
}

/// The placeholder of an argument's value: its possible values (`sqlite|parquet`) when it
/// has a closed set, else its value name.
fn placeholder(a: &Arg) -> String {
    let values: Vec<String> = a
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_owned())
        .collect();
    if !values.is_empty() {
        return values.join("|");
    }
    match a.get_value_names() {
        Some(names) => names
            .iter()
            .map(|n| n.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        None => a.get_id().as_str().to_uppercase(),
    }
}

fn takes_value(a: &Arg) -> bool {
    matches!(a.get_action(), ArgAction::Set | ArgAction::Append)
}

fn repeats(a: &Arg) -> bool {
    matches!(a.get_action(), ArgAction::Append | ArgAction::Count)
}

/// An argument as the synopsis shows it: `BATCH_ID`, `[-o PATH]`, `[--ca-cert PATH]...`.
fn word(a: &Arg) -> String {
    let mut w = match (a.is_positional(), a.get_short(), a.get_long()) {
        (true, _, _) => placeholder(a),
        (false, Some(s), _) => format!("-{s}"),
        (false, None, Some(l)) => format!("--{l}"),
        (false, None, None) => a.get_id().to_string(),
    };
    if takes_value(a) && !a.is_positional() {
        write!(w, " {}", placeholder(a)).unwrap();
    }
    if a.is_positional() && repeats(a) {
        w.push_str("...");
    }
    let mut w = if a.is_required_set() {
        w
    } else {
        format!("[{w}]")
    };
    if !a.is_positional() && repeats(a) {
        w.push_str("...");
    }
    w
}

/// The option table: option, default, meaning.
fn table(args: &[&Arg]) -> String {
    let mut t = "| option | default | meaning |\n|---|---|---|\n".to_owned();
    for a in args {
        let cells = [names(a), default(a), meaning(a)].map(|c| c.replace('|', "\\|"));
        writeln!(t, "| {} |", cells.join(" | ")).unwrap();
    }
    t
}

/// `` `-o`, `--out PATH` ``, `` `BATCH_ID` ``.
fn names(a: &Arg) -> String {
    if a.is_positional() {
        return format!("`{}`", placeholder(a));
    }
    let value = if takes_value(a) {
        format!(" {}", placeholder(a))
    } else {
        String::new()
    };
    let long = a.get_long().map(|l| format!("`--{l}{value}`"));
    let short = a.get_short().map(|s| match &long {
        Some(_) => format!("`-{s}`"),
        None => format!("`-{s}{value}`"),
    });
    short.into_iter().chain(long).collect::<Vec<_>>().join(", ")
}

/// The default: the environment variable first when there is one, `off` for a switch.
fn default(a: &Arg) -> String {
    if matches!(a.get_action(), ArgAction::SetTrue | ArgAction::Count) {
        return "off".to_owned();
    }
    let values: Vec<String> = a
        .get_default_values()
        .iter()
        .map(|v| format!("`{}`", v.to_string_lossy()))
        .collect();
    let env = a.get_env().map(|e| format!("`{}`", e.to_string_lossy()));
    match (env, values.is_empty()) {
        (Some(e), false) => format!("{e}, else {}", values.join(", ")),
        (Some(e), true) => e,
        (None, false) => values.join(", "),
        (None, true) => "—".to_owned(),
    }
}

/// The help's first paragraph on one line, `<` escaped so Markdown shows it.
fn meaning(a: &Arg) -> String {
    let help = a.get_help().map(ToString::to_string).unwrap_or_default();
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    help.replace('<', "\\<")
}
