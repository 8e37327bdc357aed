//! From the first hello to a sealed plan: discovery, then the whole
//! collection or shares of files, categories.
//!
//! The whole collection is pytest's own, in one worker (the collector)
//! that then becomes the zygote forking every other worker, so that each
//! holds the whole `session.items` in pytest's final order; without fork,
//! every worker collects it. Split collection shares the files out, each
//! worker collecting its part: faster, and chosen by `collection = "auto"`
//! only when discovery found nothing that reads or orders the collection
//! across files.

use super::*;

/// What discovery and collection found, and how far they are: owned by
/// this module; the plan (`seal`) is made from it.
pub(super) struct Collection {
    /// The first worker's hello.
    pub(super) hello: Option<Hello>,
    pub(super) units: IndexVec<UnitIndex, DiscoveredUnit>,
    pub(super) unit_by_path: HashMap<String, UnitIndex>,
    pub(super) discovered: bool,
    /// Files not yet handed to a worker for collection, and how many go at once.
    pub(super) to_collect: VecDeque<UnitIndex>,
    pub(super) chunk_size: usize,
    /// Per worker, the files it collected.
    pub(super) collected_units: IndexVec<WorkerId, Vec<UnitIndex>>,
    /// Collected tests and their unit (none yet: a file no unit holds).
    pub(super) collected_items: Vec<(CollectedItem, Option<UnitIndex>)>,
    pub(super) problems: Vec<CollectProblem>,
    pub(super) deselected: usize,
    /// Tests the workers' pytest deselected (`-k`, `-m`), known under `--lf`.
    pub(super) deselected_ids: Vec<String>,
    /// Warnings raised while collecting (by location and text), counted.
    pub(super) collect_warnings: HashMap<(String, String), WarningCount>,
    /// The run collects the whole suite (`collection = "whole"`, or `auto`
    /// and discovery gave a reason), in one collector that then forks the
    /// workers, or, without fork, in every worker.
    pub(super) whole: bool,
    /// The worker collecting the whole run, to become the zygote.
    pub(super) collector: Option<WorkerId>,
    /// Files a whole collection hung in, left out of the next one.
    pub(super) whole_ignore: Vec<String>,
    /// The collection hooks ordered the tests across files: who did.
    pub(super) ordered: Option<String>,
    /// With the whole collection: the tests collected that pacer does not
    /// run (categories not selected, `--lf`), dropped from each worker's
    /// `session.items`.
    pub(super) unselected: Vec<String>,
    /// Collection errors that are files hung at import: reported, but the
    /// rest of the suite runs.
    pub(super) collect_timeouts: usize,
    /// The files that hung at import.
    pub(super) hung_units: Vec<UnitIndex>,
}

/// How often one collection warning was raised: by each worker, and at
/// most by any one worker (what pytest, collecting once, would report).
#[derive(Debug, Default)]
pub(super) struct WarningCount {
    pub(super) per_worker: HashMap<WorkerId, usize>,
    pub(super) reported: usize,
}

impl Collection {
    pub(super) fn new() -> Self {
        Collection {
            hello: None,
            units: IndexVec::new(),
            unit_by_path: HashMap::new(),
            discovered: false,
            to_collect: VecDeque::new(),
            chunk_size: 1,
            collected_units: IndexVec::new(),
            collected_items: Vec::new(),
            problems: Vec::new(),
            deselected: 0,
            deselected_ids: Vec::new(),
            collect_warnings: HashMap::new(),
            whole: false,
            collector: None,
            whole_ignore: Vec::new(),
            ordered: None,
            unselected: Vec::new(),
            collect_timeouts: 0,
            hung_units: Vec::new(),
        }
    }

    /// The unit `id` (a node id) belongs to, if a known one.
    fn unit_of(&self, id: &str) -> Option<UnitIndex> {
        let file = id.split("::").next().unwrap_or(id);
        self.unit_by_path
            .get(file)
            .or_else(|| self.unit_by_path.get(id))
            .copied()
    }
}

impl Pool {
    pub(super) fn on_hello(&mut self, w: WorkerId, hello: Hello, reporter: &mut dyn Reporter) {
        if hello.protocol != PROTOCOL {
            self.end = Some(RunEnd::Failed(RunError::ProtocolMismatch {
                theirs: hello.protocol,
                ours: PROTOCOL,
                plugin_dir: self.config.plugin_dir.clone(),
            }));
            return;
        }
        if self.lifecycle.workers[w].stop_sent {
            return;
        }
        if self.collection.hello.is_none() {
            if !self.apply_tuning(w, &hello, reporter) {
                return;
            }
            reporter.report(Event::Started {
                hello: &hello,
                workers: self.config.workers.max(1),
            });
            self.collection.hello = Some(hello);
            if self.config.collection == pacer_types::Collection::Whole {
                self.debug(|| "collection: whole (collection = \"whole\")".into());
                self.collect_whole(w);
            } else {
                self.lifecycle.workers[w].phase = Stage::Discovering;
                self.send(w, &ToWorker::Discover);
            }
            return;
        }
        if self.collection.whole && !hello.whole {
            // A new interpreter in a whole run (no fork, or the zygote is
            // gone): it collects the whole run itself.
            self.collect_whole(w);
            return;
        }
        if self.dispatch.scheduler.is_some() {
            // A replacement or an extra io worker: forked with the whole
            // collection, or it collects its files on demand.
            if self.collection.whole {
                self.mark_all_collected(w);
            }
            self.lifecycle.workers[w].phase = Stage::Ready;
            self.lifecycle.workers[w].waiting = true;
            self.push_work();
        } else {
            self.lifecycle.workers[w].phase = Stage::Ready;
            if self.collection.discovered {
                self.give_chunk(w);
            }
        }
    }

    /// `w` collects the whole run. With fork, it is the collector: every
    /// other process started so far is stopped unused, and the workers are
    /// forked from it once it has collected.
    pub(super) fn collect_whole(&mut self, w: WorkerId) {
        let first = !self.collection.whole;
        self.collection.whole = true;
        if first && !self.lifecycle.subreaper {
            // Without fork every worker collects the run itself; those
            // waiting for discovery start now.
            for other in self.lifecycle.workers.indices() {
                let state = &self.lifecycle.workers[other];
                if other != w && state.phase == Stage::Ready && !state.stop_sent {
                    self.send_collect_all(other);
                }
            }
        }
        if self.lifecycle.subreaper && self.collection.collector.is_none() {
            self.collection.collector = Some(w);
            for other in self.lifecycle.workers.indices() {
                if other != w && self.lifecycle.workers[other].phase != Stage::Gone {
                    self.lifecycle.workers[other].discarded = true;
                    self.stop_worker(other);
                }
            }
            self.lifecycle.zygote = None;
            self.lifecycle.zygote_ready = false;
            self.lifecycle.forks_wanted = 0;
        }
        self.send_collect_all(w);
    }

    fn send_collect_all(&mut self, w: WorkerId) {
        let state = &mut self.lifecycle.workers[w];
        state.phase = Stage::Collecting;
        state.waiting = false;
        state.collect_since = Some(Instant::now());
        self.send(
            w,
            &ToWorker::CollectAll {
                ignore: &self.collection.whole_ignore,
            },
        );
    }

    /// Tells a worker holding the whole collection which tests pacer
    /// deselected (categories, `--lf`): gone from its `session.items`.
    fn send_selection(&self, w: WorkerId) {
        let deselect: Vec<&str> = self
            .collection
            .unselected
            .iter()
            .map(String::as_str)
            .collect();
        self.send(w, &ToWorker::Select { deselect });
    }

    fn mark_all_collected(&mut self, w: WorkerId) {
        if let Some(scheduler) = self.dispatch.scheduler.as_mut() {
            for unit in self.collection.units.indices() {
                scheduler.mark_collected(w, unit);
            }
        }
    }

    pub(super) fn on_discovered(
        &mut self,
        w: WorkerId,
        units: Vec<DiscoveredUnit>,
        whole: Option<String>,
        reporter: &mut dyn Reporter,
    ) {
        match (self.config.collection, whole) {
            (pacer_types::Collection::Auto, Some(reason)) => {
                self.debug(|| format!("collection: whole ({reason})"));
                self.collect_whole(w);
                return;
            }
            (_, Some(reason)) => self.debug(|| {
                format!("collection: split (collection = \"split\"; whole would be chosen: {reason})")
            }),
            (_, None) => self.debug(|| {
                "collection: split (no conftest or plugin reads or orders the collection across files)"
                    .into()
            }),
        }
        // One path is one unit, however many collectors pytest made for it
        // (a Module and a DoctestModule): collected twice, by two workers,
        // its tests would be registered, handed out and run twice.
        let mut seen = std::collections::HashSet::new();
        self.collection.units = units
            .into_iter()
            .filter(|u| seen.insert(u.arg.clone()))
            .collect();
        self.collection.discovered = true;
        for (index, unit) in self.collection.units.iter_enumerated() {
            self.collection
                .unit_by_path
                .entry(unit.arg.clone())
                .or_insert(index);
            self.collection
                .unit_by_path
                .entry(unit.id.clone())
                .or_insert(index);
        }
        // Files are handed out in chunks as workers finish the previous one,
        // so that a worker that started late or collects slowly takes fewer
        // and all finish together. Each chunk is a run of neighbours in
        // pytest's collection order: a worker then imports test modules in
        // the order pytest would, and suites whose modules lean on what a
        // neighbour imported (a deprecated module imported once, a registry
        // filled at import) see what they see under pytest.
        self.collection.to_collect = self.collection.units.indices().collect();
        let workers = self
            .lifecycle
            .workers
            .iter()
            .filter(|w| w.phase != Stage::Zygote)
            .count()
            .max(1);
        self.collection.chunk_size = self.collection.units.len().div_ceil(workers * 3).max(1);
        for w in self.lifecycle.workers.indices() {
            if matches!(
                self.lifecycle.workers[w].phase,
                Stage::Discovering | Stage::Ready
            ) && !self.lifecycle.workers[w].stop_sent
            {
                self.lifecycle.workers[w].phase = Stage::Ready;
                self.give_chunk(w);
            }
        }
        self.seal_when_collected(reporter);
    }

    /// Sends `w` its next files to collect; false when none are left.
    pub(super) fn give_chunk(&mut self, w: WorkerId) -> bool {
        let take = self
            .collection
            .chunk_size
            .min(self.collection.to_collect.len());
        if take == 0 {
            return false;
        }
        let chunk: Vec<UnitIndex> = self.collection.to_collect.drain(..take).collect();
        let args: Vec<String> = chunk
            .iter()
            .map(|u| self.collection.units[*u].arg.clone())
            .collect();
        self.lifecycle.workers[w].phase = Stage::Collecting;
        self.collection
            .collected_units
            .grow_to(w.index() + 1, Vec::new);
        self.collection.collected_units[w].extend(chunk.iter().copied());
        self.lifecycle.workers[w].collect_since = Some(Instant::now());
        self.lifecycle.workers[w].collect_chunk = chunk;
        self.send(w, &ToWorker::Collect { units: &args });
        true
    }

    pub(super) fn on_collected(
        &mut self,
        w: WorkerId,
        items: Vec<CollectedItem>,
        problems: Vec<CollectProblem>,
        deselected: usize,
        reporter: &mut dyn Reporter,
    ) {
        self.lifecycle.workers[w].phase = Stage::Ready;
        self.lifecycle.workers[w].waiting = true;
        self.lifecycle.workers[w].collect_since = None;
        self.lifecycle.workers[w].collect_chunk.clear();
        self.collection.deselected += deselected;
        self.collection.problems.extend(problems);
        for item in items {
            let unit = self.collection.unit_of(&item.id);
            self.collection.collected_items.push((item, unit));
        }
        if !self.give_chunk(w) {
            self.seal_when_collected(reporter);
        }
    }

    /// A whole collection of the run, in pytest's final order. The first
    /// one makes the plan: its files are the units, or, when the hooks
    /// ordered tests across files, each run of one file's tests in that
    /// order is, handed out in that order. The collector then becomes the
    /// zygote. Another worker's (without fork) must match the plan.
    pub(super) fn on_whole_collected(
        &mut self,
        w: WorkerId,
        items: Vec<CollectedItem>,
        problems: Vec<CollectProblem>,
        (deselected, deselected_ids): (usize, Vec<String>),
        ordered: Option<String>,
        reporter: &mut dyn Reporter,
    ) {
        self.lifecycle.workers[w].collect_since = None;
        if self.dispatch.scheduler.is_some() {
            let held: std::collections::HashSet<&str> =
                items.iter().map(|i| i.id.as_str()).collect();
            if let Some(lost) = self
                .dispatch
                .tests
                .iter()
                .find(|t| !held.contains(t.id.as_str()))
            {
                self.end = Some(RunEnd::Fallback {
                    reason: format!(
                        "collections differ between workers: {} did not collect {}",
                        self.lifecycle.workers[w].name, lost.id
                    ),
                });
                return;
            }
            self.send_selection(w);
            self.mark_all_collected(w);
            self.lifecycle.workers[w].phase = Stage::Ready;
            self.lifecycle.workers[w].waiting = true;
            self.push_work();
            return;
        }
        self.collection.deselected += deselected;
        self.collection.deselected_ids.extend(deselected_ids);
        self.collection.problems.extend(problems);
        self.collection.units.clear();
        self.collection.unit_by_path.clear();
        // The file of the last item, and its unit.
        let mut last: Option<(&str, UnitIndex)> = None;
        let mut collected = Vec::with_capacity(items.len());
        for item in &items {
            let file = item.id.split("::").next().unwrap_or(&item.id);
            let new_unit = || DiscoveredUnit {
                arg: file.to_string(),
                id: file.to_string(),
                size: 0,
            };
            let collection = &mut self.collection;
            let unit = if ordered.is_some() {
                match last {
                    Some((last_file, unit)) if last_file == file => unit,
                    _ => collection.units.push(new_unit()),
                }
            } else {
                match collection.unit_by_path.get(file) {
                    Some(&unit) => unit,
                    None => {
                        let unit = collection.units.push(new_unit());
                        collection.unit_by_path.insert(file.to_string(), unit);
                        unit
                    }
                }
            };
            last = Some((file, unit));
            collected.push(Some(unit));
        }
        self.collection.collected_items = items.into_iter().zip(collected).collect();
        self.collection.ordered = ordered;
        self.collection.discovered = true;
        if self.collection.collector == Some(w) {
            // The workers are forked from it, named gw0, gw1... as
            // pytest-xdist names them.
            let state = &mut self.lifecycle.workers[w];
            state.phase = Stage::Zygote;
            state.name = "zygote".into();
            self.lifecycle.zygote = Some(w);
            self.lifecycle.zygote_ready = false;
            self.lifecycle.next_name = 0;
        } else {
            self.lifecycle.workers[w].phase = Stage::Ready;
            self.lifecycle.workers[w].waiting = true;
        }
        self.seal(reporter);
    }

    pub(super) fn seal_when_collected(&mut self, reporter: &mut dyn Reporter) {
        let busy = self
            .lifecycle
            .workers
            .iter()
            .any(|w| w.phase == Stage::Collecting);
        if self.dispatch.scheduler.is_none() && self.collection.to_collect.is_empty() && !busy {
            self.seal(reporter);
        }
    }

    pub(super) fn seal(&mut self, reporter: &mut dyn Reporter) {
        // Tests whose file is not a known unit (a plugin's own files) become units of their own.
        let mut items = std::mem::take(&mut self.collection.collected_items);
        // Tests of no known unit last, as they came.
        items.sort_by_key(|(_, unit)| unit.map_or(usize::MAX, UnitIndex::index));
        // A test reported twice (two collectors, two workers) is one test:
        // registered twice, it would run twice and its results would be
        // charged to the wrong copy.
        let mut seen = std::collections::HashSet::new();
        let before = items.len();
        items.retain(|(item, _)| seen.insert(item.id.clone()));
        if items.len() < before {
            let message = format!(
                "{} test{} reported twice by collection; each runs once",
                before - items.len(),
                if before - items.len() == 1 {
                    " was"
                } else {
                    "s were"
                }
            );
            reporter.report(Event::Notice { message: &message });
        }
        let collection = &mut self.collection;
        let items: Vec<(CollectedItem, UnitIndex)> = items
            .into_iter()
            .map(|(item, unit)| {
                let unit = unit.unwrap_or_else(|| {
                    let id = &item.id;
                    let file = id.split("::").next().unwrap_or(id).to_string();
                    *collection
                        .unit_by_path
                        .entry(file.clone())
                        .or_insert_with(|| {
                            collection.units.push(DiscoveredUnit {
                                arg: file.clone(),
                                id: file,
                                size: 0,
                            })
                        })
                });
                (item, unit)
            })
            .collect();
        // One worker means one test at a time in pytest's order: io
        // categories, which may otherwise run beyond the workers, are
        // capped too.
        let sequential = self.config.workers <= 1;
        let categories: Vec<CategorySlots> = self
            .config
            .categories
            .iter()
            .map(|c| {
                let mut slots = c.slots.clone();
                if sequential {
                    slots.cap = 1;
                    slots.kind = crate::scheduler::Kind::Cpu;
                }
                slots
            })
            .collect();
        let mut scheduler = Scheduler::new(
            self.config.workers,
            categories,
            self.collection.units.len(),
            crate::scheduler::Options {
                single: self.config.maxfail.is_some(),
                dist: self.config.dist,
                // An order the collection hooks set across files is kept:
                // each worker runs its tests in it, durations aside.
                in_order: sequential || self.collection.ordered.is_some(),
            },
        );
        let mut planned = Vec::with_capacity(items.len());
        let mut per_category: IndexVec<CategoryIndex, usize> =
            IndexVec::from_elem(0, self.config.categories.len());
        // --lf keeps the known failures when any of them was collected (else
        // everything, or nothing with --lfnf none), as pytest's own plugin.
        let keep_only_failed = self
            .config
            .last_failed
            .as_ref()
            .filter(|lf| lf.only)
            .map(|lf| {
                let any = items.iter().any(|(item, _)| lf.ids.contains(&item.id));
                (any || lf.none_if_no_failures, &lf.ids)
            });
        // pytest's --lf plugin collects the files of known failures first
        // and leaves them whole until it meets one whose module-level tests
        // (a module's direct children) include a known failure. From there
        // on it drops the module-level tests that passed from each such
        // file and does not collect the other files at all ("skipped N
        // files"), before `-k`/`-m` deselect anything: those tests are
        // neither collected nor deselected. A failure inside a class never
        // starts it, so a suite whose failures are all in classes is
        // collected whole and its passing tests deselected.
        let mut last_failed_run = None;
        let mut invisible: std::collections::HashSet<String> = Default::default();
        if let Some(lf) = &self.config.last_failed {
            use std::collections::{HashMap, HashSet};
            fn file(id: &str) -> &str {
                id.split("::").next().unwrap_or(id)
            }
            let module_level =
                |id: &str| id.split('[').next().unwrap_or(id).matches("::").count() == 1;
            let every_id = || {
                items
                    .iter()
                    .map(|(item, _)| item.id.as_str())
                    .chain(self.collection.deselected_ids.iter().map(String::as_str))
            };
            let known_files: HashSet<&str> = lf.ids.iter().map(|id| file(id)).collect();
            let collected_failures = items
                .iter()
                .filter(|(item, _)| lf.ids.contains(&item.id))
                .count();
            // The files of known failures, each with its place in collection
            // order, and the first whose module-level tests hold one: one
            // pass over the ids.
            let mut failing_files: HashMap<&str, usize> = HashMap::new();
            let mut starts: Option<usize> = None;
            for id in every_id() {
                let f = file(id);
                if !known_files.contains(f) {
                    continue;
                }
                let next = failing_files.len();
                let at = *failing_files.entry(f).or_insert(next);
                if module_level(id) && lf.ids.contains(id) {
                    starts = Some(starts.map_or(at, |s| s.min(at)));
                }
            }
            let mut skipped_files = 0;
            if let (true, Some(start)) = (lf.only, starts) {
                let mut skipped: HashSet<&str> = HashSet::new();
                for id in every_id() {
                    let f = file(id);
                    match failing_files.get(f) {
                        None => {
                            invisible.insert(id.to_string());
                            skipped.insert(f);
                        }
                        Some(&at) if at >= start && module_level(id) && !lf.ids.contains(id) => {
                            invisible.insert(id.to_string());
                        }
                        Some(_) => {}
                    }
                }
                skipped_files = skipped.len();
                let hidden = self
                    .collection
                    .deselected_ids
                    .iter()
                    .filter(|id| invisible.contains(*id))
                    .count();
                self.collection.deselected = self.collection.deselected.saturating_sub(hidden);
            }
            last_failed_run = Some(LastFailedRun {
                known: lf.ids.len(),
                collected_failures,
                only: lf.only,
                skipped_files,
                none_if_no_failures: lf.none_if_no_failures,
            });
        }
        // --changed keeps the tests of the files the change can affect
        // (node ids name files relative to pytest's rootdir).
        let rootdir = self
            .collection
            .hello
            .as_ref()
            .map(|h| std::path::PathBuf::from(&h.rootdir))
            .unwrap_or_default();
        let changed = self.config.changed.take();
        let touched = |id: &str| {
            changed.as_ref().is_none_or(|c| {
                if c.everything {
                    return true;
                }
                let file = id.split("::").next().unwrap_or(id);
                c.files.contains(&rootdir.join(file))
            })
        };
        let (mut before_changed, mut after_changed) = (0usize, 0usize);
        let mut candidates = Vec::with_capacity(items.len());
        for (item, unit) in items {
            if invisible.contains(&item.id) {
                if self.collection.whole {
                    self.collection.unselected.push(item.id);
                }
                continue;
            }
            let category = CategoryIndex::new((self.config.classify)(&item.id, &item.markers));
            per_category[category] += 1;
            let wanted = match keep_only_failed {
                Some((true, ids)) => ids.contains(&item.id),
                _ => true,
            };
            let mut selected = self.config.category(category).selected && wanted;
            if selected && changed.is_some() {
                before_changed += 1;
                selected = touched(&item.id);
                after_changed += usize::from(selected);
            }
            planned.push(PlannedTest {
                id: item.id.clone(),
                category: category.index(),
                selected,
            });
            candidates.push((item, unit, category));
        }
        if let Some(changed) = &changed {
            let message = match after_changed {
                0 => format!(
                    "--changed: no test selected ({before_changed} deselected): {}",
                    changed.why
                ),
                n => format!(
                    "--changed: {n} of {before_changed} tests selected: {}",
                    changed.why
                ),
            };
            reporter.report(Event::Notice { message: &message });
        }
        // The shard is cut from what every other rule selected (pytest's
        // `-k`, `-m`, paths; pacer's categories and `--lf`), so that each
        // machine, given the same, cuts the same parts.
        if let Some(part) = self.config.shard {
            let (kept, split) = crate::shard::keep(
                &planned,
                &self.config.categories,
                &self.config.durations,
                part,
            );
            let selected = planned.iter().filter(|t| t.selected).count();
            for (test, kept) in planned.iter_mut().zip(kept) {
                test.selected &= kept;
            }
            let stats = &split.parts[part.index - 1];
            let unrecorded = match split.unrecorded {
                0 => String::new(),
                n => format!(
                    " ({n} without a recorded duration, counted as {:.1} s each)",
                    split.estimate
                ),
            };
            let message = format!(
                "shard {part}: {} of {selected} selected tests, predicted {:.1} s{unrecorded}",
                stats.tests, stats.seconds
            );
            reporter.report(Event::Notice { message: &message });
        }
        // Split collection: what pacer deselects (categories, the shard),
        // by file, for the workers that collected it.
        let mut deselected_by_unit: HashMap<UnitIndex, Vec<String>> = HashMap::new();
        for ((item, unit, category), planned) in candidates.into_iter().zip(&planned) {
            let CollectedItem {
                id,
                markers: _,
                scope,
                group,
            } = item;
            let selected = planned.selected;
            if !selected || self.config.list_only {
                if !selected {
                    self.collection.deselected += 1;
                    if self.collection.whole {
                        self.collection.unselected.push(id);
                    } else {
                        deselected_by_unit.entry(unit).or_default().push(id);
                    }
                }
                continue;
            }
            // One worker runs in pytest's order: durations (loaded for a
            // shard even then) weigh nothing.
            let weight = match sequential {
                true => 1.0,
                false => self.config.durations.get(&id).copied().unwrap_or(1.0),
            };
            // --ff: the chunks holding known failures go first, whatever
            // their duration (inside a chunk, pytest's order still holds).
            let first = self
                .config
                .last_failed
                .as_ref()
                .is_some_and(|lf| !lf.only && lf.ids.contains(&id));
            let index = scheduler.add(crate::scheduler::TestInfo {
                unit,
                category,
                weight,
                first,
                nodeid: id.clone(),
                scope,
                group,
            });
            debug_assert_eq!(index, self.dispatch.tests.next_index());
            self.dispatch.index_by_id.insert(id.clone(), index);
            self.dispatch.tests.push(TestRecord {
                id,
                category,
                done: false,
            });
        }
        scheduler.seal();
        // The scheduler knows each worker by the pool's id for it.
        for w in self.lifecycle.workers.indices() {
            scheduler.add_worker(w);
            for unit in self.collection.collected_units.get(w).into_iter().flatten() {
                scheduler.mark_collected(w, *unit);
            }
            if self.collection.whole {
                for unit in self.collection.units.indices() {
                    scheduler.mark_collected(w, unit);
                }
            }
        }
        self.dispatch.scheduler = Some(scheduler);
        if !self.collection.whole && !deselected_by_unit.is_empty() && !self.config.list_only {
            // Each worker that collected a deselected test deselects it as
            // pytest does (`pytest_deselected`), as the whole collection's
            // workers do below.
            for w in self.lifecycle.workers.indices() {
                let state = &self.lifecycle.workers[w];
                if state.stop_sent || state.phase != Stage::Ready {
                    continue;
                }
                let deselect: Vec<&str> = self
                    .collection
                    .collected_units
                    .get(w)
                    .into_iter()
                    .flatten()
                    .filter_map(|u| deselected_by_unit.get(u))
                    .flatten()
                    .map(String::as_str)
                    .collect();
                if !deselect.is_empty() {
                    self.send(w, &ToWorker::Select { deselect });
                }
            }
        }
        if self.collection.whole {
            // Each worker's `session.items` becomes the run's selection,
            // as pytest's own `--lf` and `-m` leave it; then the collector
            // forks the workers.
            for w in self.lifecycle.workers.indices() {
                let state = &self.lifecycle.workers[w];
                if state.stop_sent || state.phase == Stage::Gone {
                    continue;
                }
                let collector = self.collection.collector == Some(w);
                if collector || state.phase == Stage::Ready {
                    self.send_selection(w);
                }
                if collector {
                    self.send(w, &ToWorker::Serve);
                }
            }
        }
        if let Some(who) = &self.collection.ordered {
            if !sequential {
                let message = format!(
                    "{who} ordered the tests across files (pytest_collection_modifyitems): \
                     each worker runs its tests in that order, recorded durations aside, \
                     but workers run side by side, as under pytest-xdist"
                );
                reporter.report(Event::Notice { message: &message });
            }
        }
        if let Some(scheduler) = &self.dispatch.scheduler {
            let files: Vec<&str> = scheduler
                .module_level_cuts()
                .iter()
                .map(|t| {
                    self.dispatch.tests[*t]
                        .id
                        .split("::")
                        .next()
                        .unwrap_or_default()
                })
                .collect();
            if !files.is_empty() {
                let named = match files.len() {
                    1..=3 => files.join(", "),
                    n => format!("{} and {} more", files[..3].join(", "), n - 3),
                };
                let message = format!(
                    "{named}: module-level tests shared between workers, in order \
                     (they outweigh a worker's share of the recorded time; \
                     `--dist loadfile` keeps each file on one worker)"
                );
                reporter.report(Event::Notice { message: &message });
            }
        }
        reporter.report(Event::Planned {
            tests: &planned,
            categories: &self.config.categories,
        });
        // Built-in categories change how a project's tests run (a cap, the
        // rate limiter, running alone) when it happens to use their folders
        // or markers: said once, in one line.
        let implicit: Vec<String> = self
            .config
            .categories_enumerated()
            .filter(|(i, c)| c.implicit && per_category[*i] > 0)
            // Only where it changes something: a cpu category capped at or
            // above the workers runs as `default` would.
            .filter(|(_, c)| {
                c.slots.exclusive
                    || c.rate_limited
                    || c.slots.kind == crate::scheduler::Kind::Io
                    || c.slots.cap < self.config.workers
            })
            .map(|(i, c)| {
                let how = if c.slots.exclusive {
                    "one at a time, alone".to_string()
                } else if c.rate_limited {
                    format!("through the rate limiter, at most {} at once", c.slots.cap)
                } else {
                    format!("at most {} at once", c.slots.cap)
                };
                format!("{} {} ({how})", c.name, per_category[i])
            })
            .collect();
        // `pacer list` shows every category already.
        if !implicit.is_empty() && !self.config.list_only {
            let message = format!(
                "built-in categories apply, with no [tool.pacer]: {}; `pacer init` writes the project's own",
                implicit.join(", ")
            );
            reporter.report(Event::Notice { message: &message });
        }
        let only_some = self.config.categories.iter().any(|c| !c.selected);
        for (index, category) in self.config.categories_enumerated() {
            if only_some && category.selected && per_category[index] == 0 {
                let message = format!("category `{}` selects no tests", category.name);
                reporter.report(Event::Notice { message: &message });
            }
        }
        if let Some(run) = last_failed_run {
            reporter.report(Event::LastFailed { run });
        }
        reporter.report(Event::Collected {
            total: self.dispatch.tests.len(),
            deselected: self.collection.deselected,
            problems: &self.collection.problems,
        });
        if self.config.list_only {
            self.stop_all();
            return;
        }

        let errors = self
            .collection
            .problems
            .iter()
            .filter(|p| p.outcome == Outcome::Failed)
            .count();
        // A file hung at import is reported, but does not keep the rest of
        // the suite from running: that is what the deadline is for.
        if errors > self.collection.collect_timeouts && !self.config.continue_on_collection_errors {
            self.interrupted = Some(StopReason::CollectionErrors { errors });
            self.stop_all();
            return;
        }
        self.spawn_io_workers();
        self.push_work();
        self.maybe_finish();
    }

    /// `io` categories may run beyond the cpu workers, up to their caps.
    pub(super) fn spawn_io_workers(&mut self) {
        let Some(scheduler) = &self.dispatch.scheduler else {
            return;
        };
        let pending = |kind| -> usize {
            self.config
                .categories_enumerated()
                .filter(|(_, c)| c.slots.kind == kind)
                .map(|(i, c)| c.slots.cap.min(scheduler.pending_in(i)))
                .sum()
        };
        // As many workers as tests can run at once: the cpu ones within
        // `--workers`, io ones up to their categories' caps.
        let workers = self.config.workers.max(1);
        let cpu = pending(crate::scheduler::Kind::Cpu).min(workers);
        let io = pending(crate::scheduler::Kind::Io);
        let total = (cpu + io).max(1);
        let running = self.lifecycle.forks_wanted
            + self
                .lifecycle
                .workers
                .iter()
                .filter(|w| !matches!(w.phase, Stage::Zygote | Stage::Gone) && !w.stop_sent)
                .count();
        for _ in 0..total.saturating_sub(running) {
            if self.add_worker().is_err() {
                break;
            }
        }
    }
}
