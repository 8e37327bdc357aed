//! pacer's engine: runs a pytest suite on a pool of pytest worker processes.
//!
//! - [`protocol`]: the messages spoken with the worker plugin (`python/`),
//!   read into [`pacer_types`]' outcomes, phases and statuses.
//! - [`category`]: a category as the pool and reporters see it.
//! - [`plugin`]: the embedded plugin and where it is written.
//! - [`index`]: typed indices of workers, tests, categories, units and lanes.
//! - [`plan`]: pure cutting of files into ordered lanes and chunks.
//! - [`scheduler`]: pure bookkeeping of categories, slots, chunks and affinity.
//! - [`shard`]: pure cutting of the selection into CI shards, balanced by
//!   recorded time, the same on every machine.
//! - [`worker`]: one worker process and the tasks that listen to it.
//! - [`pool`]: the run itself, which emits [`events`] to a reporter and ends
//!   in a summary or a typed [`RunError`].

pub mod category;
mod error;
pub mod events;
pub mod index;
pub mod plan;
pub mod plugin;
pub mod pool;
pub mod protocol;
pub mod scheduler;
pub mod shard;
pub mod stale;
pub mod worker;

pub use error::RunError;
