//! Which tests go to which worker, and when.
//!
//! Pure bookkeeping with no processes in it, so every rule is unit-tested:
//! - a category is a semaphore: a worker that holds any test of a category
//!   holds one of its `cap` slots, until it has none of them left;
//! - workers holding `cpu` tests never outnumber `cpu_limit` (the cores or
//!   `--workers`), while `io` categories may run beyond it up to their caps;
//! - a worker is only handed tests that may start now (the nextitem rule):
//!   its batch fits its slots, or it gets nothing;
//! - a worker first gets tests from the files it collected itself and only then
//!   steals a whole file from the others, so that collection is shared out
//!   instead of repeated;
//! - heavier tests (recorded durations) go first.

use std::collections::{HashMap, VecDeque};

/// How a category uses the machine. Declared once, here where it is
/// scheduled; pacer-settings re-exports it for `kind = "cpu" | "io"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Bound by the cores: counts against `cpu_limit`.
    Cpu,
    /// Waits on the network: may exceed the cores.
    Io,
}

impl Kind {
    /// `cpu` or `io`, in any case, as written in a config file.
    pub fn parse(text: &str) -> Option<Kind> {
        match text.trim().to_ascii_lowercase().as_str() {
            "cpu" => Some(Kind::Cpu),
            "io" => Some(Kind::Io),
            _ => None,
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Cpu => "cpu",
            Kind::Io => "io",
        })
    }
}

/// A category as the scheduler needs it.
#[derive(Debug, Clone)]
pub struct CategorySlots {
    pub cap: usize,
    pub kind: Kind,
}

/// Tests handed to one worker at once.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Batch {
    pub tests: Vec<usize>,
    /// Units the worker must collect before it can run `tests`.
    pub collect: Vec<usize>,
}

#[derive(Debug)]
struct TestSlot {
    unit: usize,
    category: usize,
    weight: f64,
}

#[derive(Debug, Default)]
struct WorkerSlots {
    collected: Vec<bool>,
    /// Per category: tests handed to this worker and not yet finished.
    held: HashMap<usize, usize>,
    holds_cpu: bool,
}

#[derive(Debug)]
pub struct Scheduler {
    cpu_limit: usize,
    categories: Vec<CategorySlots>,
    holders: Vec<usize>,
    cpu_holders: usize,
    tests: Vec<TestSlot>,
    unit_count: usize,
    /// Pending tests per (category, unit), heaviest first.
    pending: HashMap<(usize, usize), VecDeque<usize>>,
    /// Per category, units with pending tests, heaviest first.
    unit_order: Vec<Vec<usize>>,
    pending_per_category: Vec<usize>,
    /// Recorded seconds still pending, per category.
    pending_weight: Vec<f64>,
    workers: Vec<WorkerSlots>,
    /// Hand out one test at a time (with `-x`/`--maxfail`, so that stopping
    /// overshoots by no more than the tests already running).
    single: bool,
    stopped: bool,
}

impl Scheduler {
    pub fn new(
        cpu_limit: usize,
        categories: Vec<CategorySlots>,
        unit_count: usize,
        single: bool,
    ) -> Self {
        let n = categories.len();
        Scheduler {
            cpu_limit: cpu_limit.max(1),
            holders: vec![0; n],
            cpu_holders: 0,
            tests: Vec::new(),
            unit_count,
            pending: HashMap::new(),
            unit_order: vec![Vec::new(); n],
            pending_per_category: vec![0; n],
            pending_weight: vec![0.0; n],
            categories,
            workers: Vec::new(),
            single,
            stopped: false,
        }
    }

    /// Registers a test; returns its index. Call `seal` once all are added.
    pub fn add_test(&mut self, unit: usize, category: usize, weight: f64) -> usize {
        let index = self.tests.len();
        self.tests.push(TestSlot {
            unit,
            category,
            weight,
        });
        index
    }

    /// Orders the pending work heaviest first, keeping collection order among equals.
    pub fn seal(&mut self) {
        let mut by_key: HashMap<(usize, usize), Vec<usize>> = HashMap::new();
        for (index, test) in self.tests.iter().enumerate() {
            by_key
                .entry((test.category, test.unit))
                .or_default()
                .push(index);
        }
        let mut unit_weight: Vec<Vec<(f64, usize)>> = vec![Vec::new(); self.categories.len()];
        for ((category, unit), mut tests) in by_key {
            tests.sort_by(|a, b| {
                self.tests[*b]
                    .weight
                    .total_cmp(&self.tests[*a].weight)
                    .then(a.cmp(b))
            });
            let heaviest = self.tests[tests[0]].weight;
            unit_weight[category].push((heaviest, unit));
            self.pending_per_category[category] += tests.len();
            self.pending_weight[category] +=
                tests.iter().map(|t| self.tests[*t].weight).sum::<f64>();
            self.pending.insert((category, unit), tests.into());
        }
        for (category, mut units) in unit_weight.into_iter().enumerate() {
            units.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            self.unit_order[category] = units.into_iter().map(|(_, unit)| unit).collect();
        }
    }

    pub fn add_worker(&mut self) -> usize {
        self.workers.push(WorkerSlots {
            collected: vec![false; self.unit_count],
            ..Default::default()
        });
        self.workers.len() - 1
    }

    pub fn mark_collected(&mut self, worker: usize, unit: usize) {
        self.workers[worker].collected[unit] = true;
    }

    pub fn pending(&self) -> usize {
        self.pending_per_category.iter().sum()
    }

    pub fn pending_in(&self, category: usize) -> usize {
        self.pending_per_category[category]
    }

    /// Hands out nothing more, ever (maxfail reached, or interrupted).
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// The tests `worker` may start now, or an empty batch.
    pub fn assign(&mut self, worker: usize) -> Batch {
        if self.stopped {
            return Batch::default();
        }
        let Some(category) = self.pick_category(worker) else {
            return Batch::default();
        };
        let holders = self.active_holders(category).max(1);
        // io tests wait on the network: a worker holds one at a time beyond
        // the one it runs, so that the last ones are never stuck behind
        // each other while other workers sit idle.
        let (want, budget) = if self.single || self.categories[category].kind == Kind::Io {
            (1, f64::INFINITY)
        } else {
            // A share of what is left, in count and in recorded seconds, so
            // that one batch never holds most of the heavy tests.
            let count = (self.pending_per_category[category] / (2 * holders)).clamp(1, 64);
            (count, self.pending_weight[category] / (2 * holders) as f64)
        };
        let mut batch = Batch::default();
        let mut weight = 0.0;
        while batch.tests.len() < want {
            let Some(unit) = self.next_unit(worker, category) else {
                break;
            };
            if !self.workers[worker].collected[unit] {
                self.workers[worker].collected[unit] = true;
                batch.collect.push(unit);
            }
            let queue = self
                .pending
                .get_mut(&(category, unit))
                .expect("ordered units have pending tests");
            let mut full = false;
            while batch.tests.len() < want {
                let Some(&test) = queue.front() else { break };
                let w = self.tests[test].weight;
                if !batch.tests.is_empty() && weight + w > budget {
                    full = true;
                    break;
                }
                queue.pop_front();
                weight += w;
                batch.tests.push(test);
            }
            if queue.is_empty() {
                self.pending.remove(&(category, unit));
                self.unit_order[category].retain(|u| *u != unit);
            }
            if full {
                break;
            }
        }
        self.pending_weight[category] = (self.pending_weight[category] - weight).max(0.0);
        let taken = batch.tests.len();
        self.pending_per_category[category] -= taken;
        let slots = &mut self.workers[worker];
        let held = slots.held.entry(category).or_insert(0);
        if *held == 0 {
            self.holders[category] += 1;
        }
        *held += taken;
        if self.categories[category].kind == Kind::Cpu && !slots.holds_cpu {
            slots.holds_cpu = true;
            self.cpu_holders += 1;
        }
        batch
    }

    /// A handed-out test finished (or will never run on this worker).
    pub fn finished(&mut self, worker: usize, test: usize) {
        let category = self.tests[test].category;
        let slots = &mut self.workers[worker];
        if let Some(held) = slots.held.get_mut(&category) {
            *held -= 1;
            if *held == 0 {
                slots.held.remove(&category);
                self.holders[category] -= 1;
            }
        }
        let still_cpu = slots
            .held
            .keys()
            .any(|c| self.categories[*c].kind == Kind::Cpu);
        if slots.holds_cpu && !still_cpu {
            slots.holds_cpu = false;
            self.cpu_holders -= 1;
        }
    }

    /// Puts tests a worker held but never started back in front of the queue.
    pub fn requeue(&mut self, worker: usize, tests: &[usize]) {
        for &test in tests.iter().rev() {
            self.finished(worker, test);
            let TestSlot { unit, category, .. } = self.tests[test];
            let queue = self.pending.entry((category, unit)).or_default();
            if queue.is_empty() && !self.unit_order[category].contains(&unit) {
                self.unit_order[category].insert(0, unit);
            }
            queue.push_front(test);
            self.pending_per_category[category] += 1;
            self.pending_weight[category] += self.tests[test].weight;
        }
    }

    /// A worker is gone: whatever it collected is lost with it.
    pub fn forget_worker(&mut self, worker: usize) {
        let slots = &mut self.workers[worker];
        for (category, _) in slots.held.drain() {
            self.holders[category] -= 1;
        }
        if slots.holds_cpu {
            slots.holds_cpu = false;
            self.cpu_holders -= 1;
        }
        slots.collected.iter_mut().for_each(|c| *c = false);
    }

    fn active_holders(&self, category: usize) -> usize {
        let cap = self.categories[category].cap;
        let workers = match self.categories[category].kind {
            Kind::Cpu => self.cpu_limit.min(self.workers.len()),
            Kind::Io => self.workers.len(),
        };
        cap.min(workers).max(1)
    }

    fn may_take(&self, worker: usize, category: usize) -> bool {
        if self.pending_per_category[category] == 0 {
            return false;
        }
        let slots = &self.workers[worker];
        let holds = slots.held.contains_key(&category);
        if !holds && self.holders[category] >= self.categories[category].cap {
            return false;
        }
        if self.categories[category].kind == Kind::Cpu
            && !slots.holds_cpu
            && self.cpu_holders >= self.cpu_limit
        {
            return false;
        }
        true
    }

    fn pick_category(&self, worker: usize) -> Option<usize> {
        let collected = &self.workers[worker].collected;
        (0..self.categories.len())
            .filter(|c| self.may_take(worker, *c))
            .max_by(|a, b| {
                let heaviest = |c: usize| {
                    let unit = self.unit_order[c][0];
                    self.pending[&(c, unit)]
                        .front()
                        .map_or(0.0, |t| self.tests[*t].weight)
                };
                let own = |c: usize| self.unit_order[c].iter().any(|u| collected[*u]);
                heaviest(*a)
                    .total_cmp(&heaviest(*b))
                    .then(own(*a).cmp(&own(*b)))
                    // Earlier categories win ties (max_by keeps the last maximum).
                    .then(b.cmp(a))
            })
    }

    /// The file to take tests from: the worker's own (no collection needed),
    /// unless another file's next test is much heavier (recorded durations):
    /// then that one, since the heaviest tests must start first. With no
    /// own file left, the file with the most work left.
    fn next_unit(&self, worker: usize, category: usize) -> Option<usize> {
        let head = |u: usize| {
            self.pending
                .get(&(category, u))
                .and_then(|q| q.front())
                .map_or(0.0, |t| self.tests[*t].weight)
        };
        // The first of the heaviest, so that equal weights keep file order.
        let first_heaviest = |units: &mut dyn Iterator<Item = usize>| {
            units.fold(None, |best: Option<usize>, u| match best {
                Some(b) if head(b) >= head(u) => Some(b),
                _ => Some(u),
            })
        };
        let order = &self.unit_order[category];
        let own = first_heaviest(
            &mut order
                .iter()
                .copied()
                .filter(|u| self.workers[worker].collected[*u]),
        );
        let heaviest = first_heaviest(&mut order.iter().copied());
        match (own, heaviest) {
            (Some(own), Some(other)) if head(other) > 2.0 * head(own) => Some(other),
            (Some(own), _) => Some(own),
            (None, _) => self.richest_unit(category),
        }
    }

    fn richest_unit(&self, category: usize) -> Option<usize> {
        let work = |u: usize| {
            self.pending.get(&(category, u)).map_or(0.0, |q| {
                q.iter().map(|t| self.tests[*t].weight).sum::<f64>()
            })
        };
        self.unit_order[category]
            .iter()
            .copied()
            .fold(None, |best: Option<usize>, u| match best {
                Some(b) if work(b) >= work(u) => Some(b),
                _ => Some(u),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(cap: usize) -> CategorySlots {
        CategorySlots {
            cap,
            kind: Kind::Cpu,
        }
    }

    fn io(cap: usize) -> CategorySlots {
        CategorySlots {
            cap,
            kind: Kind::Io,
        }
    }

    #[test]
    fn own_files_come_before_stolen_ones() {
        let mut s = Scheduler::new(2, vec![cpu(2)], 2, false);
        for unit in [0, 0, 1, 1] {
            s.add_test(unit, 0, 1.0);
        }
        s.seal();
        let (a, b) = (s.add_worker(), s.add_worker());
        s.mark_collected(a, 0);
        s.mark_collected(b, 1);
        let batch = s.assign(b);
        assert_eq!(batch.tests, vec![2]);
        assert!(batch.collect.is_empty());
        assert_eq!(s.assign(a).tests, vec![0]);
    }

    #[test]
    fn a_worker_without_own_work_steals_the_richest_file_and_collects_it() {
        let mut s = Scheduler::new(2, vec![cpu(2)], 2, true);
        for unit in [0, 1, 1, 1] {
            s.add_test(unit, 0, 1.0);
        }
        s.seal();
        let w = s.add_worker();
        let batch = s.assign(w);
        assert_eq!(batch.collect, vec![1]);
        assert_eq!(batch.tests, vec![1]);
        // Now it owns unit 1 and needs no second collection.
        assert!(s.assign(w).collect.is_empty());
    }

    #[test]
    fn category_cap_is_a_semaphore() {
        let mut s = Scheduler::new(8, vec![io(2)], 1, true);
        for _ in 0..10 {
            s.add_test(0, 0, 1.0);
        }
        s.seal();
        let workers: Vec<_> = (0..4).map(|_| s.add_worker()).collect();
        let got: Vec<_> = workers.iter().map(|w| s.assign(*w).tests).collect();
        assert_eq!(got.iter().filter(|t| !t.is_empty()).count(), 2);
        // The holder keeps its slot when it asks again; a third worker does not get one.
        let first = got[0][0];
        assert!(!s.assign(workers[0]).tests.is_empty());
        assert!(s.assign(workers[2]).tests.is_empty());
        // Releasing every test of a holder frees its slot.
        s.finished(workers[1], got[1][0]);
        assert!(!s.assign(workers[2]).tests.is_empty());
        let _ = first;
    }

    #[test]
    fn cpu_tests_never_use_more_workers_than_the_limit_but_io_may() {
        let mut s = Scheduler::new(2, vec![cpu(8), io(10)], 1, true);
        for _ in 0..10 {
            s.add_test(0, 0, 1.0);
        }
        for _ in 0..10 {
            s.add_test(0, 1, 1.0);
        }
        s.seal();
        let workers: Vec<_> = (0..6).map(|_| s.add_worker()).collect();
        let mut cpu_workers = 0;
        let mut io_workers = 0;
        for w in workers {
            let batch = s.assign(w);
            assert_eq!(batch.tests.len(), 1);
            if batch.tests[0] < 10 {
                cpu_workers += 1;
            } else {
                io_workers += 1;
            }
        }
        assert_eq!(cpu_workers, 2);
        assert_eq!(io_workers, 4);
    }

    #[test]
    fn heavier_tests_start_first() {
        let mut s = Scheduler::new(1, vec![cpu(1)], 2, true);
        s.add_test(0, 0, 0.1);
        s.add_test(1, 0, 5.0);
        s.add_test(0, 0, 2.0);
        s.seal();
        let w = s.add_worker();
        s.mark_collected(w, 0);
        s.mark_collected(w, 1);
        let order: Vec<_> = (0..3)
            .map(|_| {
                let t = s.assign(w).tests[0];
                s.finished(w, t);
                t
            })
            .collect();
        assert_eq!(order, vec![1, 2, 0]);
    }

    #[test]
    fn one_batch_never_holds_most_of_the_heavy_work() {
        let mut s = Scheduler::new(2, vec![cpu(2)], 1, false);
        for _ in 0..4 {
            s.add_test(0, 0, 1.0);
        }
        for _ in 0..60 {
            s.add_test(0, 0, 0.01);
        }
        s.seal();
        let (a, b) = (s.add_worker(), s.add_worker());
        s.mark_collected(a, 0);
        s.mark_collected(b, 0);
        let first = s.assign(a);
        let second = s.assign(b);
        let heavy = |batch: &Batch| batch.tests.iter().filter(|t| **t < 4).count();
        assert_eq!(heavy(&first), 1, "{first:?}");
        assert_eq!(heavy(&second), 1, "{second:?}");
    }

    #[test]
    fn a_much_heavier_test_elsewhere_is_taken_before_own_light_ones() {
        let mut s = Scheduler::new(2, vec![cpu(2)], 2, true);
        s.add_test(0, 0, 0.01);
        s.add_test(0, 0, 0.01);
        s.add_test(1, 0, 3.0);
        s.seal();
        let w = s.add_worker();
        s.mark_collected(w, 0);
        let batch = s.assign(w);
        assert_eq!(batch.tests, vec![2]);
        assert_eq!(batch.collect, vec![1]);
    }

    #[test]
    fn equal_weights_keep_file_order() {
        let mut s = Scheduler::new(1, vec![cpu(1)], 3, true);
        for unit in [0, 1, 2] {
            s.add_test(unit, 0, 1.0);
        }
        s.seal();
        let w = s.add_worker();
        (0..3).for_each(|u| s.mark_collected(w, u));
        let order: Vec<_> = (0..3)
            .map(|_| {
                let t = s.assign(w).tests[0];
                s.finished(w, t);
                t
            })
            .collect();
        assert_eq!(order, vec![0, 1, 2]);
    }

    #[test]
    fn requeued_tests_run_again_and_stop_hands_out_nothing() {
        let mut s = Scheduler::new(1, vec![cpu(1)], 1, false);
        for _ in 0..4 {
            s.add_test(0, 0, 1.0);
        }
        s.seal();
        let w = s.add_worker();
        let batch = s.assign(w);
        assert_eq!(batch.tests.len(), 2);
        s.requeue(w, &batch.tests);
        assert_eq!(s.pending(), 4);
        assert_eq!(s.assign(w).tests, batch.tests);
        s.stop();
        assert!(s.assign(w).tests.is_empty());
    }
}
