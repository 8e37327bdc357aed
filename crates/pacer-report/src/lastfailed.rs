//! What pytest's `--lf` / `--ff` say after the collected line.
//!
//! pacer applies `--lf`/`--ff` itself over the whole suite (a worker sees
//! only its share), so the words pytest's `LFPlugin` would print are made
//! here, from the same facts, in the same wording
//! (`LFPlugin.pytest_collection_modifyitems` and
//! `pytest_report_collectionfinish`).

pub use pacer_runner::events::LastFailedRun;

/// The text after `run-last-failure: `, as pytest words it.
pub fn note(run: LastFailedRun) -> String {
    if run.known == 0 {
        let rest = if run.none_if_no_failures {
            "deselecting all items."
        } else {
            "not deselecting items."
        };
        return format!("no previously failed tests, {rest}");
    }
    let mut status = if run.collected_failures == 0 {
        format!("{} known failures not in selected tests", run.known)
    } else {
        let noun = if run.collected_failures == 1 {
            "failure"
        } else {
            "failures"
        };
        let suffix = if run.only { "" } else { " first" };
        format!("rerun previous {} {noun}{suffix}", run.collected_failures)
    };
    if run.skipped_files > 0 {
        let noun = if run.skipped_files == 1 {
            "file"
        } else {
            "files"
        };
        status.push_str(&format!(" (skipped {} {noun})", run.skipped_files));
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(known: usize, collected_failures: usize, only: bool) -> LastFailedRun {
        LastFailedRun {
            known,
            collected_failures,
            only,
            skipped_files: 0,
            none_if_no_failures: false,
        }
    }

    #[test]
    fn words_follow_pytests_last_failed_plugin() {
        assert_eq!(note(run(1, 1, true)), "rerun previous 1 failure");
        assert_eq!(note(run(3, 2, false)), "rerun previous 2 failures first");
        assert_eq!(
            note(LastFailedRun {
                skipped_files: 2,
                ..run(2, 2, true)
            }),
            "rerun previous 2 failures (skipped 2 files)"
        );
        assert_eq!(
            note(LastFailedRun {
                skipped_files: 1,
                ..run(1, 1, true)
            }),
            "rerun previous 1 failure (skipped 1 file)"
        );
        assert_eq!(
            note(run(4, 0, true)),
            "4 known failures not in selected tests"
        );
        assert_eq!(
            note(run(0, 0, true)),
            "no previously failed tests, not deselecting items."
        );
        assert_eq!(
            note(LastFailedRun {
                none_if_no_failures: true,
                ..run(0, 0, true)
            }),
            "no previously failed tests, deselecting all items."
        );
    }
}
