//! The JSON/HTML reports of `pacer run` (`--json-report`, `--html-report`):
//! opened before the pool (their paths checked before any test runs) and,
//! in the run's last step, finished: the proxies stopped, their calls
//! charged to the tests and their statistics printed, the reports written
//! a last time with the code pacer ends with, and GitHub's annotations.

use pacer_report::{ReportKind, RunRecord, RunReports};
use pacer_settings::Settings;

use super::exit_code::report_missing;
use super::{proxy_calls, upstream_stats};
use crate::cli::RunArgs;
use crate::error::Error;
use crate::upstreams::{SessionProxies, UpstreamReport};

/// The JSON/HTML reporter for `--json-report` / `--html-report`, once
/// their paths are known writable.
/// The reports say which CI run this is a shard of, and which shard
/// (`--run-id`, `--shard`), for `pacer report merge`.
pub fn open(args: &RunArgs, settings: &Settings) -> Result<RunReports, Error> {
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
    let mut record = RunRecord::new(env!("CARGO_PKG_VERSION"));
    record.set_identity(settings.run_id().value.clone(), settings.shard().value);
    if settings.trace_touched().value {
        record.trace_requests();
    }
    record.set_pytest_args(args.pytest.pytest_args.clone());
    Ok(RunReports::new(
        record,
        args.json_report.clone(),
        args.html_report.clone(),
    ))
}

/// Step 8 of `pacer run`: stops the proxies, prints their statistics after
/// pytest's final line, writes the reports with them and `code`, and
/// prints GitHub's annotations last; returns the code pacer ends with.
pub fn finish(reports: &mut RunReports, proxies: SessionProxies, code: i32) -> i32 {
    let upstream_reports = proxies.shutdown();
    let upstream_reports = proxy_calls::attach(&mut reports.record, upstream_reports);
    if !upstream_reports.is_empty() {
        let _ = upstream_stats::print(&mut std::io::stdout().lock(), &upstream_reports);
    }
    let code = write(reports, &upstream_reports, code);
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
    code
}

/// Writes the reports a last time with the proxies' statistics and the
/// code pacer ends with; a report that cannot be written fails a run that
/// would have passed, as a missing JUnit file does.
fn write(reports: &mut RunReports, upstreams: &[UpstreamReport], code: i32) -> i32 {
    if !reports.record.finished() {
        return code;
    }
    reports.record.set_exit_code(code);
    reports.record.set_upstreams(stats_json(upstreams));
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

/// The one place the reports read the proxies' statistics: each upstream's
/// report as its own serde form, whatever fields it has.
fn stats_json(upstreams: &[UpstreamReport]) -> Vec<serde_json::Value> {
    upstreams
        .iter()
        .filter_map(|u| serde_json::to_value(u).ok())
        .collect()
}
