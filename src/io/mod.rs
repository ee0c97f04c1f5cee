//! The outside world: files now; pollers, the store and the demo fleet later.

pub mod config_dir;
