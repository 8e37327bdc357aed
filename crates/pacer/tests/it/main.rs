//! pacer's integration tests: the real binary on real pytest suites
//! (`tests/fixtures/`), one module per area, all in one test binary.
//!
//! One binary rather than one per file (cargo's `tests/*.rs`): a clean
//! build of the tests linked one 25-50 MB executable instead of 24, and
//! a change to `common/` compiled one crate instead of 24 (timings in the
//! commit that made this layout). Run one area with
//! `cargo test -p pacer --test it cli::`, one test with its name.

mod common;

mod bad_input;
mod balance;
mod changed;
mod cli;
mod collection;
mod compare;
mod doctor;
mod flaky;
mod github;
mod golden;
mod hangs;
mod init;
mod junit;
mod junit_options;
mod layouts;
mod measure;
mod merge;
mod order_dependence;
mod plugins;
mod proxy_stall;
mod pytest_cli;
mod ratelimit;
mod reports;
mod secrets;
mod shard;
mod shared_limit;
mod snapshots;
mod tmp_path;
mod touched;
mod trust;
mod try_cmd;
mod wait_pool;
mod workflows;
