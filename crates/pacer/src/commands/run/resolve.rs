//! Step 1 of `pacer run`: the settings, resolved once from flags,
//! environment, config file and defaults, and what GitHub Actions asks of
//! the output when pacer runs there.

use pacer_report::GithubOptions;
use pacer_settings::Settings;

use crate::cli::RunArgs;
use crate::error::Error;
use crate::session;

/// What every later step reads.
pub struct Resolved {
    /// Also where the run's CI identity is read: `settings.run_id()` (the
    /// id the jobs of one CI run share) and `settings.shard()` (this job's
    /// part, K of N), for the JSON report and a shared limiter.
    pub settings: Settings,
    /// GitHub Actions' output (step summary, annotations, log groups), when
    /// pacer runs there and `--no-github` does not turn it off.
    pub github: Option<GithubOptions>,
}

/// The run's settings and GitHub options; the settings' notes are printed.
pub fn resolve(args: &RunArgs) -> Result<Resolved, Error> {
    let settings = session::settings(&args.common)?;
    let github = github_options(args)?;
    for note in settings.notes() {
        eprintln!("pacer: {note}");
    }
    Ok(Resolved { settings, github })
}

/// GitHub Actions' output, when pacer runs there: the environment GitHub
/// sets (`GITHUB_ACTIONS`, `GITHUB_STEP_SUMMARY`, `GITHUB_WORKSPACE`) and
/// pacer's switches (`--no-github`, `PACER_GITHUB`, the annotations' cap
/// `PACER_GITHUB_ANNOTATIONS`), read here rather than in the settings
/// because they describe where pacer runs, not the project.
fn github_options(args: &RunArgs) -> Result<Option<GithubOptions>, Error> {
    if args.no_github {
        return Ok(None);
    }
    GithubOptions::from_env(|name| std::env::var(name).ok())
        .map_err(|message| Error::Github { message })
}
