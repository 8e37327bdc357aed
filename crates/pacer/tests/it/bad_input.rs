//! Issue 11, "bad input never panics": out-of-range numbers from every
//! source are a clear error naming the source, exit 4, never a panic (101).

use crate::common;

use common::{pacer_in, text};

fn project(pyproject: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("pyproject.toml"), pyproject).unwrap();
    std::fs::write(
        dir.path().join("test_one.py"),
        "def test_one():\n    pass\n",
    )
    .unwrap();
    dir
}

#[test]
fn regression_huge_durations_are_usage_errors_naming_their_source() {
    let dir = project("[tool.pytest.ini_options]\n");
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 5] = [
        (&[], &[("PACER_TIMEOUT", "1e300")], "PACER_TIMEOUT"),
        (&["--timeout", "1e300"], &[], "--timeout"),
        (&["--max-backoff", "1e20"], &[], "--max-backoff"),
        (&["--min-delay", "NaN"], &[], "--min-delay"),
        (&[], &[("PACER_BASE_BACKOFF", "-3")], "PACER_BASE_BACKOFF"),
    ];
    for (args, env, source) in cases {
        let out = pacer_in(dir.path(), args, env);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(4), "{args:?} {env:?}: {all}");
        assert!(all.contains(source), "{args:?} {env:?}: {all}");
        assert!(!all.contains("panicked"), "{all}");
    }
}

#[test]
fn out_of_range_rate_limit_values_in_the_config_file_name_the_line() {
    for (table, needle) in [
        ("max_backoff = 1e20", "max_backoff"),
        ("upstream_timeout = 0", "upstream_timeout"),
        ("max_wait = nan", "max_wait"),
        ("rate = 1e-300", "rate"),
        ("max_body_bytes = -1", "max_body_bytes"),
    ] {
        let dir = project(&format!(
            "[tool.pacer.rate_limit]\n{table}\n\n[tool.pacer.upstreams.api]\nurl = \"http://127.0.0.1:9\"\n"
        ));
        let out = pacer_in(dir.path(), &["config"], &[]);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(4), "{table}: {all}");
        assert!(all.contains(needle), "{table}: {all}");
        assert!(all.contains("pyproject.toml:2"), "{table}: {all}");
    }
}

#[test]
fn an_interpreter_from_pacer_python_that_is_not_python_is_an_error() {
    let dir = project("[tool.pytest.ini_options]\n");
    let out = pacer_in(dir.path(), &[], &[("PACER_PYTHON", "/bin/true")]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(4), "{all}");
    assert!(all.contains("/bin/true"), "{all}");
}

/// Issue 11: a name given twice kept the last silently; a category an
/// earlier one covers never selected anything, silently.
#[test]
fn duplicate_upstreams_and_shadowed_categories_are_warned_about_with_both_sources() {
    let dir = project(
        "[tool.pacer.upstreams.api]\nurl = \"http://127.0.0.1:9/v1\"\n\n\
         [tool.pacer.categories.mine]\npaths = [\"tests/unit\"]\n",
    );
    let out = pacer_in(
        dir.path(),
        &[
            "config",
            "--upstream",
            "api=http://127.0.0.1:8",
            "--upstream",
            "other=http://127.0.0.1:7",
            "--upstream",
            "other=http://127.0.0.1:6",
        ],
        &[],
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    for needle in [
        "upstream `api`: --upstream api=http://127.0.0.1:8 replaces its url http://127.0.0.1:9/v1 from pyproject.toml:2",
        "upstream `other` is given twice by --upstream: other=http://127.0.0.1:7 is ignored, the later other=http://127.0.0.1:6 is used",
        "category `mine` (pyproject.toml:5 tool.pacer.categories.mine.paths) never selects a test: `unit`",
    ] {
        assert!(all.contains(needle), "{needle:?} not in {all}");
    }
}
