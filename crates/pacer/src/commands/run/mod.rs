//! `pacer run` (the default command): the suite on the pool of workers,
//! with the upstreams' proxies around it, the terminal and JUnit reporters,
//! pytest-cov's controller step, the stores written after the run, and the
//! sequential rerun of tests that failed on HTTP 429.

mod coverage;
mod junit_on_demand;
pub(crate) mod proxy_calls;
mod rerun;

use std::path::PathBuf;

use pacer_report::{
    Github, GithubOptions, ReportKind, RunRecord, RunReports, Tee, Terminal, TerminalOptions,
};
use pacer_runner::pool::RunEnd;
use pacer_types::{exit, FlakyResult};

use crate::cli::RunArgs;
use crate::error::{self, Error};
use crate::session::fallback;
use crate::session::prepare::{self, Purpose};
use crate::store::durations;
use crate::store::lastfailed;
use crate::upstreams::{self, RunProxies, UpstreamReport};
use junit_on_demand::JunitOnDemand;

pub fn run(args: RunArgs) -> Result<i32, Error> {
    let settings = super::settings(&args.common)?;
    let github = github_options(&args)?;
    for note in settings.notes() {
        eprintln!("pacer: {note}");
    }
    let mut prepared = prepare::prepare(
        &settings,
        &args.common,
        args.pytest.pytest_args.clone(),
        Purpose::Run,
    )?;
    if let Some(mode) = fallback::non_running_mode(&prepared.pytest_args) {
        // pytest's modes that list or explain instead of running tests need
        // no workers: plain pytest answers them exactly as the user expects.
        if settings.debug().value {
            eprintln!("pacer: `{mode}` runs no tests; handing it to pytest");
        }
        return fallback::sequential_pytest(
            &prepared.python,
            &prepared.cwd,
            &prepared.pytest_args,
            &[],
        );
    }

    // The proxies start before the first worker, so that module-level code
    // already sees `PACER_UPSTREAM_<NAME>` (it is in every worker's launch
    // environment), and stop after the last test, the rerun included.
    let categories = prepared.config.categories.clone();
    let limited_selected = categories.iter().any(|c| c.selected && c.rate_limited);
    let proxies = if upstreams::wanted(&settings, limited_selected) {
        Some(RunProxies::start(&settings).map_err(|error| Error::Proxies { error })?)
    } else {
        None
    };
    let upstream_env = match &proxies {
        Some(p) => p.env(),
        None => upstreams::direct_env(&settings),
    };
    prepared
        .config
        .launch
        .env
        .extend(upstream_env.iter().cloned());
    prepared.config.worker_env = proxies.as_ref().map(RunProxies::worker_env);
    prepared.config.worker_pid = proxies.as_ref().map(|_| upstreams::worker_pid());

    // `--json-report` / `--html-report`: checked before any test runs,
    // written whenever the run ends, and again below with what only this
    // function knows after it (the proxies' statistics, the final code).
    let mut reports = run_reports(&args)?.with_github(github.clone().map(Github::new));
    // pytest's `--junitxml` (from the command line, `addopts` or
    // PYTEST_ADDOPTS) is known once pytest has parsed it: the report is
    // set up then, and written by pacer from every worker's results.
    let mut junit = JunitOnDemand::new(prepared.junit_suite_name.clone());
    let mut terminal_options = TerminalOptions::detect(0);
    for (what, path) in [
        ("json report", &args.json_report),
        ("html report", &args.html_report),
    ] {
        if let Some(path) = path {
            let shown = std::path::absolute(path).unwrap_or_else(|_| path.clone());
            terminal_options.generated_reports.push((what, shown));
        }
    }
    if github.is_some() {
        terminal_options.github = true;
        terminal_options.progress_bar = false;
    }
    let flaky_result = settings.reruns().flaky_result.value;
    let mut terminal =
        Terminal::new(std::io::stdout().lock(), terminal_options).with_flaky_result(flaky_result);
    let mut observed = rerun::Observed::default();
    // JUnit first: the file exists when the terminal names it (pytest's
    // `generated xml file` line, before the short summary).
    let mut reporters = Tee::new()
        .with(&mut junit)
        .with(&mut reports)
        .with(&mut terminal);
    // pytest-cov's controller side (combined report, --cov-fail-under).
    let cov_step = coverage::step(
        &prepared.python,
        &prepared.config.plugin_dir,
        &prepared.config.launch.cwd,
        &prepared.config.launch.env,
    );
    let mut cov = coverage::CovController::new(cov_step, &mut reporters);
    let end = prepare::execute(
        prepared.config,
        &mut rerun::Observing {
            inner: &mut cov,
            observed: &mut observed,
        },
    );
    let end = cov.amend(end);
    drop(reporters);
    drop(terminal);
    let options = observed.options.clone().unwrap_or_default();
    if let (RunEnd::Finished(summary), Some(cache)) = (&end, &options.cache_dir) {
        let cache = PathBuf::from(cache);
        durations::save(&cache, &summary.durations);
        let failed: Vec<String> = summary.failed.iter().map(|f| f.id.clone()).collect();
        lastfailed::update(&cache, &summary.durations, &failed);
    }
    // pytest-split's file, where the project keeps one or asks for it
    // (`--store-durations`); pytest's cache provider has no say in it.
    if let RunEnd::Finished(summary) = &end {
        let split_file = settings.durations_file().value.as_path();
        if durations::store_wanted(split_file, args.store_durations, args.no_store_durations) {
            durations::store_test_durations(split_file, &summary.durations);
        }
    }
    // From here on an error is printed where it happens, so that it comes
    // before the proxies' statistics, as the run's own output does.
    let code = match end {
        RunEnd::Finished(summary) => {
            let ids = if settings.fallback().value && summary.exit_code == exit::TESTS_FAILED {
                rerun::plan(
                    &summary,
                    &categories,
                    &observed,
                    settings.fallback_threshold().value,
                )
            } else {
                Vec::new()
            };
            if ids.is_empty() {
                summary.exit_code
            } else {
                let rootdir = observed
                    .rootdir
                    .as_deref()
                    .map(PathBuf::from)
                    .unwrap_or_else(|| settings.project_root().to_path_buf());
                let github = reports.github();
                let rerun_args = rerun::RerunArgs {
                    args: &args,
                    options: &options,
                    ids: &ids,
                    rootdir: &rootdir,
                    upstream_env: &upstream_env,
                    junit: junit.junit.as_mut(),
                    reports: Some(&mut reports),
                    github,
                };
                error::settle(rerun::rerun_sequentially(&settings, &summary, rerun_args))
            }
        }
        other => error::settle(fallback::finish(
            other,
            &prepared.python,
            &prepared.cwd,
            &prepared.pytest_args,
            &upstream_env,
        )),
    };
    // The report was written on the pool's `Finished` (again after a
    // rerun); a run that never finished has none, as pytest would not.
    let code = match junit.junit.as_mut().and_then(|j| j.take_result()) {
        Some(Err(source)) => report_missing(code, Error::Junit { source }),
        _ => code,
    };
    // `--flaky-result fail`: a test that passed only on a rerun fails the run.
    let code = if code == exit::OK && flaky_result == FlakyResult::Fail && reports.flaky_tests() > 0
    {
        exit::TESTS_FAILED
    } else {
        code
    };
    let upstream_reports = proxies.map(RunProxies::shutdown).unwrap_or_default();
    let upstream_reports = proxy_calls::attach(&mut reports.record, upstream_reports);
    if !upstream_reports.is_empty() {
        let _ = upstreams::print_stats(&mut std::io::stdout().lock(), &upstream_reports);
    }
    let code = finish_reports(&mut reports, &upstream_reports, code);
    // GitHub reads annotations from the log: after everything else, so
    // that they describe the run as it ended (the 429 rerun included).
    let annotations = reports.github_annotations();
    if !annotations.is_empty() {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        for line in annotations {
            let _ = writeln!(out, "{line}");
        }
        let _ = out.flush();
    }
    Ok(code)
}

/// GitHub Actions' output, when pacer runs there: the environment GitHub
/// sets (`GITHUB_ACTIONS`, `GITHUB_STEP_SUMMARY`, `GITHUB_WORKSPACE`) and
/// pacer's switches (`--no-github`, `PACER_GITHUB`, the annotations' cap
/// `PACER_GITHUB_ANNOTATIONS`), read here rather than in the settings
/// because they describe where pacer runs, not the project.
fn github_options(args: &RunArgs) -> Result<Option<GithubOptions>, Error> {
    if args.no_github {
        return Ok(None);
    }
    GithubOptions::from_env(|name| std::env::var(name).ok())
        .map_err(|message| Error::Github { message })
}

/// The JSON/HTML reporter for `--json-report` / `--html-report`, once
/// their paths are known writable.
fn run_reports(args: &RunArgs) -> Result<RunReports, Error> {
    let paths = [
        (ReportKind::Json, &args.json_report),
        (ReportKind::Html, &args.html_report),
    ];
    for (kind, path) in paths {
        if let Some(path) = path {
            pacer_report::reports::check_writable(path).map_err(|source| Error::Report {
                kind,
                before_run: true,
                source,
            })?;
        }
    }
    Ok(RunReports::new(
        RunRecord::new(env!("CARGO_PKG_VERSION")),
        args.json_report.clone(),
        args.html_report.clone(),
    ))
}

/// Writes the reports a last time with the proxies' statistics and the
/// code pacer ends with; a report that cannot be written fails a run that
/// would have passed, as a missing JUnit file does.
fn finish_reports(reports: &mut RunReports, upstreams: &[UpstreamReport], code: i32) -> i32 {
    if !reports.record.finished() {
        return code;
    }
    reports.record.set_exit_code(code);
    reports.record.set_upstreams(upstream_stats(upstreams));
    reports.write();
    match reports.take_result() {
        Some(Err((kind, source))) => report_missing(
            code,
            Error::Report {
                kind,
                before_run: false,
                source,
            },
        ),
        _ => code,
    }
}

/// Says why a report is missing; a run whose report is missing must not
/// pass in CI, so it fails a run that would have passed.
fn report_missing(code: i32, err: Error) -> i32 {
    err.print();
    if code == exit::OK {
        err.exit_code()
    } else {
        code
    }
}

/// The one place the reports read the proxies' statistics: each upstream's
/// report as its own serde form, whatever fields it has.
fn upstream_stats(upstreams: &[UpstreamReport]) -> Vec<serde_json::Value> {
    upstreams
        .iter()
        .filter_map(|u| serde_json::to_value(u).ok())
        .collect()
}
