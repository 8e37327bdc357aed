//! `pacer list [--json]`: collects the suite on the pool and prints its
//! tests grouped by category (the printing is `listing.rs`).

mod listing;

use pacer_runner::pool::RunEnd;

use crate::cli::ListArgs;
use crate::error::Error;
use crate::session::fallback;
use crate::session::{self, Purpose};
use listing::Listing;

pub fn list(args: ListArgs) -> Result<i32, Error> {
    let settings = session::settings(&args.common)?;
    let mut prepared = session::prepare(
        &settings,
        &args.common,
        args.pytest.pytest_args.clone(),
        Purpose::List,
    )?;
    if let Some(since) = crate::changes::since(&settings, &args.common) {
        let selection = crate::changes::select(&settings, &since)
            .map_err(|source| Error::Changed { source })?;
        prepared.config.changed = Some(selection.filter());
    }
    let mut listing = Listing::new(&settings, args.json);
    match session::execute(prepared.config, &mut listing) {
        RunEnd::Finished(summary) => {
            listing.print(&mut std::io::stdout().lock());
            Ok(summary.exit_code)
        }
        other => fallback::finish(other, &prepared.python, &prepared.cwd, &[], &[]),
    }
}
