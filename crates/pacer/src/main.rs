//! `pacer`: the binary. Parses the command line, resolves settings once, and
//! hands the work to `pacer-runner` with reporters from `pacer-report`.
//!
//! Each command (`commands/`) returns an exit code or a typed error; this
//! file settles it against the exit-code table (`error.rs`), in one place.

mod changes;
mod child;
mod cli;
mod commands;
mod error;
mod order;
mod scratch;
mod session;
mod store;
mod upstreams;

use clap::Parser;
use pacer_types::exit;

fn main() {
    let cli = match cli::Cli::try_parse_from(session::argv::split(std::env::args_os().collect())) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // --help and --version are answers, not errors; a bad option of
            // pacer's is a usage error, as in pytest.
            std::process::exit(if e.use_stderr() {
                exit::USAGE_ERROR
            } else {
                exit::OK
            });
        }
    };
    let result = match cli.command {
        Some(cli::Command::Run(args)) => commands::run::run(args),
        Some(cli::Command::List(args)) => commands::list::list(args),
        Some(cli::Command::Config(args)) => commands::config::config(args),
        Some(cli::Command::Proxy(args)) => commands::proxy::proxy(args),
        Some(cli::Command::Init(args)) => commands::init::init(args),
        Some(cli::Command::Measure(args)) => commands::measure::measure(args),
        Some(cli::Command::Doctor(args)) => commands::doctor::doctor(args),
        Some(cli::Command::Report(args)) => commands::report::report(args),
        Some(cli::Command::Shard(args)) => commands::shard::shard(args),
        Some(cli::Command::Replay(args)) => commands::replay::replay(args),
        Some(cli::Command::Bisect(args)) => commands::bisect::bisect(args),
        Some(cli::Command::Audit(args)) => commands::audit::audit(args),
        Some(cli::Command::Try(args)) => commands::try_run::try_run(args),
        None => commands::run::run(cli.run),
    };
    std::process::exit(error::settle(result));
}
