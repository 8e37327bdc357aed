//! The command lines of a child pacer (`pacer measure`'s runs per category
//! and mode, `pacer try`'s run): the user's options passed on, so that
//! re-running the binary times exactly what the user's `pacer` would do.

use std::path::Path;

use crate::cli::CommonArgs;

/// The user's options for a child pacer, without the category flags and
/// `--sequential` (measure chooses those), `-C` given as `dir`.
pub fn common_args(common: &CommonArgs, dir: &Path) -> Vec<String> {
    let mut args: Vec<String> = vec!["-C".into(), dir.display().to_string()];
    let mut value = |flag: &str, v: &Option<String>| {
        if let Some(v) = v {
            args.push(format!("{flag}={v}"));
        }
    };
    value("--workers", &common.workers);
    value("--dist", &common.dist);
    value(
        "--maxprocesses",
        &common.maxprocesses.map(|n| n.to_string()),
    );
    // The children start in `dir`: a relative interpreter path would
    // otherwise be read from there instead of where the user typed it.
    value(
        "--python",
        &common.python.as_ref().map(|p| {
            if p.components().count() > 1 && p.is_relative() {
                std::path::absolute(p).unwrap_or_else(|_| p.clone())
            } else {
                p.clone()
            }
            .display()
            .to_string()
        }),
    );
    value("--max-worker-restart", &common.max_worker_restart);
    value("--max-wait-workers", &common.max_wait_workers);
    value("--fallback-threshold", &common.fallback_threshold);
    value(
        "--durations-file",
        &common
            .durations_file
            .as_ref()
            .map(|p| p.display().to_string()),
    );
    value("--timeout", &common.timeout);
    let limits = &common.limits;
    value("--rate", &limits.rate);
    value("--burst", &limits.burst);
    value("--max-concurrent", &limits.max_concurrent);
    value("--min-delay", &limits.min_delay);
    value("--max-retries", &limits.max_retries);
    value("--base-backoff", &limits.base_backoff);
    value("--max-backoff", &limits.max_backoff);
    for upstream in &common.upstreams {
        args.push(format!("--upstream={upstream}"));
    }
    let switches = [
        (limits.adaptive, "--adaptive"),
        (limits.no_adaptive, "--no-adaptive"),
        (common.no_rate_limit, "--no-rate-limit"),
        (common.no_fallback, "--no-fallback"),
        (common.debug, "--debug"),
        (common.no_fork, "--no-fork"),
        (common.trace_touched, "--trace-touched"),
    ];
    for (on, flag) in switches {
        if on {
            args.push(flag.into());
        }
    }
    args
}

/// The category flags as the user gave them, for `pacer list`.
pub fn selection_args(common: &CommonArgs) -> Vec<String> {
    let mut args = Vec::new();
    let switches = [
        (common.all, "--all"),
        (common.unit, "--unit"),
        (common.models, "--models"),
        (common.integration, "--integration"),
        (common.end_to_end, "--end-to-end"),
        (common.live, "--live"),
    ];
    for (on, flag) in switches {
        if on {
            args.push(flag.to_string());
        }
    }
    for name in &common.categories {
        args.push(format!("--category={name}"));
    }
    args
}

/// `[pacer options] -- [pytest args]`, ready for a child process.
pub fn with_pytest_args(mut args: Vec<String>, pytest_args: &[String]) -> Vec<String> {
    if !pytest_args.is_empty() {
        args.push("--".into());
        args.extend(pytest_args.iter().cloned());
    }
    args
}

/// A child's options: the user's, then the category and the mode.
pub fn run_args(
    common: &[String],
    category: &str,
    sequential: bool,
    pytest_args: &[String],
) -> Vec<String> {
    let mut argv = common.to_vec();
    argv.push(format!("--category={category}"));
    if sequential {
        argv.push("--sequential".into());
    }
    with_pytest_args(argv, pytest_args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// Every option passed on parses back to the same options.
    #[test]
    fn the_options_passed_on_parse_back_to_the_same_values() {
        let cli = crate::cli::Cli::try_parse_from([
            "pacer",
            "-n",
            "3",
            "--rate",
            "5",
            "--no-adaptive",
            "--upstream",
            "api=http://127.0.0.1:9",
            "--timeout",
            "30",
            "--unit",
            "--category",
            "slow",
        ])
        .unwrap();
        let common = cli.run.common;
        let mut argv = vec!["pacer".to_string()];
        argv.extend(common_args(&common, Path::new("/tmp")));
        argv.extend(selection_args(&common));
        let back = crate::cli::Cli::try_parse_from(argv).unwrap().run.common;
        assert_eq!(back.workers.as_deref(), Some("3"));
        assert_eq!(back.limits.rate.as_deref(), Some("5"));
        assert!(back.limits.no_adaptive && back.unit);
        assert_eq!(back.upstreams, common.upstreams);
        assert_eq!(back.timeout.as_deref(), Some("30"));
        assert_eq!(back.categories, vec!["slow"]);
        assert_eq!(back.directory.as_deref(), Some(Path::new("/tmp")));
    }
}
