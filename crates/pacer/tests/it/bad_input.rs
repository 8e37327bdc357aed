//! Issue 11, "bad input never panics": out-of-range numbers from every
//! source are a clear error naming the source, exit 4, never a panic (101).

use crate::common;

use common::{pacer_in, snapshot, stderr, stdout, text};

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
    let mut shown = String::new();
    for (args, env, source) in cases {
        let out = pacer_in(dir.path(), args, env);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(4), "{args:?} {env:?}: {all}");
        shown.push_str(&format!("----- {args:?} {env:?}, named {source}\n{all}\n"));
    }
    snapshot!(
        "bad_input__huge_durations",
        "each a usage error (exit 4, no panic) naming its source: the variable or the flag",
        &[(dir.path(), "[DIR]")],
        shown,
    );
}

#[test]
fn out_of_range_rate_limit_values_in_the_config_file_name_the_line() {
    let mut shown = String::new();
    for table in [
        "max_backoff = 1e20",
        "upstream_timeout = 0",
        "max_wait = nan",
        "rate = 1e-300",
        "max_body_bytes = -1",
    ] {
        let dir = project(&format!(
            "[tool.pacer.rate_limit]\n{table}\n\n[tool.pacer.upstreams.api]\nurl = \"http://127.0.0.1:9\"\n"
        ));
        let out = pacer_in(dir.path(), &["config"], &[]);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(4), "{table}: {all}");
        // Each project is a temporary folder of its own, shown as [TMP].
        shown.push_str(&format!("----- {table}\n{all}\n"));
    }
    snapshot!(
        "bad_input__rate_limit_values_in_the_config_file",
        "each a usage error naming its key and pyproject.toml:2",
        &[],
        shown,
    );
}

#[test]
fn an_interpreter_from_pacer_python_that_is_not_python_is_an_error() {
    let dir = project("[tool.pytest.ini_options]\n");
    let out = pacer_in(dir.path(), &[], &[("PACER_PYTHON", "/bin/true")]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(4), "{all}");
    snapshot!(
        "bad_input__pacer_python_not_python",
        "a usage error naming /bin/true",
        &[(dir.path(), "[DIR]")],
        all,
    );
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
    // The notes above the table; the table itself (whose values follow
    // this machine's cores) is snapshots.rs's business.
    let notes: String = stdout(&out)
        .lines()
        .take_while(|l| l.starts_with("# "))
        .map(|l| format!("{l}\n"))
        .collect();
    snapshot!(
        "bad_input__duplicate_upstreams_and_shadowed_categories",
        "three warnings, each with both sources: --upstream api replacing pyproject.toml:2's url, \
         --upstream other given twice (the later used), category `mine` (pyproject.toml:5) shadowed by `unit`",
        &[(dir.path(), "[DIR]")],
        format!("{notes}--- stderr\n{}", stderr(&out)),
    );
}
