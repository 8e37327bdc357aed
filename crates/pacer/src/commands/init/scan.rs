//! What `pacer init` learns from a suite by reading it, without running it:
//! pytest's `testpaths` and declared markers, the markers test files use,
//! fixtures that open network clients, and environment variables that hold
//! a base URL.
//!
//! Reading the sources instead of collecting with pytest means `init` works
//! before the project's venv exists and never imports the project's code. It
//! only finds what is spelled out (`@pytest.mark.NAME`, `pytestmark = ...`,
//! `os.environ.get("X_URL")`); whatever it cannot see, it does not propose.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A marker declared in pytest's configuration (ini `markers` or a
/// conftest's `config.addinivalue_line("markers", ...)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredMarker {
    pub name: String,
    pub description: String,
    /// `pyproject.toml`, `tests/conftest.py:12`.
    pub at: String,
}

/// One Python file under the test paths.
#[derive(Debug, Clone, Default)]
pub struct SourceFile {
    /// Relative to the project root, with `/`.
    pub path: String,
    /// A file pytest collects (`test_*.py`, `*_test.py`), not a conftest or helper.
    pub is_test: bool,
    /// Markers the file applies (`pytest.mark.NAME`, `@mark.NAME`).
    pub markers: BTreeSet<String>,
    /// Parameter names of its `def test_*` functions: the fixtures they request.
    pub requested: BTreeSet<String>,
}

/// A fixture whose body opens a network client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkFixture {
    pub name: String,
    /// What it opens: `httpx.Client`, `requests.Session`, ...
    pub client: String,
    pub at: String,
}

/// An environment variable the tests read whose name says it holds a base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlVar {
    pub name: String,
    /// A literal `http(s)://` default in the code, or in `.env.example`.
    pub default: Option<String>,
    /// Where the default was found.
    pub default_from: String,
    pub at: String,
}

/// Everything `init` read from the suite.
#[derive(Debug, Clone, Default)]
pub struct Suite {
    /// Where pytest's configuration was found (`pyproject.toml`, `pytest.ini`), if anywhere.
    pub pytest_config: Option<String>,
    /// pytest's `testpaths`, or `tests` / `test` when it has none.
    pub testpaths: Vec<String>,
    pub declared: Vec<DeclaredMarker>,
    pub files: Vec<SourceFile>,
    pub network_fixtures: Vec<NetworkFixture>,
    pub url_vars: Vec<UrlVar>,
}

impl Suite {
    /// Reads the suite rooted at `root` (the project root).
    pub fn read(root: &Path) -> Suite {
        let mut suite = Suite::default();
        let ini = read_pytest_config(root);
        suite.pytest_config = ini.file.clone();
        suite.declared = ini.markers;
        // Without `testpaths` pytest collects from where it starts: the
        // project's `tests`/`test` folder if it has one, else the root.
        suite.testpaths = if ini.testpaths.is_empty() {
            let folder = ["tests", "test"]
                .into_iter()
                .find(|d| root.join(d).is_dir());
            vec![folder.unwrap_or(".").to_string()]
        } else {
            ini.testpaths
        };
        let mut paths = Vec::new();
        for testpath in &suite.testpaths {
            walk(&root.join(testpath), &mut paths);
        }
        paths.sort();
        paths.dedup();
        let example_env = read_example_env(root);
        let mut url_vars: BTreeMap<String, UrlVar> = BTreeMap::new();
        for path in paths {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let rel = relative(root, &path);
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let is_test = is_test_file(name);
            suite.declared.extend(declared_in_conftest(&text, &rel));
            suite.network_fixtures.extend(network_fixtures(&text, &rel));
            for var in url_vars_in(&text, &rel) {
                let entry = url_vars.entry(var.name.clone()).or_insert(var.clone());
                if entry.default.is_none() && var.default.is_some() {
                    entry.default = var.default;
                    entry.default_from = var.default_from;
                }
            }
            suite.files.push(SourceFile {
                markers: markers_used(&text),
                requested: if is_test {
                    test_parameters(&text)
                } else {
                    BTreeSet::new()
                },
                is_test,
                path: rel,
            });
        }
        for var in url_vars.values_mut() {
            if let (None, Some((url, file))) = (&var.default, example_env.get(&var.name)) {
                var.default = Some(url.clone());
                var.default_from = file.clone();
            }
        }
        suite.url_vars = url_vars.into_values().collect();
        let mut seen = BTreeSet::new();
        suite.declared.retain(|m| seen.insert(m.name.clone()));
        suite
    }

    /// The test files that apply `marker`.
    pub fn files_marked(&self, marker: &str) -> Vec<&SourceFile> {
        self.files
            .iter()
            .filter(|f| f.is_test && f.markers.contains(marker))
            .collect()
    }

    /// Markers used by any Python file under the test paths (a conftest may
    /// apply one to a whole folder).
    pub fn used_markers(&self) -> BTreeSet<&str> {
        self.files
            .iter()
            .flat_map(|f| f.markers.iter().map(String::as_str))
            .collect()
    }
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

/// pytest's default `python_files`.
pub fn is_test_file(name: &str) -> bool {
    name.ends_with(".py") && (name.starts_with("test_") || name.ends_with("_test.py"))
}

/// Python files under `dir`, skipping what pytest's `norecursedirs` skips by default.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            let skip = name.starts_with('.')
                || matches!(
                    name.as_str(),
                    "__pycache__" | "node_modules" | "venv" | "build" | "dist" | "CVS" | "_darcs"
                )
                || name.ends_with(".egg-info")
                || path.join("pyvenv.cfg").is_file();
            if !skip {
                walk(&path, out);
            }
        } else if name.ends_with(".py") {
            out.push(path);
        }
    }
}

/// pytest's configuration: the first file pytest itself would read.
#[derive(Debug, Default)]
struct PytestIni {
    file: Option<String>,
    testpaths: Vec<String>,
    markers: Vec<DeclaredMarker>,
}

fn read_pytest_config(root: &Path) -> PytestIni {
    // pytest's order: pytest.ini, pyproject.toml, tox.ini, setup.cfg.
    let read = |name: &str| std::fs::read_to_string(root.join(name)).ok();
    if let Some(text) = read("pytest.ini") {
        return from_ini(&text, "pytest.ini", &["pytest"]);
    }
    if let Some(text) = read("pyproject.toml") {
        if let Some(ini) = from_pyproject(&text) {
            return ini;
        }
    }
    if let Some(text) = read("tox.ini") {
        let ini = from_ini(&text, "tox.ini", &["pytest"]);
        if ini.file.is_some() {
            return ini;
        }
    }
    if let Some(text) = read("setup.cfg") {
        let ini = from_ini(&text, "setup.cfg", &["tool:pytest"]);
        if ini.file.is_some() {
            return ini;
        }
    }
    PytestIni::default()
}

fn from_pyproject(text: &str) -> Option<PytestIni> {
    // toml_edit, the parser pacer-settings already uses: no second TOML crate.
    let doc: toml_edit::DocumentMut = text.parse().ok()?;
    let pytest = doc.get("tool")?.get("pytest")?;
    // pytest 9's native `[tool.pytest]`, or the older `[tool.pytest.ini_options]`.
    let options = pytest.get("ini_options").unwrap_or(pytest);
    let strings = |key: &str| -> Vec<String> {
        let Some(item) = options.get(key) else {
            return Vec::new();
        };
        match (item.as_array(), item.as_str()) {
            (Some(items), _) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            (None, Some(s)) => s.split_whitespace().map(str::to_string).collect(),
            _ => Vec::new(),
        }
    };
    let markers = strings("markers")
        .iter()
        .filter_map(|line| declared_marker(line, "pyproject.toml"))
        .collect();
    Some(PytestIni {
        file: Some("pyproject.toml".into()),
        testpaths: strings("testpaths").into_iter().map(clean_path).collect(),
        markers,
    })
}

/// A minimal INI reader for pytest's section: `key = value` and indented
/// continuation lines (how `markers` spans lines).
fn from_ini(text: &str, file: &str, sections: &[&str]) -> PytestIni {
    let mut ini = PytestIni::default();
    let mut in_section = false;
    let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut key: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') && trimmed.ends_with(']') {
            in_section = sections.contains(&trimmed[1..trimmed.len() - 1].trim());
            if in_section {
                ini.file = Some(file.to_string());
            }
            key = None;
            continue;
        }
        if !in_section || trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';')
        {
            continue;
        }
        let continuation = line.starts_with(' ') || line.starts_with('\t');
        match (continuation, &key, trimmed.split_once('=')) {
            (true, Some(k), _) => values.entry(k.clone()).or_default().push(trimmed.into()),
            (_, _, Some((k, v))) => {
                let k = k.trim().to_string();
                if !v.trim().is_empty() {
                    values.entry(k.clone()).or_default().push(v.trim().into());
                }
                key = Some(k);
            }
            _ => {}
        }
    }
    ini.testpaths = values
        .get("testpaths")
        .into_iter()
        .flatten()
        .flat_map(|v| v.split_whitespace())
        .map(clean_path)
        .collect();
    ini.markers = values
        .get("markers")
        .into_iter()
        .flatten()
        .filter_map(|line| declared_marker(line, file))
        .collect();
    ini
}

fn clean_path(path: impl AsRef<str>) -> String {
    let p = path.as_ref().trim().replace('\\', "/");
    let p = p.strip_prefix("./").unwrap_or(&p);
    p.trim_end_matches('/').to_string()
}

/// `"name(args): description"` as pytest's `markers` lines spell it.
fn declared_marker(line: &str, at: &str) -> Option<DeclaredMarker> {
    let (head, description) = line.split_once(':').unwrap_or((line, ""));
    let name = head.split('(').next().unwrap_or("").trim();
    is_identifier(name).then(|| DeclaredMarker {
        name: name.to_string(),
        description: description.trim().to_string(),
        at: at.to_string(),
    })
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn identifier_at(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// `config.addinivalue_line("markers", "name: description")` in a conftest.
fn declared_in_conftest(text: &str, rel: &str) -> Vec<DeclaredMarker> {
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let Some(pos) = line.find("addinivalue_line(") else {
            continue;
        };
        let args = &line[pos + "addinivalue_line(".len()..];
        let mut strings = quoted_strings(args).into_iter();
        if strings.next().as_deref() == Some("markers") {
            if let Some(spec) = strings.next() {
                out.extend(declared_marker(&spec, &format!("{rel}:{}", index + 1)));
            }
        }
    }
    out
}

/// The string literals in a line, in order (no escapes beyond `\"`).
fn quoted_strings(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c == '"' || c == '\'' {
            let mut s = String::new();
            let mut escaped = false;
            for (_, d) in chars.by_ref() {
                if escaped {
                    s.push(d);
                    escaped = false;
                } else if d == '\\' {
                    escaped = true;
                } else if d == c {
                    break;
                } else {
                    s.push(d);
                }
            }
            out.push(s);
        }
    }
    out
}

/// Markers a file applies: `pytest.mark.NAME` anywhere (decorators,
/// `pytestmark`, `pytest.param(..., marks=...)`) and `@mark.NAME`.
fn markers_used(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for needle in ["pytest.mark.", "@mark."] {
        let mut rest = text;
        while let Some(pos) = rest.find(needle) {
            rest = &rest[pos + needle.len()..];
            let name = identifier_at(rest);
            if is_identifier(name) {
                out.insert(name.to_string());
            }
        }
    }
    out
}

/// Parameter names of `def test_*(...)` and `async def test_*(...)`.
fn test_parameters(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(pos) = rest.find("def test") {
        rest = &rest[pos + 4..];
        let Some(open) = rest.find('(') else { break };
        let Some(close) = rest[open..].find(')') else {
            break;
        };
        for param in rest[open + 1..open + close].split(',') {
            let name = param.split([':', '=']).next().unwrap_or("").trim();
            if is_identifier(name) && name != "self" {
                out.insert(name.to_string());
            }
        }
    }
    out
}

/// What opens a network connection, as it appears in a fixture's body.
const NETWORK_CLIENTS: &[&str] = &[
    "httpx.Client(",
    "httpx.AsyncClient(",
    "requests.Session(",
    "requests.session(",
    "aiohttp.ClientSession(",
    "urllib.request.urlopen(",
    "http.client.HTTPConnection(",
    "http.client.HTTPSConnection(",
    "urllib3.PoolManager(",
];

/// Fixtures (`@pytest.fixture` then `def NAME`) whose body opens a network client.
fn network_fixtures(text: &str, rel: &str) -> Vec<NetworkFixture> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_start();
        if !(line.starts_with("@pytest.fixture") || line.starts_with("@fixture")) {
            i += 1;
            continue;
        }
        // The `def` after the decorators.
        let Some(def) = (i + 1..lines.len()).find(|&j| {
            let l = lines[j].trim_start();
            l.starts_with("def ") || l.starts_with("async def ")
        }) else {
            break;
        };
        let def_line = lines[def];
        let indent = def_line.len() - def_line.trim_start().len();
        let after_def = def_line.trim_start().trim_start_matches("async ");
        let name = identifier_at(after_def.trim_start_matches("def ").trim_start()).to_string();
        let body_end = (def + 1..lines.len())
            .find(|&j| {
                let l = lines[j];
                !l.trim().is_empty() && l.len() - l.trim_start().len() <= indent
            })
            .unwrap_or(lines.len());
        let body = lines[def..body_end].join("\n");
        if let Some(client) = NETWORK_CLIENTS.iter().find(|c| body.contains(*c)) {
            out.push(NetworkFixture {
                name,
                client: client.trim_end_matches('(').to_string(),
                at: format!("{rel}:{}", def + 1),
            });
        }
        i = body_end.max(def + 1);
    }
    out
}

/// Variables the code reads from the environment whose names say they hold
/// an API's base URL, with a literal URL default if the code gives one.
fn url_vars_in(text: &str, rel: &str) -> Vec<UrlVar> {
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        for reader in ["environ[", "environ.get(", "getenv(", "environ.setdefault("] {
            let mut rest = line;
            while let Some(pos) = rest.find(reader) {
                rest = &rest[pos + reader.len()..];
                let strings = quoted_strings(rest.split(')').next().unwrap_or(rest));
                let Some(name) = strings.first() else {
                    continue;
                };
                if !is_base_url_var(name) {
                    continue;
                }
                let default = strings
                    .get(1)
                    .filter(|d| d.starts_with("http://") || d.starts_with("https://"))
                    .cloned();
                let at = format!("{rel}:{}", index + 1);
                out.push(UrlVar {
                    name: name.clone(),
                    default_from: if default.is_some() {
                        at.clone()
                    } else {
                        String::new()
                    },
                    default,
                    at,
                });
            }
        }
    }
    out
}

/// `OFSC_BASE_URL`, `GITHUB_API_URL`, `API_ENDPOINT`: yes. Databases,
/// brokers, proxies and pacer's own variables: no.
pub fn is_base_url_var(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let looks_like_url = upper.ends_with("URL") || upper.ends_with("_ENDPOINT");
    let not_an_api = [
        "DATABASE", "_DB_", "DB_URL", "REDIS", "BROKER", "CELERY", "PROXY", "SENTRY", "AMQP",
        "MONGO", "POSTGRES", "MYSQL", "PACER_", "PYTEST_",
    ];
    is_identifier(name) && looks_like_url && !not_an_api.iter().any(|n| upper.contains(n))
}

/// `KEY=value` lines of `.env.example` and friends (never `.env` itself,
/// which holds the developer's own values). Only URLs are kept.
fn read_example_env(root: &Path) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for name in [
        ".env.example",
        ".env.sample",
        ".env.template",
        "env.example",
    ] {
        let Ok(text) = std::fs::read_to_string(root.join(name)) else {
            continue;
        };
        for line in text.lines() {
            let line = line.trim().trim_start_matches("export ");
            if let Some((key, value)) = line.split_once('=') {
                let value = value.trim().trim_matches(['"', '\'']);
                if value.starts_with("http://") || value.starts_with("https://") {
                    out.entry(key.trim().to_string())
                        .or_insert_with(|| (value.to_string(), name.to_string()));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_read_from_decorators_pytestmark_and_params() {
        let text = "import pytest\npytestmark = [pytest.mark.uses_real_data, pytest.mark.serial]\n\
                    @pytest.mark.slow\ndef test_a(): pass\n\
                    @pytest.mark.parametrize('x', [pytest.param(1, marks=pytest.mark.xfail)])\ndef test_b(x): pass\n";
        let used: Vec<String> = markers_used(text).into_iter().collect();
        assert_eq!(
            used,
            ["parametrize", "serial", "slow", "uses_real_data", "xfail"]
        );
    }

    #[test]
    fn ini_markers_span_continuation_lines() {
        let ini = from_ini(
            "[pytest]\ntestpaths = tests other\nmarkers =\n    slow: slow tests\n    uses_real_data(reason): calls the API\n",
            "pytest.ini",
            &["pytest"],
        );
        assert_eq!(ini.testpaths, ["tests", "other"]);
        let names: Vec<&str> = ini.markers.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["slow", "uses_real_data"]);
        assert_eq!(ini.markers[1].description, "calls the API");
    }

    #[test]
    fn pyproject_ini_options_and_native_table_are_both_read() {
        let old =
            "[tool.pytest.ini_options]\ntestpaths = [\"tests/\"]\nmarkers = [\"serial: alone\"]\n";
        let ini = from_pyproject(old).unwrap();
        assert_eq!(ini.testpaths, ["tests"]);
        assert_eq!(ini.markers[0].name, "serial");
        let native = "[tool.pytest]\ntestpaths = [\"t\"]\n";
        assert_eq!(from_pyproject(native).unwrap().testpaths, ["t"]);
        assert!(from_pyproject("[project]\nname = \"x\"\n").is_none());
    }

    #[test]
    fn conftest_declared_markers_are_found() {
        let text = "def pytest_configure(config):\n    config.addinivalue_line(\"markers\", \"uses_real_data: calls the real API\")\n";
        let found = declared_in_conftest(text, "tests/conftest.py");
        assert_eq!(found[0].name, "uses_real_data");
        assert_eq!(found[0].at, "tests/conftest.py:2");
    }

    #[test]
    fn fixtures_that_open_network_clients_are_found() {
        let text = "import pytest\n\n@pytest.fixture(scope=\"session\")\ndef api(base_url):\n    import httpx\n    with httpx.Client(base_url=base_url) as c:\n        yield c\n\n@pytest.fixture\ndef data():\n    return 1\n";
        let found = network_fixtures(text, "tests/conftest.py");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "api");
        assert_eq!(found[0].client, "httpx.Client");
        assert_eq!(found[0].at, "tests/conftest.py:4");
    }

    #[test]
    fn base_url_variables_and_their_defaults_are_found() {
        let text = "URL = os.environ.get(\"OFSC_BASE_URL\", \"https://demo.example.com\")\n\
                    DB = os.getenv('DATABASE_URL')\nTOKEN = os.environ['GH_TOKEN']\nAPI = os.environ[\"GITHUB_API_URL\"]\n";
        let vars = url_vars_in(text, "tests/conftest.py");
        let names: Vec<&str> = vars.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["OFSC_BASE_URL", "GITHUB_API_URL"]);
        assert_eq!(vars[0].default.as_deref(), Some("https://demo.example.com"));
        assert_eq!(vars[1].default, None);
    }

    #[test]
    fn test_parameters_are_the_requested_fixtures() {
        let params = test_parameters(
            "def test_a(api, tmp_path):\n    pass\nasync def test_b(self, x: int = 1):\n",
        );
        let params: Vec<&str> = params.iter().map(String::as_str).collect();
        assert_eq!(params, ["api", "tmp_path", "x"]);
    }
}
