//! `--html-report`: one self-contained page (no request leaves it) drawn
//! from the same [`RunReport`] as the JSON file.
//!
//! The page is real HTML, CSS and JavaScript under `html/`, embedded here;
//! the report goes into it as JSON in a `<script type="application/json">`
//! element that the page's script reads and draws (the timeline as SVG).
//! Keeping the data as data means the page and the JSON report agree by
//! construction, and the drawing code can be read and changed as a page.

use crate::schema::RunReport;

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

    /// The page's script reads the report's words (issue 18): each status
    /// the record gives a test has a colour of its own in `OUTCOME`, and a
    /// collection error is found by the word serde writes for it.
    #[test]
    fn the_script_knows_the_words_the_report_writes() {
        use crate::schema::CollectionOutcome;
        use pacer_types::Status;
        let start = SCRIPT.find("const OUTCOME = {").expect("OUTCOME");
        let outcome = &SCRIPT[start..];
        let outcome = &outcome[..outcome.find('}').expect("OUTCOME ends")];
        for status in [
            Status::Passed,
            Status::Failed,
            Status::Error,
            Status::Skipped,
            Status::XFailed,
            Status::XPassed,
            Status::Flaky,
        ] {
            // A new status is decided here: a colour of its own, or OTHER's.
            let own_colour = match status {
                Status::Passed
                | Status::Failed
                | Status::Error
                | Status::Skipped
                | Status::XFailed
                | Status::XPassed
                | Status::Flaky => true,
                Status::Other(_) => false,
            };
            let word = serde_json::to_string(&status).unwrap();
            let key = format!("{}: \"#", word.trim_matches('"'));
            assert_eq!(outcome.contains(&key), own_colour, "{word} in {outcome}");
        }
        let error = serde_json::to_string(&CollectionOutcome::Error).unwrap();
        assert!(
            SCRIPT.contains(&format!("c.outcome === {error}")),
            "report.js finds collection errors by {error}"
        );
    }

    /// The `#rrggbb` colours in report.js's `const NAME = ...;`.
    fn colours_of(name: &str) -> Vec<&'static str> {
        let declaration = format!("const {name} = ");
        let start = SCRIPT
            .find(&declaration)
            .unwrap_or_else(|| panic!("no `{declaration}` in report.js"));
        let text = &SCRIPT[start..];
        let text = &text[..text.find(';').expect("a declaration ends")];
        text.match_indices('#')
            .map(|(i, _)| &text[i..i + 7])
            .collect()
    }

    fn srgb(colour: &str) -> [f64; 3] {
        let channel = |i: usize| {
            let c = u8::from_str_radix(&colour[i..i + 2], 16).expect("#rrggbb") as f64 / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        [channel(1), channel(3), channel(5)]
    }

    /// WCAG's contrast ratio of two colours.
    fn contrast(a: &str, b: &str) -> f64 {
        let luminance = |c: &str| {
            let [r, g, b] = srgb(c);
            0.2126 * r + 0.7152 * g + 0.0722 * b
        };
        let (a, b) = (luminance(a), luminance(b));
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }

    /// CIELAB under D65.
    fn lab(colour: &str) -> [f64; 3] {
        let [r, g, b] = srgb(colour);
        let x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
        let y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
        let z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
        let f = |t: f64| {
            if t > 216.0 / 24389.0 {
                t.cbrt()
            } else {
                (24389.0 / 27.0 * t + 16.0) / 116.0
            }
        };
        let (fx, fy, fz) = (f(x), f(y), f(z));
        [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)]
    }

    /// CIEDE2000, the colour difference as people see it (CIELAB's plain
    /// distance overrates differences between blues, where violet is).
    fn delta_e(a: &str, b: &str) -> f64 {
        ciede2000(lab(a), lab(b))
    }

    fn ciede2000([l1, a1, b1]: [f64; 3], [l2, a2, b2]: [f64; 3]) -> f64 {
        let pow7 = |c: f64| c.powi(7) / (c.powi(7) + 25f64.powi(7));
        let mean_c = (a1.hypot(b1) + a2.hypot(b2)) / 2.0;
        let g = 0.5 * (1.0 - pow7(mean_c).sqrt());
        let (a1, a2) = ((1.0 + g) * a1, (1.0 + g) * a2);
        let (c1, c2) = (a1.hypot(b1), a2.hypot(b2));
        let hue = |b: f64, a: f64| b.atan2(a).to_degrees().rem_euclid(360.0);
        let (h1, h2) = (hue(b1, a1), hue(b2, a2));
        let grey = c1 * c2 == 0.0;
        let mut dh = h2 - h1;
        if grey {
            dh = 0.0;
        } else if dh > 180.0 {
            dh -= 360.0;
        } else if dh < -180.0 {
            dh += 360.0;
        }
        let dh = 2.0 * (c1 * c2).sqrt() * (dh / 2.0).to_radians().sin();
        let mean_l = (l1 + l2) / 2.0;
        let mean_c = (c1 + c2) / 2.0;
        let mean_h = if grey {
            h1 + h2
        } else if (h1 - h2).abs() <= 180.0 {
            (h1 + h2) / 2.0
        } else if h1 + h2 < 360.0 {
            (h1 + h2 + 360.0) / 2.0
        } else {
            (h1 + h2 - 360.0) / 2.0
        };
        let cos = |deg: f64| deg.to_radians().cos();
        let t = 1.0 - 0.17 * cos(mean_h - 30.0)
            + 0.24 * cos(2.0 * mean_h)
            + 0.32 * cos(3.0 * mean_h + 6.0)
            - 0.20 * cos(4.0 * mean_h - 63.0);
        let s_l = 1.0 + 0.015 * (mean_l - 50.0).powi(2) / (20.0 + (mean_l - 50.0).powi(2)).sqrt();
        let s_c = 1.0 + 0.045 * mean_c;
        let s_h = 1.0 + 0.015 * mean_c * t;
        let rotation = -2.0
            * pow7(mean_c).sqrt()
            * (60.0 * (-((mean_h - 275.0) / 25.0).powi(2)).exp())
                .to_radians()
                .sin();
        let (l, c, h) = ((l2 - l1) / s_l, (c2 - c1) / s_c, dh / s_h);
        (l * l + c * c + h * h + rotation * c * h).sqrt()
    }

    #[test]
    fn ciede2000_agrees_with_sharma_wu_and_dalals_test_data() {
        let pairs = [
            ([50.0, 2.6772, -79.7751], [50.0, 0.0, -82.7485], 2.0425),
            ([50.0, 0.0, 0.0], [50.0, -1.0, 2.0], 2.3669),
            ([50.0, 2.49, -0.001], [50.0, -2.49, 0.0009], 7.1792),
            ([50.0, 2.5, 0.0], [73.0, 25.0, -18.0], 27.1492),
            (
                [60.2574, -34.0099, 36.2677],
                [60.4626, -34.1751, 39.4387],
                1.2644,
            ),
        ];
        for (a, b, want) in pairs {
            let got = ciede2000(a, b);
            assert!((got - want).abs() < 1e-4, "{a:?} {b:?}: {got}, not {want}");
        }
        assert!((delta_e("#000000", "#ffffff") - 100.0).abs() < 0.01);
    }

    /// Issue 17: a category's band was drawn in nearly the colour of
    /// `skipped` (#bcbd22 against #c9a227), so a band read as an outcome.
    #[test]
    fn category_bands_differ_from_every_outcome_colour_and_stand_out_from_the_lane() {
        let mut outcomes: Vec<&str> = colours_of("OUTCOME");
        outcomes.extend(colours_of("OTHER"));
        assert!(outcomes.len() >= 8, "{outcomes:?}");
        let categories = colours_of("CATEGORY");
        assert!(categories.len() >= 6, "{categories:?}");
        // Under about 15, two colours side by side read as shades of one.
        const APART: f64 = 15.0;
        // WCAG's 3:1 for graphics, against the lane's idle ground.
        let ground = "#f1f3f6";
        assert!(
            SCRIPT.contains(&format!("fill: \"{ground}\"")),
            "the idle ground's fill changed"
        );
        let mut faults = Vec::new();
        for (i, c) in categories.iter().enumerate() {
            for o in &outcomes {
                let d = delta_e(c, o);
                if d < APART {
                    faults.push(format!("category {c} is {d:.1} from outcome {o}"));
                }
            }
            for other in &categories[i + 1..] {
                let d = delta_e(c, other);
                if d < APART {
                    faults.push(format!("categories {c} and {other} are {d:.1} apart"));
                }
            }
            let ratio = contrast(c, ground);
            if ratio < 3.0 {
                faults.push(format!("category {c} has contrast {ratio:.2} on the lane"));
            }
        }
        assert!(faults.is_empty(), "{}", faults.join("\n"));
    }
}
