//! Which tests go to which worker, and when.
//!
//! Pure bookkeeping with no processes in it, so every rule is unit-tested:
//! - a category is a semaphore: a worker that holds any test of a category
//!   holds one of its `cap` slots, until it has none of them left;
//! - workers holding `cpu` tests never outnumber `cpu_limit` (the cores or
//!   `--workers`), while `io` categories may run beyond it up to their caps;
//! - an `exclusive` category's tests run one at a time with nothing beside
//!   them: other work drains first, and nothing starts while one runs;
//! - a worker is only handed tests that may start now (the nextitem rule):
//!   its batch fits its slots, or it gets nothing;
//! - tests go out in lanes of chunks cut by [`crate::plan`]: a file's chunks in
//!   pytest's order, each chunk whole to one worker (or, one test at a time,
//!   to the worker that started it), never reordered inside;
//! - a worker first gets chunks of the files it collected itself and only
//!   then steals from the others, so that collection is shared out;
//! - heavier lanes (recorded durations, `--ff` failures) go first; with one
//!   worker, everything goes in collection order;
//! - a test is handed out once: it is pending, held by one worker, or done,
//!   and only its holder can finish or give it back.

use std::collections::{HashMap, VecDeque};

use crate::index::{CategoryIndex, IndexVec, LaneIndex, TestIndex, UnitIndex, WorkerId};
use crate::plan::{self, Dist, PlanTest};

pub use pacer_types::Kind;

/// A category as the scheduler needs it.
#[derive(Debug, Clone)]
pub struct CategorySlots {
    pub cap: usize,
    pub kind: Kind,
    /// Its tests run one at a time with nothing else running.
    pub exclusive: bool,
}

/// Tests handed to one worker at once.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Batch {
    pub tests: Vec<TestIndex>,
    /// Units the worker must collect before it can run `tests`.
    pub collect: Vec<UnitIndex>,
}

/// How the scheduler hands work out.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Hand out one test at a time (with `-x`/`--maxfail`, so that stopping
    /// overshoots by no more than the tests already running).
    pub single: bool,
    pub dist: Dist,
    /// Hand out in collection order, ignoring weights (one worker: pytest's order).
    pub in_order: bool,
}

/// What the planner needs to know of one test.
#[derive(Debug, Clone)]
pub struct TestInfo {
    pub unit: UnitIndex,
    pub category: CategoryIndex,
    /// Recorded seconds (1.0 when unknown).
    pub weight: f64,
    /// `--ff`: a known failure, whose lane goes first.
    pub first: bool,
    pub nodeid: String,
    /// What wider-scoped fixtures are set up for (from the worker).
    pub scope: Option<String>,
    /// Its `xdist_group`.
    pub group: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Held(WorkerId),
    Done,
}

#[derive(Debug)]
struct TestSlot {
    unit: UnitIndex,
    category: CategoryIndex,
    weight: f64,
    first: bool,
    /// Its lane, once [`Scheduler::seal`] cut them.
    lane: LaneIndex,
    /// The plan cut its lane just before this test: a steal may start here.
    cut_before: bool,
    state: State,
}

#[derive(Debug, Default)]
struct Chunk {
    tests: VecDeque<TestIndex>,
    /// The worker that started it, one test at a time; nobody else takes it.
    owner: Option<WorkerId>,
}

#[derive(Debug)]
struct Lane {
    category: CategoryIndex,
    chunks: VecDeque<Chunk>,
    /// Recorded seconds still pending.
    weight: f64,
    /// `--ff` failures still pending.
    firsts: usize,
}

#[derive(Debug, Default)]
struct WorkerSlots {
    collected: IndexVec<UnitIndex, bool>,
    /// Per category: tests handed to this worker and not yet finished.
    held: HashMap<CategoryIndex, usize>,
    holds_cpu: bool,
    /// Per category, the lane in which this worker owns a started chunk.
    open: HashMap<CategoryIndex, LaneIndex>,
    /// Per lane, the last test handed to this worker: it only ever gets
    /// later ones, so it runs every file in pytest's order.
    lane_pos: HashMap<LaneIndex, TestIndex>,
}

#[derive(Debug)]
pub struct Scheduler {
    cpu_limit: usize,
    categories: IndexVec<CategoryIndex, CategorySlots>,
    /// Per category, how many workers hold a slot of it.
    holders: IndexVec<CategoryIndex, usize>,
    cpu_holders: usize,
    tests: IndexVec<TestIndex, TestSlot>,
    pending_plan: IndexVec<TestIndex, PlanTest>,
    unit_count: usize,
    lanes: IndexVec<LaneIndex, Lane>,
    /// Per category, its lanes (emptied ones are dropped as they empty).
    lanes_of: IndexVec<CategoryIndex, Vec<LaneIndex>>,
    pending_per_category: IndexVec<CategoryIndex, usize>,
    /// Recorded seconds still pending, per category.
    pending_weight: IndexVec<CategoryIndex, f64>,
    /// By the pool's own worker ids (see [`Scheduler::add_worker`]).
    workers: IndexVec<WorkerId, WorkerSlots>,
    options: Options,
    stopped: bool,
    /// The first test of each lane whose module-level tests the plan cut.
    module_level_cuts: Vec<TestIndex>,
}

impl Scheduler {
    pub fn new(
        cpu_limit: usize,
        categories: Vec<CategorySlots>,
        unit_count: usize,
        options: Options,
    ) -> Self {
        let n = categories.len();
        Scheduler {
            cpu_limit: cpu_limit.max(1),
            holders: IndexVec::from_elem(0, n),
            cpu_holders: 0,
            tests: IndexVec::new(),
            pending_plan: IndexVec::new(),
            unit_count,
            lanes: IndexVec::new(),
            lanes_of: IndexVec::from_elem(Vec::new(), n),
            pending_per_category: IndexVec::from_elem(0, n),
            pending_weight: IndexVec::from_elem(0.0, n),
            categories: categories.into(),
            workers: IndexVec::new(),
            options,
            stopped: false,
            module_level_cuts: Vec::new(),
        }
    }

    /// Registers a test of no known scope; returns its index.
    pub fn add_test(&mut self, unit: UnitIndex, category: CategoryIndex, weight: f64) -> TestIndex {
        self.add(TestInfo {
            unit,
            category,
            weight,
            first: false,
            nodeid: format!("u{unit}::t{}", self.tests.len()),
            scope: None,
            group: None,
        })
    }

    /// Registers a test, in collection order; returns its index. Call `seal`
    /// once all are added.
    pub fn add(&mut self, info: TestInfo) -> TestIndex {
        let xdist_scope = match info.nodeid.rfind("::") {
            Some(at) => info.nodeid[..at].to_string(),
            None => info.nodeid.clone(),
        };
        self.pending_plan.push(PlanTest {
            unit: info.unit,
            category: info.category,
            weight: info.weight,
            scope: info.scope.unwrap_or_else(|| xdist_scope.clone()),
            xdist_scope,
            group: info.group,
        });
        self.tests.push(TestSlot {
            unit: info.unit,
            category: info.category,
            weight: info.weight,
            first: info.first,
            // None yet: `seal` sets it.
            lane: LaneIndex::new(usize::MAX),
            cut_before: false,
            state: State::Pending,
        })
    }

    /// Cuts the registered tests into lanes and chunks ([`plan::lanes`]).
    pub fn seal(&mut self) {
        let parallel: IndexVec<CategoryIndex, usize> = self
            .categories
            .indices()
            .map(|c| self.parallel(c))
            .collect();
        let plan = std::mem::take(&mut self.pending_plan);
        let mut lanes = plan::lanes(&plan, self.options.dist, &parallel);
        if self.options.in_order {
            plan::cut_at_gaps(&mut lanes);
        }
        for lane in lanes {
            let index = self.lanes.next_index();
            if lane.module_level_cut {
                self.module_level_cuts.push(lane.chunks[0][0]);
            }
            for chunk in lane.chunks.iter().skip(1) {
                self.tests[chunk[0]].cut_before = true;
            }
            let mut state = Lane {
                category: lane.category,
                chunks: VecDeque::new(),
                weight: 0.0,
                firsts: 0,
            };
            for chunk in lane.chunks {
                for &t in &chunk {
                    self.tests[t].lane = index;
                    state.weight += self.tests[t].weight;
                    state.firsts += usize::from(self.tests[t].first);
                }
                self.pending_per_category[lane.category] += chunk.len();
                state.chunks.push_back(Chunk {
                    tests: chunk.into(),
                    owner: None,
                });
            }
            self.pending_weight[lane.category] += state.weight;
            self.lanes_of[lane.category].push(index);
            self.lanes.push(state);
        }
    }

    /// The first test (index) of each file whose module-level tests the
    /// plan shared between workers, in collection order.
    pub fn module_level_cuts(&self) -> &[TestIndex] {
        &self.module_level_cuts
    }

    /// How many workers may run a category at once, before any has started.
    fn parallel(&self, category: CategoryIndex) -> usize {
        let slots = &self.categories[category];
        if slots.exclusive {
            return 1;
        }
        match slots.kind {
            Kind::Cpu => slots.cap.min(self.cpu_limit),
            Kind::Io => slots.cap,
        }
        .max(1)
    }

    /// Registers a worker under the pool's id for it. The pool numbers its
    /// workers densely from 0 and registers them in that order; an id
    /// skipped over would count as a worker that never asks.
    pub fn add_worker(&mut self, worker: WorkerId) {
        let unit_count = self.unit_count;
        self.workers.grow_to(worker.index() + 1, || WorkerSlots {
            collected: IndexVec::from_elem(false, unit_count),
            ..Default::default()
        });
    }

    pub fn mark_collected(&mut self, worker: WorkerId, unit: UnitIndex) {
        self.workers[worker].collected[unit] = true;
    }

    pub fn has_collected(&self, worker: WorkerId, unit: UnitIndex) -> bool {
        self.workers[worker].collected[unit]
    }

    pub fn pending(&self) -> usize {
        self.pending_per_category.iter().sum()
    }

    /// A first run's pool grew (`pool/growth.rs`): more workers may hold
    /// `cpu` tests, and the categories whose cap follows the workers rise
    /// with it. Never lowers a limit.
    pub fn grow(&mut self, cpu_limit: usize, caps: &[(CategoryIndex, usize)]) {
        self.cpu_limit = self.cpu_limit.max(cpu_limit);
        for &(c, cap) in caps {
            if let Some(slots) = self.categories.get_mut(c) {
                slots.cap = slots.cap.max(cap);
            }
        }
    }

    pub fn pending_in(&self, category: CategoryIndex) -> usize {
        self.pending_per_category[category]
    }

    /// Pending tests, in collection order.
    pub fn pending_tests(&self) -> Vec<TestIndex> {
        self.tests
            .iter_enumerated()
            .filter(|(_, slot)| slot.state == State::Pending)
            .map(|(t, _)| t)
            .collect()
    }

    /// Tests are pending, nobody holds any, and the scheduler is not stopped:
    /// if no worker gets any of them now, none ever will.
    pub fn nobody_holds_anything(&self) -> bool {
        self.workers.iter().all(|w| w.held.is_empty())
    }

    /// Hands out nothing more, ever (maxfail reached, or interrupted).
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// The tests `worker` may start now, or an empty batch.
    pub fn assign(&mut self, worker: WorkerId) -> Batch {
        if self.stopped {
            return Batch::default();
        }
        let exclusive_held = self
            .workers
            .iter()
            .any(|w| w.held.keys().any(|c| self.categories[*c].exclusive));
        if exclusive_held {
            return Batch::default();
        }
        let exclusive = self
            .categories
            .indices()
            .find(|c| self.categories[*c].exclusive && self.pending_per_category[*c] > 0);
        let category = match exclusive {
            // Drain first: an exclusive test starts only when nothing runs.
            Some(_) if !self.nobody_holds_anything() => return Batch::default(),
            Some(c) => c,
            None => match self.pick_category(worker) {
                Some(c) => c,
                None => return Batch::default(),
            },
        };
        let holders = self.active_holders(category).max(1);
        // io tests wait on the network: a worker holds one at a time beyond
        // the one it runs, so that the last ones are never stuck behind
        // each other while other workers sit idle.
        let one_by_one = self.options.single
            || self.categories[category].kind == Kind::Io
            || self.categories[category].exclusive;
        let (want, budget) = if one_by_one {
            (1, f64::INFINITY)
        } else {
            // A share of what is left, in count and in recorded seconds, so
            // that one batch never holds most of the heavy tests.
            let count = (self.pending_per_category[category] / (2 * holders)).clamp(1, 64);
            (count, self.pending_weight[category] / (2 * holders) as f64)
        };
        let batch = self.take(worker, category, want, budget, one_by_one);
        if batch.tests.is_empty() {
            return batch;
        }
        self.note_held(worker, category, batch.tests.len());
        batch
    }

    /// `worker` now holds `count` more tests of `category`: a slot of it, and
    /// of the cores when it is `cpu`.
    fn note_held(&mut self, worker: WorkerId, category: CategoryIndex, count: usize) {
        let slots = &mut self.workers[worker];
        let held = slots.held.entry(category).or_insert(0);
        if *held == 0 {
            self.holders[category] += 1;
        }
        *held += count;
        if self.categories[category].kind == Kind::Cpu && !slots.holds_cpu {
            slots.holds_cpu = true;
            self.cpu_holders += 1;
        }
    }

    fn take(
        &mut self,
        worker: WorkerId,
        category: CategoryIndex,
        want: usize,
        budget: f64,
        one_by_one: bool,
    ) -> Batch {
        let mut batch = Batch::default();
        let mut weight = 0.0;
        while batch.tests.len() < want {
            let open = self.workers[worker].open.get(&category).copied();
            let Some(lane) = open.or_else(|| self.next_lane(worker, category)) else {
                break;
            };
            let Some(ci) = self.eligible_chunk(worker, lane) else {
                self.workers[worker].open.remove(&category);
                if open.is_some() {
                    continue;
                }
                break;
            };
            // In order, a batch goes on only with what comes next: a test of
            // another category in between ends it.
            if self.options.in_order
                && !batch.tests.is_empty()
                && self.in_order_key_of(lane, ci) > self.first_free(worker)
            {
                break;
            }
            let chunk_weight: f64 = self.lanes[lane].chunks[ci]
                .tests
                .iter()
                .map(|t| self.tests[*t].weight)
                .sum();
            let taken: Vec<TestIndex> = if one_by_one {
                let chunk = &mut self.lanes[lane].chunks[ci];
                let test = chunk.tests.pop_front().expect("chunks are never empty");
                chunk.owner = Some(worker);
                vec![test]
            } else {
                if !batch.tests.is_empty() && weight + chunk_weight > budget {
                    break;
                }
                self.lanes[lane].chunks[ci].tests.drain(..).collect()
            };
            if self.lanes[lane].chunks[ci].tests.is_empty() {
                self.lanes[lane].chunks.remove(ci);
                self.workers[worker].open.remove(&category);
                if self.lanes[lane].chunks.is_empty() {
                    self.lanes_of[category].retain(|l| *l != lane);
                }
            } else {
                self.workers[worker].open.insert(category, lane);
            }
            if let Some(&last) = taken.last() {
                self.workers[worker].lane_pos.insert(lane, last);
            }
            for &test in &taken {
                let slot = &mut self.tests[test];
                debug_assert_eq!(slot.state, State::Pending);
                slot.state = State::Held(worker);
                weight += slot.weight;
                let lane_state = &mut self.lanes[lane];
                lane_state.weight = (lane_state.weight - slot.weight).max(0.0);
                lane_state.firsts -= usize::from(slot.first);
                let unit = slot.unit;
                if !self.workers[worker].collected[unit] {
                    self.workers[worker].collected[unit] = true;
                    batch.collect.push(unit);
                }
            }
            self.pending_per_category[category] -= taken.len();
            batch.tests.extend(taken);
            if one_by_one {
                break;
            }
        }
        self.pending_weight[category] = (self.pending_weight[category] - weight).max(0.0);
        batch
    }

    /// A handed-out test finished (or will never run on this worker).
    /// Returns false, changing nothing, unless `worker` held it.
    pub fn finished(&mut self, worker: WorkerId, test: TestIndex) -> bool {
        if self.tests[test].state != State::Held(worker) {
            return false;
        }
        self.tests[test].state = State::Done;
        self.release(worker, test);
        true
    }

    /// Whether `test` is held by `worker`.
    pub fn holds(&self, worker: WorkerId, test: TestIndex) -> bool {
        self.tests[test].state == State::Held(worker)
    }

    fn release(&mut self, worker: WorkerId, test: TestIndex) {
        let category = self.tests[test].category;
        let slots = &mut self.workers[worker];
        if let Some(held) = slots.held.get_mut(&category) {
            *held -= 1;
            if *held == 0 {
                slots.held.remove(&category);
                self.holders[category] -= 1;
                // Its slot is gone: a chunk it had started is free again.
                if let Some(lane) = slots.open.remove(&category) {
                    self.lanes[lane]
                        .chunks
                        .iter_mut()
                        .filter(|c| c.owner == Some(worker))
                        .for_each(|c| c.owner = None);
                }
            }
        }
        let slots = &mut self.workers[worker];
        let still_cpu = slots
            .held
            .keys()
            .any(|c| self.categories[*c].kind == Kind::Cpu);
        if slots.holds_cpu && !still_cpu {
            slots.holds_cpu = false;
            self.cpu_holders -= 1;
        }
    }

    /// What an idle `thief` should take over from a victim's tests not
    /// started (pytest-xdist's worksteal). `queue` is in the order the
    /// victim runs it; its first test is the victim's next item and stays
    /// (the test before was torn down with it as the next one). Whole
    /// segments go: a file, or a chunk the plan cut from a big one, never
    /// part of one (a class, module-level tests that may share state); none
    /// that holds a test of a file before one the thief already ran there.
    /// From the back, until about half of the queue: counted in tests, since
    /// a steal is wanted exactly when the recorded durations were wrong.
    /// Empty when nothing qualifies, or the thief may not hold one of the
    /// categories.
    pub fn tail_for(&self, thief: WorkerId, queue: &[TestIndex]) -> Vec<TestIndex> {
        if self.stopped || self.options.single || self.options.in_order || queue.len() < 2 {
            return Vec::new();
        }
        let thief_pos = &self.workers[thief].lane_pos;
        let later = |t: &TestIndex| {
            let slot = &self.tests[*t];
            thief_pos.get(&slot.lane).is_none_or(|p| t > p)
        };
        // Segment starts after the next item's own segment.
        let starts: Vec<usize> = (1..queue.len())
            .filter(|&i| {
                let (before, at) = (&self.tests[queue[i - 1]], &self.tests[queue[i]]);
                before.lane != at.lane || at.cut_before
            })
            .collect();
        let target = (queue.len() / 2).max(1);
        let mut taken: Vec<&[TestIndex]> = Vec::new();
        let mut count = 0;
        let mut end = queue.len();
        for &start in starts.iter().rev() {
            if count >= target {
                break;
            }
            let segment = &queue[start..end];
            end = start;
            if segment.iter().all(later) {
                count += segment.len();
                taken.push(segment);
            }
        }
        let tail: Vec<TestIndex> = taken.into_iter().rev().flatten().copied().collect();
        let allowed = tail
            .iter()
            .all(|t| self.may_hold(thief, self.tests[*t].category));
        if allowed {
            tail
        } else {
            Vec::new()
        }
    }

    /// Moves tests `from` holds and has not started to `to`, as one batch,
    /// without their ever being pending (nobody else can take them).
    pub fn transfer(&mut self, from: WorkerId, to: WorkerId, tests: &[TestIndex]) -> Batch {
        let tests: Vec<TestIndex> = tests
            .iter()
            .copied()
            .filter(|t| self.holds(from, *t))
            .collect();
        for &test in &tests {
            self.release(from, test);
        }
        let mut batch = Batch::default();
        for &test in &tests {
            let (unit, category, lane) = {
                let slot = &mut self.tests[test];
                slot.state = State::Held(to);
                (slot.unit, slot.category, slot.lane)
            };
            let slots = &mut self.workers[to];
            if !slots.collected[unit] {
                slots.collected[unit] = true;
                batch.collect.push(unit);
            }
            let pos = slots.lane_pos.entry(lane).or_insert(test);
            *pos = (*pos).max(test);
            self.note_held(to, category, 1);
        }
        batch.tests = tests;
        batch
    }

    /// Puts tests a worker held but never started back in front of their
    /// lanes, in the order given (the order the worker would have run them).
    pub fn requeue(&mut self, worker: WorkerId, tests: &[TestIndex]) {
        let tests: Vec<TestIndex> = tests
            .iter()
            .copied()
            .filter(|t| self.holds(worker, *t))
            .collect();
        for &test in &tests {
            self.release(worker, test);
            self.tests[test].state = State::Pending;
        }
        // Per lane, one chunk at its front, unless the worker's own started
        // chunk is there: then they go back into it.
        let mut by_lane: Vec<(LaneIndex, Vec<TestIndex>)> = Vec::new();
        for &test in &tests {
            let lane = self.tests[test].lane;
            match by_lane.iter_mut().find(|(l, _)| *l == lane) {
                Some((_, list)) => list.push(test),
                None => by_lane.push((lane, vec![test])),
            }
        }
        for (lane, list) in by_lane {
            let category = self.lanes[lane].category;
            for &t in &list {
                self.lanes[lane].weight += self.tests[t].weight;
                self.lanes[lane].firsts += usize::from(self.tests[t].first);
                self.pending_per_category[category] += 1;
                self.pending_weight[category] += self.tests[t].weight;
            }
            // Back where they were in the lane, as a chunk of their own,
            // which this worker may take again.
            let first = list[0];
            self.workers[worker].lane_pos.remove(&lane);
            let state = &mut self.lanes[lane];
            let at = state
                .chunks
                .iter()
                .position(|c| c.tests.front().is_some_and(|t| *t > first))
                .unwrap_or(state.chunks.len());
            state.chunks.insert(
                at,
                Chunk {
                    tests: list.into(),
                    owner: None,
                },
            );
            if !self.lanes_of[category].contains(&lane) {
                self.lanes_of[category].push(lane);
            }
        }
    }

    /// A worker is gone: whatever it collected is lost with it.
    pub fn forget_worker(&mut self, worker: WorkerId) {
        let slots = &mut self.workers[worker];
        for (category, _) in slots.held.drain() {
            self.holders[category] -= 1;
        }
        for (_, lane) in slots.open.drain() {
            self.lanes[lane]
                .chunks
                .iter_mut()
                .filter(|c| c.owner == Some(worker))
                .for_each(|c| c.owner = None);
        }
        slots.lane_pos.clear();
        if slots.holds_cpu {
            slots.holds_cpu = false;
            self.cpu_holders -= 1;
        }
        slots.collected.iter_mut().for_each(|c| *c = false);
    }

    fn active_holders(&self, category: CategoryIndex) -> usize {
        let cap = self.categories[category].cap;
        let workers = match self.categories[category].kind {
            Kind::Cpu => self.cpu_limit.min(self.workers.len()),
            Kind::Io => self.workers.len(),
        };
        cap.min(workers).max(1)
    }

    fn may_take(&self, worker: WorkerId, category: CategoryIndex) -> bool {
        self.pending_per_category[category] > 0 && self.may_hold(worker, category)
    }

    /// Whether `worker` may hold (more) tests of `category`: a free slot of
    /// it, and of the cores when it is `cpu`; never an exclusive one here.
    fn may_hold(&self, worker: WorkerId, category: CategoryIndex) -> bool {
        if self.categories[category].exclusive {
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

    /// The first chunk of `lane` that `worker` may take: not started by
    /// another worker, and after every test of the lane it already got.
    fn eligible_chunk(&self, worker: WorkerId, lane: LaneIndex) -> Option<usize> {
        let after = self.workers[worker].lane_pos.get(&lane).copied();
        self.lanes[lane].chunks.iter().position(|c| {
            (c.owner.is_none() || c.owner == Some(worker))
                && c.tests
                    .front()
                    .is_some_and(|t| after.is_none_or(|p| *t > p))
        })
    }

    /// The first test still pending in a lane's front chunk (collection order).
    fn lane_head(&self, lane: LaneIndex) -> TestIndex {
        self.lanes[lane]
            .chunks
            .front()
            .and_then(|c| c.tests.front())
            .copied()
            .unwrap_or(TestIndex::new(usize::MAX))
    }

    /// With one worker: lanes with `--ff` failures first (as pytest's own
    /// `--ff`), then collection order.
    fn in_order_key(&self, lane: LaneIndex) -> (bool, TestIndex) {
        (self.lanes[lane].firsts == 0, self.lane_head(lane))
    }

    /// [`Self::in_order_key`] of chunk `ci` of `lane`.
    fn in_order_key_of(&self, lane: LaneIndex, ci: usize) -> (bool, TestIndex) {
        let head = self.lanes[lane].chunks[ci].tests.front().copied();
        (
            self.lanes[lane].firsts == 0,
            head.unwrap_or(TestIndex::new(usize::MAX)),
        )
    }

    /// The smallest [`Self::in_order_key_of`] of any chunk `worker` may take
    /// next, in any category.
    fn first_free(&self, worker: WorkerId) -> (bool, TestIndex) {
        self.lanes_of
            .iter()
            .flatten()
            .filter_map(|&lane| {
                let ci = self.eligible_chunk(worker, lane)?;
                Some(self.in_order_key_of(lane, ci))
            })
            .min()
            .unwrap_or((true, TestIndex::new(usize::MAX)))
    }

    /// Heavier first: lanes with `--ff` failures, then by pending seconds.
    fn lane_rank(&self, lane: LaneIndex) -> (bool, f64) {
        let state = &self.lanes[lane];
        (state.firsts > 0, state.weight)
    }

    fn pick_category(&self, worker: WorkerId) -> Option<CategoryIndex> {
        let candidates = self
            .categories
            .indices()
            .filter(|c| self.may_take(worker, *c))
            .filter_map(|c| self.next_lane(worker, c).map(|lane| (c, lane)));
        if self.options.in_order {
            return candidates
                .min_by_key(|(_, lane)| self.in_order_key(*lane))
                .map(|(c, _)| c);
        }
        let collected = &self.workers[worker].collected;
        candidates
            .max_by(|(a, la), (b, lb)| {
                let (fa, wa) = self.lane_rank(*la);
                let (fb, wb) = self.lane_rank(*lb);
                let own = |l: LaneIndex| {
                    self.eligible_chunk(worker, l).is_some_and(|ci| {
                        self.lanes[l].chunks[ci]
                            .tests
                            .iter()
                            .all(|t| collected[self.tests[*t].unit])
                    })
                };
                fa.cmp(&fb)
                    .then(wa.total_cmp(&wb))
                    .then(own(*la).cmp(&own(*lb)))
                    // Earlier categories win ties (max_by keeps the last maximum).
                    .then(b.cmp(a))
            })
            .map(|(c, _)| c)
    }

    /// The lane to take from: the worker's own files (no collection needed),
    /// unless another lane is much heavier (recorded durations) or holds
    /// `--ff` failures: then that one, since the heaviest work must start
    /// first. Lanes whose front chunk another worker started are skipped.
    fn next_lane(&self, worker: WorkerId, category: CategoryIndex) -> Option<LaneIndex> {
        let free = self.lanes_of[category]
            .iter()
            .copied()
            .filter(|l| self.eligible_chunk(worker, *l).is_some());
        if self.options.in_order {
            return free.min_by_key(|l| self.in_order_key(*l));
        }
        let collected = &self.workers[worker].collected;
        let own = |l: LaneIndex| {
            self.eligible_chunk(worker, l).is_some_and(|ci| {
                self.lanes[l].chunks[ci]
                    .tests
                    .iter()
                    .all(|t| collected[self.tests[*t].unit])
            })
        };
        // The first of the heaviest, so that equal weights keep file order.
        let better = |a: LaneIndex, b: LaneIndex| {
            let (fa, wa) = self.lane_rank(a);
            let (fb, wb) = self.lane_rank(b);
            fb.cmp(&fa).then(wb.total_cmp(&wa)).then(a.cmp(&b)).is_lt()
        };
        let mut best: Option<LaneIndex> = None;
        let mut best_own: Option<LaneIndex> = None;
        for lane in free {
            if best.is_none_or(|b| better(lane, b)) {
                best = Some(lane);
            }
            if own(lane) && best_own.is_none_or(|b| better(lane, b)) {
                best_own = Some(lane);
            }
        }
        match (best_own, best) {
            (Some(own), Some(other)) => {
                let (fo, wo) = self.lane_rank(own);
                let (fb, wb) = self.lane_rank(other);
                if (fb && !fo) || wb > 2.0 * wo {
                    Some(other)
                } else {
                    Some(own)
                }
            }
            (None, best) => best,
            (own, None) => own,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::Idx;

    /// Test `i` (in the order added).
    fn t(i: usize) -> TestIndex {
        TestIndex::new(i)
    }

    fn u(i: usize) -> UnitIndex {
        UnitIndex::new(i)
    }

    fn c(i: usize) -> CategoryIndex {
        CategoryIndex::new(i)
    }

    /// Indices as plain numbers, to compare with literals.
    fn raw<I: Idx>(indices: &[I]) -> Vec<usize> {
        indices.iter().map(|i| i.index()).collect()
    }

    /// Tests `indices`.
    fn ts(indices: impl IntoIterator<Item = usize>) -> Vec<TestIndex> {
        indices.into_iter().map(t).collect()
    }

    /// Registers the next worker, as the pool does: ids from 0, in order.
    fn add_worker(s: &mut Scheduler) -> WorkerId {
        let id = s.workers.next_index();
        s.add_worker(id);
        id
    }

    fn cpu(cap: usize) -> CategorySlots {
        CategorySlots {
            cap,
            kind: Kind::Cpu,
            exclusive: false,
        }
    }

    fn io(cap: usize) -> CategorySlots {
        CategorySlots {
            cap,
            kind: Kind::Io,
            exclusive: false,
        }
    }

    fn opts(single: bool) -> Options {
        Options {
            single,
            ..Options::default()
        }
    }

    #[test]
    fn own_files_come_before_stolen_ones() {
        let mut s = Scheduler::new(2, vec![cpu(2)], 2, opts(false));
        for unit in [0, 0, 1, 1] {
            s.add_test(u(unit), c(0), 1.0);
        }
        s.seal();
        let (a, b) = (add_worker(&mut s), add_worker(&mut s));
        s.mark_collected(a, u(0));
        s.mark_collected(b, u(1));
        let batch = s.assign(b);
        assert_eq!(raw(&batch.tests), vec![2, 3]);
        assert!(batch.collect.is_empty());
        assert_eq!(raw(&s.assign(a).tests), vec![0, 1]);
    }

    #[test]
    fn a_worker_without_own_work_steals_the_richest_file_and_collects_it() {
        let mut s = Scheduler::new(2, vec![cpu(2)], 2, opts(true));
        for unit in [0, 1, 1, 1] {
            s.add_test(u(unit), c(0), 1.0);
        }
        s.seal();
        let w = add_worker(&mut s);
        let batch = s.assign(w);
        assert_eq!(raw(&batch.collect), vec![1]);
        assert_eq!(raw(&batch.tests), vec![1]);
        // Now it owns unit 1 and needs no second collection.
        assert!(s.assign(w).collect.is_empty());
    }

    #[test]
    fn category_cap_is_a_semaphore() {
        let mut s = Scheduler::new(8, vec![io(2)], 1, opts(true));
        for _ in 0..10 {
            s.add_test(u(0), c(0), 1.0);
        }
        s.seal();
        let workers: Vec<_> = (0..4).map(|_| add_worker(&mut s)).collect();
        let got: Vec<_> = workers.iter().map(|w| s.assign(*w).tests).collect();
        assert_eq!(got.iter().filter(|t| !t.is_empty()).count(), 2);
        // The holder keeps its slot when it asks again; a third worker does not get one.
        let first = got[0][0];
        assert!(!s.assign(workers[0]).tests.is_empty());
        assert!(s.assign(workers[2]).tests.is_empty());
        // Releasing every test of a holder frees its slot.
        assert!(s.finished(workers[1], got[1][0]));
        assert!(!s.assign(workers[2]).tests.is_empty());
        let _ = first;
    }

    #[test]
    fn cpu_tests_never_use_more_workers_than_the_limit_but_io_may() {
        let mut s = Scheduler::new(2, vec![cpu(8), io(10)], 1, opts(true));
        for _ in 0..10 {
            s.add_test(u(0), c(0), 1.0);
        }
        for _ in 0..10 {
            s.add_test(u(0), c(1), 1.0);
        }
        s.seal();
        let workers: Vec<_> = (0..6).map(|_| add_worker(&mut s)).collect();
        let mut cpu_workers = 0;
        let mut io_workers = 0;
        for w in workers {
            let batch = s.assign(w);
            assert_eq!(batch.tests.len(), 1);
            if batch.tests[0] < t(10) {
                cpu_workers += 1;
            } else {
                io_workers += 1;
            }
        }
        assert_eq!(cpu_workers, 2);
        assert_eq!(io_workers, 4);
    }

    #[test]
    fn heavier_files_start_first_in_collection_order_inside() {
        let mut s = Scheduler::new(1, vec![cpu(1)], 2, opts(true));
        s.add_test(u(0), c(0), 0.1);
        s.add_test(u(1), c(0), 5.0);
        s.add_test(u(0), c(0), 2.0);
        s.seal();
        let w = add_worker(&mut s);
        s.mark_collected(w, u(0));
        s.mark_collected(w, u(1));
        let order: Vec<_> = (0..3)
            .map(|_| {
                let t = s.assign(w).tests[0];
                s.finished(w, t);
                t
            })
            .collect();
        // File 1 is heavier; inside file 0, pytest's order, whatever the weights.
        assert_eq!(raw(&order), vec![1, 0, 2]);
    }

    #[test]
    fn one_batch_never_holds_most_of_the_heavy_work() {
        let mut s = Scheduler::new(2, vec![cpu(2)], 1, opts(false));
        for _ in 0..4 {
            s.add_test(u(0), c(0), 1.0);
        }
        for _ in 0..60 {
            s.add_test(u(0), c(0), 0.01);
        }
        s.seal();
        let (a, b) = (add_worker(&mut s), add_worker(&mut s));
        s.mark_collected(a, u(0));
        s.mark_collected(b, u(0));
        let first = s.assign(a);
        let second = s.assign(b);
        let heavy = |batch: &Batch| batch.tests.iter().filter(|test| **test < t(4)).count();
        assert_eq!(heavy(&first), 1, "{first:?}");
        assert_eq!(heavy(&second), 1, "{second:?}");
    }

    #[test]
    fn a_much_heavier_test_elsewhere_is_taken_before_own_light_ones() {
        let mut s = Scheduler::new(2, vec![cpu(2)], 2, opts(true));
        s.add_test(u(0), c(0), 0.01);
        s.add_test(u(0), c(0), 0.01);
        s.add_test(u(1), c(0), 3.0);
        s.seal();
        let w = add_worker(&mut s);
        s.mark_collected(w, u(0));
        let batch = s.assign(w);
        assert_eq!(raw(&batch.tests), vec![2]);
        assert_eq!(raw(&batch.collect), vec![1]);
    }

    #[test]
    fn equal_weights_keep_file_order() {
        let mut s = Scheduler::new(1, vec![cpu(1)], 3, opts(true));
        for unit in [0, 1, 2] {
            s.add_test(u(unit), c(0), 1.0);
        }
        s.seal();
        let w = add_worker(&mut s);
        (0..3).for_each(|unit| s.mark_collected(w, u(unit)));
        let order: Vec<_> = (0..3)
            .map(|_| {
                let t = s.assign(w).tests[0];
                s.finished(w, t);
                t
            })
            .collect();
        assert_eq!(raw(&order), vec![0, 1, 2]);
    }

    #[test]
    fn requeued_tests_run_again_and_stop_hands_out_nothing() {
        let mut s = Scheduler::new(1, vec![cpu(1)], 1, opts(false));
        for _ in 0..4 {
            s.add_test(u(0), c(0), 1.0);
        }
        s.seal();
        let w = add_worker(&mut s);
        let batch = s.assign(w);
        assert_eq!(
            raw(&batch.tests),
            vec![0, 1, 2, 3],
            "one worker: one whole chunk"
        );
        s.requeue(w, &batch.tests);
        assert_eq!(s.pending(), 4);
        assert_eq!(s.assign(w).tests, batch.tests);
        s.stop();
        assert!(s.assign(w).tests.is_empty());
    }

    fn info(unit: usize, category: usize, nodeid: &str, weight: f64) -> TestInfo {
        TestInfo {
            unit: u(unit),
            category: c(category),
            weight,
            first: false,
            nodeid: nodeid.to_string(),
            scope: None,
            group: None,
        }
    }

    /// Runs the scheduler to the end with `workers` that each finish their
    /// batch before asking again, round robin; returns what each ran, in order.
    fn drain(s: &mut Scheduler, workers: &[WorkerId]) -> Vec<Vec<usize>> {
        let mut ran = vec![Vec::new(); workers.len()];
        let mut idle_rounds = 0;
        while s.pending() > 0 {
            let mut any = false;
            for (i, w) in workers.iter().enumerate() {
                let batch = s.assign(*w);
                for t in batch.tests {
                    any = true;
                    ran[i].push(t.index());
                    assert!(s.finished(*w, t), "{t} handed to {w} and finished once");
                }
            }
            idle_rounds = if any { 0 } else { idle_rounds + 1 };
            assert!(idle_rounds < 2, "pending work that no worker gets");
        }
        ran
    }

    /// Each worker's tests of one file (unit) appear in collection order.
    fn assert_in_order(s: &Scheduler, ran: &[Vec<usize>]) {
        for tests in ran {
            for unit in 0..s.unit_count {
                let of_unit: Vec<usize> = tests
                    .iter()
                    .copied()
                    .filter(|test| s.tests[t(*test)].unit == u(unit))
                    .collect();
                assert!(
                    of_unit.windows(2).all(|w| w[0] < w[1]),
                    "unit {unit} out of order on a worker: {of_unit:?}"
                );
            }
        }
    }

    #[test]
    fn recorded_durations_never_reorder_tests_inside_a_file() {
        // Two files, the later tests heavier: heaviest-first would run them
        // first; pytest's order must hold on every worker.
        for workers in [1, 2, 3] {
            let mut s = Scheduler::new(workers, vec![cpu(8)], 2, opts(false));
            for unit in 0..2 {
                for i in 0..10 {
                    let id = format!("f{unit}.py::C{}::t{i}", i / 5);
                    s.add(info(unit, 0, &id, 0.1 + i as f64));
                }
            }
            s.seal();
            let ws: Vec<_> = (0..workers).map(|_| add_worker(&mut s)).collect();
            let ran = drain(&mut s, &ws);
            assert_eq!(ran.iter().map(Vec::len).sum::<usize>(), 20);
            assert_in_order(&s, &ran);
        }
    }

    #[test]
    fn failed_first_moves_chunks_not_tests() {
        let mut s = Scheduler::new(1, vec![cpu(1)], 2, opts(true));
        for (unit, id) in [
            (0, "a.py::t0"),
            (0, "a.py::t1"),
            (1, "b.py::t0"),
            (1, "b.py::t1"),
        ] {
            s.add(info(unit, 0, id, 1.0));
        }
        s.tests[t(3)].first = true;
        s.pending_plan[t(3)].weight = 1.0;
        s.seal();
        let w = add_worker(&mut s);
        let ran = drain(&mut s, &[w]);
        // b.py holds the failure: it goes first, in its own order.
        assert_eq!(ran[0], vec![2, 3, 0, 1]);
    }

    #[test]
    fn one_worker_runs_failed_first_files_first_then_collection_order() {
        let options = Options {
            in_order: true,
            ..Options::default()
        };
        let mut s = Scheduler::new(1, vec![cpu(1)], 3, options);
        for (unit, id) in [
            (0, "a.py::t"),
            (1, "b.py::t0"),
            (1, "b.py::t1"),
            (2, "c.py::t"),
        ] {
            let mut t = info(unit, 0, id, 1.0);
            t.first = id == "b.py::t1";
            s.add(t);
        }
        s.seal();
        let w = add_worker(&mut s);
        let ran = drain(&mut s, &[w]);
        assert_eq!(ran[0], vec![1, 2, 0, 3]);
    }

    #[test]
    fn one_worker_runs_everything_in_collection_order() {
        let options = Options {
            in_order: true,
            ..Options::default()
        };
        let mut s = Scheduler::new(1, vec![cpu(1), cpu(1)], 3, options);
        // Collection order interleaves categories and files of different weight.
        let spec = [
            (0, 0, 0.1),
            (0, 1, 9.0),
            (1, 0, 5.0),
            (2, 1, 0.1),
            (2, 0, 3.0),
        ];
        for (i, (unit, category, weight)) in spec.into_iter().enumerate() {
            s.add(info(unit, category, &format!("f{unit}.py::t{i}"), weight));
        }
        s.seal();
        let w = add_worker(&mut s);
        let mut order: Vec<usize> = Vec::new();
        while s.pending() > 0 {
            let batch = s.assign(w);
            assert_eq!(batch.tests.len(), 1, "{batch:?}");
            order.extend(raw(&batch.tests));
            assert!(s.finished(w, batch.tests[0]));
        }
        assert_eq!(order, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn in_order_a_batch_never_jumps_a_test_of_another_category() {
        let options = Options {
            in_order: true,
            ..Options::default()
        };
        let mut s = Scheduler::new(1, vec![cpu(1), cpu(1)], 2, options);
        // One file whose tests 2 and 4 fall in the second category, then another.
        let categories = [0, 0, 1, 0, 1, 0, 0, 0];
        for (i, category) in categories.into_iter().enumerate() {
            let unit = usize::from(i >= 6);
            s.add(info(unit, category, &format!("f{unit}.py::t{i}"), 1.0));
        }
        s.seal();
        let w = add_worker(&mut s);
        let ran = drain(&mut s, &[w]);
        assert_eq!(ran[0], (0..8).collect::<Vec<_>>());
    }

    #[test]
    fn in_order_every_worker_runs_a_subsequence_of_the_order() {
        let options = Options {
            in_order: true,
            ..Options::default()
        };
        let mut s = Scheduler::new(3, vec![cpu(3), cpu(2)], 12, options);
        // Units are runs of one file in an order a hook set, some heavy.
        for i in 0..60 {
            let weight = if i % 7 == 0 { 9.0 } else { 0.1 };
            s.add(info(
                i / 5,
                i % 3 % 2,
                &format!("f{}.py::t{i}", i / 5),
                weight,
            ));
        }
        s.seal();
        let workers: Vec<WorkerId> = (0..3).map(|_| add_worker(&mut s)).collect();
        let ran = drain(&mut s, &workers);
        assert_eq!(ran.iter().map(Vec::len).sum::<usize>(), 60);
        for tests in &ran {
            assert!(tests.windows(2).all(|w| w[0] < w[1]), "{ran:?}");
        }
    }

    #[test]
    fn a_chunk_started_one_by_one_stays_with_its_worker() {
        // -x hands out one test at a time: the next test of a file goes to
        // the worker that ran the previous one, so it keeps its fixtures.
        let mut s = Scheduler::new(2, vec![cpu(2)], 2, opts(true));
        for i in 0..4 {
            s.add(info(0, 0, &format!("a.py::C::t{i}"), 1.0));
        }
        for i in 0..4 {
            s.add(info(1, 0, &format!("b.py::t{i}"), 1.0));
        }
        s.seal();
        let (a, b) = (add_worker(&mut s), add_worker(&mut s));
        assert_eq!(raw(&s.assign(a).tests), vec![0]);
        assert_eq!(
            raw(&s.assign(b).tests),
            vec![4],
            "b must not take a's chunk"
        );
        assert_eq!(raw(&s.assign(a).tests), vec![1]);
        assert_eq!(raw(&s.assign(b).tests), vec![5]);
    }

    #[test]
    fn exclusive_tests_run_alone_after_a_drain() {
        let exclusive = CategorySlots {
            cap: 1,
            kind: Kind::Cpu,
            exclusive: true,
        };
        let mut s = Scheduler::new(2, vec![cpu(2), exclusive], 3, opts(false));
        for i in 0..4 {
            s.add(info(0, 0, &format!("a.py::t{i}"), 1.0));
        }
        s.add(info(1, 1, "s.py::t0", 1.0));
        s.add(info(2, 1, "s2.py::t0", 1.0));
        s.seal();
        let (a, b) = (add_worker(&mut s), add_worker(&mut s));
        // Nothing runs yet: an exclusive test goes first, alone.
        let first = s.assign(a);
        assert_eq!(raw(&first.tests), vec![4]);
        assert!(
            s.assign(b).tests.is_empty(),
            "nothing beside an exclusive test"
        );
        assert!(s.assign(a).tests.is_empty(), "one exclusive test at a time");
        assert!(s.finished(a, t(4)));
        assert_eq!(raw(&s.assign(b).tests), vec![5]);
        assert!(s.finished(b, t(5)));
        // Then the rest, in parallel.
        assert!(!s.assign(a).tests.is_empty());
        assert!(!s.assign(b).tests.is_empty());
    }

    #[test]
    fn pending_exclusive_work_waits_for_running_work_to_drain() {
        let exclusive = CategorySlots {
            cap: 1,
            kind: Kind::Cpu,
            exclusive: true,
        };
        let mut s = Scheduler::new(2, vec![cpu(2), exclusive], 2, opts(true));
        s.add(info(0, 0, "a.py::t0", 1.0));
        s.add(info(0, 0, "a.py::t1", 1.0));
        s.add(info(1, 1, "s.py::t0", 1.0));
        s.seal();
        let (a, b) = (add_worker(&mut s), add_worker(&mut s));
        assert_eq!(raw(&s.assign(a).tests), vec![2]);
        assert!(s.finished(a, t(2)));
        // A crashed worker's exclusive test comes back while a runs t0.
        assert_eq!(raw(&s.assign(a).tests), vec![0]);
        let tests = ts([2]);
        s.tests[t(2)].state = State::Held(b);
        s.workers[b].held.insert(c(1), 1);
        s.holders[c(1)] += 1;
        s.requeue(b, &tests);
        assert!(s.assign(b).tests.is_empty(), "drain: a still runs t0");
        assert!(s.finished(a, t(0)));
        assert_eq!(raw(&s.assign(b).tests), vec![2]);
    }

    #[test]
    fn a_test_is_handed_out_once_and_finished_only_by_its_holder() {
        let mut s = Scheduler::new(2, vec![cpu(2)], 1, opts(true));
        s.add_test(u(0), c(0), 1.0);
        s.add_test(u(0), c(0), 1.0);
        s.seal();
        let (a, b) = (add_worker(&mut s), add_worker(&mut s));
        let t = s.assign(a).tests[0];
        assert!(!s.finished(b, t), "b never held it");
        assert!(s.finished(a, t));
        assert!(!s.finished(a, t), "finished twice");
        s.requeue(b, &[t]);
        assert_eq!(s.pending(), 1, "a finished test is not requeued");
        let rest = drain(&mut s, &[a, b]);
        assert_eq!(rest.concat().len(), 1);
    }

    #[test]
    fn with_nothing_held_pending_work_always_goes_to_an_asking_worker() {
        // The invariant behind "a pending test is never left without a
        // worker": whatever the categories, caps and chunks.
        let categories = vec![cpu(1), io(3), cpu(2)];
        let mut s = Scheduler::new(2, categories, 4, opts(false));
        for i in 0..40 {
            s.add(info(
                i % 4,
                i % 3,
                &format!("f{}.py::C{}::t{i}", i % 4, i % 2),
                0.5,
            ));
        }
        s.seal();
        let ws: Vec<_> = (0..3).map(|_| add_worker(&mut s)).collect();
        let ran = drain(&mut s, &ws);
        assert_eq!(ran.concat().len(), 40);
        assert!(s.nobody_holds_anything());
    }

    fn dist_scheduler(dist: Dist, spec: &[(usize, &str, Option<&str>)]) -> Scheduler {
        let options = Options {
            dist,
            ..Options::default()
        };
        let mut s = Scheduler::new(4, vec![cpu(4)], 4, options);
        for (unit, id, group) in spec {
            let mut t = info(*unit, 0, id, 1.0);
            t.group = group.map(str::to_string);
            s.add(t);
        }
        s.seal();
        s
    }

    /// Which worker ran each test.
    fn ran_on(s: &mut Scheduler) -> HashMap<usize, usize> {
        let ws: Vec<_> = (0..4).map(|_| add_worker(s)).collect();
        let ran = drain(s, &ws);
        ran.iter()
            .enumerate()
            .flat_map(|(w, tests)| tests.iter().map(move |t| (*t, w)))
            .collect()
    }

    #[test]
    fn dist_loadfile_keeps_each_file_on_one_worker() {
        let spec: Vec<(usize, String, Option<&str>)> = (0..80)
            .map(|i| (i / 40, format!("f{}.py::t{i}", i / 40), None))
            .collect();
        let spec: Vec<_> = spec
            .iter()
            .map(|(u, id, g)| (*u, id.as_str(), *g))
            .collect();
        let mut s = dist_scheduler(Dist::LoadFile, &spec);
        let on = ran_on(&mut s);
        for unit in 0..2 {
            let workers: std::collections::HashSet<_> =
                (0..80).filter(|t| t / 40 == unit).map(|t| on[&t]).collect();
            assert_eq!(workers.len(), 1, "file {unit} split: {workers:?}");
        }
        // Under load the same big files are shared out.
        let mut s = dist_scheduler(Dist::Load, &spec);
        let on = ran_on(&mut s);
        let workers: std::collections::HashSet<_> = (0..40).map(|t| on[&t]).collect();
        assert!(workers.len() > 1);
    }

    #[test]
    fn dist_loadscope_keeps_each_class_on_one_worker() {
        let spec: Vec<(usize, String, Option<&str>)> = (0..80)
            .map(|i| (0, format!("f.py::C{}::t{i}", i / 40), None))
            .collect();
        let spec: Vec<_> = spec
            .iter()
            .map(|(u, id, g)| (*u, id.as_str(), *g))
            .collect();
        let mut s = dist_scheduler(Dist::LoadScope, &spec);
        let on = ran_on(&mut s);
        for class in 0..2 {
            let workers: std::collections::HashSet<_> = (0..80)
                .filter(|t| t / 40 == class)
                .map(|t| on[&t])
                .collect();
            assert_eq!(workers.len(), 1, "class {class} split: {workers:?}");
        }
    }

    #[test]
    fn dist_loadgroup_runs_a_group_on_one_worker() {
        let spec: Vec<(usize, String, Option<&str>)> = (0..40)
            .map(|i| {
                let group = (i % 5 == 0).then_some("db");
                (i % 4, format!("f{}.py::t{i}", i % 4), group)
            })
            .collect();
        let spec: Vec<_> = spec
            .iter()
            .map(|(u, id, g)| (*u, id.as_str(), *g))
            .collect();
        let mut s = dist_scheduler(Dist::LoadGroup, &spec);
        let on = ran_on(&mut s);
        let workers: std::collections::HashSet<_> =
            (0..40).filter(|t| t % 5 == 0).map(|t| on[&t]).collect();
        assert_eq!(workers.len(), 1, "group split: {workers:?}");
        assert_eq!(on.len(), 40);
    }

    #[test]
    fn the_last_file_is_never_cut_at_the_end() {
        // Module-level tests may share the module's state in pytest's order;
        // a class shares its own. Cut only by the plan, when too heavy.
        let mut s = Scheduler::new(2, vec![cpu(2)], 2, opts(false));
        for i in 0..20 {
            s.add(info(0, 0, &format!("f.py::C::t{i}"), 1.0));
        }
        for i in 0..4 {
            s.add(info(1, 0, &format!("slow.py::t{i}"), 1.0));
        }
        s.seal();
        let (a, _) = (add_worker(&mut s), add_worker(&mut s));
        let first = s.assign(a).tests;
        assert_eq!(raw(&first), (0..20).collect::<Vec<_>>());
        first.iter().for_each(|t| assert!(s.finished(a, *t)));
        assert_eq!(raw(&s.assign(a).tests), vec![20, 21, 22, 23]);
    }

    #[test]
    fn an_xdist_group_is_never_shared_out() {
        let options = Options {
            dist: Dist::LoadGroup,
            ..Options::default()
        };
        let mut s = Scheduler::new(2, vec![cpu(2)], 1, options);
        for i in 0..4 {
            let mut t = info(0, 0, &format!("g.py::t{i}"), 1.0);
            t.group = Some("db".into());
            s.add(t);
        }
        s.seal();
        let a = add_worker(&mut s);
        assert_eq!(raw(&s.assign(a).tests), vec![0, 1, 2, 3]);
    }

    /// One worker holding all of `ids` (`file.py::...`, one unit per file),
    /// a second with nothing.
    fn one_holds_all(ids: &[String], options: Options) -> (Scheduler, WorkerId, WorkerId) {
        let mut files: Vec<&str> = ids
            .iter()
            .map(|id| id.split("::").next().unwrap())
            .collect();
        files.dedup();
        let mut s = Scheduler::new(2, vec![cpu(2)], files.len(), options);
        for id in ids {
            let file = id.split("::").next().unwrap();
            let unit = files.iter().position(|f| *f == file).unwrap();
            s.add(info(unit, 0, id, 1.0));
        }
        s.seal();
        let (a, b) = (add_worker(&mut s), add_worker(&mut s));
        let mut held = 0;
        while held < ids.len() {
            let batch = s.assign(a);
            assert!(!batch.tests.is_empty());
            held += batch.tests.len();
        }
        (s, a, b)
    }

    #[test]
    fn an_idle_worker_takes_later_files_and_never_the_next_item() {
        // Four small files; a runs test 0, test 1 is its next item.
        let ids: Vec<String> = (0..8).map(|i| format!("f{}.py::t{i}", i / 2)).collect();
        let (mut s, a, b) = one_holds_all(&ids, opts(false));
        let queue: Vec<TestIndex> = ts(1..8);
        let tail = s.tail_for(b, &queue);
        assert_eq!(raw(&tail), vec![4, 5, 6, 7]);
        let batch = s.transfer(a, b, &tail);
        assert_eq!(
            (raw(&batch.tests), raw(&batch.collect)),
            (vec![4, 5, 6, 7], vec![2, 3])
        );
        assert!(s.holds(b, t(4)) && !s.holds(a, t(4)));
        assert!(!s.finished(a, t(5)) && s.finished(b, t(5)));
        // Only the next item left: it stays; a file goes whole or not at all.
        assert!(s.tail_for(b, &ts([3])).is_empty());
        assert!(s.tail_for(b, &ts([2, 3])).is_empty());
    }

    #[test]
    fn a_thief_never_takes_a_file_back_to_before_what_it_ran() {
        // One big module cut by the plan into chunks of two; b ran the last
        // chunk, a holds the first three.
        let mut s = Scheduler::new(2, vec![cpu(2)], 1, opts(false));
        for i in 0..8 {
            s.add(info(0, 0, &format!("m.py::t{i}"), 1.0));
        }
        s.seal();
        let (a, b) = (add_worker(&mut s), add_worker(&mut s));
        s.transfer(a, b, &[]);
        let mut held = Vec::new();
        while held.len() < 6 {
            held.extend(s.assign(a).tests);
        }
        assert_eq!(raw(&held), vec![0, 1, 2, 3, 4, 5]);
        for t in s.assign(b).tests {
            assert!(s.finished(b, t));
        }
        assert!(s.tail_for(b, &ts([1, 2, 3, 4, 5])).is_empty());
    }

    #[test]
    fn nothing_is_taken_from_inside_a_file_the_plan_left_whole() {
        // Two files of four: the plan keeps each whole; the steal starts at
        // the second file.
        let ids: Vec<String> = (0..8).map(|i| format!("f{}.py::t{i}", i / 4)).collect();
        let (s, _, b) = one_holds_all(&ids, opts(false));
        assert_eq!(raw(&s.tail_for(b, &ts(1..8))), vec![4, 5, 6, 7]);
        assert!(s.tail_for(b, &ts([1, 2, 3])).is_empty());
        // One big module, cut by the plan into chunks of two: there only.
        let ids: Vec<String> = (0..8).map(|i| format!("m.py::t{i}")).collect();
        let (s, _, b) = one_holds_all(&ids, opts(false));
        assert_eq!(raw(&s.tail_for(b, &ts(1..8))), vec![4, 5, 6, 7]);
        assert_eq!(raw(&s.tail_for(b, &ts([1, 2, 3]))), vec![2, 3]);
        // With -x, tests go one at a time: nothing to take back.
        let ids: Vec<String> = (0..8).map(|i| format!("f{}.py::t{i}", i / 2)).collect();
        let (s, _, b) = one_holds_all(&ids, opts(true));
        assert!(s.tail_for(b, &ts([1, 2, 3])).is_empty());
    }

    #[test]
    fn a_grown_pool_raises_the_cpu_limit_and_followed_caps_never_lowering_them() {
        let cat = |cap| CategorySlots {
            cap,
            kind: Kind::Cpu,
            exclusive: false,
        };
        let mut s = Scheduler::new(2, vec![cat(2), cat(1)], 0, Options::default());
        s.grow(5, &[(CategoryIndex::new(0), 5)]);
        assert_eq!(s.cpu_limit, 5);
        assert_eq!(s.categories[CategoryIndex::new(0)].cap, 5);
        assert_eq!(
            s.categories[CategoryIndex::new(1)].cap,
            1,
            "its own cap stays"
        );
        s.grow(3, &[(CategoryIndex::new(0), 3)]);
        assert_eq!(s.cpu_limit, 5);
        assert_eq!(s.categories[CategoryIndex::new(0)].cap, 5);
    }
}
