//! The `init` command: find the project, propose, show the diff, ask (or
//! `--write`), write, and check the result with `pacer_settings`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use pacer_settings::{CliOverrides, ProcessEnv, Settings};
use pacer_types::exit;

use super::propose::propose;
use super::render::{append_diff, appended, section};
use super::scan::Suite;
use crate::cli::InitArgs;
use crate::error::Error;
use crate::session;

pub fn init(args: InitArgs) -> Result<i32, Error> {
    let start = session::start(args.directory.as_deref())?;
    let settings = Settings::resolve(&start, &CliOverrides::default(), &ProcessEnv)?;
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
        return Ok(if args.write {
            exit::USAGE_ERROR
        } else {
            exit::OK
        });
    }
    if proposal.is_empty() {
        eprintln!("pacer init: nothing to add: read {looked_at}; every folder of tests already has a category and no marker or base URL says a test calls an API");
        for note in &proposal.notes {
            eprintln!("  {note}");
        }
        return Ok(exit::OK);
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
            return Ok(exit::OK);
        }
        eprint!("\nWrite this to {file_name}? [y/N] ");
        let mut answer = String::new();
        let _ = stdin.lock().read_line(&mut answer);
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            eprintln!("pacer init: nothing written");
            return Ok(exit::OK);
        }
    }
    if let Err(source) = std::fs::write(&target, &new) {
        return Err(Error::WriteConfig {
            path: target,
            source,
        });
    }
    // What init writes must resolve; if it does not, that is pacer's bug,
    // and the user's file goes back to what it was.
    if let Err(source) = Settings::resolve(&start, &CliOverrides::default(), &ProcessEnv) {
        let restored = if old.is_empty() {
            std::fs::remove_file(&target)
        } else {
            std::fs::write(&target, &old)
        };
        return Err(Error::InitUnresolved {
            source: Box::new(source),
            file: file_name,
            restored: restored.is_ok(),
        });
    }
    eprintln!("pacer init: wrote {file_name}; `pacer list` shows where each test lands");
    Ok(exit::OK)
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
