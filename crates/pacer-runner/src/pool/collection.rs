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
use pacer_types::Collection;

impl Pool {
    pub(super) fn on_hello(&mut self, w: usize, hello: Hello, reporter: &mut dyn Reporter) {
        if hello.protocol != PROTOCOL {
            self.end = Some(RunEnd::Failed(RunError::ProtocolMismatch {
                theirs: hello.protocol,
                ours: PROTOCOL,
                plugin_dir: self.config.plugin_dir.clone(),
            }));
            return;
        }
        if self.workers[w].stop_sent {
            return;
        }
        if self.hello.is_none() {
            if !self.apply_tuning(w, &hello, reporter) {
                return;
            }
            reporter.report(Event::Started {
                hello: &hello,
                workers: self.config.workers.max(1),
            });
            self.hello = Some(hello);
            if self.config.collection == Collection::Whole {
                self.debug(|| "collection: whole (collection = \"whole\")".into());
                self.collect_whole(w);
            } else {
                self.workers[w].phase = Stage::Discovering;
                self.send(w, &ToWorker::Discover);
            }
            return;
        }
        if self.whole && !hello.whole {
            // A new interpreter in a whole run (no fork, or the zygote is
            // gone): it collects the whole run itself.
            self.collect_whole(w);
            return;
        }
        if self.scheduler.is_some() {
            // A replacement or an extra io worker: forked with the whole
            // collection, or it collects its files on demand.
            if self.whole {
                self.mark_all_collected(w);
            }
            self.workers[w].phase = Stage::Ready;
            self.workers[w].waiting = true;
            self.push_work();
        } else {
            self.workers[w].phase = Stage::Ready;
            if self.discovered {
                self.give_chunk(w);
            }
        }
    }

    /// `w` collects the whole run. With fork, it is the collector: every
    /// other process started so far is stopped unused, and the workers are
    /// forked from it once it has collected.
    pub(super) fn collect_whole(&mut self, w: usize) {
        let first = !self.whole;
        self.whole = true;
        if first && !self.subreaper {
            // Without fork every worker collects the run itself; those
            // waiting for discovery start now.
            for other in 0..self.workers.len() {
                let state = &self.workers[other];
                if other != w && state.phase == Stage::Ready && !state.stop_sent {
                    self.send_collect_all(other);
                }
            }
        }
        if self.subreaper && self.collector.is_none() {
            self.collector = Some(w);
            for other in 0..self.workers.len() {
                if other != w && self.workers[other].phase != Stage::Gone {
                    self.workers[other].discarded = true;
                    self.stop_worker(other);
                }
            }
            self.zygote = None;
            self.zygote_ready = false;
            self.forks_wanted = 0;
        }
        self.send_collect_all(w);
    }

    fn send_collect_all(&mut self, w: usize) {
        let state = &mut self.workers[w];
        state.phase = Stage::Collecting;
        state.waiting = false;
        state.collect_since = Some(Instant::now());
        self.send(
            w,
            &ToWorker::CollectAll {
                ignore: &self.whole_ignore,
            },
        );
    }

    /// Tells a worker holding the whole collection which tests pacer
    /// deselected (categories, `--lf`): gone from its `session.items`.
    fn send_selection(&self, w: usize) {
        let deselect: Vec<&str> = self.unselected.iter().map(String::as_str).collect();
        self.send(w, &ToWorker::Select { deselect });
    }

    fn mark_all_collected(&mut self, w: usize) {
        if let Some(scheduler) = self.scheduler.as_mut() {
            for unit in 0..self.units.len() {
                scheduler.mark_collected(self.workers[w].sched, unit);
            }
        }
    }

    pub(super) fn on_discovered(
        &mut self,
        w: usize,
        units: Vec<DiscoveredUnit>,
        whole: Option<String>,
        reporter: &mut dyn Reporter,
    ) {
        match (self.config.collection, whole) {
            (Collection::Auto, Some(reason)) => {
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
        self.units = units
            .into_iter()
            .filter(|u| seen.insert(u.arg.clone()))
            .collect();
        self.discovered = true;
        for (index, unit) in self.units.iter().enumerate() {
            self.unit_by_path.entry(unit.arg.clone()).or_insert(index);
            self.unit_by_path.entry(unit.id.clone()).or_insert(index);
        }
        // Files are handed out in chunks as workers finish the previous one,
        // so that a worker that started late or collects slowly takes fewer
        // and all finish together. Each chunk is a run of neighbours in
        // pytest's collection order: a worker then imports test modules in
        // the order pytest would, and suites whose modules lean on what a
        // neighbour imported (a deprecated module imported once, a registry
        // filled at import) see what they see under pytest.
        self.to_collect = (0..self.units.len()).collect();
        let workers = self
            .workers
            .iter()
            .filter(|w| w.phase != Stage::Zygote)
            .count()
            .max(1);
        self.chunk_size = self.units.len().div_ceil(workers * 3).max(1);
        for w in 0..self.workers.len() {
            if matches!(self.workers[w].phase, Stage::Discovering | Stage::Ready)
                && !self.workers[w].stop_sent
            {
                self.workers[w].phase = Stage::Ready;
                self.give_chunk(w);
            }
        }
        self.seal_when_collected(reporter);
    }

    /// Sends `w` its next files to collect; false when none are left.
    pub(super) fn give_chunk(&mut self, w: usize) -> bool {
        let take = self.chunk_size.min(self.to_collect.len());
        if take == 0 {
            return false;
        }
        let chunk: Vec<usize> = self.to_collect.drain(..take).collect();
        let args: Vec<String> = chunk.iter().map(|u| self.units[*u].arg.clone()).collect();
        self.workers[w].phase = Stage::Collecting;
        if self.collected_units.len() <= w {
            self.collected_units.resize(w + 1, Vec::new());
        }
        self.collected_units[w].extend(chunk.iter().copied());
        self.workers[w].collect_since = Some(Instant::now());
        self.workers[w].collect_chunk = chunk;
        self.send(w, &ToWorker::Collect { units: &args });
        true
    }

    pub(super) fn on_collected(
        &mut self,
        w: usize,
        items: Vec<CollectedItem>,
        problems: Vec<CollectProblem>,
        deselected: usize,
        reporter: &mut dyn Reporter,
    ) {
        self.workers[w].phase = Stage::Ready;
        self.workers[w].waiting = true;
        self.workers[w].collect_since = None;
        self.workers[w].collect_chunk.clear();
        self.deselected += deselected;
        self.problems.extend(problems);
        for item in items {
            let file = item.id.split("::").next().unwrap_or(&item.id);
            let unit = self
                .unit_by_path
                .get(file)
                .or_else(|| self.unit_by_path.get(&item.id))
                .copied()
                .unwrap_or(usize::MAX);
            self.collected_items.push((item, unit));
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
        w: usize,
        items: Vec<CollectedItem>,
        problems: Vec<CollectProblem>,
        (deselected, deselected_ids): (usize, Vec<String>),
        ordered: Option<String>,
        reporter: &mut dyn Reporter,
    ) {
        self.workers[w].collect_since = None;
        if self.scheduler.is_some() {
            let held: std::collections::HashSet<&str> =
                items.iter().map(|i| i.id.as_str()).collect();
            if let Some(lost) = self.tests.iter().find(|t| !held.contains(t.id.as_str())) {
                self.end = Some(RunEnd::Fallback {
                    reason: format!(
                        "collections differ between workers: {} did not collect {}",
                        self.workers[w].name, lost.id
                    ),
                });
                return;
            }
            self.send_selection(w);
            self.mark_all_collected(w);
            self.workers[w].phase = Stage::Ready;
            self.workers[w].waiting = true;
            self.push_work();
            return;
        }
        self.deselected += deselected;
        self.deselected_ids.extend(deselected_ids);
        self.problems.extend(problems);
        self.units.clear();
        self.unit_by_path.clear();
        let mut last_file: Option<&str> = None;
        let mut collected = Vec::with_capacity(items.len());
        for item in &items {
            let file = item.id.split("::").next().unwrap_or(&item.id);
            let new_unit = || DiscoveredUnit {
                arg: file.to_string(),
                id: file.to_string(),
                size: 0,
            };
            let unit = if ordered.is_some() {
                if last_file != Some(file) {
                    self.units.push(new_unit());
                }
                self.units.len() - 1
            } else {
                match self.unit_by_path.get(file) {
                    Some(&unit) => unit,
                    None => {
                        self.units.push(new_unit());
                        self.unit_by_path
                            .insert(file.to_string(), self.units.len() - 1);
                        self.units.len() - 1
                    }
                }
            };
            last_file = Some(file);
            collected.push(unit);
        }
        self.collected_items = items.into_iter().zip(collected).collect();
        self.ordered = ordered;
        self.discovered = true;
        if self.collector == Some(w) {
            // The workers are forked from it, named gw0, gw1... as
            // pytest-xdist names them.
            let state = &mut self.workers[w];
            state.phase = Stage::Zygote;
            state.name = "zygote".into();
            self.zygote = Some(w);
            self.zygote_ready = false;
            self.next_name = 0;
        } else {
            self.workers[w].phase = Stage::Ready;
            self.workers[w].waiting = true;
        }
        self.seal(reporter);
    }

    pub(super) fn seal_when_collected(&mut self, reporter: &mut dyn Reporter) {
        let busy = self.workers.iter().any(|w| w.phase == Stage::Collecting);
        if self.scheduler.is_none() && self.to_collect.is_empty() && !busy {
            self.seal(reporter);
        }
    }

    pub(super) fn seal(&mut self, reporter: &mut dyn Reporter) {
        // Tests whose file is not a known unit (a plugin's own files) become units of their own.
        let mut items = std::mem::take(&mut self.collected_items);
        items.sort_by_key(|(_, unit)| *unit);
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
        for (item, unit) in items.iter_mut() {
            let id = &item.id;
            if *unit == usize::MAX {
                let file = id.split("::").next().unwrap_or(id).to_string();
                *unit = *self.unit_by_path.entry(file.clone()).or_insert_with(|| {
                    self.units.push(DiscoveredUnit {
                        arg: file.clone(),
                        id: file,
                        size: 0,
                    });
                    self.units.len() - 1
                });
            }
        }
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
            self.units.len(),
            crate::scheduler::Options {
                single: self.config.maxfail.is_some(),
                dist: self.config.dist,
                // An order the collection hooks set across files is kept:
                // each worker runs its tests in it, durations aside.
                in_order: sequential || self.ordered.is_some(),
            },
        );
        let mut planned = Vec::with_capacity(items.len());
        let mut per_category = vec![0usize; self.config.categories.len()];
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
            let file = |id: &str| id.split("::").next().unwrap_or(id).to_string();
            let module_level =
                |id: &str| id.split('[').next().unwrap_or(id).matches("::").count() == 1;
            let every_id = || {
                items
                    .iter()
                    .map(|(item, _)| item.id.as_str())
                    .chain(self.deselected_ids.iter().map(String::as_str))
            };
            let known_files: std::collections::HashSet<String> =
                lf.ids.iter().map(|id| file(id)).collect();
            let collected_failures = items
                .iter()
                .filter(|(item, _)| lf.ids.contains(&item.id))
                .count();
            // The files of known failures in collection order, and the
            // first whose module-level tests hold one.
            let mut failing_files: Vec<String> = Vec::new();
            for id in every_id() {
                let f = file(id);
                if known_files.contains(&f) && !failing_files.contains(&f) {
                    failing_files.push(f);
                }
            }
            let starts = failing_files.iter().position(|f| {
                every_id().any(|id| file(id) == *f && module_level(id) && lf.ids.contains(id))
            });
            let mut skipped_files = 0;
            if let (true, Some(start)) = (lf.only, starts) {
                let filtered: std::collections::HashSet<&String> =
                    failing_files[start..].iter().collect();
                let mut skipped: std::collections::HashSet<String> = Default::default();
                for id in every_id() {
                    let f = file(id);
                    if !failing_files.contains(&f) {
                        invisible.insert(id.to_string());
                        skipped.insert(f);
                    } else if filtered.contains(&f) && module_level(id) && !lf.ids.contains(id) {
                        invisible.insert(id.to_string());
                    }
                }
                skipped_files = skipped.len();
                let hidden = self
                    .deselected_ids
                    .iter()
                    .filter(|id| invisible.contains(*id))
                    .count();
                self.deselected = self.deselected.saturating_sub(hidden);
            }
            last_failed_run = Some(LastFailedRun {
                known: lf.ids.len(),
                collected_failures,
                only: lf.only,
                skipped_files,
                none_if_no_failures: lf.none_if_no_failures,
            });
        }
        for (item, unit) in items {
            let CollectedItem {
                id,
                markers,
                scope,
                group,
            } = item;
            if invisible.contains(&id) {
                if self.whole {
                    self.unselected.push(id);
                }
                continue;
            }
            let category = (self.config.classify)(&id, &markers);
            per_category[category] += 1;
            let wanted = match keep_only_failed {
                Some((true, ids)) => ids.contains(&id),
                _ => true,
            };
            let selected = self.config.categories[category].selected && wanted;
            planned.push(PlannedTest {
                id: id.clone(),
                category,
                selected,
            });
            if !selected || self.config.list_only {
                if !selected {
                    self.deselected += 1;
                    if self.whole {
                        self.unselected.push(id);
                    }
                }
                continue;
            }
            let weight = self.config.durations.get(&id).copied().unwrap_or(1.0);
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
            debug_assert_eq!(index, self.tests.len());
            self.index_by_id.insert(id.clone(), index);
            self.tests.push(TestRecord {
                id,
                category,
                done: false,
            });
        }
        scheduler.seal();
        for (w, state) in self.workers.iter_mut().enumerate() {
            state.sched = scheduler.add_worker();
            for unit in self.collected_units.get(w).into_iter().flatten() {
                scheduler.mark_collected(state.sched, *unit);
            }
            if self.whole {
                for unit in 0..self.units.len() {
                    scheduler.mark_collected(state.sched, unit);
                }
            }
        }
        self.scheduler = Some(scheduler);
        if self.whole {
            // Each worker's `session.items` becomes the run's selection,
            // as pytest's own `--lf` and `-m` leave it; then the collector
            // forks the workers.
            for w in 0..self.workers.len() {
                let state = &self.workers[w];
                if state.stop_sent || state.phase == Stage::Gone {
                    continue;
                }
                let collector = self.collector == Some(w);
                if collector || state.phase == Stage::Ready {
                    self.send_selection(w);
                }
                if collector {
                    self.send(w, &ToWorker::Serve);
                }
            }
        }
        if let Some(who) = &self.ordered {
            if !sequential {
                let message = format!(
                    "{who} ordered the tests across files (pytest_collection_modifyitems): \
                     each worker runs its tests in that order, recorded durations aside, \
                     but workers run side by side, as under pytest-xdist"
                );
                reporter.report(Event::Notice { message: &message });
            }
        }
        if let Some(scheduler) = &self.scheduler {
            let files: Vec<&str> = scheduler
                .module_level_cuts()
                .iter()
                .map(|t| self.tests[*t].id.split("::").next().unwrap_or_default())
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
            .categories
            .iter()
            .enumerate()
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
        for (index, category) in self.config.categories.iter().enumerate() {
            if only_some && category.selected && per_category[index] == 0 {
                let message = format!("category `{}` selects no tests", category.name);
                reporter.report(Event::Notice { message: &message });
            }
        }
        if let Some(run) = last_failed_run {
            reporter.report(Event::LastFailed { run });
        }
        reporter.report(Event::Collected {
            total: self.tests.len(),
            deselected: self.deselected,
            problems: &self.problems,
        });
        if self.config.list_only {
            self.stop_all();
            return;
        }

        let errors = self
            .problems
            .iter()
            .filter(|p| p.outcome == Outcome::Failed)
            .count();
        // A file hung at import is reported, but does not keep the rest of
        // the suite from running: that is what the deadline is for.
        if errors > self.collect_timeouts && !self.config.continue_on_collection_errors {
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
        let Some(scheduler) = &self.scheduler else {
            return;
        };
        let pending = |kind| -> usize {
            self.config
                .categories
                .iter()
                .enumerate()
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
        let running = self.forks_wanted
            + self
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
