//! Sizes in bytes as people write them on the command line (`--max-body-size 64MiB`).

/// A size in bytes as people write it: `1048576`, `512KiB`, `64MiB`, `1GiB` (powers of
/// 1024; `K`, `M`, `G` alone mean the same), or `500KB`, `64MB` (powers of 1000).
pub(super) fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => 0,
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("'{s}' is not a size like 64MiB, 500KB or 1048576 (bytes)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::client::{DEFAULT_GIVE_UP_AFTER, DEFAULT_MAX_BODY_SIZE};
    use crate::cli::{Cli, Command};
    use clap::Parser;

    #[test]
    fn the_flags_default_to_the_clients_defaults() {
        let cli = Cli::try_parse_from(["sail-export", "status", "b"]).unwrap();
        let Command::Status(args) = cli.command else {
            panic!("not status")
        };
        assert_eq!(args.api.give_up_after, DEFAULT_GIVE_UP_AFTER);
        assert_eq!(args.api.max_body_size, DEFAULT_MAX_BODY_SIZE);
    }

    #[test]
    fn sizes_take_binary_and_decimal_units() {
        assert_eq!(parse_size("64MiB"), Ok(DEFAULT_MAX_BODY_SIZE));
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size(" 500KB "), Ok(500_000));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("2 GiB"), Ok(2 << 30));
        for bad in ["", "0", "MiB", "1.5MiB", "12 parsecs", "99999999999999GiB"] {
            assert!(parse_size(bad).unwrap_err().contains("not a size"), "{bad}");
        }
    }
}
