//! Step 4 of `pacer run`: the suite on the pool of workers, its events on
//! their way to the reporters: through `observe::Observing` (what the later
//! steps need) and pytest-cov's controller (`coverage.rs`), to a `Tee`
//! of the JUnit reporter (made when pytest names `--junitxml`), the
//! JSON/HTML reports and pytest's terminal output.

use std::path::Path;

use pacer_report::{Github, RunReports, Tee, Terminal, TerminalOptions};
use pacer_runner::pool::{RunConfig, RunEnd};

use super::coverage;
use super::junit_on_demand::JunitOnDemand;
use super::observe::{Observed, Observing};
use super::reports;
use super::resolve::Resolved;
use crate::cli::RunArgs;
use crate::error::Error;
use crate::session;

/// The reporters that outlive the pool (the rerun adds to them, the last
/// step writes them), and what the events showed.
pub struct Reporters {
    /// pytest's rootdir and options, and the selected tests per category.
    pub observed: Observed,
    pub junit: JunitOnDemand,
    pub reports: RunReports,
}

/// Runs the pool to its end; `python` and `junit_suite_name` are the
/// session's.
pub fn run(
    args: &RunArgs,
    resolved: &Resolved,
    config: RunConfig,
    python: &Path,
    junit_suite_name: Option<String>,
) -> Result<(RunEnd, Reporters), Error> {
    // `--json-report` / `--html-report`: checked before any test runs,
    // written whenever the run ends, and again in the last step with what
    // only the run knows after it (the proxies' statistics, the final code).
    let mut reports = reports::open(args, &resolved.settings)?
        .with_github(resolved.github.clone().map(Github::new));
    // pytest's `--junitxml` (from the command line, `addopts` or
    // PYTEST_ADDOPTS) is known once pytest has parsed it: the report is
    // set up then, and written by pacer from every worker's results.
    let mut junit = JunitOnDemand::new(junit_suite_name);
    let flaky_result = resolved.settings.reruns().flaky_result.value;
    let mut terminal = Terminal::new(
        std::io::stdout().lock(),
        terminal_options(args, resolved.github.is_some()),
    )
    .with_flaky_result(flaky_result);
    let mut observed = Observed::default();
    // JUnit first: the file exists when the terminal names it (pytest's
    // `generated xml file` line, before the short summary).
    let mut reporters = Tee::new()
        .with(&mut junit)
        .with(&mut reports)
        .with(&mut terminal);
    // pytest-cov's controller side (combined report, --cov-fail-under).
    let cov_step = coverage::step(
        python,
        &config.plugin_dir,
        &config.launch.cwd,
        &config.launch.env,
    );
    let mut cov = coverage::CovController::new(cov_step, &mut reporters);
    let end = session::execute(
        config,
        &mut Observing {
            inner: &mut cov,
            observed: &mut observed,
        },
    );
    let end = cov.amend(end);
    drop(reporters);
    drop(terminal);
    Ok((
        end,
        Reporters {
            observed,
            junit,
            reports,
        },
    ))
}

/// pytest's terminal output as this terminal (and GitHub Actions) wants
/// it, naming the reports the run will write.
fn terminal_options(args: &RunArgs, github: bool) -> TerminalOptions {
    let mut options = TerminalOptions::detect(0);
    for (what, path) in [
        ("json report", &args.json_report),
        ("html report", &args.html_report),
    ] {
        if let Some(path) = path {
            let shown = std::path::absolute(path).unwrap_or_else(|_| path.clone());
            options.generated_reports.push((what, shown));
        }
    }
    if github {
        options.github = true;
        options.progress_bar = false;
    }
    options
}
