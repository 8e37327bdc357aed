//! One CI job's part of a run: the `index`th (from 1) of `count` shards.
//! The settings parse it from `--shard K/N`, the pool cuts the selection
//! by it, and the JSON report records it so `pacer report merge` can check
//! that every part is there.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Part `index` (1-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// `Some` when `1 ≤ index ≤ count`.
    pub fn new(index: u32, count: u32) -> Option<Shard> {
        (index >= 1 && index <= count).then_some(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `K/N`, with `1 ≤ K ≤ N`; spaces around either number are allowed.
    fn from_str(text: &str) -> Result<Self, String> {
        let (k, n) = text
            .trim()
            .split_once('/')
            .ok_or_else(|| format!("{text:?} is not K/N"))?;
        let number = |s: &str| {
            s.trim()
                .parse::<u32>()
                .map_err(|_| format!("{text:?} is not K/N: {s:?} is not a number"))
        };
        let (index, count) = (number(k)?, number(n)?);
        Shard::new(index, count).ok_or_else(|| format!("{text:?}: K must be from 1 to N"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_of_n_reads_back_as_written_and_out_of_range_is_refused() {
        let shard: Shard = " 2 / 3 ".parse().unwrap();
        assert_eq!(shard, Shard { index: 2, count: 3 });
        assert_eq!(shard.to_string(), "2/3");
        for bad in ["0/3", "4/3", "2/0", "x/3", "3", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
