//! A category's kind: bound by the cores or waiting on the network.

/// How a category uses the machine: the scheduler counts `Cpu` against the
/// cores; settings read it from `kind = "cpu" | "io"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Bound by the cores: counts against `cpu_limit`.
    Cpu,
    /// Waits on the network: may exceed the cores.
    Io,
}

impl Kind {
    /// `cpu` or `io`, in any case, as written in a config file.
    pub fn parse(text: &str) -> Option<Kind> {
        match text.trim().to_ascii_lowercase().as_str() {
            "cpu" => Some(Kind::Cpu),
            "io" => Some(Kind::Io),
            _ => None,
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Cpu => "cpu",
            Kind::Io => "io",
        })
    }
}
