//! `--html-report`: one self-contained page (no request leaves it) drawn
//! from the same [`RunReport`] as the JSON file.
//!
//! The page is real HTML, CSS and JavaScript under `html/`, embedded here;
//! the report goes into it as JSON in a `<script type="application/json">`
//! element that the page's script reads and draws (the timeline as SVG).
//! Keeping the data as data means the page and the JSON report agree by
//! construction, and the drawing code can be read and changed as a page.

use crate::record::RunReport;

const TEMPLATE: &str = include_str!("html/report.html");
const STYLE: &str = include_str!("html/report.css");
const SCRIPT: &str = include_str!("html/report.js");

pub fn render(report: &RunReport) -> String {
    let data = serde_json::to_string(report).expect("the report is plain data");
    // Inside <script> only `</script` or `<!--` could end or confuse the
    // element; `<` written as `\u003c` is the same JSON and neither.
    let data = data.replace('<', "\\u003c");
    TEMPLATE
        .replace("/*PACER_STYLE*/", STYLE)
        .replace("/*PACER_SCRIPT*/", SCRIPT)
        .replace("\"PACER_DATA\"", &data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::RunRecord;

    #[test]
    fn the_page_holds_its_data_and_loads_nothing() {
        let mut report = RunRecord::with_clock("0", Box::new(|| 0.0)).to_report();
        report.rootdir = Some("</script><script>alert(1)</script>".into());
        let page = render(&report);
        assert!(!page.contains("<script>alert"));
        assert!(page.contains("\\u003c/script>"));
        assert!(
            !page.contains("PACER_DATA"),
            "the data replaced its placeholder"
        );
        for remote in ["src=\"http", "href=\"http", "@import", "url(http"] {
            assert!(!page.contains(remote), "{remote} loads from the network");
        }
    }
}
