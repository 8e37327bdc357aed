//! Handing tests to workers, taking results back, deciding when the run is over.

use super::*;

/// The plan and its handing out, and what the tests did: owned by this
/// module (the plan is made by `collection.rs`'s `seal`).
pub(super) struct Dispatch {
    /// Made once the run is collected (`seal`).
    pub(super) scheduler: Option<Scheduler>,
    pub(super) tests: IndexVec<TestIndex, TestRecord>,
    pub(super) index_by_id: HashMap<String, TestIndex>,
    /// A steal under way: (victim, thief), until the victim's `unqueued`.
    pub(super) steal: Option<(WorkerId, WorkerId)>,
    pub(super) finished: usize,
    pub(super) failures: usize,
    pub(super) durations: Vec<(TestIndex, f64)>,
    pub(super) cpu_times: Vec<(TestIndex, CpuTime)>,
    /// A first run's growth, when the binary asked for one (`growth.rs`).
    pub(super) growth: Option<super::growth::Growth>,
    pub(super) failed: Vec<FailedTest>,
    /// Set when pending work could not be given to any worker: the notice
    /// that names the tests.
    pub(super) stuck_message: Option<String>,
    /// `PACER_INTERNAL_PANIC_AFTER=N`: pacer panics once N tests finished,
    /// so that tests can prove an internal error still reports what ran
    /// (debug builds only, as the tests run them).
    pub(super) panic_after: Option<usize>,
}

#[derive(Debug)]
pub(super) struct TestRecord {
    pub(super) id: String,
    pub(super) category: CategoryIndex,
    pub(super) done: bool,
}

impl Dispatch {
    pub(super) fn new() -> Self {
        Dispatch {
            scheduler: None,
            tests: IndexVec::new(),
            index_by_id: HashMap::new(),
            steal: None,
            finished: 0,
            failures: 0,
            durations: Vec::new(),
            cpu_times: Vec::new(),
            growth: None,
            failed: Vec::new(),
            stuck_message: None,
            // Debug builds only: a release binary never panics on purpose.
            panic_after: std::env::var("PACER_INTERNAL_PANIC_AFTER")
                .ok()
                .filter(|_| cfg!(debug_assertions))
                .and_then(|n| n.parse().ok()),
        }
    }
}

impl Pool {
    pub(super) fn on_need(&mut self, w: WorkerId) {
        let Some(scheduler) = self.dispatch.scheduler.as_mut() else {
            return;
        };
        if scheduler.is_stopped() {
            self.stop_worker(w);
            return;
        }
        // A worker that still holds a test asks ahead. When what is left
        // would not even keep the free workers busy, it is theirs: the
        // asker would only sit on it until its current test ends.
        let holds = !self.lifecycle.workers[w].queue.is_empty();
        let free = self.lifecycle.forks_wanted
            + self
                .lifecycle
                .workers
                .iter_enumerated()
                .filter(|(o, s)| {
                    *o != w
                        && matches!(s.phase, Stage::Starting | Stage::Ready)
                        && s.queue.is_empty()
                        && !s.stop_sent
                })
                .count();
        let batch = if holds && scheduler.pending() <= free {
            crate::scheduler::Batch::default()
        } else {
            scheduler.assign(w)
        };
        if batch.tests.is_empty() {
            self.lifecycle.workers[w].waiting = true;
            self.send(w, &ToWorker::Idle);
            self.maybe_finish();
            self.try_steal();
        } else {
            self.hand_over(w, batch);
        }
    }

    /// Nothing is left to hand out and a worker sits idle: asks the worker
    /// with the most work not started to give back the tail of it
    /// (pytest-xdist's worksteal), for the idle one. One steal at a time.
    pub(super) fn try_steal(&mut self) {
        if self.dispatch.steal.is_some() || self.interrupted.is_some() || self.end.is_some() {
            return;
        }
        let Some(scheduler) = self.dispatch.scheduler.as_ref() else {
            return;
        };
        if scheduler.is_stopped() || scheduler.pending() > 0 {
            return;
        }
        let Some(thief) = self
            .lifecycle
            .workers
            .indices()
            .find(|&t| self.lifecycle.workers[t].waits_for_work())
        else {
            return;
        };
        let mut best: Option<(WorkerId, Vec<TestIndex>)> = None;
        for (v, state) in self.lifecycle.workers.iter_enumerated() {
            if v == thief || state.phase != Stage::Ready || state.stop_sent {
                continue;
            }
            let unstarted: Vec<TestIndex> = state
                .queue
                .iter()
                .copied()
                .filter(|t| Some(*t) != state.running)
                .collect();
            let tail = scheduler.tail_for(thief, &unstarted);
            if tail.len() > best.as_ref().map_or(0, |(_, b)| b.len()) {
                best = Some((v, tail));
            }
        }
        let Some((victim, tail)) = best else {
            return;
        };
        self.debug(|| {
            format!(
                "taking back {} tests from {} for {}",
                tail.len(),
                self.lifecycle.workers[victim].name,
                self.lifecycle.workers[thief].name
            )
        });
        let tests: Vec<&str> = tail
            .iter()
            .map(|t| self.dispatch.tests[*t].id.as_str())
            .collect();
        let line = ToWorker::Unqueue { tests }.to_line();
        self.lifecycle.workers[victim].handle.send(line);
        self.dispatch.steal = Some((victim, thief));
    }

    /// The victim of a steal gave these tests back: they go to the thief if
    /// it still waits, else back to be handed out.
    pub(super) fn on_unqueued(&mut self, w: WorkerId, ids: &[String]) {
        let thief = match self.dispatch.steal {
            Some((victim, thief)) if victim == w => {
                self.dispatch.steal = None;
                Some(thief)
            }
            _ => None,
        };
        let given: Vec<TestIndex> = ids
            .iter()
            .filter_map(|id| self.held_by(w, id))
            .filter(|t| self.lifecycle.workers[w].running != Some(*t))
            .collect();
        self.lifecycle.workers[w]
            .queue
            .retain(|t| !given.contains(t));
        let Some(scheduler) = self.dispatch.scheduler.as_mut() else {
            return;
        };
        let (from, stopped) = (w, scheduler.is_stopped());
        let thief = thief.filter(|&t| self.lifecycle.workers[t].waits_for_work());
        match thief {
            Some(t) if !given.is_empty() && !stopped => {
                let batch = scheduler.transfer(from, t, &given);
                self.hand_over(t, batch);
            }
            _ => {
                scheduler.requeue(from, &given);
                self.push_work();
            }
        }
        self.maybe_finish();
        self.try_steal();
    }

    pub(super) fn hand_over(&mut self, w: WorkerId, mut batch: crate::scheduler::Batch) {
        batch.collect = self.with_neighbours(w, &batch.collect);
        self.debug(|| {
            let category = batch
                .tests
                .first()
                .map(|t| {
                    self.config
                        .category(self.dispatch.tests[*t].category)
                        .name
                        .as_str()
                })
                .unwrap_or("");
            format!(
                "{} gets {} {category} tests, collecting {} more files",
                self.lifecycle.workers[w].name,
                batch.tests.len(),
                batch.collect.len()
            )
        });
        let tests: Vec<&str> = batch
            .tests
            .iter()
            .map(|t| self.dispatch.tests[*t].id.as_str())
            .collect();
        let units: Vec<&str> = batch
            .collect
            .iter()
            .map(|u| self.collection.units[*u].arg.as_str())
            .collect();
        let category = batch
            .tests
            .first()
            .map_or(CategoryIndex::new(0), |t| self.dispatch.tests[*t].category);
        let env = &self.config.category(category).env;
        self.lifecycle.workers[w]
            .handle
            .send(ToWorker::Run { tests, units, env }.to_line());
        self.lifecycle.workers[w]
            .queue
            .extend(batch.tests.iter().copied());
        self.lifecycle.workers[w].waiting = false;
    }

    /// The files a worker must collect to take over `units`, with their
    /// earlier neighbours (see [`crate::plan::with_earlier_neighbours`]).
    fn with_neighbours(&mut self, w: WorkerId, units: &[UnitIndex]) -> Vec<UnitIndex> {
        // Most batches come from files the worker already holds.
        if units.is_empty() {
            return Vec::new();
        }
        let Some(scheduler) = self.dispatch.scheduler.as_mut() else {
            return units.to_vec();
        };
        let folders: IndexVec<UnitIndex, &str> = self
            .collection
            .units
            .iter()
            .map(|u| u.id.rsplit_once('/').map_or("", |(dir, _)| dir))
            .collect();
        let wanted = crate::plan::with_earlier_neighbours(&folders, units, |u| {
            scheduler.has_collected(w, u)
        });
        for &u in &wanted {
            scheduler.mark_collected(w, u);
        }
        // A file that hung at import is never imported again.
        let mut wanted = wanted;
        wanted.retain(|u| !self.collection.hung_units.contains(u));
        wanted
    }

    /// Gives work to every worker that waits for it, while the scheduler has some.
    pub(super) fn push_work(&mut self) {
        for w in self.lifecycle.workers.indices() {
            let state = &self.lifecycle.workers[w];
            // Only a worker with nothing in hand: one still running its last
            // test gets work when that test is done.
            if !state.waits_for_work() {
                continue;
            }
            let Some(scheduler) = self.dispatch.scheduler.as_mut() else {
                return;
            };
            if scheduler.is_stopped() {
                break;
            }
            let batch = scheduler.assign(w);
            if !batch.tests.is_empty() {
                self.hand_over(w, batch);
            }
        }
    }

    pub(super) fn on_done(
        &mut self,
        w: WorkerId,
        id: &str,
        reports: &[PhaseReport],
        cpu: Option<CpuTime>,
        touched: Option<&Touched>,
        reporter: &mut dyn Reporter,
    ) {
        // A result belongs to a test this worker holds, or to none: never
        // to another test, never counted twice.
        let Some(test) = self.held_by(w, id) else {
            self.debug(|| {
                format!(
                    "{} reported {id:?}, which it does not hold; ignored",
                    self.lifecycle.workers[w].name
                )
            });
            return;
        };
        let state = &mut self.lifecycle.workers[w];
        state.running = None;
        state.started_at = None;
        if let Some(pos) = state.queue.iter().position(|t| *t == test) {
            state.queue.remove(pos);
        }
        if let Some(scheduler) = self.dispatch.scheduler.as_mut() {
            scheduler.finished(w, test);
        }
        self.finish_test(w, test, reports, cpu, reporter);
        if let Some(cpu) = cpu {
            self.observe_cpu(self.dispatch.tests[test].category, cpu);
        }
        if let Some(touched) = touched {
            reporter.report(Event::TestTouched {
                id: &self.dispatch.tests[test].id,
                touched,
            });
        }
        self.push_work();
        self.maybe_finish();
        // A worker told `idle` while it still held tests is a thief now.
        self.try_steal();
    }

    /// `pytest.exit()` or `KeyboardInterrupt` in `w`'s test: as under pytest
    /// the run ends, nothing more starts, the tests running elsewhere
    /// finish, and the one that raised has no result (pytest reports none).
    pub(super) fn on_exit(
        &mut self,
        w: WorkerId,
        id: &str,
        message: String,
        returncode: Option<i32>,
        interrupt: bool,
    ) {
        if let Some(test) = self.held_by(w, id) {
            let state = &mut self.lifecycle.workers[w];
            if state.running == Some(test) {
                state.running = None;
                state.started_at = None;
            }
            if let Some(scheduler) = self.dispatch.scheduler.as_mut() {
                scheduler.finished(w, test);
            }
        }
        if interrupt {
            self.interrupted.get_or_insert(StopReason::Interrupted);
        } else {
            self.stopped.get_or_insert(StopReason::Exit {
                message,
                returncode,
            });
        }
        if let Some(scheduler) = self.dispatch.scheduler.as_mut() {
            scheduler.stop();
        }
        self.stop_all();
    }

    pub(super) fn finish_test(
        &mut self,
        w: WorkerId,
        test: TestIndex,
        reports: &[PhaseReport],
        cpu: Option<CpuTime>,
        reporter: &mut dyn Reporter,
    ) {
        if self.dispatch.tests[test].done {
            return;
        }
        self.dispatch.tests[test].done = true;
        self.dispatch
            .durations
            .push((test, reports.iter().map(|r| r.dur).sum()));
        if let Some(cpu) = cpu {
            self.dispatch.cpu_times.push((test, cpu));
        }
        for report in reports.iter().filter(|r| r.outcome.is_failed()) {
            let text = [
                report.msg.as_deref().unwrap_or(""),
                report.longrepr.as_deref().unwrap_or(""),
            ]
            .join("\n");
            self.dispatch.failed.push(FailedTest {
                id: self.dispatch.tests[test].id.clone(),
                category: self.dispatch.tests[test].category.index(),
                text,
            });
        }
        self.dispatch.finished += 1;
        if self.dispatch.panic_after == Some(self.dispatch.finished) {
            panic!(
                "deliberate panic after {} tests (PACER_INTERNAL_PANIC_AFTER)",
                self.dispatch.finished
            );
        }
        reporter.report(Event::TestFinished {
            id: &self.dispatch.tests[test].id,
            worker: &self.lifecycle.workers[w].name,
            reports,
            finished: self.dispatch.finished,
            total: self.dispatch.tests.len(),
            cpu,
        });
        self.count_failures(reports);
    }

    pub(super) fn count_failures(&mut self, reports: &[PhaseReport]) {
        self.dispatch.failures += reports
            .iter()
            .filter(|r| r.outcome.is_failed() && r.xfail.is_none())
            .count();
        if let Some(maxfail) = self.config.maxfail {
            if self.dispatch.failures >= maxfail && self.stopped.is_none() {
                self.stopped = Some(StopReason::MaxFail {
                    failures: self.dispatch.failures,
                });
                if let Some(scheduler) = self.dispatch.scheduler.as_mut() {
                    scheduler.stop();
                }
                for w in self.lifecycle.workers.indices() {
                    if self.lifecycle.workers[w].waiting
                        && self.lifecycle.workers[w].queue.is_empty()
                    {
                        self.stop_worker(w);
                    }
                }
            }
        }
    }

    /// The test `id` if worker `w` holds it (handed to it, not finished).
    pub(super) fn held_by(&self, w: WorkerId, id: &str) -> Option<TestIndex> {
        let test = *self.dispatch.index_by_id.get(id)?;
        self.lifecycle.workers[w]
            .queue
            .contains(&test)
            .then_some(test)
    }

    /// Ends the run once nothing is pending and no worker holds a test, or
    /// once work is pending that no worker can ever be given.
    pub(super) fn maybe_finish(&mut self) {
        let Some(scheduler) = &self.dispatch.scheduler else {
            return;
        };
        let idle = self
            .lifecycle
            .workers
            .iter()
            .all(|w| w.queue.is_empty() || w.phase == Stage::Gone);
        if idle && (scheduler.pending() == 0 || scheduler.is_stopped()) {
            self.stop_all();
            return;
        }
        if idle && scheduler.nobody_holds_anything() && self.nobody_coming() {
            // One more offer to every waiting worker; if none of them gets
            // anything, none ever will: say so and end, never hang.
            self.push_work();
            if self.lifecycle.workers.iter().all(|w| w.queue.is_empty()) {
                self.end_stuck();
            }
        }
    }

    fn nobody_coming(&self) -> bool {
        nobody_coming(
            self.lifecycle.forks_wanted,
            self.lifecycle
                .workers
                .iter()
                .map(|w| (w.phase, w.waiting, w.stop_sent)),
        )
    }

    fn end_stuck(&mut self) {
        let Some(scheduler) = self.dispatch.scheduler.as_mut() else {
            return;
        };
        let pending = scheduler.pending_tests();
        scheduler.stop();
        const SHOWN: usize = 10;
        let names: Vec<&str> = pending
            .iter()
            .take(SHOWN)
            .map(|t| self.dispatch.tests[*t].id.as_str())
            .collect();
        let more = pending.len().saturating_sub(SHOWN);
        let more = if more > 0 {
            format!("\n  ... and {more} more")
        } else {
            String::new()
        };
        let message = format!(
            "internal error: the scheduler cannot hand out {} pending test{} and no worker holds any; stopping instead of waiting for ever (please report this):\n  {}{more}",
            pending.len(),
            if pending.len() == 1 { "" } else { "s" },
            names.join("\n  ")
        );
        self.stopped.get_or_insert(StopReason::Stuck {
            pending: pending.len(),
        });
        // Reported by `main`, which holds the reporter.
        self.dispatch.stuck_message = Some(message);
        self.stop_all();
    }

    pub(super) fn summary(&self) -> Summary {
        let not_run = self.dispatch.tests.iter().filter(|t| !t.done).count();
        let exit_code = exit_code(&Ending {
            internal: self.dispatch.stuck_message.is_some()
                || matches!(self.stopped, Some(StopReason::Internal { .. })),
            requested: match &self.stopped {
                Some(StopReason::Exit { returncode, .. }) => {
                    Some(returncode.unwrap_or(exit::INTERRUPTED))
                }
                _ => None,
            },
            // pytest stops at a collection error (2); pacer runs the rest
            // past a file hung at import, and keeps pytest's exit code.
            interrupted: self.interrupted.is_some()
                || (self.collection.collect_timeouts > 0
                    && !self.config.continue_on_collection_errors),
            failed: self.dispatch.failures > 0
                || self
                    .collection
                    .problems
                    .iter()
                    .any(|p| p.outcome == Outcome::Failed),
            nothing_collected: self.dispatch.tests.is_empty() && !self.config.list_only,
        });
        Summary {
            elapsed: self.start.elapsed(),
            exit_code,
            stopped: self.stopped.clone(),
            interrupted: self.interrupted.clone(),
            not_run,
            deselected: self.collection.deselected,
            durations: self
                .dispatch
                .durations
                .iter()
                .map(|(t, d)| (self.dispatch.tests[*t].id.clone(), *d))
                .collect(),
            cpu_times: self
                .dispatch
                .cpu_times
                .iter()
                .map(|(t, c)| {
                    let test = &self.dispatch.tests[*t];
                    let category = self.config.category(test.category).name.clone();
                    (test.id.clone(), category, *c)
                })
                .collect(),
            failed: self.dispatch.failed.clone(),
        }
    }
}

/// What decides a finished run's exit code.
#[derive(Debug, Default, Clone, Copy)]
struct Ending {
    /// Work was pending that no worker could be given, or pacer failed.
    internal: bool,
    /// `pytest.exit(returncode=...)`.
    requested: Option<i32>,
    interrupted: bool,
    /// A test or a collection failed.
    failed: bool,
    nothing_collected: bool,
}

/// pytest's exit code for a run that ended so, the first that applies.
fn exit_code(ending: &Ending) -> i32 {
    if ending.internal {
        exit::INTERNAL_ERROR
    } else if let Some(code) = ending.requested {
        code
    } else if ending.interrupted {
        exit::INTERRUPTED
    } else if ending.failed {
        exit::TESTS_FAILED
    } else if ending.nothing_collected {
        exit::NO_TESTS_COLLECTED
    } else {
        exit::OK
    }
}

/// No worker is starting, collecting or about to ask for work, and at least
/// one is ready and was offered what there is: `(phase, waiting, stop_sent)`
/// per worker. With work pending that nobody holds, nothing will change.
fn nobody_coming(
    forks_wanted: usize,
    workers: impl Iterator<Item = (Stage, bool, bool)> + Clone,
) -> bool {
    forks_wanted == 0
        && workers
            .clone()
            .all(|(phase, waiting, stop_sent)| match phase {
                Stage::Zygote | Stage::Gone => true,
                Stage::Ready => waiting || stop_sent,
                Stage::Starting | Stage::Discovering | Stage::Collecting => false,
            })
        && workers
            .into_iter()
            .any(|(phase, _, stop_sent)| phase == Stage::Ready && !stop_sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_runs_exit_code_is_the_first_that_applies() {
        let ok = Ending::default();
        assert_eq!(exit_code(&ok), exit::OK);
        assert_eq!(
            exit_code(&Ending {
                nothing_collected: true,
                ..ok
            }),
            exit::NO_TESTS_COLLECTED
        );
        let failed = Ending { failed: true, ..ok };
        assert_eq!(exit_code(&failed), exit::TESTS_FAILED);
        let interrupted = Ending {
            interrupted: true,
            ..failed
        };
        assert_eq!(exit_code(&interrupted), exit::INTERRUPTED);
        assert_eq!(
            exit_code(&Ending {
                internal: true,
                ..interrupted
            }),
            exit::INTERNAL_ERROR
        );
    }

    #[test]
    fn a_run_is_stuck_only_when_no_worker_can_still_ask() {
        let ready_waiting = (Stage::Ready, true, false);
        assert!(nobody_coming(
            0,
            [ready_waiting, (Stage::Zygote, true, false)].into_iter()
        ));
        assert!(nobody_coming(
            0,
            [ready_waiting, (Stage::Gone, false, true)].into_iter()
        ));
        // Someone may still ask: not stuck (yet).
        assert!(
            !nobody_coming(1, [ready_waiting].into_iter()),
            "a fork is on its way"
        );
        for coming in [Stage::Starting, Stage::Discovering, Stage::Collecting] {
            assert!(!nobody_coming(
                0,
                [ready_waiting, (coming, true, false)].into_iter()
            ));
        }
        assert!(
            !nobody_coming(0, [ready_waiting, (Stage::Ready, false, false)].into_iter()),
            "a worker between a hand-over and its next `need`"
        );
        // No live worker at all is the end of the run, not a stuck scheduler.
        assert!(!nobody_coming(0, [(Stage::Gone, true, false)].into_iter()));
        assert!(!nobody_coming(0, [(Stage::Ready, true, true)].into_iter()));
    }
}
