//! `pacer doctor` on a real suite (`tests/fixtures/doctor`, copied to a
//! temporary folder): it names the module that is slow to import, the
//! fixture that is slow to set up and the test that bounds the run, and
//! `--json` carries the same findings. Normal runs never load its plugin.

use crate::common;

use common::{pacer_in, stdout, suite_copy, text};
use serde_json::Value;

#[test]
fn doctor_names_the_slow_import_the_slow_fixture_and_the_bounding_test() {
    let dir = suite_copy("doctor");
    let output = pacer_in(dir.path(), &["doctor", "-n", "2"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let printed = stdout(&output);
    let advice = printed
        .split("\nadvice:")
        .nth(1)
        .unwrap_or_else(|| panic!("no advice section\n{printed}"));
    assert!(
        advice.contains("tests/test_work.py::test_bounding") && advice.contains("bounds the run"),
        "{printed}"
    );
    assert!(
        advice.contains("`slow_import_helper`") && advice.contains("tests/test_imports.py"),
        "{printed}"
    );
    let fixtures = printed
        .split("heaviest fixtures")
        .nth(1)
        .and_then(|s| s.lines().nth(1))
        .unwrap_or_default();
    assert!(fixtures.contains("slow_resource"), "{printed}");
    let modules = printed
        .split("import and collection per module:")
        .nth(1)
        .and_then(|s| s.lines().nth(1))
        .unwrap_or_default();
    assert!(modules.contains("tests/test_imports.py"), "{printed}");
}

#[test]
fn doctor_json_has_the_same_findings_and_pytest_args_narrow_the_run() {
    let dir = suite_copy("doctor");
    let output = pacer_in(
        dir.path(),
        &["doctor", "-n", "2", "--json", "tests/test_work.py"],
        &[],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let doc: Value = serde_json::from_str(&stdout(&output)).expect("JSON on stdout");
    assert_eq!(doc["schema"], "pacer-doctor");
    assert_eq!(doc["workers"], 2);
    // Only test_work.py ran: six tests, and the slow import never happened.
    assert_eq!(doc["tests"], 6, "{doc:#}");
    assert_eq!(doc["slowest"][0]["id"], "tests/test_work.py::test_bounding");
    assert_eq!(doc["fixtures"][0]["name"], "slow_resource");
    let kinds: Vec<&str> = doc["advice"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"bounding-test"), "{doc:#}");
    assert!(
        !doc["advice"].to_string().contains("slow_import_helper"),
        "{doc:#}"
    );
    let bound = doc["bound"].as_f64().unwrap();
    let longest = doc["slowest"][0]["seconds"].as_f64().unwrap();
    assert!(bound >= longest, "{doc:#}");
}

#[test]
fn doctor_says_what_pytest_refused() {
    let dir = suite_copy("doctor");
    let output = pacer_in(dir.path(), &["doctor", "--", "--bogus"], &[]);
    assert_eq!(output.status.code(), Some(4), "{}", text(&output));
    common::snapshot!(
        "doctor__pytest_refused",
        "pytest's unrecognized arguments: --bogus, and no doctor findings (no `import time:`)",
        &[(dir.path(), "[DIR]")],
        text(&output),
    );
}

/// Tests that write, to `$DOCTOR_PROBE`, whether doctor's plugin is loaded
/// in the process that runs them: one per file, so that both workers run one.
const PROBE: &str = "import os\nimport sys\n\n\ndef test_probe(pytestconfig):\n    loaded = 'pacer_doctor' in sys.modules or pytestconfig.pluginmanager.has_plugin('pacer_doctor')\n    with open(os.environ['DOCTOR_PROBE'], 'a') as f:\n        f.write('%d %s\\n' % (os.getpid(), loaded))\n";

fn probe_lines(probe: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(probe)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_normal_run_of_the_same_suite_does_not_load_the_doctor_plugin() {
    let dir = suite_copy("doctor");
    for name in ["test_probe_a.py", "test_probe_b.py"] {
        std::fs::write(dir.path().join("tests").join(name), PROBE).unwrap();
    }
    let probe = dir.path().join("probe.txt");
    let env = [("DOCTOR_PROBE", probe.display().to_string())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let output = pacer_in(
        dir.path(),
        &["-n", "2", "--dist", "loadfile", "-p", "no:cacheprovider"],
        &env,
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let lines = probe_lines(&probe);
    assert_eq!(lines.len(), 2, "{lines:?}\n{}", text(&output));
    assert!(lines.iter().all(|l| l.ends_with(" False")), "{lines:?}");
    // The probe sees the plugin where it is loaded: under pacer doctor.
    std::fs::remove_file(&probe).unwrap();
    let doctor = pacer_in(dir.path(), &["doctor", "-n", "1"], &env);
    assert_eq!(doctor.status.code(), Some(0), "{}", text(&doctor));
    let lines = probe_lines(&probe);
    assert!(
        !lines.is_empty() && lines.iter().all(|l| l.ends_with(" True")),
        "{lines:?}\n{}",
        text(&doctor)
    );
}

#[test]
fn doctor_names_an_upstream_whose_rate_bounds_the_run() {
    // 6 tests x 2 calls at 4 requests/s: 3 s at least, however many
    // workers; the tests' own time, sequential, is mostly that wait, and
    // spread over 4 workers it is about a quarter of it.
    let api = common::mockapi::start(&["--rate", "100", "--latency", "0.01"]);
    let dir = suite_copy("ratelimited");
    let upstream = format!("--upstream=api={}", api.url);
    let output = pacer_in(
        dir.path(),
        &[
            "doctor",
            "--json",
            "-n",
            "4",
            &upstream,
            "--rate",
            "4",
            "--burst",
            "1",
            "tests/end_to_end",
            "-p",
            "no:cacheprovider",
        ],
        &[("RATELIMITED_TESTS", "6"), ("RATELIMITED_CALLS", "2")],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let doc: Value = serde_json::from_str(&stdout(&output)).expect("JSON on stdout");
    assert_eq!(doc["upstreams"][0]["name"], "api", "{doc:#}");
    assert_eq!(doc["upstreams"][0]["requests"], 12, "{doc:#}");
    let advice: Vec<&str> = doc["advice"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "upstream-rate")
        .map(|a| a["text"].as_str().unwrap())
        .collect();
    assert!(advice.len() == 1 && advice[0].contains("`api`"), "{doc:#}");
    let e2e = doc["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "end-to-end")
        .unwrap_or_else(|| panic!("no end-to-end category: {doc:#}"));
    assert_eq!(e2e["tests"], 6);
}
