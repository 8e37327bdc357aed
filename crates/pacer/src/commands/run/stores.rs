//! Step 5 of `pacer run`: what the run taught, kept for the next one
//! (`store/`): the tests' durations and pytest's `lastfailed` in pytest's
//! cache folder, when pytest's cache is on, and pytest-split's
//! `.test_durations` where the project keeps one or asks for it. The 429
//! rerun's results are not stored.

use std::path::PathBuf;

use pacer_runner::pool::RunEnd;
use pacer_settings::Settings;

use super::observe::Observed;
use crate::cli::RunArgs;
use crate::store::{cpu_times, durations, lastfailed};

/// Writes the stores from a run the pool finished; a failure to write is
/// not fatal (the stores only speed up the next run).
pub fn save(end: &RunEnd, observed: &Observed, settings: &Settings, args: &RunArgs) {
    let RunEnd::Finished(summary) = end else {
        return;
    };
    let cache_dir = observed.options.as_ref().and_then(|o| o.cache_dir.as_ref());
    if let Some(cache) = cache_dir {
        let cache = PathBuf::from(cache);
        durations::save(&cache, &summary.durations);
        cpu_times::save(&cache, &summary.cpu_times);
        let failed: Vec<String> = summary.failed.iter().map(|f| f.id.clone()).collect();
        lastfailed::update(&cache, &summary.durations, &failed);
    }
    // pytest-split's file, where the project keeps one or asks for it
    // (`--store-durations`); pytest's cache provider has no say in it.
    let split_file = settings.durations_file().value.as_path();
    if durations::store_wanted(split_file, args.store_durations, args.no_store_durations) {
        durations::store_test_durations(split_file, &summary.durations);
    }
}
