//! `pacer --watch`: on each save, the tests the change touches, then the
//! last failed, one screen per round.
//!
//! The project's files are polled every 200 ms (their size and mtime; no
//! watcher dependency, and it works the same on every file system). The
//! files seen changed since the previous round are handed to a run of
//! `pacer` itself (`--changed-file`, the `--changed` machinery without
//! git); then, if tests failed before outside what that run selected, a
//! run with `--lf --lfnf none`. Each round runs in a child `pacer`, so a
//! round's end (crash, Ctrl-C) is the child's, and the watch goes on or
//! ends cleanly: Ctrl-C stops the running round (SIGINT to the child) and
//! the watch, with exit code 0.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::changes::{self, Since};
use crate::cli::RunArgs;
use crate::error::Error;
use crate::session;
use crate::store::cache;

const POLL: Duration = Duration::from_millis(200);

/// Size and mtime of every file the watch looks at.
type Snapshot = HashMap<PathBuf, (u64, Option<SystemTime>)>;

fn scan(root: &Path) -> Snapshot {
    let mut found = HashMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            // What pytest, Python and pacer write (caches) never starts a round.
            if name.starts_with('.')
                || matches!(
                    name.as_ref(),
                    "__pycache__" | "node_modules" | "site-packages"
                )
            {
                continue;
            }
            if kind.is_dir() {
                if !path.join("pyvenv.cfg").is_file() {
                    stack.push(path);
                }
            } else if let Ok(meta) = entry.metadata() {
                found.insert(path, (meta.len(), meta.modified().ok()));
            }
        }
    }
    found
}

fn diff(old: &Snapshot, new: &Snapshot) -> Vec<PathBuf> {
    let mut changed: Vec<PathBuf> = new
        .iter()
        .filter(|(path, stamp)| old.get(*path) != Some(stamp))
        .map(|(path, _)| path.clone())
        .chain(old.keys().filter(|p| !new.contains_key(*p)).cloned())
        .collect();
    changed.sort();
    changed
}

/// The command line of a round: this one's, without `--watch`.
fn round_args() -> Vec<OsString> {
    std::env::args_os()
        .skip(1)
        .filter(|a| a != "--watch")
        .collect()
}

pub fn watch(args: RunArgs) -> Result<i32, Error> {
    let settings = session::settings(&args.common)?;
    let root = settings.project_root().to_path_buf();
    let exe = std::env::current_exe().map_err(|source| Error::CurrentDir { source })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Runtime { source })?;
    runtime.block_on(watch_loop(&settings, &root, &exe))
}

async fn watch_loop(
    settings: &pacer_settings::Settings,
    root: &Path,
    exe: &Path,
) -> Result<i32, Error> {
    let tty = std::io::stdout().is_terminal();
    let mut snapshot = scan(root);
    say(&format!(
        "pacer --watch: watching {} files under {}; Ctrl-C to stop",
        snapshot.len(),
        root.display()
    ));
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        // Wait for a save, then for the editor to finish writing.
        let changed = loop {
            tokio::select! {
                _ = &mut ctrl_c => return Ok(stopped()),
                _ = tokio::time::sleep(POLL) => {}
            }
            let now = scan(root);
            if !diff(&snapshot, &now).is_empty() {
                tokio::time::sleep(POLL / 2).await;
                let settled = scan(root);
                let changed = diff(&snapshot, &settled);
                snapshot = settled;
                break changed;
            }
        };
        if tty {
            print!("\x1b[2J\x1b[H");
        }
        let names: Vec<String> = changed
            .iter()
            .map(|p| p.strip_prefix(root).unwrap_or(p).display().to_string())
            .collect();
        say(&format!(
            "pacer --watch: {} changed at {}",
            names.join(", "),
            clock()
        ));
        let selected: HashSet<PathBuf> =
            match changes::select(settings, &Since::Files(changed.clone())) {
                Ok(selection) if selection.everything.is_some() => HashSet::from([PathBuf::new()]),
                Ok(selection) => selection.files.keys().cloned().collect(),
                Err(_) => HashSet::new(),
            };
        let mut first = round_args();
        for path in &changed {
            first.push("--changed-file".into());
            first.push(path.into());
        }
        let Some(code) = round(exe, first, &mut ctrl_c).await? else {
            return Ok(stopped());
        };
        let mut summary = format!("tests the change touches: {}", meaning(code));
        // Failures known before, outside what this round selected: `--lf`.
        let known: BTreeMap<String, bool> = cache::read_json(&cache::value_path(
            &root.join(".pytest_cache"),
            "cache/lastfailed",
        ));
        let outside = !selected.contains(Path::new(""))
            && known.keys().any(|id| {
                let file = id.split("::").next().unwrap_or(id);
                !selected.contains(&root.join(file))
            });
        if outside {
            let mut again = round_args();
            again.extend(["--lf".into(), "--lfnf".into(), "none".into()]);
            let Some(code) = round(exe, again, &mut ctrl_c).await? else {
                return Ok(stopped());
            };
            summary.push_str(&format!("; last failed: {}", meaning(code)));
        }
        say(&format!(
            "pacer --watch: {summary}; waiting for changes (Ctrl-C to stop)"
        ));
    }
}

/// Runs one round; `None` when Ctrl-C stopped it.
async fn round(
    exe: &Path,
    args: Vec<OsString>,
    ctrl_c: &mut std::pin::Pin<&mut impl std::future::Future>,
) -> Result<Option<i32>, Error> {
    let mut child = tokio::process::Command::new(exe)
        .args(args)
        .spawn()
        .map_err(|source| Error::Runtime { source })?;
    tokio::select! {
        status = child.wait() => Ok(Some(status.ok().and_then(|s| s.code()).unwrap_or(pacer_types::exit::INTERRUPTED))),
        _ = ctrl_c.as_mut() => {
            if let Some(pid) = child.id() {
                // SAFETY: signalling our own child by the pid tokio gave.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
            }
            let _ = child.wait().await;
            Ok(None)
        }
    }
}

fn meaning(code: i32) -> String {
    use pacer_types::exit;
    let word = match code {
        exit::OK => "passed",
        exit::TESTS_FAILED => "failed",
        exit::INTERRUPTED => "interrupted",
        exit::NO_TESTS_COLLECTED => "no tests",
        exit::USAGE_ERROR => "usage error",
        _ => "internal error",
    };
    format!("{word} (exit {code})")
}

fn stopped() -> i32 {
    say("pacer --watch: stopped");
    pacer_types::exit::OK
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The time of day (UTC), for the round's header.
fn clock() -> String {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!(
        "{:02}:{:02}:{:02} UTC",
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60
    )
}
