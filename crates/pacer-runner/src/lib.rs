//! pacer's engine: runs a pytest suite on a pool of pytest worker processes.
//!
//! - [`protocol`]: the messages spoken with the worker plugin (`python/`).
//! - [`plugin`]: the embedded plugin and where it is written.
//! - [`plan`]: pure cutting of files into ordered lanes and chunks.
//! - [`scheduler`]: pure bookkeeping of categories, slots, chunks and affinity.
//! - [`worker`]: one worker process and the tasks that listen to it.
//! - [`pool`]: the run itself, which emits [`events`] to a reporter.

pub mod events;
pub mod plan;
pub mod plugin;
pub mod pool;
pub mod protocol;
pub mod scheduler;
pub mod worker;
