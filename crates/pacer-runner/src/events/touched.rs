//! What a test left behind, as the worker traced it when pacer asked
//! (`PACER_TRACE_TOUCHED=1`: `--trace-touched`, `pacer audit`): the
//! `touched` record of its `done` message, and of its entry in the JSON
//! report (`tests[].touched`, docs/reports.md). The shared resources an
//! order-dependent test may have been polluted through.

use serde::{Deserialize, Serialize};

/// Each list sorted, empty ones left out of the JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Touched {
    /// Environment variables it left set, changed or removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// Paths it opened for writing, created, renamed or removed outside
    /// pytest's temporary folders, relative to the rootdir when under it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// Ports it bound (other than 0).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<u16>,
    /// `module.NAME` of the project's modules whose binding or mutable
    /// value changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub globals: Vec<String>,
}

impl Touched {
    pub fn is_empty(&self) -> bool {
        self.env.is_empty()
            && self.files.is_empty()
            && self.ports.is_empty()
            && self.globals.is_empty()
    }
}
