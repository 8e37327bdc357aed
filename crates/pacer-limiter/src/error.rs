//! The crate's errors: a refused setting ([`RateLimitError`]) and why the
//! proxy could not start or keep running ([`ProxyError`]).

use std::net::SocketAddr;

/// Why the proxy could not start or keep running. Messages are lowercase
/// fragments that read after "failed to start the proxy:".
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// A setting of the upstream makes no sense.
    #[error("upstream {upstream:?}: {reason}")]
    InvalidConfig {
        /// The upstream's name.
        upstream: String,
        /// What is wrong, and what is expected.
        reason: String,
    },
    /// Binding outside loopback was asked for without allowing it.
    #[error(
        "refusing to listen on {addr}, which is not a loopback address; \
         the proxy forwards anyone's requests with your credentials' rate budget \
         (allow it explicitly to bind there anyway)"
    )]
    NonLoopback {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The extra CA certificates could not be read.
    #[error("upstream {upstream:?}: cannot use the CA file {}: {reason}", path.display())]
    CaFile {
        /// The upstream's name.
        upstream: String,
        /// The file named by `ca_file`.
        path: std::path::PathBuf,
        /// What went wrong, and what is expected.
        reason: String,
    },
    /// The shared limiter's store could not be reached at start, and
    /// `--limiter-fallback` is `fail`.
    #[error(
        "upstream {upstream:?}: cannot reach the shared limiter at {url}: {reason}; \
         start it, fix --limiter-backend (PACER_LIMITER_BACKEND, `backend`), or pass \
         --limiter-fallback memory to go on alone at rate / shards"
    )]
    Backend {
        /// The upstream's name.
        upstream: String,
        /// The store's URL, redacted.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The TLS client could not be set up.
    #[error("cannot set up TLS for upstream connections")]
    Tls(#[source] rustls::Error),
    /// Writing the standalone proxy's output failed.
    #[error("cannot write the proxy's output")]
    Output(#[source] std::io::Error),
    /// Waiting for Ctrl-C failed.
    #[error("cannot listen for Ctrl-C")]
    Signal(#[source] std::io::Error),
}

/// Why a [`RateLimit`](crate::RateLimit) value or an upstream URL is refused: the setting
/// and the reason, which settings wraps with where the value came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {reason}")]
pub struct RateLimitError {
    /// The key, as in `[tool.pacer.rate_limit]` (`rate`, `burst`, `url`...).
    pub setting: &'static str,
    /// What is wrong, and what is expected.
    pub reason: String,
}

impl RateLimitError {
    pub(crate) fn new(setting: &'static str, reason: String) -> Self {
        Self { setting, reason }
    }
}
