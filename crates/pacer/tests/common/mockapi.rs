//! The real `pacer-mockapi` binary, started for a test and killed when it
//! ends (a copy of `ratelimit.rs`'s helpers for the tests that need an API).

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

/// The `pacer-mockapi` binary next to `pacer`, built once if cargo has not
/// (it builds a dev-dependency's library, not its binaries).
fn mock_bin() -> PathBuf {
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

/// A running mock API, killed when dropped.
pub struct MockApi {
    child: Child,
    pub url: String,
}

impl Drop for MockApi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `pacer-mockapi --port 0 ARGS` (e.g. `--rate 20 --latency 0.01`).
pub fn start(args: &[&str]) -> MockApi {
    let mut child = Command::new(mock_bin())
        .args(["--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("pacer-mockapi starts");
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("no URL in {first:?}"))
        .to_string();
    // Keep draining so the mock never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = reader.read_to_end(&mut sink);
    });
    MockApi { child, url }
}
