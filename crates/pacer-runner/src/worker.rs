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
use crate::index::WorkerId;
use crate::protocol::FromWorker;

/// The fd number the worker finds its channel on.
const CHANNEL_FD: i32 = 3;

/// What one worker (named by the pool's id for it) said or did.
#[derive(Debug)]
pub enum Input {
    Message(WorkerId, FromWorker),
    BadMessage(WorkerId, String),
    Output(WorkerId, Stream, String),
    /// One of the worker's three streams (channel, stdout, stderr) closed.
    Closed(WorkerId),
    Exited(WorkerId, ExitStatus),
    /// The worker exited a while ago; stop waiting for its streams to close.
    Deadline(WorkerId),
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
    /// 0 until a forked worker's pid is known.
    pub pid: u32,
    sender: mpsc::UnboundedSender<Vec<u8>>,
    /// A second handle on the channel, for passing file descriptors to a zygote.
    passing: Option<std::os::unix::net::UnixStream>,
}

impl Handle {
    pub fn set_pid(&mut self, pid: u32) {
        self.pid = pid;
    }

    pub fn send(&self, line: Vec<u8>) {
        // A closed channel means the worker is dying; its exit is reported separately.
        let _ = self.sender.send(line);
    }

    /// Signals the worker process alone, not the tests' children in its
    /// group: SIGUSR1 asks its faulthandler for every thread's stack, and
    /// would end a child that does not expect it.
    pub fn signal_leader(&self, signal: i32) {
        if self.pid == 0 {
            return;
        }
        // SAFETY: kill(2) on the worker's own pid.
        unsafe {
            libc::kill(self.pid as i32, signal);
        }
    }

    /// Signals the worker's whole process group.
    pub fn signal(&self, signal: i32) {
        if self.pid == 0 {
            return;
        }
        // SAFETY: kill(2) with a negative pid addresses the worker's own process group.
        unsafe {
            libc::kill(-(self.pid as i32), signal);
        }
    }
}

pub fn spawn(
    index: WorkerId,
    launch: &Launch,
    extra_env: &[(String, String)],
    inputs: &mpsc::UnboundedSender<Input>,
) -> std::io::Result<Handle> {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
    let mut command = tokio::process::Command::new(&launch.python);
    command
        .args(["-m", "pytest", "-p", crate::plugin::MODULE])
        .args(&launch.args)
        .current_dir(&launch.cwd)
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .envs(extra_env.iter().map(|(k, v)| (k, v)))
        .env("PACER_FD", CHANNEL_FD.to_string())
        // pacer reads PYTEST_DEBUG as its own debug switch (as the system it
        // replaces did); pytest would read it as "trace every hook call".
        .env_remove("PYTEST_DEBUG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let fd = theirs.as_raw_fd();
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if libc::dup2(fd, CHANNEL_FD) < 0 || libc::fcntl(CHANNEL_FD, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            die_with_parent(parent)
        });
    }
    let mut child = command.spawn()?;
    drop(theirs);
    let pid = child.id().unwrap_or(0);
    let passing = ours.try_clone().ok();
    let stdout = child.stdout.take().map(|s| Box::new(s) as Pipe);
    let stderr = child.stderr.take().map(|s| Box::new(s) as Pipe);
    let sender = attach(index, ours, stdout, stderr, inputs)?;
    let tx = inputs.clone();
    tokio::spawn(async move {
        if let Ok(status) = child.wait().await {
            let _ = tx.send(Input::Exited(index, status));
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            let _ = tx.send(Input::Deadline(index));
        }
    });
    Ok(Handle {
        pid,
        sender,
        passing,
    })
}

type Pipe = Box<dyn tokio::io::AsyncRead + Send + Unpin>;

/// Listens to a worker's channel and output; returns the sender for its channel.
fn attach(
    index: WorkerId,
    channel: std::os::unix::net::UnixStream,
    stdout: Option<Pipe>,
    stderr: Option<Pipe>,
    inputs: &mpsc::UnboundedSender<Input>,
) -> std::io::Result<mpsc::UnboundedSender<Vec<u8>>> {
    channel.set_nonblocking(true)?;
    let stream = tokio::net::UnixStream::from_std(channel)?;
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
        let mut reader = BufReader::new(read);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            if !matches!(reader.read_until(b'\n', &mut buf).await, Ok(n) if n > 0) {
                break;
            }
            // A message cut off by the worker's end (killed while it wrote a
            // big one) was never sent: its death is what gets reported.
            let Some(complete) = buf.strip_suffix(b"\n") else {
                break;
            };
            let line = String::from_utf8_lossy(complete);
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
    for (stream, pipe) in [(Stream::Stdout, stdout), (Stream::Stderr, stderr)] {
        let tx = inputs.clone();
        tokio::spawn(async move {
            if let Some(pipe) = pipe {
                let mut reader = BufReader::new(pipe);
                let mut buf = Vec::new();
                while let Ok(n) = reader.read_until(b'\n', &mut buf).await {
                    if n == 0 {
                        break;
                    }
                    let line = String::from_utf8_lossy(&buf)
                        .trim_end_matches(['\n', '\r'])
                        .to_string();
                    buf.clear();
                    if tx.send(Input::Output(index, stream, line)).is_err() {
                        return;
                    }
                }
            }
            let _ = tx.send(Input::Closed(index));
        });
    }
    Ok(sender)
}

/// Asks a zygote to fork a worker, ready-made, with its own channel and pipes.
///
/// The worker's exit is reported once its pid is known (`watch`): pacer is a
/// child subreaper, so the orphaned worker becomes pacer's child.
pub fn fork(
    index: WorkerId,
    zygote: &Handle,
    name: &str,
    env: &[(String, String)],
    inputs: &mpsc::UnboundedSender<Input>,
) -> std::io::Result<Handle> {
    let passing = zygote
        .passing
        .as_ref()
        .ok_or_else(|| std::io::Error::other("the zygote has no fd channel"))?;
    let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
    let (out_read, out_write) = pipe()?;
    let (err_read, err_write) = pipe()?;
    let line = crate::protocol::ToWorker::Fork { worker: name, env }.to_line();
    send_with_fds(
        passing,
        &line,
        &[
            theirs.as_raw_fd(),
            out_write.as_raw_fd(),
            err_write.as_raw_fd(),
        ],
    )?;
    drop((theirs, out_write, err_write));
    let stdout = tokio::net::unix::pipe::Receiver::from_owned_fd(out_read)?;
    let stderr = tokio::net::unix::pipe::Receiver::from_owned_fd(err_read)?;
    let sender = attach(
        index,
        ours,
        Some(Box::new(stdout)),
        Some(Box::new(stderr)),
        inputs,
    )?;
    Ok(Handle {
        pid: 0,
        sender,
        passing: None,
    })
}

/// Waits for a forked worker (our child since its parent exited) on a thread.
pub fn watch(index: WorkerId, pid: u32, inputs: &mpsc::UnboundedSender<Input>) {
    use std::os::unix::process::ExitStatusExt;
    let tx = inputs.clone();
    std::thread::spawn(move || {
        let mut status = 0;
        // SAFETY: waitpid on a pid that became our child; status is a valid out pointer.
        let rc = unsafe { libc::waitpid(pid as i32, &mut status, 0) };
        if rc == pid as i32 {
            let _ = tx.send(Input::Exited(index, ExitStatus::from_raw(status)));
            std::thread::sleep(std::time::Duration::from_secs(2));
            let _ = tx.send(Input::Deadline(index));
        }
    });
}

/// In a spawned worker, between fork and exec: SIGKILL when pacer dies, so
/// that a killed pacer (SIGKILL, OOM) leaves no worker behind, even one that
/// ignores SIGTERM. The parent is checked afterwards: pacer may have died
/// before the request took hold. (Forked workers ask for the same in the
/// plugin, once pacer is their parent.) The signal follows the thread that
/// spawned: pacer spawns from the thread that runs the pool to its end.
fn die_with_parent(parent: libc::pid_t) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl and getppid are async-signal-safe and take plain integers.
    unsafe {
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        if libc::getppid() != parent {
            return Err(std::io::Error::other(
                "pacer exited before the worker started",
            ));
        }
    }
    let _ = parent;
    Ok(())
}

/// Makes this process the reaper of orphaned descendants (Linux), so that
/// workers forked by the zygote report their exit status to pacer.
pub fn become_subreaper() -> bool {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes plain integers.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 }
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

fn pipe() -> std::io::Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two fds we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    let (read, write) = unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    };
    // tokio's pipe receiver needs a non-blocking fd.
    // SAFETY: fcntl on an fd we own.
    unsafe {
        let flags = libc::fcntl(read.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(read.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
    Ok((read, write))
}

/// One `sendmsg` carrying `data` and the descriptors (SCM_RIGHTS).
fn send_with_fds(
    socket: &std::os::unix::net::UnixStream,
    data: &[u8],
    fds: &[i32],
) -> std::io::Result<()> {
    let payload = std::mem::size_of_val(fds);
    // SAFETY: CMSG_* compute sizes and offsets within the buffer we allocate
    // here; sendmsg reads only the iovec and control buffer it is given.
    unsafe {
        let space = libc::CMSG_SPACE(payload as u32) as usize;
        let mut control = vec![0u8; space];
        let mut iov = libc::iovec {
            iov_base: data.as_ptr() as *mut libc::c_void,
            iov_len: data.len(),
        };
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = space as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(payload as u32) as _;
        std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(cmsg) as *mut i32, fds.len());
        loop {
            let sent = libc::sendmsg(socket.as_raw_fd(), &msg, 0);
            if sent >= 0 {
                if sent as usize != data.len() {
                    return Err(std::io::Error::other("short sendmsg to the zygote"));
                }
                return Ok(());
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted
                && err.kind() != std::io::ErrorKind::WouldBlock
            {
                return Err(err);
            }
            std::thread::yield_now();
        }
    }
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

/// The live processes of process group `pgid` other than its leader, with
/// their command lines (Linux; empty elsewhere): what a dead worker's tests
/// left running.
pub fn group_members(pgid: u32) -> Vec<(u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == pgid {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // After the command's closing parenthesis: state, ppid, pgrp.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        if fields.len() < 3 || fields[0] == "Z" || fields[2] != pgid.to_string() {
            continue;
        }
        let command = std::fs::read(entry.path().join("cmdline"))
            .map(|b| {
                String::from_utf8_lossy(&b)
                    .replace('\0', " ")
                    .trim()
                    .to_string()
            })
            .unwrap_or_default();
        found.push((pid, command));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const W0: WorkerId = WorkerId::new(0);

    /// What pacer reads from a channel the other end wrote `bytes` to and
    /// closed: every input until its three streams are closed.
    async fn read_all(bytes: &[u8]) -> Vec<Input> {
        let (ours, mut theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let _sender = attach(W0, ours, None, None, &tx).unwrap();
        theirs.write_all(bytes).unwrap();
        drop(theirs);
        let mut inputs = Vec::new();
        let mut closed = 0;
        while closed < 3 {
            let input = rx.recv().await.unwrap();
            closed += usize::from(matches!(input, Input::Closed(W0)));
            inputs.push(input);
        }
        inputs
    }

    #[tokio::test]
    async fn a_message_cut_off_by_the_workers_end_is_not_an_error() {
        let inputs = read_all(b"{\"t\":\"need\"}\n{\"t\":\"done\",\"id\":\"t.py::a\",\"rep").await;
        assert!(
            inputs
                .iter()
                .any(|i| matches!(i, Input::Message(W0, FromWorker::Need))),
            "{inputs:?}"
        );
        assert!(
            !inputs.iter().any(|i| matches!(i, Input::BadMessage(..))),
            "{inputs:?}"
        );
    }

    #[tokio::test]
    async fn a_complete_line_that_is_not_a_message_is_one() {
        let inputs = read_all(b"{\"t\":\"nonsense\"}\n").await;
        assert!(
            inputs.iter().any(|i| matches!(i, Input::BadMessage(W0, _))),
            "{inputs:?}"
        );
    }
}
