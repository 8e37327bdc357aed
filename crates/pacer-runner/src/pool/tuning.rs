//! The run's shape once pytest has said what its command line means.
//!
//! pacer starts its first workers before it knows pytest's options (they
//! come from pytest's own parser, with the project's plugins, `addopts` and
//! ini, in the first worker's `hello`). The binary turns them into a
//! [`Tuning`] (it reads the cache files that go with them); the pool applies
//! it before discovery starts, so nothing has been handed out yet.

use super::*;

/// What the binary decides from pytest's options.
#[derive(Debug, Default)]
pub struct Tuning {
    /// Workers for cpu-bound tests, when pytest's `-n` sets them.
    pub workers: Option<usize>,
    pub maxfail: Option<usize>,
    /// `-s`: show worker output live.
    pub live_output: bool,
    pub continue_on_collection_errors: bool,
    pub durations: HashMap<String, f64>,
    pub last_failed: Option<LastFailed>,
    /// pytest-xdist's `--dist` mode, when one was asked for.
    pub dist: Option<crate::plan::Dist>,
    /// Hand the whole run to plain pytest (`--collect-only`, `--pdb`), saying why.
    pub delegate: Option<String>,
    /// A usage error found in pytest's options: the run ends before any test.
    pub refuse: Option<String>,
    /// One line for the user (what pacer does instead of an option it maps).
    pub notes: Vec<String>,
    /// Categories (by index) whose cap follows the workers, with their new
    /// cap, when `wait` grew the pool.
    pub caps: Vec<(usize, usize)>,
    /// With `workers = "auto"`: the workers beyond the cores for tests that
    /// wait, as the recorded CPU times size them (already in `workers`).
    pub wait: Option<crate::events::WaitWorkers>,
    /// With `workers = "auto"` and no CPU times recorded: the rule that
    /// grows the pool as the tests report theirs (`growth.rs`).
    pub grow: Option<super::Grow>,
}

/// Called once, with the first worker's hello.
pub type Tune = Box<dyn FnMut(&Hello) -> Tuning + Send>;

impl Pool {
    /// Applies the binary's decision; false when the run is handed to pytest.
    pub(super) fn apply_tuning(
        &mut self,
        w: WorkerId,
        hello: &Hello,
        reporter: &mut dyn Reporter,
    ) -> bool {
        let Some(mut tune) = self.config.tune.take() else {
            return true;
        };
        let tuning = tune(hello);
        if let Some(message) = tuning.refuse {
            self.end = Some(RunEnd::Failed(RunError::Refused { message }));
            return false;
        }
        if let Some(reason) = tuning.delegate {
            self.end = Some(RunEnd::Delegate { reason });
            return false;
        }
        for message in &tuning.notes {
            reporter.report(Event::Notice { message });
        }
        if let Some(wait) = tuning.wait.as_ref().filter(|w| w.extra > 0) {
            reporter.report(Event::WaitWorkers { wait });
        }
        self.dispatch.growth = tuning.grow.map(super::growth::Growth::new);
        for (category, cap) in tuning.caps {
            if let Some(spec) = self.config.categories.get_mut(category) {
                spec.slots.cap = cap.max(1);
            }
        }
        self.config.maxfail = tuning.maxfail;
        self.config.live_output = tuning.live_output;
        self.config.continue_on_collection_errors = tuning.continue_on_collection_errors;
        self.config.durations = tuning.durations;
        self.config.last_failed = tuning.last_failed;
        if let Some(dist) = tuning.dist {
            self.config.dist = dist;
        }
        if let Some(workers) = tuning.workers {
            self.resize(w, workers.max(1));
        }
        true
    }

    /// Starts or stops workers so that `workers` run cpu-bound tests. Only
    /// before discovery: no worker holds anything yet.
    fn resize(&mut self, first: WorkerId, workers: usize) {
        let running: Vec<WorkerId> = self
            .lifecycle
            .workers
            .indices()
            .filter(|w| {
                !matches!(
                    self.lifecycle.workers[*w].phase,
                    Stage::Zygote | Stage::Gone
                )
            })
            .collect();
        let have = running.len() + self.lifecycle.forks_wanted;
        self.debug(|| format!("pytest's options ask for {workers} workers (had {have})"));
        self.config.workers = workers;
        // Beyond the cores, workers are added once the plan says how many
        // tests can run at once (`spawn_io_workers`).
        let fresh = self.config.fresh_workers.max(1);
        if workers > have {
            for _ in have..workers.min(fresh.max(have)) {
                if self.add_worker().is_err() {
                    break;
                }
            }
        } else {
            let mut extra = have - workers;
            let wanted = self.lifecycle.forks_wanted.min(extra);
            self.lifecycle.forks_wanted -= wanted;
            extra -= wanted;
            // The last started go first; the one that answered first discovers.
            for w in running
                .into_iter()
                .rev()
                .filter(|w| *w != first)
                .take(extra)
            {
                self.stop_worker(w);
            }
        }
    }
}
