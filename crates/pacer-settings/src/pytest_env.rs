//! `[tool.pytest_env]`, applied as pytest-env applies it.
//!
//! pytest-env sets variables in the test process before conftests load. pacer
//! does the same for its workers, and also reads its own settings
//! (`PYTEST_WORKERS`, `PACER_*`, …) from the environment *as pytest-env
//! leaves it*, so a value there ranks as the environment (above
//! `[tool.pacer]`, below flags) and `pacer config` names its line.
//!
//! The rules, as in pytest-env 1.1:
//! - `KEY = "value"` (or a number/boolean, turned to text as Python's `str()`
//!   does) always sets `KEY`, replacing an inherited value;
//! - `KEY = { value = "...", skip_if_set = true }` keeps an inherited value;
//! - `transform = true` expands `{NAME}` from the environment as built so
//!   far (`{{` and `}}` are literal braces); an unset NAME is an error;
//! - entries apply in file order;
//! - without `[tool.pytest_env]`, the `env` lines of
//!   `[tool.pytest.ini_options]` are used: `[D:][R:]KEY=VALUE`, where `D:`
//!   means skip_if_set and values are transformed unless `R:` is given.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use toml_edit::{Item, Value};

use crate::env::Env;
use crate::error::SettingsError;
use crate::source::Source;
use crate::toml_reader::TomlFile;

/// One entry as written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub key: String,
    pub value: String,
    pub transform: bool,
    pub skip_if_set: bool,
    pub line: usize,
}

/// A variable pacer sets in every worker's environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkerEnvVar {
    pub name: String,
    pub value: String,
    pub source: Source,
}

/// Python's `str()` of a TOML value.
fn python_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.value().clone(),
        Value::Integer(i) => i.value().to_string(),
        Value::Float(f) => {
            let v = *f.value();
            if v.is_finite() && v.fract() == 0.0 {
                format!("{v:.1}")
            } else if v.is_nan() {
                "nan".into()
            } else if v.is_infinite() {
                if v > 0.0 {
                    "inf".into()
                } else {
                    "-inf".into()
                }
            } else {
                v.to_string()
            }
        }
        Value::Boolean(b) => if *b.value() { "True" } else { "False" }.to_string(),
        other => other.to_string().trim().to_string(),
    }
}

/// Reads the entries of `pyproject.toml`, in file order.
pub(crate) fn read_entries(file: &TomlFile) -> Result<Vec<Entry>, SettingsError> {
    let Some(tool) = file.root().table("tool")? else {
        return Ok(Vec::new());
    };
    if let Some(table) = tool.table("pytest_env")? {
        let mut entries = Vec::new();
        for key in table.keys() {
            let line = table.line_of(key);
            let item = table.raw(key).expect("key listed by the table");
            let entry = match item.as_table_like() {
                Some(inner) => {
                    let value = match inner.get("value").and_then(Item::as_value) {
                        Some(v) => python_str(v),
                        None => {
                            return Err(table.wrong_type(
                                key,
                                "a value or a table with `value`",
                                &format!("{key} = {{ value = \"...\", skip_if_set = true }}"),
                            ))
                        }
                    };
                    let flag =
                        |name: &str| inner.get(name).and_then(Item::as_bool).unwrap_or(false);
                    Entry {
                        key: key.to_string(),
                        value,
                        transform: flag("transform"),
                        skip_if_set: flag("skip_if_set"),
                        line,
                    }
                }
                None => Entry {
                    key: key.to_string(),
                    value: item.as_value().map(python_str).unwrap_or_default(),
                    transform: false,
                    skip_if_set: false,
                    line,
                },
            };
            entries.push(entry);
        }
        return Ok(entries);
    }
    let Some(pytest) = tool.table("pytest")? else {
        return Ok(Vec::new());
    };
    let Some(ini) = pytest.table("ini_options")? else {
        return Ok(Vec::new());
    };
    let Some(lines) = ini.strings("env")? else {
        return Ok(Vec::new());
    };
    let line = ini.line_of("env");
    Ok(lines
        .value
        .iter()
        .filter_map(|l| parse_ini_line(l, line))
        .collect())
}

/// `D:R:NAME=VALUE` → an entry (pytest-env's INI format).
fn parse_ini_line(text: &str, line: usize) -> Option<Entry> {
    let (head, value) = text.split_once('=').unwrap_or((text, ""));
    let mut parts: Vec<&str> = head.split(':').collect();
    let key = parts.pop()?.trim().to_string();
    if key.is_empty() {
        return None;
    }
    let flags: Vec<String> = parts
        .iter()
        .map(|f| f.trim().to_ascii_uppercase())
        .collect();
    Some(Entry {
        key,
        value: value.trim().to_string(),
        transform: !flags.iter().any(|f| f == "R"),
        skip_if_set: flags.iter().any(|f| f == "D"),
        line,
    })
}

/// The environment as pytest-env leaves it: the process environment with the
/// entries applied on top.
pub(crate) struct Overlay<'a> {
    base: &'a dyn Env,
    set: BTreeMap<String, WorkerEnvVar>,
    order: Vec<String>,
}

impl<'a> Overlay<'a> {
    pub fn apply(base: &'a dyn Env, entries: &[Entry], file: &Path) -> Result<Self, SettingsError> {
        let mut overlay = Overlay {
            base,
            set: BTreeMap::new(),
            order: Vec::new(),
        };
        for entry in entries {
            if entry.skip_if_set && overlay.value(&entry.key).is_some() {
                continue;
            }
            let value = if entry.transform {
                expand(&entry.value, &overlay).map_err(|missing| {
                    SettingsError::PytestEnvTransform {
                        path: file.to_path_buf(),
                        line: entry.line,
                        key: entry.key.clone(),
                        missing,
                    }
                })?
            } else {
                entry.value.clone()
            };
            if !overlay.set.contains_key(&entry.key) {
                overlay.order.push(entry.key.clone());
            }
            overlay.set.insert(
                entry.key.clone(),
                WorkerEnvVar {
                    name: entry.key.clone(),
                    value,
                    source: Source::PytestEnv {
                        name: entry.key.clone(),
                        file: file.to_path_buf(),
                        line: entry.line,
                    },
                },
            );
        }
        Ok(overlay)
    }

    /// An environment with nothing applied.
    pub fn empty(base: &'a dyn Env) -> Self {
        Overlay {
            base,
            set: BTreeMap::new(),
            order: Vec::new(),
        }
    }

    fn value(&self, name: &str) -> Option<String> {
        match self.set.get(name) {
            Some(var) => Some(var.value.clone()),
            None => self.base.var(name),
        }
    }

    /// A value and where it came from: `tool.pytest_env` or the process.
    pub fn lookup(&self, name: &str) -> Option<(String, Source)> {
        match self.set.get(name) {
            Some(var) => Some((var.value.clone(), var.source.clone())),
            None => self.base.var(name).map(|v| (v, Source::env(name))),
        }
    }

    /// The variables to set in each worker, in first-set order.
    pub fn worker_env(&self) -> Vec<WorkerEnvVar> {
        self.order.iter().map(|k| self.set[k].clone()).collect()
    }
}

/// Python's `str.format(**environ)` for `{NAME}` fields; `Err(NAME)` if unset.
fn expand(text: &str, env: &Overlay<'_>) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let mut field = String::new();
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                    field.push(c);
                }
                let name = field.split([':', '!']).next().unwrap_or("").trim();
                match env.value(name) {
                    Some(v) => out.push_str(&v),
                    None => return Err(name.to_string()),
                }
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn entries(text: &str) -> Vec<Entry> {
        let file = TomlFile::parse(Path::new("/p/pyproject.toml"), text.to_string()).unwrap();
        read_entries(&file).unwrap()
    }

    fn apply<'a>(base: &'a dyn Env, text: &str) -> Result<Overlay<'a>, SettingsError> {
        Overlay::apply(base, &entries(text), &PathBuf::from("/p/pyproject.toml"))
    }

    #[test]
    fn plain_values_replace_inherited_ones() {
        let base = [("A", "old")];
        let o = apply(
            &base,
            "[tool.pytest_env]\nA = \"new\"\nB = 3\nC = true\nD = 1.0\n",
        )
        .unwrap();
        assert_eq!(o.value("A").as_deref(), Some("new"));
        assert_eq!(o.value("B").as_deref(), Some("3"));
        assert_eq!(o.value("C").as_deref(), Some("True"));
        assert_eq!(o.value("D").as_deref(), Some("1.0"));
        let names: Vec<_> = o.worker_env().into_iter().map(|v| v.name).collect();
        assert_eq!(names, ["A", "B", "C", "D"]);
    }

    #[test]
    fn skip_if_set_keeps_inherited_values() {
        let base = [("A", "old")];
        let o = apply(&base, "[tool.pytest_env]\nA = { value = \"new\", skip_if_set = true }\nB = { value = \"b\", skip_if_set = true }\n").unwrap();
        assert_eq!(o.lookup("A"), Some(("old".into(), Source::env("A"))));
        assert_eq!(o.value("B").as_deref(), Some("b"));
        assert_eq!(o.worker_env().len(), 1);
    }

    #[test]
    fn transform_expands_from_the_environment_so_far() {
        let base = [("USER", "ann")];
        let o = apply(
            &base,
            "[tool.pytest_env]\nDIR = { value = \"/tmp/{USER}\", transform = true }\nSUB = { value = \"{DIR}/x {{lit}}\", transform = true }\nRAW = \"{USER}\"\n",
        )
        .unwrap();
        assert_eq!(o.value("DIR").as_deref(), Some("/tmp/ann"));
        assert_eq!(o.value("SUB").as_deref(), Some("/tmp/ann/x {lit}"));
        assert_eq!(o.value("RAW").as_deref(), Some("{USER}"));
    }

    #[test]
    fn transform_of_an_unset_variable_is_an_error() {
        let base: [(&str, &str); 0] = [];
        let err = apply(
            &base,
            "[tool.pytest_env]\n\nX = { value = \"{NOPE}\", transform = true }\n",
        )
        .err()
        .unwrap();
        assert!(
            matches!(err, SettingsError::PytestEnvTransform { line: 3, .. }),
            "{err}"
        );
    }

    #[test]
    fn ini_options_env_lines_are_the_fallback() {
        let base = [("KEEP", "mine"), ("USER", "ann")];
        let o = apply(
            &base,
            "[tool.pytest.ini_options]\nenv = [\"D:KEEP=theirs\", \"HOME_DIR=/h/{USER}\", \"R:RAW={USER}\"]\n",
        )
        .unwrap();
        assert_eq!(o.value("KEEP").as_deref(), Some("mine"));
        assert_eq!(o.value("HOME_DIR").as_deref(), Some("/h/ann"));
        assert_eq!(o.value("RAW").as_deref(), Some("{USER}"));
    }

    #[test]
    fn pytest_env_table_wins_over_ini_lines() {
        let e =
            entries("[tool.pytest_env]\nA = \"1\"\n[tool.pytest.ini_options]\nenv = [\"B=2\"]\n");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].key, "A");
    }

    #[test]
    fn sources_name_the_line() {
        let base: [(&str, &str); 0] = [];
        let o = apply(&base, "[tool.pytest_env]\n\nPYTEST_WORKERS = \"3\"\n").unwrap();
        let (_, source) = o.lookup("PYTEST_WORKERS").unwrap();
        assert_eq!(
            source.to_string(),
            "pyproject.toml:3 tool.pytest_env.PYTEST_WORKERS"
        );
    }
}
