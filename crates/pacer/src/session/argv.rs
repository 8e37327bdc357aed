//! Splits the command line between pacer and pytest.
//!
//! `pacer` is typed where `pytest` was, so every argument pacer does not own
//! goes to pytest unchanged and in order: its options, their values, paths
//! and node ids, and everything after `--`. pacer never interprets them;
//! pytest's own parser (with the project's plugins, `addopts` and ini) does,
//! in the workers, and reports what pacer needs back (`PytestOptions`).
//!
//! pacer's own options are read from the clap definition in `cli.rs`, so a
//! flag added there is recognised here without a second list.

use std::ffi::OsString;

use clap::CommandFactory;

use crate::cli::Cli;

/// The commands whose unknown arguments belong to pytest.
const PYTEST_COMMANDS: [&str; 6] = ["run", "list", "measure", "doctor", "try", "audit"];

/// One option pacer owns.
#[derive(Debug)]
struct Owned {
    long: Vec<String>,
    short: Vec<char>,
    takes_value: bool,
    /// `--changed [REF]`: the next argument is its value only when it
    /// cannot be pytest's (an option, a path, a node id).
    optional_value: bool,
}

/// The arguments for clap, and the arguments for pytest (after `--` in the
/// returned clap arguments, which is where clap collects them).
pub fn split(args: Vec<OsString>) -> Vec<OsString> {
    let mut args = args.into_iter();
    let mut ours: Vec<OsString> = args.next().into_iter().collect();
    let rest: Vec<OsString> = args.collect();
    let first = rest.first().and_then(|a| a.to_str());
    let second = rest.get(1).and_then(|a| a.to_str());
    let (command, rest): (Vec<&str>, Vec<OsString>) = match first {
        Some(name) if PYTEST_COMMANDS.contains(&name) => {
            ours.push(rest[0].clone());
            (vec![name], rest[1..].to_vec())
        }
        // `pacer shard plan N ...`: N first, then pacer's and pytest's
        // arguments, as after `pacer list`.
        Some("shard") if matches!(second, Some("plan" | "verify")) => {
            ours.extend(rest[..2].iter().cloned());
            let mut rest = rest[2..].to_vec();
            if rest
                .first()
                .and_then(|a| a.to_str())
                .is_some_and(|a| !a.starts_with('-'))
            {
                ours.push(rest.remove(0));
            }
            (vec!["shard", second.unwrap_or_default()], rest)
        }
        // Another subcommand (`config`, `proxy`, `help`) is clap's alone.
        Some(name) if is_other_subcommand(name) => {
            ours.extend(rest);
            return ours;
        }
        _ => (vec!["run"], rest),
    };
    let owned = owned_options(&command);
    let mut pytest: Vec<OsString> = Vec::new();
    let mut iter = rest.into_iter();
    while let Some(arg) = iter.next() {
        let Some(text) = arg.to_str() else {
            pytest.push(arg);
            continue;
        };
        if text == "--" {
            pytest.extend(iter.by_ref());
            break;
        }
        match classify(text, &owned) {
            Some(true) if is_optional(text, &owned) => {
                ours.push(arg);
                let next = iter.as_slice().first().and_then(|a| a.to_str());
                if next.is_some_and(could_be_revision) {
                    ours.extend(iter.next());
                }
            }
            Some(true) => {
                ours.push(arg);
                if let Some(value) = iter.next() {
                    ours.push(value);
                }
            }
            Some(false) => ours.push(arg),
            None => pytest.push(arg),
        }
    }
    if !pytest.is_empty() {
        ours.push("--".into());
        ours.extend(pytest);
    }
    ours
}

fn is_other_subcommand(name: &str) -> bool {
    name == "help"
        || Cli::command()
            .get_subcommands()
            .any(|c| c.get_name() == name && !PYTEST_COMMANDS.contains(&name))
}

/// Whether `arg` (known to be pacer's) is an option whose value may be left out.
fn is_optional(arg: &str, owned: &[Owned]) -> bool {
    arg.strip_prefix("--").is_some_and(|name| {
        owned
            .iter()
            .any(|o| o.optional_value && o.long.iter().any(|l| l == name))
    })
}

/// Whether the argument after `--changed` is its REF rather than pytest's:
/// not an option, not a node id, not a path that exists here.
fn could_be_revision(next: &str) -> bool {
    !next.starts_with('-') && !next.contains("::") && !std::path::Path::new(next).exists()
}

/// `Some(takes_a_separate_value)` for an option pacer owns, `None` for pytest's.
fn classify(arg: &str, owned: &[Owned]) -> Option<bool> {
    if let Some(long) = arg.strip_prefix("--") {
        let (name, inline) = match long.split_once('=') {
            Some((name, _)) => (name, true),
            None => (long, false),
        };
        let option = owned.iter().find(|o| o.long.iter().any(|l| l == name))?;
        return Some(option.takes_value && !inline);
    }
    let mut chars = arg.strip_prefix('-')?.chars();
    let short = chars.next()?;
    let attached = chars.next().is_some();
    let option = owned.iter().find(|o| o.short.contains(&short))?;
    if !option.takes_value && attached {
        // A bundle such as `-vx` starting with one of pacer's switches is
        // not pacer's: pacer's switches are all long.
        return None;
    }
    Some(option.takes_value && !attached)
}

/// The options of the subcommand at `path` (`["run"]`, `["shard", "plan"]`).
fn owned_options(path: &[&str]) -> Vec<Owned> {
    let mut cli = Cli::command();
    cli.build();
    let mut sub = &cli;
    for name in path {
        match sub.find_subcommand(name) {
            Some(found) => sub = found,
            None => return Vec::new(),
        }
    }
    let mut owned: Vec<Owned> = sub
        .get_arguments()
        .filter(|a| !a.is_positional())
        .map(|a| Owned {
            long: a
                .get_long_and_visible_aliases()
                .unwrap_or_default()
                .into_iter()
                .map(str::to_string)
                .collect(),
            short: a.get_short_and_visible_aliases().unwrap_or_default(),
            // `--compare[=FILE]`: a value only when attached.
            takes_value: a.get_action().takes_values() && !a.is_require_equals_set(),
            optional_value: a.get_num_args().is_some_and(|n| n.min_values() == 0),
        })
        .collect();
    owned.push(Owned {
        long: vec!["help".into(), "version".into()],
        short: vec!['h', 'V'],
        takes_value: false,
        optional_value: false,
    });
    owned
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_str(args: &[&str]) -> Vec<String> {
        split(args.iter().map(OsString::from).collect())
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn what_pacer_does_not_own_goes_to_pytest_in_order() {
        assert_eq!(
            split_str(&[
                "pacer",
                "-n",
                "4",
                "--tb=short",
                "-x",
                "-p",
                "no:randomly",
                "--lf",
                "-rA",
                "tests/",
                "--reruns",
                "2",
                "--unit"
            ]),
            [
                "pacer",
                "-n",
                "4",
                "--unit",
                "--",
                "--tb=short",
                "-x",
                "-p",
                "no:randomly",
                "--lf",
                "-rA",
                "tests/",
                "--reruns",
                "2"
            ]
        );
    }

    #[test]
    fn arguments_after_dashes_follow_the_others() {
        assert_eq!(
            split_str(&["pacer", "run", "-v", "--workers=2", "--", "-x", "--unit"]),
            ["pacer", "run", "--workers=2", "--", "-v", "-x", "--unit"]
        );
    }

    #[test]
    fn attached_values_and_bundles() {
        assert_eq!(
            split_str(&["pacer", "-n3", "-vvs", "-C", "dir", "-k", "fast"]),
            ["pacer", "-n3", "-C", "dir", "--", "-vvs", "-k", "fast"]
        );
    }

    #[test]
    fn other_subcommands_are_left_to_clap() {
        assert_eq!(
            split_str(&["pacer", "config", "--json"]),
            ["pacer", "config", "--json"]
        );
        assert_eq!(
            split_str(&["pacer", "proxy", "--upstream", "a=http://x"]),
            ["pacer", "proxy", "--upstream", "a=http://x"]
        );
    }

    #[test]
    fn shard_plan_takes_its_count_then_pacers_and_pytests_arguments() {
        assert_eq!(
            split_str(&["pacer", "shard", "plan", "3", "-k", "fast", "--unit", "--json", "tests/"]),
            ["pacer", "shard", "plan", "3", "--unit", "--json", "--", "-k", "fast", "tests/"]
        );
        assert_eq!(
            split_str(&["pacer", "shard", "--help"]),
            ["pacer", "shard", "--help"]
        );
    }

    #[test]
    fn changed_takes_a_revision_but_never_a_path_or_an_option() {
        assert_eq!(
            split_str(&["pacer", "--changed", "main", "-k", "x"]),
            ["pacer", "--changed", "main", "--", "-k", "x"]
        );
        assert_eq!(
            split_str(&["pacer", "--changed", "-k", "x"]),
            ["pacer", "--changed", "--", "-k", "x"]
        );
        // `src` exists in the crate's folder, where tests run.
        assert_eq!(
            split_str(&["pacer", "--changed", "src", "t.py::a"]),
            ["pacer", "--changed", "--", "src", "t.py::a"]
        );
        assert_eq!(
            split_str(&["pacer", "--changed=HEAD~2", "src"]),
            ["pacer", "--changed=HEAD~2", "--", "src"]
        );
    }

    #[test]
    fn a_path_that_looks_like_nothing_of_pacers_is_pytests() {
        assert_eq!(
            split_str(&["pacer", "tests/unit", "--co"]),
            ["pacer", "--", "tests/unit", "--co"]
        );
    }
}
