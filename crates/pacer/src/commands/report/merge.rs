//! `pacer report merge OUT_DIR REPORT.json...`: reads each shard's JSON
//! report, merges them (`pacer_report::merge`, which refuses shards of
//! different runs, a shard twice or one missing) and writes the run's
//! reports into OUT_DIR with the writers a run uses: `report.json`,
//! `junit.xml`, `report.html` and `summary.md`, the step summary, also
//! appended to `$GITHUB_STEP_SUMMARY` when it is set. It ends with the
//! worst shard's exit code, so that the merge job fails as the run did.

use std::io::Write;
use std::path::{Path, PathBuf};

use pacer_report::github::summary;
use pacer_report::merge::merge as merge_reports;
use pacer_report::{Junit, ReportKind, RunReport};
use pacer_types::{exit, Status};

use crate::cli::MergeArgs;
use crate::error::Error;

pub fn merge(args: &MergeArgs) -> Result<i32, Error> {
    let mut reports = Vec::with_capacity(args.reports.len());
    for path in &args.reports {
        reports.push((path.clone(), read(path)?));
    }
    let shards = reports.len();
    let report = merge_reports(reports).map_err(|source| Error::Merge { source })?;
    let written = write_all(&args.out_dir, &report)?;

    let mut out = std::io::stdout().lock();
    let elapsed = std::time::Duration::from_secs_f64(report.elapsed.max(0.0));
    let run = match &report.run_id {
        Some(id) => format!(" of run {id}"),
        None => String::new(),
    };
    let _ = writeln!(
        out,
        "pacer: merged {shards} report{}{run}: {} in {}",
        if shards == 1 { "" } else { "s" },
        summary::counts_phrase(&report, report.warnings),
        pacer_report::tally::format_elapsed(elapsed),
    );
    for path in written {
        let _ = writeln!(out, "wrote {}", path.display());
    }
    Ok(exit_code(&report))
}

fn read(path: &Path) -> Result<RunReport, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::ReadReport {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| Error::ParseReport {
        path: path.to_path_buf(),
        source,
    })
}

/// The reports, in OUT_DIR and the step summary; the files written.
fn write_all(dir: &Path, report: &RunReport) -> Result<Vec<PathBuf>, Error> {
    let failed = |path: &Path, message: String| Error::WriteMerged {
        path: path.to_path_buf(),
        message,
    };
    std::fs::create_dir_all(dir).map_err(|e| failed(dir, e.to_string()))?;
    let json = dir.join("report.json");
    let junit = dir.join("junit.xml");
    let html = dir.join("report.html");
    let markdown = dir.join("summary.md");
    pacer_report::reports::write_file(ReportKind::Json, &json, report)
        .map_err(|e| failed(&json, e.to_string()))?;
    Junit::from_report(&junit, report)
        .write()
        .map_err(|e| failed(&junit, e.to_string()))?;
    pacer_report::reports::write_file(ReportKind::Html, &html, report)
        .map_err(|e| failed(&html, e.to_string()))?;
    let text = summary::render(report, report.warnings);
    std::fs::write(&markdown, &text).map_err(|e| failed(&markdown, e.to_string()))?;
    let mut written = vec![json, junit, html, markdown];
    if let Some(step) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|v| !v.is_empty()) {
        let step = PathBuf::from(step);
        // Appended, as every step adds to the job's summary.
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&step)
            .and_then(|mut file| file.write_all(text.as_bytes()))
            .map_err(|e| failed(&step, format!("{e} (GITHUB_STEP_SUMMARY)")))?;
        written.push(step);
    }
    Ok(written)
}

/// The worst shard's code; for reports that kept none (written by a run
/// that never finished), what their tests say.
fn exit_code(report: &RunReport) -> i32 {
    report.exit_code.unwrap_or_else(|| {
        let failing = [Status::Failed, Status::Error]
            .iter()
            .any(|s| report.counts.get(s).is_some_and(|n| *n > 0));
        if failing {
            exit::TESTS_FAILED
        } else {
            exit::OK
        }
    })
}
