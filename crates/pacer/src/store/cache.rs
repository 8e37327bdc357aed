//! JSON values in pytest's cache folder (`.pytest_cache/v/...`), read and
//! written the way pytest's cache provider does: a missing or broken file
//! reads as empty, and a write goes through a temporary file and a rename so
//! that concurrent runs never see half a file. Failures to write are not
//! fatal: the cache only speeds up the next run.

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
    if let Some(parent) = path.parent() {
        if std::fs::create_dir_all(parent).is_err() {
            return;
        }
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    if std::fs::write(&tmp, json).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
}
