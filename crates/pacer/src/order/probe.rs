//! One probe: the given tests, in the given order, in one plain pytest
//! process (`python -m pytest -p no:randomly -p no:cacheprovider ... IDS`).
//! pytest runs node ids named on its command line in that order (distinct
//! files and one module's tests alike), so the command a user is given is
//! plain pytest; our `pacer_probe` plugin (on `PYTHONPATH`, loaded with
//! `-p`) only writes what ran, in which order, and how it ended, so that a
//! plugin that reorders tests is caught rather than trusted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use pacer_report::RunReport;

use crate::error::Error;
use crate::scratch::Scratch;

const PLUGIN: &str = include_str!("pacer_probe.py");

/// How a probed test ended: failed (its call, or an error in a fixture) or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Failed,
    Passed,
    /// Named, but pytest never reported it (deselected, a collection error).
    NotRun,
}

/// What one pytest process did.
#[derive(Debug, Clone)]
pub struct Probed {
    /// Each test's end, by node id.
    pub ended: HashMap<String, Ended>,
    /// The node ids in the order pytest ran them.
    pub order: Vec<String>,
    pub exit_code: Option<i32>,
    /// The end of pytest's output, for an error's message.
    pub tail: String,
}

impl Probed {
    pub fn ended(&self, test: &str) -> Ended {
        self.ended.get(test).copied().unwrap_or(Ended::NotRun)
    }
}

/// Runs probes for one project: its interpreter, folder and options.
pub struct Prober {
    pub python: PathBuf,
    /// The run's rootdir: node ids are relative to it.
    pub cwd: PathBuf,
    /// pytest's options of the recorded run that a probe keeps, after ours.
    pub options: Vec<String>,
    /// Extra environment (`PACER_TRACE_TOUCHED`, a worker's name).
    pub env: Vec<(String, String)>,
    scratch: Scratch,
    count: std::sync::atomic::AtomicUsize,
}

impl Prober {
    pub fn new(python: PathBuf, cwd: PathBuf, options: Vec<String>) -> Result<Prober, Error> {
        let scratch = Scratch::new("probe").map_err(|source| Error::Plugin { source })?;
        std::fs::write(scratch.dir().join("pacer_probe.py"), PLUGIN)
            .map_err(|source| Error::Plugin { source })?;
        Ok(Prober {
            python,
            cwd,
            options,
            env: Vec::new(),
            scratch,
            count: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// A prober for the run a report recorded: its rootdir, its pytest
    /// options (not its paths, not what would change the order or stop
    /// early), pytest-randomly's seed without its shuffling.
    pub fn for_report(
        python: PathBuf,
        report: &RunReport,
        fallback_dir: &Path,
    ) -> Result<Prober, Error> {
        let cwd = report
            .rootdir
            .as_ref()
            .map(PathBuf::from)
            .filter(|d| d.is_dir())
            .unwrap_or_else(|| fallback_dir.to_path_buf());
        Prober::new(python, cwd, options_of(report))
    }

    /// Probes run so far.
    pub fn runs(&self) -> usize {
        self.count.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The plain pytest command (shell words) that runs `tests` in order.
    pub fn command(&self, tests: &[String]) -> String {
        let mut words = vec![
            self.python.display().to_string(),
            "-m".into(),
            "pytest".into(),
        ];
        words.extend(self.options.iter().cloned());
        words.extend(tests.iter().cloned());
        words
            .iter()
            .map(|w| shell_quote(w))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Runs exactly the command [`Prober::command`] prints (no plugin of
    /// ours) and returns pytest's exit code: the proof that it fails.
    pub fn run_plain(&self, tests: &[String]) -> Result<Option<i32>, Error> {
        self.count
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let status = Command::new(&self.python)
            .args(["-m", "pytest"])
            .args(&self.options)
            .args(tests)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|source| Error::SequentialPytest {
                python: self.python.clone(),
                source,
            })?;
        Ok(status.code())
    }

    /// Runs `tests` in this order in one pytest process.
    pub fn run(&self, tests: &[String]) -> Result<Probed, Error> {
        let n = self
            .count
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let out = self.scratch.dir().join(format!("probe-{n}.jsonl"));
        let ids = self.ids_argument(tests, n)?;
        let output = Command::new(&self.python)
            .args(["-m", "pytest", "-p", "pacer_probe"])
            .args(&self.options)
            .args(&ids)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("PYTHONPATH", self.scratch.python_path())
            .env("PACER_PROBE_OUT", &out)
            .current_dir(&self.cwd)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| Error::SequentialPytest {
                python: self.python.clone(),
                source,
            })?;
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        let _ = std::fs::remove_file(&out);
        let mut ended = HashMap::new();
        let mut order = Vec::new();
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let (Some(id), Some(outcome)) = (v["id"].as_str(), v["outcome"].as_str()) else {
                continue;
            };
            if !ended.contains_key(id) {
                order.push(id.to_string());
            }
            let entry = ended.entry(id.to_string()).or_insert(Ended::Passed);
            if outcome == "failed" {
                *entry = Ended::Failed;
            }
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stdout.lines().chain(stderr.lines()).collect();
        let tail = tail[tail.len().saturating_sub(15)..].join("\n");
        Ok(Probed {
            ended,
            order,
            exit_code: output.status.code(),
            tail,
        })
    }
}

impl Prober {
    /// The node ids as arguments, or, when they would not fit on a command
    /// line (a worker's thousands of tests), pytest's `@FILE` of them.
    fn ids_argument(&self, tests: &[String], n: usize) -> Result<Vec<String>, Error> {
        let length: usize = tests.iter().map(|t| t.len() + 1).sum();
        if length < ARGS_INLINE {
            return Ok(tests.to_vec());
        }
        let path = self.scratch.dir().join(format!("ids-{n}.txt"));
        std::fs::write(&path, tests.join("\n")).map_err(|source| Error::Plugin { source })?;
        Ok(vec![format!("@{}", path.display())])
    }
}

/// Bytes of node ids passed on the command line; more go through a file
/// (Linux allows 128 KiB per argument list entry and 2 MiB in all).
const ARGS_INLINE: usize = 100_000;

/// pytest's options of the recorded run that every probe keeps: the
/// recorded arguments without the paths and node ids (the probe names its
/// tests), without what stops early or picks tests from the cache
/// (`-x`, `--lf`...), with pytest-randomly's seed and none of its shuffling.
pub fn options_of(report: &RunReport) -> Vec<String> {
    let mut options = Vec::new();
    match report.randomly_seed {
        // pytest-randomly reseeds `random` (and numpy, faker...) before
        // each test from the run's seed: the same seed, the order kept.
        Some(seed) => options.extend([
            "-p".to_string(),
            "randomly".into(),
            format!("--randomly-seed={seed}"),
            "--randomly-dont-reorganize".into(),
        ]),
        None => options.extend(["-p".to_string(), "no:randomly".into()]),
    }
    options.extend(["-p".to_string(), "no:cacheprovider".into()]);
    let mut args = report.pytest_args.iter().peekable();
    while let Some(arg) = args.next() {
        if report.pytest_paths.contains(arg) {
            continue;
        }
        let name = arg.split('=').next().unwrap_or(arg);
        let dropped = matches!(
            name,
            "-x" | "--exitfirst"
                | "--lf"
                | "--last-failed"
                | "--ff"
                | "--failed-first"
                | "--nf"
                | "--new-first"
                | "--sw"
                | "--stepwise"
                | "--stepwise-skip"
                | "--maxfail"
                | "--junitxml"
                | "--junit-xml"
                | "--randomly-seed"
                | "--randomly-dont-reorganize"
        ) || arg.starts_with("--maxfail=");
        if dropped {
            if matches!(
                name,
                "--maxfail" | "--junitxml" | "--junit-xml" | "--randomly-seed"
            ) && !arg.contains('=')
            {
                args.next();
            }
            continue;
        }
        if arg == "-p" {
            // pytest-randomly is ours to load or block; any other plugin stays.
            if let Some(next) = args.peek() {
                if next.contains("randomly") {
                    args.next();
                    continue;
                }
            }
        }
        options.push(arg.clone());
    }
    options
}

/// A word as a POSIX shell reads it back.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_with_brackets_or_spaces_are_quoted() {
        assert_eq!(shell_quote("tests/a.py::t"), "tests/a.py::t");
        assert_eq!(shell_quote("a.py::t[x y]"), "'a.py::t[x y]'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }

    #[test]
    fn the_recorded_paths_and_early_stops_are_left_out() {
        let report = RunReport {
            pytest_args: [
                "tests",
                "-x",
                "--maxfail",
                "2",
                "-p",
                "no:randomly",
                "-o",
                "x=1",
            ]
            .map(String::from)
            .to_vec(),
            pytest_paths: vec!["tests".into()],
            ..serde_json::from_str(EMPTY).unwrap()
        };
        assert_eq!(
            options_of(&report),
            ["-p", "no:randomly", "-p", "no:cacheprovider", "-o", "x=1"]
        );
        let seeded = RunReport {
            randomly_seed: Some(7),
            ..report
        };
        assert_eq!(
            options_of(&seeded)[..4],
            [
                "-p",
                "randomly",
                "--randomly-seed=7",
                "--randomly-dont-reorganize"
            ]
        );
    }

    #[test]
    fn a_long_list_of_node_ids_goes_through_pytests_args_file() {
        let prober = Prober::new("python3".into(), ".".into(), Vec::new()).unwrap();
        let few = vec!["a.py::t".to_string()];
        assert_eq!(prober.ids_argument(&few, 0).unwrap(), few);
        let many: Vec<String> = (0..5000)
            .map(|i| format!("tests/test_{i}.py::test_x[{i}]"))
            .collect();
        let args = prober.ids_argument(&many, 1).unwrap();
        assert_eq!(args.len(), 1);
        let file = args[0].strip_prefix('@').expect("an @FILE argument");
        let written = std::fs::read_to_string(file).unwrap();
        assert_eq!(written.lines().collect::<Vec<_>>(), many);
    }

    const EMPTY: &str = r#"{"schema":"pacer-run-report","version":1,"pacer":"0","started_at":null,
        "python":null,"pytest":null,"rootdir":null,"workers":1,"elapsed":0,"exit_code":0,
        "stopped":null,"interrupted":null,"counts":{},"not_run":0,"deselected":0,
        "categories":[],"lanes":[],"tests":[],"collection":[],"upstreams":[]}"#;
}
