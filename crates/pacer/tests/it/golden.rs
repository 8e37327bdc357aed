//! pacer's terminal output against plain pytest's, flag family by flag family.
//!
//! Each test runs the real `pacer` binary and `python -m pytest -p no:xdist`
//! on the same fixture suite (`tests/fixtures/golden`) and compares their
//! standard output after [`normalize`]: session times, pacer's `pacer: N
//! workers` line, and the progress (characters or `-v` lines, whose layout
//! and order legitimately differ between a parallel run and pytest's) are
//! reduced to what must agree. Everything else is compared as text, so a
//! changed blank line, separator width or traceback indentation fails.
//!
//! Where order is pytest's to define (inside a section, the sections'
//! order), the runs use one worker; the parallel test compares sections as
//! sets, as two workers finish tests in any order.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

use common::outcomes::{self, final_line, from_summary, from_verbose, tallies, Status, Tally};
use common::{pacer_command, pytest_command, same_terminal, snapshot, suite};

/// Each test of the golden suite and its status.
fn golden_outcomes() -> outcomes::Outcomes {
    outcomes::expect(&[
        ("tests/test_collect_warning.py::test_passes", Status::Passed),
        ("tests/test_out.py::test_pass_prints", Status::Passed),
        ("tests/test_out.py::test_fail_nested", Status::Failed),
        ("tests/test_out.py::test_fail_plain", Status::Failed),
        ("tests/test_out.py::test_setup_error", Status::Error),
        // Passed in its call, an error in its teardown.
        ("tests/test_out.py::test_teardown_error", Status::Error),
        ("tests/test_out.py::test_skipped", Status::Skipped),
        ("tests/test_out.py::test_xfailed", Status::XFailed),
        ("tests/test_out.py::test_xpassed", Status::XPassed),
        ("tests/test_out.py::test_warns", Status::Passed),
        ("tests/test_out.py::test_logs_info", Status::Passed),
        (
            "tests/test_out.py::test_long_id_fails[a-very-long-parameter-value-that-makes-the-node-id-wider-than-eighty-columns]",
            Status::Failed,
        ),
    ])
}

/// The golden suite's final line (a teardown error counts as a pass and
/// an error, as pytest counts phases).
fn golden_tallies() -> outcomes::Tallies {
    tallies(&[
        (3, Tally::Failed),
        (5, Tally::Passed),
        (1, Tally::Skipped),
        (1, Tally::XFailed),
        (1, Tally::XPassed),
        (3, Tally::Warnings),
        (2, Tally::Errors),
    ])
}

/// The lines of `text` from the first that `from` accepts up to, not
/// including, the first after it that `to` accepts (or the end).
fn lines_between(text: &str, from: impl Fn(&str) -> bool, to: impl Fn(&str) -> bool) -> String {
    let mut lines = text.lines().skip_while(|l| !from(l));
    let mut out = String::new();
    if let Some(first) = lines.next() {
        out.push_str(first);
        out.push('\n');
    }
    for line in lines.take_while(|l| !to(l)) {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Outcome words of pytest's per-test lines.
const WORDS: [&str; 6] = ["PASSED", "FAILED", "ERROR", "SKIPPED", "XFAIL", "XPASS"];

/// pacer's stdout for `pacer PACER_ARGS -- -p no:cacheprovider PYTEST_ARGS`.
fn pacer(dir: &Path, pacer_args: &[&str], pytest_args: &[&str]) -> String {
    let mut args: Vec<&str> = pacer_args.to_vec();
    args.extend(["--", "-p", "no:cacheprovider"]);
    args.extend(pytest_args);
    let output = same_terminal(&mut pacer_command(dir, &args))
        .output()
        .expect("pacer runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// pytest's stdout for the same options (pacer's `-q`/`-v` are pytest's).
fn pytest(dir: &Path, pacer_args: &[&str], pytest_args: &[&str]) -> String {
    let mut args: Vec<&str> = vec!["-p", "no:cacheprovider"];
    args.extend(
        pacer_args
            .iter()
            .filter(|a| a.starts_with("-q") || a.starts_with("-v")),
    );
    args.extend(pytest_args);
    let output = same_terminal(&mut pytest_command(dir, &args))
        .output()
        .expect("pytest runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `" in 0.04s"` → `" in T"`, and a final line's frame rebuilt around the
/// shorter text so that a slower run (`12.34s`) frames the same.
fn normalize_times(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find(" in ") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 4..];
        let digits = after
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(after.len());
        if digits > 0 && after[digits..].starts_with('s') {
            out.push_str(" in T");
            let mut tail = &after[digits + 1..];
            // Past a minute pytest adds " (0:01:15)".
            if let Some(clock) = tail.strip_prefix(" (") {
                if let Some(end) = clock.find(')') {
                    tail = &clock[end + 1..];
                }
            }
            rest = tail;
        } else {
            out.push_str(" in ");
            rest = after;
        }
    }
    out.push_str(rest);
    if out.contains(" in T") && out.starts_with('=') && !out.contains('\x1b') {
        let inner = out.trim_matches('=').trim();
        return format!("=== {inner} ===");
    }
    out
}

/// The `WORD node-id` of a per-test line: pacer's `[gw0] [ 10%] WORD id`
/// or pytest's `id WORD (reason)   [ 10%]`.
fn verbose_outcome(line: &str) -> Option<String> {
    if let Some(rest) = line.strip_prefix("[gw") {
        let rest = rest.split_once("%] ")?.1;
        let (word, id) = rest.split_once(' ')?;
        return WORDS.contains(&word).then(|| format!("{word} {id}"));
    }
    let body = line.trim_end().strip_suffix(']')?;
    let (body, percent) = body.rsplit_once('[')?;
    percent.trim().strip_suffix('%')?.parse::<u32>().ok()?;
    let body = body.trim_end();
    WORDS.iter().find_map(|word| {
        let at = body.find(&format!(" {word}"))?;
        let after = &body[at + 1 + word.len()..];
        (after.is_empty() || after.starts_with(" (")).then(|| format!("{word} {}", &body[..at]))
    })
}

/// The characters of a progress line (`..F.s   [ 50%]`, with or without
/// pytest's `path.py ` in front), which pytest fills to one column short of
/// the width: a line of another width is left as it is, and differs.
fn progress_letters(line: &str) -> Option<String> {
    if line.chars().count() != 79 {
        return None;
    }
    let body = line.trim_end().strip_suffix(']')?;
    let (body, percent) = body.rsplit_once('[')?;
    percent.trim().strip_suffix('%')?.parse::<u32>().ok()?;
    let body = body.trim_end();
    let letters = body.rsplit(' ').next()?;
    (!letters.is_empty() && letters.chars().all(|c| ".FEsxX".contains(c)))
        .then(|| letters.to_string())
}

/// What must agree between pacer's and pytest's output: see the module doc.
fn normalize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut letters: Option<Vec<char>> = None;
    let mut outcomes: Option<Vec<String>> = None;
    let flush = |out: &mut Vec<String>,
                 letters: &mut Option<Vec<char>>,
                 outcomes: &mut Option<Vec<String>>| {
        if let Some(mut l) = letters.take() {
            l.sort_unstable();
            out.push(format!("<progress {}>", l.into_iter().collect::<String>()));
        }
        if let Some(mut o) = outcomes.take() {
            o.sort();
            out.extend(o);
        }
    };
    for line in text.lines() {
        // pacer's own notes (`pacer: 2 workers`, `pacer: 3 tests not run`).
        if line.starts_with("pacer: ") {
            continue;
        }
        if let Some(l) = progress_letters(line) {
            letters.get_or_insert_with(Vec::new).extend(l.chars());
            continue;
        }
        if let Some(o) = verbose_outcome(line) {
            outcomes.get_or_insert_with(Vec::new).push(o);
            continue;
        }
        flush(&mut out, &mut letters, &mut outcomes);
        out.push(normalize_times(line));
    }
    flush(&mut out, &mut letters, &mut outcomes);
    out
}

/// Asserts equal normalized output, printing both runs whole when not.
fn assert_same(pacer_args: &[&str], pytest_args: &[&str]) -> (String, String) {
    assert_same_in("golden", pacer_args, pytest_args)
}

fn assert_same_in(name: &str, pacer_args: &[&str], pytest_args: &[&str]) -> (String, String) {
    assert_same_at(&suite(name), pacer_args, pytest_args)
}

fn assert_same_at(dir: &Path, pacer_args: &[&str], pytest_args: &[&str]) -> (String, String) {
    let ours = pacer(dir, pacer_args, pytest_args);
    let theirs = pytest(dir, pacer_args, pytest_args);
    let (a, b) = (normalize(&ours), normalize(&theirs));
    if a != b {
        let first = a
            .iter()
            .zip(&b)
            .position(|(x, y)| x != y)
            .unwrap_or(a.len().min(b.len()));
        panic!(
            "pacer {pacer_args:?} -- {pytest_args:?} differs from pytest at normalized line {first}:\n  pacer:  {:?}\n  pytest: {:?}\n----- pacer -----\n{ours}\n----- pytest -----\n{theirs}",
            a.get(first),
            b.get(first)
        );
    }
    (ours, theirs)
}

#[test]
fn quiet_prints_characters_and_a_bare_final_line() {
    let (ours, _) = assert_same(&["-n", "1", "-q"], &[]);
    let first: Vec<&str> = ours.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(first, ["..FFE.EsxX..F", "[100%]"], "{ours}");
    let last = ours.lines().last().unwrap();
    assert_eq!(final_line(last), golden_tallies(), "{ours}");
    // -qq: characters, sections, no final line at all.
    let (ours, _) = assert_same(&["-n", "1", "-qq"], &[]);
    assert!(!ours.contains(" passed"), "{ours}");
}

#[test]
fn verbose_lines_and_header_follow_pytest() {
    let (ours, _) = assert_same(&["-n", "1", "-v"], &["--tb=no"]);
    assert_eq!(from_verbose(&ours), golden_outcomes(), "{ours}");
    snapshot!(
        "golden__verbose",
        "-v: the header names the interpreter (` -- `), `collecting ... collected 12 items`, \
         one `[gw0] [ 8%] WORD id` line per test in pytest's order (two for the teardown error)",
        &[(&suite("golden"), "[DIR]")],
        ours,
    );
    // -vv: whole messages in the short summary.
    assert_same(&["-n", "1", "-vv"], &["--tb=no"]);
}

#[test]
fn report_chars_a_and_passes_section_follow_pytest() {
    let (ours, _) = assert_same(&["-n", "1"], &["-rA"]);
    // The skipped test's line names its file and line, not its id.
    let mut listed = golden_outcomes();
    listed.remove("tests/test_out.py::test_skipped");
    assert_eq!(from_summary(&ours), listed, "{ours}");
    snapshot!(
        "golden__report_chars_all",
        "-rA from PASSES on: the passing tests' captured stdout and log, then a line per test",
        &[(&suite("golden"), "[DIR]")],
        lines_between(&ours, |l| l.contains("= PASSES ="), |_| false),
    );
    assert_same(&["-n", "1"], &["-rP"]);
    assert_same(&["-n", "1"], &["-ra"]);
    // A teardown's output: after its test's failure, and alone in PASSES.
    let (ours, _) = assert_same(&["-n", "1"], &["-rP", "extra"]);
    assert_eq!(
        ours.matches("Captured stdout teardown").count(),
        2,
        "{ours}"
    );
}

#[test]
fn failures_and_errors_sections_equal_pytests_for_every_tb_style() {
    for tb in ["auto", "long", "short", "line", "native", "no"] {
        let (ours, _) = assert_same(&["-n", "1"], &[&format!("--tb={tb}")]);
        if tb == "long" {
            // The first frame keeps its blank line and indentation.
            let lines: Vec<&str> = ours.lines().collect();
            let head = lines
                .iter()
                .position(|l| l.starts_with('_') && l.contains(" test_fail_plain "))
                .expect("a heading for test_fail_plain");
            assert_eq!(
                lines[head + 1..head + 3],
                ["", "    def test_fail_plain():"],
                "{ours}"
            );
        }
    }
    assert_same(&["-n", "1"], &["-l"]);
    assert_same(&["-n", "1"], &["--show-capture=no"]);
}

#[test]
fn collection_errors_and_empty_selections_follow_pytest() {
    let (ours, _) = assert_same_in("collect_error", &["-n", "1"], &[]);
    // No test ran: one blank line between the collected line and ERRORS,
    // a block per file that failed to collect.
    snapshot!(
        "golden__collection_errors",
        "collected 3 items / 2 errors, one blank line, ERRORS with a block per broken file \
         (bodies left out), then the summary and the interruption",
        &[(&suite("collect_error"), "[DIR]")],
        common::normalize::outline(&ours),
    );
    assert_same(&["-n", "1"], &["-k", "nothing_matches"]);
    assert_same(&["-n", "1", "-q"], &["-k", "nothing_matches"]);
}

#[test]
fn short_summary_keeps_node_ids_whole_and_cuts_messages() {
    let (ours, _) = assert_same(&["-n", "1"], &["--tb=no"]);
    snapshot!(
        "golden__short_summary",
        "the long id whole on its FAILED line (no message fits), the others with their messages",
        &[(&suite("golden"), "[DIR]")],
        lines_between(
            &ours,
            |l| l.contains(" short test summary info "),
            |_| false
        ),
    );
}

#[test]
fn node_ids_are_relative_to_where_pacer_runs() {
    // Started below the rootdir, pytest shows ids relative to that folder.
    let (ours, _) = assert_same_at(
        &suite("golden").join("tests"),
        &["-n", "1", "-v"],
        &["--tb=no"],
    );
    let relative: outcomes::Outcomes = golden_outcomes()
        .into_iter()
        .map(|(id, status)| (id.strip_prefix("tests/").unwrap().to_string(), status))
        .collect();
    assert_eq!(from_verbose(&ours), relative, "{ours}");
    let mut listed = relative;
    listed.retain(|_, status| matches!(status, Status::Failed | Status::Error));
    assert_eq!(from_summary(&ours), listed, "{ours}");
    assert!(
        ours.contains("\nFAILED test_out.py::test_fail_plain - assert 1 == 2\n"),
        "{ours}"
    );
}

#[test]
fn warnings_raised_while_collecting_are_counted_and_shown() {
    let (ours, _) = assert_same(&["-n", "1"], &["--tb=no"]);
    assert_eq!(final_line(&ours), golden_tallies(), "{ours}");
    snapshot!(
        "golden__warnings_summary",
        "the import-time warnings (tests/test_collect_warning.py:8 and :11) and the test's own",
        &[(&suite("golden"), "[DIR]")],
        lines_between(
            &ours,
            |l| l.contains(" warnings summary "),
            |l| l.starts_with('=')
        ),
    );
    let (ours, _) = assert_same(&["-n", "1"], &["--tb=no", "-p", "no:warnings"]);
    assert!(!ours.contains("warning"), "{ours}");
    assert_same(&["-n", "1"], &["--tb=no", "--disable-warnings"]);
}

#[test]
fn header_and_summary_switches_follow_pytest() {
    let (ours, _) = assert_same(&["-n", "1"], &["--tb=no"]);
    snapshot!(
        "golden__header",
        "the conftest's two header lines before rootdir:, then testpaths: tests",
        &[(&suite("golden"), "[DIR]")],
        lines_between(&ours, |_| true, |l| l.starts_with("collected ")),
    );
    let (ours, _) = assert_same(&["-n", "1"], &["--tb=no", "--no-header"]);
    assert!(!ours.contains("rootdir"), "{ours}");
    let (ours, _) = assert_same(&["-n", "1"], &["--no-summary"]);
    assert!(!ours.contains("FAILURES"), "{ours}");
}

#[test]
fn colours_are_pytests_markup() {
    // The long-id test's assertion diff is highlighted by pytest's terminal
    // reporter, which a worker does not run (see the report); left out here.
    let (ours, _) = assert_same(
        &["-n", "1", "-q"],
        &["--color=yes", "-rA", "-k", "not long_id"],
    );
    assert!(ours.contains("\x1b[31m\x1b[1m"), "{ours}");
}

/// pytest's log_cli output per test: the `live log` blocks printed for it.
/// pytest prints them between `id ` and the outcome word, pacer before its
/// `[gw0] [ 10%] WORD id` line.
fn live_blocks(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut blocks = BTreeMap::new();
    let mut pending: Vec<String> = Vec::new();
    let mut pytest_id: Option<String> = None;
    for line in text.lines() {
        if line.starts_with("---") && line.contains(" live log ")
            || !pending.is_empty()
                && !line.is_empty()
                && verbose_outcome(line).is_none()
                && !WORDS.iter().any(|w| line.starts_with(w))
        {
            pending.push(line.to_string());
            continue;
        }
        if let Some(outcome) = verbose_outcome(line) {
            let (_, id) = outcome.split_once(' ').unwrap();
            if !pending.is_empty() {
                blocks.insert(id.to_string(), std::mem::take(&mut pending));
            }
        } else if let Some(id) = line.strip_suffix(' ').filter(|l| l.contains("::")) {
            pytest_id = Some(id.to_string());
        } else if WORDS.iter().any(|w| line.starts_with(w)) {
            if let Some(id) = pytest_id.take() {
                blocks.insert(id, std::mem::take(&mut pending));
            }
        }
    }
    blocks
}

#[test]
fn log_cli_prints_each_tests_live_log_blocks() {
    let dir = suite("golden");
    let args = ["--tb=no", "-o", "log_cli=true"];
    let ours = pacer(&dir, &["-n", "1"], &args);
    let theirs = pytest(&dir, &["-n", "1"], &args);
    let (a, b) = (live_blocks(&ours), live_blocks(&theirs));
    assert_eq!(a.len(), 2, "two tests log: {a:?}\n{ours}");
    assert_eq!(
        a, b,
        "\n----- pacer -----\n{ours}\n----- pytest -----\n{theirs}"
    );
    assert!(
        ours.contains("\nWARNING  golden:test_out.py:71 warning record\n[gw0] ["),
        "{ours}"
    );
}

#[test]
fn parallel_sections_hold_pytests_blocks_in_any_order() {
    let dir = suite("golden");
    let ours = pacer(&dir, &["-n", "2"], &["-rA"]);
    let theirs = pytest(&dir, &[], &["-rA"]);
    for title in ["ERRORS", "FAILURES", "PASSES"] {
        assert_eq!(
            section_blocks(&ours, title),
            section_blocks(&theirs, title),
            "{title}\n----- pacer -----\n{ours}\n----- pytest -----\n{theirs}"
        );
    }
    let summary = |text: &str| {
        let mut lines: Vec<String> = text
            .split("short test summary info")
            .nth(1)
            .unwrap_or_default()
            .lines()
            .skip(1)
            .map(normalize_times)
            .collect();
        lines.sort();
        lines
    };
    assert_eq!(summary(&ours), summary(&theirs), "{ours}\n{theirs}");
}

/// A `=== TITLE ===` section's `___ name ___` blocks, as a sorted list.
fn section_blocks(text: &str, title: &str) -> Vec<String> {
    let Some(section) = text.split(&format!("= {title} =")).nth(1) else {
        return Vec::new();
    };
    let body: Vec<&str> = section
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with('='))
        .collect();
    let mut blocks: Vec<String> = Vec::new();
    for line in body {
        if line.starts_with("_") && line.ends_with('_') && !line.starts_with("_ _") {
            blocks.push(String::new());
        }
        if let Some(block) = blocks.last_mut() {
            block.push_str(line);
            block.push('\n');
        }
    }
    blocks.sort();
    assert!(
        !blocks.is_empty() || title == "PASSES",
        "no {title} in\n{text}"
    );
    blocks
}

/// pytest's `run-last-failure:` line for `args`, run in `dir` with its cache.
fn pytest_last_failure_line(dir: &Path, args: &[&str]) -> String {
    let output = same_terminal(&mut pytest_command(dir, args))
        .output()
        .expect("pytest runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix("run-last-failure: "))
        .unwrap_or_else(|| panic!("no run-last-failure line for {args:?}:\n{text}"))
        .to_string()
}

/// The words pacer prints for `--lf`/`--ff` ([`pacer_report::lastfailed::note`])
/// against pytest's own, case by case on a copy of the golden suite whose
/// cache holds its 5 failures.
#[test]
fn last_failed_note_words_equal_pytests() {
    use pacer_report::lastfailed::{note, LastFailedRun};

    let copy = tempfile::tempdir().unwrap();
    let dir = copy.path();
    copy_dir(&suite("golden"), dir);
    let facts = |known, collected_failures, only, skipped_files, none| LastFailedRun {
        known,
        collected_failures,
        only,
        skipped_files,
        none_if_no_failures: none,
    };
    // Nothing known yet (a cache folder of its own per run, so none is written).
    for (args, none) in [(&["--lf"][..], false), (&["--lf", "--lfnf=none"][..], true)] {
        let cache = tempfile::tempdir().unwrap();
        let option = format!("cache_dir={}", cache.path().display());
        let mut all = vec!["-o", &option];
        all.extend(args);
        assert_eq!(
            note(facts(0, 0, true, 0, none)),
            pytest_last_failure_line(dir, &all)
        );
    }
    // A first run records the suite's 5 failures, all in tests/test_out.py.
    same_terminal(&mut pytest_command(dir, &["-q"]))
        .output()
        .unwrap();
    let cache = std::fs::read_to_string(dir.join(".pytest_cache/v/cache/lastfailed")).unwrap();
    let known: BTreeMap<String, bool> = serde_json::from_str(&cache).unwrap();
    assert_eq!(known.len(), 5, "{cache}");
    let cases: [(&[&str], LastFailedRun); 5] = [
        // pytest does not collect tests/test_collect_warning.py at all.
        (&["--lf"], facts(5, 5, true, 1, false)),
        (&["--ff"], facts(5, 5, false, 0, false)),
        (&["--lf", "tests/test_out.py"], facts(5, 5, true, 0, false)),
        (
            &["--lf", "tests/test_collect_warning.py"],
            facts(5, 0, true, 0, false),
        ),
        (
            &["--ff", "tests/test_collect_warning.py"],
            facts(5, 0, false, 0, false),
        ),
    ];
    for (args, run) in cases {
        // The `--lf` runs fail the same 5 again: the cache stays as it is.
        assert_eq!(
            note(run),
            pytest_last_failure_line(dir, args),
            "pytest {args:?}"
        );
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() == "__pycache__" || entry.file_name() == ".pytest_cache" {
                continue;
            }
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
