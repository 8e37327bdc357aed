//! Whole-output snapshots (exit code, stdout, stderr) of `pacer config` and
//! `pacer list`, with the machine's paths redacted, so that a change to what
//! a user sees shows up as a diff of the whole output rather than slipping
//! past a substring assertion. Update with `INSTA_UPDATE=always` (or
//! `cargo insta review`) and read the diff before committing it.

use crate::common;

use common::{pacer_command, suite, text};

/// The shared normaliser with the fixture as `[ROOT]`, and runs of
/// spaces (the text table pads its columns to the longest value, which a
/// path's length decides) folded.
fn settings_for(root: &std::path::Path, fold_columns: bool) -> insta::Settings {
    let mut settings = common::normalize::settings(&[(root, "[ROOT]")]);
    settings.set_omit_expression(false);
    if fold_columns {
        settings.add_filter(r" {2,}", "  ");
    }
    settings
}

/// `pacer config` on the categories fixture with a fixed interpreter,
/// worker count, fresh workers and the cap on workers for tests that wait,
/// so that nothing depends on this machine's cores or memory.
fn config(json: bool) -> String {
    let dir = suite("categories");
    let mut args = vec!["config", "--workers", "2"];
    if json {
        args.push("--json");
    }
    let output = pacer_command(&dir, &args)
        .env("PACER_PYTHON", "python3")
        .env("PACER_FRESH_WORKERS", "2")
        .env("PACER_MAX_WAIT_WORKERS", "6")
        .output()
        .expect("pacer runs");
    text(&output)
}

#[test]
fn config_text_shows_every_setting_and_its_source() {
    let dir = suite("categories");
    settings_for(&dir, true).bind(|| insta::assert_snapshot!("config_text", config(false)));
}

#[test]
fn config_json_shows_every_setting_and_its_source() {
    let dir = suite("categories");
    settings_for(&dir, false).bind(|| insta::assert_snapshot!("config_json", config(true)));
}

fn list(json: bool) -> String {
    let dir = suite("categories");
    let mut args = vec!["list", "--workers", "2"];
    if json {
        args.push("--json");
    }
    args.extend(["--", "-p", "no:cacheprovider"]);
    let output = pacer_command(&dir, &args)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("pacer runs");
    text(&output)
}

#[test]
fn list_groups_the_tests_by_category() {
    let dir = suite("categories");
    settings_for(&dir, false).bind(|| insta::assert_snapshot!("list_text", list(false)));
}

#[test]
fn list_json_groups_the_tests_by_category() {
    let dir = suite("categories");
    settings_for(&dir, false).bind(|| insta::assert_snapshot!("list_json", list(true)));
}
