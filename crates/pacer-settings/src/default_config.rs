//! The commented default configuration, a real TOML file embedded in the
//! binary (for `pacer config --default` or an `init` command to print).

/// `default_config.toml`: every key, its default, its meaning, and the flag
/// and environment variable that override it. Written for `pacer.toml`.
pub const DEFAULT_CONFIG_TOML: &str = include_str!("default_config.toml");
