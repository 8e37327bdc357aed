//! A category as the pool and the reporters see it: its slots, whether it
//! is rate limited, and the environment its tests run with.
//!
//! Apart from the pool so that events can name categories without the
//! events module importing the pool that emits them.

use crate::scheduler::CategorySlots;

/// A category as the pool needs it: its slots and how tests are sorted in.
#[derive(Debug, Clone)]
pub struct CategorySpec {
    pub name: String,
    pub slots: CategorySlots,
    pub rate_limited: bool,
    /// Chosen by the category flags; the tests of other categories are deselected.
    pub selected: bool,
    /// Set in the worker's environment while it runs this category's tests
    /// (`PYTEST_CURRENT_CATEGORY`, `PYTEST_RATE_LIMITED`, upstream URLs).
    pub env: Vec<(String, String)>,
    /// A built-in category the project did not ask for (no `[tool.pacer]`):
    /// a run whose tests land in it says so, since it changes how they run.
    pub implicit: bool,
}

/// Puts a collected test (node id, marker names) in a category (an index into `categories`).
pub type Classifier = Box<dyn Fn(&str, &[String]) -> usize + Send>;
