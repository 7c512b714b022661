//! `--since` / `--until` on the command line: [`Moment::parse`] as a clap value parser whose
//! error names the flag and the value, the same for every command that has them.

use std::ffi::OsStr;

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;

use crate::time::{now_unix, Moment};

/// Parses a `--since` / `--until` value; a duration counts back from when the command
/// line is read.
#[derive(Debug, Clone, Copy)]
pub(super) struct MomentParser;

impl TypedValueParser for MomentParser {
    type Value = Moment;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<Moment, clap::Error> {
        let flag = arg
            .and_then(clap::Arg::get_long)
            .map_or_else(String::new, |l| format!("--{l} "));
        let s = value.to_string_lossy();
        Moment::parse(&s, now_unix()).map_err(|why| {
            clap::Error::raw(ErrorKind::ValueValidation, format!("{flag}'{s}' {why}\n"))
                .with_cmd(cmd)
        })
    }
}
