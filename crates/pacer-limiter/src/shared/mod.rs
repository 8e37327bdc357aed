//! One limit across processes and machines (issue 19): where an upstream's
//! admission state lives ([`crate::Backend`]) and what pacer does when that store
//! is gone ([`crate::BackendFallback`]; both in `backend.rs`).
//!
//! With the default `memory` backend each pacer keeps the state in its own
//! [`crate::Limiter`] and nothing here runs. With `redis://` (or `rediss://`
//! for TLS) every pacer sharing the store admits through one Lua script
//! (`limit.lua`, loaded by SHA) that holds the same rules the memory limiter
//! does, over every pacer's starts, on the store's clock: the rate and burst
//! (GCRA), the quota per window (a sorted set of starts), the in-flight cap
//! (leases that expire), the shared pause, the quota learned from headers
//! and refusals, and the adaptive rate. `redis.rs` holds the connection,
//! the fallback to memory and its statistics.
//!
//! The proxy, not the memory limiter, calls the store: the memory path
//! stays exactly as it is, and a pacer whose store went away goes on with a
//! memory limiter of its own at `rate / shards`.

mod redis;

pub(crate) use self::redis::{SharedLimit, Slot, Turn};
