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
//! Pure: the numbers in, the decision and its reason out.

use pacer_runner::events::{CpuTime, WaitWorkers};

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

    #[test]
    fn a_short_suite_does_not_pay_for_forks() {
        let pool = size(2, 6, times(10, 0.2, 0.0)).unwrap();
        assert_eq!(pool.extra, 2, "2 s of waiting, 1 s per worker: {pool:?}");
        assert_eq!(size(2, 6, times(10, 0.05, 0.0)).unwrap().extra, 0);
        assert!(size(2, 6, Vec::new()).is_none());
    }
}
