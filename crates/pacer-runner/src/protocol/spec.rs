//! `protocol.json`, the wire's one description, against the serde types of
//! `protocol.rs` (the plugin's side of it: `python/tests/test_protocol.py`).
//!
//! - Every `FromWorker` variant is described, and every described
//!   `from_worker` message is one; every `ToWorker` variant too.
//! - The fields are the same both ways: serde's own field lists for the
//!   payload structs (`Hello`, `PhaseReport`, ...), a pattern without `..`
//!   for the struct variants, so that a field added in Rust does not compile
//!   until it is named here, and then must be described.
//! - Rust reads every described field with its type: a message with the
//!   field's value of another type is refused. A field Rust does not know
//!   would be ignored, so this is `deny_unknown_fields` from the
//!   description's side: the plugin sends only described fields (its test),
//!   and Rust reads every one of them.
//! - A message with every described field, one with only the required ones
//!   (nullables null), and one without each optional field, all deserialize.
//! - Each `ToWorker` variant, serialized, is exactly its description.

use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, Deserialize, Visitor};
use serde_json::{json, Map, Value};

use super::{FromWorker, ItemInfo, ToWorker, PROTOCOL};
use crate::events::{
    Bye, CollectProblem, Hello, JunitOptions, PhaseReport, PytestOptions, PytestTerminal, Touched,
};
use crate::protocol::DiscoveredUnit;

const DESCRIPTION: &str = include_str!("../../protocol.json");

struct Spec(Value);

/// A described type, aliases resolved.
enum Ty<'a> {
    Str,
    Int,
    Uint,
    Float,
    Bool,
    Enum(Vec<&'a str>),
    Nullable(&'a Value),
    List(&'a Value),
    Tuple(&'a [Value]),
    Struct(&'a Map<String, Value>),
}

impl Spec {
    fn load() -> Spec {
        Spec(serde_json::from_str(DESCRIPTION).expect("protocol.json is JSON"))
    }

    fn messages(&self, direction: &str) -> &Map<String, Value> {
        self.0[direction].as_object().expect("a direction")
    }

    fn fields<'a>(&self, message: &'a Value) -> &'a Map<String, Value> {
        message["fields"].as_object().expect("fields")
    }

    fn ty<'a>(&'a self, t: &'a Value) -> Ty<'a> {
        match t {
            Value::String(name) => match name.as_str() {
                "str" => Ty::Str,
                "int" => Ty::Int,
                "uint" => Ty::Uint,
                "float" => Ty::Float,
                "bool" => Ty::Bool,
                _ => {
                    let named = &self.0["types"][name];
                    if let Some(fields) = named.get("fields").and_then(Value::as_object) {
                        Ty::Struct(fields)
                    } else if let Some(alias) = named.get("type") {
                        self.ty(alias)
                    } else {
                        panic!("protocol.json: no type {name}")
                    }
                }
            },
            Value::Array(parts) => {
                let rest = &parts[1..];
                match parts[0].as_str() {
                    Some("enum") => Ty::Enum(rest.iter().filter_map(Value::as_str).collect()),
                    Some("nullable") => Ty::Nullable(&rest[0]),
                    Some("list") => Ty::List(&rest[0]),
                    Some("tuple") => Ty::Tuple(rest),
                    _ => panic!("protocol.json: no type {t}"),
                }
            }
            _ => panic!("protocol.json: no type {t}"),
        }
    }

    /// A value of type `t`: with `full`, every field and no null; else
    /// only required fields, and null where allowed.
    fn sample(&self, t: &Value, full: bool) -> Value {
        match self.ty(t) {
            Ty::Str => json!("s"),
            Ty::Int => json!(-1),
            Ty::Uint => json!(1),
            Ty::Float => json!(0.5),
            Ty::Bool => json!(true),
            Ty::Enum(words) => json!(words[0]),
            Ty::Nullable(inner) if full => self.sample(inner, full),
            Ty::Nullable(_) => Value::Null,
            Ty::List(item) => json!([self.sample(item, full)]),
            Ty::Tuple(items) => items.iter().map(|t| self.sample(t, full)).collect(),
            Ty::Struct(fields) => Value::Object(self.object(fields, full)),
        }
    }

    fn object(&self, fields: &Map<String, Value>, full: bool) -> Map<String, Value> {
        fields
            .iter()
            .filter(|(_, field)| full || required(field))
            .map(|(name, field)| (name.clone(), self.sample(&field["type"], full)))
            .collect()
    }

    /// A value no deserializer of type `t` accepts.
    fn wrong(&self, t: &Value) -> Value {
        match self.ty(t) {
            Ty::Nullable(inner) => self.wrong(inner),
            Ty::Str | Ty::Enum(_) => json!(7),
            _ => json!("wrong"),
        }
    }

    /// `value` (a full sample of `t`) changed in one place, for each field
    /// anywhere inside it: `(where, changed value, must still be accepted)`.
    /// The field's value of the wrong type must be refused; an optional
    /// field left out, and each word of an enum, must be accepted.
    fn changes(&self, t: &Value, value: &Value) -> Vec<(String, Value, bool)> {
        let mut out = Vec::new();
        match self.ty(t) {
            Ty::Nullable(inner) => out = self.changes(inner, value),
            Ty::List(item) => {
                for (at, changed, ok) in self.changes(item, &value[0]) {
                    out.push((format!("[0]{at}"), json!([changed]), ok));
                }
            }
            Ty::Tuple(items) => {
                for (i, item) in items.iter().enumerate() {
                    for (at, changed, ok) in self.changes(item, &value[i]) {
                        let mut tuple = value.clone();
                        tuple[i] = changed;
                        out.push((format!("[{i}]{at}"), tuple, ok));
                    }
                }
            }
            Ty::Struct(fields) => out = self.field_changes(fields, value),
            Ty::Enum(words) => {
                for word in &words[1..] {
                    out.push((format!(" = {word:?}"), json!(word), true));
                }
            }
            _ => {}
        }
        out
    }

    /// `changes` of an object of these fields.
    fn field_changes(
        &self,
        fields: &Map<String, Value>,
        value: &Value,
    ) -> Vec<(String, Value, bool)> {
        let mut out = Vec::new();
        for (name, field) in fields {
            let mut object = value.clone();
            object[name] = self.wrong(&field["type"]);
            out.push((format!(".{name} of the wrong type"), object, false));
            if !required(field) {
                let mut object = value.clone();
                object.as_object_mut().unwrap().remove(name);
                out.push((format!(".{name} left out"), object, true));
            }
            for (at, changed, ok) in self.changes(&field["type"], &value[name]) {
                let mut object = value.clone();
                object[name] = changed;
                out.push((format!(".{name}{at}"), object, ok));
            }
        }
        out
    }

    /// What is wrong with `value` as a `t` (strictly: no undescribed field).
    fn check(&self, t: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let ok = match (self.ty(t), value) {
            (Ty::Str, Value::String(_)) | (Ty::Bool, Value::Bool(_)) => true,
            (Ty::Int, Value::Number(n)) => n.is_i64() || n.is_u64(),
            (Ty::Uint, Value::Number(n)) => n.is_u64(),
            (Ty::Float, Value::Number(_)) => true,
            (Ty::Enum(words), Value::String(s)) => words.contains(&s.as_str()),
            (Ty::Nullable(_), Value::Null) => true,
            (Ty::Nullable(inner), _) => return self.check(inner, value, at, errors),
            (Ty::List(item), Value::Array(values)) => {
                for (i, v) in values.iter().enumerate() {
                    self.check(item, v, &format!("{at}[{i}]"), errors);
                }
                true
            }
            (Ty::Tuple(items), Value::Array(values)) if items.len() == values.len() => {
                for (i, (t, v)) in items.iter().zip(values).enumerate() {
                    self.check(t, v, &format!("{at}[{i}]"), errors);
                }
                true
            }
            (Ty::Struct(fields), Value::Object(object)) => {
                self.check_fields(fields, object, at, errors);
                true
            }
            _ => false,
        };
        if !ok {
            errors.push(format!("{at}: {value} is not a {t}"));
        }
    }

    fn check_fields(
        &self,
        fields: &Map<String, Value>,
        object: &Map<String, Value>,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        for (name, value) in object {
            match fields.get(name) {
                Some(field) => self.check(&field["type"], value, &format!("{at}.{name}"), errors),
                None => errors.push(format!("{at}.{name} is not described")),
            }
        }
        for (name, field) in fields {
            if required(field) && !object.contains_key(name) {
                errors.push(format!("{at}.{name} is required and missing"));
            }
        }
    }
}

fn required(field: &Value) -> bool {
    field["required"]
        .as_bool()
        .expect("every field says whether it is required")
}

fn message(tag: &str, fields: Map<String, Value>) -> Value {
    let mut object = Map::new();
    object.insert("t".into(), json!(tag));
    object.extend(fields);
    Value::Object(object)
}

/// The field names serde's derive gives struct `T`, renames applied: what
/// it hands to `deserialize_struct`.
fn serde_fields<T: for<'de> Deserialize<'de>>() -> Vec<&'static str> {
    #[derive(Debug)]
    struct Fields(&'static [&'static str]);
    impl fmt::Display for Fields {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{:?}", self.0)
        }
    }
    impl std::error::Error for Fields {}
    impl de::Error for Fields {
        fn custom<M: fmt::Display>(_: M) -> Self {
            Fields(&[])
        }
    }
    struct Probe;
    impl<'de> de::Deserializer<'de> for Probe {
        type Error = Fields;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Fields> {
            Err(Fields(&[]))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Fields> {
            Err(Fields(fields))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    match T::deserialize(Probe) {
        Err(Fields(fields)) if !fields.is_empty() => fields.to_vec(),
        _ => panic!("{} is not a struct", std::any::type_name::<T>()),
    }
}

/// The Rust fields of a described struct type.
fn rust_type_fields(name: &str) -> Option<Vec<&'static str>> {
    Some(match name {
        "discovered_unit" => serde_fields::<DiscoveredUnit>(),
        "item_info" => serde_fields::<ItemInfo>(),
        "collect_problem" => serde_fields::<CollectProblem>(),
        "phase_report" => serde_fields::<PhaseReport>(),
        "touched" => serde_fields::<Touched>(),
        "pytest_options" => serde_fields::<PytestOptions>(),
        "pytest_terminal" => serde_fields::<PytestTerminal>(),
        "junit_options" => serde_fields::<JunitOptions>(),
        _ => return None,
    })
}

/// The fields of `msg`'s variant as Rust names them. Exhaustive, and no
/// pattern has `..`: a variant or a field added to `FromWorker` does not
/// compile until it is named here, and the test then wants it described.
fn rust_message_fields(msg: &FromWorker) -> Vec<&'static str> {
    macro_rules! named {
        ($($field:ident),*) => {{
            $(let _ = $field;)*
            vec![$(stringify!($field)),*]
        }};
    }
    match msg {
        FromWorker::Hello(_) => serde_fields::<Hello>(),
        FromWorker::Bye(_) => serde_fields::<Bye>(),
        FromWorker::Discovered { units, whole } => named!(units, whole),
        FromWorker::UsageError { message } => named!(message),
        FromWorker::Collected {
            items,
            problems,
            deselected,
            deselected_ids,
            whole,
            ordered,
        } => named!(items, problems, deselected, deselected_ids, whole, ordered),
        FromWorker::Start { id } => named!(id),
        FromWorker::Done {
            id,
            reports,
            wall,
            cpu,
            queued,
            touched,
        } => named!(id, reports, wall, cpu, queued, touched),
        FromWorker::Late { id, reports } => named!(id, reports),
        FromWorker::Need => vec![],
        FromWorker::Unqueued { ids } | FromWorker::Missing { ids } => named!(ids),
        FromWorker::HelloZygote { pid } => named!(pid),
        FromWorker::Forked { worker, pid } => named!(worker, pid),
        FromWorker::Warning { id, when, message } => named!(id, when, message),
        FromWorker::Exit {
            id,
            message,
            returncode,
            interrupt,
        } => named!(id, message, returncode, interrupt),
    }
}

/// Every tag `FromWorker` reads, as serde lists them when refusing another.
fn from_worker_tags() -> BTreeSet<String> {
    let refused = serde_json::from_str::<FromWorker>(r#"{"t":"?"}"#)
        .unwrap_err()
        .to_string();
    let listed = refused
        .split_once("expected one of ")
        .unwrap_or_else(|| panic!("serde's message changed: {refused}"))
        .1;
    listed
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// `ToWorker`'s variants and their tags: `tag_of` is exhaustive, so a new
/// variant does not compile until it is listed here, and then it needs a
/// sample in `to_worker_samples` and a description.
macro_rules! to_worker_variants {
    ($($variant:ident $({ $($rest:tt)* })? => $tag:literal,)*) => {
        const TO_WORKER_TAGS: &[&str] = &[$($tag),*];
        fn tag_of(msg: &ToWorker) -> &'static str {
            match msg {
                $(ToWorker::$variant $({ $($rest)* })? => $tag,)*
            }
        }
    };
}

to_worker_variants! {
    Discover => "discover",
    Collect { .. } => "collect",
    Run { .. } => "run",
    CollectAll { .. } => "collect_all",
    Select { .. } => "select",
    Serve => "serve",
    Idle => "idle",
    Unqueue { .. } => "unqueue",
    Stop => "stop",
    Fork { .. } => "fork",
}

fn to_worker_samples<'a>(units: &'a [String], env: &'a [(String, String)]) -> Vec<ToWorker<'a>> {
    vec![
        ToWorker::Discover,
        ToWorker::Collect { units },
        ToWorker::Run {
            tests: vec!["t.py::a"],
            units: vec!["t.py"],
            env,
        },
        ToWorker::CollectAll { ignore: units },
        ToWorker::Select {
            deselect: vec!["t.py::b"],
        },
        ToWorker::Serve,
        ToWorker::Idle,
        ToWorker::Unqueue {
            tests: vec!["t.py::c"],
        },
        ToWorker::Stop,
        ToWorker::Fork { worker: "gw1", env },
    ]
}

fn differences(what: &str, described: &BTreeSet<String>, rust: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    let only_described: Vec<_> = described.difference(rust).collect();
    let only_rust: Vec<_> = rust.difference(described).collect();
    if !only_described.is_empty() {
        out.push(format!(
            "{what}: described, not in Rust: {only_described:?}"
        ));
    }
    if !only_rust.is_empty() {
        out.push(format!("{what}: in Rust, not described: {only_rust:?}"));
    }
    out
}

fn names(fields: &Map<String, Value>) -> BTreeSet<String> {
    fields.keys().cloned().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

#[test]
fn the_description_is_this_protocol() {
    let spec = Spec::load();
    assert_eq!(spec.0["protocol"], json!(PROTOCOL));
    assert_eq!(spec.0["tag"], json!("t"));
}

#[test]
fn from_worker_reads_every_described_message_and_field_and_no_other() {
    let spec = Spec::load();
    let described = spec.messages("from_worker");
    let mut errors = differences(
        "from_worker messages",
        &described.keys().cloned().collect(),
        &from_worker_tags(),
    );
    for (name, named) in spec.0["types"].as_object().unwrap() {
        if let Some(fields) = named.get("fields").and_then(Value::as_object) {
            match rust_type_fields(name) {
                Some(rust) => errors.extend(differences(
                    &format!("type {name}"),
                    &names(fields),
                    &set(&rust),
                )),
                None => errors.push(format!("type {name}: no Rust type named for it")),
            }
        }
    }
    for (tag, msg) in described {
        let fields = spec.fields(msg);
        let full = spec.object(fields, true);
        let read = |value: &Value| serde_json::from_value::<FromWorker>(value.clone());
        match read(&message(tag, full.clone())) {
            Ok(parsed) => errors.extend(differences(
                tag,
                &names(fields),
                &set(&rust_message_fields(&parsed)),
            )),
            Err(e) => errors.push(format!("{tag} with every field: refused ({e})")),
        }
        if let Err(e) = read(&message(tag, spec.object(fields, false))) {
            errors.push(format!(
                "{tag} with only its required fields: refused ({e})"
            ));
        }
        for (at, changed, accepted) in spec.field_changes(fields, &Value::Object(full.clone())) {
            let value = message(tag, changed.as_object().unwrap().clone());
            match (read(&value), accepted) {
                (Err(e), true) => errors.push(format!("{tag}{at}: refused ({e})")),
                (Ok(_), false) => errors.push(format!(
                    "{tag}{at}: accepted, so Rust does not read that field as described"
                )),
                _ => {}
            }
        }
    }
    assert!(
        errors.is_empty(),
        "protocol.json vs FromWorker:\n{}",
        errors.join("\n")
    );
}

#[test]
fn to_worker_sends_every_described_message_as_described() {
    let spec = Spec::load();
    let described = spec.messages("to_worker");
    let mut errors = differences(
        "to_worker messages",
        &described.keys().cloned().collect(),
        &set(TO_WORKER_TAGS),
    );
    let units = vec!["t.py".to_string()];
    let env = vec![("A".to_string(), "1".to_string())];
    let samples = to_worker_samples(&units, &env);
    let sampled: BTreeSet<String> = samples.iter().map(|m| tag_of(m).to_string()).collect();
    errors.extend(differences(
        "to_worker samples",
        &set(TO_WORKER_TAGS),
        &sampled,
    ));
    for msg in &samples {
        let value: Value = serde_json::from_slice(&msg.to_line()).unwrap();
        let tag = value["t"].as_str().unwrap_or("?").to_string();
        if tag != tag_of(msg) {
            errors.push(format!("{} is sent as {tag}", tag_of(msg)));
        }
        let Some(message) = described.get(&tag) else {
            errors.push(format!("{tag} is not described"));
            continue;
        };
        let mut object = value.as_object().unwrap().clone();
        object.remove("t");
        spec.check_fields(spec.fields(message), &object, &tag, &mut errors);
    }
    assert!(
        errors.is_empty(),
        "protocol.json vs ToWorker:\n{}",
        errors.join("\n")
    );
}
