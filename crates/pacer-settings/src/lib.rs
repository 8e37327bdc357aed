//! Configuration for pacer, resolved once into one immutable value.

mod cli;
mod env;
mod error;
mod location;
mod project;
mod source;
mod suggest;
mod toml_reader;
mod values;
mod workers;
