//! `.pacer/perf/`: each measure's file, the history (one JSON line per
//! measure), and reading either back for `--compare`.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::schema::{self, Measurement};
use super::Failure;

/// Writes `<timestamp>.json`, the history line and `--output`; returns the
/// files written besides the history.
pub fn save(
    perf_dir: &Path,
    timestamp: &str,
    measurement: &Measurement,
    output: Option<&Path>,
) -> Result<Vec<PathBuf>, Failure> {
    let cannot = |path: &Path, e: std::io::Error| {
        Failure::internal(format!(
            "cannot write {}: {e}\n\nhint: make the folder writable",
            path.display()
        ))
    };
    std::fs::create_dir_all(perf_dir).map_err(|e| cannot(perf_dir, e))?;
    let pretty = serde_json::to_string_pretty(measurement).unwrap_or_default() + "\n";
    // `:` is not allowed in Windows file names, and two measures in one
    // second must not overwrite each other.
    let stem = timestamp.replace(':', "-");
    let mut file = perf_dir.join(format!("{stem}.json"));
    let mut n = 1;
    while file.exists() {
        n += 1;
        file = perf_dir.join(format!("{stem}-{n}.json"));
    }
    std::fs::write(&file, &pretty).map_err(|e| cannot(&file, e))?;
    let history = perf_dir.join("history.jsonl");
    let line = serde_json::to_string(measurement).unwrap_or_default() + "\n";
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&history)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .map_err(|e| cannot(&history, e))?;
    let mut written = vec![file];
    if let Some(path) = output {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| cannot(parent, e))?;
        }
        std::fs::write(path, &pretty).map_err(|e| cannot(path, e))?;
        written.push(path.to_path_buf());
    }
    Ok(written)
}

/// The last entry of a history file, if it has one.
pub fn last_entry(history: &Path) -> Result<Option<Measurement>, Failure> {
    let text = match std::fs::read_to_string(history) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Failure::usage(format!(
                "--compare: {}: {e}",
                history.display()
            )))
        }
    };
    let Some((index, line)) = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .last()
    else {
        return Ok(None);
    };
    parse_measurement(line, &format!("{}:{}", history.display(), index + 1)).map(Some)
}

/// `--compare=FILE`: a measure's JSON, or a history file (its last entry).
pub fn read_measurement(path: &Path) -> Result<Measurement, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::usage(format!(
            "--compare={}: {e}\n\nhint: pass a file `pacer measure` wrote (.pacer/perf/*.json or history.jsonl)",
            path.display()
        ))
    })?;
    if path.extension().is_some_and(|e| e == "jsonl") {
        return last_entry(path)?.ok_or_else(|| {
            Failure::usage(format!("--compare={}: no entry in it", path.display()))
        });
    }
    parse_measurement(&text, &path.display().to_string())
}

fn parse_measurement(text: &str, origin: &str) -> Result<Measurement, Failure> {
    let value: Value = serde_json::from_str(text)
        .map_err(|e| Failure::usage(format!("--compare: {origin}: not JSON: {e}")))?;
    if value["schema"] != schema::SCHEMA || value["version"] != schema::VERSION {
        return Err(Failure::usage(format!(
            "--compare: {origin}: not a `{}` version {} document\n\nhint: pass a file `pacer measure` wrote",
            schema::SCHEMA,
            schema::VERSION
        )));
    }
    serde_json::from_value(value).map_err(|e| Failure::usage(format!("--compare: {origin}: {e}")))
}
