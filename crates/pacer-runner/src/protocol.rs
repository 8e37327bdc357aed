//! Messages between pacer and its pytest workers.
//!
//! One JSON object per line over a socket pair inherited as `PACER_FD`, never
//! the test's stdio. `protocol.json` (beside `Cargo.toml`) describes every
//! message and field once; these enums and the dictionaries that the
//! `python/pacer_worker/` package builds are both checked against it
//! (`protocol/spec.rs`, `python/tests/test_protocol.py`). `PROTOCOL` is
//! checked in `hello` so a stale plugin is caught at once instead of misread. Outcomes, phases and status
//! categories are read into [`pacer_types`]' enums here, at the boundary:
//! past this module nothing compares their strings.

use serde::{Deserialize, Serialize};

pub use pacer_types::{Outcome, Phase, Status};

/// The payloads the wire carries, defined where reporters read them.
pub use crate::events::{
    Bye, CollectProblem, Hello, JunitOptions, PhaseReport, PytestOptions, PytestTerminal,
    SkipLocation, Touched,
};

/// Version of the message set; bump on any incompatible change on either side.
pub const PROTOCOL: u32 = 1;

/// What a worker tells pacer.
#[derive(Debug, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum FromWorker {
    /// Boxed: the largest message by far, and one per worker.
    Hello(Box<Hello>),
    Discovered {
        units: Vec<DiscoveredUnit>,
        /// Why this session needs the whole collection in every worker
        /// (a conftest or plugin named), or none: split collection changes
        /// nothing it can see.
        #[serde(default)]
        whole: Option<String>,
    },
    UsageError {
        message: String,
    },
    Collected {
        /// In collection order.
        items: Vec<CollectedItem>,
        problems: Vec<CollectProblem>,
        deselected: usize,
        /// The deselected tests' ids, sent only under `--lf`.
        #[serde(default)]
        deselected_ids: Vec<String>,
        /// The whole collection of the run (`collect_all`), in pytest's
        /// final order, not a share of it.
        #[serde(default)]
        whole: bool,
        /// With `whole`: the collection hooks ordered the tests across
        /// files (who did, named); pacer then keeps that order.
        #[serde(default)]
        ordered: Option<String>,
    },
    Start {
        id: String,
    },
    Done {
        id: String,
        reports: Vec<PhaseReport>,
        /// Seconds of wall clock and of CPU (the worker's own and its
        /// waited-for children's) over the test's whole protocol: setup,
        /// call, teardown. Older plugins leave them out.
        #[serde(default)]
        wall: Option<f64>,
        #[serde(default)]
        cpu: Option<f64>,
        /// Seconds the worker's main thread was ready but waited for a core.
        #[serde(default)]
        queued: Option<f64>,
        /// What it left behind, when the worker traces it (`touched.py`).
        #[serde(default)]
        touched: Option<Touched>,
    },
    /// Teardown that ran after pacer said `stop`, charged to the last test.
    Late {
        id: String,
        reports: Vec<PhaseReport>,
    },
    Need,
    /// The tests given back after `unqueue`; the worker will not run them.
    Unqueued {
        ids: Vec<String>,
    },
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
        /// The test's node id; for a warning outside any test (collection),
        /// pytest's `path:line` of the warning instead.
        id: String,
        when: WarningWhen,
        message: String,
    },
    /// The test running raised `pytest.exit()` (`returncode` as given) or
    /// `KeyboardInterrupt` (`interrupt`): the run ends as pytest's would.
    Exit {
        id: String,
        #[serde(default)]
        message: String,
        #[serde(default)]
        returncode: Option<i32>,
        #[serde(default)]
        interrupt: bool,
    },
    Bye(Bye),
}

/// When pytest recorded a warning (`pytest_warning_recorded`'s `when`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WarningWhen {
    Config,
    /// While collecting: each worker that collects the file raises it again.
    Collect,
    Runtest,
    /// A value a later pytest may add.
    #[serde(other)]
    Other,
}

/// One collected test: `[node id, [marker names], {"scope": .., "group": ..}]`
/// on the wire; the third element is optional, so a plugin that sends
/// `[node id, [marker names]]` is still understood.
#[derive(Debug, Clone, Deserialize)]
#[serde(from = "ItemWire")]
pub struct CollectedItem {
    pub id: String,
    pub markers: Vec<String>,
    /// What the test's wider-scoped fixtures are set up for: its class or
    /// module, plus module/class parameter values. Big files are cut where
    /// it changes.
    pub scope: Option<String>,
    /// The name of its `xdist_group` mark.
    pub group: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ItemWire {
    WithInfo(String, Vec<String>, ItemInfo),
    Plain(String, Vec<String>),
}

#[derive(Deserialize)]
struct ItemInfo {
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    group: Option<String>,
}

impl From<ItemWire> for CollectedItem {
    fn from(wire: ItemWire) -> Self {
        match wire {
            ItemWire::WithInfo(id, markers, info) => CollectedItem {
                id,
                markers,
                scope: info.scope,
                group: info.group,
            },
            ItemWire::Plain(id, markers) => CollectedItem {
                id,
                markers,
                scope: None,
                group: None,
            },
        }
    }
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
    /// Collect the whole run as pytest does, every collection hook
    /// included, leaving out `ignore` (files a collection hung in).
    CollectAll {
        ignore: &'a [String],
    },
    /// Having collected the whole run: drop these tests, which pacer does
    /// not run, from `session.items`, as pytest's deselection does.
    Select {
        deselect: Vec<&'a str>,
    },
    /// Having collected the whole run: become the zygote that forks the
    /// workers, each holding that collection.
    Serve,
    /// Nothing more for now: run what you hold with no next item.
    Idle,
    /// Give back these tests if they have not started (never the next one);
    /// answered with `unqueued`.
    Unqueue {
        tests: Vec<&'a str>,
    },
    Stop,
    /// To the zygote: fork worker `worker` with this environment. Sent with
    /// the new worker's three file descriptors attached (`SCM_RIGHTS`).
    Fork {
        worker: &'a str,
        env: &'a [(String, String)],
    },
}

impl ToWorker<'_> {
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).expect("protocol messages always serialize");
        line.push(b'\n');
        line
    }
}

/// `protocol.json` (the wire's one description) against these types.
#[cfg(test)]
mod spec;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_message_parses_with_optional_fields_missing() {
        let line = r#"{"t":"done","id":"t.py::a","reports":[{"when":"call","outcome":"passed","cat":"passed","word":"PASSED","dur":0.1}]}"#;
        match serde_json::from_str::<FromWorker>(line).unwrap() {
            FromWorker::Done {
                id,
                reports,
                touched,
                ..
            } => {
                assert_eq!(id, "t.py::a");
                assert_eq!(touched, None);
                assert_eq!(reports[0].cat, Some(Status::Passed));
                assert_eq!(reports[0].when, Phase::Call);
                assert_eq!(reports[0].outcome, Outcome::Passed);
                assert!(reports[0].longrepr.is_none());
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn collected_items_parse_with_and_without_scope_and_group() {
        let line = r#"{"t":"collected","items":[["t.py::a",["m"]],["t.py::C::b[\"x; y\"]",[],{"scope":"t.py::C[p=1]","group":"db"}]],"problems":[],"deselected":0}"#;
        match serde_json::from_str::<FromWorker>(line).unwrap() {
            FromWorker::Collected { items, .. } => {
                assert_eq!(items[0].id, "t.py::a");
                assert_eq!(items[0].markers, vec!["m"]);
                assert_eq!(items[0].scope, None);
                assert_eq!(items[1].id, "t.py::C::b[\"x; y\"]");
                assert_eq!(items[1].scope.as_deref(), Some("t.py::C[p=1]"));
                assert_eq!(items[1].group.as_deref(), Some("db"));
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
    fn an_empty_category_is_no_status_and_a_plugins_is_kept() {
        let line = r#"{"t":"late","id":"t.py::a","reports":[{"when":"teardown","outcome":"passed","cat":"","word":"","dur":0},{"when":"call","outcome":"failed","cat":"rerun","word":"RERUN","dur":0}]}"#;
        match serde_json::from_str::<FromWorker>(line).unwrap() {
            FromWorker::Late { reports, .. } => {
                assert_eq!(reports[0].when, Phase::Teardown);
                assert_eq!(reports[0].cat, None);
                assert_eq!(reports[1].cat, Some(Status::Other("rerun".into())));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_plugins_outcome_is_read_and_an_unknown_phase_refused() {
        let line = r#"{"t":"done","id":"t.py::a","reports":[{"when":"call","outcome":"rerun","cat":"rerun","word":"RERUN","dur":0}]}"#;
        match serde_json::from_str::<FromWorker>(line).unwrap() {
            FromWorker::Done { reports, .. } => assert_eq!(reports[0].outcome, Outcome::Rerun),
            other => panic!("unexpected {other:?}"),
        }
        let line = r#"{"t":"done","id":"t.py::a","reports":[{"when":"later","outcome":"passed","cat":"","word":"","dur":0}]}"#;
        assert!(serde_json::from_str::<FromWorker>(line).is_err());
    }

    #[test]
    fn warnings_name_when_they_were_raised() {
        let line = r#"{"t":"warning","id":"t.py:3","when":"collect","message":"m"}"#;
        assert!(matches!(
            serde_json::from_str::<FromWorker>(line).unwrap(),
            FromWorker::Warning {
                when: WarningWhen::Collect,
                ..
            }
        ));
        let later = r#"{"t":"warning","id":"t.py:3","when":"someday","message":"m"}"#;
        assert!(matches!(
            serde_json::from_str::<FromWorker>(later).unwrap(),
            FromWorker::Warning {
                when: WarningWhen::Other,
                ..
            }
        ));
    }

    #[test]
    fn fork_message_serializes_tagged() {
        let env = vec![("A".to_string(), "1".to_string())];
        let msg = ToWorker::Fork {
            worker: "gw3",
            env: &env,
        };
        let value: serde_json::Value = serde_json::from_slice(&msg.to_line()).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"t": "fork", "worker": "gw3", "env": [["A", "1"]]})
        );
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
