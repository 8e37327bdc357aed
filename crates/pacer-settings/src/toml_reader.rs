//! Typed reads from a parsed TOML document that keep each key's line.
//!
//! `toml_edit` (not serde) is used so that every value knows its span: a
//! wrong type or an unknown key is reported at `file:line`, and `pacer
//! config` shows `pyproject.toml:12 tool.pacer.workers` as a source.

use std::path::{Path, PathBuf};

use toml_edit::{ImDocument, Item, TableLike, Value};

use crate::error::SettingsError;
use crate::location::line_col;
use crate::source::{Source, Sourced};
use crate::suggest::closest;

/// A config file, read and parsed.
pub(crate) struct TomlFile {
    pub path: PathBuf,
    text: String,
    doc: ImDocument<String>,
}

impl TomlFile {
    pub fn read(path: &Path) -> Result<Self, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, text)
    }

    pub fn parse(path: &Path, text: String) -> Result<Self, SettingsError> {
        let doc = ImDocument::parse(text.clone()).map_err(|e| {
            let (line, column) = line_col(&text, e.span().map_or(0, |s| s.start));
            SettingsError::Syntax {
                path: path.to_path_buf(),
                line,
                column,
                message: e.message().trim().replace('\n', "; "),
            }
        })?;
        Ok(TomlFile {
            path: path.to_path_buf(),
            text,
            doc,
        })
    }

    /// The document's root table.
    pub fn root(&self) -> Table<'_> {
        Table {
            file: self,
            table: self.doc.as_table(),
            dotted: String::new(),
            line: 0,
        }
    }

    fn line(&self, offset: Option<usize>) -> usize {
        offset.map_or(0, |o| line_col(&self.text, o).0)
    }
}

/// A table (or inline table) of a [`TomlFile`], with its dotted path.
pub(crate) struct Table<'a> {
    file: &'a TomlFile,
    table: &'a dyn TableLike,
    dotted: String,
    line: usize,
}

/// The TOML type of an item, as named in errors.
fn type_name(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
        Item::Value(v) => match v {
            Value::String(_) => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Boolean(_) => "a boolean",
            Value::Datetime(_) => "a datetime",
            Value::Array(_) => "an array",
            Value::InlineTable(_) => "an inline table",
        },
    }
}

impl<'a> Table<'a> {
    /// The dotted path of `key` in this table, e.g. `tool.pacer.workers`.
    pub fn key_path(&self, key: &str) -> String {
        if self.dotted.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.dotted)
        }
    }

    /// This table's dotted path (empty for the root).
    pub fn dotted(&self) -> &str {
        &self.dotted
    }

    /// The keys, in file order.
    pub fn keys(&self) -> Vec<&'a str> {
        self.table.iter().map(|(k, _)| k).collect()
    }

    /// The 1-based line of `key` (its name, else its value), 0 if unknown.
    pub fn line_of(&self, key: &str) -> usize {
        match self.table.get_key_value(key) {
            Some((k, item)) => self
                .file
                .line(k.span().or_else(|| item.span()).map(|s| s.start)),
            None => self.line(),
        }
    }

    /// The 1-based line where this table starts, 0 if unknown.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The source to record for `key`.
    pub fn source(&self, key: &str) -> Source {
        Source::File {
            file: self.file.path.clone(),
            line: self.line_of(key),
            key: self.key_path(key),
        }
    }

    /// Fails on the first key not in `allowed`, suggesting the closest.
    pub fn deny_unknown(&self, allowed: &'static [&'static str]) -> Result<(), SettingsError> {
        for key in self.keys() {
            if !allowed.contains(&key) {
                return Err(SettingsError::UnknownKey {
                    path: self.file.path.clone(),
                    line: self.line_of(key),
                    table: if self.dotted.is_empty() {
                        "(top level)".into()
                    } else {
                        self.dotted.clone()
                    },
                    key: key.to_string(),
                    suggestion: closest(key, allowed.iter()),
                    valid: allowed,
                });
            }
        }
        Ok(())
    }

    fn item(&self, key: &str) -> Option<&'a Item> {
        self.table.get(key).filter(|i| !i.is_none())
    }

    /// The raw item, for values that may take several types.
    pub fn raw(&self, key: &str) -> Option<&'a Item> {
        self.item(key)
    }

    pub fn wrong_type(&self, key: &str, expected: &'static str, example: &str) -> SettingsError {
        SettingsError::WrongType {
            path: self.file.path.clone(),
            line: self.line_of(key),
            key: self.key_path(key),
            expected,
            found: self.item(key).map_or("nothing", type_name),
            example: example.to_string(),
        }
    }

    fn typed<T>(
        &self,
        key: &str,
        expected: &'static str,
        example: &str,
        get: impl FnOnce(&'a Item) -> Option<T>,
    ) -> Result<Option<Sourced<T>>, SettingsError> {
        match self.item(key) {
            None => Ok(None),
            Some(item) => match get(item) {
                Some(v) => Ok(Some(Sourced::new(v, self.source(key)))),
                None => Err(self.wrong_type(key, expected, example)),
            },
        }
    }

    pub fn bool(&self, key: &str) -> Result<Option<Sourced<bool>>, SettingsError> {
        self.typed(key, "a boolean", &format!("{key} = true"), Item::as_bool)
    }

    pub fn int(&self, key: &str) -> Result<Option<Sourced<i64>>, SettingsError> {
        self.typed(key, "an integer", &format!("{key} = 4"), Item::as_integer)
    }

    /// A float; integers are accepted too (`rate = 10`).
    pub fn number(&self, key: &str) -> Result<Option<Sourced<f64>>, SettingsError> {
        self.typed(key, "a number", &format!("{key} = 1.5"), |i| {
            i.as_float().or_else(|| i.as_integer().map(|n| n as f64))
        })
    }

    pub fn string(&self, key: &str) -> Result<Option<Sourced<String>>, SettingsError> {
        self.typed(key, "a string", &format!("{key} = \"...\""), |i| {
            i.as_str().map(str::to_string)
        })
    }

    pub fn strings(&self, key: &str) -> Result<Option<Sourced<Vec<String>>>, SettingsError> {
        self.typed(
            key,
            "an array of strings",
            &format!("{key} = [\"a\", \"b\"]"),
            |i| {
                i.as_array()?
                    .iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
            },
        )
    }

    pub fn ints(&self, key: &str) -> Result<Option<Sourced<Vec<i64>>>, SettingsError> {
        self.typed(
            key,
            "an array of integers",
            &format!("{key} = [429, 503]"),
            |i| {
                i.as_array()?
                    .iter()
                    .map(Value::as_integer)
                    .collect::<Option<Vec<_>>>()
            },
        )
    }

    /// A sub-table (header or inline).
    pub fn table(&self, key: &str) -> Result<Option<Table<'a>>, SettingsError> {
        match self.item(key) {
            None => Ok(None),
            Some(item) => match item.as_table_like() {
                Some(table) => Ok(Some(Table {
                    file: self.file,
                    table,
                    dotted: self.key_path(key),
                    line: self.line_of(key),
                })),
                None => Err(self.wrong_type(key, "a table", &format!("[{}]", self.key_path(key)))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> TomlFile {
        TomlFile::parse(Path::new("/p/pyproject.toml"), text.to_string()).unwrap()
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let err = TomlFile::parse(
            Path::new("/p/pyproject.toml"),
            "a = 1\nb = [1,\nc = 3".into(),
        )
        .err()
        .unwrap();
        match err {
            SettingsError::Syntax { line, column, .. } => assert_eq!((line, column), (3, 1)),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn values_know_their_line() {
        let f = file("[tool.pacer]\n\nworkers = 4\n");
        let pacer = f
            .root()
            .table("tool")
            .unwrap()
            .unwrap()
            .table("pacer")
            .unwrap()
            .unwrap();
        let w = pacer.int("workers").unwrap().unwrap();
        assert_eq!(w.value, 4);
        assert_eq!(w.source.to_string(), "pyproject.toml:3 tool.pacer.workers");
    }

    #[test]
    fn wrong_type_names_the_line_and_key() {
        let f = file("[tool.pacer]\ndebug = \"yes\"\n");
        let pacer = f
            .root()
            .table("tool")
            .unwrap()
            .unwrap()
            .table("pacer")
            .unwrap()
            .unwrap();
        let err = pacer.bool("debug").unwrap_err();
        assert_eq!(
            err.message(),
            "/p/pyproject.toml:2: `tool.pacer.debug` must be a boolean, found a string"
        );
        assert!(err.hint().contains("debug = true"));
    }

    #[test]
    fn unknown_keys_suggest_the_closest() {
        let f = file("[tool.pacer]\nworkrs = 4\n");
        let pacer = f
            .root()
            .table("tool")
            .unwrap()
            .unwrap()
            .table("pacer")
            .unwrap()
            .unwrap();
        let err = pacer.deny_unknown(&["workers", "debug"]).unwrap_err();
        assert!(
            err.to_string()
                .contains(":2: unknown key `workrs` in `[tool.pacer]`"),
            "{err}"
        );
        assert!(err.hint().starts_with("did you mean `workers`?"), "{err}");
    }

    #[test]
    fn integers_count_as_numbers() {
        let f = file("rate = 10\nmin_delay = 0.5\n");
        assert_eq!(f.root().number("rate").unwrap().unwrap().value, 10.0);
        assert_eq!(f.root().number("min_delay").unwrap().unwrap().value, 0.5);
    }
}
