//! The 429 fallback: tests of a rate-limited category that still failed on
//! HTTP 429 after the proxy's retries are rerun once, sequentially.
//!
//! Parallel runs are what make a live API refuse calls, so the remedy for the
//! few tests that lost that race is to run them again alone, through the
//! same proxies, once the crowd is gone. It is decided here, from the run's
//! summary ([`plan`]), then done ([`rerun_sequentially`]); both are step 6
//! of `pacer run` ([`rerun_or_fall_back`]), which hands a run the pool did
//! not finish to plain pytest instead.
//!
//! **The rule.** A failed test counts as "failed on HTTP 429" when its
//! failure text (message and traceback) contains `Too Many Requests` (any
//! case), or the number `429` standing alone: not part of a longer number or
//! word, and not a traceback's line number (`file.py:429:`). That covers
//! `urllib`'s `HTTP Error 429: Too Many Requests`, `requests`'
//! `429 Client Error`, `httpx`'s `'429 Too Many Requests'` and
//! `assert 429 == 200`. Per rate-limited category, the rerun happens when
//! those tests reach `fallback_threshold` (a count, or a fraction of the
//! category's selected tests); `--no-fallback` / `fallback = false` turn it
//! off.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use pacer_report::{Junit, Tee, Terminal, TerminalOptions};
use pacer_runner::category::CategorySpec;
use pacer_runner::events::PytestOptions;
use pacer_runner::events::{Reporter, Summary};
use pacer_runner::pool::RunEnd;
use pacer_runner::scheduler::Kind;
use pacer_settings::{FallbackThreshold, Settings};
use pacer_types::exit;

use super::observe::Observed;
use super::pool::Reporters;
use crate::cli::RunArgs;
use crate::error::{self, Error};
use crate::session::fallback;
use crate::session::{self, Purpose};

/// Whether a failure's text says the test failed on HTTP 429.
pub fn failed_on_429(text: &str) -> bool {
    if text.to_ascii_lowercase().contains("too many requests") {
        return true;
    }
    let bytes = text.as_bytes();
    text.match_indices("429").any(|(at, _)| {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(at + 3).copied();
        let alone =
            |b: Option<u8>| !b.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
        let line_number = before == Some(b':') && after == Some(b':');
        alone(before) && alone(after) && !line_number
    })
}

/// The tests to rerun, as rootdir-relative node ids in the run's order.
pub fn plan(
    summary: &Summary,
    categories: &[CategorySpec],
    observed: &Observed,
    threshold: FallbackThreshold,
) -> Vec<String> {
    let mut per_category: Vec<Vec<&str>> = vec![Vec::new(); categories.len()];
    for failed in &summary.failed {
        let limited = categories
            .get(failed.category)
            .is_some_and(|c| c.rate_limited);
        if limited && failed_on_429(&failed.text) {
            per_category[failed.category].push(&failed.id);
        }
    }
    let mut seen = HashSet::new();
    let mut ids = Vec::new();
    for (category, failed) in per_category.iter().enumerate() {
        let total = observed
            .selected
            .get(category)
            .copied()
            .unwrap_or(0)
            .max(failed.len());
        if !failed.is_empty() && threshold.triggers(failed.len(), total) {
            ids.extend(
                failed
                    .iter()
                    .filter(|id| seen.insert(**id))
                    .map(|id| id.to_string()),
            );
        }
    }
    ids
}

/// Node ids as pytest arguments: joined to the rootdir, so they mean the
/// same tests whatever directory pytest starts in.
pub fn as_paths(ids: &[String], rootdir: &Path) -> Vec<String> {
    ids.iter()
        .map(|id| rootdir.join(id).to_string_lossy().into_owned())
        .collect()
}

/// The exit code after a rerun: the rerun's, unless tests that were not
/// rerun had failed too.
pub fn exit_code(first: &Summary, rerun_ids: &[String], rerun_code: i32) -> i32 {
    let others_failed = first.failed.iter().any(|f| !rerun_ids.contains(&f.id));
    use pacer_types::exit::{OK, TESTS_FAILED};
    match rerun_code {
        OK | TESTS_FAILED if others_failed => TESTS_FAILED,
        code => code,
    }
}

/// What the first run leaves for a rerun, or for plain pytest.
pub struct FirstRun<'a> {
    pub args: &'a RunArgs,
    pub settings: &'a Settings,
    /// The categories as the pool was given them.
    pub categories: &'a [CategorySpec],
    /// The session's interpreter, folder and pytest arguments, for plain
    /// pytest.
    pub python: &'a Path,
    pub cwd: &'a Path,
    pub pytest_args: &'a [String],
    /// The upstreams' variables the workers had.
    pub upstream_env: &'a [(String, String)],
}

/// Step 6 of `pacer run`: the code the pool's end leads to. A finished run
/// whose failures on HTTP 429 reach the threshold reruns them once,
/// sequentially (its results go to the same reporters); a run the pool did
/// not finish is handed to plain pytest (`session/fallback.rs`). An error
/// is printed here, so that it comes before the proxies' statistics, as the
/// run's own output does.
pub fn rerun_or_fall_back(end: RunEnd, reporters: &mut Reporters, first: FirstRun<'_>) -> i32 {
    let settings = first.settings;
    let summary = match end {
        RunEnd::Finished(summary) => summary,
        other => {
            return error::settle(fallback::finish(
                other,
                first.python,
                first.cwd,
                first.pytest_args,
                first.upstream_env,
            ))
        }
    };
    let observed = &reporters.observed;
    let ids = if settings.fallback().value && summary.exit_code == exit::TESTS_FAILED {
        plan(
            &summary,
            first.categories,
            observed,
            settings.fallback_threshold().value,
        )
    } else {
        Vec::new()
    };
    if ids.is_empty() {
        return summary.exit_code;
    }
    let options = observed.options.clone().unwrap_or_default();
    let rootdir = observed
        .rootdir
        .as_deref()
        .map(PathBuf::from)
        .unwrap_or_else(|| settings.project_root().to_path_buf());
    let github = reporters.reports.github();
    let rerun_args = RerunArgs {
        args: first.args,
        options: &options,
        ids: &ids,
        rootdir: &rootdir,
        upstream_env: first.upstream_env,
        junit: reporters.junit.junit.as_mut(),
        reports: Some(&mut reporters.reports),
        github,
    };
    error::settle(rerun_sequentially(settings, &summary, rerun_args))
}

/// What the sequential rerun of 429-failed tests needs from the first run.
struct RerunArgs<'a> {
    pub args: &'a RunArgs,
    /// pytest's options as the first run's workers parsed them.
    pub options: &'a PytestOptions,
    pub ids: &'a [String],
    pub rootdir: &'a Path,
    pub upstream_env: &'a [(String, String)],
    /// The first run's JUnit reporter: the rerun's results replace the
    /// first ones, and the file is written again.
    pub junit: Option<&'a mut Junit>,
    /// The JSON/HTML reports' record: the rerun's results replace the
    /// first ones there too.
    pub reports: Option<&'a mut dyn Reporter>,
    /// GitHub Actions' terminal output (log groups, progress lines).
    pub github: bool,
}

/// Reruns `ids` once on one worker through the same proxies, announcing it
/// in one line; returns the run's exit code after the rerun (see
/// [`exit_code`]), or the fallback's if the rerun could not run on the pool.
fn rerun_sequentially(
    settings: &Settings,
    first: &Summary,
    r: RerunArgs<'_>,
) -> Result<i32, Error> {
    let n = r.ids.len();
    println!(
        "pacer: {n} test{} failed on HTTP 429; rerunning {} once, sequentially (--no-fallback turns this off)",
        if n == 1 { "" } else { "s" },
        if n == 1 { "it" } else { "them" },
    );
    // The same options, with the first run's paths replaced by the ids.
    let mut pytest_args = without_positionals(&r.args.pytest.pytest_args, &r.options.file_or_dir);
    pytest_args.extend(as_paths(r.ids, r.rootdir));
    let mut prepared = session::prepare(settings, &r.args.common, pytest_args, Purpose::Rerun)?;
    // One worker for every category: io categories would otherwise still
    // start workers up to their caps.
    for category in &mut prepared.config.categories {
        category.slots.cap = 1;
        category.slots.kind = Kind::Cpu;
    }
    prepared
        .config
        .launch
        .env
        .extend(r.upstream_env.iter().cloned());
    let mut options = TerminalOptions::detect(0);
    // Under GitHub Actions the rerun's output reads as the first run's.
    if r.github {
        options.github = true;
        options.progress_bar = false;
    }
    let mut terminal = Terminal::new(std::io::stdout().lock(), options);
    let end = session::execute(
        prepared.config,
        &mut Tee::new()
            .with_some(r.junit.map(|j| j as _))
            .with_some(r.reports.map(|x| x as _))
            .with(&mut terminal),
    );
    drop(terminal);
    match end {
        RunEnd::Finished(summary) => Ok(exit_code(first, r.ids, summary.exit_code)),
        other => fallback::finish(
            other,
            &prepared.python,
            &prepared.cwd,
            &prepared.pytest_args,
            r.upstream_env,
        ),
    }
}

/// `args` without the positional arguments pytest found in them (its
/// `file_or_dir`), each removed once, from the end.
fn without_positionals(args: &[String], positionals: &[String]) -> Vec<String> {
    let mut args = args.to_vec();
    for p in positionals {
        if let Some(i) = args.iter().rposition(|a| a == p) {
            args.remove(i);
        }
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use pacer_runner::events::FailedTest;
    use pacer_runner::scheduler::{CategorySlots, Kind};

    #[test]
    fn failures_on_429_are_recognised_by_their_usual_texts() {
        for text in [
            "urllib.error.HTTPError: HTTP Error 429: Too Many Requests",
            "requests.exceptions.HTTPError: 429 Client Error: TOO MANY REQUESTS for url: http://x/",
            "httpx.HTTPStatusError: Client error '429 Too Many Requests' for url 'http://x'",
            "assert 429 == 200\n +  where 429 = <Response [429]>.status_code",
        ] {
            assert!(failed_on_429(text), "{text}");
        }
    }

    #[test]
    fn other_429s_are_not_failures_on_429() {
        for text in [
            "tests/test_api.py:429: AssertionError",
            "assert 14290 == 1",
            "id-429a not found",
            "expected 4.429 got 1",
            "HTTP Error 500: Internal Server Error",
        ] {
            assert!(!failed_on_429(text), "{text}");
        }
    }

    fn category(name: &str, rate_limited: bool) -> CategorySpec {
        CategorySpec {
            name: name.into(),
            slots: CategorySlots {
                cap: 4,
                kind: Kind::Io,
                exclusive: false,
            },
            rate_limited,
            selected: true,
            env: Vec::new(),
            implicit: false,
        }
    }

    fn failed(id: &str, category: usize, text: &str) -> FailedTest {
        FailedTest {
            id: id.into(),
            category,
            text: text.into(),
        }
    }

    #[test]
    fn the_plan_takes_429_failures_of_rate_limited_categories_at_the_threshold() {
        let categories = [category("unit", false), category("end-to-end", true)];
        let summary = Summary {
            failed: vec![
                failed("tests/unit/test_a.py::test_x", 0, "HTTP Error 429"),
                failed(
                    "tests/e2e/test_b.py::test_y",
                    1,
                    "HTTP Error 429: Too Many Requests",
                ),
                failed("tests/e2e/test_b.py::test_z", 1, "assert 1 == 2"),
            ],
            ..Summary::default()
        };
        let observed = Observed {
            rootdir: None,
            options: None,
            selected: vec![5, 10],
        };
        assert_eq!(
            plan(
                &summary,
                &categories,
                &observed,
                FallbackThreshold::Count(1)
            ),
            vec!["tests/e2e/test_b.py::test_y"]
        );
        assert!(plan(
            &summary,
            &categories,
            &observed,
            FallbackThreshold::Count(2)
        )
        .is_empty());
        assert!(plan(
            &summary,
            &categories,
            &observed,
            FallbackThreshold::Fraction(0.2)
        )
        .is_empty());
        assert_eq!(
            plan(
                &summary,
                &categories,
                &observed,
                FallbackThreshold::Fraction(0.1)
            )
            .len(),
            1
        );

        let rerun = vec!["tests/e2e/test_b.py::test_y".to_string()];
        assert_eq!(exit_code(&summary, &rerun, 0), 1, "test_z still failed");
        let only_429 = Summary {
            failed: vec![summary.failed[1].clone()],
            ..Summary::default()
        };
        assert_eq!(exit_code(&only_429, &rerun, 0), 0, "the rerun passed");
        assert_eq!(exit_code(&only_429, &rerun, 1), 1);
        assert_eq!(
            exit_code(&summary, &rerun, 2),
            2,
            "an interrupted rerun says so"
        );
    }

    #[test]
    fn node_ids_become_paths_under_the_rootdir() {
        let ids = vec!["tests/test_a.py::test_x[a/b]".to_string()];
        assert_eq!(
            as_paths(&ids, Path::new("/proj")),
            vec!["/proj/tests/test_a.py::test_x[a/b]"]
        );
    }

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn the_rerun_drops_the_first_runs_paths_but_keeps_options() {
        let args = strings(&["-p", "no:randomly", "tests", "-k", "tests", "tests/b.py"]);
        assert_eq!(
            without_positionals(&args, &strings(&["tests", "tests/b.py"])),
            strings(&["-p", "no:randomly", "tests", "-k"])
        );
    }
}
