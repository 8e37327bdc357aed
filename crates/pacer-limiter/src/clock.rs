//! Clocks the limiter reads time from.
//!
//! The admission core never calls `Instant::now()` itself: it asks a [`Clock`]
//! for the time elapsed since the clock's origin. The proxy uses
//! [`TokioClock`], which follows tokio's (pausable) time, so tests can run
//! with `start_paused = true`; the pure parts are tested with a
//! [`ManualClock`] that only moves when told to. Plain `Duration`s since an
//! origin also keep the GCRA arithmetic identical to a Redis backend, where
//! the clock is the server's `TIME`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A monotonic source of time for the limiter.
pub trait Clock: Send + Sync + 'static {
    /// Time elapsed since this clock's origin. Never goes backwards.
    fn now(&self) -> Duration;
}

/// The clock of the tokio runtime: real time normally, virtual time under
/// `tokio::time::pause()` / `#[tokio::test(start_paused = true)]`.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin: tokio::time::Instant,
}

impl TokioClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        Self {
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// A clock that only moves when [`ManualClock::advance`] is called; for tests.
#[derive(Debug, Default)]
pub struct ManualClock {
    nanos: AtomicU64,
}

impl ManualClock {
    /// A clock standing at its origin.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(by, Ordering::SeqCst);
    }

    /// Sets the clock to `at` after its origin (tests use it to jump around).
    pub fn set(&self, at: Duration) {
        let at = u64::try_from(at.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.store(at, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}

impl<C: Clock> Clock for std::sync::Arc<C> {
    fn now(&self) -> Duration {
        (**self).now()
    }
}
