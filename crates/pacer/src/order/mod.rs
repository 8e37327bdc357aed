//! What `pacer replay`, `pacer bisect` and `pacer audit` share: a recorded
//! run's schedule (`schedule.rs`), one plain pytest process running given
//! tests in a given order (`probe.rs`, with its recorder plugin
//! `pacer_probe.py`), delta debugging (`ddmin.rs`, pure) and the bisection
//! of one test built on them (`bisect.rs`). docs/order-dependence.md.

pub mod bisect;
pub mod ddmin;
pub mod probe;
pub mod project;
pub mod schedule;
