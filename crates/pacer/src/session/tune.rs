//! From pytest's parsed options to the run's shape.
//!
//! The first worker reports what pytest's own parser made of the command
//! line, `addopts` and the ini (`PytestOptions`); this decides what pacer
//! does with it for the whole run: the workers (xdist's `-n`, `--dist`,
//! `--maxprocesses`, unless pacer's own setting says), `-x`/`--maxfail`,
//! `-s`, and the recorded durations and last failures from pytest's cache
//! folder. Nothing pytest says is dropped without a word: an option pacer
//! maps to something else gets a one-line note.

use std::path::PathBuf;

use pacer_runner::events::{PytestOptions, WaitWorkers};
use pacer_runner::plan::Dist;
use pacer_runner::pool::{Tune, Tuning};

use super::wait_pool;
use crate::store::{cpu_times, durations, lastfailed};

/// What the binary knows before any worker answers.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// Workers as pacer's settings give them (cores by default).
    pub workers: usize,
    /// Whether a pacer flag, variable or file set the workers (or
    /// `--sequential`): then pytest's `-n` is not asked.
    pub workers_set_by_pacer: bool,
    pub cores: usize,
    /// pacer's own `--dist` and `--maxprocesses`, which win over pytest's.
    pub dist: Option<String>,
    pub maxprocesses: Option<usize>,
    pub durations_file: PathBuf,
    /// The run is one shard: its parts are cut by the recorded durations,
    /// whatever the workers.
    pub shard: bool,
    /// The 429 rerun: one worker, pytest's order, no maxfail or last-failed.
    pub fixed: bool,
    /// pacer's `workers` is `"auto"` (the default): the pool may grow
    /// beyond the cores for tests that wait (`wait_pool.rs`).
    pub auto: bool,
    /// `max_wait_workers`: at most this many workers beyond the cores.
    pub max_wait_workers: usize,
    /// The `cpu` categories, whose caps follow the pool when it grows
    /// (`wait_pool::plan`), and the `io` ones' names, which keep theirs.
    pub cpu_categories: Vec<wait_pool::CpuCategory>,
    pub io_categories: Vec<String>,
}

pub fn tuner(inputs: Inputs) -> Tune {
    Box::new(move |hello| tune(&inputs, &hello.options))
}

fn tune(inputs: &Inputs, options: &PytestOptions) -> Tuning {
    if options.collectonly {
        return delegate("`--collect-only` runs no tests: plain pytest answers it");
    }
    if options.looponfail {
        return delegate(
            "`--looponfail` watches files and reruns: plain pytest (pytest-xdist) does it",
        );
    }
    if options.pdb {
        return delegate("`--pdb`/`--trace` need the terminal: running plain pytest, sequentially");
    }
    if let Some(path) = &options.xmlpath {
        if let Err(e) = pacer_report::junit::check_writable(std::path::Path::new(path)) {
            return Tuning {
                refuse: Some(format!(
                    "error: --junitxml: {e}\n\nhint: pass pytest's --junitxml a file path in a writable folder"
                )),
                ..Tuning::default()
            };
        }
    }
    let mut tuning = Tuning {
        live_output: options.capture == "no",
        continue_on_collection_errors: options.continue_on_collection_errors,
        ..Tuning::default()
    };
    let workers = if inputs.fixed {
        1
    } else {
        let (workers, mut notes) = workers(inputs, options);
        if options.remote {
            notes.push(
                "`--tx`/`--px`/`--rsyncdir` are not supported: pacer runs its workers on this machine"
                    .to_string(),
            );
        }
        tuning.notes = notes;
        tuning.dist = match inputs.dist.as_deref().or(options.dist.as_deref()) {
            Some("loadfile") => Some(Dist::LoadFile),
            Some("loadscope") => Some(Dist::LoadScope),
            Some("loadgroup") => Some(Dist::LoadGroup),
            _ => None,
        };
        let workers = match grow_for_waiting(inputs, options, workers) {
            Waiting::Sized(plan) => {
                let grown = workers + plan.wait.extra;
                tuning.caps = plan.caps;
                tuning.wait = Some(plan.wait);
                grown
            }
            Waiting::GrowAsTestsEnd => {
                tuning.grow = Some(grow_as_tests_end(inputs));
                workers
            }
            Waiting::Keep => workers,
        };
        if workers != inputs.workers {
            tuning.workers = Some(workers);
        }
        tuning.maxfail = (options.maxfail > 0).then_some(options.maxfail);
        workers
    };
    let cache_dir = options.cache_dir.as_ref().map(PathBuf::from);
    // One worker runs in pytest's order, as `--sequential` promises, but
    // a shard is still cut by time. Without pytest's cache (`-p
    // no:cacheprovider`) pytest-split's file still counts.
    if workers > 1 || inputs.shard {
        tuning.durations = durations::load(&inputs.durations_file, cache_dir.as_deref());
    }
    if let Some(cache) = &cache_dir {
        if !inputs.fixed {
            tuning.last_failed = lastfailed::last_failed(options, cache);
        }
    }
    tuning
}

/// What `auto` workers become for tests that wait.
enum Waiting {
    /// The recorded CPU times call for extra workers from the start.
    Sized(wait_pool::Plan),
    /// Nothing recorded: the run starts at the cores and grows as its
    /// tests report their CPU (a first run, or pytest's cache turned off).
    GrowAsTestsEnd,
    /// The cores: a fixed count, a cap, or a record of tests that compute.
    Keep,
}

/// The workers beyond the cores for tests that wait, when the workers are
/// pacer's `auto` (or pytest's `-n auto`) and nothing caps them.
fn grow_for_waiting(inputs: &Inputs, options: &PytestOptions, workers: usize) -> Waiting {
    let pytest_fixed = !inputs.workers_set_by_pacer
        && options
            .numprocesses
            .as_deref()
            .is_some_and(|n| !matches!(n, "auto" | "logical"));
    let capped = inputs.maxprocesses.or(options.maxprocesses).is_some();
    if !inputs.auto
        || pytest_fixed
        || capped
        || workers != inputs.cores
        || workers < 1
        || inputs.max_wait_workers == 0
    {
        return Waiting::Keep;
    }
    let Some(cache) = options.cache_dir.as_ref() else {
        return Waiting::GrowAsTestsEnd;
    };
    let records = cpu_times::load(std::path::Path::new(cache));
    match wait_pool::plan(
        inputs.cores,
        inputs.max_wait_workers,
        &records,
        &inputs.io_categories,
        &inputs.cpu_categories,
    ) {
        None => Waiting::GrowAsTestsEnd,
        Some(plan) if plan.wait.extra > 0 => Waiting::Sized(plan),
        Some(_) => Waiting::Keep,
    }
}

/// The rule a run with nothing recorded grows by: the one that sizes a
/// recorded run (`wait_pool::size`), over the tests that ended so far, so
/// that each extra worker still needs a second of waiting seen; the `cpu`
/// categories whose cap is the workers follow the pool.
fn grow_as_tests_end(inputs: &Inputs) -> pacer_runner::pool::Grow {
    let (cores, cap) = (inputs.cores, inputs.max_wait_workers);
    let follow: Vec<usize> = inputs
        .cpu_categories
        .iter()
        .filter(|c| c.cap.is_none())
        .map(|c| c.index)
        .collect();
    let followed = follow.clone();
    pacer_runner::pool::Grow {
        size: Box::new(move |seen| {
            let wait = wait_pool::size(cores, cap, seen.iter().map(|(_, t)| *t))?;
            let grown = wait.cores + wait.extra;
            // A category whose tests compute keeps to the cores, whatever
            // the others do: its own share bounds it, as on a recorded run.
            let caps = followed
                .iter()
                .map(|&c| {
                    let own = seen.iter().filter(|(i, _)| *i == c).map(|(_, t)| *t);
                    (c, wait_pool::bound(cores, grown, own))
                })
                .collect();
            Some((
                WaitWorkers {
                    grown: true,
                    ..wait
                },
                caps,
            ))
        }),
        follow,
    }
}

/// What `pacer config` says of the workers: the resolved count and why,
/// from the record in `cache_dir` (pytest's cache folder).
pub fn explain_workers(
    cores: usize,
    max_wait_workers: usize,
    io_categories: &[String],
    cache_dir: &std::path::Path,
) -> String {
    let records = cpu_times::load(cache_dir);
    let plan = wait_pool::plan(cores, max_wait_workers, &records, io_categories, &[]);
    match plan.map(|p| p.wait) {
        None => format!(
            "{cores} (the cores; no CPU times recorded yet in {}: the next run records them)",
            cache_dir.display()
        ),
        Some(w) if w.extra > 0 => format!(
            "{}: {}",
            cores + w.extra,
            w.line()
                .replacen(&format!("{cores} workers"), "the cores", 1)
                + "; "
                + &w.why
        ),
        Some(w) => format!("{cores} (the cores: {})", w.why),
    }
}

fn delegate(reason: &str) -> Tuning {
    Tuning {
        delegate: Some(reason.to_string()),
        ..Tuning::default()
    }
}

/// Workers for the run, and what pacer says about xdist's options.
fn workers(inputs: &Inputs, options: &PytestOptions) -> (usize, Vec<String>) {
    let mut notes = Vec::new();
    let mut workers = inputs.workers;
    if !inputs.workers_set_by_pacer {
        if let Some(n) = &options.numprocesses {
            workers = match n.as_str() {
                "auto" | "logical" => inputs.cores,
                // xdist's `-n 0` runs in the main process, in order.
                other => other.parse::<usize>().map_or(workers, |n| n.max(1)),
            };
        }
    }
    let dist = inputs.dist.as_deref().or(options.dist.as_deref());
    match dist {
        // pytest's `--dist` defaults to `no`, so only pacer's flag means it.
        Some("no") if inputs.dist.is_some() => workers = 1,
        Some("each") => notes.push(
            "`--dist each` is not supported: pacer runs every test once, spread over the workers"
                .to_string(),
        ),
        _ => {}
    }
    if let Some(max) = inputs.maxprocesses.or(options.maxprocesses) {
        workers = workers.min(max.max(1));
    }
    (workers.max(1), notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> Inputs {
        Inputs {
            workers: 2,
            workers_set_by_pacer: false,
            cores: 2,
            dist: None,
            maxprocesses: None,
            durations_file: PathBuf::from("/nonexistent/.test_durations"),
            shard: false,
            fixed: false,
            auto: false,
            max_wait_workers: 6,
            cpu_categories: vec![wait_pool::CpuCategory {
                index: 0,
                name: "default".into(),
                cap: None,
            }],
            io_categories: vec![],
        }
    }

    fn options(f: impl FnOnce(&mut PytestOptions)) -> PytestOptions {
        let mut o = PytestOptions::default();
        f(&mut o);
        o
    }

    #[test]
    fn xdists_numprocesses_sets_the_workers_unless_pacer_does() {
        let o = options(|o| o.numprocesses = Some("4".into()));
        assert_eq!(tune(&inputs(), &o).workers, Some(4));
        let pinned = Inputs {
            workers_set_by_pacer: true,
            ..inputs()
        };
        assert_eq!(tune(&pinned, &o).workers, None);
        let auto = options(|o| o.numprocesses = Some("auto".into()));
        assert_eq!(tune(&inputs(), &auto).workers, None, "auto is the cores");
        let zero = options(|o| o.numprocesses = Some("0".into()));
        assert_eq!(tune(&inputs(), &zero).workers, Some(1));
    }

    #[test]
    fn maxprocesses_caps_and_pacers_dist_no_is_sequential() {
        let o = options(|o| {
            o.numprocesses = Some("8".into());
            o.maxprocesses = Some(3);
        });
        assert_eq!(tune(&inputs(), &o).workers, Some(3));
        let dist_no = Inputs {
            dist: Some("no".into()),
            ..inputs()
        };
        assert_eq!(tune(&dist_no, &PytestOptions::default()).workers, Some(1));
        // pytest's own default `--dist no` means nothing.
        let o = options(|o| o.dist = Some("no".into()));
        assert_eq!(tune(&inputs(), &o).workers, None);
    }

    #[test]
    fn maxfail_and_capture_come_from_pytest() {
        let o = options(|o| {
            o.maxfail = 1;
            o.capture = "no".into();
        });
        let t = tune(&inputs(), &o);
        assert_eq!(t.maxfail, Some(1));
        assert!(t.live_output);
        assert_eq!(tune(&inputs(), &PytestOptions::default()).maxfail, None);
    }

    #[test]
    fn listing_and_debugging_go_to_plain_pytest() {
        let o = options(|o| o.collectonly = true);
        assert!(tune(&inputs(), &o).delegate.is_some());
        let o = options(|o| o.pdb = true);
        assert!(tune(&inputs(), &o).delegate.is_some());
    }

    #[test]
    fn dist_modes_map_to_pacers_scheduling() {
        for (mode, dist) in [
            ("loadfile", Some(Dist::LoadFile)),
            ("loadscope", Some(Dist::LoadScope)),
            ("loadgroup", Some(Dist::LoadGroup)),
            ("worksteal", None),
            ("load", None),
        ] {
            let o = options(|o| o.dist = Some(mode.into()));
            assert_eq!(tune(&inputs(), &o).dist, dist, "{mode}");
        }
        let flag = Inputs {
            dist: Some("loadfile".into()),
            ..inputs()
        };
        let o = options(|o| o.dist = Some("loadscope".into()));
        assert_eq!(
            tune(&flag, &o).dist,
            Some(Dist::LoadFile),
            "pacer's flag wins"
        );
    }

    #[test]
    fn remote_workers_are_named_and_looponfail_goes_to_pytest() {
        let o = options(|o| o.remote = true);
        assert_eq!(tune(&inputs(), &o).notes.len(), 1);
        let o = options(|o| o.looponfail = true);
        assert!(tune(&inputs(), &o).delegate.is_some());
    }

    #[test]
    fn a_shard_is_cut_by_recorded_durations_even_on_one_worker() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(".test_durations");
        std::fs::write(&file, r#"{"t.py::a": 2.5}"#).unwrap();
        let one = Inputs {
            workers: 1,
            workers_set_by_pacer: true,
            durations_file: file,
            ..inputs()
        };
        let o = PytestOptions::default();
        assert!(
            tune(&one, &o).durations.is_empty(),
            "pytest's order: no weights"
        );
        let shard = Inputs { shard: true, ..one };
        assert_eq!(tune(&shard, &o).durations.get("t.py::a"), Some(&2.5));
    }

    #[test]
    fn dist_each_is_named() {
        let o = options(|o| o.dist = Some("each".into()));
        assert_eq!(tune(&inputs(), &o).notes.len(), 1);
    }

    #[test]
    fn auto_workers_grow_for_recorded_waiting_and_a_count_does_not() {
        let cache = tempfile::tempdir().unwrap();
        let sleeping: Vec<(String, String, pacer_runner::events::CpuTime)> = (0..10)
            .map(|i| {
                let t = pacer_runner::events::CpuTime {
                    wall: 1.0,
                    cpu: 0.01,
                    queued: 0.0,
                };
                (format!("t.py::test_{i}"), "default".to_string(), t)
            })
            .collect();
        cpu_times::save(cache.path(), &sleeping);
        let with_cache = options(|o| o.cache_dir = Some(cache.path().display().to_string()));
        let auto = Inputs {
            auto: true,
            ..inputs()
        };
        let tuning = tune(&auto, &with_cache);
        assert_eq!(tuning.workers, Some(8), "2 cores + the cap of 6");
        assert_eq!(tuning.caps, vec![(0, 8)]);
        assert_eq!(tuning.wait.as_ref().map(|w| w.extra), Some(6));
        // A count, pytest's `-n 3`, `--maxprocesses` or no record: the cores.
        assert_eq!(tune(&inputs(), &with_cache).workers, None);
        let n3 = options(|o| {
            o.cache_dir = Some(cache.path().display().to_string());
            o.numprocesses = Some("3".into());
        });
        assert_eq!(tune(&auto, &n3).workers, Some(3));
        let capped = Inputs {
            maxprocesses: Some(2),
            ..auto.clone()
        };
        assert_eq!(tune(&capped, &with_cache).workers, None);
        assert_eq!(tune(&auto, &PytestOptions::default()).workers, None);
        // A record sizes the run at its start: nothing grows during it.
        assert!(tuning.grow.is_none());
    }

    #[test]
    fn a_first_run_grows_as_its_tests_end_and_a_recorded_computing_suite_does_not() {
        let empty = tempfile::tempdir().unwrap();
        let with_empty = options(|o| o.cache_dir = Some(empty.path().display().to_string()));
        let auto = Inputs {
            auto: true,
            ..inputs()
        };
        let first = tune(&auto, &with_empty);
        assert_eq!(first.workers, None, "it starts at the cores");
        let mut grow = first.grow.expect("nothing recorded: it grows");
        assert_eq!(grow.follow, vec![0], "the default category follows");
        let waited = pacer_runner::events::CpuTime {
            wall: 3.5,
            cpu: 0.1,
            queued: 0.0,
        };
        let (wait, caps) = (grow.size)(&[(0, waited)]).expect("a size");
        assert!(wait.grown);
        assert_eq!(wait.extra, 3, "one extra per second of waiting seen");
        assert_eq!(caps, vec![(0, 5)], "the default category follows the pool");
        // A computing category keeps to the cores while the pool grows for
        // the other's waiting.
        let computed = pacer_runner::events::CpuTime {
            wall: 1.0,
            cpu: 1.0,
            queued: 0.0,
        };
        let two = Inputs {
            cpu_categories: vec![
                wait_pool::CpuCategory {
                    index: 0,
                    name: "default".into(),
                    cap: None,
                },
                wait_pool::CpuCategory {
                    index: 1,
                    name: "compute".into(),
                    cap: None,
                },
            ],
            ..auto.clone()
        };
        let mut grow2 = tune(&two, &with_empty).grow.unwrap();
        let (_, caps) = (grow2.size)(&[(0, waited), (1, computed)]).unwrap();
        assert_eq!(caps, vec![(0, 5), (1, 2)]);
        // pytest's cache off: nothing can be recorded, every run grows.
        assert!(tune(&auto, &PytestOptions::default()).grow.is_some());
        // Not for a count, nor with max_wait_workers = 0.
        assert!(tune(&inputs(), &with_empty).grow.is_none());
        let none = Inputs {
            max_wait_workers: 0,
            ..auto.clone()
        };
        assert!(tune(&none, &with_empty).grow.is_none());
        // A record of tests that compute keeps the cores, growing nothing.
        let computing: Vec<(String, String, pacer_runner::events::CpuTime)> = (0..10)
            .map(|i| {
                let t = pacer_runner::events::CpuTime {
                    wall: 1.0,
                    cpu: 0.99,
                    queued: 0.0,
                };
                (format!("t.py::test_{i}"), "default".to_string(), t)
            })
            .collect();
        cpu_times::save(empty.path(), &computing);
        let recorded = tune(&auto, &with_empty);
        assert!(recorded.grow.is_none() && recorded.workers.is_none());
    }
}
