//! The project's import graph: which Python file imports which, built from
//! the sources and cached in `.pacer/import-graph.json`.
//!
//! Each file's imports are kept in the cache with its size, mtime and
//! content hash: a file whose size and mtime are unchanged is not read
//! again, and one whose content hash is unchanged is not parsed again, so
//! a second build reads only what changed. Names are resolved against the
//! tree on every build (cheap, and it depends on every file at once): an
//! absolute import against the importing file's own folder (pytest's
//! `prepend` import mode puts it on `sys.path`), the project root, `src/`
//! and pytest's `pythonpath`, then against any file whose path ends with
//! the module's (roots pacer does not know); a relative import against the
//! importing file's package. Resolving too widely selects more tests, never
//! fewer.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::imports::{self, Import};

/// The cache's format; another number is rebuilt from scratch.
const CACHE_VERSION: u32 = 1;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Cache {
    version: u32,
    /// By path relative to the project root.
    files: HashMap<String, CachedFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CachedFile {
    size: u64,
    mtime_ns: u128,
    /// FNV-1a of the content, hex.
    hash: String,
    imports: Vec<Import>,
}

/// How a build went: for `--dry-run`, `--debug` and the benchmark.
#[derive(Debug, Clone, Copy, Default)]
pub struct BuildStats {
    pub files: usize,
    /// Files read (new or touched since the cache was written).
    pub read: usize,
    /// Files parsed (their content changed).
    pub parsed: usize,
    pub millis: f64,
}

pub struct Graph {
    /// Relative to `root`; deleted files last (known by path only).
    files: Vec<PathBuf>,
    by_path: HashMap<PathBuf, usize>,
    /// What each file imports (indices into `files`).
    edges: Vec<Vec<usize>>,
    pub stats: BuildStats,
}

/// Folders never walked: version control, caches, virtual environments.
fn skipped(dir: &Path, name: &str) -> bool {
    name.starts_with('.')
        || matches!(name, "__pycache__" | "node_modules" | "site-packages")
        || dir.join("pyvenv.cfg").is_file()
}

/// Every `.py` file under `root` (relative), and every folder.
fn walk(root: &Path) -> (Vec<PathBuf>, HashSet<PathBuf>) {
    let mut files = Vec::new();
    let mut dirs = HashSet::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(root.join(&rel)) else {
            continue;
        };
        dirs.insert(rel.clone());
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = rel.join(name);
            if kind.is_dir() {
                if !skipped(&entry.path(), name) {
                    stack.push(path);
                }
            } else if name.ends_with(".py") {
                files.push(path);
            }
        }
    }
    files.sort();
    (files, dirs)
}

fn fnv1a(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

pub fn cache_path(root: &Path) -> PathBuf {
    root.join(".pacer").join("import-graph.json")
}

impl Graph {
    /// Builds the graph of the `.py` files under `root`, with `deleted`
    /// (relative paths) as files that import nothing, so that their former
    /// importers still resolve to them. `pythonpath`: pytest's extra
    /// import roots, relative to `root`.
    pub fn build(root: &Path, pythonpath: &[PathBuf], deleted: &[PathBuf]) -> Graph {
        let started = Instant::now();
        let (mut files, dirs) = walk(root);
        let cache_file = cache_path(root);
        let mut cache: Cache = crate::store::cache::read_json(&cache_file);
        if cache.version != CACHE_VERSION {
            cache = Cache {
                version: CACHE_VERSION,
                files: HashMap::new(),
            };
        }
        let mut stats = BuildStats {
            files: files.len(),
            ..BuildStats::default()
        };
        let mut fresh: HashMap<String, CachedFile> = HashMap::with_capacity(files.len());
        let mut imports: Vec<Vec<Import>> = Vec::with_capacity(files.len());
        let mut dirty = false;
        for rel in &files {
            let key = rel.to_string_lossy().into_owned();
            let path = root.join(rel);
            let meta = std::fs::metadata(&path).ok();
            let size = meta.as_ref().map_or(0, |m| m.len());
            let mtime_ns = meta
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            let old = cache.files.remove(&key);
            let entry = match old {
                Some(old) if old.size == size && old.mtime_ns == mtime_ns => old,
                old => {
                    stats.read += 1;
                    dirty = true;
                    let bytes = std::fs::read(&path).unwrap_or_default();
                    let hash = fnv1a(&bytes);
                    match old {
                        Some(old) if old.hash == hash => CachedFile {
                            size,
                            mtime_ns,
                            ..old
                        },
                        _ => {
                            stats.parsed += 1;
                            CachedFile {
                                size,
                                mtime_ns,
                                hash,
                                imports: imports::parse(&String::from_utf8_lossy(&bytes)),
                            }
                        }
                    }
                }
            };
            imports.push(entry.imports.clone());
            fresh.insert(key, entry);
        }
        // Files gone since the cache was written leave it too.
        dirty |= !cache.files.is_empty();
        if dirty {
            crate::store::cache::write_json(
                &cache_file,
                &Cache {
                    version: CACHE_VERSION,
                    files: fresh,
                },
            );
        }
        for gone in deleted {
            if !files.contains(gone) {
                files.push(gone.clone());
                imports.push(Vec::new());
            }
        }
        let by_path: HashMap<PathBuf, usize> = files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.clone(), i))
            .collect();
        let edges = {
            let resolver = Resolver::new(&files, &by_path, &dirs, pythonpath);
            files
                .iter()
                .zip(&imports)
                .map(|(file, imports)| resolver.edges(file, imports))
                .collect()
        };
        let mut graph = Graph {
            files,
            by_path,
            edges,
            stats,
        };
        graph.stats.millis = started.elapsed().as_secs_f64() * 1000.0;
        graph
    }

    /// Every file that imports one of `seeds` (relative paths), directly
    /// or not, with the next file on its way to the seed it reaches first
    /// (`None` for a seed itself).
    pub fn importers_of(&self, seeds: &[PathBuf]) -> HashMap<PathBuf, Option<PathBuf>> {
        let mut reverse: Vec<Vec<usize>> = vec![Vec::new(); self.files.len()];
        for (from, targets) in self.edges.iter().enumerate() {
            for &to in targets {
                reverse[to].push(from);
            }
        }
        let mut via: HashMap<usize, Option<usize>> = HashMap::new();
        let mut queue = VecDeque::new();
        for seed in seeds {
            if let Some(&i) = self.by_path.get(seed) {
                if via.insert(i, None).is_none() {
                    queue.push_back(i);
                }
            }
        }
        while let Some(at) = queue.pop_front() {
            for &importer in &reverse[at] {
                if let std::collections::hash_map::Entry::Vacant(e) = via.entry(importer) {
                    e.insert(Some(at));
                    queue.push_back(importer);
                }
            }
        }
        via.into_iter()
            .map(|(i, next)| (self.files[i].clone(), next.map(|n| self.files[n].clone())))
            .collect()
    }
}

/// Module names to files, over one tree.
struct Resolver<'a> {
    files: &'a [PathBuf],
    by_path: &'a HashMap<PathBuf, usize>,
    dirs: &'a HashSet<PathBuf>,
    /// Import roots every file shares (relative): the project root, `src`,
    /// pytest's `pythonpath`.
    roots: Vec<PathBuf>,
    /// Dotted name (every suffix of every file's module path) to files.
    by_suffix: HashMap<String, Vec<usize>>,
}

impl<'a> Resolver<'a> {
    fn new(
        files: &'a [PathBuf],
        by_path: &'a HashMap<PathBuf, usize>,
        dirs: &'a HashSet<PathBuf>,
        pythonpath: &[PathBuf],
    ) -> Self {
        let mut roots = vec![PathBuf::new(), PathBuf::from("src")];
        roots.extend(pythonpath.iter().cloned());
        let mut by_suffix: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, file) in files.iter().enumerate() {
            let mut parts: Vec<String> = file
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let Some(last) = parts.pop() else { continue };
            if last != "__init__.py" {
                parts.push(last.trim_end_matches(".py").to_string());
            }
            for start in 0..parts.len() {
                by_suffix
                    .entry(parts[start..].join("."))
                    .or_default()
                    .push(i);
            }
        }
        Resolver {
            files,
            by_path,
            dirs,
            roots,
            by_suffix,
        }
    }

    /// The file of module `dir/a/b` (`b.py` or `b/__init__.py`).
    fn module(&self, path: &Path) -> Option<usize> {
        let file = path.with_extension("py");
        self.by_path
            .get(&file)
            .or_else(|| self.by_path.get(&path.join("__init__.py")))
            .copied()
    }

    fn exists(&self, path: &Path) -> bool {
        self.dirs.contains(path) || self.module(path).is_some()
    }

    /// What importing `parts` (and `names` from it) from `base` runs:
    /// each package's `__init__.py` on the way, the module, and each name
    /// that is a submodule.
    fn under(&self, base: &Path, parts: &[&str], names: &[String], out: &mut Vec<usize>) {
        let mut path = base.to_path_buf();
        if parts.is_empty() {
            out.extend(self.by_path.get(&base.join("__init__.py")));
        }
        for part in parts {
            path.push(part);
            out.extend(self.module(&path));
        }
        for name in names {
            out.extend(self.module(&path.join(name)));
        }
    }

    /// The folder pytest's `prepend` mode puts on `sys.path` for `file`:
    /// the first one up that is not a package.
    fn basedir(&self, file: &Path) -> PathBuf {
        let mut dir = file.parent().unwrap_or(Path::new("")).to_path_buf();
        while self.by_path.contains_key(&dir.join("__init__.py")) {
            match dir.parent() {
                Some(parent) => dir = parent.to_path_buf(),
                None => break,
            }
        }
        dir
    }

    fn edges(&self, file: &Path, imports: &[Import]) -> Vec<usize> {
        let mut out = Vec::new();
        // Importing a module runs its packages' `__init__.py` first.
        let mut dir = file.parent().map(Path::to_path_buf);
        while let Some(d) = dir {
            match self.by_path.get(&d.join("__init__.py")) {
                Some(&init) if d.join("__init__.py") != file => out.push(init),
                Some(_) => {}
                None => break,
            }
            dir = d.parent().map(Path::to_path_buf);
        }
        let basedir = self.basedir(file);
        for import in imports {
            let parts: Vec<&str> = if import.module.is_empty() {
                Vec::new()
            } else {
                import.module.split('.').collect()
            };
            if import.level > 0 {
                let mut base = file.parent().unwrap_or(Path::new("")).to_path_buf();
                for _ in 1..import.level {
                    base = base.parent().unwrap_or(Path::new("")).to_path_buf();
                }
                self.under(&base, &parts, &import.names, &mut out);
                continue;
            }
            let Some(first) = parts.first() else { continue };
            let root = std::iter::once(&basedir)
                .chain(&self.roots)
                .find(|root| self.exists(&root.join(first)));
            match root {
                Some(root) => self.under(root, &parts, &import.names, &mut out),
                None => {
                    // A root pacer does not know: any file of that dotted
                    // path (stdlib and installed packages match none).
                    for &i in self.by_suffix.get(&import.module).into_iter().flatten() {
                        out.push(i);
                        let found = &self.files[i];
                        let package = match found.file_name().and_then(|n| n.to_str()) {
                            Some("__init__.py") => found.parent().map(Path::to_path_buf),
                            _ => None,
                        };
                        if let Some(package) = package {
                            for name in &import.names {
                                out.extend(self.module(&package.join(name)));
                            }
                        }
                    }
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    fn importers(graph: &Graph, seed: &str) -> Vec<String> {
        let mut found: Vec<String> = graph
            .importers_of(&[PathBuf::from(seed)])
            .into_keys()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        found.sort();
        found
    }

    #[test]
    fn importers_are_found_through_packages_relative_imports_and_submodule_names() {
        let dir = tree(&[
            ("src/pkg/__init__.py", ""),
            ("src/pkg/leaf.py", "X = 1\n"),
            ("src/pkg/mid.py", "from . import leaf\n"),
            ("src/pkg/other.py", "import os\n"),
            ("tests/test_mid.py", "from pkg.mid import thing\n"),
            ("tests/test_sub.py", "from pkg import leaf\n"),
            ("tests/test_other.py", "import pkg.other\n"),
            ("tests/helpers.py", "def f():\n    import pkg.leaf\n"),
            ("tests/test_helpers.py", "import helpers\n"),
        ]);
        let graph = Graph::build(dir.path(), &[], &[]);
        assert_eq!(
            importers(&graph, "src/pkg/leaf.py"),
            [
                "src/pkg/leaf.py",
                "src/pkg/mid.py",
                "tests/helpers.py",
                "tests/test_helpers.py",
                "tests/test_mid.py",
                "tests/test_sub.py"
            ]
        );
        // A package's __init__ runs for every module under it.
        assert!(importers(&graph, "src/pkg/__init__.py").contains(&"tests/test_other.py".into()));
    }

    #[test]
    fn the_second_build_reads_only_what_changed_and_a_deleted_module_keeps_its_importers() {
        let dir = tree(&[
            ("a.py", "import b\n"),
            ("b.py", "X = 1\n"),
            ("test_a.py", "import a\n"),
        ]);
        let cold = Graph::build(dir.path(), &[], &[]);
        assert_eq!((cold.stats.files, cold.stats.read), (3, 3));
        let warm = Graph::build(dir.path(), &[], &[]);
        assert_eq!(warm.stats.read, 0);
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(dir.path().join("b.py"), "X = 2\n").unwrap();
        let one = Graph::build(dir.path(), &[], &[]);
        assert_eq!((one.stats.read, one.stats.parsed), (1, 1));
        std::fs::remove_file(dir.path().join("b.py")).unwrap();
        let gone = Graph::build(dir.path(), &[], &[PathBuf::from("b.py")]);
        assert_eq!(importers(&gone, "b.py"), ["a.py", "b.py", "test_a.py"]);
    }
}
