//! The worker-side pytest plugin, embedded in the binary.
//!
//! A small Python package (`python/pacer_worker/`, standard library plus
//! pytest), each file embedded with `include_str!`. It is written once per
//! content hash of all its files to a cache folder, so that a user's venv
//! needs nothing but pytest, a stale plugin is never loaded, and concurrent
//! runs never see a half-written file.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

/// The package name workers load with `-p`.
pub const MODULE: &str = "pacer_worker";

/// The package's files: name inside `pacer_worker/`, content. A test checks
/// that every `.py` file of the package is listed here.
const FILES: &[(&str, &str)] = &[
    (
        "__init__.py",
        include_str!("../python/pacer_worker/__init__.py"),
    ),
    (
        "basetemp.py",
        include_str!("../python/pacer_worker/basetemp.py"),
    ),
    (
        "channel.py",
        include_str!("../python/pacer_worker/channel.py"),
    ),
    (
        "collect.py",
        include_str!("../python/pacer_worker/collect.py"),
    ),
    ("cov.py", include_str!("../python/pacer_worker/cov.py")),
    (
        "cputime.py",
        include_str!("../python/pacer_worker/cputime.py"),
    ),
    ("crash.py", include_str!("../python/pacer_worker/crash.py")),
    (
        "fixtures.py",
        include_str!("../python/pacer_worker/fixtures.py"),
    ),
    ("hooks.py", include_str!("../python/pacer_worker/hooks.py")),
    (
        "livelog.py",
        include_str!("../python/pacer_worker/livelog.py"),
    ),
    (
        "options.py",
        include_str!("../python/pacer_worker/options.py"),
    ),
    (
        "reports.py",
        include_str!("../python/pacer_worker/reports.py"),
    ),
    (
        "reruns.py",
        include_str!("../python/pacer_worker/reruns.py"),
    ),
    (
        "touched.py",
        include_str!("../python/pacer_worker/touched.py"),
    ),
    (
        "worker.py",
        include_str!("../python/pacer_worker/worker.py"),
    ),
    ("xdist.py", include_str!("../python/pacer_worker/xdist.py")),
    (
        "zygote.py",
        include_str!("../python/pacer_worker/zygote.py"),
    ),
];

/// Writes the plugin if needed and returns the folder to put on `PYTHONPATH`.
pub fn install(cache_root: &Path) -> std::io::Result<PathBuf> {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    FILES.hash(&mut hasher);
    let dir = cache_root.join(format!("plugin-{:016x}", hasher.finish()));
    let package = dir.join(MODULE);
    std::fs::create_dir_all(&package)?;
    for (name, source) in FILES {
        let file = package.join(name);
        if std::fs::read_to_string(&file).is_ok_and(|s| s == *source) {
            continue;
        }
        // Each file lands whole (written aside, then renamed), with the same
        // content whichever run writes it; a run returns only once every
        // file is in place.
        let tmp = package.join(format!(".{name}.{}.tmp", std::process::id()));
        std::fs::write(&tmp, source)?;
        std::fs::rename(&tmp, &file)?;
    }
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
    use super::{FILES, MODULE};

    #[test]
    fn install_writes_the_plugin_once() {
        let dir = tempfile::tempdir().unwrap();
        let first = super::install(dir.path()).unwrap();
        let second = super::install(dir.path()).unwrap();
        assert_eq!(first, second);
        let text = std::fs::read_to_string(first.join(MODULE).join("channel.py")).unwrap();
        assert!(text.contains("PROTOCOL = 1"));
    }

    #[test]
    fn install_rewrites_a_damaged_file() {
        let dir = tempfile::tempdir().unwrap();
        let installed = super::install(dir.path()).unwrap();
        let file = installed.join(MODULE).join("worker.py");
        std::fs::write(&file, "broken").unwrap();
        super::install(dir.path()).unwrap();
        let (_, source) = FILES.iter().find(|(name, _)| *name == "worker.py").unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), *source);
    }

    #[test]
    fn every_file_of_the_package_is_embedded() {
        let package = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("python")
            .join(MODULE);
        let mut on_disk: Vec<String> = std::fs::read_dir(&package)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".py"))
            .collect();
        on_disk.sort();
        let mut embedded: Vec<&str> = FILES.iter().map(|(name, _)| *name).collect();
        embedded.sort();
        assert_eq!(
            on_disk, embedded,
            "list every file of python/{MODULE}/ in plugin::FILES"
        );
    }
}
