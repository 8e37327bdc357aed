//! The run: a pool of pytest workers fed by the scheduler.
//!
//! One task owns all state and reacts to [`Input`]s from the workers, Ctrl-C
//! and timers; no lock is shared. Phases: the first worker to answer lists
//! the files (discovery, no imports) and says whether the session needs the
//! whole collection (`collection.rs`). If it does, that worker collects the
//! whole run as pytest does and then forks the others from it; else the
//! files are shared out so that every worker collects only its part. Then
//! workers ask for tests as they run low and the scheduler answers within
//! each category's cap.
//!
//! The state is split by owner: `Collection` in `collection.rs` (discovery
//! and collection), `Dispatch` in `dispatch.rs` (the plan, handing it out,
//! the results) and `Lifecycle` in `lifecycle.rs` (the processes). A worker
//! is known everywhere by one [`WorkerId`], its place in
//! `Lifecycle::workers`, which the scheduler uses too.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Instant;

use tokio::sync::mpsc;

use crate::events::{
    CpuTime, Event, FailedTest, LastFailedRun, PlannedTest, Reporter, Summary, Touched,
};
use crate::index::{CategoryIndex, IndexVec, TestIndex, UnitIndex, WorkerId};
use crate::protocol::{
    CollectProblem, CollectedItem, DiscoveredUnit, FromWorker, Hello, PhaseReport, ToWorker,
    WarningWhen, PROTOCOL,
};
use crate::scheduler::{CategorySlots, Scheduler};
use crate::worker::{self, Handle, Input, Launch};

mod collection;
mod dispatch;
mod growth;
mod lifecycle;
mod tuning;

use collection::Collection;
use dispatch::{Dispatch, TestRecord};
pub use growth::{Grow, GrowRule};
use lifecycle::Lifecycle;
pub use tuning::{Tune, Tuning};

/// The exit-code table, re-exported where `pacer init` still looks for it.
pub use pacer_types::exit;

use crate::category::{CategorySpec, Classifier};
use crate::error::RunError;
use crate::plan::LastFailed;
use pacer_types::{Outcome, StopReason};

pub struct RunConfig {
    pub launch: Launch,
    /// Where the plugin lives (`PYTHONPATH`).
    pub plugin_dir: PathBuf,
    /// Workers for cpu-bound tests (the cores, `-n`).
    pub workers: usize,
    /// Up to this many workers start as fresh processes, the rest are
    /// forked (the `fresh_workers` setting: the cores unless told).
    pub fresh_workers: usize,
    pub categories: Vec<CategorySpec>,
    pub classify: Classifier,
    pub maxfail: Option<usize>,
    /// `-s`: show worker output live, line by line.
    pub live_output: bool,
    pub max_worker_restart: usize,
    pub continue_on_collection_errors: bool,
    /// Recorded durations by node id, for heaviest-first.
    pub durations: HashMap<String, f64>,
    /// pytest's `--lf` / `--ff`, applied by pacer over the whole suite (a
    /// worker only sees its share of the files, so it cannot).
    pub last_failed: Option<LastFailed>,
    /// Log scheduling decisions to stderr (`--debug`, `PYTEST_DEBUG`).
    pub debug: bool,
    /// Collect, report the plan, run nothing (`pacer list`).
    pub list_only: bool,
    /// Run only this part of the selection (`--shard K/N`): the rest is
    /// deselected, as pytest deselects.
    pub shard: Option<crate::shard::Part>,
    /// Run only the tests of these files (`--changed`): the rest is
    /// deselected, as pytest deselects, before the shard is cut.
    pub changed: Option<ChangedFiles>,
    /// Start the zygote with the first workers, not after collection: the
    /// run will likely want more workers (io categories) soon.
    pub prewarm_zygote: bool,
    /// Fork workers from a zygote at all (`fork = false` spawns them all).
    pub fork: bool,
    /// Whether workers collect the whole suite or their share of it.
    pub collection: pacer_types::Collection,
    /// A test running longer is failed and its worker replaced (SIGTERM,
    /// then SIGKILL after a grace period).
    pub timeout: Option<std::time::Duration>,
    /// How long importing and collecting one test file may take before
    /// the hung file is reported as a collection error; `None`: `timeout`,
    /// else [`COLLECT_TIMEOUT`].
    pub collect_timeout: Option<std::time::Duration>,
    /// How long a worker may take to exit after its last word (`bye`); past
    /// it its stacks are dumped and it is killed.
    pub exit_grace: std::time::Duration,
    /// Decides the rest from pytest's parsed options (first hello).
    pub tune: Option<Tune>,
    /// How tests may be shared between workers (pytest-xdist's `--dist`).
    pub dist: crate::plan::Dist,
    /// More environment per worker, by the worker's name (each worker's
    /// own proxy address); set after `launch.env`, so it wins.
    pub worker_env: Option<WorkerEnv>,
    /// Told each worker's name and pid once the pid is known (spawned, or
    /// forked by the zygote).
    pub worker_pid: Option<WorkerPid>,
}

/// `--changed`'s selection: the test files a change can affect, found by
/// the binary (git and the import graph); the pool keeps their tests.
#[derive(Debug, Clone, Default)]
pub struct ChangedFiles {
    /// Absolute paths; a test is kept when its node id's file is one.
    pub files: std::collections::HashSet<std::path::PathBuf>,
    /// A change selects every test (a conftest.py, the configuration).
    pub everything: bool,
    /// What changed, for the one notice line (`pacer: --changed: ...`).
    pub why: String,
}

impl RunConfig {
    /// Category `c`: the classifier's answer, the scheduler's index.
    fn category(&self, c: CategoryIndex) -> &CategorySpec {
        &self.categories[c.index()]
    }

    /// Every category with its index, in order.
    fn categories_enumerated(&self) -> impl Iterator<Item = (CategoryIndex, &CategorySpec)> {
        self.categories
            .iter()
            .enumerate()
            .map(|(i, c)| (CategoryIndex::new(i), c))
    }
}

/// See [`RunConfig::worker_pid`].
pub type WorkerPid = std::sync::Arc<dyn Fn(&str, u32) + Send + Sync>;

/// Environment for the worker of this name (see [`RunConfig::worker_env`]).
pub type WorkerEnv = std::sync::Arc<dyn Fn(&str) -> Vec<(String, String)> + Send + Sync>;

/// How long a timed-out worker gets between SIGTERM and SIGKILL.
const KILL_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// How long a worker's faulthandler gets to write every thread's stack
/// (SIGUSR1) before the signal that ends it.
const STACK_WAIT: std::time::Duration = std::time::Duration::from_millis(300);

/// The collection deadline when neither `collect_timeout` nor `--timeout`
/// is set: generous for a slow import, short of a CI job's patience.
pub const COLLECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// How the run ended, for the binary.
#[derive(Debug)]
pub enum RunEnd {
    Finished(Summary),
    /// The parallel run could not start or could not go on; run sequentially.
    Fallback {
        reason: String,
    },
    /// Plain pytest must run the whole thing (it lists instead of running,
    /// or a debugger wants the terminal); says why.
    Delegate {
        reason: String,
    },
    /// pacer could not start the run, or could not go on.
    Failed(RunError),
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Stage {
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
    phase: Stage,
    /// Handed out and not finished, in the order the worker runs them.
    queue: VecDeque<TestIndex>,
    running: Option<TestIndex>,
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
    /// Set when its test ran past the timeout: when to send SIGTERM (its
    /// stacks are being written until then).
    term_at: Option<Instant>,
    /// When it said `bye`: its exit grace runs from then.
    bye_at: Option<Instant>,
    /// Past the exit grace: when to read its stacks and kill it.
    hang_kill_at: Option<Instant>,
    /// When it was spawned or forked: the collection deadline covers its
    /// start-up (pytest, plugins, conftests) too.
    spawned_at: Instant,
    /// The files it is collecting, and since when.
    collect_since: Option<Instant>,
    collect_chunk: Vec<UnitIndex>,
    /// Past the collection deadline: when to read its stacks and kill it.
    collect_kill_at: Option<Instant>,
    /// Killed for a hung collection: its death is expected, its files
    /// already handed on.
    abandoned: bool,
    /// Where its faulthandler writes every thread's stack on SIGUSR1.
    stacks_file: PathBuf,
    /// Stopped unused when the run turned to the whole collection: its
    /// last word is not a worker's.
    discarded: bool,
    /// A line it sent that pacer could not read: it was killed for it, and
    /// the test it ran fails with that line shown.
    unreadable: Option<String>,
}

impl WorkerState {
    /// Ready, told `idle` and holding nothing: work may be sent unasked.
    fn waits_for_work(&self) -> bool {
        self.phase == Stage::Ready && self.waiting && !self.stop_sent && self.queue.is_empty()
    }
}

const RECENT_LINES: usize = 200;

pub async fn run(config: RunConfig, reporter: &mut dyn Reporter) -> RunEnd {
    let mut pool = match Pool::new(config) {
        Ok(pool) => pool,
        Err(err) => return RunEnd::Failed(err),
    };
    pool.main(reporter).await
}

/// The run's state, split by who owns it (as cargo-nextest splits its
/// dispatcher's state from its executor's): each part belongs to one
/// submodule, which mostly touches its own. What ends the run, which any
/// of them may decide, is the pool's own.
struct Pool {
    config: RunConfig,
    start: Instant,
    /// What the workers' tasks, spawned by `lifecycle`, send.
    inputs: mpsc::UnboundedReceiver<Input>,
    /// Discovery, the files' collection and what it found (`collection.rs`).
    collection: Collection,
    /// The plan, handing it out, and what the tests did (`dispatch.rs`).
    dispatch: Dispatch,
    /// The worker processes and the zygote (`lifecycle.rs`).
    lifecycle: Lifecycle,
    stopped: Option<StopReason>,
    interrupted: Option<StopReason>,
    end: Option<RunEnd>,
}

impl Pool {
    fn new(config: RunConfig) -> Result<Self, RunError> {
        let fork = config.fork;
        let (inputs_tx, inputs) = mpsc::unbounded_channel();
        crate::stale::clean_stale_run_folders(&std::env::temp_dir());
        let run_dir = tempfile::Builder::new()
            .prefix(&crate::stale::run_folder_prefix())
            .tempdir()
            .map_err(|source| RunError::RunFolder { source })?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let uid = format!("{:016x}{:08x}", nanos as u64, std::process::id());
        let subreaper = fork && worker::become_subreaper();
        Ok(Pool {
            config,
            start: Instant::now(),
            inputs,
            collection: Collection::new(),
            dispatch: Dispatch::new(),
            lifecycle: Lifecycle::new(inputs_tx, run_dir, uid, subreaper),
            stopped: None,
            interrupted: None,
            end: None,
        })
    }

    async fn main(&mut self, reporter: &mut dyn Reporter) -> RunEnd {
        // As many fresh `python -m pytest` processes as there are cores
        // start in parallel for free; beyond that they would only contend
        // for the cores, so the rest are forked ready-made from a zygote
        // (`fresh_workers` moves that line: tests force forks with 1).
        let workers = self.config.workers.max(1);
        let fresh_workers = self.config.fresh_workers.max(1);
        // Workers beyond the cores are only added once the plan says how
        // many tests can run at once (`spawn_io_workers`): `-n 300` on 40
        // tests never starts 300. The zygote that forks them starts now.
        // A whole collection asked for from the start is made by one
        // process, from which every worker is forked: nothing else starts.
        let collector_only =
            self.config.collection == pacer_types::Collection::Whole && self.lifecycle.subreaper;
        if !collector_only
            && (self.config.prewarm_zygote || (workers > fresh_workers && self.config.fork))
        {
            if let Err(err) = self.start_zygote() {
                self.debug(|| err.to_string());
            }
        }
        let fresh = if collector_only {
            1
        } else {
            workers.min(fresh_workers)
        };
        for _ in 0..fresh {
            let started = self.spawn_worker().map(|_| ());
            if let Err(err) = started {
                self.shutdown_all(libc::SIGKILL);
                return RunEnd::Failed(err);
            }
        }
        let mut interrupts = 0;
        let tick = std::time::Duration::from_millis(200);
        // A CI runner's cancel (SIGTERM) and a closed terminal (SIGHUP)
        // stop the run like Ctrl-C does, so what ran is still reported.
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let mut hangup =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        // One stream for the whole run: a Ctrl-C that arrives while an input
        // is being handled waits in it (a `ctrl_c()` future made anew on each
        // turn of the loop did not exist then, and the signal was lost).
        let mut interrupt =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
        loop {
            if self.end.is_some() || self.lifecycle.all_gone() {
                break;
            }
            tokio::select! {
                input = self.inputs.recv() => {
                    let Some(input) = input else { break };
                    // A panic in pacer's own code ends the run, not the
                    // reports: what ran is still reported, with exit code 3.
                    let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        self.handle(input, reporter)
                    }));
                    if let Err(panic) = handled {
                        let message = panic
                            .downcast_ref::<String>()
                            .map(String::as_str)
                            .or_else(|| panic.downcast_ref::<&str>().copied())
                            .unwrap_or("a panic")
                            .to_owned();
                        self.stopped = Some(StopReason::Internal { message });
                        self.shutdown_all(libc::SIGKILL);
                        break;
                    }
                }
                Some(()) = async { interrupt.as_mut()?.recv().await }, if interrupt.is_some() => {
                    interrupts += 1;
                    self.interrupt(reporter, interrupts);
                }
                Some(()) = async { terminate.as_mut()?.recv().await }, if terminate.is_some() => {
                    interrupts += 1;
                    self.interrupt(reporter, interrupts);
                }
                Some(()) = async { hangup.as_mut()?.recv().await }, if hangup.is_some() => {
                    interrupts += 1;
                    self.interrupt(reporter, interrupts);
                }
                _ = tokio::time::sleep(tick) => {
                    self.enforce_timeout(reporter);
                    self.enforce_collect_deadline(reporter);
                    self.enforce_exit_grace();
                }
            }
        }
        if let Some(end) = self.end.take() {
            if !matches!(end, RunEnd::Finished(_)) {
                self.shutdown_all(libc::SIGKILL);
                return end;
            }
        }
        if let Some(message) = &self.dispatch.stuck_message {
            reporter.report(Event::Notice { message });
        }
        // A first run that grew says so once, before pytest's summary.
        if let Some(wait) = self.dispatch.growth.as_ref().and_then(|g| g.grown.clone()) {
            reporter.report(Event::WaitWorkers { wait: &wait });
        }
        let summary = self.summary();
        reporter.report(Event::Finished { summary: &summary });
        // pytest's summary first: plain pytest prints it before its
        // interpreter waits for a thread left running.
        for message in std::mem::take(&mut self.lifecycle.after_summary) {
            reporter.report(Event::Notice { message: &message });
        }
        RunEnd::Finished(summary)
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

    fn send(&self, worker: WorkerId, message: &ToWorker<'_>) {
        self.lifecycle.workers[worker]
            .handle
            .send(message.to_line());
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
                    self.debug(|| format!("{} says {text}", self.lifecycle.workers[*w].name));
                }
                other => self.debug(|| format!("{other:?}")),
            }
        }
        match input {
            // After a line it could not read, or once its test ran past
            // the timeout, nothing more from a worker counts: it is being
            // ended, and the test it was running when that happened is the
            // one that fails (a `done` in the grace before SIGTERM would
            // pass it and charge the timeout to the next test).
            Input::Message(w, _)
                if self.lifecycle.workers[w].unreadable.is_some()
                    || self.lifecycle.workers[w].killing.is_some() => {}
            Input::Message(w, message) => self.on_message(w, message, reporter),
            Input::BadMessage(w, text) => {
                // The worker's fault at worst (a test wrote into its
                // channel, a plugin sent what pacer does not know): it is
                // ended, and the test it ran fails with the line shown; the
                // run and its reports go on.
                let state = &mut self.lifecycle.workers[w];
                if state.phase != Stage::Gone && state.unreadable.is_none() {
                    state.unreadable = Some(text);
                    state.handle.signal(libc::SIGKILL);
                }
            }
            Input::Output(w, stream, line) => {
                let state = &mut self.lifecycle.workers[w];
                // Live from the worker's hello on: before it, pytest's own
                // session header would be printed once per worker (and the
                // zygote runs no test).
                if self.config.live_output
                    && !matches!(state.phase, Stage::Starting | Stage::Zygote)
                {
                    reporter.report(Event::Output {
                        worker: &state.name,
                        stream,
                        line: &line,
                    });
                }
                // The last lines are kept for a crash report or a start-up failure.
                if state.recent.len() == RECENT_LINES {
                    state.recent.pop_front();
                }
                state.recent.push_back(line);
            }
            Input::Closed(w) => {
                let state = &mut self.lifecycle.workers[w];
                state.streams_open = state.streams_open.saturating_sub(1);
                // A forked worker whose pid never arrived cannot be waited for:
                // its closed streams are all the news there will be.
                if state.streams_open == 0 && (state.exit.is_some() || state.handle.pid == 0) {
                    self.on_death(w, reporter);
                }
            }
            Input::Exited(w, status) => {
                self.lifecycle.workers[w].exit = Some(status);
                if self.lifecycle.workers[w].streams_open == 0 {
                    self.on_death(w, reporter);
                }
            }
            Input::Deadline(w) => {
                if self.lifecycle.workers[w].phase != Stage::Gone {
                    self.on_death(w, reporter);
                }
            }
        }
    }

    fn on_message(&mut self, w: WorkerId, message: FromWorker, reporter: &mut dyn Reporter) {
        match message {
            FromWorker::Hello(hello) => self.on_hello(w, *hello, reporter),
            FromWorker::Discovered { units, whole } => {
                self.on_discovered(w, units, whole, reporter)
            }
            FromWorker::UsageError { message } => {
                self.end = Some(RunEnd::Failed(RunError::PytestUsage { message }));
            }
            FromWorker::Collected {
                items,
                problems,
                deselected,
                deselected_ids,
                whole,
                ordered,
            } => {
                if whole {
                    self.on_whole_collected(
                        w,
                        items,
                        problems,
                        (deselected, deselected_ids),
                        ordered,
                        reporter,
                    );
                } else {
                    self.collection.deselected_ids.extend(deselected_ids);
                    self.on_collected(w, items, problems, deselected, reporter);
                }
            }
            FromWorker::Start { id } => {
                // Only a test this worker holds can start on it: a stray id
                // is never charged to another test.
                if let Some(test) = self.held_by(w, &id) {
                    self.lifecycle.workers[w].running = Some(test);
                    self.lifecycle.workers[w].started_at = Some(Instant::now());
                    reporter.report(Event::TestStarted {
                        id: &id,
                        worker: &self.lifecycle.workers[w].name,
                    });
                }
            }
            FromWorker::Done {
                id,
                reports,
                wall,
                cpu,
                queued,
                touched,
            } => {
                let cpu = wall.zip(cpu).map(|(wall, cpu)| CpuTime {
                    wall,
                    cpu,
                    queued: queued.unwrap_or(0.0),
                });
                self.on_done(w, &id, &reports, cpu, touched.as_ref(), reporter)
            }
            FromWorker::Late { id, reports } => {
                self.count_failures(&reports);
                reporter.report(Event::TestAmended {
                    id: &id,
                    worker: &self.lifecycle.workers[w].name,
                    reports: &reports,
                });
            }
            FromWorker::Need => self.on_need(w),
            FromWorker::Exit {
                id,
                message,
                returncode,
                interrupt,
            } => self.on_exit(w, &id, message, returncode, interrupt),
            FromWorker::Unqueued { ids } => self.on_unqueued(w, &ids),
            FromWorker::Missing { ids } => {
                self.end = Some(RunEnd::Fallback {
                    reason: format!(
                        "collections differ between workers: {} could not find {}",
                        self.lifecycle.workers[w].name,
                        ids.first().map(String::as_str).unwrap_or("a test")
                    ),
                });
            }
            FromWorker::Warning { id, when, message } => {
                // A file is collected again by each worker that takes some
                // of its tests; pytest collects it once and warns once.
                // So the nth such warning of a worker is reported only when
                // no worker reported an nth one before.
                if when == WarningWhen::Collect {
                    let key = (id.clone(), message.clone());
                    let seen = self
                        .collection
                        .collect_warnings
                        .entry(key.clone())
                        .or_default();
                    let mine = seen.per_worker.entry(w).or_insert(0);
                    *mine += 1;
                    if *mine <= seen.reported {
                        return;
                    }
                    seen.reported = *mine;
                }
                reporter.report(Event::Warning {
                    id: &id,
                    message: &message,
                })
            }
            FromWorker::HelloZygote { pid } => {
                self.lifecycle.workers[w].handle.set_pid(pid);
                // A zygote stopped unused when the run turned to the whole
                // collection: the forks wanted are the collector's to make.
                if self.lifecycle.zygote != Some(w) {
                    return;
                }
                self.lifecycle.zygote_ready = true;
                let wanted = std::mem::take(&mut self.lifecycle.forks_wanted);
                let over = self
                    .dispatch
                    .scheduler
                    .as_ref()
                    .is_some_and(|s| s.pending() == 0 || s.is_stopped());
                if self.lifecycle.workers[w].stop_sent || over {
                    return;
                }
                for _ in 0..wanted {
                    if let Err(err) = self.fork_worker() {
                        let message = format!("failed to add a worker: {err}");
                        reporter.report(Event::Notice { message: &message });
                    }
                }
            }
            FromWorker::Forked { worker: name, pid } => {
                // The newest of that name: workers stopped unused when the
                // run turned to the whole collection may have had it.
                let newest = self
                    .lifecycle
                    .workers
                    .iter_enumerated()
                    .rev()
                    .find(|(_, s)| s.name == name)
                    .map(|(index, _)| index);
                if let Some(index) = newest {
                    self.lifecycle.workers[index].handle.set_pid(pid);
                    if let Some(told) = &self.config.worker_pid {
                        told(&name, pid);
                    }
                    worker::watch(index, pid, &self.lifecycle.inputs_tx);
                }
            }
            FromWorker::Bye(bye) => {
                self.lifecycle.workers[w].bye_at = Some(Instant::now());
                if self.lifecycle.workers[w].discarded {
                    return;
                }
                reporter.report(Event::WorkerFinished {
                    worker: &self.lifecycle.workers[w].name,
                    bye: &bye,
                })
            }
        }
    }
}
