//! What pacer keeps between runs.
mod cache;
pub mod durations;
pub mod lastfailed;
