//! A loopback listener per worker, all sharing the upstream's one limiter.
//!
//! The proxy learns which worker sent a call from the address the call
//! came in on: each worker's `PACER_UPSTREAM_<NAME>` names its own port.
//! That holds for any HTTP client a test uses (and for its subprocesses,
//! which inherit the variable), where a header set by pacer's fixtures
//! would only mark the calls made through them. Every listener serves the
//! same [`Upstream`]: one limiter, one set of statistics.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::accept::serve;
use crate::forward::Upstream;

#[derive(Default)]
struct Open {
    by_worker: HashMap<String, SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
}

/// Opens listeners for workers of a running proxy, from any thread.
/// Cheap to clone; the proxy's shutdown stops them all and waits for them.
#[derive(Clone)]
pub struct WorkerListeners {
    upstream: Arc<Upstream>,
    stopped: watch::Receiver<bool>,
    grace: Duration,
    runtime: Handle,
    open: Arc<Mutex<Open>>,
}

impl std::fmt::Debug for WorkerListeners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerListeners")
            .field("upstream", &self.upstream.cfg.name)
            .finish()
    }
}

impl WorkerListeners {
    /// Must be called inside the proxy's runtime.
    pub(crate) fn new(
        upstream: Arc<Upstream>,
        stopped: watch::Receiver<bool>,
        grace: Duration,
    ) -> Self {
        Self {
            upstream,
            stopped,
            grace,
            runtime: Handle::current(),
            open: Arc::default(),
        }
    }

    fn open_state(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The address of `worker`'s own listener, opened on first use on an
    /// ephemeral loopback port. Calls that come in on it are `worker`'s.
    pub fn open(&self, worker: &str) -> io::Result<SocketAddr> {
        let mut open = self.open_state();
        if let Some(addr) = open.by_worker.get(worker) {
            return Ok(*addr);
        }
        let std_listener =
            std::net::TcpListener::bind(SocketAddr::from((IpAddr::V4(Ipv4Addr::LOCALHOST), 0)))?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let listener = {
            let _inside = self.runtime.enter();
            TcpListener::from_std(std_listener)?
        };
        let task = self.runtime.spawn(serve(
            listener,
            Arc::clone(&self.upstream),
            self.stopped.clone(),
            self.grace,
            Some(Arc::from(worker)),
        ));
        open.by_worker.insert(worker.to_owned(), addr);
        open.tasks.push(task);
        Ok(addr)
    }

    /// `http://127.0.0.1:<port>` of `worker`'s listener.
    pub fn url(&self, worker: &str) -> io::Result<String> {
        self.open(worker).map(|addr| format!("http://{addr}"))
    }

    /// Waits for every listener's loop to end (after the proxy's stop).
    pub(crate) async fn join(&self) {
        let tasks = std::mem::take(&mut self.open_state().tasks);
        for task in tasks {
            let _ = task.await;
        }
    }
}
