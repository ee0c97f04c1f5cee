//! The outside world: the config directory, HTTP, pollers, the demo fleet, the log.

pub mod agent;
pub mod alertmanager;
pub mod archive;
pub mod config_dir;
pub mod demo;
pub mod heads;
pub mod http;
pub mod keys;
pub mod log;
pub mod pg;
pub mod poll;
pub mod process;
pub mod prometheus;
pub mod runbooks;
pub mod store;
