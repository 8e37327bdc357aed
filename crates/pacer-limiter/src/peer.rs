//! Which worker holds the other end of a connection to the proxy's shared
//! address, when the worker did not use its own.
//!
//! A worker forked from pacer's zygote inherits what the zygote's modules
//! read at import: a `conftest.py` that builds its API client from
//! `PACER_UPSTREAM_<NAME>` at start-up keeps the zygote's (shared) address,
//! not the worker's own. For a connection there, the proxy asks Linux who
//! owns the client's socket (`/proc/net/tcp*` for its inode, `/proc/*/fd`
//! for the process) and walks up the process tree to a worker pacer
//! registered ([`register_worker_pid`]), so a test's subprocesses count
//! as its worker's too. Elsewhere, or when the owner is gone, the call
//! names no worker and the report joins it by time alone.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

static WORKERS: Mutex<Option<HashMap<u32, Arc<str>>>> = Mutex::new(None);

/// Tells the proxies that process `pid` is worker `name` (pacer's pool
/// calls this once a worker's pid is known).
pub fn register_worker_pid(pid: u32, name: &str) {
    let mut workers = WORKERS.lock().unwrap_or_else(|e| e.into_inner());
    workers
        .get_or_insert_with(HashMap::new)
        .insert(pid, Arc::from(name));
}

fn registered(pid: u32) -> Option<Arc<str>> {
    let workers = WORKERS.lock().unwrap_or_else(|e| e.into_inner());
    workers.as_ref()?.get(&pid).cloned()
}

fn any_registered() -> bool {
    let workers = WORKERS.lock().unwrap_or_else(|e| e.into_inner());
    workers.as_ref().is_some_and(|w| !w.is_empty())
}

/// `/proc/net/tcp`'s `0100007F:1F90` for an address.
fn proc_net_addr(addr: SocketAddr) -> String {
    match addr.ip() {
        IpAddr::V4(ip) => format!(
            "{:08X}:{:04X}",
            u32::from_ne_bytes(ip.octets()),
            addr.port()
        ),
        IpAddr::V6(ip) => {
            let words: String = ip
                .octets()
                .chunks(4)
                .map(|c| format!("{:08X}", u32::from_ne_bytes([c[0], c[1], c[2], c[3]])))
                .collect();
            format!("{words}:{:04X}", addr.port())
        }
    }
}

/// Field `field` of the client's socket's line in `/proc/net/tcp*`: its
/// local end is `client`, its remote end `server` (7: its owner's uid, 9:
/// its inode).
fn client_socket_field(client: SocketAddr, server: SocketAddr, field: usize) -> Option<u64> {
    let (local, remote) = (proc_net_addr(client), proc_net_addr(server));
    let table = if client.is_ipv4() {
        "/proc/net/tcp"
    } else {
        "/proc/net/tcp6"
    };
    let text = std::fs::read_to_string(table).ok()?;
    text.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        (f.len() > 9 && f[1] == local && f[2] == remote)
            .then(|| f[field].parse().ok())
            .flatten()
    })
}

fn socket_inode(client: SocketAddr, server: SocketAddr) -> Option<u64> {
    client_socket_field(client, server, 9)
}

/// The effective uid of this process (`/proc/self/status`), read once.
fn own_uid() -> Option<u64> {
    static UID: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    *UID.get_or_init(|| {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("Uid:"))?;
        line.split_whitespace().nth(2)?.parse().ok()
    })
}

/// Every TCP socket's owner, by its `(local, remote)` ends as
/// `/proc/net/tcp*` writes them, and when the tables were read.
struct Owners {
    read_at: std::time::Instant,
    uids: HashMap<(String, String), u64>,
}

/// The tables are long (every socket on the machine, `TIME_WAIT` ones
/// included) and a burst of connections arrives at once: one read serves
/// every connection accepted before it began.
static OWNERS: Mutex<Option<Owners>> = Mutex::new(None);

fn read_owners() -> Owners {
    let read_at = std::time::Instant::now();
    let mut uids = HashMap::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if let (true, Ok(uid)) = (f.len() > 9, f.get(7).map_or(Ok(0), |u| u.parse())) {
                uids.insert((f[1].to_string(), f[2].to_string()), uid);
            }
        }
    }
    Owners { read_at, uids }
}

/// The uid of another user holding the client end `client` of a
/// connection accepted on `server` at `accepted`, when Linux says so: a
/// loopback port is reachable by every local user, and the proxy adds the
/// upstream's credentials to what it forwards. `None`: the connection is
/// this user's, or its owner cannot be told (not Linux). Blocking: may read
/// `/proc`.
pub(crate) fn foreign_user(
    client: SocketAddr,
    server: SocketAddr,
    accepted: std::time::Instant,
) -> Option<u64> {
    let key = (proc_net_addr(client), proc_net_addr(server));
    let mut owners = OWNERS.lock().unwrap_or_else(|e| e.into_inner());
    if owners.as_ref().is_none_or(|o| o.read_at < accepted) {
        *owners = Some(read_owners());
    }
    let owner = *owners.as_ref()?.uids.get(&key)?;
    (Some(owner) != own_uid()).then_some(owner)
}

/// The process holding `socket:[inode]` open.
fn inode_owner(inode: u64) -> Option<u32> {
    let wanted = format!("socket:[{inode}]");
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|t| t.as_os_str() == wanted.as_str()) {
                return Some(pid);
            }
        }
    }
    None
}

fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// The registered worker behind the client end `client` of a connection
/// accepted on `server`, if Linux says and the worker (or an ancestor of
/// the client's process) is registered. Blocking: reads `/proc`.
pub(crate) fn worker_of(client: SocketAddr, server: SocketAddr) -> Option<Arc<str>> {
    if !any_registered() {
        return None;
    }
    let mut pid = inode_owner(socket_inode(client, server)?)?;
    for _ in 0..64 {
        if let Some(name) = registered(pid) {
            return Some(name);
        }
        pid = parent(pid).filter(|p| *p > 1)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_is_traced_to_the_registered_process_that_holds_it() {
        let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(server.local_addr().unwrap()).unwrap();
        let (accepted, peer) = server.accept().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        let local = accepted.local_addr().unwrap();
        // This test process holds both ends; once registered, it is found.
        register_worker_pid(std::process::id(), "gw-test");
        assert_eq!(worker_of(peer, local).as_deref(), Some("gw-test"));
        // An address nobody holds is nobody's.
        let nobody: SocketAddr = "127.0.0.1:9".parse().unwrap();
        assert_eq!(worker_of(nobody, local), None);
        // This user's own connection is not a foreign one.
        assert_eq!(foreign_user(peer, local, std::time::Instant::now()), None);
        assert!(own_uid().is_some());
    }
}
