//! `pacer init`: reads a suite and writes a commented pacer section for it
//! (`[tool.pacer]` in `pyproject.toml`, else a new `pacer.toml`), so that
//! `pacer list` shows the project's own categories instead of `default`.
//!
//! Three steps, one file each: [`scan`] reads the sources (pytest's
//! configuration, markers, fixtures, environment variables; nothing is
//! imported or run), [`propose`] turns that into categories and upstream
//! stubs with the evidence for each, [`render`] writes them as TOML and as
//! the diff shown before writing. [`command`] asks, writes, and checks that
//! the written file resolves (restoring the old one if it would not).

mod command;
mod propose;
mod render;
mod scan;

pub use command::init;
