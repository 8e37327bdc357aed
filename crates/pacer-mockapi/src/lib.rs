//! pacer-mockapi: a small rate-limited HTTP API for tests, benchmarks and
//! the demo.
//!
//! It refuses requests over its limit (a token bucket or a sliding window)
//! with 429 or 503 and a `Retry-After` in any of the forms real APIs use,
//! adds latency, and counts what it saw (`GET /__stats`), including the most
//! requests it had in flight at once: the number pacer's in-flight cap must
//! keep down. What it answers to the requests it admits is its [`App`]:
//! by default it echoes them back as JSON so body integrity can be checked;
//! [`App::Demo`] serves the small in-memory API that `examples/demo` tests.
//! Use it in-process with [`start`] or as the `pacer-mockapi`
//! binary, which prints `listening on http://127.0.0.1:PORT` first.

mod config;
mod demo;
mod limit;
mod query;
mod server;

pub use config::{Advertise, App, MockConfig, RetryAfterFormat};
pub use limit::Limit;
pub use server::{start, Echo, MockServer, MockStats};
