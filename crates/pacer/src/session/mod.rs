//! A pytest session as every command that runs pytest sets it up, and
//! ends it when the pool cannot.
//!
//! - [`argv`]: the command line split between pacer and pytest.
//! - [`settings`]: settings resolved once, from `-C` and every source.
//! - [`prepare`]: from settings to the pool's `RunConfig` (interpreter,
//!   plugin, categories, pytest's arguments), with the `tune` (`tune.rs`)
//!   that shapes the run once pytest has parsed its options, and
//!   [`execute`], which runs the pool on a runtime of its own.
//! - [`fallback`]: plain `python -m pytest`, for what the pool does not run.
//!
//! `pacer run`, `pacer list` and `pacer doctor` use it, and so does the 429
//! rerun; nothing here knows which command called.

pub mod argv;
pub mod fallback;
mod prepare;
mod settings;
mod tune;
pub mod wait_pool;

pub use prepare::{execute, io_category_names, prepare, Prepared, Purpose};
pub use settings::{settings, settings_noted, start, start_dir};
pub use tune::explain_workers;
