//! The binary's contract with scripts: the first stdout line names the URL.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

#[test]
fn first_line_is_the_listening_url_and_the_api_answers() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pacer-mockapi"))
        .args(["--port", "0", "--rate", "5", "--retry-after", "fractional"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"));
    let addr = url
        .strip_prefix("http://127.0.0.1:")
        .map(|port| format!("127.0.0.1:{port}"));
    let addr = addr.unwrap_or_else(|| panic!("not a loopback URL: {url}"));
    assert_ne!(addr, "127.0.0.1:0");

    let mut stream = TcpStream::connect(&addr).unwrap();
    stream
        .write_all(b"GET /__stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.contains("\"total_requests\":0"), "{answer}");
}

#[test]
fn bad_values_are_usage_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_pacer-mockapi"))
        .args(["--latency=-1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("latency"), "{err}");
}
