//! `pacer-mockapi`: the mock API as a program, for scripts and benchmarks.
//!
//! The first line on stdout is `listening on http://HOST:PORT`, so a script
//! can start it with `--port 0` and read the port back. Ctrl-C stops it and
//! prints the final statistics as one JSON line.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use pacer_mockapi::{Advertise, App, Limit, MockConfig, RetryAfterFormat};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LimitKind {
    /// No limit.
    None,
    /// `--rate` tokens per second, `--burst` saved up.
    TokenBucket,
    /// At most `--rate` x `--window` requests in any `--window` seconds.
    SlidingWindow,
    /// At most `--rate` x `--window` requests per `--window` seconds, the
    /// count resetting at each window's edge.
    FixedWindow,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum AdvertiseArg {
    None,
    /// RateLimit-Policy and RateLimit (IETF draft).
    Ietf,
    /// X-RateLimit-Limit, -Remaining, -Reset.
    XRatelimit,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum AppArg {
    /// Echo every request back as JSON.
    Echo,
    /// The demo suite's API (examples/demo): /health, /resources,
    /// /resources/{id}, /activities, /activities/{id}.
    Demo,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RetryAfterArg {
    Seconds,
    Fractional,
    HttpDate,
    None,
}

/// A rate-limited mock HTTP API for testing pacer.
#[derive(Debug, Parser)]
#[command(name = "pacer-mockapi", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// What admitted requests get.
    #[arg(long, value_enum, default_value = "echo")]
    app: AppArg,
    /// Kind of rate limit.
    #[arg(long, value_enum, default_value = "token-bucket")]
    limit: LimitKind,
    /// Requests per second the limit allows.
    #[arg(long, default_value_t = 40.0)]
    rate: f64,
    /// Token bucket capacity. Real APIs allow some burst; with 1, any two
    /// requests closer than 1/rate are refused, however slow the average.
    #[arg(long, default_value_t = 5)]
    burst: u32,
    /// Sliding window length in seconds.
    #[arg(long, default_value_t = 1.0)]
    window: f64,
    /// Status of a refusal (usually 429 or 503).
    #[arg(long, default_value_t = 429, value_parser = clap::value_parser!(u16).range(400..600))]
    status: u16,
    /// How refusals carry Retry-After.
    #[arg(long, value_enum, default_value = "seconds")]
    retry_after: RetryAfterArg,
    /// Seconds of latency added to every accepted request.
    #[arg(long, default_value_t = 0.0)]
    latency: f64,
    /// Refuse the first N requests regardless of the limit.
    #[arg(long, default_value_t = 0)]
    fail_first: u32,
    /// Advertise the limit in response headers.
    #[arg(long, value_enum, default_value = "none")]
    advertise: AdvertiseArg,
    /// Refuse requests beyond this many in flight.
    #[arg(long)]
    max_concurrent: Option<usize>,
}

fn seconds(name: &str, value: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| format!("--{name} must be a non-negative number of seconds, got {value}"))
}

fn config(args: &Args) -> Result<MockConfig, String> {
    if (args.rate.is_nan() || args.rate <= 0.0) && !matches!(args.limit, LimitKind::None) {
        return Err(format!("--rate must be above 0, got {}", args.rate));
    }
    let window = seconds("window", args.window)?;
    let limit = match args.limit {
        LimitKind::None => Limit::None,
        LimitKind::TokenBucket => Limit::TokenBucket {
            rate: args.rate,
            burst: args.burst,
        },
        LimitKind::SlidingWindow => Limit::SlidingWindow {
            limit: ((args.rate * args.window).floor() as u32).max(1),
            window,
        },
        LimitKind::FixedWindow => Limit::FixedWindow {
            limit: ((args.rate * args.window).floor() as u32).max(1),
            window,
        },
    };
    Ok(MockConfig {
        limit,
        reject_status: args.status,
        retry_after: match args.retry_after {
            RetryAfterArg::Seconds => RetryAfterFormat::Seconds,
            RetryAfterArg::Fractional => RetryAfterFormat::Fractional,
            RetryAfterArg::HttpDate => RetryAfterFormat::HttpDate,
            RetryAfterArg::None => RetryAfterFormat::Absent,
        },
        latency: seconds("latency", args.latency)?,
        fail_first: args.fail_first,
        max_concurrent: args.max_concurrent,
        advertise: match args.advertise {
            AdvertiseArg::None => Advertise::None,
            AdvertiseArg::Ietf => Advertise::Ietf,
            AdvertiseArg::XRatelimit => Advertise::XRateLimit,
        },
        app: match args.app {
            AppArg::Echo => App::Echo,
            AppArg::Demo => App::Demo,
        },
        ..MockConfig::default()
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let cfg = match config(&args) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let server = match pacer_mockapi::start(cfg, SocketAddr::new(args.host, args.port)).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!(
                "error: failed to listen on {}:{}: {e}",
                args.host, args.port
            );
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "listening on {}", server.url());
    let _ = stdout.flush();
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("error: failed to wait for Ctrl-C: {e}");
    }
    let stats = server.shutdown().await;
    let _ = writeln!(
        stdout,
        "{}",
        serde_json::to_string(&stats).unwrap_or_default()
    );
    ExitCode::SUCCESS
}
