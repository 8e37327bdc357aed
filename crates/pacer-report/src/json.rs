//! `--json-report`: the run's [`RunReport`] as pretty-printed JSON, its
//! schema documented in `docs/reports.md`.

use crate::record::RunReport;

pub fn render(report: &RunReport) -> String {
    let mut json = serde_json::to_string_pretty(report).expect("the report is plain data");
    json.push('\n');
    json
}
