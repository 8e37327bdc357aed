//! One pytest worker process and the tasks that listen to it.
//!
//! Each worker runs in its own process group (so a terminal's Ctrl-C reaches
//! pacer only, and a kill takes the test's children too) with one end of a
//! socket pair as fd 3. Everything it says — protocol lines, its stdout and
//! stderr, its exit — arrives at the pool as [`Input`] on one channel.

use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use crate::events::Stream;
use crate::protocol::FromWorker;

/// The fd number the worker finds its channel on.
const CHANNEL_FD: i32 = 3;

#[derive(Debug)]
pub enum Input {
    Message(usize, FromWorker),
    BadMessage(usize, String),
    Output(usize, Stream, String),
    /// One of the worker's three streams (channel, stdout, stderr) closed.
    Closed(usize),
    Exited(usize, ExitStatus),
    /// The worker exited a while ago; stop waiting for its streams to close.
    Deadline(usize),
}

/// How to start a worker.
#[derive(Debug, Clone)]
pub struct Launch {
    pub python: PathBuf,
    pub cwd: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// The pool's handle on a started worker.
#[derive(Debug)]
pub struct Handle {
    pub pid: u32,
    sender: mpsc::UnboundedSender<Vec<u8>>,
}

impl Handle {
    pub fn send(&self, line: Vec<u8>) {
        // A closed channel means the worker is dying; its exit is reported separately.
        let _ = self.sender.send(line);
    }

    /// Signals the worker's whole process group.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) with a negative pid addresses the process group we created.
        unsafe {
            libc::kill(-(self.pid as i32), signal);
        }
    }
}

pub fn spawn(index: usize, launch: &Launch, extra_env: &[(String, String)], inputs: &mpsc::UnboundedSender<Input>) -> std::io::Result<Handle> {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
    let mut command = tokio::process::Command::new(&launch.python);
    command
        .args(["-m", "pytest", "-p", crate::plugin::MODULE])
        .args(&launch.args)
        .current_dir(&launch.cwd)
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .envs(extra_env.iter().map(|(k, v)| (k, v)))
        .env("PACER_FD", CHANNEL_FD.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let fd = theirs.as_raw_fd();
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if libc::dup2(fd, CHANNEL_FD) < 0 || libc::fcntl(CHANNEL_FD, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn()?;
    drop(theirs);
    let pid = child.id().unwrap_or(0);

    ours.set_nonblocking(true)?;
    let stream = tokio::net::UnixStream::from_std(ours)?;
    let (read, mut write) = stream.into_split();
    let (sender, mut outgoing) = mpsc::unbounded_channel::<Vec<u8>>();
    tokio::spawn(async move {
        while let Some(line) = outgoing.recv().await {
            if write.write_all(&line).await.is_err() {
                break;
            }
        }
    });
    let tx = inputs.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(read).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let input = match serde_json::from_str::<FromWorker>(&line) {
                Ok(message) => Input::Message(index, message),
                Err(err) => Input::BadMessage(index, format!("{err}: {}", truncate(&line, 200))),
            };
            if tx.send(input).is_err() {
                return;
            }
        }
        let _ = tx.send(Input::Closed(index));
    });
    for (stream, pipe) in [
        (Stream::Stdout, child.stdout.take().map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>)),
        (Stream::Stderr, child.stderr.take().map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>)),
    ] {
        let tx = inputs.clone();
        tokio::spawn(async move {
            if let Some(pipe) = pipe {
                let mut reader = BufReader::new(pipe);
                let mut buf = Vec::new();
                while let Ok(n) = reader.read_until(b'\n', &mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let line = String::from_utf8_lossy(&buf).trim_end_matches(['\n', '\r']).to_string();
                    buf.clear();
                    if tx.send(Input::Output(index, stream, line)).is_err() {
                        return;
                    }
                }
            }
            let _ = tx.send(Input::Closed(index));
        });
    }
    let tx = inputs.clone();
    tokio::spawn(async move {
        if let Ok(status) = child.wait().await {
            let _ = tx.send(Input::Exited(index, status));
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            let _ = tx.send(Input::Deadline(index));
        }
    });
    Ok(Handle { pid, sender })
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}

/// "signal 11" or "exit code 1", as the crash message says it.
pub fn describe_exit(status: &ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (_, Some(signal)) => format!("signal {signal}"),
        (Some(code), None) => format!("exit code {code}"),
        (None, None) => "unknown status".into(),
    }
}
