//! `--shard K/N`: a deterministic split of a batch's custom_ids into N disjoint parts, so N
//! processes (or machines) can export one batch side by side.
//!
//! An id belongs to shard `fnv1a64(utf8 bytes of custom_id) mod N`: FNV-1a, 64 bits, with
//! its published offset basis and prime. The rule never depends on the manifest's order,
//! the machine or the version of the tool, so any process given the same K/N takes the same
//! ids, and the N shards together take every id exactly once.

use std::fmt;
use std::str::FromStr;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The 64-bit FNV-1a hash of `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
    })
}

/// Shard `index` of `count` (0-based: `0/3`, `1/3`, `2/3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which shard, `0..count`.
    pub index: u32,
    /// How many shards.
    pub count: u32,
}

impl Shard {
    /// Whether `custom_id` belongs to this shard.
    pub fn contains(&self, custom_id: &str) -> bool {
        fnv1a64(custom_id.as_bytes()) % u64::from(self.count) == u64::from(self.index)
    }

    /// A name for files of this shard: `shard-1-of-3`.
    pub fn file_tag(&self) -> String {
        format!("shard-{}-of-{}", self.index, self.count)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `K/N` with `0 <= K < N` and `1 <= N <= 65536`; K may name the environment variable
    /// that holds it ([`Shard::parse_with`]).
    fn from_str(s: &str) -> Result<Shard, String> {
        Shard::parse_with(s, |name| std::env::var(name).ok())
    }
}

impl Shard {
    /// `K/N`, where K is a number or the name of a variable (`JOB_COMPLETION_INDEX/4`,
    /// `$AWS_BATCH_JOB_ARRAY_INDEX/4`) whose value `var` gives: a scheduler's index reaches
    /// the tool with no shell to expand it, as in an image that has none.
    pub fn parse_with(s: &str, var: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let bad = || {
            format!(
                "'{s}' is not a shard: give K/N, K from 0 to N-1 or the variable that holds \
                 it (e.g. 0/4, or JOB_COMPLETION_INDEX/4)"
            )
        };
        let (k, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let k = k.trim();
        let name = k.strip_prefix('$').unwrap_or(k);
        let is_name = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let index: u32 = if is_name {
            let value = var(name).ok_or_else(|| format!("--shard '{s}': {name} is not set"))?;
            value
                .trim()
                .parse()
                .map_err(|_| format!("--shard '{s}': {name}={value:?} is not a shard index"))?
        } else {
            k.parse().map_err(|_| bad())?
        };
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || count > 65_536 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_published_test_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn shards_split_every_id_exactly_once_and_evenly() {
        let n = 3;
        let shards: Vec<Shard> = (0..n).map(|index| Shard { index, count: n }).collect();
        let mut sizes = [0usize; 3];
        for i in 0..30_000 {
            let id = format!("req-{i:06}");
            let owners: Vec<usize> = (0..3).filter(|&s| shards[s].contains(&id)).collect();
            assert_eq!(owners.len(), 1, "{id} belongs to {owners:?}");
            sizes[owners[0]] += 1;
        }
        for s in sizes {
            assert!((9_000..11_000).contains(&s), "uneven split {sizes:?}");
        }
    }

    #[test]
    fn parses_k_of_n_and_refuses_the_rest() {
        assert_eq!("2/4".parse(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!("0/1".parse(), Ok(Shard { index: 0, count: 1 }));
        for bad in ["4/4", "1/0", "-1/3", "1", "a/b", "1/3/4", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        assert_eq!(Shard { index: 1, count: 3 }.to_string(), "1/3");
        assert_eq!(Shard { index: 1, count: 3 }.file_tag(), "shard-1-of-3");
    }

    #[test]
    fn the_index_may_be_named_by_a_variable() {
        let env = |name: &str| match name {
            "JOB_COMPLETION_INDEX" => Some("2".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        let two = Ok(Shard { index: 2, count: 4 });
        assert_eq!(Shard::parse_with("JOB_COMPLETION_INDEX/4", env), two);
        assert_eq!(Shard::parse_with("$JOB_COMPLETION_INDEX/4", env), two);
        let unset = Shard::parse_with("AWS_BATCH_JOB_ARRAY_INDEX/4", env).unwrap_err();
        assert!(
            unset.contains("AWS_BATCH_JOB_ARRAY_INDEX is not set"),
            "{unset}"
        );
        for bad in ["JOB_COMPLETION_INDEX/2", "EMPTY/4", "$/4", "1x/4"] {
            assert!(Shard::parse_with(bad, env).is_err(), "{bad}");
        }
    }
}
