//! Step 7 of `pacer run`: the code pacer ends with, before the reports
//! record it: the rerun's or the fallback's, failed when a report is
//! missing (the JUnit file here, the JSON/HTML reports in `reports.rs`) or
//! when `--flaky-result fail` and a test passed only on a rerun.

use pacer_report::RunReports;
use pacer_settings::Settings;
use pacer_types::{exit, FlakyResult};

use super::junit_on_demand::JunitOnDemand;
use crate::error::Error;

/// The code after the rerun or fallback (`code`), as the JUnit file and
/// `--flaky-result` leave it.
pub fn settle(
    code: i32,
    junit: &mut JunitOnDemand,
    reports: &RunReports,
    settings: &Settings,
) -> i32 {
    // The report was written on the pool's `Finished` (again after a
    // rerun); a run that never finished has none, as pytest would not.
    let code = match junit.junit.as_mut().and_then(|j| j.take_result()) {
        Some(Err(source)) => report_missing(code, Error::Junit { source }),
        _ => code,
    };
    // `--flaky-result fail`: a test that passed only on a rerun fails the run.
    let flaky_result = settings.reruns().flaky_result.value;
    if code == exit::OK && flaky_result == FlakyResult::Fail && reports.flaky_tests() > 0 {
        exit::TESTS_FAILED
    } else {
        code
    }
}

/// Says why a report is missing; a run whose report is missing must not
/// pass in CI, so it fails a run that would have passed.
pub fn report_missing(code: i32, err: Error) -> i32 {
    err.print();
    if code == exit::OK {
        err.exit_code()
    } else {
        code
    }
}
