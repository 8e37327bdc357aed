//! `--json-report`: the run's [`RunReport`] as pretty-printed JSON, its
//! schema documented in `docs/reports.md`.

use crate::schema::RunReport;

/// Writes the report as `render` does, straight into `out`.
pub fn write(report: &RunReport, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    out.write_all(b"\n")
}

pub fn render(report: &RunReport) -> String {
    let mut json = serde_json::to_string_pretty(report).expect("the report is plain data");
    json.push('\n');
    json
}
