//! Resolution end to end: a temporary project, an injected environment and
//! command-line overrides, checked through the public API only.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use pacer_settings::{
    CliOverrides, FallbackThreshold, Kind, Selection, Settings, SettingsError, Source, Workers,
    DEFAULT_CONFIG_TOML,
};

struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Self {
        Project {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn with(name: &str, text: &str) -> Self {
        let p = Project::new();
        p.write(name, text);
        p
    }

    fn write(&self, name: &str, text: &str) {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn resolve(&self, cli: &CliOverrides, env: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::resolve_with_cores(self.path(), cli, &env, 4)
    }

    fn ok(&self, cli: &CliOverrides, env: &[(&str, &str)]) -> Settings {
        self.resolve(cli, env).unwrap_or_else(|e| panic!("{e}"))
    }

    fn err(&self, cli: &CliOverrides, env: &[(&str, &str)]) -> SettingsError {
        match self.resolve(cli, env) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e,
        }
    }
}

fn none() -> CliOverrides {
    CliOverrides::default()
}

fn flags(f: impl FnOnce(&mut CliOverrides)) -> CliOverrides {
    let mut cli = CliOverrides::default();
    f(&mut cli);
    cli
}

fn file_source(s: &Source) -> String {
    s.to_string()
}

const WORKERS_3: &str = "[project]\nname = \"x\"\n\n[tool.pacer]\nworkers = 3\n";

// ---------------------------------------------------------------- defaults

#[test]
fn defaults_without_any_config() {
    let p = Project::new();
    let s = p.ok(&none(), &[]);
    assert_eq!(s.workers().value, Workers::Auto);
    assert_eq!(s.workers().source, Source::Default);
    assert_eq!(s.worker_count(), 4);
    assert!(!s.sequential().value);
    assert!(!s.debug().value);
    assert_eq!(s.python().value, Path::new("python3"));
    assert_eq!(s.max_worker_restart().value, 16);
    assert!(s.fallback().value);
    assert_eq!(s.fallback_threshold().value, FallbackThreshold::Count(1));
    assert_eq!(s.durations_file().value, p.path().join(".test_durations"));
    assert_eq!(s.timeout().value, None);
    assert_eq!(s.selection().value, Selection::All);
    assert!(s.rate_limit_enabled().value);
    assert_eq!(s.rate_limit().0, &pacer_settings::RateLimit::default());
    assert!(s.upstreams().is_empty());
    assert!(s.worker_env().is_empty());
    assert_eq!(
        s.categories().names(),
        [
            "serial",
            "unit",
            "models",
            "integration",
            "end-to-end",
            "live",
            "default"
        ]
    );
    assert_eq!(s.categories().default_category().max_workers, 4);
    assert!(s.config_file().is_none());
}

// -------------------------------------------------------------- precedence

#[test]
fn file_beats_default_and_names_its_line() {
    let p = Project::with("pyproject.toml", WORKERS_3);
    let s = p.ok(&none(), &[]);
    assert_eq!(s.workers().value, Workers::Count(3));
    assert_eq!(
        file_source(&s.workers().source),
        "pyproject.toml:5 tool.pacer.workers"
    );
    assert_eq!(s.max_worker_restart().value, 12);
}

#[test]
fn env_beats_file() {
    let p = Project::with("pyproject.toml", WORKERS_3);
    let s = p.ok(&none(), &[("PYTEST_WORKERS", "5")]);
    assert_eq!(s.workers().value, Workers::Count(5));
    assert_eq!(
        s.workers().source,
        Source::Env {
            name: "PYTEST_WORKERS".into()
        }
    );
}

#[test]
fn pacer_twin_beats_pytest_name() {
    let p = Project::new();
    let s = p.ok(&none(), &[("PYTEST_WORKERS", "5"), ("PACER_WORKERS", "6")]);
    assert_eq!(s.workers().value, Workers::Count(6));
    assert_eq!(s.workers().source.to_string(), "env PACER_WORKERS");
}

#[test]
fn flag_beats_env_and_file() {
    let p = Project::with("pyproject.toml", WORKERS_3);
    let cli = flags(|c| c.workers = Some("7".into()));
    let s = p.ok(&cli, &[("PYTEST_WORKERS", "5"), ("PACER_WORKERS", "6")]);
    assert_eq!(s.workers().value, Workers::Count(7));
    assert_eq!(s.workers().source.to_string(), "flag --workers");
}

#[test]
fn pytest_env_counts_as_environment() {
    let text =
        format!("{WORKERS_3}\n[tool.pytest_env]\nPYTEST_WORKERS = \"2\"\nAPI_KEY = \"test\"\n");
    let p = Project::with("pyproject.toml", &text);
    let s = p.ok(&none(), &[]);
    assert_eq!(s.workers().value, Workers::Count(2));
    assert_eq!(
        s.workers().source.to_string(),
        "pyproject.toml:8 tool.pytest_env.PYTEST_WORKERS"
    );
    // like pytest-env, a plain value replaces the inherited one
    let s = p.ok(&none(), &[("PYTEST_WORKERS", "5")]);
    assert_eq!(s.workers().value, Workers::Count(2));
    // a flag still wins
    let s = p.ok(&flags(|c| c.workers = Some("auto".into())), &[]);
    assert_eq!(s.workers().value, Workers::Auto);
    let names: Vec<_> = s
        .worker_env()
        .iter()
        .map(|v| (v.name.as_str(), v.value.as_str()))
        .collect();
    assert_eq!(names, [("PYTEST_WORKERS", "2"), ("API_KEY", "test")]);
}

#[test]
fn pytest_env_skip_if_set_lets_the_process_env_win() {
    let text = "[tool.pytest_env]\nPYTEST_WORKERS = { value = \"2\", skip_if_set = true }\n";
    let p = Project::with("pyproject.toml", text);
    let s = p.ok(&none(), &[("PYTEST_WORKERS", "5")]);
    assert_eq!(s.workers().value, Workers::Count(5));
    assert_eq!(s.workers().source.to_string(), "env PYTEST_WORKERS");
    assert!(s.worker_env().is_empty());
    let s = p.ok(&none(), &[]);
    assert_eq!(s.workers().value, Workers::Count(2));
}

#[test]
fn process_pacer_name_beats_pytest_env_pytest_name() {
    let p = Project::with(
        "pyproject.toml",
        "[tool.pytest_env]\nPYTEST_WORKERS = \"2\"\n",
    );
    let s = p.ok(&none(), &[("PACER_WORKERS", "6")]);
    assert_eq!(s.workers().value, Workers::Count(6));
}

#[test]
fn sequential_from_each_source() {
    let p = Project::with("pyproject.toml", "[tool.pacer]\nsequential = true\n");
    let s = p.ok(&none(), &[]);
    assert!(s.sequential().value);
    assert_eq!(s.worker_count(), 1);
    let s = p.ok(&none(), &[("PYTEST_DISABLE_PARALLEL", "no")]);
    assert!(!s.sequential().value);
    let q = Project::new();
    for yes in ["true", "1", "yes"] {
        let s = q.ok(&none(), &[("PYTEST_DISABLE_PARALLEL", yes)]);
        assert!(s.sequential().value, "{yes}");
    }
    let s = q.ok(
        &flags(|c| c.sequential = true),
        &[("PYTEST_DISABLE_PARALLEL", "0")],
    );
    assert_eq!(s.sequential().source.to_string(), "flag --sequential");
}

#[test]
fn debug_from_env_and_flag() {
    let p = Project::new();
    assert!(p.ok(&none(), &[("PYTEST_DEBUG", "1")]).debug().value);
    assert!(p.ok(&flags(|c| c.debug = true), &[]).debug().value);
    let e = p.err(&none(), &[("PYTEST_DEBUG", "maybe")]);
    assert!(e.to_string().contains("env PYTEST_DEBUG"), "{e}");
}

#[test]
fn rate_limit_values_from_env_and_file() {
    let text = "[tool.pacer.rate_limit]\nrate = 5\nmin_delay = 0.5\nmax_retries = 2\n";
    let p = Project::with("pyproject.toml", text);
    let s = p.ok(
        &none(),
        &[
            ("PYTEST_MAX_RETRIES", "7"),
            ("PYTEST_MAX_CONCURRENT_REQUESTS", "3"),
            ("PYTEST_BASE_BACKOFF", "0.5"),
            ("PYTEST_MAX_BACKOFF", "10"),
        ],
    );
    let (l, src) = s.rate_limit();
    assert_eq!(l.rate, 5.0);
    assert_eq!(
        src.rate.to_string(),
        "pyproject.toml:2 tool.pacer.rate_limit.rate"
    );
    assert_eq!(l.min_delay, Duration::from_millis(500));
    assert_eq!(l.max_retries, 7);
    assert_eq!(src.max_retries.to_string(), "env PYTEST_MAX_RETRIES");
    assert_eq!(l.max_concurrent, 3);
    assert_eq!(l.base_backoff, Duration::from_millis(500));
    assert_eq!(l.max_backoff, Duration::from_secs(10));
    let s = p.ok(&none(), &[("PYTEST_RATE_LIMIT_DELAY", "0.25")]);
    assert_eq!(s.rate_limit().0.min_delay, Duration::from_millis(250));
    let cli = flags(|c| c.rate_limit.min_delay = Some("1".into()));
    let s = p.ok(&cli, &[("PYTEST_RATE_LIMIT_DELAY", "0.25")]);
    assert_eq!(s.rate_limit().0.min_delay, Duration::from_secs(1));
    assert_eq!(s.rate_limit().1.min_delay.to_string(), "flag --min-delay");
}

#[test]
fn rate_limited_switch() {
    let p = Project::new();
    assert!(
        !p.ok(&none(), &[("PYTEST_RATE_LIMITED", "false")])
            .rate_limit_enabled()
            .value
    );
    let s = p.ok(
        &flags(|c| c.rate_limit.disable = true),
        &[("PYTEST_RATE_LIMITED", "1")],
    );
    assert!(!s.rate_limit_enabled().value);
}

// --------------------------------------------------------------- upstreams

const UPSTREAMS: &str = r#"[tool.pacer.rate_limit]
rate = 5
burst = 2

[tool.pacer.upstreams.ofsc]
url = "https://acme.example.com"
rate = 2
"#;

#[test]
fn upstream_overrides_the_shared_defaults_and_env_beats_both() {
    let p = Project::with("pyproject.toml", UPSTREAMS);
    let s = p.ok(&none(), &[("PYTEST_MAX_RETRIES", "7")]);
    let up = s.upstream("ofsc").unwrap();
    assert_eq!(up.url, "https://acme.example.com");
    assert_eq!(up.limits.rate, 2.0);
    assert_eq!(
        up.sources.rate.to_string(),
        "pyproject.toml:7 tool.pacer.upstreams.ofsc.rate"
    );
    assert_eq!(up.limits.burst, 2);
    assert_eq!(up.limits.max_retries, 7);
    assert_eq!(up.limits.max_concurrent, 10);
    assert_eq!(up.env_var(), "PACER_UPSTREAM_OFSC");
    let s = p.ok(&none(), &[("PACER_RATE", "9")]);
    assert_eq!(s.upstream("ofsc").unwrap().limits.rate, 9.0);
}

#[test]
fn upstream_flag_overrides_url_or_adds() {
    let p = Project::with("pyproject.toml", UPSTREAMS);
    let cli = flags(|c| {
        c.upstreams = vec![
            "ofsc=http://127.0.0.1:9000".into(),
            "mock=http://localhost:8080".into(),
        ]
    });
    let s = p.ok(&cli, &[]);
    let ofsc = s.upstream("ofsc").unwrap();
    assert_eq!(ofsc.url, "http://127.0.0.1:9000");
    assert_eq!(ofsc.limits.rate, 2.0);
    let mock = s.upstream("mock").unwrap();
    assert_eq!(mock.url_source.to_string(), "flag --upstream");
    assert_eq!(mock.limits.rate, 5.0);
}

#[test]
fn bad_upstream_flag_syntax() {
    let p = Project::new();
    let e = p.err(&flags(|c| c.upstreams = vec!["ofsc:https://x".into()]), &[]);
    assert!(matches!(e, SettingsError::BadUpstreamSyntax { .. }), "{e}");
    assert!(e.hint().contains("--upstream ofsc=https://"), "{e}");
}

#[test]
fn bad_url_scheme_in_file_names_the_line() {
    let p = Project::with(
        "pyproject.toml",
        "[tool.pacer.upstreams.ofsc]\nurl = \"ftp://x.example.com\"\n",
    );
    let e = p.err(&none(), &[]);
    assert!(matches!(e, SettingsError::BadUrl { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("pyproject.toml:2 tool.pacer.upstreams.ofsc.url"),
        "{e}"
    );
}

#[test]
fn upstream_without_url() {
    let p = Project::with("pyproject.toml", "[tool.pacer.upstreams.ofsc]\nrate = 3\n");
    let e = p.err(&none(), &[]);
    assert!(
        matches!(e, SettingsError::MissingUpstreamUrl { line: 1, .. }),
        "{e}"
    );
    let s = p.ok(
        &flags(|c| c.upstreams = vec!["ofsc=https://a.example.com".into()]),
        &[],
    );
    assert_eq!(s.upstream("ofsc").unwrap().limits.rate, 3.0);
}

// -------------------------------------------------------------- categories

#[test]
fn category_fields_override_builtins_and_new_ones_are_added() {
    let text = r#"[tool.pacer]
workers = 2

[tool.pacer.categories.unit]
max_workers = 3

[tool.pacer.categories.slow]
markers = ["slow"]
kind = "io"
max_workers = 5
order = -20

[tool.pacer.categories.contract]
paths = ["tests/contract"]

[tool.pacer.categories.default]
max_workers = 1
"#;
    let p = Project::with("pyproject.toml", text);
    let s = p.ok(&none(), &[]);
    let unit = s.category("unit").unwrap();
    assert_eq!(unit.max_workers, 3);
    assert_eq!(
        unit.sources.max_workers.to_string(),
        "pyproject.toml:5 tool.pacer.categories.unit.max_workers"
    );
    assert_eq!(unit.paths, ["tests/unit/"]);
    assert_eq!(unit.sources.paths, Source::Default);
    let slow = s.category("slow").unwrap();
    assert_eq!(
        (slow.kind, slow.max_workers, slow.builtin),
        (Kind::Io, 5, false)
    );
    assert_eq!(
        s.categorize("tests/unit/test_a.py::t", &["slow".into()])
            .name,
        "slow"
    );
    assert_eq!(
        s.categorize("tests/contract/test_c.py::t", &[]).name,
        "contract"
    );
    assert_eq!(s.category("contract").unwrap().max_workers, 2);
    assert_eq!(s.categorize("elsewhere/test_x.py::t", &[]).max_workers, 1);
    assert_eq!(s.categories().ordered()[0].name, "slow");
    assert_eq!(s.categories().ordered().last().unwrap().name, "contract");
}

#[test]
fn default_category_takes_no_selector() {
    let p = Project::with(
        "pyproject.toml",
        "[tool.pacer.categories.default]\npaths = [\"x\"]\n",
    );
    let e = p.err(&none(), &[]);
    assert!(matches!(e, SettingsError::BadSelector { .. }), "{e}");
}

#[test]
fn new_category_needs_a_selector() {
    let p = Project::with(
        "pyproject.toml",
        "[tool.pacer.categories.slow]\nmax_workers = 2\n",
    );
    let e = p.err(&none(), &[]);
    assert!(matches!(e, SettingsError::BadSelector { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("pyproject.toml:1 tool.pacer.categories.slow"),
        "{e}"
    );
}

#[test]
fn bad_kind_names_the_line() {
    let p = Project::with(
        "pyproject.toml",
        "[tool.pacer.categories.unit]\nkind = \"gpu\"\n",
    );
    let e = p.err(&none(), &[]);
    assert!(
        e.to_string()
            .contains("pyproject.toml:2 tool.pacer.categories.unit.kind"),
        "{e}"
    );
}

#[test]
fn category_flags_select() {
    let p = Project::with(
        "pyproject.toml",
        "[tool.pacer.categories.slow]\nmarkers = [\"slow\"]\n",
    );
    let cli = flags(|c| {
        c.live = true;
        c.unit = true;
        c.categories = vec!["slow".into(), "unit".into()];
    });
    let s = p.ok(&cli, &[]);
    assert_eq!(
        s.selection().value,
        Selection::Only(vec!["unit".into(), "live".into(), "slow".into()])
    );
    assert!(s.is_selected("slow") && !s.is_selected("models") && !s.is_selected("default"));
    let s = p.ok(&flags(|c| c.end_to_end = true), &[]);
    assert!(s.is_selected("end-to-end"));
    let s = p.ok(
        &flags(|c| {
            c.all = true;
            c.unit = true;
        }),
        &[],
    );
    assert_eq!(s.selection().value, Selection::All);
}

#[test]
fn unknown_category_lists_valid_ones_and_the_closest() {
    let p = Project::new();
    let e = p.err(&flags(|c| c.categories = vec!["unti".into()]), &[]);
    match &e {
        SettingsError::UnknownCategory {
            suggestion, valid, ..
        } => {
            assert_eq!(suggestion.as_deref(), Some("unit"));
            assert!(valid.contains(&"end-to-end".to_string()));
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("flag --category"), "{e}");
    assert!(e.hint().starts_with("did you mean `unit`?"), "{e}");
}

// ------------------------------------------------------------------ errors

#[test]
fn workers_abc_and_negative_name_the_env_var() {
    let p = Project::new();
    for bad in ["abc", "-3", "0"] {
        let e = p.err(&none(), &[("PYTEST_WORKERS", bad)]);
        assert!(matches!(e, SettingsError::InvalidWorkers { .. }), "{e}");
        assert!(e.to_string().contains("env PYTEST_WORKERS"), "{e}");
        assert_eq!(e.exit_code(), 4);
    }
    let e = p.err(&flags(|c| c.workers = Some("-3".into())), &[]);
    assert!(e.to_string().contains("flag --workers"), "{e}");
}

#[test]
fn fresh_workers_default_to_the_cores_and_name_their_source() {
    let p = Project::new();
    let s = p.ok(&none(), &[]);
    assert_eq!(s.fresh_workers().value as usize, s.cores());
    let s = p.ok(&none(), &[("PACER_FRESH_WORKERS", "1")]);
    assert_eq!(s.fresh_workers().value, 1);
    for bad in ["0", "x"] {
        let e = p.err(&none(), &[("PACER_FRESH_WORKERS", bad)]);
        assert!(e.to_string().contains("env PACER_FRESH_WORKERS"), "{e}");
        assert_eq!(e.exit_code(), 4);
    }
    let p = Project::with("pyproject.toml", "[tool.pacer]\nfresh_workers = 0\n");
    let e = p.err(&none(), &[]);
    assert!(e.to_string().contains("pyproject.toml:2"), "{e}");
}

#[test]
fn env_errors_are_reported_even_when_a_flag_overrides() {
    let p = Project::new();
    let e = p.err(
        &flags(|c| c.workers = Some("2".into())),
        &[("PYTEST_WORKERS", "abc")],
    );
    assert!(matches!(e, SettingsError::InvalidWorkers { .. }));
}

#[test]
fn workers_in_file_wrong_value_and_type() {
    let p = Project::with("pyproject.toml", "[tool.pacer]\nworkers = -1\n");
    let e = p.err(&none(), &[]);
    assert!(
        e.to_string()
            .contains("pyproject.toml:2 tool.pacer.workers"),
        "{e}"
    );
    let p = Project::with("pyproject.toml", "[tool.pacer]\n\nworkers = true\n");
    let e = p.err(&none(), &[]);
    assert!(matches!(e, SettingsError::WrongType { line: 3, .. }), "{e}");
}

#[test]
fn negative_delay_from_env_and_file() {
    let p = Project::new();
    let e = p.err(&none(), &[("PYTEST_RATE_LIMIT_DELAY", "-1")]);
    assert!(matches!(e, SettingsError::NegativeDelay { .. }), "{e}");
    assert!(e.to_string().contains("env PYTEST_RATE_LIMIT_DELAY"), "{e}");
    let p = Project::with(
        "pyproject.toml",
        "[tool.pacer.rate_limit]\nmin_delay = -0.5\n",
    );
    let e = p.err(&none(), &[]);
    assert!(matches!(e, SettingsError::NegativeDelay { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("pyproject.toml:2 tool.pacer.rate_limit.min_delay"),
        "{e}"
    );
    let e = Project::new().err(
        &flags(|c| c.rate_limit.base_backoff = Some("-2".into())),
        &[],
    );
    assert!(e.to_string().contains("flag --base-backoff"), "{e}");
}

#[test]
fn backoff_order_is_checked() {
    let p = Project::new();
    let e = p.err(
        &none(),
        &[("PYTEST_BASE_BACKOFF", "5"), ("PYTEST_MAX_BACKOFF", "1")],
    );
    assert!(matches!(e, SettingsError::BackoffOrder { .. }), "{e}");
}

#[test]
fn malformed_pyproject_gives_file_line_column() {
    let p = Project::with(
        "pyproject.toml",
        "[project]\nname = \"x\"\n[tool.pacer\nworkers = 2\n",
    );
    let e = p.err(&none(), &[]);
    match &e {
        SettingsError::Syntax {
            path, line, column, ..
        } => {
            assert!(path.ends_with("pyproject.toml"));
            assert_eq!(*line, 3);
            assert!(*column > 1);
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("pyproject.toml:3:"), "{e}");
}

#[test]
fn unknown_key_under_tool_pacer() {
    let p = Project::with("pyproject.toml", "[tool.pacer]\nworkres = 2\n");
    let e = p.err(&none(), &[]);
    assert!(
        matches!(e, SettingsError::UnknownKey { line: 2, .. }),
        "{e}"
    );
    assert!(e.hint().contains("did you mean `workers`?"), "{e}");
}

#[test]
fn unknown_key_in_a_category_table() {
    let p = Project::with(
        "pyproject.toml",
        "[tool.pacer.categories.unit]\nmax-workers = 2\n",
    );
    let e = p.err(&none(), &[]);
    assert!(
        e.to_string().contains("in `[tool.pacer.categories.unit]`"),
        "{e}"
    );
    assert!(e.hint().contains("did you mean `max_workers`?"), "{e}");
}

#[test]
fn unknown_key_in_rate_limit_and_upstream() {
    let p = Project::with("pyproject.toml", "[tool.pacer.rate_limit]\nretries = 2\n");
    let e = p.err(&none(), &[]);
    assert!(e.hint().contains("did you mean `max_retries`?"), "{e}");
    let p = Project::with(
        "pyproject.toml",
        "[tool.pacer.upstreams.ofsc]\nurl = \"https://x\"\nuri = 1\n",
    );
    let e = p.err(&none(), &[]);
    assert!(
        matches!(e, SettingsError::UnknownKey { line: 3, .. }),
        "{e}"
    );
}

#[test]
fn wrong_type_names_file_and_line() {
    let p = Project::with(
        "pyproject.toml",
        "[tool.pacer]\ndebug = false\nsequential = \"yes\"\n",
    );
    let e = p.err(&none(), &[]);
    assert!(
        e.to_string().contains(
            "pyproject.toml:3: `tool.pacer.sequential` must be a boolean, found a string"
        ),
        "{e}"
    );
}

#[test]
fn bad_numbers_from_env() {
    let p = Project::new();
    for (var, val) in [
        ("PYTEST_MAX_CONCURRENT_REQUESTS", "0"),
        ("PYTEST_MAX_RETRIES", "many"),
        ("PACER_RATE", "-1"),
        ("PACER_RETRY_STATUSES", "429,abc"),
        ("PACER_FALLBACK_THRESHOLD", "2.5"),
        ("PACER_TIMEOUT", "-4"),
    ] {
        let e = p.err(&none(), &[(var, val)]);
        assert!(e.to_string().contains(var), "{var}: {e}");
        assert!(!e.hint().is_empty());
    }
}

// ------------------------------------------------------ files and discovery

#[test]
fn pacer_toml_wins_over_tool_pacer_and_says_so() {
    let p = Project::with("pyproject.toml", WORKERS_3);
    p.write(
        "pacer.toml",
        "# pacer\nworkers = 6\n[rate_limit]\nrate = 1\n",
    );
    let s = p.ok(&none(), &[]);
    assert_eq!(s.workers().value, Workers::Count(6));
    assert_eq!(s.workers().source.to_string(), "pacer.toml:2 workers");
    assert_eq!(
        s.rate_limit().1.rate.to_string(),
        "pacer.toml:4 rate_limit.rate"
    );
    assert_eq!(s.notes().len(), 1);
    assert!(s.render_text().contains("pacer.toml takes precedence"));
}

#[test]
fn pytest_env_is_read_even_with_pacer_toml() {
    let p = Project::with(
        "pyproject.toml",
        "[tool.pytest_env]\nPYTEST_DEBUG = \"1\"\n",
    );
    p.write("pacer.toml", "debug = false\n");
    let s = p.ok(&none(), &[]);
    assert!(s.debug().value);
    assert!(s.notes().is_empty());
}

#[test]
fn root_is_found_from_a_subdirectory() {
    let p = Project::with("pyproject.toml", WORKERS_3);
    p.write("tests/unit/test_a.py", "");
    let sub = p.path().join("tests/unit");
    let s =
        Settings::resolve_with_cores(&sub, &none(), &HashMap::<String, String>::new(), 4).unwrap();
    assert_eq!(s.project_root(), p.path());
    assert_eq!(s.workers().value, Workers::Count(3));
}

#[test]
fn python_resolution_order() {
    let p = Project::new();
    let s = p.ok(&none(), &[("VIRTUAL_ENV", "/venvs/x")]);
    assert_eq!(s.python().value, Path::new("/venvs/x/bin/python"));
    assert_eq!(s.python().source.to_string(), "env VIRTUAL_ENV");
    p.write(".venv/bin/python", "");
    let s = p.ok(&none(), &[]);
    assert_eq!(s.python().value, p.path().join(".venv/bin/python"));
    let s = p.ok(
        &none(),
        &[
            ("PACER_PYTHON", "/usr/bin/python3.12"),
            ("VIRTUAL_ENV", "/venvs/x"),
        ],
    );
    assert_eq!(s.python().value, Path::new("/usr/bin/python3.12"));
    let s = p.ok(
        &flags(|c| c.python = Some("/opt/py".into())),
        &[("PACER_PYTHON", "/x")],
    );
    assert_eq!(s.python().source.to_string(), "flag --python");
}

#[test]
fn fallback_and_threshold() {
    let p = Project::with(
        "pyproject.toml",
        "[tool.pacer]\nfallback_threshold = 0.25\ntimeout = 30\n",
    );
    let s = p.ok(&none(), &[]);
    assert_eq!(
        s.fallback_threshold().value,
        FallbackThreshold::Fraction(0.25)
    );
    assert_eq!(s.timeout().value, Some(Duration::from_secs(30)));
    let s = p.ok(
        &flags(|c| c.no_fallback = true),
        &[("PACER_FALLBACK", "true")],
    );
    assert!(!s.fallback().value);
    assert_eq!(s.fallback().source.to_string(), "flag --no-fallback");
    let s = p.ok(&flags(|c| c.timeout = Some("none".into())), &[]);
    assert_eq!(s.timeout().value, None);
}

// ------------------------------------------------------- default config

#[test]
fn default_config_parses_and_equals_the_defaults() {
    let p = Project::with("pacer.toml", DEFAULT_CONFIG_TOML);
    let from_file = p.ok(&none(), &[]);
    let q = Project::new();
    let builtin = q.ok(&none(), &[]);
    assert_eq!(from_file.workers().value, builtin.workers().value);
    assert_eq!(from_file.rate_limit().0, builtin.rate_limit().0);
    assert_eq!(
        from_file.fallback_threshold().value,
        builtin.fallback_threshold().value
    );
    assert_eq!(from_file.timeout().value, builtin.timeout().value);
    let strip = |s: &Settings| {
        s.categories()
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    c.paths.clone(),
                    c.markers.clone(),
                    c.max_workers,
                    c.kind,
                    c.rate_limited,
                    c.order,
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&from_file), strip(&builtin));
    assert!(from_file
        .workers()
        .source
        .to_string()
        .starts_with("pacer.toml:"));
}

#[test]
fn default_config_also_works_under_tool_pacer() {
    let mut text = String::from("[tool.pacer]\n");
    for line in DEFAULT_CONFIG_TOML.lines() {
        match line.strip_prefix('[') {
            Some(rest) if !line.starts_with("[[") => {
                text.push_str(&format!("[tool.pacer.{rest}\n"))
            }
            _ => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    let p = Project::with("pyproject.toml", &text);
    p.ok(&none(), &[]);
}

// -------------------------------------------------------------- rendering

#[test]
fn render_text_shows_value_and_source_aligned() {
    let text =
        format!("{WORKERS_3}\n[tool.pacer.upstreams.ofsc]\nurl = \"https://a.example.com\"\n");
    let p = Project::with("pyproject.toml", &text);
    let s = p.ok(&flags(|c| c.debug = true), &[("PYTEST_MAX_RETRIES", "5")]);
    let out = s.render_text();
    let line = |key: &str| {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(key))
            .unwrap_or_else(|| panic!("{key} missing in\n{out}"))
            .to_string()
    };
    assert!(
        line("workers").ends_with("pyproject.toml:5 tool.pacer.workers"),
        "{out}"
    );
    assert!(line("debug").ends_with("flag --debug"));
    assert!(line("rate_limit.max_retries").ends_with("env PYTEST_MAX_RETRIES"));
    assert!(line("upstreams.ofsc.url").contains("https://a.example.com"));
    assert!(line("categories.unit.max_workers").ends_with("default"));
    assert!(line("categories.default.max_workers").contains("= workers"));
    // the source column starts at the same place on every row
    let col = |l: &str, src: &str| l.rfind(src).unwrap();
    assert_eq!(
        col(&line("workers"), "pyproject.toml"),
        col(&line("categories.unit.kind"), "default")
    );
}

#[test]
fn json_has_every_row_categories_and_upstreams() {
    let p = Project::with(
        "pyproject.toml",
        "[tool.pacer.upstreams.ofsc]\nurl = \"https://a.example.com\"\n",
    );
    let s = p.ok(&none(), &[("PYTEST_WORKERS", "2")]);
    let json = s.to_json();
    let rows = json["settings"].as_array().unwrap();
    let workers = rows.iter().find(|r| r["key"] == "workers").unwrap();
    assert_eq!(workers["value"], 2);
    assert_eq!(workers["source"], "env PYTEST_WORKERS");
    assert_eq!(json["categories"].as_array().unwrap().len(), 7);
    assert_eq!(json["upstreams"][0]["name"], "ofsc");
    assert_eq!(json["upstreams"][0]["limits"]["min_delay"], 0.0);
    assert_eq!(json["categories"][4]["kind"], "io");
    assert_eq!(json["categories"][0]["exclusive"], true);
}

#[test]
fn category_env_names_the_category_and_its_rate_limiting() {
    let p = Project::with("pyproject.toml", "[tool.pytest_env]\nAPI = \"x\"\n");
    let s = p.ok(&none(), &[]);
    let env = s.category_env(s.category("live").unwrap());
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("API"), Some("x"));
    assert_eq!(get("PYTEST_CURRENT_CATEGORY"), Some("live"));
    assert_eq!(get("PYTEST_RATE_LIMITED"), Some("1"));
    let s = p.ok(&flags(|c| c.rate_limit.disable = true), &[]);
    let env = s.category_env(s.category("live").unwrap());
    assert!(env.contains(&("PACER_RATE_LIMITED".to_string(), "0".to_string())));
}

#[test]
fn ca_file_is_relative_to_its_file_and_an_upstream_may_override_it() {
    let p = Project::with(
        "pyproject.toml",
        r#"
[tool.pacer.rate_limit]
ca_file = "certs/corporate.pem"

[tool.pacer.upstreams.internal]
url = "https://api.internal.example"

[tool.pacer.upstreams.lab]
url = "https://lab.example"
ca_file = "/etc/lab-ca.pem"
"#,
    );
    let s = p.ok(&none(), &[]);
    let internal = s.upstream("internal").unwrap();
    assert_eq!(
        internal.limits.ca_file.as_deref(),
        Some(p.path().join("certs/corporate.pem").as_path())
    );
    assert!(file_source(&internal.sources.ca_file).contains("ca_file"));
    let lab = s.upstream("lab").unwrap();
    assert_eq!(
        lab.limits.ca_file.as_deref(),
        Some(Path::new("/etc/lab-ca.pem"))
    );
    assert!(s.render_text().contains("ca_file"));
}

#[test]
fn rate_as_a_quota_per_window_from_file_env_and_flag() {
    let p = Project::with(
        "pyproject.toml",
        "[tool.pacer.rate_limit]\nrate = \"2400/min\"\n[tool.pacer.upstreams.ofsc]\nurl = \"https://a.example.com\"\nrate = \"100000/h\"\n",
    );
    let s = p.ok(&none(), &[]);
    let (l, src) = s.rate_limit();
    assert_eq!(l.rate.amount, 2400.0);
    assert_eq!(l.rate.window, Duration::from_secs(60));
    assert_eq!(
        src.rate.to_string(),
        "pyproject.toml:2 tool.pacer.rate_limit.rate"
    );
    let ofsc = s.upstream("ofsc").unwrap();
    assert_eq!(ofsc.limits.rate.window, Duration::from_secs(3600));
    assert!(ofsc.rate_configured());
    let s = p.ok(&none(), &[("PACER_RATE", "40/s")]);
    assert_eq!(s.rate_limit().0.rate, 40.0);
    let s = p.ok(&flags(|c| c.rate_limit.rate = Some("600/min".into())), &[]);
    assert_eq!(s.upstream("ofsc").unwrap().limits.rate.amount, 600.0);
    let e = p.err(&none(), &[("PACER_RATE", "40/fortnight")]);
    assert!(e.to_string().contains("env PACER_RATE"), "{e}");
}

#[test]
fn an_unset_rate_is_not_configured_so_the_api_may_set_it() {
    let p = Project::with(
        "pyproject.toml",
        "[tool.pacer.upstreams.ofsc]\nurl = \"https://a.example.com\"\n",
    );
    let s = p.ok(&none(), &[]);
    assert!(!s.upstream("ofsc").unwrap().rate_configured());
}

/// Each rate-limit flag and variable reaches its own setting: the readers of
/// the command line and of the environment name every key, so none can be
/// dropped as "not given" on the way.
#[test]
fn every_rate_limit_flag_and_variable_reaches_its_setting() {
    let p = Project::with("pyproject.toml", "[project]\nname = \"x\"\n");
    let cli = flags(|c| {
        c.rate_limit.rate = Some("7".into());
        c.rate_limit.burst = Some("3".into());
        c.rate_limit.max_concurrent = Some("2".into());
        c.rate_limit.min_delay = Some("0.5".into());
        c.rate_limit.max_retries = Some("6".into());
        c.rate_limit.base_backoff = Some("0.25".into());
        c.rate_limit.max_backoff = Some("9".into());
        c.rate_limit.adaptive = Some(false);
    });
    let s = p.ok(&cli, &[]);
    let src = s.rate_limit().1;
    for (source, flag) in [
        (&src.rate, "--rate"),
        (&src.burst, "--burst"),
        (&src.max_concurrent, "--max-concurrent"),
        (&src.min_delay, "--min-delay"),
        (&src.max_retries, "--max-retries"),
        (&src.base_backoff, "--base-backoff"),
        (&src.max_backoff, "--max-backoff"),
        (&src.adaptive, "--no-adaptive"),
    ] {
        assert_eq!(source.to_string(), format!("flag {flag}"));
    }

    let env = [
        ("PACER_RATE", "7"),
        ("PACER_BURST", "3"),
        ("PACER_MAX_CONCURRENT_REQUESTS", "2"),
        ("PACER_RATE_LIMIT_DELAY", "0.5"),
        ("PACER_MAX_RETRIES", "6"),
        ("PACER_BASE_BACKOFF", "0.25"),
        ("PACER_MAX_BACKOFF", "9"),
        ("PACER_ADAPTIVE", "0"),
        ("PACER_RETRY_STATUSES", "429"),
    ];
    let s = p.ok(&none(), &env);
    let src = s.rate_limit().1;
    for (source, (var, _)) in [
        &src.rate,
        &src.burst,
        &src.max_concurrent,
        &src.min_delay,
        &src.max_retries,
        &src.base_backoff,
        &src.max_backoff,
        &src.adaptive,
        &src.retry_statuses,
    ]
    .into_iter()
    .zip(env)
    {
        assert_eq!(source.to_string(), format!("env {var}"));
    }
}

#[test]
fn shard_comes_from_the_flag_pytest_splits_flags_or_the_environment() {
    let p = Project::with("pyproject.toml", "[project]\nname = 'x'\n");
    assert_eq!(p.ok(&none(), &[]).shard().value, None);
    let s = p.ok(&none(), &[("PACER_SHARD", "2/3")]);
    let shard = s.shard().value.expect("a shard");
    assert_eq!((shard.index, shard.count), (2, 3));
    assert_eq!(
        s.shard().source,
        Source::Env {
            name: "PACER_SHARD".into()
        }
    );
    let flag = CliOverrides {
        shard: Some("1/3".into()),
        ..none()
    };
    let s = p.ok(&flag, &[("PACER_SHARD", "2/3")]);
    assert_eq!(s.shard().value.unwrap().to_string(), "1/3", "the flag wins");
    let splits = CliOverrides {
        splits: Some(("3".into(), "2".into())),
        ..none()
    };
    assert_eq!(p.ok(&splits, &[]).shard().value.unwrap().to_string(), "2/3");
    // Each bad value names where it came from, even under a good flag.
    let err = p.err(&flag, &[("PACER_SHARD", "4/3")]).to_string();
    assert!(err.contains("env PACER_SHARD"), "{err}");
    let bad = CliOverrides {
        shard: Some("0/3".into()),
        ..none()
    };
    assert!(p.err(&bad, &[]).to_string().contains("flag --shard"));
}

#[test]
fn changed_comes_from_the_flag_or_the_environment_and_changed_always_from_any_layer() {
    let p = Project::with(
        "pyproject.toml",
        "[project]\nname = 'x'\n\n[tool.pacer]\nchanged_always = [\"data/**\"]\n",
    );
    let s = p.ok(&none(), &[]);
    assert_eq!(s.changed().value, None);
    assert_eq!(s.changed_always().value, ["data/**"]);
    assert!(s
        .changed_always()
        .source
        .to_string()
        .contains("changed_always"));
    let bare = CliOverrides {
        changed: Some(String::new()),
        ..none()
    };
    let s = p.ok(
        &bare,
        &[
            ("PACER_CHANGED", "main"),
            ("PACER_CHANGED_ALWAYS", "*.json, *.csv"),
        ],
    );
    assert_eq!(
        s.changed().value.as_deref(),
        Some("HEAD"),
        "the flag alone: the working tree"
    );
    assert_eq!(s.changed().source.to_string(), "flag --changed");
    assert_eq!(
        s.changed_always().value,
        ["*.json", "*.csv"],
        "the env beats the file"
    );
    let s = p.ok(&none(), &[("PACER_CHANGED", "main")]);
    assert_eq!(s.changed().value.as_deref(), Some("main"));
    let option = CliOverrides {
        changed: Some("--evil".into()),
        ..none()
    };
    assert!(p.err(&option, &[]).to_string().contains("flag --changed"));
}

#[test]
fn run_id_defaults_to_the_cis_own() {
    let p = Project::with("pyproject.toml", "[project]\nname = 'x'\n");
    assert_eq!(p.ok(&none(), &[]).run_id().value, None);
    let github = [("GITHUB_RUN_ID", "987"), ("GITHUB_RUN_ATTEMPT", "2")];
    assert_eq!(
        p.ok(&none(), &github).run_id().value.as_deref(),
        Some("987-2")
    );
    assert_eq!(
        p.ok(&none(), &[("GITHUB_RUN_ID", "987")])
            .run_id()
            .value
            .as_deref(),
        Some("987")
    );
    assert_eq!(
        p.ok(
            &none(),
            &[("CI_PIPELINE_ID", "55"), ("BUILDKITE_BUILD_ID", "b")]
        )
        .run_id()
        .value
        .as_deref(),
        Some("55")
    );
    assert_eq!(
        p.ok(&none(), &[("BUILDKITE_BUILD_ID", "b-1")])
            .run_id()
            .value
            .as_deref(),
        Some("b-1")
    );
    let mut env = github.to_vec();
    env.push(("PACER_RUN_ID", "mine"));
    assert_eq!(p.ok(&none(), &env).run_id().value.as_deref(), Some("mine"));
    let flag = CliOverrides {
        run_id: Some("flagged".into()),
        ..none()
    };
    assert_eq!(p.ok(&flag, &env).run_id().value.as_deref(), Some("flagged"));
    let err = p.err(&none(), &[("PACER_RUN_ID", "a b")]).to_string();
    assert!(err.contains("env PACER_RUN_ID"), "{err}");
}
