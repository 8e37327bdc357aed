//! The default of `max_wait_workers`: how many workers beyond the cores
//! pacer may fork for tests that wait (issue 21), chosen from the cores and
//! the memory so that a waiting suite cannot swap the machine.
//!
//! At most 3 × cores extra (4 × cores workers in all: beyond that the
//! scheduling and the tests' own start-up dominate even for sleeping
//! tests), and at most as many as half of `MemAvailable` holds at
//! [`WORKER_RSS`] a worker (a forked pytest worker shares its zygote's
//! pages; 150 MiB is a generous private share, a suite's own data aside).

use crate::{Source, Sourced};

/// The memory one extra worker is assumed to take.
pub const WORKER_RSS: u64 = 150 << 20;

/// `MemAvailable` from `/proc/meminfo`, in bytes; `None` where there is none.
pub fn mem_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_mem_available(&text)
}

fn parse_mem_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

/// The default cap, with how it was chosen.
pub fn default_cap(cores: usize, available: Option<u64>) -> Sourced<u32> {
    let by_cores = cores.max(1).saturating_mul(3) as u64;
    let (cap, how) = match available {
        Some(bytes) => {
            let by_memory = bytes / 2 / WORKER_RSS;
            if by_memory < by_cores {
                (
                    by_memory,
                    format!(
                        "half of {} MiB available at {} MiB a worker",
                        bytes >> 20,
                        WORKER_RSS >> 20
                    ),
                )
            } else {
                (by_cores, "3 × cores (memory allows more)".to_string())
            }
        }
        None => (by_cores, "3 × cores".to_string()),
    };
    Sourced::new(cap.min(u32::MAX as u64) as u32, Source::derived(how))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_is_three_times_the_cores_unless_memory_is_short() {
        assert_eq!(default_cap(2, None).value, 6);
        assert_eq!(default_cap(2, Some(16 << 30)).value, 6);
        // 600 MiB available: half of it holds two workers of 150 MiB.
        assert_eq!(default_cap(8, Some(600 << 20)).value, 2);
        assert_eq!(default_cap(8, Some(100 << 20)).value, 0);
    }

    #[test]
    fn mem_available_is_read_from_meminfo() {
        let text = "MemTotal:       24683520 kB\nMemFree:        1 kB\nMemAvailable:   2048 kB\n";
        assert_eq!(parse_mem_available(text), Some(2048 * 1024));
        assert_eq!(parse_mem_available("MemTotal: 1 kB\n"), None);
    }
}
