//! pacer's commands, one folder each. Each returns an exit code or a typed
//! [`Error`](crate::error::Error); `main` settles it against the exit-code
//! table in one place (`error::settle`).
//!
//! - [`run`]: the suite on the pool, the 429 rerun, the proxies around it.
//! - [`list`]: the collected tests grouped by category.
//! - [`config`]: every effective setting and where it came from.
//! - [`proxy`]: the run's rate-limiting proxy, alone.
//! - [`init`]: a commented pacer section for the project, from its suite.
//! - [`measure`]: categories timed sequentially and in parallel, with a history.
//! - [`doctor`]: where a suite's time goes, and what would make it faster.
//! - [`report`]: the JSON reports of a sharded run's shards merged into one.
//! - [`shard`]: the parts `--shard K/N` runs, printed or checked.
//! - [`replay`], [`bisect`], [`audit`]: order-dependent tests reproduced,
//!   narrowed to their polluters, and found (`order/`, docs/order-dependence.md).
//! - [`try_run`]: `pacer try`, plain pytest against pacer, test by test.
//! - [`watch`]: `pacer --watch`, reruns of what each save touches.
//!
//! What several commands share lives beside `commands/`, in modules named
//! for it: `session/` (settings, the pool prepared, plain pytest),
//! `upstreams/` (the proxies), `store/` (what pacer keeps between runs) and
//! `order/` (a recorded schedule, probes, delta debugging).

pub mod audit;
pub mod bisect;
pub mod config;
pub mod doctor;
pub mod init;
pub mod list;
pub mod measure;
pub mod proxy;
pub mod replay;
pub mod report;
pub mod run;
pub mod shard;
pub mod try_run;
pub mod watch;
