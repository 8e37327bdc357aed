//! The worker-side pytest plugin, embedded in the binary.
//!
//! Written once per content hash to a cache folder, so that a user's venv
//! needs nothing but pytest and concurrent runs never see a half-written file.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

/// The module name workers load with `-p`.
pub const MODULE: &str = "pacer_worker";
const SOURCE: &str = include_str!("../python/pacer_worker.py");

/// Writes the plugin if needed and returns the folder to put on `PYTHONPATH`.
pub fn install(cache_root: &Path) -> std::io::Result<PathBuf> {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    SOURCE.hash(&mut hasher);
    let dir = cache_root.join(format!("plugin-{:016x}", hasher.finish()));
    let file = dir.join(format!("{MODULE}.py"));
    if std::fs::read_to_string(&file).is_ok_and(|s| s == SOURCE) {
        return Ok(dir);
    }
    std::fs::create_dir_all(&dir)?;
    let tmp = dir.join(format!(".{MODULE}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, SOURCE)?;
    std::fs::rename(&tmp, &file)?;
    Ok(dir)
}

/// `$XDG_CACHE_HOME/pacer`, else `~/.cache/pacer`, else a folder under the temp dir.
pub fn default_cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("pacer");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(home).join(".cache").join("pacer");
    }
    std::env::temp_dir().join("pacer-cache")
}

#[cfg(test)]
mod tests {
    #[test]
    fn install_writes_the_plugin_once() {
        let dir = tempfile::tempdir().unwrap();
        let first = super::install(dir.path()).unwrap();
        let second = super::install(dir.path()).unwrap();
        assert_eq!(first, second);
        let text = std::fs::read_to_string(first.join("pacer_worker.py")).unwrap();
        assert!(text.contains("PROTOCOL = 1"));
    }
}
