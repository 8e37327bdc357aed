//! The proxy server: listens on loopback, runs the accept loop
//! (`accept.rs`) on its shared address and a worker's own (`listeners.rs`),
//! and stops on request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::accept::serve;
use crate::clock::TokioClock;
use crate::error::ProxyError;
use crate::forward::{Upstream, UpstreamClient};
use crate::limiter::Limiter;
use crate::listeners::WorkerListeners;
use crate::rate_limit::UpstreamConfig;
use crate::series::CallLog;
use crate::shared::SharedLimit;
use crate::stats::{StatsRecorder, UpstreamStats};

/// How the proxy listens and connects, beyond the upstream's pacing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyOptions {
    /// Allow a bind address outside loopback (a warning is logged).
    pub allow_non_loopback: bool,
    /// Give up connecting to the upstream after this long (answering 502).
    pub connect_timeout: Duration,
    /// On shutdown, how long open requests may take to finish.
    pub shutdown_grace: Duration,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        Self {
            allow_non_loopback: false,
            connect_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// A running proxy for one upstream. Dropping it stops the proxy too, but
/// without waiting; [`ProxyHandle::shutdown`] waits and returns the final
/// statistics.
pub struct ProxyHandle {
    addr: SocketAddr,
    upstream: Arc<Upstream>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    listeners: WorkerListeners,
}

impl std::fmt::Debug for ProxyHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyHandle")
            .field("name", &self.upstream.cfg.name)
            .field("addr", &self.addr)
            .field("upstream", &crate::url::redact_url(&self.upstream.cfg.url))
            .finish()
    }
}

impl ProxyHandle {
    /// The address the proxy listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The proxy's base URL, e.g. `http://127.0.0.1:41234`: the value of
    /// `PACER_UPSTREAM_<NAME>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The upstream's name.
    pub fn name(&self) -> &str {
        &self.upstream.cfg.name
    }

    /// The configuration the proxy runs with.
    pub fn config(&self) -> &UpstreamConfig {
        &self.upstream.cfg
    }

    /// Statistics so far.
    pub fn stats(&self) -> UpstreamStats {
        self.upstream.snapshot()
    }

    /// Opens a listener per worker on demand (see [`WorkerListeners`]).
    pub fn listeners(&self) -> WorkerListeners {
        self.listeners.clone()
    }

    /// Every call so far and the admissions series, for the run's report.
    pub fn call_log(&self) -> Arc<CallLog> {
        Arc::clone(&self.upstream.log)
    }

    /// Stops accepting connections, lets open requests finish (up to the
    /// grace period), and returns the final statistics.
    pub async fn shutdown(mut self) -> UpstreamStats {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.listeners.join().await;
        self.upstream.snapshot()
    }
}

impl Drop for ProxyHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Starts a proxy for `cfg` on `bind` (use port 0 for an ephemeral port),
/// loopback only.
pub async fn start_proxy(cfg: UpstreamConfig, bind: SocketAddr) -> Result<ProxyHandle, ProxyError> {
    start_proxy_with(cfg, bind, ProxyOptions::default()).await
}

/// The roots a client trusts: the built-in web roots, plus the certificates
/// of `ca_file` when one is given (also returned: each is pinned too).
fn root_store(
    cfg: &UpstreamConfig,
) -> Result<(rustls::RootCertStore, Vec<CertificateDer<'static>>), ProxyError> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let Some(path) = &cfg.limits.ca_file else {
        return Ok((roots, Vec::new()));
    };
    let fail = |reason: String| ProxyError::CaFile {
        upstream: cfg.name.clone(),
        path: path.clone(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(format!("{e}; set `ca_file` to a readable PEM file")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(format!("{e}; expected PEM `CERTIFICATE` blocks")))?;
    if certs.is_empty() {
        return Err(fail(
            "it holds no `-----BEGIN CERTIFICATE-----` block".into(),
        ));
    }
    for cert in &certs {
        roots
            .add(cert.clone())
            .map_err(|e| fail(format!("a certificate in it is not a usable CA: {e}")))?;
    }
    Ok((roots, certs))
}

/// Checks an upstream's certificate against the roots, and accepts one the
/// user pinned in `ca_file` as the server's own even where the web PKI's
/// rules refuse it: a self-signed certificate made the common way
/// (`openssl req -x509`) is marked `CA:TRUE`, which webpki refuses as an
/// end entity (`CaUsedAsEndEntity`), where `curl --cacert` and
/// `requests(verify=...)` accept it. The handshake's signatures are
/// checked as always.
#[derive(Debug)]
struct PinnedOrRoots {
    roots: Arc<rustls::client::WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
}

impl rustls::client::danger::ServerCertVerifier for PinnedOrRoots {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        match self.roots.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(_)
                if self
                    .pinned
                    .iter()
                    .any(|c| c.as_ref() == end_entity.as_ref()) =>
            {
                Ok(rustls::client::danger::ServerCertVerified::assertion())
            }
            verdict => verdict,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.roots.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.roots.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.roots.supported_verify_schemes()
    }
}

fn client(cfg: &UpstreamConfig, opts: &ProxyOptions) -> Result<UpstreamClient, ProxyError> {
    let mut http = HttpConnector::new();
    // The HTTPS connector decides the scheme; the inner one must accept both.
    http.enforce_http(false);
    http.set_connect_timeout(Some(opts.connect_timeout));
    http.set_nodelay(true);
    // Explicit provider: `rustls`' process default would panic if another
    // crate in the build enabled a second provider.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let (roots, pinned) = root_store(cfg)?;
    let roots = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::clone(&provider),
    )
    .build()
    .map_err(|e| ProxyError::Tls(rustls::Error::General(e.to_string())))?;
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(ProxyError::Tls)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedOrRoots { roots, pinned }))
        .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(https))
}

/// [`start_proxy`] with explicit [`ProxyOptions`].
pub async fn start_proxy_with(
    cfg: UpstreamConfig,
    bind: SocketAddr,
    opts: ProxyOptions,
) -> Result<ProxyHandle, ProxyError> {
    let target = cfg.validate()?;
    if !bind.ip().is_loopback() {
        if !opts.allow_non_loopback {
            return Err(ProxyError::NonLoopback { addr: bind });
        }
        tracing::warn!(%bind, upstream = %cfg.name, "the proxy listens outside loopback: anyone who can reach it spends this upstream's rate budget");
    }
    let listener = TcpListener::bind(bind)
        .await
        .map_err(|source| ProxyError::Bind { addr: bind, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| ProxyError::Bind { addr: bind, source })?;
    let upstream = Arc::new(Upstream {
        limiter: Limiter::new(&cfg.limiter_config(), TokioClock::new()),
        shared: SharedLimit::start(&cfg).await?,
        stats: StatsRecorder::default(),
        client: client(&cfg, &opts)?,
        log: Arc::new(CallLog::new()),
        long_wait_announced: Default::default(),
        target,
        cfg,
    });
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(serve(
        listener,
        Arc::clone(&upstream),
        stopped.clone(),
        opts.shutdown_grace,
        None,
    ));
    let listeners = WorkerListeners::new(Arc::clone(&upstream), stopped, opts.shutdown_grace);
    Ok(ProxyHandle {
        addr,
        upstream,
        stop,
        task: Some(task),
        listeners,
    })
}
