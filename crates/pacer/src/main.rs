//! `pacer`: the binary. Parses the command line, resolves settings, and hands
//! the run to `pacer-runner` with a terminal reporter from `pacer-report`.

mod cli;
mod run;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    let code = match cli.command {
        Some(cli::Command::Run(args)) => run::run(args),
        None => run::run(cli.run),
    };
    std::process::exit(code);
}
