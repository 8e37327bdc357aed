//! [`Settings`]: every source merged into one immutable value.
//!
//! Precedence, per setting: flag > environment > config file > default.
//! "Environment" is the process environment with `[tool.pytest_env]` applied
//! on top as pytest-env would (see [`crate::pytest_env`]); within it a
//! `PACER_*` name beats its `PYTEST_*` twin. Every layer that sets a value
//! is validated, even one a higher layer overrides: a broken
//! `PYTEST_WORKERS` in CI is reported even when `--workers` hides it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::category::{
    builtin_categories, default_category, Categories, Category, DEFAULT_CATEGORY,
};
use crate::ci::{parse_run_id, parse_shard, shard_from_splits, Shard};
use crate::cli::{flags, CliOverrides, RateLimitOverrides};
use crate::env::{self, Env, EnvVar};
use crate::error::SettingsError;
use crate::fallback::FallbackThreshold;
use crate::file_config::{parse_collection, parse_flaky_result, CategoryPatch, FileConfig};
use crate::project::ProjectFiles;
use crate::pytest_env::{read_entries, Overlay, WorkerEnvVar};
use crate::rate_limit::{
    check_url, duplicate_upstream_notes, parse_upstream_flag, resolve_layers, RateLimit,
    RateLimitLayer, RateLimitSources, Upstream,
};
use crate::source::{first_of, Source, Sourced};
use crate::suggest::closest;
use crate::toml_reader::TomlFile;
use crate::values::{parse_bool, parse_seconds, parse_u32, sourced};
use crate::workers::Workers;
use pacer_types::{Collection, FlakyResult};

/// Which categories a run selects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// Every category, `default` included (`--all`, or no category flag).
    All,
    /// Only these, in the order the flags named them, without duplicates.
    Only(Vec<String>),
}

/// Reruns of failing tests (pytest-rerunfailures' meaning) and whether a
/// test that passed on a rerun fails the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reruns {
    /// Reruns per failing test (0: none).
    pub count: Sourced<u32>,
    /// Wait before each rerun.
    pub delay: Sourced<Duration>,
    pub flaky_result: Sourced<FlakyResult>,
    /// `reruns` of a `[categories.NAME]` table, overriding `count` for its tests.
    pub per_category: Vec<(String, Sourced<u32>)>,
}

impl Reruns {
    /// Reruns for the tests of `category`.
    pub fn for_category(&self, category: &str) -> u32 {
        self.per_category
            .iter()
            .find(|(name, _)| name == category)
            .map_or(self.count.value, |(_, n)| n.value)
    }
}

/// The config file pacer's own settings were read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigFile {
    pub path: PathBuf,
    /// The dotted prefix of pacer's keys in it: `tool.pacer` or empty.
    pub prefix: String,
}

/// The resolved configuration. Built once by [`Settings::resolve`]; read-only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    pub(crate) project_root: PathBuf,
    pub(crate) config_file: Option<ConfigFile>,
    pub(crate) notes: Vec<String>,
    pub(crate) cores: usize,
    pub(crate) workers: Sourced<Workers>,
    /// `workers` on these cores, counted once when resolving.
    pub(crate) worker_count: usize,
    pub(crate) sequential: Sourced<bool>,
    pub(crate) python: Sourced<PathBuf>,
    pub(crate) debug: Sourced<bool>,
    pub(crate) trace_touched: Sourced<bool>,
    pub(crate) fork: Sourced<bool>,
    pub(crate) fresh_workers: Sourced<u32>,
    pub(crate) collection: Sourced<Collection>,
    pub(crate) max_worker_restart: Sourced<u32>,
    pub(crate) max_wait_workers: Sourced<u32>,
    pub(crate) fallback: Sourced<bool>,
    pub(crate) fallback_threshold: Sourced<FallbackThreshold>,
    pub(crate) durations_file: Sourced<PathBuf>,
    pub(crate) timeout: Sourced<Option<Duration>>,
    pub(crate) collect_timeout: Sourced<Option<Duration>>,
    pub(crate) exit_grace: Sourced<Duration>,
    pub(crate) reruns: Reruns,
    pub(crate) pytest_args: Sourced<Vec<String>>,
    pub(crate) selection: Sourced<Selection>,
    pub(crate) rate_limit_enabled: Sourced<bool>,
    pub(crate) rate_limit: RateLimit,
    pub(crate) rate_limit_sources: RateLimitSources,
    pub(crate) upstreams: Vec<Upstream>,
    pub(crate) categories: Categories,
    pub(crate) worker_env: Vec<WorkerEnvVar>,
    pub(crate) shard: Sourced<Option<Shard>>,
    pub(crate) run_id: Sourced<Option<String>>,
    pub(crate) changed: Sourced<Option<String>>,
    pub(crate) changed_always: Sourced<Vec<String>>,
}

fn cli_raw(value: &Option<String>, flag: &str) -> Option<(String, Source)> {
    value.as_ref().map(|v| (v.clone(), Source::flag(flag)))
}

fn cli_switch(on: bool, value: bool, flag: &str) -> Option<Sourced<bool>> {
    on.then(|| Sourced::new(value, Source::flag(flag)))
}

/// The environment as the workers will see it, read by [`EnvVar`].
struct EnvReader<'a> {
    overlay: Overlay<'a>,
}

impl EnvReader<'_> {
    fn raw(&self, var: &EnvVar) -> Option<(String, Source)> {
        var.names().find_map(|name| self.overlay.lookup(name))
    }

    fn get<T>(
        &self,
        var: &EnvVar,
        parse: impl FnOnce(&str, &Source) -> Result<T, SettingsError>,
    ) -> Result<Option<Sourced<T>>, SettingsError> {
        sourced(self.raw(var), parse)
    }

    fn bool(&self, var: &EnvVar) -> Result<Option<Sourced<bool>>, SettingsError> {
        self.get(var, |t, o| parse_bool(t, var.setting, o))
    }
}

fn parse_timeout(text: &str, origin: &Source) -> Result<Option<Duration>, SettingsError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "none" | "off" | "" => Ok(None),
        _ => parse_seconds(text, "timeout", origin).map(|d| (!d.is_zero()).then_some(d)),
    }
}

/// The flags' layer: the flags that take text, then `--adaptive` /
/// `--no-adaptive`.
fn cli_limits(o: &RateLimitOverrides) -> Result<RateLimitLayer, SettingsError> {
    let adaptive = o.adaptive.map(|on| {
        Sourced::new(
            on,
            Source::flag(if on {
                flags::ADAPTIVE
            } else {
                flags::NO_ADAPTIVE
            }),
        )
    });
    let mut layer = RateLimitLayer::from_flags(o)?;
    layer.adaptive = adaptive;
    Ok(layer)
}

/// The environment's layer: `PACER_ADAPTIVE` first, then the variables
/// that take text.
fn env_limits(env: &EnvReader<'_>) -> Result<RateLimitLayer, SettingsError> {
    let adaptive = env.bool(&env::ADAPTIVE)?;
    let mut layer = RateLimitLayer::from_env(|var| env.raw(var))?;
    layer.adaptive = adaptive;
    Ok(layer)
}

/// The parsed config files of a project.
struct ParsedFiles {
    pacer_toml: Option<TomlFile>,
    pyproject: Option<TomlFile>,
    notes: Vec<String>,
}

/// Reads and parses the config files of the project.
fn read_files(files: &ProjectFiles) -> Result<ParsedFiles, SettingsError> {
    let pyproject = files.pyproject.as_deref().map(TomlFile::read).transpose()?;
    let pacer_toml = files
        .pacer_toml
        .as_deref()
        .map(TomlFile::read)
        .transpose()?;
    let mut notes = Vec::new();
    if let (Some(_), Some(py)) = (&pacer_toml, &pyproject) {
        let has_section = py
            .root()
            .table("tool")
            .ok()
            .flatten()
            .is_some_and(|t| t.raw("pacer").is_some());
        if has_section {
            notes.push(
                "[tool.pacer] in pyproject.toml is ignored: pacer.toml takes precedence"
                    .to_string(),
            );
        }
    }
    Ok(ParsedFiles {
        pacer_toml,
        pyproject,
        notes,
    })
}

fn apply_patch(cat: &mut Category, patch: &CategoryPatch) {
    if let Some(d) = &patch.description {
        cat.description = d.value.clone();
    }
    if let Some(p) = &patch.paths {
        cat.paths = p.value.clone();
        cat.sources.paths = p.source.clone();
    }
    if let Some(m) = &patch.markers {
        cat.markers = m.value.clone();
        cat.sources.markers = m.source.clone();
    }
    if let Some(w) = &patch.max_workers {
        cat.max_workers = w.value;
        cat.sources.max_workers = w.source.clone();
    }
    if let Some(k) = &patch.kind {
        cat.kind = k.value;
        cat.sources.kind = k.source.clone();
    }
    if let Some(r) = &patch.rate_limited {
        cat.rate_limited = r.value;
        cat.sources.rate_limited = r.source.clone();
    }
    if let Some(e) = &patch.exclusive {
        cat.exclusive = e.value;
        cat.sources.exclusive = e.source.clone();
    }
    if let Some(o) = &patch.order {
        cat.order = o.value;
        cat.sources.order = o.source.clone();
    }
}

fn resolve_categories(
    patches: &[CategoryPatch],
    workers: usize,
) -> Result<Categories, SettingsError> {
    let mut list = builtin_categories();
    let mut default = default_category(workers);
    let mut next_order = list.iter().map(|c| c.order).max().unwrap_or(0);
    for patch in patches {
        let origin = patch.source.clone().unwrap_or(Source::Default);
        if patch.name == DEFAULT_CATEGORY {
            if patch.paths.is_some() || patch.markers.is_some() || patch.order.is_some() {
                return Err(SettingsError::BadSelector {
                    name: patch.name.clone(),
                    origin: Box::new(origin),
                    problem: "`default` takes no `paths`, `markers` or `order`: it holds whatever no other category selects",
                    fix: "set only max_workers, kind, rate_limited, exclusive or description for `default`, or define a new category",
                });
            }
            apply_patch(&mut default, patch);
        } else if let Some(cat) = list.iter_mut().find(|c| c.name == patch.name) {
            apply_patch(cat, patch);
        } else {
            next_order += 10;
            let mut cat = Category::new_project(&patch.name, workers, next_order);
            apply_patch(&mut cat, patch);
            if cat.paths.is_empty() && cat.markers.is_empty() {
                return Err(SettingsError::BadSelector {
                    name: patch.name.clone(),
                    origin: Box::new(origin),
                    problem: "a new category needs a selector",
                    fix: "add `paths = [\"tests/NAME/\"]` and/or `markers = [\"NAME\"]`",
                });
            }
            list.push(cat);
        }
    }
    Ok(Categories::new(list, default))
}

fn resolve_selection(
    cli: &CliOverrides,
    categories: &Categories,
) -> Result<Sourced<Selection>, SettingsError> {
    if cli.all {
        return Ok(Sourced::new(Selection::All, Source::flag("--all")));
    }
    let named = [
        (cli.unit, "unit", "--unit"),
        (cli.models, "models", "--models"),
        (cli.integration, "integration", "--integration"),
        (cli.end_to_end, "end-to-end", "--end-to-end"),
        (cli.live, "live", "--live"),
    ];
    let mut picked: Vec<(String, &str)> = named
        .iter()
        .filter(|(on, _, _)| *on)
        .map(|(_, name, flag)| (name.to_string(), *flag))
        .collect();
    picked.extend(
        cli.categories
            .iter()
            .map(|n| (n.trim().to_string(), flags::CATEGORY)),
    );
    if picked.is_empty() {
        return Ok(Sourced::default(Selection::All));
    }
    let valid = categories.names();
    let mut names: Vec<String> = Vec::new();
    for (name, flag) in &picked {
        if categories.get(name).is_none() {
            return Err(SettingsError::UnknownCategory {
                name: name.clone(),
                origin: Box::new(Source::flag(flag)),
                suggestion: closest(name, valid.iter()),
                valid,
            });
        }
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    let flag_list: Vec<&str> = picked.iter().map(|(_, f)| *f).collect::<Vec<_>>();
    let mut shown: Vec<&str> = Vec::new();
    for f in flag_list {
        if !shown.contains(&f) {
            shown.push(f);
        }
    }
    Ok(Sourced::new(
        Selection::Only(names),
        Source::flag(&shown.join(" ")),
    ))
}

fn venv_python(dir: &Path) -> PathBuf {
    if cfg!(windows) {
        dir.join("Scripts").join("python.exe")
    } else {
        dir.join("bin").join("python")
    }
}

/// pacer's own table and the file it is in: `pacer.toml` (whole), else
/// `[tool.pacer]` in `pyproject.toml`, else none (every value defaults).
fn pacer_section(
    pacer_toml: Option<&TomlFile>,
    pyproject: Option<&TomlFile>,
) -> Result<(FileConfig, Option<ConfigFile>), SettingsError> {
    if let Some(p) = pacer_toml {
        let file = ConfigFile {
            path: p.path.clone(),
            prefix: String::new(),
        };
        return Ok((FileConfig::read(&p.root())?, Some(file)));
    }
    let Some(py) = pyproject else {
        return Ok((FileConfig::default(), None));
    };
    let section = py
        .root()
        .table("tool")?
        .map(|t| t.table("pacer"))
        .transpose()?
        .flatten();
    Ok(match section {
        Some(section) => (
            FileConfig::read(&section)?,
            Some(ConfigFile {
                path: py.path.clone(),
                prefix: "tool.pacer".into(),
            }),
        ),
        None => (FileConfig::default(), None),
    })
}

/// Where a setting is looked up, highest precedence first: the command
/// line, the environment (with `[tool.pytest_env]`), pacer's config table.
/// Each group below reads its settings from these, one `first_of` chain per
/// setting, and validates every layer it reads.
struct Layers<'a> {
    cli: &'a CliOverrides,
    env: &'a EnvReader<'a>,
    file: &'a FileConfig,
    /// The project root, which relative paths in the file are joined to.
    root: &'a Path,
}

/// How the run is shaped: how many workers, how they start and are
/// replaced, how long a test may take.
struct RunShape {
    workers: Sourced<Workers>,
    /// `workers` on this machine: counted here, once, and at least 1.
    worker_count: usize,
    sequential: Sourced<bool>,
    fork: Sourced<bool>,
    fresh_workers: Sourced<u32>,
    collection: Sourced<Collection>,
    max_worker_restart: Sourced<u32>,
    max_wait_workers: Sourced<u32>,
    timeout: Sourced<Option<Duration>>,
    collect_timeout: Sourced<Option<Duration>>,
    exit_grace: Sourced<Duration>,
}

fn run_shape(l: &Layers<'_>, cores: usize) -> Result<RunShape, SettingsError> {
    let (cli, e, file) = (l.cli, l.env, l.file);
    let workers = first_of([
        sourced(cli_raw(&cli.workers, flags::WORKERS), Workers::parse)?,
        e.get(&env::WORKERS, Workers::parse)?,
        file.workers.clone(),
    ])
    .unwrap_or(Sourced::default(Workers::Auto));
    let worker_count = workers.value.count(cores);

    let sequential = first_of([
        cli_switch(cli.sequential, true, flags::SEQUENTIAL),
        e.bool(&env::DISABLE_PARALLEL)?,
        file.sequential.clone(),
    ])
    .unwrap_or(Sourced::default(false));

    let fork = first_of([
        cli_switch(cli.no_fork, false, flags::NO_FORK),
        e.bool(&env::FORK)?,
        file.fork.clone(),
    ])
    .unwrap_or(Sourced::default(true));

    let fresh_workers = first_of([
        e.get(&env::FRESH_WORKERS, |t, o| {
            parse_u32(t, "fresh_workers", 1, o)
        })?,
        file.fresh_workers.clone(),
    ])
    .unwrap_or_else(|| {
        Sourced::new(
            cores.min(u32::MAX as usize) as u32,
            Source::derived("the cores"),
        )
    });

    let collection = first_of([
        sourced(
            cli_raw(&cli.collection, flags::COLLECTION),
            parse_collection,
        )?,
        e.get(&env::COLLECTION, parse_collection)?,
        file.collection.clone(),
    ])
    .unwrap_or(Sourced::default(Collection::Auto));

    let max_worker_restart = first_of([
        sourced(
            cli_raw(&cli.max_worker_restart, flags::MAX_WORKER_RESTART),
            |t, o| parse_u32(t, "max_worker_restart", 0, o),
        )?,
        e.get(&env::MAX_WORKER_RESTART, |t, o| {
            parse_u32(t, "max_worker_restart", 0, o)
        })?,
        file.max_worker_restart.clone(),
    ])
    .unwrap_or_else(|| {
        Sourced::new(
            worker_count.saturating_mul(4).min(u32::MAX as usize) as u32,
            Source::derived("4 × workers"),
        )
    });

    let max_wait_workers = first_of([
        sourced(
            cli_raw(&cli.max_wait_workers, flags::MAX_WAIT_WORKERS),
            |t, o| parse_u32(t, "max_wait_workers", 0, o),
        )?,
        e.get(&env::MAX_WAIT_WORKERS, |t, o| {
            parse_u32(t, "max_wait_workers", 0, o)
        })?,
        file.max_wait_workers.clone(),
    ])
    .unwrap_or_else(|| {
        crate::wait_workers::default_cap(cores, crate::wait_workers::mem_available())
    });

    let timeout = first_of([
        sourced(cli_raw(&cli.timeout, flags::TIMEOUT), parse_timeout)?,
        e.get(&env::TIMEOUT, parse_timeout)?,
        file.timeout.clone(),
    ])
    .unwrap_or(Sourced::default(None));

    let collect_timeout = first_of([
        sourced(
            cli_raw(&cli.collect_timeout, flags::COLLECT_TIMEOUT),
            parse_timeout,
        )?,
        e.get(&env::COLLECT_TIMEOUT, parse_timeout)?,
        file.collect_timeout.clone(),
    ])
    .unwrap_or(Sourced::default(None));

    let exit_grace = first_of([
        sourced(cli_raw(&cli.exit_grace, flags::EXIT_GRACE), |t, o| {
            parse_seconds(t, "exit_grace", o)
        })?,
        e.get(&env::EXIT_GRACE, |t, o| parse_seconds(t, "exit_grace", o))?,
        file.exit_grace.clone(),
    ])
    .unwrap_or(Sourced::default(Duration::from_secs(5)));

    Ok(RunShape {
        workers,
        worker_count,
        sequential,
        fork,
        fresh_workers,
        collection,
        max_worker_restart,
        max_wait_workers,
        timeout,
        collect_timeout,
        exit_grace,
    })
}

/// Where this job stands in its CI run: its shard, and the run's id. No
/// file layer: both differ between the jobs of one commit.
struct CiJob {
    shard: Sourced<Option<Shard>>,
    run_id: Sourced<Option<String>>,
}

fn ci_job(l: &Layers<'_>) -> Result<CiJob, SettingsError> {
    let (cli, e) = (l.cli, l.env);
    let splits = cli
        .splits
        .as_ref()
        .map(|(splits, group)| {
            let origin = Source::flag(flags::SPLITS);
            shard_from_splits(splits, group, &origin).map(|s| Sourced::new(s, origin))
        })
        .transpose()?;
    let shard = first_of([
        sourced(cli_raw(&cli.shard, flags::SHARD), parse_shard)?,
        splits,
        e.get(&env::SHARD, parse_shard)?,
    ]);
    let shard = match shard {
        Some(s) => s.map(Some),
        None => Sourced::default(None),
    };

    // The CI's own id, when none is given: GitHub's run and attempt (a
    // re-run is a run of its own), GitLab's pipeline, Buildkite's build.
    let github = e
        .raw(&env::GITHUB_RUN_ID)
        .filter(|(v, _)| !v.trim().is_empty())
        .map(|(id, _)| {
            let how = match e.raw(&env::GITHUB_RUN_ATTEMPT) {
                Some((attempt, _)) if !attempt.trim().is_empty() => (
                    format!("{}-{}", id.trim(), attempt.trim()),
                    "GITHUB_RUN_ID-GITHUB_RUN_ATTEMPT",
                ),
                _ => (id.trim().to_string(), "GITHUB_RUN_ID"),
            };
            (how.0, Source::derived(how.1))
        });
    let derived = github
        .or_else(|| {
            e.raw(&env::CI_PIPELINE_ID)
                .map(|(v, _)| (v, Source::derived("CI_PIPELINE_ID")))
        })
        .or_else(|| {
            e.raw(&env::BUILDKITE_BUILD_ID)
                .map(|(v, _)| (v, Source::derived("BUILDKITE_BUILD_ID")))
        })
        .filter(|(v, _)| !v.trim().is_empty());
    let run_id = first_of([
        sourced(cli_raw(&cli.run_id, flags::RUN_ID), parse_run_id)?,
        e.get(&env::RUN_ID, parse_run_id)?,
        sourced(derived, parse_run_id)?,
    ]);
    let run_id = match run_id {
        Some(id) => id.map(Some),
        None => Sourced::default(None),
    };
    Ok(CiJob { shard, run_id })
}

/// `--changed`: the git revision a run's change is measured from, and the
/// files whose change selects everything. No file layer for the revision:
/// it is one invocation's question, as the shard is.
struct Changes {
    changed: Sourced<Option<String>>,
    changed_always: Sourced<Vec<String>>,
}

fn parse_revision(text: &str, origin: &Source) -> Result<String, SettingsError> {
    let text = text.trim();
    if text.starts_with('-') {
        // `git diff -x` would read it as an option of git's own.
        return Err(crate::values::invalid(
            "changed",
            text,
            "a git revision (`HEAD`, `main`, `HEAD~3`, a commit), not an option",
            origin,
        ));
    }
    Ok(if text.is_empty() { "HEAD" } else { text }.to_string())
}

fn changes(l: &Layers<'_>) -> Result<Changes, SettingsError> {
    let (cli, e, file) = (l.cli, l.env, l.file);
    let changed = first_of([
        sourced(cli_raw(&cli.changed, flags::CHANGED), parse_revision)?,
        e.get(&env::CHANGED, parse_revision)?,
    ]);
    let changed = match changed {
        Some(r) => r.map(Some),
        None => Sourced::default(None),
    };
    let globs = |text: &str, _: &Source| -> Result<Vec<String>, SettingsError> {
        Ok(text
            .split(',')
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(str::to_string)
            .collect())
    };
    let changed_always = first_of([
        (!cli.changed_always.is_empty()).then(|| {
            Sourced::new(
                cli.changed_always.clone(),
                Source::flag(flags::CHANGED_ALWAYS),
            )
        }),
        e.get(&env::CHANGED_ALWAYS, globs)?,
        file.changed_always.clone(),
    ])
    .unwrap_or(Sourced::default(Vec::new()));
    Ok(Changes {
        changed,
        changed_always,
    })
}

/// What runs pytest, and with which arguments before the command line's.
struct Interpreter {
    python: Sourced<PathBuf>,
    pytest_args: Sourced<Vec<String>>,
}

fn interpreter(l: &Layers<'_>) -> Interpreter {
    let (cli, e, file) = (l.cli, l.env, l.file);
    let python = first_of([
        cli.python
            .clone()
            .map(|p| Sourced::new(p, Source::flag(flags::PYTHON))),
        e.raw(&env::PYTHON)
            .map(|(v, s)| Sourced::new(PathBuf::from(v), s)),
        file.python.clone().map(|p| p.map(|p| l.root.join(p))),
        e.raw(&env::VIRTUAL_ENV)
            .filter(|(v, _)| !v.is_empty())
            .map(|(v, s)| Sourced::new(venv_python(Path::new(&v)), s)),
        Some(venv_python(&l.root.join(".venv")))
            .filter(|p| p.is_file())
            .map(|p| Sourced::new(p, Source::derived(".venv in the project root"))),
        own_venv_python()
            .map(|p| Sourced::new(p, Source::derived("the venv pacer is installed in"))),
    ])
    .unwrap_or(Sourced::default(PathBuf::from("python3")));

    let pytest_args = file
        .pytest_args
        .clone()
        .unwrap_or(Sourced::default(Vec::new()));

    Interpreter {
        python,
        pytest_args,
    }
}

/// The interpreter of the venv this `pacer` is installed in (`venv/bin/pacer`
/// called by its path, the venv not activated), as `venv/bin/pytest` would
/// use its own.
fn own_venv_python() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?;
    let python = bin.join("python");
    (bin.parent()?.join("pyvenv.cfg").is_file() && python.is_file()).then_some(python)
}

/// What pacer records and tells beyond the tests' own results.
struct Reporting {
    debug: Sourced<bool>,
    trace_touched: Sourced<bool>,
    durations_file: Sourced<PathBuf>,
}

fn reporting(l: &Layers<'_>) -> Result<Reporting, SettingsError> {
    let (cli, e, file) = (l.cli, l.env, l.file);
    let debug = first_of([
        cli_switch(cli.debug, true, flags::DEBUG),
        e.bool(&env::DEBUG)?,
        file.debug.clone(),
    ])
    .unwrap_or(Sourced::default(false));
    let trace_touched = first_of([
        cli_switch(cli.trace_touched, true, flags::TRACE_TOUCHED),
        e.bool(&env::TRACE_TOUCHED)?,
        file.trace_touched.clone(),
    ])
    .unwrap_or(Sourced::default(false));

    let durations_file = first_of([
        cli.durations_file
            .clone()
            .map(|p| Sourced::new(p, Source::flag(flags::DURATIONS_FILE))),
        e.raw(&env::DURATIONS_FILE)
            .map(|(v, s)| Sourced::new(PathBuf::from(v), s)),
        file.durations_file.clone().map(|p| p.map(PathBuf::from)),
    ])
    .unwrap_or(Sourced::default(PathBuf::from(".test_durations")))
    .map(|p| l.root.join(p));

    Ok(Reporting {
        debug,
        trace_touched,
        durations_file,
    })
}

/// Reruns of failing tests: the counts and the delay are handed to the
/// workers (`PACER_RERUNS`, per category); `--reruns` itself is pytest's
/// option (pytest-rerunfailures', or pacer's worker plugin's).
fn reruns(l: &Layers<'_>) -> Result<Reruns, SettingsError> {
    let (cli, e, file) = (l.cli, l.env, l.file);
    Ok(Reruns {
        count: first_of([
            e.get(&env::RERUNS, |t, o| parse_u32(t, "reruns", 0, o))?,
            file.reruns.clone(),
        ])
        .unwrap_or(Sourced::default(0)),
        delay: first_of([
            e.get(&env::RERUNS_DELAY, |t, o| {
                parse_seconds(t, "reruns_delay", o)
            })?,
            file.reruns_delay.clone(),
        ])
        .unwrap_or(Sourced::default(Duration::ZERO)),
        flaky_result: first_of([
            sourced(
                cli_raw(&cli.flaky_result, flags::FLAKY_RESULT),
                parse_flaky_result,
            )?,
            e.get(&env::FLAKY_RESULT, parse_flaky_result)?,
            file.flaky_result.clone(),
        ])
        .unwrap_or(Sourced::default(FlakyResult::Pass)),
        per_category: file
            .categories
            .iter()
            .filter_map(|c| Some((c.name.clone(), c.reruns.clone()?)))
            .collect(),
    })
}

/// The rerun of tests that failed on a 429, once, sequentially.
struct Rerun {
    fallback: Sourced<bool>,
    fallback_threshold: Sourced<FallbackThreshold>,
}

fn rerun(l: &Layers<'_>) -> Result<Rerun, SettingsError> {
    let (cli, e, file) = (l.cli, l.env, l.file);
    let fallback = first_of([
        cli_switch(cli.no_fallback, false, flags::NO_FALLBACK),
        e.bool(&env::FALLBACK)?,
        file.fallback.clone(),
    ])
    .unwrap_or(Sourced::default(true));

    let fallback_threshold = first_of([
        sourced(
            cli_raw(&cli.fallback_threshold, flags::FALLBACK_THRESHOLD),
            FallbackThreshold::parse,
        )?,
        e.get(&env::FALLBACK_THRESHOLD, FallbackThreshold::parse)?,
        file.fallback_threshold.clone(),
    ])
    .unwrap_or(Sourced::default(FallbackThreshold::default()));

    Ok(Rerun {
        fallback,
        fallback_threshold,
    })
}

/// The proxy: whether it runs, the limits every upstream starts from, and
/// each upstream with its own.
struct RateLimiting {
    enabled: Sourced<bool>,
    limits: RateLimit,
    sources: RateLimitSources,
    upstreams: Vec<Upstream>,
    /// An upstream named twice, or a flag's URL over the file's.
    notes: Vec<String>,
}

fn rate_limiting(
    l: &Layers<'_>,
    config_file: Option<&ConfigFile>,
) -> Result<RateLimiting, SettingsError> {
    let (cli, e, file) = (l.cli, l.env, l.file);
    let enabled = first_of([
        cli_switch(cli.rate_limit.disable, false, flags::NO_RATE_LIMIT),
        e.bool(&env::RATE_LIMITED)?,
        file.rate_limit_enabled.clone(),
    ])
    .unwrap_or(Sourced::default(true));

    let cli_layer = cli_limits(&cli.rate_limit)?;
    let env_layer = env_limits(e)?;
    let (limits, sources) = resolve_layers(&[&cli_layer, &env_layer, &file.rate_limit])?;
    let (upstreams, notes) = upstreams(
        l,
        config_file,
        [&cli_layer, &env_layer],
        (&limits, &sources),
    )?;
    Ok(RateLimiting {
        enabled,
        limits,
        sources,
        upstreams,
        notes,
    })
}

/// The file's upstreams, in file order (a flag's URL replaces the file's),
/// then those only `--upstream` names, which take the run's limits. A file
/// upstream's own limits rank below the flags and the environment and above
/// the file's `[rate_limit]`.
fn upstreams(
    l: &Layers<'_>,
    config_file: Option<&ConfigFile>,
    [cli_layer, env_layer]: [&RateLimitLayer; 2],
    (limits, sources): (&RateLimit, &RateLimitSources),
) -> Result<(Vec<Upstream>, Vec<String>), SettingsError> {
    let file = l.file;
    let mut upstreams = Vec::new();
    let flag_upstreams = l
        .cli
        .upstreams
        .iter()
        .map(|u| parse_upstream_flag(u))
        .collect::<Result<Vec<_>, _>>()?;
    for up in &file.upstreams {
        if let Some(url) = &up.url {
            check_url(&up.name, &url.value, &url.source)?;
        }
        let flag_url = flag_upstreams
            .iter()
            .rev()
            .find(|(n, _)| *n == up.name)
            .map(|(_, u)| Sourced::new(u.clone(), Source::flag(flags::UPSTREAM)));
        let Some(url) = flag_url.or_else(|| up.url.clone()) else {
            return Err(SettingsError::MissingUpstreamUrl {
                path: config_file.map(|c| c.path.clone()).unwrap_or_default(),
                line: up.line,
                upstream: up.name.clone(),
                table: up.table.clone(),
            });
        };
        let (limits, sources) =
            resolve_layers(&[cli_layer, env_layer, &up.limits, &file.rate_limit])?;
        upstreams.push(Upstream {
            name: up.name.clone(),
            url: url.value,
            url_source: url.source,
            limits,
            sources,
        });
    }
    for (name, url) in &flag_upstreams {
        if let Some(existing) = upstreams.iter_mut().find(|u| u.name == *name) {
            existing.url = url.clone();
        } else {
            upstreams.push(Upstream {
                name: name.clone(),
                url: url.clone(),
                url_source: Source::flag(flags::UPSTREAM),
                limits: limits.clone(),
                sources: sources.clone(),
            });
        }
    }
    let file_urls: Vec<_> = file
        .upstreams
        .iter()
        .map(|u| (u.name.clone(), u.url.clone()))
        .collect();
    let notes = duplicate_upstream_notes(&flag_upstreams, &file_urls);
    Ok((upstreams, notes))
}

impl Settings {
    /// Resolves settings for a run started in `start_dir`, counting the
    /// machine's cores for `workers = auto`: the one place pacer counts them.
    pub fn resolve(
        start_dir: &Path,
        cli: &CliOverrides,
        env: &dyn Env,
    ) -> Result<Settings, SettingsError> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::resolve_with_cores(start_dir, cli, env, cores)
    }

    /// [`Settings::resolve`] with a given core count, for tests.
    ///
    /// Reads the files, then each group of settings from the layers (one
    /// function per group above); a new setting goes into its group.
    pub fn resolve_with_cores(
        start_dir: &Path,
        cli: &CliOverrides,
        env: &dyn Env,
        cores: usize,
    ) -> Result<Settings, SettingsError> {
        let files = ProjectFiles::find(start_dir);
        let ParsedFiles {
            pacer_toml,
            pyproject,
            notes,
        } = read_files(&files)?;
        let (file, config_file) = pacer_section(pacer_toml.as_ref(), pyproject.as_ref())?;
        let overlay = match &pyproject {
            Some(py) => Overlay::apply(env, &read_entries(py)?, &py.path)?,
            None => Overlay::empty(env),
        };
        let env = EnvReader { overlay };
        let layers = Layers {
            cli,
            env: &env,
            file: &file,
            root: &files.root,
        };

        let RunShape {
            workers,
            worker_count,
            sequential,
            fork,
            fresh_workers,
            collection,
            max_worker_restart,
            max_wait_workers,
            timeout,
            collect_timeout,
            exit_grace,
        } = run_shape(&layers, cores)?;
        let Interpreter {
            python,
            pytest_args,
        } = interpreter(&layers);
        let Reporting {
            debug,
            trace_touched,
            durations_file,
        } = reporting(&layers)?;
        let Rerun {
            fallback,
            fallback_threshold,
        } = rerun(&layers)?;
        let reruns = reruns(&layers)?;
        let CiJob { shard, run_id } = ci_job(&layers)?;
        let Changes {
            changed,
            changed_always,
        } = changes(&layers)?;
        let RateLimiting {
            enabled: rate_limit_enabled,
            limits: rate_limit,
            sources: rate_limit_sources,
            upstreams,
            notes: upstream_notes,
        } = rate_limiting(&layers, config_file.as_ref())?;
        let categories = resolve_categories(&file.categories, worker_count)?;
        let mut notes = notes;
        notes.extend(upstream_notes);
        notes.extend(categories.shadow_notes());
        let selection = resolve_selection(cli, &categories)?;
        let worker_env = env.overlay.worker_env();

        Ok(Settings {
            project_root: files.root,
            config_file,
            notes,
            cores,
            workers,
            worker_count,
            sequential,
            python,
            debug,
            trace_touched,
            fork,
            fresh_workers,
            collection,
            max_worker_restart,
            max_wait_workers,
            fallback,
            fallback_threshold,
            durations_file,
            timeout,
            collect_timeout,
            exit_grace,
            reruns,
            pytest_args,
            selection,
            rate_limit_enabled,
            rate_limit,
            rate_limit_sources,
            upstreams,
            categories,
            worker_env,
            shard,
            run_id,
            changed,
            changed_always,
        })
    }

    /// `--changed [REF]`: the revision a change is measured from (`HEAD`
    /// for the working tree's own changes), if the run selects by change.
    pub fn changed(&self) -> &Sourced<Option<String>> {
        &self.changed
    }

    /// Globs (relative to the project root) of files whose change selects
    /// every test under `--changed`.
    pub fn changed_always(&self) -> &Sourced<Vec<String>> {
        &self.changed_always
    }

    /// This job's part of the selected tests (`--shard K/N`, `--splits N
    /// --group K`, `PACER_SHARD`), if it runs one.
    pub fn shard(&self) -> &Sourced<Option<Shard>> {
        &self.shard
    }

    /// The id the jobs of one CI run share (`--run-id`, `PACER_RUN_ID`,
    /// else the CI's own), if known.
    pub fn run_id(&self) -> &Sourced<Option<String>> {
        &self.run_id
    }

    /// The project root: the nearest ancestor with a project marker file.
    pub fn project_root(&self) -> &Path {
        &self.project_root
    }

    /// The file pacer's settings were read from, if any.
    pub fn config_file(&self) -> Option<&ConfigFile> {
        self.config_file.as_ref()
    }

    /// Things worth telling the user, e.g. an ignored `[tool.pacer]`.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The configured worker count (`auto` or a number).
    pub fn workers(&self) -> &Sourced<Workers> {
        &self.workers
    }

    /// The cores counted for `auto`.
    pub fn cores(&self) -> usize {
        self.cores
    }

    /// How many workers run (at least 1): 1 when sequential, else the
    /// configured count.
    pub fn worker_count(&self) -> usize {
        if self.sequential.value {
            1
        } else {
            self.worker_count
        }
    }

    pub fn sequential(&self) -> &Sourced<bool> {
        &self.sequential
    }

    /// The interpreter that runs pytest: `--python`, `PACER_PYTHON`,
    /// `python` in the file, `$VIRTUAL_ENV`, `.venv/` in the root, `python3`.
    pub fn python(&self) -> &Sourced<PathBuf> {
        &self.python
    }

    pub fn debug(&self) -> &Sourced<bool> {
        &self.debug
    }

    /// Whether workers record what each test leaves behind (`touched` in
    /// the JSON report); `--trace-touched`, `PACER_TRACE_TOUCHED`, `trace_touched`.
    pub fn trace_touched(&self) -> &Sourced<bool> {
        &self.trace_touched
    }

    /// Whether workers beyond the cores (and io extras, replacements) are
    /// forked from a zygote; `--no-fork`, `PACER_FORK`, `fork`.
    pub fn fork(&self) -> &Sourced<bool> {
        &self.fork
    }

    /// At most this many workers start as new interpreters; with `fork`,
    /// the others are forked from the zygote (default: the cores);
    /// `PACER_FRESH_WORKERS`, `fresh_workers`.
    pub fn fresh_workers(&self) -> &Sourced<u32> {
        &self.fresh_workers
    }

    /// Whether workers collect the whole suite or their share of its
    /// files; `--collection`, `PACER_COLLECTION`, `collection`.
    pub fn collection(&self) -> &Sourced<Collection> {
        &self.collection
    }

    /// Crashed workers replaced before the run stops (default 4 × workers).
    pub fn max_worker_restart(&self) -> &Sourced<u32> {
        &self.max_worker_restart
    }

    /// With `workers = "auto"`: at most this many workers beyond the cores
    /// for tests that wait; `--max-wait-workers`, `PACER_MAX_WAIT_WORKERS`,
    /// `max_wait_workers` (default: `wait_workers::default_cap`).
    pub fn max_wait_workers(&self) -> &Sourced<u32> {
        &self.max_wait_workers
    }

    /// Whether 429-failed tests are rerun once, sequentially.
    pub fn fallback(&self) -> &Sourced<bool> {
        &self.fallback
    }

    pub fn fallback_threshold(&self) -> &Sourced<FallbackThreshold> {
        &self.fallback_threshold
    }

    /// The durations file, absolute (joined to the project root).
    pub fn durations_file(&self) -> &Sourced<PathBuf> {
        &self.durations_file
    }

    /// Reruns of failing tests and what flakiness means for the run.
    pub fn reruns(&self) -> &Reruns {
        &self.reruns
    }

    /// Per-test timeout; `None` means none.
    pub fn timeout(&self) -> &Sourced<Option<Duration>> {
        &self.timeout
    }

    /// Deadline for importing and collecting one test file; `None` means
    /// the per-test timeout applies.
    pub fn collect_timeout(&self) -> &Sourced<Option<Duration>> {
        &self.collect_timeout
    }

    /// How long a worker may take to exit after its last test.
    pub fn exit_grace(&self) -> &Sourced<Duration> {
        &self.exit_grace
    }

    /// Arguments always passed to pytest, before the command line's.
    pub fn pytest_args(&self) -> &Sourced<Vec<String>> {
        &self.pytest_args
    }

    /// The categories selected by flags.
    pub fn selection(&self) -> &Sourced<Selection> {
        &self.selection
    }

    /// Whether the run includes the category `name`.
    pub fn is_selected(&self, name: &str) -> bool {
        match &self.selection.value {
            Selection::All => true,
            Selection::Only(names) => names.iter().any(|n| n == name),
        }
    }

    /// Whether rate-limited categories go through the proxy.
    pub fn rate_limit_enabled(&self) -> &Sourced<bool> {
        &self.rate_limit_enabled
    }

    /// The limits an upstream gets when it overrides nothing.
    pub fn rate_limit(&self) -> (&RateLimit, &RateLimitSources) {
        (&self.rate_limit, &self.rate_limit_sources)
    }

    /// Every upstream: the file's, in file order, then those only `--upstream` names.
    pub fn upstreams(&self) -> &[Upstream] {
        &self.upstreams
    }

    pub fn upstream(&self, name: &str) -> Option<&Upstream> {
        self.upstreams.iter().find(|u| u.name == name)
    }

    pub fn categories(&self) -> &Categories {
        &self.categories
    }

    pub fn category(&self, name: &str) -> Option<&Category> {
        self.categories.get(name)
    }

    /// The first category (in order) whose selector matches, else `default`.
    pub fn categorize(&self, nodeid: &str, markers: &[String]) -> &Category {
        self.categories.categorize(nodeid, markers)
    }

    /// Variables to set in every worker, from `[tool.pytest_env]`, in order.
    pub fn worker_env(&self) -> &[WorkerEnvVar] {
        &self.worker_env
    }

    /// The full environment additions for a worker running `category`'s
    /// tests: the `[tool.pytest_env]` values, then the category's name and
    /// rate limiting under both the `PACER_*` and `PYTEST_*` names. Never
    /// `PYTEST_DEBUG`: pytest reads it too and would trace every hook call.
    /// Upstream URLs (`PACER_UPSTREAM_*`)
    /// are added by whoever starts the proxies, since only it knows the ports.
    pub fn category_env(&self, category: &Category) -> Vec<(String, String)> {
        let mut vars: Vec<(String, String)> = self
            .worker_env
            .iter()
            .map(|v| (v.name.clone(), v.value.clone()))
            .collect();
        let limited = category.rate_limited && self.rate_limit_enabled.value;
        let flag = if limited { "1" } else { "0" };
        for (name, value) in [
            ("PACER_CURRENT_CATEGORY", category.name.as_str()),
            ("PYTEST_CURRENT_CATEGORY", category.name.as_str()),
            ("PACER_RATE_LIMITED", flag),
            ("PYTEST_RATE_LIMITED", flag),
        ] {
            vars.push((name.to_string(), value.to_string()));
        }
        vars
    }
}
