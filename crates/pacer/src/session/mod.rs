//! A pytest session, as every command that runs pytest prepares it.
pub mod argv;
pub mod fallback;
pub mod prepare;
pub mod tune;
