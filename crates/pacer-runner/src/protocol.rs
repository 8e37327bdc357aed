//! Messages between pacer and its pytest workers.
//!
//! One JSON object per line over a socket pair inherited as `PACER_FD`, never
//! the test's stdio. Each enum mirrors the dictionaries that
//! `python/pacer_worker.py` builds; `PROTOCOL` is checked in `hello` so a stale
//! plugin is caught at once instead of misread.

use serde::{Deserialize, Serialize};

/// Version of the message set; bump on any incompatible change on either side.
pub const PROTOCOL: u32 = 1;

/// What a worker tells pacer.
#[derive(Debug, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum FromWorker {
    Hello(Hello),
    Discovered {
        units: Vec<DiscoveredUnit>,
    },
    UsageError {
        message: String,
    },
    Collected {
        /// `[node id, [marker names]]`, in collection order.
        items: Vec<(String, Vec<String>)>,
        problems: Vec<CollectProblem>,
        deselected: usize,
    },
    Start {
        id: String,
    },
    Done {
        id: String,
        reports: Vec<PhaseReport>,
    },
    /// Teardown that ran after pacer said `stop`, charged to the last test.
    Late {
        id: String,
        reports: Vec<PhaseReport>,
    },
    Need,
    /// The zygote is ready to fork workers.
    HelloZygote {
        pid: u32,
    },
    /// The zygote forked `worker` as process `pid`.
    Forked {
        worker: String,
        pid: u32,
    },
    Missing {
        ids: Vec<String>,
    },
    Warning {
        id: String,
        when: String,
        message: String,
    },
    Bye(Bye),
}

/// A worker's last word, sent from `pytest_sessionfinish`, once plugins
/// wrapped around the test loop (pytest-cov) have finished.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Bye {
    /// `config.workeroutput` as JSON text: what xdist-aware plugins on the
    /// worker hand to their controller side.
    #[serde(default)]
    pub workeroutput: Option<String>,
    /// pytest-cov's options as the worker parsed them (JSON text), when
    /// pytest-cov is active there: pacer then plays its controller.
    #[serde(default)]
    pub cov: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Hello {
    pub protocol: u32,
    pub worker: String,
    pub pid: u32,
    pub python: String,
    pub platform: String,
    pub pytest: String,
    pub pluggy: String,
    pub rootdir: String,
    pub configfile: Option<String>,
    pub plugins: Vec<String>,
    /// pytest's JUnit settings as the worker parsed them.
    #[serde(default)]
    pub junit: Option<Box<JunitOptions>>,
}

/// pytest's JUnit XML settings, from wherever pytest took them (the command
/// line, `addopts`, `PYTEST_ADDOPTS`, the ini file). Workers never write the
/// file: pacer does, from every worker's results.
#[derive(Debug, Clone, Deserialize)]
pub struct JunitOptions {
    /// `--junitxml`, absolute; `None` when not asked for.
    pub xmlpath: Option<String>,
    /// `--junitprefix`: put before every test's classname.
    #[serde(default)]
    pub prefix: Option<String>,
    /// `junit_family`: `xunit2` (pytest's default) or `xunit1` (`legacy` too).
    pub family: String,
    /// `junit_suite_name`.
    pub suite_name: String,
}

/// A file (or a `file::name` argument) that one worker can collect alone.
#[derive(Debug, Clone, Deserialize)]
pub struct DiscoveredUnit {
    /// What to hand to `session.perform_collect`.
    pub arg: String,
    /// pytest's node id of the file.
    pub id: String,
    /// Bytes on disk: a cheap stand-in for collection cost.
    pub size: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CollectProblem {
    pub id: String,
    /// `failed` or `skipped`.
    pub outcome: String,
    pub longrepr: String,
    pub skip: Option<SkipLocation>,
}

/// `(path, line, reason)` as pytest keeps it for a skip.
#[derive(Debug, Clone, Deserialize)]
pub struct SkipLocation(pub String, pub Option<i64>, pub String);

/// One phase (setup, call, teardown) of one test, sent only when it says
/// something: a passing setup or teardown is left out.
#[derive(Debug, Clone, Deserialize)]
pub struct PhaseReport {
    pub when: String,
    pub outcome: String,
    /// pytest's status category (`passed`, `failed`, `error`, `xfailed`, ...);
    /// empty when the phase does not count.
    pub cat: String,
    /// The verbose word (`PASSED`, `XFAIL`, ...).
    pub word: String,
    pub dur: f64,
    #[serde(default)]
    pub longrepr: Option<String>,
    #[serde(default)]
    pub sections: Vec<(String, String)>,
    #[serde(default)]
    pub head: Option<String>,
    #[serde(default)]
    pub msg: Option<String>,
    #[serde(default)]
    pub skip: Option<SkipLocation>,
    #[serde(default)]
    pub xfail: Option<String>,
    /// pytest's `report.location` (path, 0-based line), sent only for a
    /// JUnit report of family xunit1, which names them.
    #[serde(default)]
    pub loc: Option<(String, Option<i64>)>,
}

/// What pacer tells a worker.
#[derive(Debug, Serialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum ToWorker<'a> {
    Discover,
    Collect {
        units: &'a [String],
    },
    /// Run these tests after collecting `units` (files this worker has not
    /// collected yet).
    Run {
        tests: Vec<&'a str>,
        units: Vec<&'a str>,
        /// Environment for these tests (their category's).
        env: &'a [(String, String)],
    },
    /// Nothing more for now: run what you hold with no next item.
    Idle,
    Stop,
}

impl ToWorker<'_> {
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).expect("protocol messages always serialize");
        line.push(b'\n');
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_message_parses_with_optional_fields_missing() {
        let line = r#"{"t":"done","id":"t.py::a","reports":[{"when":"call","outcome":"passed","cat":"passed","word":"PASSED","dur":0.1}]}"#;
        match serde_json::from_str::<FromWorker>(line).unwrap() {
            FromWorker::Done { id, reports } => {
                assert_eq!(id, "t.py::a");
                assert_eq!(reports[0].cat, "passed");
                assert!(reports[0].longrepr.is_none());
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn bye_parses_bare_and_with_workeroutput() {
        assert!(matches!(
            serde_json::from_str::<FromWorker>(r#"{"t":"bye"}"#).unwrap(),
            FromWorker::Bye(Bye {
                workeroutput: None,
                cov: None
            })
        ));
        let line = r#"{"t":"bye","workeroutput":"{\"cov_worker_node_id\":\"gw0\"}","cov":"{}"}"#;
        match serde_json::from_str::<FromWorker>(line).unwrap() {
            FromWorker::Bye(bye) => {
                assert_eq!(
                    bye.workeroutput.as_deref(),
                    Some(r#"{"cov_worker_node_id":"gw0"}"#)
                );
                assert_eq!(bye.cov.as_deref(), Some("{}"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn run_message_serializes_tagged() {
        let env = vec![("PYTEST_CURRENT_CATEGORY".to_string(), "unit".to_string())];
        let msg = ToWorker::Run {
            tests: vec!["a::b"],
            units: vec![],
            env: &env,
        };
        assert_eq!(
            String::from_utf8(msg.to_line()).unwrap(),
            "{\"t\":\"run\",\"tests\":[\"a::b\"],\"units\":[],\"env\":[[\"PYTEST_CURRENT_CATEGORY\",\"unit\"]]}\n"
        );
    }
}
