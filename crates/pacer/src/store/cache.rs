//! JSON values in pytest's cache folder (`.pytest_cache/v/...`), read and
//! written the way pytest's cache provider does: a missing or broken file
//! reads as empty, and a write goes through a temporary file and a rename so
//! that concurrent runs never see half a file. Failures to write are not
//! fatal: the cache only speeds up the next run.

use std::io::Write;
use std::path::{Path, PathBuf};

/// `<cache_dir>/v/<key>`, as pytest's `config.cache` lays out its values.
pub fn value_path(cache_dir: &Path, key: &str) -> PathBuf {
    cache_dir.join("v").join(key)
}

pub fn read_json<T: serde::de::DeserializeOwned + Default>(path: &Path) -> T {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) {
    let Ok(json) = serde_json::to_vec_pretty(value) else {
        return;
    };
    write_with(path, |out| out.write_all(&json));
}

/// As [`write_json`], on one line: for pacer's own stores, which only pacer
/// reads and which hold a value per test (pretty, the CPU times of 17,000
/// tests took 3.8 MB instead of 1.5).
pub fn write_json_compact<T: serde::Serialize>(path: &Path, value: &T) {
    write_with(path, |out| {
        serde_json::to_writer(&mut *out, value).map_err(std::io::Error::other)
    });
}

/// Writes what `write` writes to `path`, through a temporary file and a
/// rename; nothing is left when it fails.
pub fn write_with(path: &Path, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) {
    if let Some(parent) = path.parent() {
        if std::fs::create_dir_all(parent).is_err() {
            return;
        }
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let written = std::fs::File::create(&tmp).and_then(|file| {
        let mut out = std::io::BufWriter::new(file);
        write(&mut out)?;
        out.flush()
    });
    match written {
        Ok(()) => {
            let _ = std::fs::rename(&tmp, path);
        }
        Err(_) => {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}
