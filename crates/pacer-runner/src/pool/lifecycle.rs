//! Worker lifecycle: starting, forking and stopping worker processes, and what happens when one dies or runs past its timeout.

use super::*;
use pacer_types::{Phase, Status};

/// The worker processes, the zygote that forks them, and what starting
/// them needs: owned by this module. A worker's [`WorkerId`] is its place
/// in `workers`, and the scheduler knows it by the same id.
pub(super) struct Lifecycle {
    pub(super) workers: IndexVec<WorkerId, WorkerState>,
    /// The number in the next worker's name (`gw0`, `gw1`...).
    pub(super) next_name: usize,
    pub(super) restarts: usize,
    /// Workers forked from a zygote report their exit to us (Linux).
    pub(super) subreaper: bool,
    pub(super) zygote: Option<WorkerId>,
    pub(super) zygote_ready: bool,
    pub(super) forks_wanted: usize,
    /// Given to each worker's tasks, which send the pool its [`Input`]s.
    pub(super) inputs_tx: mpsc::UnboundedSender<Input>,
    /// The run's folder: the workers' captures and stacks.
    pub(super) run_dir: tempfile::TempDir,
    pub(super) uid: String,
    /// Warnings printed after pytest's summary: workers that would not exit.
    pub(super) after_summary: Vec<String>,
}

impl Lifecycle {
    pub(super) fn new(
        inputs_tx: mpsc::UnboundedSender<Input>,
        run_dir: tempfile::TempDir,
        uid: String,
        subreaper: bool,
    ) -> Self {
        Lifecycle {
            workers: IndexVec::new(),
            next_name: 0,
            restarts: 0,
            subreaper,
            zygote: None,
            zygote_ready: false,
            forks_wanted: 0,
            inputs_tx,
            run_dir,
            uid,
            after_summary: Vec::new(),
        }
    }

    /// Every worker has been started and is gone.
    pub(super) fn all_gone(&self) -> bool {
        !self.workers.is_empty() && self.workers.iter().all(|w| w.phase == Stage::Gone)
    }

    /// Where worker `name`'s faulthandler writes its stacks on SIGUSR1; its
    /// plugin names the threads it leaves running next to it (`.threads`).
    pub(super) fn stacks_file(&self, name: &str) -> PathBuf {
        self.run_dir.path().join(format!("{name}.stacks"))
    }
}

impl Pool {
    pub(super) fn worker_env(&self, name: &str) -> Vec<(String, String)> {
        let mut python_path = self.config.plugin_dir.display().to_string();
        if let Some(existing) = std::env::var_os("PYTHONPATH").filter(|p| !p.is_empty()) {
            python_path = format!("{python_path}:{}", existing.to_string_lossy());
        }
        let own = self.config.worker_env.as_ref().map(|f| f(name));
        let mut env = vec![
            ("PYTHONPATH".to_string(), python_path),
            ("PYTHONUNBUFFERED".into(), "1".into()),
            ("PACER_WORKER_ID".into(), name.to_string()),
            ("PYTEST_XDIST_WORKER".into(), name.to_string()),
            (
                "PYTEST_XDIST_WORKER_COUNT".into(),
                self.config.workers.max(1).to_string(),
            ),
            ("PYTEST_XDIST_TESTRUNUID".into(), self.lifecycle.uid.clone()),
            (
                "PACER_STACKS_FILE".into(),
                self.lifecycle.stacks_file(name).display().to_string(),
            ),
            ("PACER_PID".into(), std::process::id().to_string()),
            // Where the first worker records the run's base temporary
            // folder for the others (`basetemp.py`), as xdist's controller
            // hands its workers theirs.
            (
                "PACER_RUN_DIR".into(),
                self.lifecycle.run_dir.path().display().to_string(),
            ),
            (
                "PACER_CAPTURE_DIR".into(),
                self.lifecycle
                    .run_dir
                    .path()
                    .join(name)
                    .display()
                    .to_string(),
            ),
        ];
        env.extend(own.into_iter().flatten());
        env
    }

    /// Adds a started worker's state; returns its id, which the scheduler
    /// (once there is one) knows it by too.
    pub(super) fn push_state(&mut self, name: String, handle: Handle, phase: Stage) -> WorkerId {
        let id = self.lifecycle.workers.next_index();
        if let Some(scheduler) = self.dispatch.scheduler.as_mut() {
            scheduler.add_worker(id);
        }
        let capture_dir = self.lifecycle.run_dir.path().join(&name);
        let stacks_file = self.lifecycle.stacks_file(&name);
        if let (Some(told), pid @ 1..) = (&self.config.worker_pid, handle.pid) {
            told(&name, pid);
        }
        self.lifecycle.workers.push(WorkerState {
            name,
            handle,
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
            term_at: None,
            bye_at: None,
            hang_kill_at: None,
            collect_since: None,
            collect_chunk: Vec::new(),
            collect_kill_at: None,
            spawned_at: Instant::now(),
            abandoned: false,
            stacks_file,
            discarded: false,
            unreadable: None,
        })
    }

    /// Starts a worker as a new `python -m pytest` process.
    pub(super) fn spawn_worker(&mut self) -> Result<WorkerId, RunError> {
        let index = self.lifecycle.workers.next_index();
        let name = format!("gw{}", self.lifecycle.next_name);
        self.lifecycle.next_name += 1;
        let env = self.worker_env(&name);
        let handle = worker::spawn(index, &self.config.launch, &env, &self.lifecycle.inputs_tx)
            .map_err(|source| RunError::SpawnWorker {
                python: self.config.launch.python.clone(),
                source,
            })?;
        Ok(self.push_state(name, handle, Stage::Starting))
    }

    /// Adds a worker once the run is under way: forked from the zygote when
    /// the platform allows (milliseconds instead of a pytest start-up),
    /// else spawned.
    pub(super) fn add_worker(&mut self) -> Result<(), RunError> {
        if !self.lifecycle.subreaper {
            return self.spawn_worker().map(|_| ());
        }
        match self.lifecycle.zygote {
            Some(z) if self.lifecycle.workers[z].phase == Stage::Gone => {
                self.spawn_worker().map(|_| ())
            }
            Some(_) if self.lifecycle.zygote_ready => self.fork_worker(),
            Some(_) => {
                self.lifecycle.forks_wanted += 1;
                Ok(())
            }
            None => {
                self.start_zygote()?;
                self.lifecycle.forks_wanted += 1;
                Ok(())
            }
        }
    }

    /// Starts the process that forks workers (Linux only; once per run).
    pub(super) fn start_zygote(&mut self) -> Result<(), RunError> {
        if !self.lifecycle.subreaper || self.lifecycle.zygote.is_some() {
            return Ok(());
        }
        let index = self.lifecycle.workers.next_index();
        let mut env = self.worker_env("zygote");
        env.push(("PACER_ZYGOTE".into(), "1".into()));
        let handle = worker::spawn(index, &self.config.launch, &env, &self.lifecycle.inputs_tx)
            .map_err(|source| RunError::SpawnZygote { source })?;
        self.push_state("zygote".into(), handle, Stage::Zygote);
        self.lifecycle.zygote = Some(index);
        Ok(())
    }

    pub(super) fn fork_worker(&mut self) -> Result<(), RunError> {
        let Some(z) = self.lifecycle.zygote else {
            return self.spawn_worker().map(|_| ());
        };
        let index = self.lifecycle.workers.next_index();
        let name = format!("gw{}", self.lifecycle.next_name);
        self.lifecycle.next_name += 1;
        let env = self.worker_env(&name);
        match worker::fork(
            index,
            &self.lifecycle.workers[z].handle,
            &name,
            &env,
            &self.lifecycle.inputs_tx,
        ) {
            Ok(handle) => {
                self.debug(|| format!("{name} forked from the zygote"));
                self.push_state(name, handle, Stage::Starting);
                Ok(())
            }
            Err(e) => {
                self.debug(|| format!("fork through the zygote failed ({e}); spawning instead"));
                self.spawn_worker().map(|_| ())
            }
        }
    }

    pub(super) fn stop_worker(&mut self, w: WorkerId) {
        let state = &mut self.lifecycle.workers[w];
        if state.stop_sent || state.phase == Stage::Gone {
            return;
        }
        state.stop_sent = true;
        // Tests it held but will not start now are not run.
        let dropped: Vec<TestIndex> = state.queue.drain(..).collect();
        if let Some(scheduler) = self.dispatch.scheduler.as_mut() {
            for test in dropped {
                scheduler.finished(w, test);
            }
        }
        self.send(w, &ToWorker::Stop);
    }

    pub(super) fn stop_all(&mut self) {
        for w in self.lifecycle.workers.indices() {
            self.stop_worker(w);
        }
    }

    pub(super) fn on_death(&mut self, w: WorkerId, reporter: &mut dyn Reporter) {
        if self.lifecycle.workers[w].phase == Stage::Gone {
            return;
        }
        let phase = self.lifecycle.workers[w].phase;
        self.lifecycle.workers[w].phase = Stage::Gone;
        // A steal from it will never be answered.
        if self.dispatch.steal.is_some_and(|(victim, _)| victim == w) {
            self.dispatch.steal = None;
        }
        if phase != Stage::Zygote
            && self.lifecycle.workers[w].handle.pid != 0
            && self.interrupted.is_none()
        {
            // What its tests started in its process group ends with it,
            // named (nextest's LEAK) unless the worker ended its session and
            // named its tests' leaks itself; the standard library's helpers
            // exit with their interpreter.
            let pgid = self.lifecycle.workers[w].handle.pid;
            let named = self.lifecycle.workers[w].bye_at.is_none();
            for (pid, command) in worker::group_members(pgid) {
                if !named || command.contains("multiprocessing.") {
                    continue;
                }
                let message = format!(
                    "LEAK: worker {}'s tests left process {pid} running ({command}); pacer ended it",
                    self.lifecycle.workers[w].name
                );
                reporter.report(Event::Notice { message: &message });
            }
            self.lifecycle.workers[w].handle.signal(libc::SIGKILL);
        }
        if self.lifecycle.workers[w].abandoned {
            self.after_collect_hang(reporter);
            return;
        }
        self.debug(|| {
            let tail: Vec<&str> = self.lifecycle.workers[w]
                .recent
                .iter()
                .rev()
                .take(15)
                .rev()
                .map(String::as_str)
                .collect();
            format!(
                "{} is gone; its last output:\n    {}",
                self.lifecycle.workers[w].name,
                tail.join("\n    ")
            )
        });
        if phase == Stage::Zygote {
            // A zygote stopped unused (the run turned to the whole
            // collection) leaves the forks wanted to the collector.
            if self.lifecycle.zygote != Some(w) {
                return;
            }
            // Whatever it was to fork is spawned the slow way (unless the
            // run is being stopped).
            let wanted = std::mem::take(&mut self.lifecycle.forks_wanted);
            let stopping = self.interrupted.is_some() || self.lifecycle.workers[w].stop_sent;
            for _ in 0..if stopping { 0 } else { wanted } {
                if self.spawn_worker().is_err() {
                    break;
                }
            }
            return;
        }
        let status = self.lifecycle.workers[w]
            .exit
            .map(|s| worker::describe_exit(&s))
            .unwrap_or_else(|| "unknown status".into());
        if self.lifecycle.workers[w].stop_sent && self.lifecycle.workers[w].running.is_none() {
            return;
        }
        let name = self.lifecycle.workers[w].name.clone();
        // A worker that dies before it is ready (plugin, conftest or
        // collection trouble) means the parallel run cannot be trusted.
        // (Unless pacer itself stopped it: an interrupted run just ends.)
        if self.interrupted.is_none()
            && (self.dispatch.scheduler.is_none() || phase != Stage::Ready)
        {
            self.on_startup_death(w, phase, &status);
            return;
        }
        if let Some(test) = self.lifecycle.workers[w].running.take() {
            self.lifecycle.workers[w].queue.retain(|t| *t != test);
            if let Some(scheduler) = self.dispatch.scheduler.as_mut() {
                scheduler.finished(w, test);
            }
            // Stopped by Ctrl-C or SIGTERM, the test did not fail: like
            // pytest, pacer reports it as not run rather than as a crash.
            if self.interrupted.is_none() {
                let report = self.crash_report(w, &status);
                self.finish_test(w, test, &[report], None, reporter);
            }
        }
        let queued: Vec<TestIndex> = self.lifecycle.workers[w].queue.drain(..).collect();
        if let Some(scheduler) = self.dispatch.scheduler.as_mut() {
            scheduler.requeue(w, &queued);
            scheduler.forget_worker(w);
        }
        let pending = self
            .dispatch
            .scheduler
            .as_ref()
            .is_some_and(|s| s.pending() > 0 && !s.is_stopped());
        if pending {
            if self.lifecycle.restarts < self.config.max_worker_restart {
                self.lifecycle.restarts += 1;
                let why = if self.lifecycle.workers[w].unreadable.is_some() {
                    "sent a message pacer cannot read"
                } else if self.lifecycle.workers[w].killing.is_some() {
                    "was stopped"
                } else {
                    "crashed"
                };
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

    pub(super) fn give_up_workers(&mut self, reporter: &mut dyn Reporter) {
        let reason = StopReason::WorkerRestarts {
            max: self.config.max_worker_restart,
        };
        let message = reason.to_string();
        reporter.report(Event::Notice { message: &message });
        self.stopped.get_or_insert(reason);
        if let Some(scheduler) = self.dispatch.scheduler.as_mut() {
            scheduler.stop();
        }
        self.stop_all();
    }

    pub(super) fn on_startup_death(&mut self, w: WorkerId, phase: Stage, status: &str) {
        if self.end.is_some() {
            return;
        }
        let recent: Vec<&str> = self.lifecycle.workers[w]
            .recent
            .iter()
            .map(String::as_str)
            .collect();
        let text = recent.join("\n");
        let python = self.config.launch.python.display().to_string();
        if text.contains("No module named pytest") {
            self.end = Some(RunEnd::Failed(RunError::PytestMissing { python }));
            return;
        }
        let code = self.lifecycle.workers[w].exit.and_then(|s| s.code());
        if phase == Stage::Starting && code == Some(exit::USAGE_ERROR) {
            // pytest itself refused the arguments: it would do the same sequentially.
            self.end = Some(RunEnd::Failed(RunError::PytestRefused { output: text }));
            return;
        }
        let last = recent
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.trim())
            .unwrap_or("");
        let what = match phase {
            Stage::Starting => "failed to start",
            Stage::Discovering | Stage::Collecting => "died during collection",
            _ => "died",
        };
        let detail = if last.is_empty() {
            String::new()
        } else {
            format!(": {last}")
        };
        self.end = Some(RunEnd::Fallback {
            reason: format!(
                "worker {} {what} ({status}){detail}",
                self.lifecycle.workers[w].name
            ),
        });
    }

    pub(super) fn crash_report(&self, w: WorkerId, status: &str) -> PhaseReport {
        let state = &self.lifecycle.workers[w];
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
            _ if state.unreadable.is_some() => {
                let line = state.unreadable.as_deref().unwrap_or_default();
                (
                    "worker sent a message pacer cannot read".to_string(),
                    format!(
                        "worker {} sent a message pacer cannot read while running this test, and was stopped ({status}):\n{line}",
                        state.name
                    ),
                )
            }
            (Some(_), Some(timeout)) => {
                let message = format!("timed out after {:.1}s (--timeout)", timeout.as_secs_f64());
                let mut longrepr =
                    format!("{message}: worker {} was stopped ({status})", state.name);
                if let Some(stacks) = read_stacks(&state.stacks_file) {
                    longrepr.push_str("\n\nEvery thread's stack at the timeout:\n\n");
                    longrepr.push_str(&stacks);
                }
                (message, longrepr)
            }
            _ => (
                format!("worker crashed ({status})"),
                format!(
                    "worker {} crashed ({status}) while running this test",
                    state.name
                ),
            ),
        };
        PhaseReport {
            when: Phase::Call,
            outcome: Outcome::Failed,
            cat: Some(Status::Failed),
            word: "FAILED".into(),
            dur: 0.0,
            longrepr: Some(longrepr),
            sections,
            head: None,
            msg: Some(message),
            ..Default::default()
        }
    }

    pub(super) fn enforce_timeout(&mut self, reporter: &mut dyn Reporter) {
        let Some(timeout) = self.config.timeout else {
            return;
        };
        for state in &mut self.lifecycle.workers {
            if state.phase == Stage::Gone {
                continue;
            }
            if let Some(at) = state.term_at {
                if Instant::now() >= at {
                    state.term_at = None;
                    // The worker alone: what its test left running is
                    // named when it is gone, then killed with its group.
                    state.handle.signal_leader(libc::SIGTERM);
                }
                continue;
            }
            if let Some(at) = state.killing {
                if Instant::now() >= at {
                    state.handle.signal(libc::SIGKILL);
                }
                continue;
            }
            let (Some(started), Some(test)) = (state.started_at, state.running) else {
                continue;
            };
            if started.elapsed() > timeout {
                // Every thread's stack first (faulthandler, SIGUSR1), for
                // the report; SIGTERM once it is written.
                state.handle.signal_leader(libc::SIGUSR1);
                state.term_at = Some(Instant::now() + STACK_WAIT);
                state.killing = Some(Instant::now() + STACK_WAIT + KILL_GRACE);
                let message = format!(
                    "{} ran past the {:.1}s timeout; stopping worker {}",
                    self.dispatch.tests[test].id,
                    timeout.as_secs_f64(),
                    state.name
                );
                reporter.report(Event::Notice { message: &message });
            }
        }
    }

    /// A worker that said `bye` and has not exited within the exit grace (a
    /// non-daemon thread left running, an atexit handler that waits): its
    /// stacks are dumped, it is killed, and the threads it was waiting for
    /// are named after pytest's summary.
    pub(super) fn enforce_exit_grace(&mut self) {
        let grace = self.config.exit_grace;
        let now = Instant::now();
        for state in &mut self.lifecycle.workers {
            if state.phase == Stage::Gone || state.abandoned {
                continue;
            }
            let Some(bye) = state.bye_at else {
                continue;
            };
            // A worker that left no thread running is only slow to exit (a
            // big session torn down on a loaded machine): it gets six times
            // the grace before it is called hung.
            let allowed = if left_threads(&state.stacks_file).is_empty() {
                grace * SLOW_EXIT_FACTOR
            } else {
                grace
            };
            match state.hang_kill_at {
                None if now.duration_since(bye) > allowed => {
                    state.handle.signal_leader(libc::SIGUSR1);
                    state.hang_kill_at = Some(now + STACK_WAIT);
                }
                Some(at) if now >= at => {
                    // Once: SIGKILL is not refused.
                    state.bye_at = None;
                    let stacks = read_stacks(&state.stacks_file)
                        .unwrap_or_else(|| "(no stacks were written)\n".into());
                    let threads = left_threads(&state.stacks_file);
                    let named = if threads.is_empty() {
                        String::new()
                    } else {
                        format!("; threads left running: {}", threads.join(", "))
                    };
                    self.lifecycle.after_summary.push(format!(
                        "warning: worker {} did not exit within {:.1}s of its last test (exit_grace) and was killed{named}; its stacks:\n{}",
                        state.name,
                        allowed.as_secs_f64(),
                        stacks.trim_end()
                    ));
                    state.handle.signal(libc::SIGKILL);
                }
                _ => {}
            }
        }
    }

    /// The collection deadline: `collect_timeout`, else `--timeout`, else
    /// [`COLLECT_TIMEOUT`]; and the setting that set it, for the message.
    fn collect_deadline(&self) -> (std::time::Duration, &'static str) {
        match (self.config.collect_timeout, self.config.timeout) {
            (Some(d), _) => (d, "collect_timeout"),
            (None, Some(d)) => (d, "--timeout"),
            (None, None) => (COLLECT_TIMEOUT, "the default collect_timeout"),
        }
    }

    /// How long a worker may take to start (interpreter, pytest, plugins,
    /// conftests) before its hello: an explicit `collect_timeout`, else the
    /// default. Never `--timeout`, a budget per test: on a loaded machine
    /// pytest's own start-up can pass 2 s, and that is nobody's hang.
    fn startup_deadline(&self) -> (std::time::Duration, &'static str) {
        match self.config.collect_timeout {
            Some(d) => (d, "collect_timeout"),
            None => (COLLECT_TIMEOUT, "the default collect_timeout"),
        }
    }

    /// A worker whose share of files has not been collected within the
    /// deadline: its stacks name the file it hangs in, which becomes a
    /// collection error; its other files go to other workers.
    pub(super) fn enforce_collect_deadline(&mut self, reporter: &mut dyn Reporter) {
        let (deadline, _) = self.collect_deadline();
        let (startup, startup_setting) = self.startup_deadline();
        let now = Instant::now();
        for w in self.lifecycle.workers.indices() {
            let state = &mut self.lifecycle.workers[w];
            // Starting: no hello yet, however long pytest and its conftests
            // take to import.
            if state.phase == Stage::Starting && !state.stop_sent && self.end.is_none() {
                match state.collect_kill_at {
                    None if now.duration_since(state.spawned_at) > startup => {
                        state.handle.signal_leader(libc::SIGUSR1);
                        state.collect_kill_at = Some(now + STACK_WAIT);
                    }
                    Some(at) if now >= at => {
                        let stacks = read_stacks(&state.stacks_file).unwrap_or_default();
                        state.handle.signal(libc::SIGKILL);
                        let loading = stacks
                            .lines()
                            .find_map(|l| {
                                let file = l.trim().strip_prefix("File \"")?.split('"').next()?;
                                (file.ends_with("conftest.py") || !file.contains("/lib/python"))
                                    .then(|| file.to_string())
                            })
                            .unwrap_or_default();
                        self.end = Some(RunEnd::Failed(RunError::StartupHang {
                            worker: state.name.clone(),
                            seconds: startup.as_secs_f64(),
                            setting: startup_setting.to_string(),
                            loading,
                            stacks: if stacks.is_empty() {
                                "(none were written: the interpreter itself hangs)".into()
                            } else {
                                stacks
                            },
                        }));
                    }
                    _ => {}
                }
                continue;
            }
            if state.phase != Stage::Collecting || state.abandoned || state.stop_sent {
                continue;
            }
            let Some(since) = state.collect_since else {
                continue;
            };
            // The deadline is per file: from the start of the file being
            // collected (its plugin names it), or of the share.
            let mut spent = now.duration_since(since);
            if let Some(age) = std::fs::metadata(state.stacks_file.with_extension("collecting"))
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
            {
                spent = spent.min(age);
            }
            match state.collect_kill_at {
                None if spent > deadline => {
                    state.handle.signal_leader(libc::SIGUSR1);
                    state.collect_kill_at = Some(now + STACK_WAIT);
                }
                Some(at) if now >= at => self.abandon_collection(w, reporter),
                _ => {}
            }
        }
    }

    fn abandon_collection(&mut self, w: WorkerId, reporter: &mut dyn Reporter) {
        let (deadline, flag) = self.collect_deadline();
        let state = &mut self.lifecycle.workers[w];
        state.abandoned = true;
        state.handle.signal(libc::SIGKILL);
        let chunk = std::mem::take(&mut state.collect_chunk);
        let stacks = read_stacks(&state.stacks_file).unwrap_or_default();
        let name = state.name.clone();
        // The file its plugin said it was collecting; else the innermost
        // frame in one of its files (faulthandler prints the most recent
        // call first).
        let named = std::fs::read_to_string(state.stacks_file.with_extension("collecting"))
            .unwrap_or_default();
        if self.collection.whole {
            // The whole collection starts again without that file, in a
            // new collector.
            let id = named.trim().to_string();
            if self.collection.collector == Some(w) {
                self.collection.collector = None;
            }
            if id.is_empty() || self.collection.whole_ignore.contains(&id) {
                // Not in a test file, or again in one already left out: a
                // new collector would hang the same way.
                self.end = Some(RunEnd::Fallback {
                    reason: format!(
                        "collecting the run took longer than {:.1}s ({flag}) outside any test file pacer could leave out (worker {name})",
                        deadline.as_secs_f64()
                    ),
                });
                return;
            }
            let message = format!(
                "collecting {id} took longer than {:.1}s ({flag}); worker {name} was stopped",
                deadline.as_secs_f64()
            );
            reporter.report(Event::Notice { message: &message });
            self.collection.problems.push(CollectProblem {
                id: id.clone(),
                outcome: Outcome::Failed,
                longrepr: format!("{message}\n\nEvery thread's stack at the deadline:\n\n{stacks}"),
                skip: None,
            });
            self.collection.collect_timeouts += 1;
            self.collection.whole_ignore.push(id);
            return;
        }
        let hung = chunk
            .iter()
            .find(|u| self.collection.units[**u].id == named.trim())
            .or_else(|| {
                stacks.lines().find_map(|line| {
                    chunk.iter().find(|u| {
                        let arg = &self.collection.units[**u].arg;
                        line.contains(&format!("/{arg}\"")) || line.contains(&format!("\"{arg}\""))
                    })
                })
            })
            .or(chunk.first())
            .copied();
        let Some(hung) = hung else {
            return;
        };
        if let Some(mine) = self.collection.collected_units.get_mut(w) {
            mine.retain(|u| !chunk.contains(u));
        }
        for unit in chunk.iter().rev().filter(|u| **u != hung) {
            self.collection.to_collect.push_front(*unit);
        }
        let id = self.collection.units[hung].id.clone();
        let message = format!(
            "collecting {id} took longer than {:.1}s ({flag}); worker {name} was stopped",
            deadline.as_secs_f64()
        );
        reporter.report(Event::Notice { message: &message });
        self.collection.problems.push(CollectProblem {
            id,
            outcome: Outcome::Failed,
            longrepr: format!("{message}\n\nEvery thread's stack at the deadline:\n\n{stacks}"),
            skip: None,
        });
        self.collection.collect_timeouts += 1;
        self.collection.hung_units.push(hung);
    }

    /// After a worker killed for a hung collection is gone: its other files
    /// go to idle workers, or to a new one; the plan is sealed when all is in.
    fn after_collect_hang(&mut self, reporter: &mut dyn Reporter) {
        if self.dispatch.scheduler.is_some() || self.end.is_some() || self.interrupted.is_some() {
            return;
        }
        if self.collection.whole {
            let coming = self.lifecycle.workers.iter().any(|s| {
                matches!(s.phase, Stage::Starting | Stage::Collecting)
                    && !s.stop_sent
                    && !s.abandoned
            });
            if !coming {
                if let Err(err) = self.spawn_worker() {
                    self.end = Some(RunEnd::Failed(err));
                }
            }
            return;
        }
        for w in self.lifecycle.workers.indices() {
            let state = &self.lifecycle.workers[w];
            if state.phase == Stage::Ready
                && !state.stop_sent
                && !self.collection.to_collect.is_empty()
            {
                self.give_chunk(w);
            }
        }
        let coming = self
            .lifecycle
            .workers
            .iter()
            .any(|s| matches!(s.phase, Stage::Starting | Stage::Collecting));
        if !self.collection.to_collect.is_empty() && !coming && self.spawn_worker().is_err() {
            self.collection.to_collect.clear();
        }
        self.seal_when_collected(reporter);
    }

    pub(super) fn interrupt(&mut self, reporter: &mut dyn Reporter, count: usize) {
        self.interrupted = Some(StopReason::Interrupted);
        if let Some(scheduler) = self.dispatch.scheduler.as_mut() {
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
        if self.dispatch.scheduler.is_none() && count == 1 {
            // Interrupted while starting or collecting: the run ends as an
            // empty one, its reports written (the JUnit once pytest said
            // where), and names what it was stuck on.
            // A share's files; for a whole collection, the file its plugin
            // said it was collecting.
            let collecting: Vec<String> = self
                .lifecycle
                .workers
                .iter()
                .filter(|s| s.phase == Stage::Collecting && s.exit.is_none())
                .flat_map(|s| {
                    let mut ids: Vec<String> = s
                        .collect_chunk
                        .iter()
                        .map(|u| self.collection.units[*u].id.clone())
                        .collect();
                    if ids.is_empty() {
                        let file = s.stacks_file.with_extension("collecting");
                        ids.extend(
                            std::fs::read_to_string(file)
                                .ok()
                                .map(|id| id.trim().to_string())
                                .filter(|id| !id.is_empty()),
                        );
                    }
                    ids
                })
                .collect();
            let message = if collecting.is_empty() {
                "interrupted before tests started".to_string()
            } else {
                format!(
                    "interrupted before tests started, while collecting {}",
                    collecting.join(", ")
                )
            };
            reporter.report(Event::Notice { message: &message });
        }
    }

    pub(super) fn shutdown_all(&mut self, signal: i32) {
        for state in &self.lifecycle.workers {
            if state.phase != Stage::Gone {
                state.handle.signal(signal);
            }
        }
    }
}

/// What a worker's faulthandler wrote on SIGUSR1, if anything.
fn read_stacks(path: &std::path::Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .filter(|s| !s.trim().is_empty())
}

/// The threads a worker was left waiting for, named by its plugin at the
/// end of its session (one per line, next to its stacks file).
/// How many times `exit_grace` a worker gets when it left no thread running.
const SLOW_EXIT_FACTOR: u32 = 6;

fn left_threads(stacks: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(stacks.with_extension("threads"))
        .map(|s| {
            s.lines()
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}
