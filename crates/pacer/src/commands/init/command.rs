//! The `init` command: find the project, propose, show the diff, ask (or
//! `--write`), write, and check the result with `pacer_settings`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use pacer_runner::pool::exit;
use pacer_settings::{CliOverrides, ProcessEnv, Settings};

use super::propose::propose;
use super::render::{append_diff, appended, section};
use super::scan::Suite;
use crate::cli::InitArgs;

pub fn init(args: InitArgs) -> i32 {
    let start = match start_dir(args.directory.as_deref()) {
        Ok(dir) => dir,
        Err(code) => return code,
    };
    let settings = match resolve(&start) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let root = settings.project_root().to_path_buf();
    let suite = Suite::read(&root);
    let proposal = propose(&suite, &settings);

    let pyproject = root.join("pyproject.toml");
    let (target, prefix) = if pyproject.is_file() {
        (pyproject, "tool.pacer")
    } else {
        (root.join("pacer.toml"), "")
    };
    let file_name = display_name(&root, &target);
    let looked_at = looked_at(&suite);

    if let Some(existing) = settings.config_file() {
        let name = display_name(&root, &existing.path);
        let table = if existing.prefix.is_empty() {
            name.clone()
        } else {
            format!("[{}] in {name}", existing.prefix)
        };
        if !proposal.is_empty() {
            print!("{}", section(&proposal, prefix, &looked_at));
        }
        eprintln!(
            "{} already configures pacer: init writes a new section only, and changed nothing",
            table
        );
        eprintln!(
            "\nhint: merge the lines above by hand, or remove {table} and run `pacer init` again"
        );
        return if args.write {
            exit::USAGE_ERROR
        } else {
            exit::OK
        };
    }
    if proposal.is_empty() {
        eprintln!("pacer init: nothing to add: read {looked_at}; every folder of tests already has a category and no marker or base URL says a test calls an API");
        for note in &proposal.notes {
            eprintln!("  {note}");
        }
        return exit::OK;
    }

    let old = std::fs::read_to_string(&target).unwrap_or_default();
    let new = appended(&old, &section(&proposal, prefix, &looked_at));
    print!("{}", append_diff(&file_name, &old, &new));
    let _ = std::io::stdout().flush();

    if !args.write {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            eprintln!(
                "\npacer init: nothing written (not a terminal); `pacer init --write` writes it"
            );
            return exit::OK;
        }
        eprint!("\nWrite this to {file_name}? [y/N] ");
        let mut answer = String::new();
        let _ = stdin.lock().read_line(&mut answer);
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            eprintln!("pacer init: nothing written");
            return exit::OK;
        }
    }
    if let Err(e) = std::fs::write(&target, &new) {
        eprintln!("error: failed to write {}: {e}", target.display());
        return exit::USAGE_ERROR;
    }
    // What init writes must resolve; if it does not, that is pacer's bug,
    // and the user's file goes back to what it was.
    if let Err(err) = Settings::resolve(&start, &CliOverrides::default(), &ProcessEnv) {
        let restored = if old.is_empty() {
            std::fs::remove_file(&target)
        } else {
            std::fs::write(&target, &old)
        };
        eprintln!("error: the section pacer init wrote does not resolve: {err}");
        eprintln!(
            "{} {file_name} as it was; please report this",
            if restored.is_ok() {
                "restored"
            } else {
                "could not restore"
            }
        );
        return exit::INTERNAL_ERROR;
    }
    eprintln!("pacer init: wrote {file_name}; `pacer list` shows where each test lands");
    exit::OK
}

fn start_dir(directory: Option<&Path>) -> Result<PathBuf, i32> {
    match directory {
        Some(dir) => match std::fs::canonicalize(dir) {
            Ok(dir) if dir.is_dir() => Ok(dir),
            _ => {
                eprintln!(
                    "error: -C {}: no such directory\n\nhint: pass an existing directory to -C",
                    dir.display()
                );
                Err(exit::USAGE_ERROR)
            }
        },
        None => std::env::current_dir().map_err(|e| {
            eprintln!("error: cannot read the current directory: {e}");
            exit::USAGE_ERROR
        }),
    }
}

fn resolve(start: &Path) -> Result<Settings, i32> {
    Settings::resolve(start, &CliOverrides::default(), &ProcessEnv).map_err(|err| {
        eprintln!("error: {err}");
        err.exit_code()
    })
}

fn display_name(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// "pytest's config in pyproject.toml and tests/ (12 test files)".
fn looked_at(suite: &Suite) -> String {
    let tests = suite.files.iter().filter(|f| f.is_test).count();
    let paths = if suite.testpaths.is_empty() {
        "no test folder".to_string()
    } else {
        suite
            .testpaths
            .iter()
            .map(|p| {
                if p == "." {
                    "./".into()
                } else {
                    format!("{p}/")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let config = match &suite.pytest_config {
        Some(file) => format!("pytest's configuration in {file}"),
        None => "no pytest configuration".into(),
    };
    format!("{config} and {paths} ({tests} test files)")
}
