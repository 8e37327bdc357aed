//! The accept loop every listener runs, the proxy's shared one and each
//! worker's (`listeners.rs`): it refuses other users' connections, names
//! the worker a call is from, serves each connection with
//! [`crate::forward::handle`], and stops on request.

use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::forward::{handle, Upstream};

/// Resolves once a stop is requested (or the handle is gone).
async fn stop_requested(stopped: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; drop it right here.
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// The accept loop. Each connection runs in its own task; on stop, the
/// connections finish their current request (up to `grace`) and close.
/// `caller` names the worker this listener is for (`None`: shared).
pub(crate) async fn serve(
    listener: TcpListener,
    upstream: Arc<Upstream>,
    mut stopped: watch::Receiver<bool>,
    grace: Duration,
    caller: Option<Arc<str>>,
) {
    let mut connections = JoinSet::new();
    loop {
        // Reap finished connection tasks so the set does not grow forever.
        while connections.try_join_next().is_some() {}
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop_requested(&mut stopped) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Usually out of file descriptors: back off a little
                // instead of spinning, and keep serving the open ones.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let accepted_at = std::time::Instant::now();
        let _ = stream.set_nodelay(true);
        let upstream = Arc::clone(&upstream);
        let mut stopped = stopped.clone();
        let caller = caller.clone();
        connections.spawn(async move {
            // Another local user's connection is refused, whatever the
            // port: the proxy adds the upstream's credentials.
            if let Ok(local) = stream.local_addr() {
                let other = tokio::task::spawn_blocking(move || crate::peer::foreign_user(peer, local, accepted_at))
                    .await
                    .ok()
                    .flatten();
                if let Some(uid) = other {
                    tracing::warn!(uid, "refused a connection from another user");
                    let service = service_fn(move |_req| async move {
                        Ok::<_, std::convert::Infallible>(crate::forward::refusal(
                            hyper::StatusCode::FORBIDDEN,
                            format!("pacer's proxy serves only the user who started it (this connection is uid {uid}'s)"),
                        ))
                    });
                    let _ = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                    return;
                }
            }
            // On the shared address, ask Linux whose connection it is.
            let caller = match (caller, stream.local_addr()) {
                (None, Ok(local)) => {
                    tokio::task::spawn_blocking(move || crate::peer::worker_of(peer, local))
                        .await
                        .ok()
                        .flatten()
                }
                (caller, _) => caller,
            };
            let service = service_fn(move |req| handle(Arc::clone(&upstream), req, caller.clone()));
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop_requested(&mut stopped) => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    drop(listener);
    let all_done = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, all_done).await.is_err() {
        connections.abort_all();
    }
}
