//! The real `pacer-mockapi` binary (and any program that prints its URL on
//! its first line, such as `pacer proxy`), started for a test and killed
//! when it ends, however it ends.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

/// The `pacer-mockapi` binary next to `pacer`, built once if cargo has not
/// (`cargo test -p pacer` builds a dev-dependency's library, not its binaries).
pub fn mock_bin() -> PathBuf {
    static BUILD: Mutex<()> = Mutex::new(());
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let pacer = assert_cmd::cargo::cargo_bin("pacer");
    let path = pacer.with_file_name("pacer-mockapi");
    if !path.exists() {
        let mut cargo = Command::new(option_env!("CARGO").unwrap_or("cargo"));
        cargo.args(["build", "-p", "pacer-mockapi", "--bin", "pacer-mockapi"]);
        if path.components().any(|c| c.as_os_str() == "release") {
            cargo.arg("--release");
        }
        let status = cargo.status().expect("cargo runs");
        assert!(status.success(), "cargo build -p pacer-mockapi failed");
    }
    path
}

/// A running program, killed when dropped.
pub struct Running {
    pub child: Child,
    pub url: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a program that prints its URL on its first line; `parse` finds it.
pub fn spawn_with_url(mut cmd: Command, parse: impl Fn(&str) -> Option<String>) -> Running {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawns");
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    let url = parse(first.trim()).unwrap_or_else(|| panic!("no URL in {first:?}"));
    // Keep draining so the program never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = reader.read_to_end(&mut sink);
    });
    Running { child, url }
}

/// `pacer-mockapi --port 0 ARGS` (e.g. `--rate 20 --latency 0.01`).
pub fn start(args: &[&str]) -> Running {
    let mut cmd = Command::new(mock_bin());
    cmd.args(["--port", "0"]).args(args);
    spawn_with_url(cmd, |line| {
        line.strip_prefix("listening on ").map(str::to_owned)
    })
}
