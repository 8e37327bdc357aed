//! pacer's exit codes: pytest's, so that CI scripts written for pytest keep
//! working. The binary maps every error to one of these in one place
//! (`main`); nothing else picks a number.

/// Every collected test passed (or there was nothing to do but list).
pub const OK: i32 = 0;
/// Some test failed (or `--cov-fail-under` was not met).
pub const TESTS_FAILED: i32 = 1;
/// Ctrl-C, SIGTERM, or collection errors without `--continue-on-collection-errors`.
pub const INTERRUPTED: i32 = 2;
/// pacer itself went wrong (a worker it cannot read, a stuck scheduler).
pub const INTERNAL_ERROR: i32 = 3;
/// A bad flag, a bad configuration, a missing interpreter or pytest.
pub const USAGE_ERROR: i32 = 4;
/// Nothing was collected.
pub const NO_TESTS_COLLECTED: i32 = 5;
