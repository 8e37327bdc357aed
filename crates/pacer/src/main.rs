//! `pacer`: the binary. Parses the command line, resolves settings once, and
//! hands the work to `pacer-runner` with reporters from `pacer-report`.

mod argv;
mod cache;
mod cli;
mod coverage;
mod durations;
mod init;
mod lastfailed;
mod list;
mod proxy_cmd;
mod rerun;
mod run;
mod tune;
mod upstreams;

use clap::Parser;

fn main() {
    let cli = match cli::Cli::try_parse_from(argv::split(std::env::args_os().collect())) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // --help and --version are answers, not errors; a bad option of
            // pacer's is a usage error, as in pytest.
            std::process::exit(if e.use_stderr() {
                pacer_runner::pool::exit::USAGE_ERROR
            } else {
                0
            });
        }
    };
    let code = match cli.command {
        Some(cli::Command::Run(args)) => run::run(args),
        Some(cli::Command::List(args)) => run::list(args),
        Some(cli::Command::Config(args)) => config(args),
        Some(cli::Command::Proxy(args)) => proxy_cmd::proxy(args),
        Some(cli::Command::Init(args)) => init::init(args),
        None => run::run(cli.run),
    };
    std::process::exit(code);
}

fn config(args: cli::ConfigArgs) -> i32 {
    let settings = match run::settings(&args.common) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&settings.to_json()).unwrap_or_default()
        );
    } else {
        print!("{}", settings.render_text());
    }
    0
}
