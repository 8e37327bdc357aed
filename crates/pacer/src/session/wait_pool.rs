//! How many workers beyond the cores a suite that waits gets (issue 21).
//!
//! With `workers = "auto"`, the cores run the suite's CPU work; a test whose
//! recorded CPU is a small part of its wall time (it sleeps, waits on a
//! socket, a subprocess or a lock) leaves its core idle, and another worker
//! forked from the zygote can use it. With every test's last wall and CPU
//! seconds (`store/cpu_times.rs`), the suite's CPU share is S = Σbusy / Σwall
//! (busy: CPU, and time queued for a core on a loaded machine, which is no
//! waiting that another worker could use);
//! N workers keep N × S cores busy, so N may grow to cores / S before the
//! recorded CPU would saturate the cores, and never past the cap
//! (`max_wait_workers`). Each extra worker must also have something to
//! wait through: at least [`MIN_WAIT_PER_WORKER`] of the suite's recorded
//! waiting, so that a short suite does not pay for forks it cannot use.
//!
//! Per category ([`plan`]): the tests of `io` categories are left out of
//! the suite's share (their caps give them workers of their own), and a
//! `cpu` category runs at most cores / S_category of its tests at once,
//! its own share: one whose recorded tests compute never runs more than
//! the cores, whatever the suite's other tests do, and one with a
//! `max_workers` of its own never runs more than that.
//! Pure: the numbers in, the decision and its reason out.

use std::collections::HashMap;

use pacer_runner::events::{CpuTime, WaitWorkers};

use crate::store::cpu_times::Recorded;

/// A `cpu` category as the pool's growth sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuCategory {
    /// Its index in the run's categories.
    pub index: usize,
    pub name: String,
    /// Its own `max_workers`; `None` when it is the workers (the default).
    pub cap: Option<usize>,
}

/// What the record makes of the pool.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub wait: WaitWorkers,
    /// `(category index, cap)` for the `cpu` categories whose cap changes.
    pub caps: Vec<(usize, usize)>,
}

/// The pool for the recorded tests: `None` without a record of a test
/// outside the `io` categories.
pub fn plan(
    cores: usize,
    max_extra: usize,
    records: &HashMap<String, Recorded>,
    io: &[String],
    cpu: &[CpuCategory],
) -> Option<Plan> {
    let suite = records
        .values()
        .filter(|r| !io.contains(&r.category))
        .map(|r| r.time);
    let wait = size(cores, max_extra, suite)?;
    let cores = wait.cores;
    let grown = cores + wait.extra;
    let mut caps = Vec::new();
    if wait.extra > 0 {
        for c in cpu {
            let own = c.cap.unwrap_or(grown);
            let mine = records
                .values()
                .filter(|r| r.category == c.name)
                .map(|r| r.time);
            let cap = own.min(bound(cores, grown, mine)).max(1);
            if cap != c.cap.unwrap_or(cores) {
                caps.push((c.index, cap));
            }
        }
    }
    Some(Plan { wait, caps })
}

/// How many of a category's tests may run at once in a pool of `grown`:
/// cores / its share, within the cores and `grown`; `grown` without a record.
pub fn bound(cores: usize, grown: usize, times: impl Iterator<Item = CpuTime>) -> usize {
    let (mut wall, mut busy) = (0.0_f64, 0.0_f64);
    for t in times {
        wall += t.wall;
        busy += t.busy();
    }
    if wall <= 0.0 {
        return grown;
    }
    let share = busy / wall;
    if share <= 1e-3 {
        return grown;
    }
    ((cores as f64 / share + 1e-9).floor() as usize).clamp(cores, grown)
}

/// Recorded waiting (seconds) each extra worker needs to pay for itself:
/// a worker costs its own start-up, collection of its share and session
/// end, some tenths of a second of CPU that the cores also need.
pub const MIN_WAIT_PER_WORKER: f64 = 1.0;

/// The pool for `cores` and the cap, from the recorded times; `None` when
/// nothing was recorded (a first run starts at the cores).
pub fn size(
    cores: usize,
    cap: usize,
    times: impl IntoIterator<Item = CpuTime>,
) -> Option<WaitWorkers> {
    let (mut wall, mut cpu, mut tests) = (0.0_f64, 0.0_f64, 0usize);
    for t in times {
        wall += t.wall;
        cpu += t.busy();
        tests += 1;
    }
    if tests == 0 {
        return None;
    }
    let cores = cores.max(1);
    let share = if wall > 0.0 { cpu / wall } else { 1.0 };
    let waiting = (1.0 - share).clamp(0.0, 1.0);
    // N × share ≤ cores.
    let saturating = if share <= 1e-3 {
        usize::MAX
    } else {
        ((cores as f64 / share + 1e-9).floor() as usize).max(cores)
    };
    let by_share = saturating - cores;
    // The sums of many floats: a hair under a whole number counts as it.
    let by_time = ((wall - cpu).max(0.0) / MIN_WAIT_PER_WORKER + 1e-9).floor() as usize;
    let extra = cap.min(by_share).min(by_time);
    let percent = share.min(1.0) * 100.0;
    let why = if cap == 0 {
        "max_wait_workers is 0".to_string()
    } else if extra == by_share && by_share < cap {
        if by_share == 0 {
            format!("the recorded tests compute: CPU is {percent:.0}% of their wall time")
        } else {
            format!("more would saturate the cores: CPU is {percent:.0}% of the recorded wall time")
        }
    } else if extra == by_time && by_time < cap {
        format!(
            "the recorded tests wait {:.1} s in all, {MIN_WAIT_PER_WORKER} s per extra worker",
            (wall - cpu).max(0.0)
        )
    } else {
        format!("max_wait_workers caps them (CPU is {percent:.0}% of the recorded wall time)")
    };
    Some(WaitWorkers {
        cores,
        extra,
        waiting,
        why,
        grown: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(n: usize, wall: f64, cpu: f64) -> Vec<CpuTime> {
        vec![
            CpuTime {
                wall,
                cpu,
                queued: 0.0
            };
            n
        ]
    }

    #[test]
    fn a_sleeping_suite_gets_extra_workers_up_to_the_cap() {
        let pool = size(2, 6, times(20, 1.0, 0.01)).unwrap();
        assert_eq!(pool.extra, 6, "{pool:?}");
        assert!(pool.why.contains("max_wait_workers"), "{}", pool.why);
        assert_eq!(
            pool.line(),
            "2 workers + 6 for tests that wait (99% of the suite's time is waiting)"
        );
        assert_eq!(size(2, 1, times(20, 1.0, 0.01)).unwrap().extra, 1);
        assert_eq!(size(2, 0, times(20, 1.0, 0.01)).unwrap().extra, 0);
    }

    #[test]
    fn a_computing_suite_gets_none() {
        let pool = size(2, 6, times(20, 1.0, 0.97)).unwrap();
        assert_eq!(pool.extra, 0);
        assert!(pool.why.contains("compute"), "{}", pool.why);
        // Threads on several cores: CPU beyond the wall time.
        assert_eq!(size(2, 6, times(20, 1.0, 1.8)).unwrap().extra, 0);
    }

    #[test]
    fn the_recorded_cpu_bounds_the_pool() {
        // 40% CPU: 2 / 0.4 = 5 workers keep the cores busy.
        let pool = size(2, 6, times(20, 1.0, 0.4)).unwrap();
        assert_eq!(pool.extra, 3, "{pool:?}");
        assert!(pool.why.contains("saturate"), "{}", pool.why);
        assert!((pool.waiting - 0.6).abs() < 1e-9);
    }

    fn recorded(category: &str, n: usize, wall: f64, cpu: f64) -> Vec<(String, Recorded)> {
        (0..n)
            .map(|i| {
                let time = CpuTime {
                    wall,
                    cpu,
                    queued: 0.0,
                };
                let category = category.to_string();
                (format!("{category}::{i}"), Recorded { time, category })
            })
            .collect()
    }

    #[test]
    fn per_category_a_computing_cpu_category_keeps_the_cores_and_io_is_left_out() {
        let mut records: HashMap<String, Recorded> = HashMap::new();
        records.extend(recorded("unit", 20, 0.1, 0.1));
        records.extend(recorded("default", 20, 1.0, 0.0));
        records.extend(recorded("integration", 50, 1.0, 0.0));
        let cpu = [
            CpuCategory {
                index: 0,
                name: "unit".into(),
                cap: Some(8),
            },
            CpuCategory {
                index: 1,
                name: "default".into(),
                cap: None,
            },
            CpuCategory {
                index: 2,
                name: "quiet".into(),
                cap: None,
            },
        ];
        let plan = plan(2, 6, &records, &["integration".to_string()], &cpu).unwrap();
        // unit computes (2 s) beside default's 20 s of sleep: the suite waits.
        assert_eq!(plan.wait.extra, 6, "{plan:?}");
        // unit stays at the cores; default and a category with no record follow.
        assert_eq!(plan.caps, vec![(0, 2), (1, 8), (2, 8)]);
        // Only io tests recorded: nothing to size from.
        let io_only: HashMap<String, Recorded> =
            recorded("integration", 5, 1.0, 0.0).into_iter().collect();
        assert!(super::plan(2, 6, &io_only, &["integration".to_string()], &cpu).is_none());
    }

    #[test]
    fn a_short_suite_does_not_pay_for_forks() {
        let pool = size(2, 6, times(10, 0.2, 0.0)).unwrap();
        assert_eq!(pool.extra, 2, "2 s of waiting, 1 s per worker: {pool:?}");
        assert_eq!(size(2, 6, times(10, 0.05, 0.0)).unwrap().extra, 0);
        assert!(size(2, 6, Vec::new()).is_none());
    }
}
