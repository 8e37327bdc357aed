//! The run folder's name carries pacer's pid, so that the next pacer can
//! remove the folders of runs whose pacer died without cleaning up (SIGKILL,
//! OOM, a power cut): `pacer-run-<pid>-<random>`.

use std::path::Path;

const PREFIX: &str = "pacer-run-";

/// The prefix of this process's run folder.
pub fn run_folder_prefix() -> String {
    format!("{PREFIX}{}-", std::process::id())
}

/// The pid in a run folder's name, if it has one.
fn owner(name: &str) -> Option<i32> {
    let rest = name.strip_prefix(PREFIX)?;
    let (pid, _random) = rest.split_once('-')?;
    pid.parse().ok().filter(|pid| *pid > 0)
}

fn alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Removes the run folders under `dir` whose pacer is no longer running.
/// Best effort: a folder that cannot be removed is left for the next time.
pub fn clean_stale_run_folders(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = owner(&name.to_string_lossy()) else {
            continue;
        };
        if !alive(pid) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_folder_names_its_pacer() {
        assert_eq!(owner("pacer-run-1234-abcDEF"), Some(1234));
        // `pacer measure`'s scratch folder, left by a Ctrl-C.
        assert_eq!(owner("pacer-run-1234-measure"), Some(1234));
        assert_eq!(owner("pacer-run-abcDEF"), None);
        assert_eq!(owner("other-1234-x"), None);
    }

    #[test]
    fn folders_of_dead_pacers_are_removed_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir
            .path()
            .join(format!("pacer-run-{}-x", std::process::id()));
        // pid_max is at most 2^22: this pid is never running.
        let dead = dir.path().join("pacer-run-99999999-x");
        let foreign = dir.path().join("pacer-run-abc");
        for d in [&live, &dead, &foreign] {
            std::fs::create_dir(d).unwrap();
        }
        clean_stale_run_folders(dir.path());
        assert!(live.exists());
        assert!(!dead.exists());
        assert!(foreign.exists());
    }
}
