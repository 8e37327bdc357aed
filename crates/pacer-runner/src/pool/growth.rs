//! A first run's pool grown as its tests report their CPU (issue 21).
//!
//! With `workers = "auto"` and CPU times recorded, the binary sizes the pool
//! before the run (`tuning.rs`). With none recorded, the run starts at the
//! cores and, as tests end, the binary's rule ([`Grow::size`], the same one)
//! is asked what the CPU and wall seconds seen so far call for; when it says
//! more workers, the scheduler's cpu limit and the caps that follow the
//! workers rise and the extra workers are forked from the zygote, taking
//! work from the others as io categories' workers do. The pool never
//! shrinks: a worker already forked costs nothing more to keep.

use std::time::{Duration, Instant};

use super::*;
use crate::events::{CpuTime, WaitWorkers};

/// How often the rule is asked at most: each answer sums nothing (the pool
/// keeps the sums), but a growth forks, and tests end by the thousand.
const EVERY: Duration = Duration::from_millis(250);

/// The pool for the CPU seconds seen so far, per category (the tests
/// outside `io` categories): the workers, and the cap of each category
/// whose cap follows them (its own share bounds it). An `extra` no larger
/// than before keeps the pool.
pub type GrowRule =
    Box<dyn FnMut(&[(usize, CpuTime)]) -> Option<(WaitWorkers, Vec<(usize, usize)>)> + Send>;

/// The rule and what it applies to, from the binary.
pub struct Grow {
    pub size: GrowRule,
    /// Categories whose cap follows the workers.
    pub follow: Vec<usize>,
}

impl std::fmt::Debug for Grow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grow")
            .field("follow", &self.follow)
            .finish()
    }
}

/// The pool's side: the rule, the sums, and what it grew to.
pub(super) struct Growth {
    rule: Grow,
    /// Per category index, the sums of the tests that ended.
    seen: Vec<(usize, CpuTime)>,
    asked: Option<Instant>,
    pub(super) grown: Option<WaitWorkers>,
}

impl Growth {
    pub(super) fn new(rule: Grow) -> Self {
        Growth {
            rule,
            seen: Vec::new(),
            asked: None,
            grown: None,
        }
    }
}

impl Pool {
    /// A test of category `category` ended, having taken `cpu`.
    pub(super) fn observe_cpu(&mut self, category: CategoryIndex, cpu: CpuTime) {
        let io = self.config.category(category).slots.kind == crate::scheduler::Kind::Io;
        let Some(growth) = self.dispatch.growth.as_mut() else {
            return;
        };
        if io {
            return;
        }
        let sums = match growth.seen.iter_mut().find(|(c, _)| *c == category.index()) {
            Some((_, sums)) => sums,
            None => {
                growth.seen.push((category.index(), CpuTime::default()));
                &mut growth.seen.last_mut().expect("just pushed").1
            }
        };
        sums.wall += cpu.wall;
        sums.cpu += cpu.cpu;
        sums.queued += cpu.queued;
        if growth.asked.is_some_and(|at| at.elapsed() < EVERY) {
            return;
        }
        growth.asked = Some(Instant::now());
        let Some((wait, category_caps)) = (growth.rule.size)(&growth.seen) else {
            return;
        };
        let before = growth.grown.as_ref().map_or(0, |w| w.extra);
        if wait.extra <= before {
            return;
        }
        let workers = wait.cores + wait.extra;
        growth.grown = Some(wait);
        self.debug(|| format!("tests so far wait: growing the pool to {workers} workers"));
        self.config.workers = workers;
        let mut caps = Vec::new();
        for (c, cap) in category_caps {
            if let Some(spec) = self.config.categories.get_mut(c) {
                spec.slots.cap = spec.slots.cap.max(cap.min(workers));
                caps.push((CategoryIndex::new(c), spec.slots.cap));
            }
        }
        if let Some(scheduler) = self.dispatch.scheduler.as_mut() {
            scheduler.grow(workers, &caps);
        }
        self.spawn_io_workers();
    }
}
