//! The run: a pool of pytest workers fed by the scheduler.
//!
//! One task owns all state and reacts to [`Input`]s from the workers, Ctrl-C
//! and timers; no lock is shared. Phases: the first worker to answer lists
//! the files (discovery, no imports); the files are shared out so that every
//! worker collects only its part; then workers ask for tests as they run low
//! and the scheduler answers within each category's cap.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Instant;

use tokio::sync::mpsc;

use crate::events::{Event, FailedTest, PlannedTest, Reporter, Stream, Summary};
use crate::protocol::{
    CollectProblem, DiscoveredUnit, FromWorker, Hello, PhaseReport, ToWorker, PROTOCOL,
};
use crate::scheduler::{CategorySlots, Scheduler};
use crate::worker::{self, Handle, Input, Launch};

/// pytest's exit codes, which pacer keeps.
pub mod exit {
    pub const OK: i32 = 0;
    pub const TESTS_FAILED: i32 = 1;
    pub const INTERRUPTED: i32 = 2;
    pub const INTERNAL_ERROR: i32 = 3;
    pub const USAGE_ERROR: i32 = 4;
    pub const NO_TESTS_COLLECTED: i32 = 5;
}

/// A category as the pool needs it: its slots and how tests are sorted in.
#[derive(Debug, Clone)]
pub struct CategorySpec {
    pub name: String,
    pub slots: CategorySlots,
    pub rate_limited: bool,
    /// Chosen by the category flags; the tests of other categories are deselected.
    pub selected: bool,
    /// Set in the worker's environment while it runs this category's tests
    /// (`PYTEST_CURRENT_CATEGORY`, `PYTEST_RATE_LIMITED`, upstream URLs).
    pub env: Vec<(String, String)>,
}

/// Puts a collected test (node id, marker names) in a category (an index into `categories`).
pub type Classifier = Box<dyn Fn(&str, &[String]) -> usize + Send>;

pub struct RunConfig {
    pub launch: Launch,
    /// Where the plugin lives (`PYTHONPATH`).
    pub plugin_dir: PathBuf,
    /// Workers for cpu-bound tests (the cores, `-n`).
    pub workers: usize,
    pub categories: Vec<CategorySpec>,
    pub classify: Classifier,
    pub maxfail: Option<usize>,
    /// `-s`: show worker output live, line by line.
    pub live_output: bool,
    pub max_worker_restart: usize,
    pub continue_on_collection_errors: bool,
    /// Recorded durations by node id, for heaviest-first.
    pub durations: HashMap<String, f64>,
    /// Log scheduling decisions to stderr (`--debug`, `PYTEST_DEBUG`).
    pub debug: bool,
    /// Collect, report the plan, run nothing (`pacer list`).
    pub list_only: bool,
    /// A test running longer is failed and its worker replaced (SIGTERM,
    /// then SIGKILL after a grace period).
    pub timeout: Option<std::time::Duration>,
}

/// How long a timed-out worker gets between SIGTERM and SIGKILL.
const KILL_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// How the run ended, for the binary.
#[derive(Debug)]
pub enum RunEnd {
    Finished(Summary),
    /// The parallel run could not start or could not go on; run sequentially.
    Fallback {
        reason: String,
    },
    /// pacer could not even start a worker (exit code and message).
    Failed {
        code: i32,
        message: String,
    },
}

#[derive(Debug)]
struct TestRecord {
    id: String,
    category: usize,
    done: bool,
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Phase {
    /// Forks workers on request; runs no test.
    Zygote,
    Starting,
    Discovering,
    Collecting,
    Ready,
    Gone,
}

struct WorkerState {
    name: String,
    handle: Handle,
    sched: usize,
    phase: Phase,
    /// Handed out and not finished, in the order the worker runs them.
    queue: VecDeque<usize>,
    running: Option<usize>,
    /// We answered `idle` (or it never asked): push work when some appears.
    waiting: bool,
    streams_open: u8,
    exit: Option<ExitStatus>,
    capture_dir: PathBuf,
    recent: VecDeque<String>,
    stop_sent: bool,
    started_at: Option<Instant>,
    /// Set when its test ran past the timeout: when to send SIGKILL.
    killing: Option<Instant>,
}

const RECENT_LINES: usize = 200;

pub async fn run(config: RunConfig, reporter: &mut dyn Reporter) -> RunEnd {
    let mut pool = match Pool::new(config) {
        Ok(pool) => pool,
        Err(message) => {
            return RunEnd::Failed {
                code: exit::INTERNAL_ERROR,
                message,
            }
        }
    };
    pool.main(reporter).await
}

struct Pool {
    config: RunConfig,
    start: Instant,
    inputs_tx: mpsc::UnboundedSender<Input>,
    inputs: mpsc::UnboundedReceiver<Input>,
    run_dir: tempfile::TempDir,
    uid: String,
    workers: Vec<WorkerState>,
    next_name: usize,
    restarts: usize,
    hello: Option<Hello>,
    units: Vec<DiscoveredUnit>,
    unit_by_path: HashMap<String, usize>,
    plan: Vec<Vec<usize>>,
    collected_from: usize,
    collected_items: Vec<(String, Vec<String>, usize)>,
    problems: Vec<CollectProblem>,
    deselected: usize,
    scheduler: Option<Scheduler>,
    tests: Vec<TestRecord>,
    index_by_id: HashMap<String, usize>,
    finished: usize,
    failures: usize,
    stopped: Option<String>,
    interrupted: Option<String>,
    end: Option<RunEnd>,
    durations: Vec<(usize, f64)>,
    failed: Vec<FailedTest>,
    /// Workers forked from a zygote report their exit to us (Linux).
    subreaper: bool,
    zygote: Option<usize>,
    zygote_ready: bool,
    forks_wanted: usize,
}

impl Pool {
    fn new(config: RunConfig) -> Result<Self, String> {
        let (inputs_tx, inputs) = mpsc::unbounded_channel();
        let run_dir = tempfile::Builder::new()
            .prefix("pacer-run-")
            .tempdir()
            .map_err(|e| format!("failed to create a run folder: {e}"))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let uid = format!("{:016x}{:08x}", nanos as u64, std::process::id());
        Ok(Pool {
            config,
            start: Instant::now(),
            inputs_tx,
            inputs,
            run_dir,
            uid,
            workers: Vec::new(),
            next_name: 0,
            restarts: 0,
            hello: None,
            units: Vec::new(),
            unit_by_path: HashMap::new(),
            plan: Vec::new(),
            collected_from: 0,
            collected_items: Vec::new(),
            problems: Vec::new(),
            deselected: 0,
            scheduler: None,
            tests: Vec::new(),
            index_by_id: HashMap::new(),
            finished: 0,
            failures: 0,
            stopped: None,
            interrupted: None,
            end: None,
            durations: Vec::new(),
            failed: Vec::new(),
            subreaper: worker::become_subreaper(),
            zygote: None,
            zygote_ready: false,
            forks_wanted: 0,
        })
    }

    async fn main(&mut self, reporter: &mut dyn Reporter) -> RunEnd {
        for _ in 0..self.config.workers.max(1) {
            if let Err(message) = self.spawn_worker() {
                self.shutdown_all(libc::SIGKILL);
                return RunEnd::Failed {
                    code: exit::INTERNAL_ERROR,
                    message,
                };
            }
        }
        let mut interrupts = 0;
        let tick = std::time::Duration::from_millis(200);
        loop {
            if self.end.is_some() || self.all_gone() {
                break;
            }
            tokio::select! {
                input = self.inputs.recv() => {
                    let Some(input) = input else { break };
                    self.handle(input, reporter);
                }
                _ = tokio::signal::ctrl_c() => {
                    interrupts += 1;
                    self.interrupt(reporter, interrupts);
                }
                _ = tokio::time::sleep(tick), if self.config.timeout.is_some() => self.enforce_timeout(reporter),
            }
        }
        if let Some(end) = self.end.take() {
            if !matches!(end, RunEnd::Finished(_)) {
                self.shutdown_all(libc::SIGKILL);
                return end;
            }
        }
        let summary = self.summary();
        reporter.report(Event::Finished { summary: &summary });
        RunEnd::Finished(summary)
    }

    fn all_gone(&self) -> bool {
        !self.workers.is_empty() && self.workers.iter().all(|w| w.phase == Phase::Gone)
    }

    fn worker_env(&self, name: &str) -> Vec<(String, String)> {
        let mut python_path = self.config.plugin_dir.display().to_string();
        if let Some(existing) = std::env::var_os("PYTHONPATH").filter(|p| !p.is_empty()) {
            python_path = format!("{python_path}:{}", existing.to_string_lossy());
        }
        vec![
            ("PYTHONPATH".to_string(), python_path),
            ("PYTHONUNBUFFERED".into(), "1".into()),
            ("PACER_WORKER_ID".into(), name.to_string()),
            ("PYTEST_XDIST_WORKER".into(), name.to_string()),
            (
                "PYTEST_XDIST_WORKER_COUNT".into(),
                self.config.workers.max(1).to_string(),
            ),
            ("PYTEST_XDIST_TESTRUNUID".into(), self.uid.clone()),
            (
                "PACER_CAPTURE_DIR".into(),
                self.run_dir.path().join(name).display().to_string(),
            ),
        ]
    }

    fn push_state(&mut self, name: String, handle: Handle, phase: Phase) -> usize {
        let sched = self
            .scheduler
            .as_mut()
            .map(|s| s.add_worker())
            .unwrap_or(self.workers.len());
        let capture_dir = self.run_dir.path().join(&name);
        self.workers.push(WorkerState {
            name,
            handle,
            sched,
            phase,
            queue: VecDeque::new(),
            running: None,
            waiting: true,
            streams_open: 3,
            exit: None,
            capture_dir,
            recent: VecDeque::new(),
            stop_sent: false,
            started_at: None,
            killing: None,
        });
        self.workers.len() - 1
    }

    /// Starts a worker as a new `python -m pytest` process.
    fn spawn_worker(&mut self) -> Result<usize, String> {
        let index = self.workers.len();
        let name = format!("gw{}", self.next_name);
        self.next_name += 1;
        let env = self.worker_env(&name);
        let handle =
            worker::spawn(index, &self.config.launch, &env, &self.inputs_tx).map_err(|e| {
                format!(
                    "failed to start `{} -m pytest`: {e}",
                    self.config.launch.python.display()
                )
            })?;
        Ok(self.push_state(name, handle, Phase::Starting))
    }

    /// Adds a worker once the run is under way: forked from the zygote when
    /// the platform allows (milliseconds instead of a pytest start-up),
    /// else spawned.
    fn add_worker(&mut self) -> Result<(), String> {
        if !self.subreaper {
            return self.spawn_worker().map(|_| ());
        }
        match self.zygote {
            Some(z) if self.workers[z].phase == Phase::Gone => self.spawn_worker().map(|_| ()),
            Some(_) if self.zygote_ready => self.fork_worker(),
            Some(_) => {
                self.forks_wanted += 1;
                Ok(())
            }
            None => {
                let index = self.workers.len();
                let mut env = self.worker_env("zygote");
                env.push(("PACER_ZYGOTE".into(), "1".into()));
                let handle = worker::spawn(index, &self.config.launch, &env, &self.inputs_tx)
                    .map_err(|e| format!("failed to start the zygote: {e}"))?;
                self.push_state("zygote".into(), handle, Phase::Zygote);
                self.zygote = Some(index);
                self.forks_wanted += 1;
                Ok(())
            }
        }
    }

    fn fork_worker(&mut self) -> Result<(), String> {
        let Some(z) = self.zygote else {
            return self.spawn_worker().map(|_| ());
        };
        let index = self.workers.len();
        let name = format!("gw{}", self.next_name);
        self.next_name += 1;
        let env = self.worker_env(&name);
        match worker::fork(index, &self.workers[z].handle, &name, &env, &self.inputs_tx) {
            Ok(handle) => {
                self.push_state(name, handle, Phase::Starting);
                Ok(())
            }
            Err(e) => {
                self.debug(|| format!("fork through the zygote failed ({e}); spawning instead"));
                self.spawn_worker().map(|_| ())
            }
        }
    }

    fn debug(&self, what: impl FnOnce() -> String) {
        if self.config.debug {
            eprintln!(
                "pacer debug {:>8.3}s {}",
                self.start.elapsed().as_secs_f64(),
                what()
            );
        }
    }

    fn send(&self, worker: usize, message: &ToWorker<'_>) {
        self.workers[worker].handle.send(message.to_line());
    }

    fn handle(&mut self, input: Input, reporter: &mut dyn Reporter) {
        if self.config.debug {
            match &input {
                Input::Message(w, FromWorker::Start { .. } | FromWorker::Done { .. })
                | Input::Output(w, ..) => {
                    let _ = w;
                }
                Input::Message(w, m) => {
                    let text = format!("{m:?}");
                    let text: String = text.chars().take(160).collect();
                    self.debug(|| format!("{} says {text}", self.workers[*w].name));
                }
                other => self.debug(|| format!("{other:?}")),
            }
        }
        match input {
            Input::Message(w, message) => self.on_message(w, message, reporter),
            Input::BadMessage(w, text) => {
                let name = self.workers[w].name.clone();
                self.end = Some(RunEnd::Failed {
                    code: exit::INTERNAL_ERROR,
                    message: format!("worker {name} sent a message pacer cannot read: {text}"),
                });
            }
            Input::Output(w, stream, line) => {
                let state = &mut self.workers[w];
                if self.config.live_output && state.phase != Phase::Starting {
                    reporter.report(Event::Output {
                        worker: &state.name,
                        stream,
                        line: &line,
                    });
                } else if stream == Stream::Stderr || self.config.live_output {
                    // Before the worker is up, its output is the only clue to what went wrong.
                }
                if state.recent.len() == RECENT_LINES {
                    state.recent.pop_front();
                }
                state.recent.push_back(line);
            }
            Input::Closed(w) => {
                let state = &mut self.workers[w];
                state.streams_open = state.streams_open.saturating_sub(1);
                // A forked worker whose pid never arrived cannot be waited for:
                // its closed streams are all the news there will be.
                if state.streams_open == 0 && (state.exit.is_some() || state.handle.pid == 0) {
                    self.on_death(w, reporter);
                }
            }
            Input::Exited(w, status) => {
                self.workers[w].exit = Some(status);
                if self.workers[w].streams_open == 0 {
                    self.on_death(w, reporter);
                }
            }
            Input::Deadline(w) => {
                if self.workers[w].phase != Phase::Gone {
                    self.on_death(w, reporter);
                }
            }
        }
    }

    fn on_message(&mut self, w: usize, message: FromWorker, reporter: &mut dyn Reporter) {
        match message {
            FromWorker::Hello(hello) => self.on_hello(w, hello, reporter),
            FromWorker::Discovered { units } => self.on_discovered(units),
            FromWorker::UsageError { message } => {
                self.end = Some(RunEnd::Failed {
                    code: exit::USAGE_ERROR,
                    message: format!("ERROR: {message}"),
                });
            }
            FromWorker::Collected {
                items,
                problems,
                deselected,
            } => {
                self.on_collected(w, items, problems, deselected, reporter);
            }
            FromWorker::Start { id } => {
                if let Some(&test) = self.index_by_id.get(&id) {
                    self.workers[w].running = Some(test);
                    self.workers[w].started_at = Some(Instant::now());
                    reporter.report(Event::TestStarted {
                        id: &id,
                        worker: &self.workers[w].name,
                    });
                }
            }
            FromWorker::Done { id, reports } => self.on_done(w, &id, &reports, reporter),
            FromWorker::Late { id, reports } => {
                self.count_failures(&reports);
                reporter.report(Event::TestAmended {
                    id: &id,
                    worker: &self.workers[w].name,
                    reports: &reports,
                });
            }
            FromWorker::Need => self.on_need(w),
            FromWorker::Missing { ids } => {
                self.end = Some(RunEnd::Fallback {
                    reason: format!(
                        "collections differ between workers: {} could not find {}",
                        self.workers[w].name,
                        ids.first().map(String::as_str).unwrap_or("a test")
                    ),
                });
            }
            FromWorker::Warning { id, message, .. } => reporter.report(Event::Warning {
                id: &id,
                message: &message,
            }),
            FromWorker::HelloZygote { pid } => {
                self.workers[w].handle.set_pid(pid);
                self.zygote_ready = true;
                let wanted = std::mem::take(&mut self.forks_wanted);
                let pending = self
                    .scheduler
                    .as_ref()
                    .is_some_and(|s| s.pending() > 0 && !s.is_stopped());
                if self.workers[w].stop_sent || !pending {
                    return;
                }
                for _ in 0..wanted {
                    if let Err(message) = self.fork_worker() {
                        let message = format!("failed to add a worker: {message}");
                        reporter.report(Event::Notice { message: &message });
                    }
                }
            }
            FromWorker::Forked { worker: name, pid } => {
                if let Some(index) = self.workers.iter().position(|s| s.name == name) {
                    self.workers[index].handle.set_pid(pid);
                    worker::watch(index, pid, &self.inputs_tx);
                }
            }
            FromWorker::Bye => {}
        }
    }

    fn on_hello(&mut self, w: usize, hello: Hello, reporter: &mut dyn Reporter) {
        if hello.protocol != PROTOCOL {
            self.end = Some(RunEnd::Failed {
                code: exit::INTERNAL_ERROR,
                message: format!("worker plugin speaks protocol {} but pacer speaks {PROTOCOL}; remove the cache folder {}", hello.protocol, self.config.plugin_dir.display()),
            });
            return;
        }
        if self.hello.is_none() {
            reporter.report(Event::Started {
                hello: &hello,
                workers: self.config.workers.max(1),
            });
            self.hello = Some(hello);
            self.workers[w].phase = Phase::Discovering;
            self.send(w, &ToWorker::Discover);
            return;
        }
        if self.scheduler.is_some() {
            // A replacement or an extra io worker: it collects on demand.
            self.workers[w].phase = Phase::Ready;
            self.workers[w].waiting = true;
            self.push_work();
        } else if !self.plan.is_empty() {
            self.start_collect(w);
        } else {
            self.workers[w].phase = Phase::Ready;
        }
    }

    fn on_discovered(&mut self, units: Vec<DiscoveredUnit>) {
        self.units = units;
        for (index, unit) in self.units.iter().enumerate() {
            self.unit_by_path.entry(unit.arg.clone()).or_insert(index);
            self.unit_by_path.entry(unit.id.clone()).or_insert(index);
        }
        // Longest processing time first over the workers that exist: each
        // collects about the same number of bytes.
        let shares = self.workers.len().max(1);
        let mut order: Vec<usize> = (0..self.units.len()).collect();
        order.sort_by_key(|u| std::cmp::Reverse(self.units[*u].size.max(1)));
        let mut load = vec![0u64; shares];
        self.plan = vec![Vec::new(); shares];
        for unit in order {
            let lightest = (0..shares).min_by_key(|s| load[*s]).unwrap_or(0);
            load[lightest] += self.units[unit].size.max(1);
            self.plan[lightest].push(unit);
        }
        for plan in &mut self.plan {
            plan.sort_unstable();
        }
        for w in 0..self.workers.len() {
            if matches!(self.workers[w].phase, Phase::Discovering | Phase::Ready) {
                self.start_collect(w);
            }
        }
    }

    fn start_collect(&mut self, w: usize) {
        self.workers[w].phase = Phase::Collecting;
        let args: Vec<String> = self
            .plan
            .get(w)
            .into_iter()
            .flatten()
            .map(|u| self.units[*u].arg.clone())
            .collect();
        self.send(w, &ToWorker::Collect { units: &args });
    }

    fn on_collected(
        &mut self,
        w: usize,
        items: Vec<(String, Vec<String>)>,
        problems: Vec<CollectProblem>,
        deselected: usize,
        reporter: &mut dyn Reporter,
    ) {
        self.workers[w].phase = Phase::Ready;
        self.workers[w].waiting = true;
        self.collected_from += 1;
        self.deselected += deselected;
        self.problems.extend(problems);
        for (id, markers) in items {
            let file = id.split("::").next().unwrap_or(&id);
            let unit = self
                .unit_by_path
                .get(file)
                .or_else(|| self.unit_by_path.get(&id))
                .copied()
                .unwrap_or(usize::MAX);
            self.collected_items.push((id, markers, unit));
        }
        let expected = self.plan.len().min(
            self.workers
                .iter()
                .filter(|w| w.phase != Phase::Zygote)
                .count(),
        );
        if self.collected_from < expected {
            return;
        }
        self.seal(reporter);
    }

    fn seal(&mut self, reporter: &mut dyn Reporter) {
        // Tests whose file is not a known unit (a plugin's own files) become units of their own.
        let mut items = std::mem::take(&mut self.collected_items);
        items.sort_by_key(|(_, _, unit)| *unit);
        for (id, _, unit) in items.iter_mut() {
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
        let categories: Vec<CategorySlots> = self
            .config
            .categories
            .iter()
            .map(|c| c.slots.clone())
            .collect();
        let mut scheduler = Scheduler::new(
            self.config.workers,
            categories,
            self.units.len(),
            self.config.maxfail.is_some(),
        );
        let mut planned = Vec::with_capacity(items.len());
        let mut per_category = vec![0usize; self.config.categories.len()];
        for (id, markers, unit) in items {
            let category = (self.config.classify)(&id, &markers);
            per_category[category] += 1;
            let selected = self.config.categories[category].selected;
            planned.push(PlannedTest {
                id: id.clone(),
                category,
                selected,
            });
            if !selected || self.config.list_only {
                if !selected {
                    self.deselected += 1;
                }
                continue;
            }
            let weight = self.config.durations.get(&id).copied().unwrap_or(1.0);
            let index = scheduler.add_test(unit, category, weight);
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
            for unit in self.plan.get(w).into_iter().flatten() {
                scheduler.mark_collected(state.sched, *unit);
            }
        }
        self.scheduler = Some(scheduler);
        reporter.report(Event::Planned {
            tests: &planned,
            categories: &self.config.categories,
        });
        let only_some = self.config.categories.iter().any(|c| !c.selected);
        for (index, category) in self.config.categories.iter().enumerate() {
            if only_some && category.selected && per_category[index] == 0 {
                let message = format!("category `{}` selects no tests", category.name);
                reporter.report(Event::Notice { message: &message });
            }
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
            .filter(|p| p.outcome == "failed")
            .count();
        if errors > 0 && !self.config.continue_on_collection_errors {
            self.interrupted = Some(format!(
                "{errors} error{} during collection",
                if errors == 1 { "" } else { "s" }
            ));
            self.stop_all();
            return;
        }
        self.spawn_io_workers();
        self.push_work();
        self.maybe_finish();
    }

    /// `io` categories may run beyond the cpu workers, up to their caps.
    fn spawn_io_workers(&mut self) {
        let Some(scheduler) = &self.scheduler else {
            return;
        };
        let io: usize = self
            .config
            .categories
            .iter()
            .enumerate()
            .filter(|(_, c)| c.slots.kind == crate::scheduler::Kind::Io)
            .map(|(i, c)| c.slots.cap.min(scheduler.pending_in(i)))
            .sum();
        let total = self
            .config
            .workers
            .max(1)
            .max(io.min(self.config.workers.max(1) + io));
        let running = self
            .workers
            .iter()
            .filter(|w| w.phase != Phase::Zygote)
            .count();
        for _ in 0..total.saturating_sub(running) {
            if self.add_worker().is_err() {
                break;
            }
        }
    }

    fn on_need(&mut self, w: usize) {
        let Some(scheduler) = self.scheduler.as_mut() else {
            return;
        };
        if scheduler.is_stopped() {
            self.stop_worker(w);
            return;
        }
        let batch = scheduler.assign(self.workers[w].sched);
        if batch.tests.is_empty() {
            self.workers[w].waiting = true;
            self.send(w, &ToWorker::Idle);
            self.maybe_finish();
        } else {
            self.hand_over(w, batch);
        }
    }

    fn hand_over(&mut self, w: usize, batch: crate::scheduler::Batch) {
        self.debug(|| {
            let category = batch
                .tests
                .first()
                .map(|t| {
                    self.config.categories[self.tests[*t].category]
                        .name
                        .as_str()
                })
                .unwrap_or("");
            format!(
                "{} gets {} {category} tests, collecting {} more files",
                self.workers[w].name,
                batch.tests.len(),
                batch.collect.len()
            )
        });
        let tests: Vec<&str> = batch
            .tests
            .iter()
            .map(|t| self.tests[*t].id.as_str())
            .collect();
        let units: Vec<&str> = batch
            .collect
            .iter()
            .map(|u| self.units[*u].arg.as_str())
            .collect();
        let category = batch.tests.first().map_or(0, |t| self.tests[*t].category);
        let env = &self.config.categories[category].env;
        self.workers[w]
            .handle
            .send(ToWorker::Run { tests, units, env }.to_line());
        self.workers[w].queue.extend(batch.tests.iter().copied());
        self.workers[w].waiting = false;
    }

    /// Gives work to every worker that waits for it, while the scheduler has some.
    fn push_work(&mut self) {
        for w in 0..self.workers.len() {
            let state = &self.workers[w];
            if state.phase != Phase::Ready || !state.waiting || state.stop_sent {
                continue;
            }
            let Some(scheduler) = self.scheduler.as_mut() else {
                return;
            };
            if scheduler.is_stopped() {
                break;
            }
            let batch = scheduler.assign(state.sched);
            if !batch.tests.is_empty() {
                self.hand_over(w, batch);
            }
        }
    }

    fn on_done(
        &mut self,
        w: usize,
        id: &str,
        reports: &[PhaseReport],
        reporter: &mut dyn Reporter,
    ) {
        let Some(&test) = self.index_by_id.get(id) else {
            return;
        };
        let state = &mut self.workers[w];
        state.running = None;
        state.started_at = None;
        if let Some(pos) = state.queue.iter().position(|t| *t == test) {
            state.queue.remove(pos);
        }
        if let Some(scheduler) = self.scheduler.as_mut() {
            scheduler.finished(self.workers[w].sched, test);
        }
        self.finish_test(w, test, reports, reporter);
        self.push_work();
        self.maybe_finish();
    }

    fn finish_test(
        &mut self,
        w: usize,
        test: usize,
        reports: &[PhaseReport],
        reporter: &mut dyn Reporter,
    ) {
        self.tests[test].done = true;
        self.durations
            .push((test, reports.iter().map(|r| r.dur).sum()));
        for report in reports.iter().filter(|r| r.outcome == "failed") {
            let text = [
                report.msg.as_deref().unwrap_or(""),
                report.longrepr.as_deref().unwrap_or(""),
            ]
            .join("\n");
            self.failed.push(FailedTest {
                id: self.tests[test].id.clone(),
                category: self.tests[test].category,
                text,
            });
        }
        self.finished += 1;
        reporter.report(Event::TestFinished {
            id: &self.tests[test].id,
            worker: &self.workers[w].name,
            reports,
            finished: self.finished,
            total: self.tests.len(),
        });
        self.count_failures(reports);
    }

    fn count_failures(&mut self, reports: &[PhaseReport]) {
        self.failures += reports
            .iter()
            .filter(|r| r.outcome == "failed" && r.xfail.is_none())
            .count();
        if let Some(maxfail) = self.config.maxfail {
            if self.failures >= maxfail && self.stopped.is_none() {
                self.stopped = Some(format!("stopping after {} failures", self.failures));
                if let Some(scheduler) = self.scheduler.as_mut() {
                    scheduler.stop();
                }
                for w in 0..self.workers.len() {
                    if self.workers[w].waiting && self.workers[w].queue.is_empty() {
                        self.stop_worker(w);
                    }
                }
            }
        }
    }

    /// Ends the run once nothing is pending and no worker holds a test.
    fn maybe_finish(&mut self) {
        let Some(scheduler) = &self.scheduler else {
            return;
        };
        let idle = self
            .workers
            .iter()
            .all(|w| w.queue.is_empty() || w.phase == Phase::Gone);
        if idle && (scheduler.pending() == 0 || scheduler.is_stopped()) {
            self.stop_all();
        }
    }

    fn stop_worker(&mut self, w: usize) {
        let state = &mut self.workers[w];
        if state.stop_sent || state.phase == Phase::Gone {
            return;
        }
        state.stop_sent = true;
        // Tests it held but will not start now are not run.
        let dropped: Vec<usize> = state.queue.drain(..).collect();
        if let Some(scheduler) = self.scheduler.as_mut() {
            for test in dropped {
                scheduler.finished(self.workers[w].sched, test);
            }
        }
        self.send(w, &ToWorker::Stop);
    }

    fn stop_all(&mut self) {
        for w in 0..self.workers.len() {
            self.stop_worker(w);
        }
    }

    fn on_death(&mut self, w: usize, reporter: &mut dyn Reporter) {
        if self.workers[w].phase == Phase::Gone {
            return;
        }
        let phase = self.workers[w].phase;
        self.workers[w].phase = Phase::Gone;
        self.debug(|| {
            let tail: Vec<&str> = self.workers[w]
                .recent
                .iter()
                .rev()
                .take(15)
                .rev()
                .map(String::as_str)
                .collect();
            format!(
                "{} is gone; its last output:\n    {}",
                self.workers[w].name,
                tail.join("\n    ")
            )
        });
        if phase == Phase::Zygote {
            // Whatever it was to fork is spawned the slow way.
            for _ in 0..std::mem::take(&mut self.forks_wanted) {
                if self.spawn_worker().is_err() {
                    break;
                }
            }
            return;
        }
        let status = self.workers[w]
            .exit
            .map(|s| worker::describe_exit(&s))
            .unwrap_or_else(|| "unknown status".into());
        if self.workers[w].stop_sent && self.workers[w].running.is_none() {
            return;
        }
        let name = self.workers[w].name.clone();
        if self.scheduler.is_none() || (phase != Phase::Ready && self.hello.is_none()) {
            self.on_startup_death(w, phase, &status);
            return;
        }
        if let Some(test) = self.workers[w].running.take() {
            let report = self.crash_report(w, &status);
            self.workers[w].queue.retain(|t| *t != test);
            if let Some(scheduler) = self.scheduler.as_mut() {
                scheduler.finished(self.workers[w].sched, test);
            }
            self.finish_test(w, test, &[report], reporter);
        }
        let queued: Vec<usize> = self.workers[w].queue.drain(..).collect();
        if let Some(scheduler) = self.scheduler.as_mut() {
            scheduler.requeue(self.workers[w].sched, &queued);
            scheduler.forget_worker(self.workers[w].sched);
        }
        let pending = self
            .scheduler
            .as_ref()
            .is_some_and(|s| s.pending() > 0 && !s.is_stopped());
        if pending {
            if self.restarts < self.config.max_worker_restart {
                self.restarts += 1;
                let why = if self.workers[w].killing.is_some() { "was stopped" } else { "crashed" };
                let message = format!("worker {name} {why} ({status}); starting a replacement");
                reporter.report(Event::Notice { message: &message });
                if self.add_worker().is_err() {
                    self.give_up_workers(reporter);
                }
            } else {
                self.give_up_workers(reporter);
            }
        }
        self.push_work();
        self.maybe_finish();
    }

    fn give_up_workers(&mut self, reporter: &mut dyn Reporter) {
        let message = format!(
            "maximum worker restarts reached ({}); not running the remaining tests (raise --max-worker-restart)",
            self.config.max_worker_restart
        );
        reporter.report(Event::Notice { message: &message });
        self.stopped.get_or_insert(message);
        if let Some(scheduler) = self.scheduler.as_mut() {
            scheduler.stop();
        }
        self.stop_all();
    }

    fn on_startup_death(&mut self, w: usize, phase: Phase, status: &str) {
        if self.end.is_some() {
            return;
        }
        let recent: Vec<&str> = self.workers[w].recent.iter().map(String::as_str).collect();
        let text = recent.join("\n");
        let python = self.config.launch.python.display().to_string();
        if text.contains("No module named pytest") {
            self.end = Some(RunEnd::Failed {
                code: exit::USAGE_ERROR,
                message: format!(
                    "pytest is not importable with `{python}`\n\nhint: install it with `{python} -m pip install pytest`, or pick another interpreter with --python PATH"
                ),
            });
            return;
        }
        let code = self.workers[w].exit.and_then(|s| s.code());
        if phase == Phase::Starting && code == Some(exit::USAGE_ERROR) {
            // pytest itself refused the arguments: it would do the same sequentially.
            self.end = Some(RunEnd::Failed {
                code: exit::USAGE_ERROR,
                message: text,
            });
            return;
        }
        let last = recent
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.trim())
            .unwrap_or("");
        let what = match phase {
            Phase::Starting => "failed to start",
            Phase::Discovering | Phase::Collecting => "died during collection",
            _ => "died",
        };
        let detail = if last.is_empty() {
            String::new()
        } else {
            format!(": {last}")
        };
        self.end = Some(RunEnd::Fallback {
            reason: format!("worker {} {what} ({status}){detail}", self.workers[w].name),
        });
    }

    fn crash_report(&self, w: usize, status: &str) -> PhaseReport {
        let state = &self.workers[w];
        let mut sections = Vec::new();
        let mut files: Vec<_> = std::fs::read_dir(&state.capture_dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        for path in files {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let title = if name.starts_with("fd1-") {
                "Captured stdout (until the crash)"
            } else if name.starts_with("fd2-") {
                "Captured stderr (until the crash)"
            } else {
                "Captured output (until the crash)"
            };
            if let Ok(bytes) = std::fs::read(&path) {
                if !bytes.is_empty() {
                    sections.push((
                        title.to_string(),
                        String::from_utf8_lossy(&bytes).into_owned(),
                    ));
                }
            }
        }
        if !state.recent.is_empty() {
            let lines: Vec<&str> = state.recent.iter().map(String::as_str).collect();
            sections.push(("Worker output".to_string(), lines.join("\n") + "\n"));
        }
        let (message, longrepr) = match (state.killing, self.config.timeout) {
            (Some(_), Some(timeout)) => {
                let message = format!("timed out after {:.1}s (--timeout)", timeout.as_secs_f64());
                let longrepr = format!("{message}: worker {} was stopped ({status})", state.name);
                (message, longrepr)
            }
            _ => (format!("worker crashed ({status})"), format!("worker {} crashed ({status}) while running this test", state.name)),
        };
        PhaseReport {
            when: "call".into(),
            outcome: "failed".into(),
            cat: "failed".into(),
            word: "FAILED".into(),
            dur: 0.0,
            longrepr: Some(longrepr),
            sections,
            head: None,
            msg: Some(message),
            skip: None,
            xfail: None,
        }
    }

    fn enforce_timeout(&mut self, reporter: &mut dyn Reporter) {
        let Some(timeout) = self.config.timeout else { return };
        for state in &mut self.workers {
            if state.phase == Phase::Gone {
                continue;
            }
            if let Some(at) = state.killing {
                if Instant::now() >= at {
                    state.handle.signal(libc::SIGKILL);
                }
                continue;
            }
            let (Some(started), Some(test)) = (state.started_at, state.running) else { continue };
            if started.elapsed() > timeout {
                state.killing = Some(Instant::now() + KILL_GRACE);
                state.handle.signal(libc::SIGTERM);
                let message = format!("{} ran past the {:.1}s timeout; stopping worker {}", self.tests[test].id, timeout.as_secs_f64(), state.name);
                reporter.report(Event::Notice { message: &message });
            }
        }
    }

    fn interrupt(&mut self, reporter: &mut dyn Reporter, count: usize) {
        self.interrupted = Some("KeyboardInterrupt".into());
        if let Some(scheduler) = self.scheduler.as_mut() {
            scheduler.stop();
        }
        let message = if count == 1 {
            "interrupted: stopping workers (Ctrl-C again to kill them)"
        } else {
            "killing workers"
        };
        reporter.report(Event::Notice { message });
        self.shutdown_all(if count == 1 {
            libc::SIGTERM
        } else {
            libc::SIGKILL
        });
        if self.scheduler.is_none() {
            self.end = Some(RunEnd::Failed {
                code: exit::INTERRUPTED,
                message: "interrupted before tests started".into(),
            });
        }
    }

    fn shutdown_all(&mut self, signal: i32) {
        for state in &self.workers {
            if state.phase != Phase::Gone {
                state.handle.signal(signal);
            }
        }
    }

    fn summary(&self) -> Summary {
        let not_run = self.tests.iter().filter(|t| !t.done).count();
        let exit_code = if self.interrupted.is_some() {
            exit::INTERRUPTED
        } else if self.failures > 0 || self.problems.iter().any(|p| p.outcome == "failed") {
            exit::TESTS_FAILED
        } else if self.tests.is_empty() && !self.config.list_only {
            exit::NO_TESTS_COLLECTED
        } else {
            exit::OK
        };
        Summary {
            elapsed: self.start.elapsed(),
            exit_code,
            stopped: self.stopped.clone(),
            interrupted: self.interrupted.clone(),
            not_run,
            deselected: self.deselected,
            durations: self
                .durations
                .iter()
                .map(|(t, d)| (self.tests[*t].id.clone(), *d))
                .collect(),
            failed: self.failed.clone(),
        }
    }
}
